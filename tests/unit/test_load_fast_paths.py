"""The loader's fast paths give exactly the answers of the slow ones.

``calico/load.py`` builds plain YAML trees itself (PyYAML's constructor is slower than the whole
validation) and validates each distinct rule once. These tests compare both shortcuts with the
straightforward behaviour: same documents, same shared objects, same errors, and every repeated
rule located at its own field path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_antrea_migrate.calico import load as loader
from kubectl_antrea_migrate.calico.load import load_objects
from kubectl_antrea_migrate.calico.model import EntityRule, Rule
from kubectl_antrea_migrate.errors import InputError, Location

V1 = "crd.projectcalico.org/v1"
V3 = "projectcalico.org/v3"


class _Reference(loader._Loader):
    """The loader with both YAML shortcuts off: PyYAML's own resolver and constructor, same duplicate check."""

    construct_document = yaml.constructor.BaseConstructor.construct_document
    resolve = yaml.resolver.BaseResolver.resolve


def _outcome(text: str, loader_class: type) -> str:
    """The documents (repr: recursive documents cannot be compared with ==) or the error, with its position."""
    try:
        return repr(list(yaml.load_all(text, Loader=loader_class)))
    except Exception as exc:  # the error itself is what is compared
        return f"{type(exc).__name__}: {exc}"


YAML_CASES = {
    "plain documents": "a: 1\nb: [x, 2.5, true, null, ~]\n---\n- {k: v}\n- []\n---\n",
    "implicit scalars": (
        "i: 0x1F\no: 0o17\nf: 1e3\ninf: .inf\nb: yes\nts: 2001-12-14t21:59:43.10-05:00\nd: 2002-12-14\n"
    ),
    "quoted look-alikes": "'1': a\n'true': b\n'<<': c\n'=': d\ns: '2001-12-14'\n",
    "non-string keys": "1: a\ntrue: b\n~: c\n2001-01-01: d\n1.5: e\n",
    "anchors and aliases": "base: &b {x: 1, y: [1, 2]}\nuse: *b\nlist: &l [a, b]\nagain: *l\ns: &s text\nt: *s\n",
    "merge keys": "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nn:\n  <<: [*b, {z: 4}]\n  w: 5\n",
    "value key": "m:\n  =: v\n  k: 1\n",
    "explicit tags": (
        "s: !!str 12\ni: !!int '7'\nb: !!binary aGVsbG8=\nset: !!set {a, b}\nomap: !!omap [{a: 1}, {b: 2}]\n"
    ),
    "recursive sequence": "a: &a [1, *a]\n",
    "recursive mapping": "a: &a {self: *a}\n",
    "duplicate top-level key": "kind: A\nkind: B\n",
    "duplicate nested key": "spec:\n  ingress:\n  - action: Allow\n    action: Deny\n",
    "duplicate key next to a merge": "base: &b {x: 1}\nm:\n  <<: *b\n  y: 1\n  y: 2\n",
    "same key, plain and quoted": "1: a\n'1': b\n",
    "keys equal after construction": "1: a\n0x1: b\ntrue: c\nTrue: d\n",
    "one text, two scalar tags": "a: 1\nb: !!float 1\nc: !!int 1\nd: !!null ''\n",
    "unknown tag": "a: !Ref x\n",
    "collection tags on scalars": "a: !!map x\n",
    "set tag on a scalar": "a: !!set x\n",
    "sequence tag on a mapping": "a: !!seq {k: v}\n",
    "collection key": "? [a, b]\n: c\n",
    "invalid date": "d: 2023-02-30\n",
    "bad base64": "b: !!binary '%%%'\n",
    "syntax error later": "a: 1\n---\nb: [\n",
    "empty stream": "",
    "deep nesting": "a: " + "[" * 300 + "]" * 300 + "\n",
}


@pytest.mark.parametrize("text", YAML_CASES.values(), ids=YAML_CASES.keys())
def test_yaml_documents_and_errors_are_those_of_pyyaml(text: str) -> None:
    assert _outcome(text, loader._Loader) == _outcome(text, _Reference)


def test_aliases_still_share_one_object() -> None:
    (document,) = yaml.load_all(YAML_CASES["anchors and aliases"], Loader=loader._Loader)
    assert document["use"] is document["base"]
    assert document["again"] is document["list"]


def test_recursive_documents_are_built_as_pyyaml_builds_them() -> None:
    (document,) = yaml.load_all(YAML_CASES["recursive mapping"], Loader=loader._Loader)
    assert document["a"]["self"] is document["a"]


_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.sampled_from(["<<", "=", "1", "yes", "~", "", "2001-01-01", "a: b", "- x", "&a", "*a", "!t"])
    | st.text(max_size=8)
)
_keys = st.text(max_size=6) | st.integers() | st.booleans() | st.sampled_from(["<<", "=", "null"])
_trees = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(documents=st.lists(_trees, min_size=1, max_size=3), share=st.booleans(), flow=st.none() | st.booleans())
def test_random_yaml_loads_as_pyyaml_loads_it(documents: list[Any], share: bool, flow: bool | None) -> None:
    if share:  # the same object twice in one document: the dumper writes an anchor and an alias
        documents = [[documents[0], documents[0]], *documents[1:]]
    text = yaml.dump_all(documents, Dumper=yaml.SafeDumper, default_flow_style=flow)
    assert _outcome(text, loader._Loader) == _outcome(text, _Reference)


def _policy(name: str, ingress: list[Any] | None = None, egress: list[Any] | None = None, *,
            api: str = V3, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    kind = "GlobalNetworkPolicy"
    if namespace is not None:
        metadata["namespace"], kind = namespace, "NetworkPolicy"
    spec: dict[str, Any] = {}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec}


def _load(*objects: dict[str, Any]) -> Any:
    return load_objects([(o, Location(file="t.yaml", document=i + 1)) for i, o in enumerate(objects)])


def _error(*objects: dict[str, Any]) -> str:
    with pytest.raises(InputError) as info:
        _load(*objects)
    return str(info.value)


FULL_RULE = {
    "action": "Allow",
    "protocol": "TCP",
    "ipVersion": 4,
    "source": {"nets": ["10.0.0.0/8"], "notNets": ["10.1.0.0/16"], "selector": "app == 'a'",
               "notSelector": "b == 'c'", "namespaceSelector": "team == 'x'", "ports": [80, "9000:9100"],
               "notPorts": ["http"], "serviceAccounts": {"names": ["sa"], "selector": "k == 'v'"}},
    "destination": {"nets": ["192.168.0.0/16"], "ports": [443]},
    "http": {"methods": ["GET"], "paths": [{"prefix": "/api"}]},
}


def test_a_repeated_rule_is_equal_and_located_at_its_own_field_path() -> None:
    inventory = _load(_policy("one", [FULL_RULE]), _policy("two", [{"action": "Deny"}, FULL_RULE]))
    first, second = inventory.policies[0].ingress[0], inventory.policies[1].ingress[1]
    assert second == first
    assert str(second.location) == "t.yaml: document 2 (GlobalNetworkPolicy two): spec.ingress[1]"
    assert str(second.source.location) == "t.yaml: document 2 (GlobalNetworkPolicy two): spec.ingress[1].source"
    assert str(second.destination.location) == (
        "t.yaml: document 2 (GlobalNetworkPolicy two): spec.ingress[1].destination"
    )
    assert str(first.source.location) == "t.yaml: document 1 (GlobalNetworkPolicy one): spec.ingress[0].source"


def test_a_repeated_invalid_rule_is_refused_at_its_own_location() -> None:
    bad = {"action": "Allow", "protocol": "TCP", "destination": {"ports": [0]}}
    message = _error(_policy("one", [{"action": "Deny"}]), _policy("two", [{"action": "Deny"}, bad]))
    assert message == ("t.yaml: document 2 (GlobalNetworkPolicy two): spec.ingress[1].destination.ports[0]: "
                       "invalid port 0: port number must be between 1 and 65535")


def test_a_rule_valid_in_one_direction_is_checked_again_in_the_other() -> None:
    services = {"action": "Allow", "destination": {"services": {"name": "api", "namespace": "ns"}}}
    message = _error(_policy("one", egress=[services]), _policy("two", ingress=[services]))
    assert message == ("t.yaml: document 2 (GlobalNetworkPolicy two): spec.ingress[0].destination.services: "
                       "services are not allowed in an ingress rule destination")


def test_a_rule_valid_in_a_namespaced_policy_is_checked_again_in_a_global_one() -> None:
    services = {"action": "Allow", "destination": {"services": {"name": "api"}}}
    message = _error(_policy("one", egress=[services], namespace="ns"), _policy("two", egress=[services]))
    assert message == ("t.yaml: document 2 (GlobalNetworkPolicy two): spec.egress[0].destination.services"
                       ".namespace: must specify a namespace")


def test_a_rule_valid_in_v1_is_checked_again_in_v3() -> None:
    lower = {"action": "allow"}
    message = _error(_policy("one", [lower], api=V1), _policy("two", [lower]))
    assert message.startswith("t.yaml: document 2 (GlobalNetworkPolicy two): spec.ingress[0].action: "
                              "unknown action 'allow'")


@pytest.mark.parametrize(("valid", "invalid"), [
    ({"action": "Allow", "ipVersion": 4}, {"action": "Allow", "ipVersion": True}),
    ({"action": "Allow", "protocol": 6}, {"action": "Allow", "protocol": 6.0}),
    ({"action": "Allow", "source": {"nets": ["10.0.0.0/8"]}}, {"action": "Allow", "source": {"nets": ("10.0.0.0/8",)}}),
])
def test_rules_that_differ_only_in_value_types_are_validated_apart(valid: dict[str, Any],
                                                                   invalid: dict[str, Any]) -> None:
    message = _error(_policy("one", [valid]), _policy("two", [invalid]))
    assert message.startswith("t.yaml: document 2 (GlobalNetworkPolicy two): spec.ingress[0]")


def test_the_rule_copy_knows_every_model_field() -> None:
    """Tripwire: ``_rule`` copies a remembered rule field by field (for speed), so a field added to
    Rule or EntityRule must be added to that copy too, or repeated rules would silently lose it."""
    assert [f.name for f in dataclasses.fields(Rule)] == [
        "action", "protocol", "not_protocol", "icmp", "not_icmp", "ip_version", "source", "destination", "http",
        "location",
    ]
    assert [f.name for f in dataclasses.fields(EntityRule)] == [
        "nets", "not_nets", "selector", "not_selector", "namespace_selector", "ports", "not_ports",
        "service_accounts", "services", "location",
    ]
