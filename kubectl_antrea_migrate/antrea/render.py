"""Antrea model → Kubernetes manifests (plain dicts), in apply order: Tiers, groups, policies.

Field names are exactly the CRD's (``crd.antrea.io/v1beta1``): a rule's peers are ``from`` for
ingress and ``to`` for egress; absent fields are omitted, never rendered as null; key order is fixed
so the YAML/JSON output is byte-identical for the same model. Every manifest this module produces
validates against the upstream CRD openAPIV3Schema (tests/unit/test_antrea_schema.py).
"""

from __future__ import annotations

from typing import Any

from kubectl_antrea_migrate.antrea.model import (
    API_VERSION,
    AntreaGroup,
    AntreaObjects,
    AntreaPolicy,
    AntreaRule,
    AntreaTier,
    AppliedTo,
    ICMPSpec,
    Peer,
    PortSpec,
    ServiceAccountRef,
)
from kubectl_antrea_migrate.kube.model import IPBlock, LabelMap, LabelSelector

__all__ = ["Manifest", "render", "render_group", "render_policy", "render_tier"]

Manifest = dict[str, Any]


def _metadata(name: str, namespace: str | None, labels: LabelMap, annotations: LabelMap | None = None) -> Manifest:
    meta: Manifest = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels.as_dict()
    if annotations:
        meta["annotations"] = annotations.as_dict()
    return meta


def _selector(selector: LabelSelector) -> Manifest:
    out: Manifest = {}
    if selector.match_labels:
        out["matchLabels"] = selector.match_labels.as_dict()
    if selector.match_expressions:
        exprs: list[Manifest] = []
        for req in selector.match_expressions:
            expr: Manifest = {"key": req.key, "operator": req.operator.value}
            if req.values:
                expr["values"] = list(req.values)
            exprs.append(expr)
        out["matchExpressions"] = exprs
    return out


def _ip_block(block: IPBlock) -> Manifest:
    out: Manifest = {"cidr": block.cidr}
    if block.except_:
        out["except"] = list(block.except_)
    return out


def _service_account(ref: ServiceAccountRef) -> Manifest:
    return {"name": ref.name, "namespace": ref.namespace}


def _applied_to(entry: AppliedTo) -> Manifest:
    out: Manifest = {}
    if entry.pod_selector is not None:
        out["podSelector"] = _selector(entry.pod_selector)
    if entry.namespace_selector is not None:
        out["namespaceSelector"] = _selector(entry.namespace_selector)
    if entry.group is not None:
        out["group"] = entry.group
    if entry.service_account is not None:
        out["serviceAccount"] = _service_account(entry.service_account)
    return out


def _peer(peer: Peer) -> Manifest:
    out: Manifest = {}
    if peer.pod_selector is not None:
        out["podSelector"] = _selector(peer.pod_selector)
    if peer.namespace_selector is not None:
        out["namespaceSelector"] = _selector(peer.namespace_selector)
    if peer.namespaces_match is not None:
        out["namespaces"] = {"match": peer.namespaces_match}
    if peer.ip_block is not None:
        out["ipBlock"] = _ip_block(peer.ip_block)
    if peer.group is not None:
        out["group"] = peer.group
    if peer.service_account is not None:
        out["serviceAccount"] = _service_account(peer.service_account)
    return out


def _port(spec: PortSpec) -> Manifest:
    out: Manifest = {"protocol": spec.protocol}
    if spec.port is not None:
        out["port"] = spec.port
    if spec.end_port is not None:
        out["endPort"] = spec.end_port
    if spec.source_port is not None:
        out["sourcePort"] = spec.source_port
    if spec.source_end_port is not None:
        out["sourceEndPort"] = spec.source_end_port
    return out


def _icmp(spec: ICMPSpec) -> Manifest:
    icmp: Manifest = {}
    if spec.icmp_type is not None:
        icmp["icmpType"] = spec.icmp_type
    if spec.icmp_code is not None:
        icmp["icmpCode"] = spec.icmp_code
    return {"icmp": icmp}


def _rule(rule: AntreaRule, peers_key: str) -> Manifest:
    out: Manifest = {"name": rule.name, "action": rule.action.value}
    if rule.applied_to:
        out["appliedTo"] = [_applied_to(a) for a in rule.applied_to]
    if rule.peers:
        out[peers_key] = [_peer(p) for p in rule.peers]
    if rule.ports:
        out["ports"] = [_port(p) for p in rule.ports]
    if rule.protocols:
        out["protocols"] = [_icmp(p) for p in rule.protocols]
    if rule.enable_logging:
        out["enableLogging"] = True
    return out


def render_tier(tier: AntreaTier) -> Manifest:
    """A ``Tier`` manifest."""
    spec: Manifest = {"priority": tier.priority}
    if tier.description:
        spec["description"] = tier.description
    return {"apiVersion": API_VERSION, "kind": "Tier", "metadata": {"name": tier.name}, "spec": spec}


def render_group(group: AntreaGroup) -> Manifest:
    """A ``ClusterGroup`` (no namespace) or ``Group`` manifest."""
    spec: Manifest = {}
    if group.pod_selector is not None:
        spec["podSelector"] = _selector(group.pod_selector)
    if group.namespace_selector is not None:
        spec["namespaceSelector"] = _selector(group.namespace_selector)
    if group.child_groups:
        spec["childGroups"] = list(group.child_groups)
    if group.ip_blocks or not spec:
        # An empty ipBlocks list keeps an empty set's group explicit: it matches nothing.
        spec["ipBlocks"] = [_ip_block(b) for b in group.ip_blocks]
    kind = "ClusterGroup" if group.namespace is None else "Group"
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": _metadata(group.name, group.namespace, group.labels),
        "spec": spec,
    }


def render_policy(policy: AntreaPolicy) -> Manifest:
    """A ``ClusterNetworkPolicy`` or ``NetworkPolicy`` manifest (ingress peers in ``from``, egress in ``to``)."""
    # Integral priorities print as integers (``priority: 3``), which reads better and is the same number.
    priority = int(policy.priority) if float(policy.priority).is_integer() else policy.priority
    spec: Manifest = {"tier": policy.tier, "priority": priority}
    if policy.applied_to:
        spec["appliedTo"] = [_applied_to(a) for a in policy.applied_to]
    if policy.ingress:
        spec["ingress"] = [_rule(r, "from") for r in policy.ingress]
    if policy.egress:
        spec["egress"] = [_rule(r, "to") for r in policy.egress]
    return {
        "apiVersion": API_VERSION,
        "kind": policy.kind.value,
        "metadata": _metadata(policy.name, policy.namespace, policy.labels, policy.annotations),
        "spec": spec,
    }


def render(objects: AntreaObjects) -> list[Manifest]:
    """All manifests in apply order: Tiers, then groups, then policies."""
    return (
        [render_tier(t) for t in objects.tiers]
        + [render_group(g) for g in objects.groups]
        + [render_policy(p) for p in objects.policies]
    )
