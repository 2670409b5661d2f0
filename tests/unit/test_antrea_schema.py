"""Every object the converter emits validates against the real Antrea CRD schema, and conversion is deterministic.

Sources of objects: the golden cases, every loadable file of the public corpus, and random policies
(hypothesis). The validator is strict (unknown fields rejected, enums, ranges, CIDR format), so the
seed tool's ``unknown field "spec.ingress[0].to"`` cannot come back unnoticed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_antrea_migrate.antrea.model import AntreaObjects
from kubectl_antrea_migrate.antrea.render import render
from kubectl_antrea_migrate.calico.load import load_objects, load_paths
from kubectl_antrea_migrate.convert import convert
from kubectl_antrea_migrate.convert.result import ConvertOptions, DenyAction, Fidelity, NamespacedAs
from kubectl_antrea_migrate.errors import InputError, Location
from tests.unit._antrea_crds import assert_valid, schema_errors
from tests.unit.test_convert_corpus import CORPUS, corpus_files
from tests.unit.test_convert_golden import CASES, run_case

OPTION_SETS = (
    ConvertOptions(partial=True),
    ConvertOptions(partial=True, namespaced_as=NamespacedAs.ACNP, ip_families=frozenset({4, 6})),
    ConvertOptions(partial=True, deny_action=DenyAction.REJECT, ip_families=frozenset({6}), calico_version="3.28"),
)


def _policy(kind: str = "ClusterNetworkPolicy", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "crd.antrea.io/v1beta1", "kind": kind, "metadata": {"name": "p"}, "spec": spec}


def test_validator_rejects_unknown_fields_bad_enums_and_ranges() -> None:
    """The checker itself must be able to fail, or the tests below prove nothing."""
    seed_bug = _policy(priority=1, ingress=[{"action": "Allow", "to": [{"podSelector": {}}]}])
    assert any("'to' was unexpected" in e for e in schema_errors(seed_bug))
    assert schema_errors(_policy(priority=1, ingress=[{"action": "Deny"}]))
    assert schema_errors(_policy(priority=0.5))
    assert schema_errors(_policy(priority=1, egress=[{"action": "Drop", "to": [{"ipBlock": {"cidr": "10.0.0.1/8"}}]}]))
    assert schema_errors(_policy(priority=1, ingress=[{"action": "Allow", "ports": [{"protocol": "ICMP"}]}]))
    assert not schema_errors(_policy(priority=1, ingress=[{"action": "Allow", "from": [{"podSelector": {}}]}]))


def _check(objects: AntreaObjects) -> None:
    manifests = render(objects)
    assert_valid(manifests)
    names = Counter((m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]) for m in manifests)
    assert all(n == 1 for n in names.values()), names
    priorities = Counter((p.tier, p.priority) for p in objects.policies)
    assert all(n == 1 for n in priorities.values()), f"shared priority: {priorities}"
    assert len({t.priority for t in objects.tiers}) == len(objects.tiers)
    for policy in objects.policies:
        rule_names = [r.name for r in policy.ingress + policy.egress]
        assert len(rule_names) == len(set(rule_names)), policy.name
        rule_level = [bool(r.applied_to) for r in policy.ingress + policy.egress]
        # appliedTo is either on the policy or on every rule, never both (Antrea validation).
        assert (bool(policy.applied_to) and not any(rule_level)) or (not policy.applied_to and all(rule_level))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_outputs_are_schema_valid(path: Path) -> None:
    _check(run_case(yaml.safe_load(path.read_text())).objects)


def test_corpus_outputs_are_schema_valid_under_every_option_set() -> None:
    checked = 0
    for name in corpus_files():
        try:
            inventory = load_paths([str(CORPUS / name)])
        except InputError:
            continue
        for options in OPTION_SETS:
            result = convert(inventory, options)
            _check(result.objects)
            checked += len(render(result.objects))
    assert checked > 100


# ------------------------------------------------------------------------------------------ random

KEYS = ("app", "role", "env", "tier")
VALUES = ("a", "b", "web", "db")


def _set(values: set[str]) -> str:
    return "{" + ", ".join(repr(v) for v in sorted(values)) + "}"


def _atom() -> st.SearchStrategy[str]:
    key = st.sampled_from(KEYS)
    value = st.sampled_from(VALUES)
    return st.one_of(
        st.builds(lambda k, v: f"{k} == '{v}'", key, value),
        st.builds(lambda k, v: f"{k} != '{v}'", key, value),
        st.builds(lambda k: f"has({k})", key),
        st.builds(lambda k: f"!has({k})", key),
        st.builds(lambda k, vs: f"{k} in {_set(vs)}", key, st.sets(value, max_size=2)),
        st.builds(lambda k, vs: f"{k} not in {_set(vs)}", key, st.sets(value, max_size=2)),
        st.just("all()"),
        st.builds(lambda k, v: f"{k} contains '{v}'", key, value),
    )


selectors = st.recursive(
    _atom(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) && ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) || ({b})", inner, inner),
        st.builds(lambda a: f"!({a})", inner),
    ),
    max_leaves=4,
)

nets = st.lists(st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "192.168.0.0/16", "10.1.2.3"]), max_size=2, unique=True)


@st.composite
def entity(draw: st.DrawFn, with_ports: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["selector"] = draw(selectors)
    if draw(st.integers(0, 4)) == 0:
        out["notSelector"] = draw(selectors)
    if draw(st.integers(0, 3)) == 0:
        out["namespaceSelector"] = draw(st.sampled_from(["env == 'prod'", "all()", "global()"]))
    if draw(st.integers(0, 3)) == 0:
        out["nets"] = draw(nets)
    if draw(st.integers(0, 4)) == 0:
        out["notNets"] = draw(nets)
    if draw(st.integers(0, 5)) == 0:
        out["serviceAccounts"] = {"names": draw(st.lists(st.sampled_from(["api", "web"]), min_size=1, unique=True))}
    if with_ports and draw(st.booleans()):
        port = st.sampled_from([80, 443, "1000:2000", "8000:8100", "http"])
        out["ports"] = draw(st.lists(port, min_size=1, max_size=3))
    if with_ports and draw(st.integers(0, 3)) == 0:
        out["notPorts"] = draw(st.lists(st.sampled_from([22, 1500, "1:100"]), min_size=1, max_size=2))
    return {k: v for k, v in out.items() if v != []}


@st.composite
def rule(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"action": draw(st.sampled_from(["Allow", "Deny", "Log", "Pass"]))}
    protocol = draw(st.sampled_from([None, "TCP", "UDP", "SCTP", "ICMP", "ICMPv6", 132, "UDPLite"]))
    ported = protocol in ("TCP", "UDP", "SCTP", 132)
    if protocol is not None:
        out["protocol"] = protocol
    if protocol in ("ICMP", "ICMPv6") and draw(st.booleans()):
        out["icmp"] = {"type": draw(st.integers(0, 20))}
    if ported and draw(st.integers(0, 4)) == 0:
        out["notProtocol"] = draw(st.sampled_from(["TCP", "UDP"]))
    source = draw(entity(with_ports=ported))
    destination = draw(entity(with_ports=ported))
    if source:
        out["source"] = source
    if destination:
        out["destination"] = destination
    return out


@st.composite
def kubernetes_policy(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """A networking.k8s.io/v1 NetworkPolicy (Layout A leaves it native, Layout B translates it)."""
    label = st.fixed_dictionaries({draw(st.sampled_from(KEYS)): st.sampled_from(VALUES)})
    peer = st.one_of(
        st.builds(lambda m: {"podSelector": {"matchLabels": m}}, label),
        st.builds(lambda m: {"namespaceSelector": {"matchLabels": m}}, label),
        st.just({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}),
    )
    rule = st.fixed_dictionaries(
        {},
        optional={
            "from": st.lists(peer, min_size=1, max_size=2),
            "ports": st.just([{"protocol": "TCP", "port": 80}]),
        },
    )
    spec: dict[str, Any] = {"podSelector": {"matchLabels": draw(label)}, "policyTypes": ["Ingress"]}
    spec["ingress"] = draw(st.lists(rule, max_size=2))
    namespace = draw(st.sampled_from(["prod", "dev"]))
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"k{index}", "namespace": namespace},
        "spec": spec,
    }


@st.composite
def documents(draw: st.DrawFn) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "early"}, "spec": {"order": 10}},
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "Tier",
            "metadata": {"name": "late"},
            "spec": {"order": 2e6, "defaultAction": "Pass"},
        },
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "GlobalNetworkSet",
            "metadata": {"name": "gns", "labels": {"role": "web"}},
            "spec": {"nets": ["192.0.2.0/24"]},
        },
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "NetworkSet",
            "metadata": {"name": "ns", "namespace": "prod", "labels": {"app": "db"}},
            "spec": {"nets": ["198.51.100.0/24"]},
        },
    ]
    for i in range(draw(st.integers(0, 2))):
        docs.append(draw(kubernetes_policy(i)))
    for i in range(draw(st.integers(1, 4))):
        tier = draw(st.sampled_from(["default", "early", "late"]))
        namespaced = draw(st.booleans())
        name = f"p{i}" if tier == "default" else f"{tier}.p{i}"
        spec: dict[str, Any] = {"tier": tier, "selector": draw(selectors)}
        if draw(st.booleans()):
            spec["order"] = draw(st.sampled_from([1, 5, 5.5, 100]))
        if draw(st.booleans()):
            spec["ingress"] = draw(st.lists(rule(), max_size=3))
        if draw(st.booleans()):
            spec["egress"] = draw(st.lists(rule(), max_size=3))
        metadata: dict[str, Any] = {"name": name}
        if namespaced:
            metadata["namespace"] = draw(st.sampled_from(["prod", "dev"]))
        kind = "NetworkPolicy" if namespaced else "GlobalNetworkPolicy"
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": metadata, "spec": spec})
    return docs


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=documents())
def test_random_policies_convert_deterministically_to_valid_objects_or_refuse(docs: list[dict[str, Any]]) -> None:
    objs = [(d, Location(file="random.yaml", document=i + 1)) for i, d in enumerate(docs)]
    try:
        inventory = load_objects(objs)
    except InputError:
        return  # invalid Calico input is the loader's to refuse, with a message (never a crash)
    for options in (ConvertOptions(), *OPTION_SETS):
        first = convert(inventory, options)
        again = convert(inventory, options)
        assert render(first.objects) == render(again.objects)
        assert first.reports == again.reports
        assert len(first.reports) == len(docs)  # one report per input object
        if first.blocked and not options.partial:
            assert first.objects == AntreaObjects()
        unsupported = [r for r in first.reports if r.fidelity is Fidelity.UNSUPPORTED]
        assert all(r.problems for r in unsupported)
        _check(first.objects)
