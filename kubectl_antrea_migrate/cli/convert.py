"""``kubectl antrea-migrate convert``: Calico policies -> Antrea objects, exact or refused with reasons."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kubectl_antrea_migrate.cli import _policy_io as pio
from kubectl_antrea_migrate.cli.options import ContextOpt, FilesOpt, KubeconfigOpt, OutputFormat, OutputOpt
from kubectl_antrea_migrate.convert import convert as run_conversion
from kubectl_antrea_migrate.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from kubectl_antrea_migrate.output import dump, dump_manifests


def register(app: typer.Typer) -> None:
    """Add the ``convert`` command to ``app``."""

    @app.command("convert")
    def convert(
        filename: FilesOpt = None,
        output: OutputOpt = OutputFormat.YAML,
        report: Annotated[
            Path | None, typer.Option("--report", help="Also write the fidelity report to FILE (.json or .yaml).")
        ] = None,
        partial: Annotated[
            bool, typer.Option("--partial", help="Emit what converts exactly and list the guarantees lost.")
        ] = False,
        apply: Annotated[bool, typer.Option("--apply", help="Server-side apply the objects to the cluster.")] = False,
        dry_run: Annotated[
            str | None, typer.Option("--dry-run", help="With --apply: 'server' validates without persisting.")
        ] = None,
        namespaced_as: pio.NamespacedAsOpt = pio.NamespacedAsChoice.ANNP,
        calico_version: pio.CalicoVersionOpt = "3.32",
        deny_action: pio.DenyActionOpt = pio.DenyActionChoice.DROP,
        ip_family: pio.IPFamilyOpt = pio.IPFamilyChoice.IPV4,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Print the Antrea objects (Tiers, groups, policies) for the Calico policies, or apply them.

        Example: kubectl antrea-migrate convert -f examples/ --report fidelity.yaml > antrea.yaml
        """
        if dry_run not in (None, "server"):
            raise UsageError(f"--dry-run={dry_run}: only --dry-run=server is supported")
        if dry_run and not apply:
            raise UsageError("--dry-run=server needs --apply")
        if output is OutputFormat.TABLE:
            raise UsageError("convert prints manifests: use -o yaml or -o json")
        options = pio.conversion_options(namespaced_as, calico_version, deny_action, ip_family, partial)
        if filename:
            inventory = pio.load_inputs(filename)
        else:
            from kubectl_antrea_migrate.cli._live import live_inventory

            inventory = live_inventory(kubeconfig, context)
        result = run_conversion(inventory, options)
        if report is not None:
            with report.open("w", encoding="utf-8") as fh:
                dump(pio.fidelity_document(result), "json" if report.suffix == ".json" else "yaml", fh)
        if result.blocked and not partial:
            pio.print_fidelity(result, sys.stderr)
            raise typer.Exit(EXIT_FINDINGS)
        if result.blocked:
            for lost in result.lost_guarantees:
                print(f"warning: guarantee lost: {lost}", file=sys.stderr)
        from kubectl_antrea_migrate.antrea.render import render

        manifests = render(result.objects)
        if apply:
            from kubectl_antrea_migrate.cli._live import apply_converted

            apply_converted(kubeconfig, context, inventory, manifests, server_dry_run=dry_run == "server")
        else:
            dump_manifests(manifests, output.value)
        raise typer.Exit(EXIT_FINDINGS if result.blocked else EXIT_OK)
