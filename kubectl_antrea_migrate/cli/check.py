"""``kubectl antrea-migrate check``: every migration blocker, before anything changes.

With ``-f`` it works offline on exported objects (policy conversion fidelity). Without ``-f`` it reads
the live cluster (policies, IPAM blocks vs Node podCIDRs, nodes, agents' reports).
"""

from __future__ import annotations

import typer

from kubectl_antrea_migrate.cli import _policy_io as pio
from kubectl_antrea_migrate.cli.options import ContextOpt, FilesOpt, KubeconfigOpt, OutputFormat, OutputOpt
from kubectl_antrea_migrate.convert import convert
from kubectl_antrea_migrate.errors import EXIT_FINDINGS, EXIT_OK
from kubectl_antrea_migrate.output import dump


def register(app: typer.Typer) -> None:
    """Add the ``check`` command to ``app``."""

    @app.command("check")
    def check(
        filename: FilesOpt = None,
        output: OutputOpt = OutputFormat.TABLE,
        namespaced_as: pio.NamespacedAsOpt = pio.NamespacedAsChoice.ANNP,
        calico_version: pio.CalicoVersionOpt = "3.32",
        deny_action: pio.DenyActionOpt = pio.DenyActionChoice.DROP,
        ip_family: pio.IPFamilyOpt = pio.IPFamilyChoice.IPV4,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Report every migration blocker; exit 1 when any is found.

        Example: kubectl antrea-migrate check -f examples/
        """
        options = pio.conversion_options(namespaced_as, calico_version, deny_action, ip_family)
        if not filename:
            from kubectl_antrea_migrate.cli._live import live_check

            raise typer.Exit(live_check(kubeconfig, context, options, output))
        result = convert(pio.load_inputs(filename), options)
        if output is OutputFormat.TABLE:
            pio.print_fidelity(result)
        else:
            dump(pio.fidelity_document(result), output.value)
        raise typer.Exit(EXIT_FINDINGS if result.blocked else EXIT_OK)
