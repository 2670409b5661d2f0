"""Findings from the node agents' reports: what on a node would break or stall the switch to Antrea.

Pure: ``NodeReport``s in, ``Finding``s out. The agent has already computed the hard facts (route and
address conflicts, which CNI conf is active, Calico objects per netfilter backend); this module
judges them for the migration:

- route conflicts and address conflicts are blockers: pods on one side become unreachable;
- CNI conf order: the runtime uses the lexically first valid conf, so a conf other than Multus that
  sorts before Antrea's (``10-antrea.conflist`` when Antrea is not there yet) keeps Antrea from ever
  being used (blocker); an invalid conf is skipped by the runtime (warning); the Calico pin a
  rollback wrote (``00-antrea-migrate-calico.conflist``) is this tool's own and goes when the node
  switches again (info, not a blocker);
- netfilter: Calico rules in a backend are expected before cleanup (info); in both backends at once
  one set is stale, left from an earlier iptables mode (warning); a backend the agent could not read
  hides whatever is there (warning);
- the agent's own warnings (e.g. ipsets not checked) are passed on as warnings.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubectl_antrea_migrate.nodestate.model import CALICO_PIN_FILE, NodeReport, Owner
from kubectl_antrea_migrate.preflight.findings import Finding, Severity

__all__ = ["ANTREA_CONF", "node_findings", "nodes_findings"]

ANTREA_CONF = "10-antrea.conflist"


def nodes_findings(reports: Iterable[NodeReport]) -> tuple[Finding, ...]:
    """``node_findings`` of every report, node by node in the given order."""
    return tuple(finding for report in reports for finding in node_findings(report))


def node_findings(report: NodeReport) -> tuple[Finding, ...]:
    """Every finding about one node: conflicts, CNI conf order, netfilter backends, agent warnings."""
    subject = f"node/{report.node}"
    return (
        *_route_findings(report, subject),
        *_address_findings(report, subject),
        *_cni_findings(report, subject),
        *_netfilter_findings(report, subject),
        *(Finding(Severity.WARNING, "node-agent-warning", subject, w) for w in report.warnings),
    )


def _route_findings(report: NodeReport, subject: str) -> list[Finding]:
    findings = []
    for conflict in report.route_conflicts:
        calico, antrea = conflict.calico_route, conflict.antrea_route
        findings.append(
            Finding(
                Severity.BLOCKER,
                "node-route-conflict",
                subject,
                f"Calico route {calico.destination} dev {calico.device or calico.type} (proto {calico.protocol}) "
                f"overlaps Antrea route {antrea.destination} dev {antrea.device or antrea.type}: "
                f"{conflict.shadowed} is shadowed. {conflict.reason}",
                f"drain {report.node} before its switch, or remove Calico's routes "
                f"(kubectl antrea-migrate node {report.node} --cleanup-calico) once no Calico pod runs there",
            )
        )
    return findings


def _address_findings(report: NodeReport, subject: str) -> list[Finding]:
    return [
        Finding(
            Severity.BLOCKER,
            "node-gateway-address-taken",
            subject,
            f"{conflict.address} is held by {conflict.holder}. {conflict.reason}",
            f"restart or remove the holder of {conflict.address} on {report.node} before Antrea starts there",
        )
        for conflict in report.address_conflicts
    ]


def _cni_findings(report: NodeReport, subject: str) -> list[Finding]:
    confs = sorted(report.cni.confs, key=lambda c: c.file)
    findings = [
        Finding(
            Severity.WARNING,
            "cni-conf-invalid",
            subject,
            f"{report.cni.conf_dir}/{c.file} is not a valid CNI conf ({c.error or 'unreadable'}): the runtime skips it",
            f"fix or remove {c.file}",
        )
        for c in confs
        if not c.valid
    ]
    antrea = next((c.file for c in confs if c.owner is Owner.ANTREA and c.valid), ANTREA_CONF)
    for conf in confs:
        if conf.file == CALICO_PIN_FILE and conf.owner is Owner.CALICO:
            findings.append(
                Finding(
                    Severity.INFO,
                    "cni-calico-pinned",
                    subject,
                    f"{conf.file}, a copy of Calico's conf written by `rollback`, keeps Calico in force",
                    f"`run` removes it when {report.node} switches (or: kubectl antrea-migrate node "
                    f"{report.node} --cni antrea)",
                )
            )
            continue
        if not conf.valid or conf.file >= antrea or conf.owner in (Owner.ANTREA, Owner.MULTUS):
            continue
        owner = "Calico's" if conf.owner is Owner.CALICO else "a foreign"
        findings.append(
            Finding(
                Severity.BLOCKER,
                "cni-conf-shadows-antrea",
                subject,
                f"{owner} CNI conf {conf.file} sorts before {antrea}: the runtime keeps using it and pods "
                "never get Antrea networking",
                f"rename or remove {conf.file} on {report.node} (only a Multus conf may sort first)",
            )
        )
    if report.cni.active is None:
        findings.append(
            Finding(
                Severity.INFO,
                "cni-no-active-conf",
                subject,
                f"no valid CNI conf in {report.cni.conf_dir}: new pods cannot start until one is written",
            )
        )
    return findings


def _netfilter_findings(report: NodeReport, subject: str) -> list[Finding]:
    findings: list[Finding] = []
    with_calico = []
    for summary in report.netfilter:
        backend = summary.backend.value
        if summary.error or not summary.available:
            # A read error is already among the agent's warnings; a missing tool is not.
            if not summary.error:
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "netfilter-backend-unreadable",
                        subject,
                        f"iptables-{backend} is not available on the node: its rules were not checked",
                        f"install iptables-{backend} in the agent image",
                    )
                )
            continue
        if summary.has_calico:
            with_calico.append(backend)
            chains = sum(t.calico_chains for t in summary.tables)
            rules = sum(t.calico_rules for t in summary.tables)
            jumps = sum(t.jump_rules for t in summary.tables)
            findings.append(
                Finding(
                    Severity.INFO,
                    "calico-netfilter-rules",
                    subject,
                    f"iptables-{backend} holds {chains} Calico chains ({rules} rules) and {jumps} jumps into them",
                    f"removed by kubectl antrea-migrate node {report.node} --cleanup-calico after the switch",
                )
            )
    if len(with_calico) > 1:
        findings.append(
            Finding(
                Severity.WARNING,
                "calico-rules-in-both-backends",
                subject,
                f"Calico rules exist in both iptables-{' and iptables-'.join(with_calico)}: one set is stale, "
                "left by an earlier iptables mode",
                f"both are removed by kubectl antrea-migrate node {report.node} --cleanup-calico",
            )
        )
    return findings
