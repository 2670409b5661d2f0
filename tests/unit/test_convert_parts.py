"""The converter's building blocks: port ranges, ICMP complements, CIDR algebra, names, tier layout.

These pin the edge cases the golden files cannot reach through the loader (port 0, the full port
range, enumerated notICMP complements) and the invariants the engine relies on (names unique and
stable, tier priorities increasing and never reserved).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubectl_antrea_migrate.antrea.model import ICMPSpec, PortSpec
from kubectl_antrea_migrate.calico.load import load_objects
from kubectl_antrea_migrate.calico.model import (
    DEFAULT_TIER,
    Action,
    Direction,
    EntityRule,
    ICMPMatch,
    NamedPort,
    Policy,
    PolicyKind,
    PortRange,
    Rule,
    Tier,
)
from kubectl_antrea_migrate.calico.selector.ast import ALL
from kubectl_antrea_migrate.convert import convert
from kubectl_antrea_migrate.convert.cidrs import intersect, ip_blocks
from kubectl_antrea_migrate.convert.names import MAX_NAME, allocate_names, candidate_name
from kubectl_antrea_migrate.convert.ports import icmp_specs, port_specs
from kubectl_antrea_migrate.convert.result import ConvertOptions, Fidelity
from kubectl_antrea_migrate.convert.tiers import FIXED_TIERS, plan_tiers, policy_order_key
from kubectl_antrea_migrate.errors import Location
from kubectl_antrea_migrate.kube.model import IPBlock


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def tcp_rule(ports: tuple[object, ...] = (), not_ports: tuple[object, ...] = (), src: tuple[object, ...] = ()) -> Rule:
    return Rule(
        action=Action.ALLOW,
        protocol=6,
        destination=EntityRule(ports=ports, not_ports=not_ports),  # type: ignore[arg-type]
        source=EntityRule(ports=src),  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------------------- ports


def test_full_port_range_is_all_ports() -> None:
    assert port_specs(tcp_rule((PortRange(0, 65535),)), 6).ports == (PortSpec("TCP"),)


def test_a_lone_port_zero_is_refused_but_a_range_from_zero_is_kept() -> None:
    assert port_specs(tcp_rule((PortRange(0, 0),)), 6).problems
    assert port_specs(tcp_rule(not_ports=(PortRange(1, 65535),)), 6).problems
    assert port_specs(tcp_rule((PortRange(0, 10),)), 6).ports == (PortSpec("TCP", 0, 10),)


def test_not_ports_cut_holes_and_fully_covered_ports_never_match() -> None:
    match = port_specs(tcp_rule((PortRange(1, 100),), (PortRange(50, 60), PortRange(1, 1))), 6)
    assert [(p.port, p.end_port) for p in match.ports] == [(2, 49), (61, 100)]
    assert port_specs(tcp_rule((PortRange(80, 80),), (PortRange(1, 1000),)), 6).never


def test_named_ports_without_protocol_cover_every_port_protocol() -> None:
    rule = Rule(action=Action.ALLOW, destination=EntityRule(ports=(NamedPort("http"),)))
    assert port_specs(rule, None).ports == tuple(PortSpec(p, "http") for p in ("TCP", "UDP", "SCTP"))


def test_invalid_container_port_names_can_never_match() -> None:
    # Kubernetes container port names are IANA_SVC_NAMEs (<= 15 chars): a longer name matches no pod.
    assert port_specs(tcp_rule((NamedPort("no-such-very-long-port-name"),)), 6).never


def test_named_not_ports_and_named_source_ports_are_refused() -> None:
    assert port_specs(tcp_rule(not_ports=(NamedPort("http"),)), 6).problems
    assert port_specs(tcp_rule(src=(NamedPort("http"),)), 6).problems


def test_source_ports_multiply_with_destination_ports() -> None:
    match = port_specs(tcp_rule((PortRange(80, 80), PortRange(443, 443)), src=(PortRange(1024, 2047),)), 6)
    assert match.ports == (PortSpec("TCP", 80, None, 1024, 2047), PortSpec("TCP", 443, None, 1024, 2047))


@given(
    st.lists(st.tuples(st.integers(1, 300), st.integers(0, 30)), max_size=4),
    st.lists(st.tuples(st.integers(1, 300), st.integers(0, 30)), max_size=4),
    st.integers(1, 330),
)
def test_port_ranges_match_exactly_the_calico_port_set(
    pos: list[tuple[int, int]], neg: list[tuple[int, int]], probe: int
) -> None:
    ports = tuple(PortRange(a, a + w) for a, w in pos)
    not_ports = tuple(PortRange(a, a + w) for a, w in neg)
    calico = (not ports or any(p.first <= probe <= p.last for p in ports)) and not any(
        p.first <= probe <= p.last for p in not_ports
    )
    match = port_specs(tcp_rule(ports, not_ports), 6)
    if match.problems:
        # Only refused when port 0 is left over alone (Antrea reads port 0 as "all ports").
        assert not ports and not any(p.first == 0 for p in not_ports)
        return
    antrea = not match.never and any(
        s.port is None or (s.port == probe if s.end_port is None else s.port <= probe <= s.end_port)  # type: ignore[operator]
        for s in match.ports
    )
    assert antrea == calico


# ----------------------------------------------------------------------------------------- ICMP


def test_not_icmp_type_enumerates_every_other_type() -> None:
    specs = icmp_specs(None, ICMPMatch(type=8)).protocols
    assert len(specs) == 255 and ICMPSpec(8) not in specs and ICMPSpec(0) in specs and ICMPSpec(255) in specs


def test_not_icmp_type_and_code_keeps_the_type_with_other_codes() -> None:
    specs = icmp_specs(None, ICMPMatch(type=3, code=4)).protocols
    assert ICMPSpec(3, 4) not in specs and ICMPSpec(3, 3) in specs and ICMPSpec(4) in specs
    assert ICMPSpec(3) not in specs  # type 3 alone would include code 4
    assert len(specs) == 255 + 255


def test_icmp_minus_same_type_never_matches() -> None:
    assert icmp_specs(ICMPMatch(type=8), ICMPMatch(type=8)).never
    assert icmp_specs(ICMPMatch(type=8, code=0), ICMPMatch(type=8, code=0)).never
    assert icmp_specs(ICMPMatch(type=8, code=1), ICMPMatch(type=8, code=0)).protocols == (ICMPSpec(8, 1),)


# ---------------------------------------------------------------------------------------- CIDRs


def test_nets_minus_not_nets_nest_one_level() -> None:
    blocks = ip_blocks(
        (net("10.0.0.0/8"), net("192.168.1.0/24")),
        (net("10.1.0.0/16"), net("10.1.2.0/24"), net("192.168.0.0/16"), net("fd00::/8")),
    )
    assert blocks == (IPBlock("10.0.0.0/8", ("10.1.0.0/16",)),)


def test_intersection_keeps_the_smaller_of_nested_cidrs() -> None:
    got = intersect((net("10.0.0.0/8"), net("172.16.0.0/12")), (net("10.2.0.0/16"), net("192.168.0.0/16")))
    assert got == (net("10.2.0.0/16"),)


@given(st.lists(st.integers(0, 255), max_size=3), st.lists(st.integers(0, 255), max_size=3), st.integers(0, 2**16 - 1))
def test_ip_blocks_match_exactly_nets_minus_not_nets(inc: list[int], exc: list[int], probe: int) -> None:
    include = tuple(net(f"10.{i}.0.0/16") if i % 2 else net("10.0.0.0/8") for i in inc)
    exclude = tuple(net(f"10.{i}.{i}.0/24") if i % 3 else net(f"10.{i}.0.0/16") for i in exc)
    ip = ipaddress.ip_address(f"10.{probe >> 8}.{probe & 255}.1")
    calico = any(ip in n for n in include) and not any(ip in n for n in exclude)
    antrea = any(ip in net(b.cidr) and not any(ip in net(e) for e in b.except_) for b in ip_blocks(include, exclude))
    assert antrea == calico


# ---------------------------------------------------------------------------------------- names


def test_names_are_readable_dns_labels_hashed_only_when_needed() -> None:
    assert candidate_name("calico-np", "prod", "allow.web_1") == "calico-np-prod-allow-web-1"
    long = candidate_name("calico-gnp", "x" * 100)
    assert len(long) <= MAX_NAME and long == candidate_name("calico-gnp", "x" * 100)


def test_colliding_names_get_distinct_stable_suffixes() -> None:
    names = allocate_names({"gnp/a.b": "calico-gnp-a-b", "gnp/a-b": "calico-gnp-a-b", "gnp/c": "calico-gnp-c"})
    assert names["gnp/c"] == "calico-gnp-c"
    assert names["gnp/a.b"] != names["gnp/a-b"] and all(
        n.startswith("calico-gnp-a-b-") for k, n in names.items() if k != "gnp/c"
    )
    assert allocate_names({"gnp/a-b": "calico-gnp-a-b", "gnp/a.b": "calico-gnp-a-b"}) == {
        k: v for k, v in names.items() if k != "gnp/c"
    }


# ---------------------------------------------------------------------------------------- tiers


def test_tier_priorities_increase_and_avoid_static_and_reserved_values() -> None:
    tiers = (*(Tier(f"t{i}", float(i)) for i in range(14)), FIXED_TIERS[DEFAULT_TIER])
    slots, problem = plan_tiers(tiers, layout_b=False)
    priorities = [s.priority for s in slots if s.priority is not None]
    assert not problem and len(priorities) == 14
    assert priorities == sorted(priorities) and len(set(priorities)) == 14
    assert not set(priorities) & {50, 100, 150, 200, 220, 250, 251, 252, 253, 254, 255}
    assert all(1 <= p <= 249 for p in priorities)


def test_more_than_fourteen_custom_tiers_is_reported() -> None:
    tiers = (*(Tier(f"t{i:02}", float(i)) for i in range(15)), FIXED_TIERS[DEFAULT_TIER])
    assert plan_tiers(tiers, layout_b=False)[1]


def test_post_default_tiers_go_to_baseline_and_default_is_native_in_layout_a() -> None:
    tiers = (Tier("late", None), FIXED_TIERS[DEFAULT_TIER], Tier("early", 5.0))
    slots, _ = plan_tiers(tiers, layout_b=False)
    assert [(s.calico.name, s.antrea_tier, s.native) for s in slots] == [
        ("early", "calico-early", False),
        ("default", "", True),
        ("late", "baseline", False),
    ]
    slots_b, _ = plan_tiers(tiers, layout_b=True)
    assert [s.antrea_tier for s in slots_b] == ["calico-early", "calico-default", "baseline"]


def _gnp(name: str, order: float | None, namespace: str | None = None) -> Policy:
    kind = PolicyKind.NETWORK_POLICY if namespace else PolicyKind.GLOBAL_NETWORK_POLICY
    return Policy(kind, name, namespace, "default", order, ALL, frozenset({Direction.INGRESS}))


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        # v3.32 compares "<name>/<namespace>/<kind>": "b/" < "z/a-ns/...".
        ("3.32", ["b", "z@a-ns"]),
        # <=3.31 compares "default.<name>" for GNPs and "<ns>/default.<name>" for NPs: "a-ns/..." < "default.b".
        ("3.28", ["z@a-ns", "b"]),
    ],
)
def test_equal_orders_follow_the_version_specific_tie_key(version: str, expected: list[str]) -> None:
    policies = [_gnp("b", 5.0), _gnp("z", 5.0, "a-ns")]
    ordered = sorted(policies, key=lambda p: policy_order_key(p, version))
    assert [p.name + (f"@{p.namespace}" if p.namespace else "") for p in ordered] == expected


def test_nil_order_sorts_after_every_order() -> None:
    policies = [_gnp("a", None), _gnp("z", 1e9)]
    assert [p.name for p in sorted(policies, key=lambda p: policy_order_key(p, "3.32"))] == ["z", "a"]


# ------------------------------------------------------------------------------- Antrea limits


def _tiered_gnp(name: str, tier: str, rules: int, order: float) -> dict[str, Any]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": f"{tier}.{name}"},
        "spec": {
            "tier": tier,
            "order": order,
            "selector": f"app == '{name}'",
            "types": ["Ingress"],
            "ingress": [
                {"action": "Allow", "protocol": "TCP", "destination": {"ports": [1000 + i]}} for i in range(rules)
            ],
        },
    }


def test_baseline_rule_limit_refuses_the_policy_that_overflows_it() -> None:
    """Post-default tiers share Antrea's baseline tier, which has only 150 rule-level priorities."""
    docs: list[dict[str, Any]] = [
        {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "late"}, "spec": {"order": 2e6}},
        _tiered_gnp("a", "late", 100, 1),
        _tiered_gnp("b", "late", 60, 2),
    ]
    result = convert(load_objects([(d, Location()) for d in docs]), ConvertOptions(partial=True))
    fidelity = {r.name: r.fidelity for r in result.reports}
    assert fidelity["late.a"] is Fidelity.EXACT and fidelity["late.b"] is Fidelity.UNSUPPORTED
    rules = sum(len(p.ingress) + len(p.egress) for p in result.objects.policies if p.tier == "baseline")
    assert rules <= 150
