"""The live ``check`` verdict: every pre-flight finding about a cluster, assembled from what was read.

Pure: the caller reads the cluster (snapshot), converts the policies, asks the agents for their node
reports, and hands everything here. A Calico object the loader rejects is a blocker (it cannot be
converted, so its guarantee would be lost); a node whose agent does not answer is reported and the
other nodes are still checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubectl_antrea_migrate.convert.result import ConversionResult
from kubectl_antrea_migrate.kube.snapshot import ClusterSnapshot
from kubectl_antrea_migrate.nodestate.model import NodeReport
from kubectl_antrea_migrate.preflight.findings import Finding, Severity, has_blockers
from kubectl_antrea_migrate.preflight.nodes import nodes_findings
from kubectl_antrea_migrate.preflight.podcidr import PodCIDRAnalysis

__all__ = ["CheckReport", "assess_cluster"]


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything ``check`` found, and whether it blocks the migration."""

    findings: tuple[Finding, ...]
    conversion: ConversionResult
    pod_cidrs: PodCIDRAnalysis
    node_reports: tuple[NodeReport, ...] = ()

    @property
    def blocked(self) -> bool:
        """True when a finding is a blocker or a policy cannot be converted exactly."""
        return has_blockers(self.findings) or self.conversion.blocked


def assess_cluster(
    snapshot: ClusterSnapshot,
    conversion: ConversionResult,
    pod_cidrs: PodCIDRAnalysis,
    node_reports: Iterable[NodeReport] = (),
    *,
    rejected_objects: Iterable[str] = (),
    agent_errors: Mapping[str, str] | None = None,
    agents_installed: bool = False,
) -> CheckReport:
    """Assemble the findings of a live check.

    Args:
        snapshot: what was read from the cluster.
        conversion: the conversion of the cluster's policies.
        pod_cidrs: the IPAM blocks vs Node podCIDRs analysis.
        node_reports: the agents' reports (empty when no agent runs).
        rejected_objects: one message per Calico object the loader rejected.
        agent_errors: node -> why its report is missing.
        agents_installed: False when no agent pod exists (node checks were not possible).
    """
    reports = tuple(node_reports)
    findings: list[Finding] = list(pod_cidrs.findings)
    findings += _component_findings(snapshot)
    findings += [
        Finding(Severity.BLOCKER, "object-rejected", "cluster", msg, "fix or delete the object, then rerun check")
        for msg in rejected_objects
    ]
    findings += [
        Finding(Severity.WARNING, "object-unreadable", "cluster", str(p), "") for p in snapshot.problems
    ]
    findings += _agent_findings(snapshot, reports, agent_errors or {}, agents_installed)
    findings += nodes_findings(reports)
    return CheckReport(tuple(findings), conversion, pod_cidrs, reports)


def _component_findings(snapshot: ClusterSnapshot) -> list[Finding]:
    components = snapshot.components
    found: list[Finding] = []
    if not components.calico_node:
        found.append(Finding(Severity.INFO, "calico-absent", "cluster", "no calico-node DaemonSet found"))
    if components.antrea:
        found.append(Finding(Severity.INFO, "antrea-present", "cluster", "Antrea is already installed"))
    if components.multus:
        found.append(Finding(Severity.INFO, "multus-present", "cluster", "Multus is installed"))
    if not components.kube_proxy:
        found.append(
            Finding(
                Severity.WARNING,
                "kube-proxy-absent",
                "cluster",
                "no kube-proxy DaemonSet: Services depend on the CNI's own proxy",
                "enable AntreaProxy with proxyAll, or install kube-proxy, before switching nodes",
            )
        )
    return found


def _agent_findings(
    snapshot: ClusterSnapshot, reports: tuple[NodeReport, ...], errors: Mapping[str, str], installed: bool
) -> list[Finding]:
    if not installed:
        return [
            Finding(
                Severity.INFO,
                "agents-absent",
                "cluster",
                "node agents are not installed: route conflicts, CNI files and netfilter were not checked",
                "run `kubectl antrea-migrate agent install`, then check again",
            )
        ]
    reported = {r.node for r in reports}
    found = [
        Finding(Severity.WARNING, "agent-unreachable", f"node/{node}", f"no node report: {why}",
                "check the agent pod on this node")
        for node, why in sorted(errors.items())
    ]
    found += [
        Finding(Severity.WARNING, "agent-missing", f"node/{n.name}", "no agent runs on this node",
                "check the DaemonSet's tolerations and the node's state")
        for n in snapshot.nodes
        if n.name not in reported and n.name not in errors
    ]
    return found
