"""``kubectl antrea-migrate agent install|uninstall``: deploy the node agent and its TLS material, or remove it.

  agent install [--namespace NS] [--image IMAGE] [--timeout SECONDS] [--no-wait] [-o table|json|yaml]
  agent uninstall [--namespace NS] [-o table|json|yaml]

``install`` prints one line per object (created / configured / unchanged / kept), then waits until the
DaemonSet's pods are up to date and Ready on every node; ``--no-wait`` skips the wait (for clusters
where pods cannot become ready yet, e.g. no CNI on a fresh node, and for tests without kubelets).
``uninstall`` deletes exactly what ``install`` created; the namespace itself is kept.
Exit codes: 0 ok, 2 bad input, 3 an object was refused or the rollout timed out (nodes named).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from kubectl_antrea_migrate.cli.options import ContextOpt, KubeconfigOpt, OutputFormat, OutputOpt, cluster_client
from kubectl_antrea_migrate.errors import EXIT_FAILURE, EXIT_OK
from kubectl_antrea_migrate.output import console, dump, table, to_plain

if TYPE_CHECKING:
    from kubectl_antrea_migrate.cluster.agent_install import ObjectOutcome

__all__ = ["register"]

NamespaceOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the agent and its TLS Secret.")]


def register(app: typer.Typer) -> None:
    """Add the ``agent`` command group (``install``, ``uninstall``) to ``app``."""
    group = typer.Typer(help="Deploy or remove the node agent (DaemonSet, RBAC, TLS Secret).", no_args_is_help=True)
    app.add_typer(group, name="agent")

    @group.command("install")
    def install(
        namespace: NamespaceOpt = "kube-system",
        image: Annotated[str, typer.Option("--image", help="The agent image (built from the Dockerfile).")] = (
            "antrea-migrate-agent:0.1.0"
        ),
        timeout: Annotated[
            float, typer.Option("--timeout", min=0, help="Seconds to wait for the agents to be Ready.")
        ] = 300.0,
        no_wait: Annotated[bool, typer.Option("--no-wait", help="Do not wait for the DaemonSet rollout.")] = False,
        output: OutputOpt = OutputFormat.TABLE,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Apply the agent's objects and TLS Secret, then wait until an agent is Ready on every node.

        Example: kubectl antrea-migrate agent install --image registry.local/antrea-migrate-agent:0.1.0
        """
        from kubectl_antrea_migrate.cluster import agent_install

        client = cluster_client(kubeconfig, context)
        result = agent_install.install(client, namespace, image)
        _print_outcomes("agent install", result.objects, output)
        if result.failed:
            raise typer.Exit(EXIT_FAILURE)
        if not no_wait:
            rollout = agent_install.wait_for_rollout(client, namespace, timeout)
            if output is OutputFormat.TABLE:
                console().print(f"agents ready: {rollout.ready}/{rollout.desired} nodes")
        raise typer.Exit(EXIT_OK)

    @group.command("uninstall")
    def uninstall(
        namespace: NamespaceOpt = "kube-system",
        output: OutputOpt = OutputFormat.TABLE,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Delete the agent's objects and TLS Secret (the namespace stays).

        Example: kubectl antrea-migrate agent uninstall
        """
        from kubectl_antrea_migrate.cluster import agent_install
        from kubectl_antrea_migrate.cluster.agent_install import ObjectAction

        client = cluster_client(kubeconfig, context)
        outcomes = agent_install.uninstall(client, namespace)
        _print_outcomes("agent uninstall", outcomes, output)
        failed = any(o.action is ObjectAction.FAILED for o in outcomes)
        raise typer.Exit(EXIT_FAILURE if failed else EXIT_OK)


def _print_outcomes(title: str, outcomes: Sequence[ObjectOutcome], output: OutputFormat) -> None:
    if output is not OutputFormat.TABLE:
        dump({"objects": to_plain(tuple(outcomes))}, output.value)
        return
    rows = [(o.kind, f"{o.namespace}/{o.name}" if o.namespace else o.name, o.action.value, o.detail) for o in outcomes]
    console().print(table(title, ("KIND", "NAME", "ACTION", "DETAIL"), rows))
