"""The nft backend's netlink path on a real Calico node: read by handle, one guarded transaction."""

from __future__ import annotations

import socket

import pytest

from kubectl_antrea_migrate.nodestate.model import Backend, Result
from node_agent._nftables import FlushChain, NftSocket
from node_agent.netfilter import Family, Netfilter, parse_save
from tests.node.conftest import CalicoNode, all_dumps, in_ns, is_calico_line

pytestmark = pytest.mark.node

FOREIGN_RULE = (
    "-A",
    "FORWARD",
    "-s",
    "192.0.2.7/32",
    "-m",
    "comment",
    "--comment",
    "added after the scan",
    "-j",
    "DROP",
)


def test_netlink_read_equals_the_save_dump_and_keeps_rule_handles(calico_node: CalicoNode) -> None:
    """What the report and the plan see over netlink is exactly what iptables-nft-save shows."""
    scan = Netfilter(Backend.NFT, calico_node.netns).scan()

    expected = parse_save(in_ns(calico_node.netns, "iptables-nft-save"), Family.IPV4) + parse_save(
        in_ns(calico_node.netns, "ip6tables-nft-save"), Family.IPV6
    )
    got = [(d.family, d.table, d.total_rules, d.calico_chains, d.jump_rules) for d in scan.tables]
    assert got == [(d.family, d.table, d.total_rules, d.calico_chains, d.jump_rules) for d in expected]
    jumps = [rule for dump in scan.tables for rule in dump.jump_rules]
    assert jumps and all(rule.handle > 0 for rule in jumps), "rules carry their nf_tables handle"
    assert len({rule.handle for dump in scan.tables if dump.table == "filter" for rule in dump.jump_rules}) == len(
        [rule for dump in scan.tables if dump.table == "filter" for rule in dump.jump_rules]
    )
    assert {dump.generation for dump in scan.tables} != {0}


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_reading_chain_by_chain_equals_reading_whole_tables(calico_node: CalicoNode, family: int) -> None:
    """Big tables are dumped per chain, small ones at once: both ways must see the same rules."""
    tables = frozenset({"mangle", "raw", "filter", "nat"})
    with NftSocket(calico_node.netns) as sock:
        whole = sock.read(family, tables, whole_table_up_to=1_000_000)
        per_chain = sock.read(family, tables, whole_table_up_to=-1)

    assert whole.generation == per_chain.generation
    assert whole.tables == per_chain.tables
    assert sum(len(rules.handles) for chains in whole.tables.values() for rules in chains.values()) > 20
    assert whole.tables["filter"]["FORWARD"].mentions_cali


def test_apply_after_an_unrelated_change_removes_calico_only(calico_node: CalicoNode) -> None:
    """A rule added between scan and apply (kube-proxy at work) survives; Calico still goes entirely."""
    ns = calico_node.netns
    netfilter = Netfilter(Backend.NFT, ns)
    actions = Netfilter.plan(netfilter.scan())
    in_ns(ns, "iptables-nft", *FOREIGN_RULE)
    before = all_dumps(ns)

    outcomes = netfilter.apply(actions)

    assert {o.result for o in outcomes} == {Result.DONE}
    after = all_dumps(ns)
    for key in (("nft", 4), ("nft", 6)):
        assert after[key] == [line for line in before[key] if not is_calico_line(line)], key
    assert '-A FORWARD -s 192.0.2.7/32 -m comment --comment "added after the scan" -j DROP' in after[("nft", 4)]
    assert after[("legacy", 4)] == before[("legacy", 4)], "the other backend is not touched"


def test_a_batch_planned_at_an_older_generation_is_refused_whole(calico_node: CalicoNode) -> None:
    ns = calico_node.netns
    batch = [FlushChain(socket.AF_INET, "filter", "cali-FORWARD")]
    with NftSocket(ns) as sock:
        planned_at = sock.generation()
        in_ns(ns, "iptables-nft", *FOREIGN_RULE)
        before = all_dumps(ns)

        refused = sock.apply(batch, generation=planned_at)
        assert refused.startswith("nf_tables: ")
        assert all_dumps(ns) == before

        assert sock.apply(batch, generation=sock.generation()) == ""
    flushed = all_dumps(ns)[("nft", 4)]
    assert [line for line in flushed if line.startswith("-A cali-FORWARD ")] == []
    assert ":cali-FORWARD -" in flushed, "flushed, not deleted"
