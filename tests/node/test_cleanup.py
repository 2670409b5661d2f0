"""CleanupCalico on a real Calico node in a network namespace: everything Calico goes, nothing else moves."""

from __future__ import annotations

import pytest

from kubectl_antrea_migrate.nodestate.model import Result
from node_agent.node import Node
from tests.node.conftest import CalicoNode, all_dumps, ipset_names, is_calico_line, link_names, routes

pytestmark = pytest.mark.node

CALICO_LINKS = {"tunl0", "vxlan.calico", "vxlan-v6.calico", "cali1a2b3c4d5e6", "cali7f8e9d0c1b2"}
CALICO_ROUTE_MARKERS = ("proto bird", "proto 80", "dev tunl0", "dev vxlan", "dev cali")


def _is_calico_route(line: str) -> bool:
    return any(marker in line for marker in CALICO_ROUTE_MARKERS)


def _node(calico_node: CalicoNode) -> Node:
    return Node("node-a", calico_node.host_root, calico_node.netns)


def test_cleanup_removes_every_calico_object_and_keeps_the_rest_byte_identical(calico_node: CalicoNode) -> None:
    ns = calico_node.netns
    dumps_before = all_dumps(ns)
    routes_before = routes(ns)
    links_before = link_names(ns)
    assert set(links_before) >= CALICO_LINKS
    assert all(any(is_calico_line(line) for line in dump) for dump in dumps_before.values())

    outcomes = _node(calico_node).cleanup_calico(dry_run=False)

    assert [o for o in outcomes if o.result is not Result.DONE] == []
    dumps_after = all_dumps(ns)
    for key, before in dumps_before.items():
        after = dumps_after[key]
        assert [line for line in after if is_calico_line(line)] == [], key
        assert after == [line for line in before if not is_calico_line(line)], key
    assert ipset_names(ns) == ["ANTREA-POD-IP"]
    assert routes(ns) == [line for line in routes_before if not _is_calico_route(line)]
    assert link_names(ns) == sorted(set(links_before) - CALICO_LINKS)
    conf_dir = calico_node.conf_dir
    assert sorted(p.name for p in conf_dir.iterdir()) == ["10-antrea.conflist"]
    backup = calico_node.host_root / "var/lib/antrea-migrate/backup"
    assert sorted(p.name for p in backup.iterdir()) == ["10-calico.conflist", "calico-kubeconfig"]


def test_cleanup_follows_the_documented_order(calico_node: CalicoNode) -> None:
    outcomes = _node(calico_node).cleanup_calico(dry_run=False)
    subsystems = [o.subsystem for o in outcomes]
    order = ["netfilter", "ipsets", "routes", "links", "cni"]
    assert sorted(subsystems, key=order.index) == subsystems
    for backend in ("legacy", "nft"):
        mine = [o for o in outcomes if o.subsystem == "netfilter" and f"backend={backend}" in o.object]
        kinds = [o.object.split("=", 1)[0] for o in mine]
        assert kinds == sorted(kinds, key=["rule", "chain"].index), "jump rules before chains"
        assert "table=ip6:filter" in " ".join(o.object for o in mine)


def test_second_cleanup_reports_everything_absent(calico_node: CalicoNode) -> None:
    node = _node(calico_node)
    node.cleanup_calico(dry_run=False)
    dumps = all_dumps(calico_node.netns)

    second = node.cleanup_calico(dry_run=False)

    assert {o.result for o in second} == {Result.ABSENT}
    assert {o.subsystem for o in second} == {"netfilter", "ipsets", "routes", "links", "cni"}
    assert all_dumps(calico_node.netns) == dumps


def test_dry_run_changes_nothing_and_lists_exactly_what_cleanup_does(calico_node: CalicoNode) -> None:
    ns = calico_node.netns
    node = _node(calico_node)
    before = (all_dumps(ns), routes(ns), link_names(ns), ipset_names(ns))
    conf_before = sorted(p.name for p in calico_node.conf_dir.iterdir())

    planned = node.cleanup_calico(dry_run=True)

    assert {o.result for o in planned} == {Result.PLANNED}
    assert (all_dumps(ns), routes(ns), link_names(ns), ipset_names(ns)) == before
    assert sorted(p.name for p in calico_node.conf_dir.iterdir()) == conf_before
    done = node.cleanup_calico(dry_run=False)
    assert [(o.subsystem, o.object, o.action) for o in planned] == [(o.subsystem, o.object, o.action) for o in done]


def test_apply_of_a_stale_plan_reports_vanished_objects_absent(calico_node: CalicoNode) -> None:
    """A plan applied after someone else removed part of it: those objects are ABSENT, the rest DONE."""
    from node_agent.netfilter import Netfilter
    from tests.node.conftest import in_ns

    netfilter = _node(calico_node).netfilters[1]
    actions = Netfilter.plan(netfilter.scan())
    in_ns(
        calico_node.netns,
        "iptables-nft",
        "-t",
        "nat",
        "-D",
        "POSTROUTING",
        "-m",
        "comment",
        "--comment",
        "cali:O3lYWMrLQYEMJtB5",
        "-j",
        "cali-POSTROUTING",
    )

    outcomes = netfilter.apply(actions)

    absent = [o.object for o in outcomes if o.result is Result.ABSENT]
    assert absent == [
        "rule='-A POSTROUTING -m comment --comment \"cali:O3lYWMrLQYEMJtB5\" -j cali-POSTROUTING' table=nat backend=nft"
    ]
    assert {o.result for o in outcomes} == {Result.DONE, Result.ABSENT}
    assert not any(is_calico_line(line) for line in all_dumps(calico_node.netns)[("nft", 4)])


def test_ipset_still_referenced_by_a_foreign_rule_is_reported_failed_not_forced(calico_node: CalicoNode) -> None:
    from tests.node.conftest import in_ns

    in_ns(
        calico_node.netns,
        "iptables-legacy",
        "-A",
        "FORWARD",
        "-m",
        "set",
        "--match-set",
        "cali40all-ipam-pools",
        "src",
        "-j",
        "ACCEPT",
    )

    outcomes = _node(calico_node).cleanup_calico(dry_run=False)

    failed = [o for o in outcomes if o.result is Result.FAILED]
    assert [o.object for o in failed] == ["ipset=cali40all-ipam-pools"]
    assert "in use" in failed[0].detail
    assert "cali40all-ipam-pools" in ipset_names(calico_node.netns)


def test_link_and_route_actions_applied_twice_are_absent_the_second_time(calico_node: CalicoNode) -> None:
    from node_agent.links import Links

    links = Links(calico_node.netns)
    actions = Links.plan(links.scan())

    first = links.apply(actions)
    second = links.apply(actions)

    assert {o.result for o in first} == {Result.DONE}
    assert {(o.result, o.detail) for o in second} == {(Result.ABSENT, "no such route"), (Result.ABSENT, "no such link")}
    assert [o.object for o in first] == [o.object for o in second]
