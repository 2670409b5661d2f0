"""Antrea manifests (``crd.antrea.io/v1beta1`` dicts, from files or the live cluster) → ``AntreaObjects``.

The sole reader of raw Antrea dicts: it validates what the evaluators rely on (types, enums, CIDRs,
selector operators, appliedTo at one level only) and raises ``InputError`` with the document and
field path on the first bad value. Fields that do not change a pod-to-pod verdict the model can
express (``nodeSelector``, ``fqdn``, ``toServices``, ``serviceReference``, ``l7Protocols``, IGMP) are
not modelled: a peer or group made only of them matches nothing here. Antrea kinds other than the
five policy kinds (Egress, IPPool, Traceflow, ...) are skipped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from kubectl_antrea_migrate.antrea.model import (
    AntreaAction,
    AntreaGroup,
    AntreaObjects,
    AntreaPolicy,
    AntreaRule,
    AntreaTier,
    AppliedTo,
    ICMPSpec,
    Peer,
    PolicyKind,
    PortSpec,
    ServiceAccountRef,
)
from kubectl_antrea_migrate.errors import InputError, Location
from kubectl_antrea_migrate.kube.model import IPBlock, LabelMap, LabelSelector, Operator, Requirement

__all__ = ["ANTREA_GROUP", "POLICY_KINDS", "is_antrea_document", "load_antrea"]

ANTREA_GROUP = "crd.antrea.io"
POLICY_KINDS = ("Tier", "ClusterGroup", "Group", "ClusterNetworkPolicy", "NetworkPolicy")
_PORT_PROTOCOLS = ("TCP", "UDP", "SCTP")


def is_antrea_document(document: object) -> bool:
    """True for a dict whose ``apiVersion`` is in the ``crd.antrea.io`` group."""
    if not isinstance(document, Mapping):
        return False
    api_version = document.get("apiVersion")
    return isinstance(api_version, str) and api_version.split("/")[0] == ANTREA_GROUP


def load_antrea(documents: Iterable[tuple[object, Location]]) -> AntreaObjects:
    """Turn Antrea manifests into the model.

    Args:
        documents: (parsed YAML/JSON object, where it came from) pairs; the location's ``path`` is
            ignored and replaced by field paths inside the object.

    Returns:
        Tiers, groups and policies in input order.

    Raises:
        InputError: a document is not an Antrea object, or a field has a bad type or value.
    """
    tiers: list[AntreaTier] = []
    groups: list[AntreaGroup] = []
    policies: list[AntreaPolicy] = []
    for document, where in _expand_lists(documents):
        if not is_antrea_document(document):
            raise InputError(f"not an Antrea object (apiVersion {ANTREA_GROUP}/...)", where.child("apiVersion"))
        assert isinstance(document, Mapping)
        kind = document.get("kind")
        if kind not in POLICY_KINDS:
            continue
        metadata = _mapping(document.get("metadata"), where.child("metadata"), required=True)
        name = _string(metadata.get("name"), where.child("metadata.name"), required=True) or ""
        loc = Location(where.file, where.document, str(kind), name)  # field paths replace any items[i]
        namespace = metadata.get("namespace") if kind in ("Group", "NetworkPolicy") else None
        if kind in ("Group", "NetworkPolicy"):
            namespace = _string(namespace, loc.at("metadata.namespace"), required=True)
        spec = _mapping(document.get("spec"), loc.at("spec"), required=True)
        labels = LabelMap(_string_map(metadata.get("labels"), loc.at("metadata.labels")))
        if kind == "Tier":
            tiers.append(_tier(name, spec, loc))
        elif kind in ("ClusterGroup", "Group"):
            groups.append(_group(name, namespace, spec, labels, loc))
        else:
            annotations = LabelMap(_string_map(metadata.get("annotations"), loc.at("metadata.annotations")))
            policies.append(_policy(str(kind), name, namespace, spec, labels, annotations, loc))
    return AntreaObjects(tuple(tiers), tuple(groups), tuple(policies))


def _expand_lists(documents: Iterable[tuple[object, Location]]) -> Iterable[tuple[object, Location]]:
    """``kubectl get ... -o yaml`` writes one ``kind: List``; its items are the objects."""
    for document, where in documents:
        if isinstance(document, Mapping) and document.get("kind") == "List" and "items" in document:
            for i, item in enumerate(_list(document.get("items"), where.at("items"))):
                yield item, where.at(f"items[{i}]")
        else:
            yield document, where


# --- objects ---------------------------------------------------------------------------------------


def _tier(name: str, spec: Mapping[str, Any], loc: Location) -> AntreaTier:
    priority = _int(spec.get("priority"), loc.at("spec.priority"), required=True, low=0, high=255)
    assert priority is not None
    description = _string(spec.get("description"), loc.at("spec.description")) or ""
    return AntreaTier(name, priority, description, loc)


def _group(name: str, namespace: str | None, spec: Mapping[str, Any], labels: LabelMap, loc: Location) -> AntreaGroup:
    blocks = [
        _ip_block(b, loc.at(f"spec.ipBlocks[{i}]"))
        for i, b in enumerate(_list(spec.get("ipBlocks"), loc.at("spec.ipBlocks")))
    ]
    if spec.get("ipBlock") is not None:  # the deprecated singular field
        blocks.append(_ip_block(spec["ipBlock"], loc.at("spec.ipBlock")))
    children = tuple(
        _string(c, loc.at(f"spec.childGroups[{i}]"), required=True) or ""
        for i, c in enumerate(_list(spec.get("childGroups"), loc.at("spec.childGroups")))
    )
    return AntreaGroup(
        name,
        namespace,
        ip_blocks=tuple(blocks),
        pod_selector=_selector(spec.get("podSelector"), loc.at("spec.podSelector")),
        namespace_selector=_selector(spec.get("namespaceSelector"), loc.at("spec.namespaceSelector")),
        child_groups=children,
        labels=labels,
        location=loc,
    )


def _policy(
    kind: str,
    name: str,
    namespace: str | None,
    spec: Mapping[str, Any],
    labels: LabelMap,
    annotations: LabelMap,
    loc: Location,
) -> AntreaPolicy:
    priority = _number(spec.get("priority"), loc.at("spec.priority"))
    tier = _string(spec.get("tier"), loc.at("spec.tier")) or "application"
    applied_to = _applied_to_list(spec.get("appliedTo"), loc.at("spec.appliedTo"))
    rules: dict[str, tuple[AntreaRule, ...]] = {}
    for direction, peer_field in (("ingress", "from"), ("egress", "to")):
        items = _list(spec.get(direction), loc.at(f"spec.{direction}"))
        rules[direction] = tuple(
            _rule(item, peer_field, loc.at(f"spec.{direction}[{i}]"), bool(applied_to)) for i, item in enumerate(items)
        )
    every_rule = (*rules["ingress"], *rules["egress"])
    if not applied_to and not every_rule:
        raise InputError("appliedTo is required (at policy level or in every rule)", loc.at("spec.appliedTo"))
    if not applied_to and any(not r.applied_to for r in every_rule):
        raise InputError("appliedTo must be set at policy level or in every rule", loc.at("spec"))
    return AntreaPolicy(
        PolicyKind(kind),
        name,
        namespace,
        tier,
        priority,
        applied_to,
        rules["ingress"],
        rules["egress"],
        labels,
        annotations,
        loc,
    )


def _rule(item: object, peer_field: str, loc: Location, policy_level_applied_to: bool) -> AntreaRule:
    rule = _mapping(item, loc, required=True)
    action_text = _string(rule.get("action"), loc.child("action"), required=True)
    try:
        action = AntreaAction(action_text)
    except ValueError:
        raise InputError(
            f"action must be one of Allow, Drop, Reject, Pass (got {action_text!r})", loc.child("action")
        ) from None
    applied_to = _applied_to_list(rule.get("appliedTo"), loc.child("appliedTo"))
    if applied_to and policy_level_applied_to:
        raise InputError("appliedTo is set both on the policy and on this rule", loc.child("appliedTo"))
    peers = tuple(
        _peer(p, loc.child(f"{peer_field}[{i}]"))
        for i, p in enumerate(_list(rule.get(peer_field), loc.child(f"{peer_field}")))
    )
    ports = tuple(
        _port(p, loc.child(f"ports[{i}]")) for i, p in enumerate(_list(rule.get("ports"), loc.child("ports")))
    )
    protocols = tuple(
        icmp
        for i, p in enumerate(_list(rule.get("protocols"), loc.child("protocols")))
        if (icmp := _icmp(p, loc.child(f"protocols[{i}]"))) is not None
    )
    name = _string(rule.get("name"), loc.child("name")) or ""
    logging = rule.get("enableLogging") is True
    return AntreaRule(name, action, peers, ports, protocols, applied_to, logging)


def _applied_to_list(value: object, loc: Location) -> tuple[AppliedTo, ...]:
    out = []
    for i, item in enumerate(_list(value, loc)):
        at = loc.child(f"[{i}]")
        entry = _mapping(item, at, required=True)
        out.append(
            AppliedTo(
                pod_selector=_selector(entry.get("podSelector"), at.child("podSelector")),
                namespace_selector=_selector(entry.get("namespaceSelector"), at.child("namespaceSelector")),
                group=_string(entry.get("group"), at.child("group")),
                service_account=_service_account(entry.get("serviceAccount"), at.child("serviceAccount")),
            )
        )
    return tuple(out)


def _peer(item: object, loc: Location) -> Peer:
    entry = _mapping(item, loc, required=True)
    namespaces = _mapping(entry.get("namespaces"), loc.child("namespaces"))
    match = _string(namespaces.get("match"), loc.child("namespaces.match")) if namespaces else None
    if match is not None and match != "Self":
        # sameLabels is not modelled; refuse rather than evaluate it wrongly.
        raise InputError(f"namespaces.match {match!r} is not supported by verify", loc.child("namespaces"))
    if namespaces and namespaces.get("sameLabels"):
        raise InputError("namespaces.sameLabels is not supported by verify", loc.child("namespaces"))
    block = entry.get("ipBlock")
    return Peer(
        pod_selector=_selector(entry.get("podSelector"), loc.child("podSelector")),
        namespace_selector=_selector(entry.get("namespaceSelector"), loc.child("namespaceSelector")),
        namespaces_match=match,
        ip_block=_ip_block(block, loc.child("ipBlock")) if block is not None else None,
        group=_string(entry.get("group"), loc.child("group")),
        service_account=_service_account(entry.get("serviceAccount"), loc.child("serviceAccount")),
    )


def _port(item: object, loc: Location) -> PortSpec:
    entry = _mapping(item, loc, required=True)
    protocol = (_string(entry.get("protocol"), loc.child("protocol")) or "TCP").upper()
    if protocol not in _PORT_PROTOCOLS:
        raise InputError(f"protocol must be TCP, UDP or SCTP (got {protocol!r})", loc.child("protocol"))
    raw_port = entry.get("port")
    port: int | str | None
    if isinstance(raw_port, str) and not raw_port.isdigit():
        port = raw_port
    elif raw_port is None:
        port = None
    else:
        port = _int(int(raw_port) if isinstance(raw_port, str) else raw_port, loc.child("port"), low=0, high=65535)
    end_port = _int(entry.get("endPort"), loc.child("endPort"), low=0, high=65535)
    if end_port is not None and not (isinstance(port, int) and port <= end_port):
        raise InputError("endPort needs a numeric port not above it", loc.child("endPort"))
    source_port = _int(entry.get("sourcePort"), loc.child("sourcePort"), low=0, high=65535)
    source_end = _int(entry.get("sourceEndPort"), loc.child("sourceEndPort"), low=0, high=65535)
    if source_end is not None and (source_port is None or source_port > source_end):
        raise InputError("sourceEndPort needs a sourcePort not above it", loc.child("sourceEndPort"))
    return PortSpec(protocol, port, end_port, source_port, source_end)


def _icmp(item: object, loc: Location) -> ICMPSpec | None:
    entry = _mapping(item, loc, required=True)
    if "icmp" not in entry:
        return None  # igmp: multicast membership, never pod-to-pod unicast
    icmp = _mapping(entry.get("icmp"), loc.child("icmp")) or {}
    icmp_type = _int(icmp.get("icmpType"), loc.child("icmp.icmpType"), low=0, high=255)
    icmp_code = _int(icmp.get("icmpCode"), loc.child("icmp.icmpCode"), low=0, high=255)
    return ICMPSpec(icmp_type, icmp_code)


def _ip_block(item: object, loc: Location) -> IPBlock:
    entry = _mapping(item, loc, required=True)
    cidr = _cidr(entry.get("cidr"), loc.child("cidr"))
    excepts = tuple(
        _cidr(e, loc.child(f"except[{i}]")) for i, e in enumerate(_list(entry.get("except"), loc.child("except")))
    )
    return IPBlock(cidr, excepts)


def _service_account(item: object, loc: Location) -> ServiceAccountRef | None:
    if item is None:
        return None
    entry = _mapping(item, loc, required=True)
    name = _string(entry.get("name"), loc.child("name"), required=True) or ""
    namespace = _string(entry.get("namespace"), loc.child("namespace"), required=True) or ""
    return ServiceAccountRef(name, namespace)


def _selector(item: object, loc: Location) -> LabelSelector | None:
    if item is None:
        return None
    entry = _mapping(item, loc, required=True)
    labels = _string_map(entry.get("matchLabels"), loc.child("matchLabels"))
    requirements = []
    for i, raw in enumerate(_list(entry.get("matchExpressions"), loc.child("matchExpressions"))):
        at = loc.child(f"matchExpressions[{i}]")
        expr = _mapping(raw, at, required=True)
        key = _string(expr.get("key"), at.child("key"), required=True) or ""
        op_text = _string(expr.get("operator"), at.child("operator"), required=True)
        try:
            operator = Operator(op_text)
        except ValueError:
            raise InputError(
                f"operator must be In, NotIn, Exists or DoesNotExist (got {op_text!r})", at.child("operator")
            ) from None
        values = tuple(
            _string(v, at.child(f"values[{j}]"), required=True) or ""
            for j, v in enumerate(_list(expr.get("values"), at.child("values")))
        )
        if operator in (Operator.IN, Operator.NOT_IN) and not values:
            raise InputError(f"{operator.value} needs at least one value", at.child("values"))
        if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
            raise InputError(f"{operator.value} takes no values", at.child("values"))
        requirements.append(Requirement(key, operator, values))
    return LabelSelector(LabelMap(labels), tuple(requirements))


# --- scalars ---------------------------------------------------------------------------------------


def _mapping(value: object, loc: Location, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"expected a mapping, got {_type_name(value)}", loc)
    return value


def _list(value: object, loc: Location) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"expected a list, got {_type_name(value)}", loc)
    return value


def _string(value: object, loc: Location, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InputError("required field is missing", loc)
        return None
    if not isinstance(value, str):
        raise InputError(f"expected a string, got {_type_name(value)}", loc)
    return value


def _string_map(value: object, loc: Location) -> dict[str, str]:
    entries = _mapping(value, loc)
    out: dict[str, str] = {}
    for key, item in entries.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InputError(f"expected string keys and values (got {key!r}: {item!r})", loc)
        out[key] = item
    return out


def _int(value: object, loc: Location, *, required: bool = False, low: int, high: int) -> int | None:
    if value is None:
        if required:
            raise InputError("required field is missing", loc)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"expected an integer, got {_type_name(value)}", loc)
    if not low <= value <= high:
        raise InputError(f"must be between {low} and {high} (got {value})", loc)
    return value


def _number(value: object, loc: Location) -> float:
    if value is None:
        raise InputError("required field is missing", loc)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"expected a number, got {_type_name(value)}", loc)
    if not 1.0 <= float(value) <= 10000.0:
        raise InputError(f"must be between 1 and 10000 (got {value})", loc)
    return float(value)


def _cidr(value: object, loc: Location) -> str:
    text = _string(value, loc, required=True) or ""
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise InputError(f"not a CIDR: {text!r}", loc) from None


def _type_name(value: object) -> str:
    return "nothing" if value is None else type(value).__name__
