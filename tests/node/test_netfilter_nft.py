"""The nft backend's netlink path on a real Calico node: read by handle, one guarded transaction."""

from __future__ import annotations

import socket

import pytest

from kubectl_antrea_migrate.nodestate.model import Backend, Result
from node_agent import _nftables
from node_agent._nftables import FlushChain, NftSocket
from node_agent.netfilter import Family, Netfilter, RemoveChain, parse_save
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


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_a_read_that_skips_calico_chains_sees_every_other_rule(calico_node: CalicoNode, family: int) -> None:
    """The cleanup's read lists cali-* chains without dumping their rules; every other chain is as read fully."""
    tables = frozenset({"mangle", "raw", "filter", "nat"})
    with NftSocket(calico_node.netns) as sock:
        full = sock.read(family, tables, whole_table_up_to=-1)
        cheap = sock.read(family, tables, whole_table_up_to=-1, skip_prefix="cali-")

    assert cheap.generation == full.generation
    assert {t: list(chains) for t, chains in cheap.tables.items()} == {t: list(c) for t, c in full.tables.items()}
    for table, chains in cheap.tables.items():
        for chain, rules in chains.items():
            if chain.startswith("cali-"):
                assert (rules.dumped, rules.handles) == (False, []), (table, chain)
            else:
                assert rules == full.tables[table][chain], (table, chain)
    assert any(r.handles for c, r in full.tables["filter"].items() if c.startswith("cali-")), "the fixture has some"


@pytest.fixture
def per_chain_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dump every table chain by chain, as on a big node (the fixture's tables are small enough to go whole).

    Patched rather than loading 4,000+ rules: the threshold only picks between two dump shapes.
    """
    monkeypatch.setattr(_nftables, "_WHOLE_TABLE_DUMP", -1)


@pytest.mark.usefixtures("per_chain_reads")
def test_cleanup_scan_plans_the_same_objects_without_reading_calico_chains(calico_node: CalicoNode) -> None:
    """scan(counts=False) finds the same jumps and chains; chains go whole, their outcome names no count."""
    ns = calico_node.netns
    netfilter = Netfilter(Backend.NFT, ns)
    full = Netfilter.plan(netfilter.scan())
    cheap = Netfilter.plan(netfilter.scan(counts=False))
    before = all_dumps(ns)

    assert [a.describe() for a in cheap] == [a.describe() for a in full]
    assert [a.rules for a in cheap if isinstance(a, RemoveChain)] == [None] * sum(
        isinstance(a, RemoveChain) for a in full
    )
    outcomes = netfilter.apply(cheap)

    assert {o.result for o in outcomes} == {Result.DONE}
    assert {o.detail for o in outcomes if o.action == "flush+delete"} == {"flushed and deleted"}
    after = all_dumps(ns)
    for key in (("nft", 4), ("nft", 6)):
        assert after[key] == [line for line in before[key] if not is_calico_line(line)], key
    assert Netfilter.plan(netfilter.scan(counts=False)) == (), "a second run finds nothing"


@pytest.mark.usefixtures("per_chain_reads")
def test_stale_cleanup_scan_falls_back_per_table_and_reports_the_vanished_rule_absent(calico_node: CalicoNode) -> None:
    """A change after the cheap scan makes the kernel refuse the batch; the per-table path finishes the job."""
    ns = calico_node.netns
    netfilter = Netfilter(Backend.NFT, ns)
    actions = Netfilter.plan(netfilter.scan(counts=False))
    in_ns(
        ns, "iptables-nft", "-D", "FORWARD", "-m", "comment", "--comment", "cali:wUHhoiAYhphO9Mso", "-j", "cali-FORWARD"
    )

    outcomes = netfilter.apply(actions)

    assert [o.object for o in outcomes if o.result is Result.ABSENT] == [
        "rule='-A FORWARD -m comment --comment \"cali:wUHhoiAYhphO9Mso\" -j cali-FORWARD' table=filter backend=nft"
    ]
    assert {o.result for o in outcomes} == {Result.DONE, Result.ABSENT}
    assert not any(is_calico_line(line) for key in (("nft", 4), ("nft", 6)) for line in all_dumps(ns)[key])
