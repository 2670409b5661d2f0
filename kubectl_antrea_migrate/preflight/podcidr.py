"""Pod CIDR analysis: where Calico's IPAM blocks collide with the podCIDRs Antrea will use.

Antrea (NodeIPAM) gives each node's pods addresses from ``Node.spec.podCIDR`` and routes that CIDR to
``antrea-gw0``; Calico's pods keep addresses from its IPAM blocks (/26 by default), routed per block
through ``tunl0``/``vxlan.calico``. When a block in use lies inside a node's podCIDR, both routes exist
during the migration and the longer prefix (Calico's block) wins: pods on one side are unreachable,
and Antrea may hand out an address a Calico pod still holds (the seed's example: block
10.10.4.128/26 on another node inside podCIDR 10.10.4.0/24).

This module is pure: it compares every block in use with every node podCIDR and names the scenario:
- no overlap: nothing to do;
- a few nodes overlap (at most half of the nodes with a podCIDR): drain the nodes involved first;
- most nodes overlap: the IPPool shares the cluster's pod CIDR range; move Calico to a new IPPool.
A node without a podCIDR is a blocker on its own: Antrea cannot start there.

Overlap search sorts blocks by their first address, so 2,000 blocks against 1,000 nodes stays a few
thousand comparisons instead of two million.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from kubectl_antrea_migrate.kube.snapshot import ClusterSnapshot, IPAMBlock, IPPool, Network, NodeInfo
from kubectl_antrea_migrate.preflight.findings import Finding, Severity

__all__ = [
    "BlockOverlap",
    "NodePodCIDR",
    "NodeStatus",
    "PodCIDRAnalysis",
    "Scenario",
    "analyse_pod_cidrs",
    "analyse_snapshot",
]


class NodeStatus(Enum):
    """How one node's podCIDR relates to Calico's blocks."""

    OK = "ok"
    OVERLAPPED = "overlapped"
    NO_POD_CIDR = "no-pod-cidr"


class Scenario(Enum):
    """What the cluster as a whole needs before nodes can switch."""

    NO_OVERLAP = "no-overlap"
    DRAIN_NODES = "drain-nodes"
    CHANGE_IPPOOL = "change-ippool"


@dataclass(frozen=True, slots=True)
class BlockOverlap:
    """A Calico block in use inside a node's podCIDR.

    Attributes:
        block: the IPAMBlock name.
        cidr: the block's CIDR.
        holder: the node the block is affine to (``""`` when none).
        allocated: addresses allocated in the block.
        pod_cidr: the podCIDR of the overlapped node it falls in.
    """

    block: str
    cidr: Network
    holder: str
    allocated: int
    pod_cidr: Network


@dataclass(frozen=True, slots=True)
class NodePodCIDR:
    """One node's verdict."""

    node: str
    status: NodeStatus
    pod_cidrs: tuple[Network, ...] = ()
    overlaps: tuple[BlockOverlap, ...] = ()


@dataclass(frozen=True, slots=True)
class PodCIDRAnalysis:
    """The result for the cluster.

    Attributes:
        nodes: one verdict per node, in node name order.
        scenario: what the cluster needs (see ``Scenario``).
        drain_first: nodes to drain before any node switches (overlapped nodes and the nodes holding
            the overlapping blocks); empty unless the scenario is ``DRAIN_NODES``.
        overlapping_pools: IPPools whose CIDR overlaps a node podCIDR (what ``CHANGE_IPPOOL`` replaces).
        encapsulation: per enabled IPPool name, ``IPIP``, ``VXLAN`` or ``none``.
        findings: the same facts as findings for ``check``.
    """

    nodes: tuple[NodePodCIDR, ...]
    scenario: Scenario
    drain_first: tuple[str, ...] = ()
    overlapping_pools: tuple[str, ...] = ()
    encapsulation: tuple[tuple[str, str], ...] = ()
    findings: tuple[Finding, ...] = ()

    def node(self, name: str) -> NodePodCIDR:
        """The verdict for node ``name`` (KeyError when the node is unknown)."""
        for verdict in self.nodes:
            if verdict.node == name:
                return verdict
        raise KeyError(name)

    @property
    def overlapped(self) -> tuple[str, ...]:
        """Names of the overlapped nodes."""
        return tuple(n.node for n in self.nodes if n.status is NodeStatus.OVERLAPPED)


def analyse_snapshot(snapshot: ClusterSnapshot) -> PodCIDRAnalysis:
    """``analyse_pod_cidrs`` over a snapshot's Nodes, IPAM blocks and IPPools."""
    return analyse_pod_cidrs(snapshot.nodes, snapshot.ipam_blocks, snapshot.ip_pools)


def analyse_pod_cidrs(
    nodes: Iterable[NodeInfo], blocks: Iterable[IPAMBlock], pools: Iterable[IPPool] = ()
) -> PodCIDRAnalysis:
    """Compare every Calico block in use with every node podCIDR and name the scenario.

    A block is in use when it is affine to a host or has allocations, and is not being deleted.

    Args:
        nodes: the cluster's Nodes.
        blocks: Calico IPAM blocks.
        pools: Calico IPPools (for the encapsulation and the pools to replace).
    """
    node_list = sorted(nodes, key=lambda n: n.name)
    pool_list = sorted(pools, key=lambda p: p.name)
    index = _BlockIndex([b for b in blocks if not b.deleted and (b.node or b.allocated)])
    verdicts = tuple(_classify(node, index) for node in node_list)
    overlapped = [v for v in verdicts if v.status is NodeStatus.OVERLAPPED]
    with_cidr = [v for v in verdicts if v.status is not NodeStatus.NO_POD_CIDR]
    if not overlapped:
        scenario = Scenario.NO_OVERLAP
    elif 2 * len(overlapped) > len(with_cidr):
        scenario = Scenario.CHANGE_IPPOOL
    else:
        scenario = Scenario.DRAIN_NODES
    drain = _drain_first(overlapped) if scenario is Scenario.DRAIN_NODES else ()
    pod_cidrs = [c for v in with_cidr for c in v.pod_cidrs]
    overlapping_pools = tuple(p.name for p in pool_list if any(_overlaps(p.cidr, c) for c in pod_cidrs))
    encapsulation = tuple((p.name, p.encapsulation) for p in pool_list if not p.disabled)
    findings = (
        *(_node_findings(node_list, verdicts, scenario, drain, overlapping_pools)),
        _scenario_finding(scenario, overlapped, with_cidr, drain, overlapping_pools),
        *(_encapsulation_findings(encapsulation)),
    )
    return PodCIDRAnalysis(verdicts, scenario, drain, overlapping_pools, encapsulation, tuple(findings))


class _BlockIndex:
    """Blocks sorted by first address, per IP version, for range queries."""

    def __init__(self, blocks: Sequence[IPAMBlock]) -> None:
        self._by_version: dict[int, tuple[list[int], list[IPAMBlock], int]] = {}
        for version in (4, 6):
            mine = sorted((b for b in blocks if b.cidr.version == version), key=lambda b: int(b.cidr.network_address))
            starts = [int(b.cidr.network_address) for b in mine]
            widest = max((b.cidr.num_addresses for b in mine), default=0)
            self._by_version[version] = (starts, mine, widest)

    def overlapping(self, cidr: Network) -> list[IPAMBlock]:
        starts, blocks, widest = self._by_version[cidr.version]
        first, last = int(cidr.network_address), int(cidr.broadcast_address)
        # A block starting more than `widest` addresses before `first` cannot reach it.
        lo = bisect.bisect_left(starts, first - widest + 1)
        hi = bisect.bisect_right(starts, last)
        return [b for b in blocks[lo:hi] if int(b.cidr.broadcast_address) >= first]


def _overlaps(a: Network, b: Network) -> bool:
    if a.version != b.version:
        return False
    return int(a.network_address) <= int(b.broadcast_address) and int(b.network_address) <= int(a.broadcast_address)


def _classify(node: NodeInfo, index: _BlockIndex) -> NodePodCIDR:
    if not node.pod_cidrs:
        return NodePodCIDR(node.name, NodeStatus.NO_POD_CIDR)
    overlaps = tuple(
        BlockOverlap(b.name, b.cidr, b.node, b.allocated, cidr)
        for cidr in node.pod_cidrs
        for b in index.overlapping(cidr)
    )
    status = NodeStatus.OVERLAPPED if overlaps else NodeStatus.OK
    return NodePodCIDR(node.name, status, node.pod_cidrs, overlaps)


def _drain_first(overlapped: Sequence[NodePodCIDR]) -> tuple[str, ...]:
    # Draining the overlapped node alone is not enough: pods on the block's holder keep addresses
    # inside that podCIDR until they move.
    names = {v.node for v in overlapped}
    names.update(o.holder for v in overlapped for o in v.overlaps if o.holder)
    return tuple(sorted(names))


def _cidrs(cidrs: Iterable[Network]) -> str:
    return ", ".join(str(c) for c in cidrs)


def _describe(overlap: BlockOverlap) -> str:
    holder = f"on {overlap.holder}" if overlap.holder else "without host affinity"
    return f"{overlap.cidr} ({overlap.block}, {holder}, {overlap.allocated} addresses in use)"


def _node_findings(
    nodes: Sequence[NodeInfo],
    verdicts: Sequence[NodePodCIDR],
    scenario: Scenario,
    drain: Sequence[str],
    pools: Sequence[str],
) -> list[Finding]:
    findings: list[Finding] = []
    for node, verdict in zip(nodes, verdicts, strict=True):
        subject = f"node/{node.name}"
        if verdict.status is NodeStatus.NO_POD_CIDR:
            findings.append(
                Finding(
                    Severity.BLOCKER,
                    "node-without-podcidr",
                    subject,
                    f"node {node.name} has no spec.podCIDR: Antrea cannot start there",
                    "run kube-controller-manager with --allocate-node-cidrs=true and --cluster-cidr, "
                    "then re-register the node (spec.podCIDR can only be set once)",
                )
            )
        elif verdict.status is NodeStatus.OVERLAPPED:
            findings.append(
                Finding(
                    Severity.BLOCKER,
                    "podcidr-overlap",
                    subject,
                    f"podCIDR {_cidrs(verdict.pod_cidrs)} of node {node.name} overlaps Calico IPAM blocks "
                    + "; ".join(_describe(o) for o in verdict.overlaps),
                    _fix(scenario, drain, pools),
                )
            )
        if not node.internal_ips:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "node-without-address",
                    subject,
                    f"node {node.name} reports no InternalIP: its agent cannot be reached and Antrea tunnels "
                    "need a node address",
                    "check the kubelet's --node-ip on that node",
                )
            )
    return findings


def _fix(scenario: Scenario, drain: Sequence[str], pools: Sequence[str]) -> str:
    if scenario is Scenario.DRAIN_NODES:
        return (
            f"drain {', '.join(drain)} before switching any node, so no pod holds an address inside "
            "another node's podCIDR; Calico releases the emptied blocks"
        )
    if scenario is Scenario.CHANGE_IPPOOL:
        which = ", ".join(pools) or "the Calico IPPool"
        return (
            f"move Calico off {which}: create an IPPool outside the node podCIDR range, disable the old "
            "one, and restart pods so they take addresses from the new pool before switching nodes"
        )
    return ""


def _scenario_finding(
    scenario: Scenario,
    overlapped: Sequence[NodePodCIDR],
    with_cidr: Sequence[NodePodCIDR],
    drain: Sequence[str],
    pools: Sequence[str],
) -> Finding:
    if scenario is Scenario.NO_OVERLAP:
        return Finding(
            Severity.INFO,
            "podcidr-no-overlap",
            "cluster",
            f"no Calico IPAM block in use overlaps any of the {len(with_cidr)} node podCIDRs",
        )
    names = ", ".join(v.node for v in overlapped)
    blocks = sorted({str(o.cidr) for v in overlapped for o in v.overlaps})
    if scenario is Scenario.DRAIN_NODES:
        message = (
            f"{len(overlapped)} of {len(with_cidr)} nodes have a podCIDR overlapping Calico blocks "
            f"({names}; blocks {', '.join(blocks)}): drain the nodes involved first"
        )
    else:
        message = (
            f"{len(overlapped)} of {len(with_cidr)} nodes have a podCIDR overlapping Calico blocks: "
            f"the IPPool shares the cluster's pod CIDR range ({', '.join(pools) or 'no pool found'})"
        )
    return Finding(Severity.BLOCKER, f"podcidr-{scenario.value}", "cluster", message, _fix(scenario, drain, pools))


def _encapsulation_findings(encapsulation: Sequence[tuple[str, str]]) -> list[Finding]:
    if not encapsulation:
        return [Finding(Severity.INFO, "calico-encapsulation", "cluster", "no enabled Calico IPPool found")]
    return [
        Finding(
            Severity.INFO,
            "calico-encapsulation",
            f"ippool/{name}",
            f"IPPool {name} uses {'no encapsulation' if mode == 'none' else mode}",
        )
        for name, mode in encapsulation
    ]
