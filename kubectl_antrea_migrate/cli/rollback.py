"""``kubectl antrea-migrate rollback``: move every pod back onto Calico (until Calico removal starts).

  rollback [--batch-size N] [--remove-antrea-policies] [--yes] [--namespace NS]
           [--agent-endpoint NODE=HOST:PORT]... [--tls-dir DIR] [--antrea-subnet CIDR]... [-o table|json|yaml]

Same batches as the run (its strategy is read from the state): Calico's conf back in force on each
node, pods not on Calico restarted and waited for, drained nodes uncordoned. Antrea stays installed;
``--remove-antrea-policies`` also deletes the Antrea policies the run applied. Resumable like ``run``.
Exit codes: 0 done, 1 refused (Calico removal started, nothing to roll back), 2 bad usage, 3 failure.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kubectl_antrea_migrate.cli import _migration as mig
from kubectl_antrea_migrate.cli.options import ContextOpt, KubeconfigOpt, OutputFormat, OutputOpt
from kubectl_antrea_migrate.errors import EXIT_FINDINGS, EXIT_OK

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``rollback`` command to ``app``."""

    @app.command("rollback")
    def rollback(
        batch_size: Annotated[int | None, typer.Option(
            "--batch-size", help="The batch size the run used (default: the run's default).")] = None,
        remove_antrea_policies: Annotated[bool, typer.Option(
            "--remove-antrea-policies", help="Also delete the Antrea policies the run applied.")] = False,
        yes: mig.YesOpt = False,
        namespace: mig.NamespaceOpt = "kube-system",
        agent_endpoint: mig.AgentEndpointOpt = None,
        tls_dir: mig.TlsDirOpt = None,
        antrea_subnet: mig.AntreaSubnetOpt = None,
        ready_timeout: Annotated[float, typer.Option(
            "--ready-timeout", min=1, help="Seconds restarted pods may take to be Ready.")] = 600.0,
        poll_interval: Annotated[float, typer.Option(
            "--poll-interval", min=0.05, help="Seconds between readiness polls.")] = 1.0,
        output: OutputOpt = OutputFormat.TABLE,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Roll the migration back onto Calico (possible until Calico removal starts).

        Example: kubectl antrea-migrate rollback --remove-antrea-policies --yes
        """
        from kubectl_antrea_migrate.cluster.migration import MigrationConfig
        from kubectl_antrea_migrate.migrate.runner import RollbackRefusedError, RunOptions
        from kubectl_antrea_migrate.migrate.runner import rollback as rollback_plan
        from kubectl_antrea_migrate.output import dump

        config = MigrationConfig(namespace=namespace, antrea_subnets=mig.antrea_subnets(antrea_subnet or ()),
                                 poll_interval=poll_interval, install_agents=False)
        migration = mig.open_migration(
            kubeconfig=kubeconfig, context=context, config=config, strategy=None, batch_size=batch_size,
            agent_endpoints=agent_endpoint or (), tls_dir=tls_dir, convert_policies=False,
            for_rollback=True,
        )
        state = migration.state
        if not state.rollback_available:
            raise RollbackRefusedError("rollback is no longer possible: Calico removal has started; finish with `run`")
        console = mig.output_console(output)
        question = f"Roll back {len(migration.plan.nodes)} nodes onto Calico?"
        if not mig.confirm(question, yes):
            console.print("not started", markup=False)
            raise typer.Exit(EXIT_FINDINGS)
        options = RunOptions(holder=mig.holder_name(), poll_interval=poll_interval, ready_timeout=ready_timeout)
        from kubectl_antrea_migrate.migrate.plan import build_rollback_plan

        plan = migration.plan
        shown = build_rollback_plan(plan, remove_antrea_policies) if plan.runnable else plan
        with mig.RichProgress(shown, console) as progress:
            result = rollback_plan(migration.plan, migration.ports, migration.store, progress, options,
                                   remove_antrea_policies=remove_antrea_policies)
        if output is OutputFormat.TABLE:
            mig.print_summary(result, console, title="Rollback summary")
        else:
            dump(mig.result_document(result), output.value)
        raise typer.Exit(EXIT_OK)
