"""Node.report() on a real Calico node in a network namespace."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kubectl_antrea_migrate.errors import InputError
from kubectl_antrea_migrate.nodestate.model import Backend, Owner
from node_agent.node import Node
from tests.node.conftest import DATA, CalicoNode, sh

pytestmark = pytest.mark.node


def _node(calico_node: CalicoNode) -> Node:
    return Node("node-a", calico_node.host_root, calico_node.netns)


def test_report_lists_calico_and_antrea_links_only(calico_node: CalicoNode) -> None:
    report = _node(calico_node).report()

    links = {link.name: link for link in report.links}
    assert set(links) == {
        "tunl0",
        "vxlan.calico",
        "vxlan-v6.calico",
        "cali1a2b3c4d5e6",
        "cali7f8e9d0c1b2",
        "antrea-gw0",
        "antrea-tun0",
    }
    assert links["tunl0"].kind == calico_node.tunnel_kind  # "tun" where the ipip module is missing
    assert links["vxlan.calico"].kind == "vxlan" and links["cali1a2b3c4d5e6"].kind == "veth"
    assert {name for name, link in links.items() if link.owner is Owner.ANTREA} == {"antrea-gw0", "antrea-tun0"}
    assert "10.10.4.1/24" in links["antrea-gw0"].addresses
    assert links["tunl0"].addresses == ("10.10.7.0/32",)


def test_report_classifies_routes_by_owner_and_counts_the_others(calico_node: CalicoNode) -> None:
    report = _node(calico_node).report()

    calico = {(r.destination, r.device, r.type) for r in report.routes if r.owner is Owner.CALICO}
    antrea = {(r.destination, r.device) for r in report.routes if r.owner is Owner.ANTREA}
    assert calico == {
        ("10.10.4.128/26", "tunl0", "unicast"),
        ("10.10.5.0/26", "tunl0", "unicast"),
        ("10.10.6.0/26", "vxlan.calico", "unicast"),
        ("10.10.7.0/26", None, "blackhole"),
        ("10.10.7.1/32", "cali1a2b3c4d5e6", "unicast"),
        ("10.10.7.2/32", "cali7f8e9d0c1b2", "unicast"),
        ("fd00:10:6::/122", "vxlan-v6.calico", "unicast"),
        ("fd00:10:7::/122", None, "blackhole"),
        ("fd00:10:7::1/128", "cali1a2b3c4d5e6", "unicast"),
    }
    assert antrea == {("10.10.4.0/24", "antrea-gw0"), ("10.10.8.0/24", "antrea-gw0"), ("fd00:10:4::/64", "antrea-gw0")}
    bird = next(r for r in report.routes if r.destination == "10.10.4.128/26")
    assert (bird.protocol, bird.gateway, bird.onlink) == ("bird", "192.168.50.11", True)
    total = len(sh("ip", "-n", calico_node.netns, "-4", "route", "show").splitlines()) + len(
        sh("ip", "-n", calico_node.netns, "-6", "route", "show").splitlines()
    )
    assert report.other_route_count == total - len(report.routes)


def test_seed_conflict_is_reported_with_the_shadowed_range(calico_node: CalicoNode) -> None:
    """The seed's case: Calico 10.10.4.128/26 via tunl0 inside Antrea 10.10.4.0/24 on antrea-gw0."""
    report = _node(calico_node).report()

    conflicts = {(c.calico_route.destination, c.antrea_route.destination): c for c in report.route_conflicts}
    assert set(conflicts) == {("10.10.4.128/26", "10.10.4.0/24")}
    conflict = conflicts[("10.10.4.128/26", "10.10.4.0/24")]
    assert conflict.shadowed == "10.10.4.128/26"
    assert conflict.calico_route.device == "tunl0" and conflict.antrea_route.device == "antrea-gw0"
    assert "10.10.4.128/26" in conflict.reason


def test_pod_holding_the_antrea_gateway_address_is_reported(calico_node: CalicoNode) -> None:
    report = _node(calico_node).report(pod_cidrs=("10.10.7.0/24", "10.10.9.0/24"))

    assert [(c.address, c.holder) for c in report.address_conflicts] == [
        ("10.10.7.1", "route 10.10.7.1/32 dev cali1a2b3c4d5e6 (a Calico pod)")
    ]


def _expected_counts(path: Path) -> dict[str, tuple[int, int, int, int]]:
    """Per table, from the rule file itself: (cali chains, rules in them, other Calico rules, all rules)."""
    counts: dict[str, Counter[str]] = {}
    table = ""
    for line in path.read_text().splitlines():
        if line.startswith("*"):
            table = line[1:]
            counts[table] = Counter()
        elif line.startswith(":cali-"):
            counts[table]["chains"] += 1
        elif line.startswith("-A cali-"):
            counts[table]["rules"] += 1
            counts[table]["total"] += 1
        elif line.startswith("-A "):
            counts[table]["total"] += 1
            counts[table]["jumps"] += "cali" in line
    return {t: (c["chains"], c["rules"], c["jumps"], c["total"]) for t, c in counts.items()}


def test_report_counts_calico_netfilter_objects_per_backend_and_table(calico_node: CalicoNode) -> None:
    report = _node(calico_node).report()

    expected = _expected_counts(DATA / "node-iptables.rules")
    expected |= {f"ip6:{t}": v for t, v in _expected_counts(DATA / "node-ip6tables.rules").items()}
    assert [s.backend for s in report.netfilter] == [Backend.LEGACY, Backend.NFT]
    for summary in report.netfilter:
        assert summary.available and summary.has_calico and summary.error == ""
        got = {t.table: (t.calico_chains, t.calico_rules, t.jump_rules, t.total_rules) for t in summary.tables}
        assert got == expected, summary.backend


def test_report_lists_calico_ipsets_only(calico_node: CalicoNode) -> None:
    report = _node(calico_node).report()

    assert report.calico_ipsets == (
        "cali40all-hosts-net",
        "cali40all-ipam-pools",
        "cali40all-vxlan-net",
        "cali40masq-ipam-pools",
        "cali40s:zVKJ8Lb4ldVpG-0v1bJ2tSz",
        "cali60all-ipam-pools",
        "cali60all-vxlan-net",
        "cali60masq-ipam-pools",
    )


def test_report_reads_the_cni_dir_under_host_root(calico_node: CalicoNode) -> None:
    report = _node(calico_node).report()

    assert [c.file for c in report.cni.confs] == ["10-antrea.conflist", "10-calico.conflist"]
    assert report.cni.active == "10-antrea.conflist"
    assert report.cni.other_files == ("calico-kubeconfig",)


def test_bad_pod_cidr_is_an_input_error_naming_the_field(calico_node: CalicoNode) -> None:
    with pytest.raises(InputError) as caught:
        _node(calico_node).report(pod_cidrs=("10.10.7.0/24", "10.10.7.5/24"))

    assert "Node node-a: spec.podCIDRs[1]" in str(caught.value)
    assert "10.10.7.5/24" in str(caught.value)
