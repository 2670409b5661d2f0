"""The Antrea policy model (crd.antrea.io/v1beta1): Tiers, ClusterGroups/Groups, ACNPs and ANNPs.

The converter produces these; ``antrea/render.py`` turns them into manifests and ``antrea/load.py``
reads manifests (files or the live cluster) back into them, so ``verify`` evaluates exactly what is
applied. Field names mirror the CRDs; ``None`` means "field absent".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from kubectl_antrea_migrate.errors import Location
from kubectl_antrea_migrate.kube.model import IPBlock, LabelMap, LabelSelector

__all__ = [
    "API_VERSION",
    "APPLICATION_TIER",
    "BASELINE_TIER",
    "STATIC_TIERS",
    "AntreaAction",
    "AntreaGroup",
    "AntreaObjects",
    "AntreaPolicy",
    "AntreaRule",
    "AntreaTier",
    "AppliedTo",
    "ICMPSpec",
    "Peer",
    "PolicyKind",
    "PortSpec",
    "ServiceAccountRef",
]

API_VERSION = "crd.antrea.io/v1beta1"

# Antrea's static tiers and their priorities (lower = earlier). 251, 252, 254, 255 are reserved.
STATIC_TIERS: dict[str, int] = {
    "emergency": 50,
    "securityops": 100,
    "networkops": 150,
    "platform": 200,
    "application": 250,
    "baseline": 253,
}
BASELINE_TIER = "baseline"
APPLICATION_TIER = "application"


class AntreaAction(Enum):
    """Rule actions."""

    ALLOW = "Allow"
    DROP = "Drop"
    REJECT = "Reject"
    PASS = "Pass"


class PolicyKind(Enum):
    """ACNP (cluster-scoped) or ANNP (namespaced)."""

    CLUSTER_NETWORK_POLICY = "ClusterNetworkPolicy"
    NETWORK_POLICY = "NetworkPolicy"


@dataclass(frozen=True, slots=True)
class ServiceAccountRef:
    """``serviceAccount: {name, namespace}`` (ACNP appliedTo and peers)."""

    name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class AppliedTo:
    """One appliedTo entry; podSelector and namespaceSelector together are ANDed."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    group: str | None = None
    service_account: ServiceAccountRef | None = None


@dataclass(frozen=True, slots=True)
class Peer:
    """One ``from``/``to`` entry. ``group``, ``service_account`` and ``ip_block`` stand alone in an entry."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    namespaces_match: str | None = None  # ACNP ``namespaces: {match: Self}``
    ip_block: IPBlock | None = None
    group: str | None = None
    service_account: ServiceAccountRef | None = None


@dataclass(frozen=True, slots=True)
class PortSpec:
    """``ports[]`` entry; protocol defaults to TCP; ``port`` may be a named port."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None
    source_port: int | None = None
    source_end_port: int | None = None


@dataclass(frozen=True, slots=True)
class ICMPSpec:
    """``protocols[].icmp`` (matches ICMPv4 on IPv4 flows and ICMPv6 on IPv6 flows)."""

    icmp_type: int | None = None
    icmp_code: int | None = None


@dataclass(frozen=True, slots=True)
class AntreaRule:
    """A rule: (OR of peers) x (OR of ports and protocols); empty peers = everything.

    ``applied_to`` is the rule-level appliedTo (then the policy-level one is empty).
    """

    name: str
    action: AntreaAction
    peers: tuple[Peer, ...] = ()
    ports: tuple[PortSpec, ...] = ()
    protocols: tuple[ICMPSpec, ...] = ()
    applied_to: tuple[AppliedTo, ...] = ()
    enable_logging: bool = False


@dataclass(frozen=True, slots=True)
class AntreaPolicy:
    """An ACNP (``namespace`` None) or ANNP."""

    kind: PolicyKind
    name: str
    namespace: str | None
    tier: str
    priority: float
    applied_to: tuple[AppliedTo, ...] = ()
    ingress: tuple[AntreaRule, ...] = ()
    egress: tuple[AntreaRule, ...] = ()
    labels: LabelMap = field(default_factory=LabelMap)
    annotations: LabelMap = field(default_factory=LabelMap)
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class AntreaTier:
    """A Tier (priority 0-255, unique, immutable)."""

    name: str
    priority: int
    description: str = ""
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class AntreaGroup:
    """A ClusterGroup (``namespace`` None) or Group; at most one of its membership fields is set."""

    name: str
    namespace: str | None
    ip_blocks: tuple[IPBlock, ...] = ()
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    child_groups: tuple[str, ...] = ()
    labels: LabelMap = field(default_factory=LabelMap)
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class AntreaObjects:
    """A complete Antrea policy configuration, in apply order (tiers, groups, policies)."""

    tiers: tuple[AntreaTier, ...] = ()
    groups: tuple[AntreaGroup, ...] = ()
    policies: tuple[AntreaPolicy, ...] = ()
