"""Pod CIDR analysis on clusters modelled on the seed's example: Calico /26 blocks, /24 node podCIDRs."""

from __future__ import annotations

import ipaddress

import pytest

from kubectl_antrea_migrate.kube.snapshot import ClusterSnapshot, IPAMBlock, IPPool, NodeInfo
from kubectl_antrea_migrate.preflight.findings import Severity, has_blockers
from kubectl_antrea_migrate.preflight.podcidr import (
    NodeStatus,
    Scenario,
    analyse_pod_cidrs,
    analyse_snapshot,
)


def net(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr)


def node(name: str, *cidrs: str, ip: str = "192.168.1.10") -> NodeInfo:
    return NodeInfo(name=name, pod_cidrs=tuple(net(c) for c in cidrs), internal_ips=(ip,) if ip else ())


def block(cidr: str, holder: str, allocated: int = 1) -> IPAMBlock:
    return IPAMBlock(name=cidr.replace(".", "-").replace("/", "-"), cidr=net(cidr), node=holder, allocated=allocated)


POOL = IPPool(name="default-ipv4-ippool", cidr=net("10.10.0.0/16"), ipip_mode="Always")


def seed_cluster(workers: int = 6) -> tuple[list[NodeInfo], list[IPAMBlock]]:
    """Node podCIDRs 10.10.<i>.0/24 (kube-controller-manager); Calico blocks in 10.20.0.0/16 apart from one.

    The one exception is the seed's example: block 10.10.4.128/26, held by node-1, inside node-4's podCIDR.
    """
    nodes = [node(f"node-{i}", f"10.10.{i}.0/24", ip=f"192.168.1.{10 + i}") for i in range(workers)]
    blocks = [block(f"10.20.{i}.0/26", f"node-{i}", allocated=5) for i in range(workers)]
    blocks.append(block("10.10.4.128/26", "node-1", allocated=3))
    return nodes, blocks


def test_seed_example_overlaps_one_node_and_names_the_block_and_its_holder() -> None:
    nodes, blocks = seed_cluster()
    result = analyse_pod_cidrs(nodes, blocks, [POOL])

    verdict = result.node("node-4")
    assert verdict.status is NodeStatus.OVERLAPPED
    assert [(str(o.cidr), o.holder, o.allocated, str(o.pod_cidr)) for o in verdict.overlaps] == [
        ("10.10.4.128/26", "node-1", 3, "10.10.4.0/24")
    ]
    assert result.overlapped == ("node-4",)
    assert all(result.node(f"node-{i}").status is NodeStatus.OK for i in (0, 1, 2, 3, 5))


def test_a_few_overlapped_nodes_means_drain_the_nodes_involved_first() -> None:
    nodes, blocks = seed_cluster()
    result = analyse_pod_cidrs(nodes, blocks, [POOL])

    assert result.scenario is Scenario.DRAIN_NODES
    # node-4 (overlapped) and node-1 (its pods hold addresses in node-4's podCIDR).
    assert result.drain_first == ("node-1", "node-4")
    overlap = [f for f in result.findings if f.code == "podcidr-overlap"]
    assert [(f.severity, f.subject) for f in overlap] == [(Severity.BLOCKER, "node/node-4")]
    assert "10.10.4.128/26" in overlap[0].message and "node-1" in overlap[0].message
    assert "drain node-1, node-4" in overlap[0].fix
    assert has_blockers(result.findings)


def test_most_nodes_overlapped_means_change_the_ippool() -> None:
    # The IPPool is the cluster CIDR itself: every node's /24 holds /26 blocks of other nodes.
    nodes = [node(f"node-{i}", f"10.10.{i}.0/24") for i in range(4)]
    blocks = [block(f"10.10.{i}.{q * 64}/26", f"node-{(i + 1) % 4}") for i in range(4) for q in range(4)]
    result = analyse_pod_cidrs(nodes, blocks, [POOL])

    assert result.scenario is Scenario.CHANGE_IPPOOL
    assert result.overlapped == ("node-0", "node-1", "node-2", "node-3")
    assert all(len(result.node(n).overlaps) == 4 for n in result.overlapped)
    assert result.overlapping_pools == ("default-ipv4-ippool",)
    assert result.drain_first == ()
    scenario = next(f for f in result.findings if f.subject == "cluster")
    assert scenario.code == "podcidr-change-ippool"
    assert "default-ipv4-ippool" in scenario.fix


def test_no_overlap_is_reported_as_info_only() -> None:
    nodes = [node(f"node-{i}", f"10.10.{i}.0/24") for i in range(3)]
    blocks = [block(f"10.20.{i}.0/26", f"node-{i}") for i in range(3)]
    pool = IPPool(name="pool", cidr=net("10.20.0.0/16"))
    result = analyse_pod_cidrs(nodes, blocks, [pool])

    assert result.scenario is Scenario.NO_OVERLAP
    assert result.overlapping_pools == ()
    assert not has_blockers(result.findings)
    assert [f.code for f in result.findings if f.subject == "cluster"] == ["podcidr-no-overlap"]


def test_node_without_podcidr_is_a_blocker_antrea_cannot_start_there() -> None:
    nodes = [node("node-0", "10.10.0.0/24"), node("edge-1")]
    result = analyse_pod_cidrs(nodes, [], [])

    assert result.node("edge-1").status is NodeStatus.NO_POD_CIDR
    finding = next(f for f in result.findings if f.subject == "node/edge-1")
    assert finding.severity is Severity.BLOCKER
    assert finding.code == "node-without-podcidr"
    assert "Antrea cannot start there" in finding.message
    # A node without a podCIDR is not counted when deciding between "a few" and "most".
    assert result.scenario is Scenario.NO_OVERLAP


def test_node_without_internal_ip_is_a_warning_for_that_node_only() -> None:
    result = analyse_pod_cidrs([node("a", "10.10.0.0/24", ip=""), node("b", "10.10.1.0/24")], [], [])

    warnings = [(f.code, f.subject) for f in result.findings if f.severity is Severity.WARNING]
    assert warnings == [("node-without-address", "node/a")]


def test_unused_and_deleted_blocks_do_not_count() -> None:
    nodes = [node("node-0", "10.10.0.0/24"), node("node-1", "10.10.1.0/24")]
    orphan = IPAMBlock(name="orphan", cidr=net("10.10.0.0/26"), node="", allocated=0)
    deleted = IPAMBlock(name="gone", cidr=net("10.10.1.0/26"), node="node-0", allocated=2, deleted=True)
    borrowed = IPAMBlock(name="borrowed", cidr=net("10.10.1.64/26"), node="", allocated=1)
    result = analyse_pod_cidrs(nodes, [orphan, deleted, borrowed], [])

    assert result.node("node-0").status is NodeStatus.OK
    assert [o.block for o in result.node("node-1").overlaps] == ["borrowed"]


@pytest.mark.parametrize(
    ("pod_cidr", "block_cidr", "overlaps"),
    [
        ("10.10.4.0/24", "10.10.4.192/26", True),  # last block of the /24
        ("10.10.4.0/24", "10.10.5.0/26", False),  # first block after it
        ("10.10.4.0/24", "10.10.3.192/26", False),  # last block before it
        ("10.10.4.0/26", "10.10.0.0/16", True),  # a block wider than the podCIDR still overlaps
        ("fd00:10:4::/64", "fd00:10:4::40/122", True),  # IPv6 is compared like IPv4
        ("fd00:10:4::/64", "10.10.4.0/26", False),  # different families never overlap
    ],
)
def test_overlap_boundaries(pod_cidr: str, block_cidr: str, overlaps: bool) -> None:
    result = analyse_pod_cidrs([node("n", pod_cidr)], [block(block_cidr, "other")], [])
    assert (result.node("n").status is NodeStatus.OVERLAPPED) is overlaps


def test_dual_stack_node_reports_the_podcidr_each_block_falls_in() -> None:
    dual = node("n", "10.10.4.0/24", "fd00:10:4::/64")
    blocks = [block("10.10.4.0/26", "m"), block("fd00:10:4::/122", "m")]
    result = analyse_pod_cidrs([dual], blocks, [])
    assert sorted((str(o.cidr), str(o.pod_cidr)) for o in result.node("n").overlaps) == [
        ("10.10.4.0/26", "10.10.4.0/24"),
        ("fd00:10:4::/122", "fd00:10:4::/64"),
    ]


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        (IPPool("p", net("10.10.0.0/16"), ipip_mode="Always"), "IPIP"),
        (IPPool("p", net("10.10.0.0/16"), ipip_mode="CrossSubnet"), "IPIP"),
        (IPPool("p", net("10.10.0.0/16"), vxlan_mode="Always"), "VXLAN"),
        (IPPool("p", net("10.10.0.0/16"), vxlan_mode="CrossSubnet"), "VXLAN"),
        (IPPool("p", net("10.10.0.0/16")), "none"),
    ],
)
def test_encapsulation_comes_from_the_enabled_ippools(pool: IPPool, expected: str) -> None:
    disabled = IPPool("old", net("10.30.0.0/16"), vxlan_mode="Always", disabled=True)
    result = analyse_pod_cidrs([], [], [pool, disabled])
    assert result.encapsulation == (("p", expected),)
    assert [f.subject for f in result.findings if f.code == "calico-encapsulation"] == ["ippool/p"]


def test_snapshot_entry_point_uses_nodes_blocks_and_pools_of_the_snapshot() -> None:
    nodes, blocks = seed_cluster()
    snapshot = ClusterSnapshot(nodes=tuple(nodes), ipam_blocks=tuple(blocks), ip_pools=(POOL,))
    assert analyse_snapshot(snapshot) == analyse_pod_cidrs(nodes, blocks, [POOL])


def test_thousand_nodes_against_two_thousand_blocks_finds_exactly_the_planted_overlaps() -> None:
    # Blocks are spread over 10.20/16 and 10.21/16, with three planted inside podCIDRs: the index must
    # find those and only those (a sorted-interval search that skips one would go unnoticed otherwise).
    nodes = [node(f"n{i:04d}", f"10.{100 + i // 256}.{i % 256}.0/24") for i in range(1000)]
    blocks = [
        block(f"10.{20 + i // 1024}.{(i % 1024) // 4}.{(i % 4) * 64}/26", f"n{i % 1000:04d}") for i in range(2000)
    ]
    planted = [block("10.100.7.64/26", "n0001"), block("10.101.0.0/26", "n0002"), block("10.103.231.192/26", "n0003")]
    result = analyse_pod_cidrs(nodes, blocks + planted, [])
    assert result.overlapped == ("n0007", "n0256", "n0999")
    assert result.scenario is Scenario.DRAIN_NODES
