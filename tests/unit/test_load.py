"""The loader: Calico v3 and crd.projectcalico.org/v1 rules (policy-mapping §1.1-§1.6), Kubernetes context
objects, input formats, and one precise InputError for every kind of bad input."""

from __future__ import annotations

import copy
import io
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_antrea_migrate.calico import load as loader
from kubectl_antrea_migrate.calico.load import load_objects, load_paths
from kubectl_antrea_migrate.calico.model import (
    Action,
    Direction,
    Inventory,
    NamedPort,
    PolicyKind,
    PortRange,
    SourceFormat,
)
from kubectl_antrea_migrate.calico.selector.ast import ALL
from kubectl_antrea_migrate.calico.selector.parse import parse_selector
from kubectl_antrea_migrate.errors import InputError, Location, SelectorSyntaxError
from kubectl_antrea_migrate.kube.model import ContainerPort, Operator

V3 = "projectcalico.org/v3"
V1 = "crd.projectcalico.org/v1"
HERE = Location(file="t.yaml", document=1)
BOTH = frozenset({Direction.INGRESS, Direction.EGRESS})


def obj(kind: str, name: str, spec: dict[str, Any] | None = None, *, api: str = V3, namespace: str | None = None,
        labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels is not None:
        metadata["labels"] = labels
    if annotations is not None:
        metadata["annotations"] = annotations
    result: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": metadata}
    if spec is not None:
        result["spec"] = spec
    return result


def gnp(spec: dict[str, Any] | None = None, name: str = "p", api: str = V3, **kw: Any) -> dict[str, Any]:
    return obj("GlobalNetworkPolicy", name, spec if spec is not None else {}, api=api, **kw)


def rule(**fields: Any) -> dict[str, Any]:
    return {"action": "Allow", **fields}


def load_one(*objects: dict[str, Any]) -> Inventory:
    return load_objects([(o, HERE) for o in objects])


def error_of(*objects: dict[str, Any]) -> str:
    with pytest.raises(InputError) as info:
        load_one(*objects)
    return str(info.value)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


# --------------------------------------------------------------------------------------------------
# §1.1 names and metadata
# --------------------------------------------------------------------------------------------------


def test_v3_names_are_kept_even_with_a_default_prefix() -> None:
    inv = load_one(gnp({"tier": "default"}, name="default.default-deny"), gnp(name="plain"))
    assert [p.name for p in inv.policies] == ["default.default-deny", "plain"]
    assert inv.policies[0].source_format is SourceFormat.V3


def test_v1_name_comes_from_the_metadata_annotation_when_present() -> None:
    stored = json.dumps({"name": "from-annotation", "labels": {}})
    inv = load_one(gnp(name="default.stored-name", api=V1, annotations={"projectcalico.org/metadata": stored}))
    assert inv.policies[0].name == "from-annotation"
    assert inv.policies[0].source_format is SourceFormat.V1


@pytest.mark.parametrize(
    ("raw_name", "tier", "v3_name"),
    [
        ("default.allow-web", None, "allow-web"),  # no tier = default: strip the prefix
        ("default.allow-web", "default", "allow-web"),
        ("default.allow-web", "", "allow-web"),  # empty tier is the default tier
        ("default.default.x", "default", "default.x"),  # only one prefix is stripped
        ("allow-web", "default", "allow-web"),  # v3.32 stores the name unchanged
        ("security.allow-dns", "security", "security.allow-dns"),  # other tiers keep the name
        ("default.allow-dns", "security", "default.allow-dns"),
    ],
)
def test_v1_name_without_annotation_strips_one_default_prefix_only_in_the_default_tier(
    raw_name: str, tier: str | None, v3_name: str
) -> None:
    spec: dict[str, Any] = {} if tier is None else {"tier": tier}
    inv = load_one(gnp(spec, name=raw_name, api=V1))
    assert inv.policies[0].name == v3_name
    assert inv.policies[0].tier == (tier or "default")


def test_v1_namespaced_policy_name_rules_apply_too() -> None:
    inv = load_one(obj("NetworkPolicy", "default.web", {"types": ["Ingress"]}, api=V1, namespace="prod"))
    assert (inv.policies[0].name, inv.policies[0].namespace) == ("web", "prod")
    assert inv.policies[0].kind is PolicyKind.NETWORK_POLICY


@pytest.mark.parametrize("api", [V3, V1])
def test_rendered_kubernetes_policies_are_skipped_with_a_reason(api: str) -> None:
    inv = load_one(obj("NetworkPolicy", "knp.default.allow-web", {}, api=api, namespace="prod"))
    assert inv.policies == ()
    [skipped] = inv.skipped
    assert (skipped.kind, skipped.name, skipped.namespace) == ("NetworkPolicy", "knp.default.allow-web", "prod")
    assert "knp.default" in skipped.reason


@pytest.mark.parametrize("document", [
    obj("NetworkPolicy", "knp.default.web", {"ingress": "not even a list"}, namespace="prod"),
    obj("KubernetesNetworkPolicy", "web", {"podSelector": {}}, namespace="prod"),
])
def test_rendered_kubernetes_policies_are_skipped_before_validation(document: dict[str, Any]) -> None:
    [skipped] = load_one(document).skipped
    assert skipped.reason.startswith("Calico's rendering of a Kubernetes NetworkPolicy")


def test_v1_labels_merge_metadata_labels_with_the_annotation_labels_annotation_winning() -> None:
    stored = json.dumps({"labels": {"role": "db", "tier": "from-annotation"}})
    gns = obj("GlobalNetworkSet", "dbs", {"nets": ["10.0.0.0/8"]}, api=V1,
              labels={"projectcalico.org/kind": "x", "tier": "from-v1"},
              annotations={"projectcalico.org/metadata": stored})
    inv = load_one(gns)
    assert inv.network_sets[0].labels == {"projectcalico.org/kind": "x", "role": "db", "tier": "from-annotation"}


def test_v3_objects_ignore_the_v1_metadata_annotation() -> None:
    stored = json.dumps({"name": "other", "labels": {"role": "db"}})
    inv = load_one(obj("GlobalNetworkSet", "dbs", {"nets": []}, labels={"a": "b"},
                       annotations={"projectcalico.org/metadata": stored}))
    assert (inv.network_sets[0].name, inv.network_sets[0].labels) == ("dbs", {"a": "b"})


def test_a_broken_metadata_annotation_is_an_input_error_at_that_annotation() -> None:
    message = error_of(gnp(name="p", api=V1, annotations={"projectcalico.org/metadata": "{not json"}))
    assert message.startswith(
        't.yaml: document 1 (GlobalNetworkPolicy p): metadata.annotations["projectcalico.org/metadata"]: '
        "not valid JSON:"
    )


def test_policy_labels_are_kept() -> None:
    inv = load_one(gnp(labels={"projectcalico.org/tier": "default", "team": "a"}))
    assert inv.policies[0].labels == {"projectcalico.org/tier": "default", "team": "a"}


def test_a_namespaced_policy_without_namespace_lands_in_default_with_a_warning() -> None:
    inv = load_one(obj("NetworkPolicy", "web", {}))
    assert inv.policies[0].namespace == "default"
    assert inv.policies[0].warnings == ("metadata.namespace missing: assumed 'default'",)


# --------------------------------------------------------------------------------------------------
# types defaulting, actions, selectors, order, tiers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "types"),
    [
        ({}, {Direction.INGRESS}),  # no rules at all: Ingress
        ({"ingress": [rule()]}, {Direction.INGRESS}),
        ({"egress": [rule()]}, {Direction.EGRESS}),
        ({"ingress": [rule()], "egress": [rule()]}, {Direction.INGRESS, Direction.EGRESS}),
        ({"egress": []}, {Direction.INGRESS}),  # Go len() rule: an explicit empty list is no rules
        ({"ingress": [rule()], "egress": []}, {Direction.INGRESS}),
        ({"ingress": [], "egress": [rule()]}, {Direction.EGRESS}),
    ],
)
def test_v3_types_default_from_rule_presence(rules: dict[str, Any], types: set[Direction]) -> None:
    policy = load_one(gnp(rules)).policies[0]
    assert policy.types == types
    assert policy.warnings == ()


def test_v1_missing_types_means_ingress_and_egress_with_a_warning() -> None:
    policy = load_one(gnp({"ingress": [rule(action="allow")]}, api=V1)).policies[0]
    assert policy.types == BOTH
    assert policy.warnings == (
        "spec.types missing on a crd.projectcalico.org/v1 object: Felix enforces it for Ingress and Egress",
    )


def test_explicit_types_are_kept_without_warning() -> None:
    policy = load_one(gnp({"types": ["Egress"], "ingress": [rule()]}, api=V1)).policies[0]
    assert (policy.types, policy.warnings) == ({Direction.EGRESS}, ())
    assert len(policy.ingress) == 1  # rules of a direction not in types are kept for reports


def test_repeated_types_are_refused() -> None:
    assert error_of(gnp({"types": ["Ingress", "Ingress"]})) == (
        "t.yaml: document 1 (GlobalNetworkPolicy p): spec.types[1]: 'Ingress' type specified more than once"
    )


@pytest.mark.parametrize(("text", "action"), [("allow", Action.ALLOW), ("DENY", Action.DENY), ("Pass", Action.PASS),
                                              ("log", Action.LOG)])
def test_v1_actions_are_case_insensitive_like_felix(text: str, action: Action) -> None:
    assert load_one(gnp({"ingress": [rule(action=text)]}, api=V1)).policies[0].ingress[0].action is action


def test_v3_actions_must_match_the_crd_enum_exactly() -> None:
    assert error_of(gnp({"ingress": [rule(action="allow")]})) == (
        "t.yaml: document 1 (GlobalNetworkPolicy p): spec.ingress[0].action: unknown action 'allow': "
        "must be one of Allow, Deny, Log, Pass"
    )


def test_a_rule_without_action_is_refused() -> None:
    assert error_of(gnp({"egress": [{"protocol": "TCP"}]})).endswith(
        "spec.egress[0].action: action is required: one of Allow, Deny, Log, Pass"
    )


def test_policy_fields_are_parsed_and_defaulted() -> None:
    policy = load_one(gnp({
        "order": 100, "tier": "security", "selector": "app == 'a'", "namespaceSelector": "team == 'x'",
        "serviceAccountSelector": "role == 'r'", "doNotTrack": True, "applyOnForward": True,
    })).policies[0]
    assert policy.order == 100.0 and isinstance(policy.order, float)
    assert policy.tier == "security"
    assert policy.selector == parse_selector("app == 'a'")
    assert policy.namespace_selector == parse_selector("team == 'x'")
    assert policy.service_account_selector == parse_selector("role == 'r'")
    assert (policy.do_not_track, policy.apply_on_forward, policy.pre_dnat) == (True, True, False)
    empty = load_one(gnp({})).policies[0]
    assert (empty.selector, empty.order, empty.tier, empty.namespace_selector) == (ALL, None, "default", None)


def test_a_selector_error_names_file_document_object_field_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 10}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-all
spec:
  ingress:
  - action: Deny
    source:
      selector: app == 'a' && (b == 'c'
""")
    with pytest.raises(SelectorSyntaxError) as info:
        load_paths([path])
    head, text, caret = str(info.value).split("\n")
    assert head.startswith(f"{path}: document 2 (GlobalNetworkPolicy deny-all): spec.ingress[0].source.selector, "
                           f"column ")
    assert text == "  app == 'a' && (b == 'c'"
    assert caret.strip() == "^"
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ({"selector": "global()"}, "spec.selector", "global() can only be used in an EntityRule namespaceSelector"),
        ({"ingress": [rule(source={"selector": "global()"})]}, "spec.ingress[0].source.selector",
         "global() can only be used in an EntityRule namespaceSelector"),
        ({"ingress": [rule(source={"namespaceSelector": "global() || all()"})]},
         "spec.ingress[0].source.namespaceSelector", "global() cannot be combined with other selectors"),
    ],
)
def test_global_selector_placement_follows_the_v3_validator(spec: dict[str, Any], path: str, message: str) -> None:
    assert error_of(gnp(spec)) == f"t.yaml: document 1 (GlobalNetworkPolicy p): {path}: {message}"


def test_global_namespace_selector_alone_is_accepted() -> None:
    policy = load_one(gnp({"ingress": [rule(source={"namespaceSelector": " global() ", "selector": "a == 'b'"})]}))
    assert policy.policies[0].ingress[0].source.namespace_selector == parse_selector("global()")


def test_order_must_be_a_number() -> None:
    assert error_of(gnp({"order": "100"})).endswith("spec.order: expected a number, got a string ('100')")


@pytest.mark.parametrize(("spec", "message"), [
    ({"tier": "My_Tier"}, "spec.tier: invalid tier name 'My_Tier': must be lower case alphanumerics and '-'"),
    ({"performanceHints": ["Fast"]}, "spec.performanceHints[0]: unknown performance hint 'Fast'"),
    ({"preDNAT": True, "doNotTrack": True, "applyOnForward": True},
     "spec.preDNAT: preDNAT and doNotTrack cannot both be true"),
    ({"preDNAT": True}, "spec.applyOnForward: applyOnForward must be true if either preDNAT or doNotTrack is true"),
    ({"preDNAT": True, "applyOnForward": True, "egress": [rule()]},
     "spec.egress: a preDNAT policy cannot have egress rules"),
])
def test_policy_level_validation(spec: dict[str, Any], message: str) -> None:
    assert error_of(gnp(spec)) == f"t.yaml: document 1 (GlobalNetworkPolicy p): {message}"


@pytest.mark.parametrize(("kind", "name", "namespace"), [
    ("GlobalNetworkPolicy", "Upper", None),
    ("GlobalNetworkPolicy", "a.b.c", None),  # at most one dot (<tier>.<name>)
    ("NetworkPolicy", "under_score", "prod"),
    ("GlobalNetworkPolicy", "<log-everything>", None),
])
def test_policy_names_follow_calicos_name_rules(kind: str, name: str, namespace: str | None) -> None:
    message = error_of(obj(kind, name, {}, namespace=namespace))
    assert f"metadata.name: invalid {kind} name {name!r}" in message


def test_namespace_must_be_a_dns_label() -> None:
    assert error_of(obj("NetworkPolicy", "p", {}, namespace="<namespace>")) == (
        "t.yaml: document 1 (NetworkPolicy <namespace>/p): metadata.namespace: invalid namespace '<namespace>': "
        "must be a DNS-1123 label"
    )


def test_tiers_load_with_defaults_and_fixed_tier_rules() -> None:
    inv = load_one(obj("Tier", "security", {"order": 100}), obj("Tier", "last", {"defaultAction": "Pass"}),
                   obj("Tier", "default", {}))
    assert [(t.name, t.order, t.default_action) for t in inv.tiers] == [
        ("security", 100.0, Action.DENY), ("last", None, Action.PASS), ("default", 1_000_000.0, Action.DENY)
    ]


@pytest.mark.parametrize(("name", "spec", "message"), [
    ("a.b", {}, "metadata.name: invalid tier name 'a.b': must be lower case alphanumerics and '-' (no dots)"),
    ("t", {"defaultAction": "Allow"}, "spec.defaultAction: invalid defaultAction 'Allow': must be Deny or Pass"),
    ("default", {"order": 5}, "spec.order: the 'default' tier's order must be 1e+06"),
    ("kube-admin", {"defaultAction": "Deny"}, "spec.defaultAction: the 'kube-admin' tier must have default action "
                                              "'Pass'"),
])
def test_tier_validation(name: str, spec: dict[str, Any], message: str) -> None:
    assert error_of(obj("Tier", name, spec)) == f"t.yaml: document 1 (Tier {name}): {message}"


# --------------------------------------------------------------------------------------------------
# §1.3 rule fields
# --------------------------------------------------------------------------------------------------


def first_rule(**fields: Any) -> Any:
    return load_one(gnp({"ingress": [rule(**fields)]})).policies[0].ingress[0]


@pytest.mark.parametrize(("value", "number"), [("TCP", 6), ("tcp", 6), ("UDPLite", 136), ("icmpv6", 58), (132, 132),
                                               ("17", 17), (255, 255)])
def test_protocols_accept_names_in_any_case_and_numbers(value: Any, number: int) -> None:
    assert first_rule(protocol=value).protocol == number
    assert first_rule(notProtocol=value).not_protocol == number


@pytest.mark.parametrize(("value", "message"), [
    (0, "protocol number invalid: 0 (expected 1-255)"),
    (256, "protocol number invalid: 256 (expected 1-255)"),
    ("HTTP", "protocol name invalid: 'HTTP' (expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255)"),
    (True, "expected a protocol name or number, got a boolean (true)"),
])
def test_bad_protocols_are_refused(value: Any, message: str) -> None:
    assert error_of(gnp({"ingress": [rule(protocol=value)]})).endswith(f"spec.ingress[0].protocol: {message}")


@pytest.mark.parametrize(("value", "port"), [
    (80, PortRange(80, 80)), ("443", PortRange(443, 443)), ("1:65535", PortRange(1, 65535)),
    ("8000:8000", PortRange(8000, 8000)), ("http", NamedPort("http")), ("web-8080", NamedPort("web-8080")),
])
def test_ports_accept_numbers_ranges_and_names(value: Any, port: Any) -> None:
    entity = first_rule(protocol="TCP", destination={"ports": [value], "notPorts": [value]}).destination
    assert entity.ports == (port,) and entity.not_ports == (port,)


@pytest.mark.parametrize(("value", "message"), [
    (0, "invalid port 0: port number must be between 1 and 65535"),
    (70000, "invalid port 70000: port number must be between 1 and 65535"),
    ("9000:80", "invalid port range '9000:80': minimum port number is greater than maximum"),
    ("0:80", "invalid port range '0:80': port numbers must be between 1 and 65535"),
    ("Http", "invalid port 'Http': expected a number, 'min:max', or a port name (at most 15 lower case "
             "alphanumerics and '-', with a letter)"),
    ("no-exist-named-port1", "invalid port 'no-exist-named-port1': expected a number, 'min:max', or a port name "
                             "(at most 15 lower case alphanumerics and '-', with a letter)"),
    ("1-2", "invalid port '1-2': expected a number, 'min:max', or a port name (at most 15 lower case "
            "alphanumerics and '-', with a letter)"),
    (8.5, "expected a port number, range or name, got a number (8.5)"),
])
def test_bad_ports_are_refused(value: Any, message: str) -> None:
    spec = {"ingress": [rule(protocol="TCP", destination={"ports": [1, value]})]}
    assert error_of(gnp(spec)).endswith(f"spec.ingress[0].destination.ports[1]: {message}")


def test_numeric_ports_need_tcp_udp_or_sctp_but_named_ports_do_not() -> None:
    assert first_rule(destination={"ports": ["http"]}).destination.ports == (NamedPort("http"),)
    for fields in ({"destination": {"ports": [80]}}, {"protocol": "ICMP", "source": {"notPorts": ["http"]}}):
        message = error_of(gnp({"ingress": [rule(**fields)]}))
        assert message.endswith(": rules that specify ports must set protocol to TCP, UDP or SCTP")


def test_icmp_fields_are_parsed_and_checked() -> None:
    parsed = first_rule(protocol="ICMP", icmp={"type": 8, "code": 0}, notICMP={"type": 3})
    assert (parsed.icmp.type, parsed.icmp.code, parsed.not_icmp.type, parsed.not_icmp.code) == (8, 0, 3, None)
    assert first_rule(protocol=1, icmp={"type": 0}).icmp.type == 0  # numeric ICMP counts (v3.32 CRD rule)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"protocol": "ICMP", "icmp": {"code": 1}}, "spec.ingress[0].icmp.code: ICMP code specified without an "
                                                    "ICMP type"),
        ({"protocol": "ICMP", "icmp": {"type": 255}}, "spec.ingress[0].icmp.type: 255 is out of range 0-254"),
        ({"protocol": "ICMP", "icmp": {"type": "8  Ping request"}},
         "spec.ingress[0].icmp.type: expected an integer, got a string ('8  Ping request')"),
        ({"icmp": {"type": 8}}, "spec.ingress[0].icmp: rules that specify ICMP fields must set protocol to ICMP or "
                                "ICMPv6"),
        ({"protocol": "TCP", "icmp": {"type": 8}}, "spec.ingress[0].icmp: rules that specify ICMP fields must set "
                                                   "protocol to ICMP or ICMPv6"),
        ({"protocol": "ICMP", "ipVersion": 6}, "spec.ingress[0].ipVersion: must set ipVersion to 4 with protocol ICMP"),
        ({"notProtocol": "ICMPv6", "ipVersion": 4},
         "spec.ingress[0].ipVersion: must set ipVersion to 6 with protocol ICMPv6"),
        ({"ipVersion": 5}, "spec.ingress[0].ipVersion: ipVersion must be 4 or 6, got a number (5)"),
    ]
    for fields, message in cases:
        assert error_of(gnp({"ingress": [rule(**fields)]})) == f"t.yaml: document 1 (GlobalNetworkPolicy p): {message}"


def test_nets_accept_cidrs_and_bare_ips_and_mask_host_bits() -> None:
    entity = first_rule(source={"nets": ["10.1.2.3/8", "192.168.1.1"], "notNets": ["10.0.0.0/16"]}).source
    assert entity.nets == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.1.1/32"))
    assert entity.not_nets == (ipaddress.ip_network("10.0.0.0/16"),)
    assert first_rule(ipVersion=6, destination={"nets": ["fd00::1"]}).destination.nets == (
        ipaddress.ip_network("fd00::1/128"),)


@pytest.mark.parametrize(("fields", "path", "message"), [
    ({"source": {"nets": ["10.0.0.0/8", "10.0.0.0/33"]}}, "source.nets[1]", "invalid CIDR '10.0.0.0/33'"),
    ({"source": {"nets": ["10.0.0.0/255.0.0.0"]}}, "source.nets[0]", "invalid CIDR '10.0.0.0/255.0.0.0'"),
    ({"destination": {"nets": ["10.20.30.40/32  Cluster IP A"]}}, "destination.nets[0]",
     "invalid CIDR '10.20.30.40/32  Cluster IP A'"),
    ({"source": {"nets": ["10.0.0.0/8"]}, "destination": {"notNets": ["fd00::/8"]}}, "destination.notNets",
     "rule contains both IPv4 and IPv6 CIDRs"),
    ({"source": {"nets": ["10.0.0.0/8", "::/0"]}}, "source.nets", "rule contains both IPv4 and IPv6 CIDRs"),
    ({"ipVersion": 6, "source": {"notNets": ["10.0.0.0/8"]}}, "source.notNets",
     "rule ipVersion 6 doesn't match the CIDR version"),
])
def test_bad_nets_are_refused(fields: dict[str, Any], path: str, message: str) -> None:
    assert error_of(gnp({"ingress": [rule(**fields)]})).endswith(f"spec.ingress[0].{path}: {message}")


def test_entity_identity_fields_are_parsed() -> None:
    entity = first_rule(source={
        "selector": "app == 'a'", "notSelector": "b == 'c'", "namespaceSelector": "all()",
        "serviceAccounts": {"names": ["api", "web"], "selector": "team == 'x'"},
    }).source
    assert entity.selector == parse_selector("app == 'a'")
    assert entity.not_selector == parse_selector("b == 'c'")
    assert entity.namespace_selector == parse_selector("all()")
    assert entity.service_accounts is not None
    assert entity.service_accounts.names == ("api", "web")
    assert entity.service_accounts.selector == parse_selector("team == 'x'")
    assert entity.location == Location("t.yaml", 1, "GlobalNetworkPolicy", "p", "spec.ingress[0].source")


def test_empty_icmp_and_service_account_matches_constrain_nothing() -> None:
    parsed = first_rule(protocol="ICMP", icmp={}, notICMP={}, source={"serviceAccounts": {"names": []}})
    assert (parsed.icmp, parsed.not_icmp, parsed.source.service_accounts) == (None, None, None)
    assert error_of(gnp({"ingress": [rule(icmp={})]})).endswith(
        "spec.ingress[0].icmp: rules that specify ICMP fields must set protocol to ICMP or ICMPv6")


def test_services_and_http_follow_the_validator() -> None:
    parsed = first_rule(source={"services": {"name": "api", "namespace": "prod"}},
                        http={"methods": ["GET"], "paths": [{"exact": "/a"}, {"prefix": "/b"}]})
    assert parsed.source.services.name == "api"
    assert parsed.http.paths == (("exact", "/a"), ("prefix", "/b"))
    cases = [
        (gnp({"ingress": [rule(source={"services": {"name": "api"}})]}),
         "spec.ingress[0].source.services.namespace: must specify a namespace"),
        (gnp({"ingress": [rule(destination={"services": {"name": "a", "namespace": "b"}})]}),
         "spec.ingress[0].destination.services: services are not allowed in an ingress rule destination"),
        (gnp({"egress": [rule(protocol="TCP", destination={"services": {"name": "a", "namespace": "b"},
                                                           "ports": [80]})]}),
         "spec.egress[0].destination.ports: ports and notPorts cannot be specified with services"),
        (gnp({"ingress": [rule(source={"services": {"name": "a", "namespace": "b"}, "selector": "x == 'y'"})]}),
         "spec.ingress[0].source.services: cannot specify selector/notSelector and services on the same rule"),
        (gnp({"ingress": [rule(action="Deny", http={"methods": ["GET"]})]}),
         "spec.ingress[0].http: HTTP match is only valid on Allow rules"),
        (gnp({"ingress": [rule(http={"methods": ["GET", "GET"]})]}),
         "spec.ingress[0].http.methods: invalid methods (duplicates): ['GET', 'GET']"),
        (gnp({"ingress": [rule(http={"paths": [{"exact": "a"}]})]}),
         "spec.ingress[0].http.paths[0].exact: invalid path 'a': must start with '/' and not contain '?', '#' or "
         "spaces"),
    ]
    for policy, message in cases:
        assert error_of(policy) == f"t.yaml: document 1 (GlobalNetworkPolicy p): {message}"


def test_rule_locations_point_at_the_rule() -> None:
    policy = load_one(gnp({"egress": [rule(), rule()]})).policies[0]
    assert str(policy.egress[1].location) == "t.yaml: document 1 (GlobalNetworkPolicy p): spec.egress[1]"


# --------------------------------------------------------------------------------------------------
# Unknown fields, wrong types, duplicates
# --------------------------------------------------------------------------------------------------


def test_an_unknown_field_is_refused_so_a_typo_cannot_widen_a_rule() -> None:
    assert error_of(gnp({"ingress": [{"action": "Allow", "sourc": {"selector": "app == 'a'"}}]})) == (
        't.yaml: document 1 (GlobalNetworkPolicy p): spec.ingress[0].sourc: unknown field "sourc" (a cluster '
        'would silently drop it); did you mean "source"?'
    )


@pytest.mark.parametrize(("document", "path"), [
    (obj("NetworkPolicy", "p", {"namespaceSelector": "a == 'b'"}, namespace="n"), "spec.namespaceSelector"),
    (gnp({"ingress": [rule(source={"selctor": "a == 'b'"})]}), "spec.ingress[0].source.selctor"),
    ({**gnp(), "sepc": {}}, "sepc"),
    (obj("NetworkPolicy", "k", {"podSelector": {}, "ingres": [{}]}, api="networking.k8s.io/v1", namespace="n"),
     "spec.ingres"),
    (obj("NetworkPolicy", "k", {"ingress": [{"from": [{"podSelector": {"matchLabel": {}}}]}]},
         api="networking.k8s.io/v1", namespace="n"), "spec.ingress[0].from[0].podSelector.matchLabel"),
])
def test_unknown_fields_are_refused_everywhere_in_the_spec(document: dict[str, Any], path: str) -> None:
    assert f": {path}: unknown field " in error_of(document)


@pytest.mark.parametrize(("spec", "message"), [
    ({"ingress": {"action": "Allow"}}, "spec.ingress: expected a list, got a mapping"),
    ({"ingress": ["Allow"]}, "spec.ingress[0]: expected a mapping, got a string ('Allow')"),
    ({"selector": 5}, "spec.selector: expected a string, got a number (5)"),
    ({"ingress": [rule(source={"selector": ["a"]})]}, "spec.ingress[0].source.selector: expected a string, got a list"),
    ({"doNotTrack": "yes"}, "spec.doNotTrack: expected true or false, got a string ('yes')"),
])
def test_wrong_value_types_are_input_errors_not_tracebacks(spec: dict[str, Any], message: str) -> None:
    assert error_of(gnp(spec)) == f"t.yaml: document 1 (GlobalNetworkPolicy p): {message}"


def test_label_values_must_be_strings() -> None:
    assert error_of(gnp(labels={"version": 1})) == (
        't.yaml: document 1 (GlobalNetworkPolicy p): metadata.labels["version"]: expected a string label value, '
        "got a number (1)"
    )


def test_duplicate_objects_name_both_locations(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", yaml.safe_dump(gnp(name="deny-all")))
    b = write(tmp_path, "b.yaml", yaml.safe_dump_all([gnp(name="other"), gnp(name="default.deny-all", api=V1)]))
    with pytest.raises(InputError) as info:
        load_paths([a, b])
    assert str(info.value) == (
        f"{b}: document 2 (GlobalNetworkPolicy default.deny-all): duplicate GlobalNetworkPolicy 'deny-all': "
        f"also defined at {a}: document 1 (GlobalNetworkPolicy deny-all)"
    )


def test_same_name_in_other_namespaces_or_kinds_is_not_a_duplicate() -> None:
    inv = load_one(obj("NetworkPolicy", "web", {}, namespace="a"), obj("NetworkPolicy", "web", {}, namespace="b"),
                   obj("NetworkPolicy", "web", {"podSelector": {}}, api="networking.k8s.io/v1", namespace="a"),
                   gnp(name="web"))
    assert len(inv.policies) == 3 and len(inv.kubernetes_policies) == 1


def test_metadata_name_is_required() -> None:
    document = gnp()
    del document["metadata"]["name"]
    assert error_of(document) == "t.yaml: document 1 (GlobalNetworkPolicy): metadata.name: metadata.name is required"


# --------------------------------------------------------------------------------------------------
# Dispatch on apiVersion and kind
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("api", "kind", "message"), [
    ("projectcalico.org/v2", "GlobalNetworkPolicy",
     "apiVersion: wrong apiVersion 'projectcalico.org/v2': Calico objects are projectcalico.org/v3 or "
     "crd.projectcalico.org/v1"),
    ("crd.antrea.io/v1beta1", "GlobalNetworkSet",
     "apiVersion: wrong apiVersion 'crd.antrea.io/v1beta1' for GlobalNetworkSet: expected projectcalico.org/v3 or "
     "crd.projectcalico.org/v1"),
    ("networking.k8s.io/v1beta1", "NetworkPolicy",
     "apiVersion: wrong apiVersion 'networking.k8s.io/v1beta1' for NetworkPolicy: expected networking.k8s.io/v1, "
     "projectcalico.org/v3 or crd.projectcalico.org/v1"),
    ("v2", "Namespace", "apiVersion: wrong apiVersion 'v2' for Namespace: expected v1"),
])
def test_a_known_kind_under_a_wrong_api_version_is_an_input_error(api: str, kind: str, message: str) -> None:
    assert error_of(obj(kind, "x", {}, api=api)) == f"t.yaml: document 1 ({kind} x): {message}"


@pytest.mark.parametrize(("api", "kind", "reason"), [
    ("crd.antrea.io/v1beta1", "NetworkPolicy", "an Antrea object, not Calico input: ignored"),
    ("crd.antrea.io/v1beta1", "ClusterNetworkPolicy", "an Antrea object, not Calico input: ignored"),
    ("v1", "ConfigMap", "not a policy kind: ignored"),
    ("projectcalico.org/v3", "BGPPeer", "not a policy kind: ignored"),
    ("projectcalico.org/v3", "StagedGlobalNetworkPolicy", "staged policy: Calico does not enforce it, not converted"),
    (V1, "StagedNetworkPolicy", "staged policy: Calico does not enforce it, not converted"),
    ("projectcalico.org/v3", "StagedKubernetesNetworkPolicy",
     "staged policy: Calico does not enforce it, not converted"),
    ("apps/v1", "Deployment", "not a policy kind: ignored"),
])
def test_other_kinds_are_skipped_with_a_reason(api: str, kind: str, reason: str) -> None:
    inv = load_one(obj(kind, "x", {"anything": True}, api=api, namespace="n"))
    assert [(s.kind, s.name, s.namespace, s.reason) for s in inv.skipped] == [(kind, "x", "n", reason)]
    assert inv.policies == () and inv.kubernetes_policies == ()


@pytest.mark.parametrize(("document", "message"), [
    ({"kind": "Tier", "metadata": {"name": "x"}}, "t.yaml: document 1 (Tier x): apiVersion: apiVersion is required "
                                                  "(a string)"),
    ({"apiVersion": V3, "metadata": {"name": "x"}}, "t.yaml: document 1: kind: kind is required (a string)"),
    (["a", "b"], "t.yaml: document 1: expected a Kubernetes object (a mapping with apiVersion and kind), got a list"),
])
def test_documents_that_are_not_objects_are_refused(document: Any, message: str) -> None:
    with pytest.raises(InputError) as info:
        load_objects([(document, HERE)])
    assert str(info.value) == message


# --------------------------------------------------------------------------------------------------
# Network sets, host endpoints, Kubernetes context objects
# --------------------------------------------------------------------------------------------------


def test_network_sets_load_with_masked_nets() -> None:
    inv = load_one(obj("NetworkSet", "ext", {"nets": ["1.2.3.4", "10.1.0.0/16"]}, namespace="prod",
                       labels={"role": "ext"}),
                   obj("GlobalNetworkSet", "all-ext", {"nets": ["2001:db8::1/32"]}))
    local, shared = inv.network_sets
    assert (local.namespace, local.is_global, local.labels) == ("prod", False, {"role": "ext"})
    assert local.nets == (ipaddress.ip_network("1.2.3.4/32"), ipaddress.ip_network("10.1.0.0/16"))
    assert (shared.namespace, shared.nets) == (None, (ipaddress.ip_network("2001:db8::/32"),))


def test_network_sets_may_not_carry_the_namespace_label() -> None:
    message = error_of(obj("GlobalNetworkSet", "s", {"nets": []}, labels={"projectcalico.org/namespace": "x"}))
    assert message.endswith("metadata.labels: projectcalico.org/namespace is not a valid label name")


def test_host_endpoints_load_and_mark_the_inventory() -> None:
    inv = load_one(obj("HostEndpoint", "node1-eth0", {"node": "node1", "interfaceName": "eth0",
                                                      "expectedIPs": ["10.0.0.1"]}, labels={"role": "node"}))
    [hep] = inv.host_endpoints
    assert (hep.node, hep.interface_name, hep.expected_ips, hep.labels) == ("node1", "eth0", ("10.0.0.1",),
                                                                            {"role": "node"})
    assert inv.host_endpoints_known
    assert not load_one(gnp()).host_endpoints_known
    assert load_objects([], host_endpoints_known=True).host_endpoints_known
    assert error_of(obj("HostEndpoint", "h", {"interfaceName": "eth0"})).endswith(
        "spec.node: no node has been specified")


def test_namespaces_get_the_metadata_name_label_like_kubernetes() -> None:
    [ns] = load_one(obj("Namespace", "prod", None, api="v1", labels={"team": "a"})).namespaces
    assert ns.labels == {"team": "a", "kubernetes.io/metadata.name": "prod"}


def test_service_accounts_and_pods_load_as_context() -> None:
    pod = obj("Pod", "web-1", {
        "serviceAccountName": "web", "hostNetwork": False, "restartPolicy": "Never", "nodeName": "n1",
        "containers": [{"name": "c", "ports": [{"containerPort": 8080, "name": "http"},
                                               {"containerPort": 53, "protocol": "UDP"}]}],
    }, api="v1", namespace="prod", labels={"app": "web"})
    pod["status"] = {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]}
    inv = load_one(pod, obj("ServiceAccount", "web", None, api="v1", namespace="prod", labels={"tier": "x"}))
    [p] = inv.pods
    assert (p.name, p.namespace, p.labels, p.service_account) == ("web-1", "prod", {"app": "web"}, "web")
    assert p.ips == ("10.0.0.5", "fd00::5")
    assert p.ports == (ContainerPort(8080, "TCP", "http"), ContainerPort(53, "UDP", ""))
    assert (p.host_network, p.restart_policy, p.phase, p.node_name) == (False, "Never", "Running", "n1")
    [sa] = inv.service_accounts
    assert (sa.name, sa.namespace, sa.labels) == ("web", "prod", {"tier": "x"})
    default = load_one(obj("Pod", "x", {"hostNetwork": True}, api="v1", namespace="a")).pods[0]
    assert (default.service_account, default.restart_policy, default.host_network) == ("default", "Always", True)


@pytest.mark.parametrize(("spec", "types"), [
    ({}, {"Ingress"}),
    ({"egress": [{}]}, {"Ingress", "Egress"}),
    ({"policyTypes": ["Egress"]}, {"Egress"}),
])
def test_kubernetes_policy_types_default_like_the_apiserver(spec: dict[str, Any], types: set[str]) -> None:
    document = obj("NetworkPolicy", "k", {"podSelector": {}, **spec}, api="networking.k8s.io/v1", namespace="n")
    assert load_one(document).kubernetes_policies[0].policy_types == types


def test_kubernetes_policies_parse_peers_ports_and_selectors() -> None:
    document = obj("NetworkPolicy", "k", {
        "podSelector": {"matchLabels": {"app": "web"},
                        "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]},
        "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"a": "b"}}},
                              {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                     "ports": [{"port": 80}, {"protocol": "UDP", "port": 5000, "endPort": 5010}, {"port": "http"}]}],
    }, api="networking.k8s.io/v1", namespace="prod")
    [knp] = load_one(document).kubernetes_policies
    assert knp.pod_selector.matches({"app": "web"}) and not knp.pod_selector.matches({"app": "web", "env": "dev"})
    assert knp.pod_selector.match_expressions[0].operator is Operator.NOT_IN
    [ingress] = knp.ingress
    both, block = ingress.peers
    assert both.namespace_selector is not None and both.namespace_selector.is_empty
    assert block.ip_block is not None and block.ip_block.except_ == ("10.1.0.0/16",)
    assert [(p.protocol, p.port, p.end_port) for p in ingress.ports] == [("TCP", 80, None), ("UDP", 5000, 5010),
                                                                         ("TCP", "http", None)]


@pytest.mark.parametrize(("rule_spec", "message"), [
    ({"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]},
     "spec.ingress[0].from[0].ipBlock.except[0]: must be a strict subset of cidr '10.0.0.0/8'"),
    ({"ports": [{"port": 80, "endPort": 79}]}, "spec.ingress[0].ports[0].endPort: endPort must be greater than or "
                                               "equal to port"),
    ({"ports": [{"protocol": "ICMP"}]}, "spec.ingress[0].ports[0].protocol: unsupported protocol 'ICMP': must be "
                                        "TCP, UDP or SCTP"),
    ({"from": [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}]},
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].values: values must be non-empty for operator In"),
])
def test_bad_kubernetes_policies_are_refused(rule_spec: dict[str, Any], message: str) -> None:
    document = obj("NetworkPolicy", "k", {"ingress": [rule_spec]}, api="networking.k8s.io/v1", namespace="n")
    assert error_of(document) == f"t.yaml: document 1 (NetworkPolicy n/k): {message}"


# --------------------------------------------------------------------------------------------------
# Files, directories, stdin, YAML/JSON/List
# --------------------------------------------------------------------------------------------------


def test_multi_document_yaml_keeps_input_order_and_document_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "---\n" + yaml.safe_dump_all([gnp(name="a"), None, gnp(name="b")]))
    inv = load_paths([path])
    assert [(p.name, p.location.document) for p in inv.policies] == [("a", 1), ("b", 3)]


def test_lists_are_expanded_and_items_are_located(tmp_path: Path) -> None:
    listing: dict[str, Any] = {"apiVersion": "v1", "kind": "GlobalNetworkPolicyList",
               "items": [gnp(name="a"), gnp({"order": "x"}, name="b")]}
    path = write(tmp_path, "l.json", json.dumps(listing))
    with pytest.raises(InputError) as info:
        load_paths([path])
    assert str(info.value) == (f"{path}: document 1 (GlobalNetworkPolicy b): items[1].spec.order: expected a number, "
                               f"got a string ('x')")
    listing["items"][1] = gnp(name="b")
    inv = load_paths([write(tmp_path, "l.yaml", yaml.safe_dump({**listing, "kind": "List"}))])
    assert [p.name for p in inv.policies] == ["a", "b"]


def test_stdin_is_read_for_dash() -> None:
    stream = io.StringIO(yaml.safe_dump(gnp(name="from-stdin")))
    inv = load_paths(["-"], stdin=stream)
    assert inv.policies[0].name == "from-stdin"
    assert inv.policies[0].location.file == "<stdin>"
    with pytest.raises(InputError) as info:
        load_paths(["-"], stdin=io.StringIO("kind: [\n"))
    assert str(info.value).startswith("<stdin>: document 1: line 2, column 1: invalid YAML: ")


def test_directories_are_read_recursively_in_sorted_order(tmp_path: Path) -> None:
    files = {"b.yaml": "b", "a/z.yml": "z", "a/b/c.json": "cj", "c.yaml": "c", ".hidden/x.yaml": "x",
             "a0.yaml": "a0", "notes.txt": "t"}
    for rel, name in files.items():
        write(tmp_path, rel, json.dumps(gnp(name=name)) if rel.endswith(".json") else yaml.safe_dump(gnp(name=name)))
    inv = load_paths([str(tmp_path)])
    # Sorted by path components, so a directory's files come before a sibling file named "a0.yaml".
    assert [p.name for p in inv.policies] == ["cj", "z", "a0", "b", "c"]
    assert inv.policies[0].location.file == str(tmp_path / "a" / "b" / "c.json")


def test_missing_paths_and_empty_directories_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_paths([str(tmp_path / "nope.yaml")])
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: no such file or directory"
    with pytest.raises(InputError) as info:
        load_paths([str(tmp_path)])
    assert str(info.value) == f"{tmp_path}: no *.yaml, *.yml or *.json files in this directory"


@pytest.mark.parametrize(("text", "message"), [
    ("a: b\n c: d\n", "document 1: line 2, column 3: invalid YAML: mapping values are not allowed here"),
    ("{apiVersion: v1, kind: Namespace, metadata: {name: a}}\n---\nkind: x\nkind: y\n",
     "document 2: line 4, column 1: invalid YAML: duplicate key 'kind'"),
    ("---\n[1, 2\n", "document 1: line 3, column 1: invalid YAML: expected ',' or ']', but got '<stream end>'"),
])
def test_malformed_yaml_names_file_document_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(InputError) as info:
        load_paths([path])
    # Messages come from the YAML parser; the location part is ours and exact.
    assert str(info.value).split(": invalid YAML: ")[0] == f"{path}: {message.split(': invalid YAML: ')[0]}"


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{\n  "kind": "Tier",\n  "kind": 1\n}')
    with pytest.raises(InputError) as info:
        load_paths([path])
    assert str(info.value) == f"{path}: document 1: invalid JSON: duplicate key 'kind'"
    path = write(tmp_path, "bad2.json", '{\n  "kind": \n}')
    with pytest.raises(InputError) as info:
        load_paths([path])
    assert str(info.value) == f"{path}: document 1: line 3, column 1: invalid JSON: Expecting value"


def test_load_objects_names_cluster_objects_in_errors() -> None:
    where = Location(file="cluster")
    with pytest.raises(InputError) as info:
        load_objects([(gnp({"order": "x"}, name="live"), where)])
    assert str(info.value) == "cluster: GlobalNetworkPolicy live: spec.order: expected a number, got a string ('x')"


def test_upstream_global_network_policy_override_loads_as_felix_sees_it(upstream: Path) -> None:
    path = upstream / "calico-policies" / "projectcalico-calico" / "global-network-policy-override.yaml"
    [policy] = load_paths([str(path)]).policies
    assert (policy.name, policy.order, policy.types) == ("allow-all-calico-policy", 0.0, BOTH)
    assert [r.action for r in policy.ingress + policy.egress] == [Action.ALLOW, Action.ALLOW]


# --------------------------------------------------------------------------------------------------
# The loader's field tables are exactly the CRD schemas' properties
# --------------------------------------------------------------------------------------------------


def _crd_spec(upstream: Path, plural: str) -> dict[str, Any]:
    path = upstream / "calico" / "crds" / "projectcalico.org-v3" / f"projectcalico.org_{plural}.yaml"
    crd = yaml.safe_load(path.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_known_fields_match_the_calico_crd_schemas(upstream: Path) -> None:
    gnp_schema = _crd_spec(upstream, "globalnetworkpolicies")
    np_schema = _crd_spec(upstream, "networkpolicies")
    rule_schema = gnp_schema["properties"]["spec"]["properties"]["ingress"]["items"]
    entity = rule_schema["properties"]["source"]
    assert set(gnp_schema["properties"]) == loader._OBJECT_FIELDS
    assert set(gnp_schema["properties"]["spec"]["properties"]) == loader._GLOBAL_POLICY_SPEC_FIELDS
    assert set(np_schema["properties"]["spec"]["properties"]) == loader._POLICY_SPEC_FIELDS
    assert set(rule_schema["properties"]) == loader._RULE_FIELDS
    assert set(entity["properties"]) == loader._ENTITY_FIELDS
    assert set(entity["properties"]["serviceAccounts"]["properties"]) == loader._SERVICE_ACCOUNT_FIELDS
    assert set(entity["properties"]["services"]["properties"]) == loader._SERVICE_FIELDS
    assert set(rule_schema["properties"]["icmp"]["properties"]) == loader._ICMP_FIELDS
    assert set(rule_schema["properties"]["http"]["properties"]) == loader._HTTP_FIELDS
    assert set(rule_schema["properties"]["http"]["properties"]["paths"]["items"]["properties"]) == (
        loader._HTTP_PATH_FIELDS)
    assert set(_crd_spec(upstream, "tiers")["properties"]["spec"]["properties"]) == loader._TIER_SPEC_FIELDS
    assert set(_crd_spec(upstream, "tiers")["properties"]) == loader._TIER_OBJECT_FIELDS
    assert set(_crd_spec(upstream, "globalnetworksets")["properties"]["spec"]["properties"]) == (
        loader._NETWORK_SET_SPEC_FIELDS)
    hep = _crd_spec(upstream, "hostendpoints")["properties"]["spec"]["properties"]
    assert set(hep) == loader._HOST_ENDPOINT_SPEC_FIELDS
    assert set(hep["ports"]["items"]["properties"]) == loader._HOST_ENDPOINT_PORT_FIELDS
    assert rule_schema["properties"]["action"]["enum"] == [a.value for a in Action]


# --------------------------------------------------------------------------------------------------
# Never a traceback: any value in any field gives a model or an InputError
# --------------------------------------------------------------------------------------------------

_FULL_POLICY = gnp({
    "tier": "default", "order": 10, "selector": "app == 'a'", "namespaceSelector": "all()", "types": ["Ingress"],
    "ingress": [{
        "action": "Allow", "protocol": "TCP", "ipVersion": 4, "icmp": None, "notProtocol": "UDP",
        "source": {"nets": ["10.0.0.0/8"], "selector": "a == 'b'", "serviceAccounts": {"names": ["x"]}},
        "destination": {"ports": [80, "http"], "notNets": ["10.1.0.0/16"], "services": None},
        "metadata": {"annotations": {"a": "b"}},
    }],
}, labels={"a": "b"})


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2, 70000), st.floats(allow_nan=True), st.text(max_size=8),
                  st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(_paths(_FULL_POLICY)), junk=_JUNK)
def test_any_value_anywhere_loads_or_is_an_input_error(path: tuple[Any, ...], junk: Any) -> None:
    document = copy.deepcopy(_FULL_POLICY)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = junk
    try:
        load_one(document)
    except InputError as exc:
        assert str(exc).startswith("t.yaml: document 1")
