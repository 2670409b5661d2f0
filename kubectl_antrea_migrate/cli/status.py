"""``kubectl antrea-migrate status``: the migration state stored in the cluster.

  status [--namespace NS] [-o table|json|yaml]

Reads ConfigMap ``antrea-migrate-state`` (changes nothing): run status, phase, lock holder, per-node
progress with timings, nodes still cordoned, the last error. ``-o json|yaml`` prints the state's
``to_dict()``, the same document every time for the same state.
Exit codes: 0 (whatever the migration's status), 2 the stored state is malformed, 3 cluster failure.
"""

from __future__ import annotations

import datetime

import typer

from kubectl_antrea_migrate.cli._migration import NamespaceOpt
from kubectl_antrea_migrate.cli.options import ContextOpt, KubeconfigOpt, OutputFormat, OutputOpt, cluster_client
from kubectl_antrea_migrate.errors import EXIT_OK
from kubectl_antrea_migrate.migrate.state import MigrationState, RunStatus
from kubectl_antrea_migrate.output import console, dump, table

__all__ = ["register", "render_status"]


def register(app: typer.Typer) -> None:
    """Add the ``status`` command to ``app``."""

    @app.command("status")
    def status(
        namespace: NamespaceOpt = "kube-system",
        output: OutputOpt = OutputFormat.TABLE,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Show the migration's progress as stored in the cluster.

        Example: kubectl antrea-migrate status -o yaml
        """
        from kubectl_antrea_migrate.cluster.state_store import ConfigMapStateStore

        client = cluster_client(kubeconfig, context)
        state = ConfigMapStateStore(client, namespace).load()
        if output is OutputFormat.TABLE:
            render_status(state)
        else:
            dump(state.to_dict(), output.value)
        raise typer.Exit(EXIT_OK)


def render_status(state: MigrationState) -> None:
    """The human view: a summary block, then one row per node."""
    out = console()
    if state.status is RunStatus.IDLE and not state.steps:
        out.print("no migration has run in this cluster")
        return
    lines = [
        f"status:     {state.status.value}",
        f"phase:      {state.phase or '-'}",
        f"strategy:   {state.strategy or '-'}  (plan {state.plan_id or '-'})",
        f"started:    {_when(state.started_at)}",
        f"updated:    {_when(state.updated_at)}",
        f"lock:       {f'{state.lock.holder} until {_when(state.lock.expires)}' if state.lock else 'free'}",
        f"rollback:   {'available' if state.rollback_available else 'no longer possible (Calico removal started)'}",
    ]
    if state.cordoned:
        lines.append(f"cordoned:   {', '.join(state.cordoned)} (drained by this migration, not uncordoned yet)")
    if state.error:
        lines.append(f"error:      {state.error}")
    for line in lines:
        out.print(line, markup=False)
    seconds = state.node_seconds()
    rows = [(node, rec.id, rec.status.value, f"{seconds.get(node, 0.0):.1f}")
            for node, rec in sorted(state.node_steps().items())]
    if rows:
        out.print(table("Nodes", ("NODE", "LAST STEP", "STATUS", "SECONDS"), rows))
    done = sum(1 for r in state.steps if r.status.value == "done")
    out.print(f"{done} of {len(state.steps)} recorded steps done", markup=False)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
