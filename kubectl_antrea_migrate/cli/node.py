"""``kubectl antrea-migrate node NAME``: one node, through its agent.

  node NAME [--report] [--kill-sandbox [--namespace NS]... [--pod P]... [--force]]
            [--cni calico|multus|antrea | --multus on|off] [--cleanup-calico] [--dry-run]
            [--agent-endpoint HOST:PORT] [--tls-dir DIR] [--agent-namespace NS] [-o table|json|yaml]

``--namespace``/``--pod`` filter ``--kill-sandbox``; the agent's own namespace is ``--agent-namespace``.
``--cni`` puts one network's conf in force (``calico`` pins a copy of Calico's conf in front of
Antrea's, as ``rollback`` does; ``antrea`` removes that copy and our Multus conf); ``--multus`` only
writes or removes ``00-multus.conf``.
Exit codes: 0 ok, 1 the report has blockers, 3 the agent failed an object or did not answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from kubectl_antrea_migrate.cli.options import ContextOpt, KubeconfigOpt, OutputFormat, OutputOpt, cluster_client
from kubectl_antrea_migrate.errors import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK
from kubectl_antrea_migrate.output import console, dump, table, to_plain

if TYPE_CHECKING:  # the agent client pulls in grpc: imported only when the command runs
    from rich.table import Table

    from kubectl_antrea_migrate.agents.operations import NodeRun
    from kubectl_antrea_migrate.nodestate.model import NodeReport, Outcome

__all__ = ["register"]


class CniChoice(StrEnum):
    """``--cni``: which network's conf to put in force."""

    CALICO = "calico"
    MULTUS = "multus"
    ANTREA = "antrea"


class MultusChoice(StrEnum):
    """``--multus``: write or remove ``00-multus.conf``."""

    ON = "on"
    OFF = "off"


def register(app: typer.Typer) -> None:
    """Add the ``node`` command to ``app``."""

    @app.command("node")
    def node(
        name: Annotated[str, typer.Argument(help="The node's name.")],
        report: Annotated[bool, typer.Option("--report", help="Print the node report (the default action).")] = False,
        kill_sandbox: Annotated[
            bool, typer.Option("--kill-sandbox", help="Stop the node's pod-network sandboxes (never hostNetwork).")
        ] = False,
        namespaces: Annotated[
            list[str] | None, typer.Option("--namespace", "-n", help="--kill-sandbox: only pods in NS; repeatable.")
        ] = None,
        pods: Annotated[
            list[str] | None, typer.Option("--pod", help="--kill-sandbox: only pod P (name or ns/name); repeatable.")
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="--kill-sandbox: also pods with restartPolicy: Never.")
        ] = False,
        multus: Annotated[
            MultusChoice | None, typer.Option("--multus", help="Write (on) or remove (off) 00-multus.conf.")
        ] = None,
        cni: Annotated[
            CniChoice | None,
            typer.Option("--cni", help="Put this network's CNI conf in force (calico: pin Calico's conf first)."),
        ] = None,
        cleanup_calico: Annotated[
            bool, typer.Option("--cleanup-calico", help="Remove Calico links, routes, chains, ipsets, CNI files.")
        ] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
        agent_endpoint: Annotated[
            str | None, typer.Option("--agent-endpoint", help="HOST:PORT of the agent, bypassing discovery.")
        ] = None,
        tls_dir: Annotated[
            Path | None,
            typer.Option("--tls-dir", help="Directory with ca.crt, client.crt, client.key (default: the Secret)."),
        ] = None,
        agent_namespace: Annotated[
            str, typer.Option("--agent-namespace", help="Namespace of the agent and its TLS Secret.")
        ] = "kube-system",
        output: OutputOpt = OutputFormat.TABLE,
        kubeconfig: KubeconfigOpt = None,
        context: ContextOpt = None,
    ) -> None:
        """Report on one node or change it through its agent; prints what was done, object by object.

        Example: kubectl antrea-migrate node worker-1 --cleanup-calico --dry-run
        """
        from kubectl_antrea_migrate.agents import operations
        from kubectl_antrea_migrate.errors import UsageError
        from kubectl_antrea_migrate.nodestate.model import CniNetwork

        if (namespaces or pods or force) and not kill_sandbox:
            raise UsageError("--namespace, --pod and --force go with --kill-sandbox")
        if cni is not None and multus is not None:
            raise UsageError("--cni and --multus both set the CNI conf: give one (--cni multus is --multus on)")
        request = operations.NodeRequest(
            report=report,
            kill_sandbox=kill_sandbox,
            namespaces=tuple(namespaces or ()),
            pods=tuple(pods or ()),
            force=force,
            multus=None if multus is None else multus is MultusChoice.ON,
            cni=None if cni is None else CniNetwork(cni.value),
            cleanup_calico=cleanup_calico,
            dry_run=dry_run,
        )
        connection = operations.connect(
            lambda: cluster_client(kubeconfig, context),
            name,
            namespace=agent_namespace,
            endpoint=agent_endpoint,
            tls_dir=tls_dir,
        )
        result = operations.run(connection, request)
        if output is OutputFormat.TABLE:
            print_run(result)
        else:
            dump(run_document(result), output.value)
        raise typer.Exit(EXIT_FAILURE if result.failed else EXIT_FINDINGS if result.blocked else EXIT_OK)


def run_document(result: NodeRun) -> dict[str, object]:
    """The run as plain data for ``-o json|yaml``, with ``failed`` and ``blocked`` spelled out."""
    plain: dict[str, object] = to_plain(result)
    return {**plain, "failed": result.failed, "blocked": result.blocked}


def print_run(result: NodeRun, stream: TextIO | None = None) -> None:
    """Human tables: what each action did, then the report and its findings."""
    out = console(stream)
    out.print(f"node {result.node} (agent {result.endpoint}){' - dry run' if result.dry_run else ''}")
    for note in result.notes:
        out.print(f"note: {note}")
    if result.cni:
        out.print(_outcomes("CNI conf", result.cni))
    if result.multus:
        out.print(_outcomes("Multus conf", result.multus))
    if result.sandboxes:
        rows = [
            (s.namespace, s.pod, s.sandbox_id[:13], s.result.value, f"{s.seconds:.2f}", s.detail)
            for s in result.sandboxes
        ]
        out.print(table("Pod sandboxes", ("NAMESPACE", "POD", "SANDBOX", "RESULT", "SECONDS", "DETAIL"), rows))
    if result.cleanup:
        out.print(_outcomes("Calico cleanup", result.cleanup))
    if result.report is not None:
        for part in _report_tables(result.report):
            out.print(part)
        findings = [(f.severity.value, f.code, f.message, f.fix) for f in result.findings]
        out.print(table("Findings", ("SEVERITY", "CODE", "MESSAGE", "FIX"), findings) if findings else "no findings")


def _outcomes(title: str, outcomes: Sequence[Outcome]) -> Table:
    rows = [(o.subsystem, o.object, o.action, o.result.value, o.detail) for o in outcomes]
    return table(title, ("SUBSYSTEM", "OBJECT", "ACTION", "RESULT", "DETAIL"), rows)


def _report_tables(report: NodeReport) -> list[Table | str]:
    cni = report.cni
    confs = [
        ("*" if c.file == cni.active else "", c.file, c.network, ",".join(c.plugin_types), c.owner.value,
         "yes" if c.valid else f"no: {c.error}")
        for c in cni.confs
    ]  # fmt: skip
    links = [
        (link.name, link.kind, link.owner.value, " ".join(link.addresses), "up" if link.up else "down")
        for link in report.links
    ]
    routes = [
        (r.destination, r.device or "", r.gateway or "", r.protocol, r.type, r.owner.value) for r in report.routes
    ]
    conflicts = [
        (c.calico_route.destination, c.calico_route.device or c.calico_route.type,
         c.antrea_route.destination, c.antrea_route.device or "", c.shadowed, c.reason)
        for c in report.route_conflicts
    ]  # fmt: skip
    addresses = [(c.address, c.holder, c.reason) for c in report.address_conflicts]
    netfilter = [
        (n.backend.value, t.table, str(t.calico_chains), str(t.calico_rules), str(t.jump_rules), str(t.total_rules))
        for n in report.netfilter
        for t in n.tables
    ]
    # A backend without a table row still gets one line: "checked, nothing there" or why not checked.
    netfilter += [
        (n.backend.value, "-", "", "", "", n.error or ("no rules" if n.available else "not available"))
        for n in report.netfilter
        if not n.tables
    ]
    parts: list[Table | str] = [
        table(f"CNI confs in {cni.conf_dir} (* = in use)", ("", "FILE", "NETWORK", "PLUGINS", "OWNER", "VALID"), confs)
        if confs
        else f"no CNI conf files in {cni.conf_dir}",
        table("Links", ("NAME", "KIND", "OWNER", "ADDRESSES", "STATE"), links),
        table(
            f"Routes ({report.other_route_count} others not shown)",
            ("DESTINATION", "DEVICE", "GATEWAY", "PROTO", "TYPE", "OWNER"),
            routes,
        ),
        table(
            "Route conflicts",
            ("CALICO ROUTE", "CALICO DEV", "ANTREA ROUTE", "ANTREA DEV", "SHADOWED", "REASON"),
            conflicts,
        )
        if conflicts
        else "no route conflicts",
    ]
    if addresses:
        parts.append(table("Address conflicts", ("ADDRESS", "HELD BY", "REASON"), addresses))
    parts.append(
        table("Netfilter", ("BACKEND", "TABLE", "CALICO CHAINS", "CALICO RULES", "JUMPS", "TOTAL RULES"), netfilter)
    )
    if report.calico_ipsets:
        parts.append(f"Calico ipsets: {', '.join(report.calico_ipsets)}")
    for warning in report.warnings:
        parts.append(f"warning: {warning}")
    return parts
