"""``kubectl antrea-migrate verify``: prove the Antrea policies allow exactly what Calico allowed.

Offline (``-f``) it compares the Calico inputs with ``--antrea FILE`` (what you will apply), or with
this tool's own conversion of them. Live it reads the cluster: real pods as endpoints, and the Antrea
objects already applied (or, when none are, the conversion of the cluster's Calico policies).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from kubectl_antrea_migrate.cli import _policy_io as pio
from kubectl_antrea_migrate.cli.options import ContextOpt, FilesOpt, KubeconfigOpt, OutputFormat, OutputOpt
from kubectl_antrea_migrate.errors import UsageError
from kubectl_antrea_migrate.output import console, dump, table, to_plain


def register(app: typer.Typer) -> None:
    """Add the ``verify`` command to ``app``."""

    @app.command("verify")
    def verify(
        filename: FilesOpt = None,
        antrea: Annotated[
            list[str] | None,
            typer.Option("--antrea", help="Antrea objects to verify (file, dir or -); default: convert -f inputs."),
        ] = None,
        matrix: Annotated[bool, typer.Option("--matrix", help="Also print the allowed-connection matrix.")] = False,
        output: OutputOpt = OutputFormat.TABLE,
        namespaced_as: pio.NamespacedAsOpt = pio.NamespacedAsChoice.ANNP,
        calico_version: pio.CalicoVersionOpt = "3.32",
        deny_action: pio.DenyActionOpt = pio.DenyActionChoice.DROP,
        ip_family: pio.IPFamilyOpt = pio.IPFamilyChoice.IPV4,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """List every (source, destination, protocol/port) where Calico and Antrea disagree; exit 1 if any.

        Example: kubectl antrea-migrate verify -f examples/
        """
        from kubectl_antrea_migrate.verify.diff import verify as run_verify

        options = pio.conversion_options(namespaced_as, calico_version, deny_action, ip_family, partial=True)
        if antrea and not filename:
            raise UsageError("--antrea compares with Calico objects given by -f")
        if filename:
            inventory = pio.load_inputs(filename)
            objects, source = pio.antrea_side(inventory, options, antrea)
        else:
            from kubectl_antrea_migrate.cli._live import live_verify_inputs

            inventory, objects, source = live_verify_inputs(kubeconfig, context, options)
        report = run_verify(inventory, objects, calico_version=options.calico_version, matrix=matrix)
        if output is OutputFormat.TABLE:
            _print(report, source)
        else:
            dump({"antrea": source, **to_plain(report)}, output.value)
        raise typer.Exit(report.exit_code)


def _print(report: object, source: str) -> None:
    from kubectl_antrea_migrate.verify.diff import VerifyReport

    assert isinstance(report, VerifyReport)
    out = console()
    pods = "synthetic pods derived from the selectors" if report.synthetic_pods else "the given pods"
    out.print(f"Antrea side: {source}")
    out.print(f"{report.probes} probes over {report.endpoints} endpoints ({pods})")
    if report.matrix:
        rows = [
            (cell.src.describe(), cell.dst.describe(),
             ", ".join(t.describe() for t in cell.calico_allowed) or "-",
             ", ".join(t.describe() for t in cell.antrea_allowed) or "-")
            for cell in report.matrix
        ]
        out.print(table("Allowed connections", ("SOURCE", "DESTINATION", "CALICO ALLOWS", "ANTREA ALLOWS"), rows))
    for note in report.notes:
        out.print(f"note: {note}")
    for difference in report.differences:
        print(difference.describe(), file=sys.stdout)
    out.print(f"{len(report.differences)} differences" if report.differences else "no differences: same verdicts")
