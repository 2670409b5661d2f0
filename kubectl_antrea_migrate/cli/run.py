"""``kubectl antrea-migrate run``: the whole migration, node by node, resumable.

  run [--strategy direct|multus] [--batch-size N] [--plan] [--yes] [--force]
      [--antrea-manifest FILE] [--calico-manifest FILE] [--delete-calico-policies]
      [--namespace NS] [--agent-endpoint NODE=HOST:PORT]... [--tls-dir DIR] [--antrea-subnet CIDR]...
      [-o table|json|yaml]

``--plan`` prints the plan and changes nothing. Otherwise ``run`` refuses while the pre-flight check
finds blockers (``--force`` runs anyway and lists every blocker it overrides), asks for confirmation
unless ``--yes`` (without a terminal and without ``--yes`` it refuses, exit 2), then runs the plan
with a live display and prints a summary with per-node timings. Run it again after any stop: it
resumes where the state ConfigMap says.
Exit codes: 0 done, 1 refused (blockers, plan refusals, final check), 2 bad usage, 3 cluster/agent failure.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from kubectl_antrea_migrate.cli import _migration as mig
from kubectl_antrea_migrate.cli import _policy_io as pio
from kubectl_antrea_migrate.cli.options import ContextOpt, KubeconfigOpt, OutputFormat, OutputOpt
from kubectl_antrea_migrate.errors import EXIT_FINDINGS, EXIT_OK

__all__ = ["register"]


class StrategyChoice(StrEnum):
    """``--strategy``."""

    MULTUS = "multus"
    DIRECT = "direct"


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""

    @app.command("run")
    def run(
        strategy: Annotated[StrategyChoice, typer.Option(
            "--strategy", help="multus: pods keep talking across the switch (two restarts); direct: one restart.",
        )] = StrategyChoice.MULTUS,
        batch_size: Annotated[int | None, typer.Option(
            "--batch-size", help="Worker nodes switched at once (default: 10% of the workers, at least 1).")] = None,
        plan_only: Annotated[bool, typer.Option("--plan", help="Print the plan and change nothing.")] = False,
        yes: mig.YesOpt = False,
        force: Annotated[bool, typer.Option(
            "--force", help="Run despite pre-flight blockers (each is listed).")] = False,
        antrea_manifest: Annotated[Path | None, typer.Option(
            "--antrea-manifest", help="Antrea manifest to server-side apply beside Calico.")] = None,
        calico_manifest: Annotated[Path | None, typer.Option(
            "--calico-manifest", help="Calico manifest: its workloads are what Calico removal deletes.")] = None,
        delete_calico_policies: Annotated[bool, typer.Option(
            "--delete-calico-policies", help="Delete Calico policy objects after Calico is removed (backed up).",
        )] = False,
        namespace: mig.NamespaceOpt = "kube-system",
        agent_endpoint: mig.AgentEndpointOpt = None,
        tls_dir: mig.TlsDirOpt = None,
        antrea_subnet: mig.AntreaSubnetOpt = None,
        backup_dir: Annotated[Path, typer.Option(
            "--backup-dir", help="Where Calico policy backups are written.")] = Path("antrea-migrate-backups"),
        agent_image: Annotated[str, typer.Option("--agent-image", help="The node agent image.")] = (
            "antrea-migrate-agent:0.1.0"),
        ready_timeout: Annotated[float, typer.Option(
            "--ready-timeout", min=1, help="Seconds restarted pods may take to be Ready.")] = 600.0,
        drain_timeout: Annotated[float, typer.Option(
            "--drain-timeout", min=1, help="Seconds a drain waits for evictions and terminating pods.")] = 600.0,
        poll_interval: Annotated[float, typer.Option(
            "--poll-interval", min=0.05, help="Seconds between readiness polls.")] = 1.0,
        antrea_daemonset: Annotated[str, typer.Option(
            "--antrea-daemonset", help="NS/NAME of Antrea's agent DaemonSet to wait for, when the manifest has none "
                                       "named antrea-agent.")] = "kube-system/antrea-agent",
        namespaced_as: pio.NamespacedAsOpt = pio.NamespacedAsChoice.ANNP,
        calico_version: pio.CalicoVersionOpt = "3.32",
        deny_action: pio.DenyActionOpt = pio.DenyActionChoice.DROP,
        ip_family: pio.IPFamilyOpt = pio.IPFamilyChoice.IPV4,
        output: OutputOpt = OutputFormat.TABLE,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Migrate the cluster from Calico to Antrea (resumes an interrupted run).

        Example: kubectl antrea-migrate run --antrea-manifest antrea.yml --plan
        """
        from kubectl_antrea_migrate.cluster.migration import MigrationConfig
        from kubectl_antrea_migrate.migrate.plan import Strategy
        from kubectl_antrea_migrate.migrate.runner import PreflightBlockedError, RunOptions
        from kubectl_antrea_migrate.migrate.runner import run as run_plan
        from kubectl_antrea_migrate.migrate.state import RunStatus
        from kubectl_antrea_migrate.output import dump

        config = MigrationConfig(
            namespace=namespace, antrea_manifest=antrea_manifest, calico_manifest=calico_manifest,
            antrea_subnets=mig.antrea_subnets(antrea_subnet or ()), backup_dir=backup_dir, agent_image=agent_image,
            drain_timeout=drain_timeout, poll_interval=poll_interval, antrea_daemonset=antrea_daemonset,
        )
        migration = mig.open_migration(
            kubeconfig=kubeconfig, context=context, config=config, strategy=Strategy(strategy.value),
            batch_size=batch_size, delete_calico_policies=delete_calico_policies,
            agent_endpoints=agent_endpoint or (), tls_dir=tls_dir,
            convert_options=pio.conversion_options(namespaced_as, calico_version, deny_action, ip_family),
        )
        plan = migration.plan
        console = mig.output_console(output)
        if plan_only:
            if output is OutputFormat.TABLE:
                console.print(plan.render_text(), markup=False)
            else:
                dump(plan.to_dict(), output.value)
            raise typer.Exit(EXIT_OK if plan.runnable else EXIT_FINDINGS)
        if not plan.runnable:
            console.print(plan.render_text(), markup=False)
            raise typer.Exit(EXIT_FINDINGS)
        state = migration.state
        resuming = state.plan_id == plan.plan_id and state.status in (RunStatus.RUNNING, RunStatus.FAILED)
        if not resuming and state.status is not RunStatus.SUCCEEDED:
            # Checked before asking: a resumed run already passed its pre-flight step, and mid-migration
            # nodes legitimately show Calico and Antrea routes side by side.
            blockers = migration.cluster.preflight_blockers()
            listed = "\n".join(f"  - {b}" for b in blockers)
            if blockers and not force:
                raise PreflightBlockedError(f"pre-flight check reports blockers (fix them, or --force):\n{listed}")
            if blockers:
                console.print(f"--force overrides {len(blockers)} pre-flight blockers:\n{listed}", markup=False)
        if output is OutputFormat.TABLE and not yes:
            console.print(plan.render_text(), markup=False)
        verb = "Resume" if resuming else "Start"
        if not mig.confirm(f"{verb} the migration of {len(plan.nodes)} nodes (strategy {plan.strategy.value})?", yes):
            console.print("not started", markup=False)
            raise typer.Exit(EXIT_FINDINGS)
        options = RunOptions(holder=mig.holder_name(), force=force, poll_interval=poll_interval,
                             ready_timeout=ready_timeout)
        with mig.RichProgress(plan, console) as progress:
            result = run_plan(plan, migration.ports, migration.store, progress, options)
        if output is OutputFormat.TABLE:
            mig.print_summary(result, console)
        else:
            dump(mig.result_document(result), output.value)
        raise typer.Exit(EXIT_OK)
