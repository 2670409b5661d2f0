"""The Calico policy model after loading: validated, defaulted, names normalized (policy-mapping §1).

Raw dicts stop at ``calico/load.py``; everything after it (converter, verify, pre-flight) trusts these
dataclasses. Selectors are parsed ASTs (``calico/selector/ast.py``); CIDRs are ``ipaddress`` networks
with host bits masked; actions, directions and protocols are closed vocabularies.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum

from kubectl_antrea_migrate.calico.selector.ast import Selector
from kubectl_antrea_migrate.errors import Location
from kubectl_antrea_migrate.kube.model import (
    KubernetesNetworkPolicy,
    LabelMap,
    Namespace,
    Pod,
    ServiceAccount,
)

__all__ = [
    "DEFAULT_TIER",
    "PROTOCOL_NUMBERS",
    "Action",
    "Direction",
    "EntityRule",
    "HTTPMatch",
    "HostEndpoint",
    "ICMPMatch",
    "Inventory",
    "NamedPort",
    "Network",
    "NetworkSet",
    "Policy",
    "PolicyKind",
    "Port",
    "PortRange",
    "Rule",
    "ServiceAccountMatch",
    "ServiceMatch",
    "Skipped",
    "SourceFormat",
    "Tier",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_TIER = "default"


class Action(Enum):
    """Rule actions (Felix lowercases on read, so ``allow`` from raw v1 objects loads as ALLOW)."""

    ALLOW = "Allow"
    DENY = "Deny"
    LOG = "Log"
    PASS = "Pass"


class Direction(Enum):
    """Policy types."""

    INGRESS = "Ingress"
    EGRESS = "Egress"


class PolicyKind(Enum):
    """Which Calico kind a policy came from."""

    NETWORK_POLICY = "NetworkPolicy"
    GLOBAL_NETWORK_POLICY = "GlobalNetworkPolicy"


class SourceFormat(Enum):
    """API group the object was read from (defaulting rules differ: §1.1)."""

    V3 = "projectcalico.org/v3"
    V1 = "crd.projectcalico.org/v1"


# Calico protocol names (case-insensitive on input) -> IP protocol numbers.
PROTOCOL_NUMBERS: dict[str, int] = {
    "tcp": 6,
    "udp": 17,
    "icmp": 1,
    "icmpv6": 58,
    "sctp": 132,
    "udplite": 136,
}


@dataclass(frozen=True, slots=True)
class PortRange:
    """A numeric port or inclusive range ``first:last`` (a single port has first == last)."""

    first: int
    last: int


@dataclass(frozen=True, slots=True)
class NamedPort:
    """A named container port (matches ``^[a-zA-Z0-9_.-]{1,128}$``)."""

    name: str


Port = PortRange | NamedPort


@dataclass(frozen=True, slots=True)
class ICMPMatch:
    """``icmp``/``notICMP``: ``code`` requires ``type``."""

    type: int | None = None
    code: int | None = None


@dataclass(frozen=True, slots=True)
class ServiceAccountMatch:
    """``serviceAccounts``: names (OR) and/or a selector over ServiceAccount labels."""

    names: tuple[str, ...] = ()
    selector: Selector | None = None


@dataclass(frozen=True, slots=True)
class ServiceMatch:
    """``services``: a Service by name; empty namespace = the policy's namespace."""

    name: str
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class HTTPMatch:
    """``http`` (application-layer policy); kept so the converter can refuse it precisely."""

    methods: tuple[str, ...] = ()
    paths: tuple[tuple[str, str], ...] = ()  # ("exact"|"prefix", value)


@dataclass(frozen=True, slots=True)
class EntityRule:
    """``source``/``destination``; every field None/empty means "not given"."""

    nets: tuple[Network, ...] = ()
    not_nets: tuple[Network, ...] = ()
    selector: Selector | None = None
    not_selector: Selector | None = None
    namespace_selector: Selector | None = None
    ports: tuple[Port, ...] = ()
    not_ports: tuple[Port, ...] = ()
    service_accounts: ServiceAccountMatch | None = None
    services: ServiceMatch | None = None
    location: Location = field(default_factory=Location, compare=False)

    @property
    def has_identity(self) -> bool:
        """True when any selector-like field is set (not nets/ports)."""
        return (
            self.selector is not None
            or self.not_selector is not None
            or self.namespace_selector is not None
            or self.service_accounts is not None
            or self.services is not None
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """One ingress or egress rule; all fields are ANDed."""

    action: Action
    protocol: int | None = None
    not_protocol: int | None = None
    icmp: ICMPMatch | None = None
    not_icmp: ICMPMatch | None = None
    ip_version: int | None = None
    source: EntityRule = field(default_factory=EntityRule)
    destination: EntityRule = field(default_factory=EntityRule)
    http: HTTPMatch | None = None
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class Policy:
    """A NetworkPolicy (``namespace`` set) or GlobalNetworkPolicy, as Felix would enforce it.

    ``name`` is the v3 name (v1 prefixes/annotation resolved); ``types`` is already defaulted;
    ``selector`` is ``All()`` when empty. Rules of a direction not in ``types`` are kept as given
    (the converter/evaluators ignore them) so reports can mention them.
    """

    kind: PolicyKind
    name: str
    namespace: str | None
    tier: str
    order: float | None
    selector: Selector
    types: frozenset[Direction]
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    namespace_selector: Selector | None = None  # GNP only
    service_account_selector: Selector | None = None
    do_not_track: bool = False
    pre_dnat: bool = False
    apply_on_forward: bool = False
    labels: LabelMap = field(default_factory=LabelMap)
    source_format: SourceFormat = SourceFormat.V3
    warnings: tuple[str, ...] = ()  # loader notes, e.g. "types missing on a v1 object: Ingress+Egress"
    location: Location = field(default_factory=Location, compare=False)

    @property
    def is_global(self) -> bool:
        return self.kind is PolicyKind.GLOBAL_NETWORK_POLICY

    @property
    def key(self) -> str:
        """``<ns>/<name>`` or ``<name>``: unique per kind."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress


@dataclass(frozen=True, slots=True)
class Tier:
    """A Calico tier; ``order`` None = last; default action Deny unless Pass."""

    name: str
    order: float | None
    default_action: Action = Action.DENY
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class NetworkSet:
    """A NetworkSet (``namespace`` set) or GlobalNetworkSet (``namespace`` None); labels already merged (§1.1)."""

    name: str
    namespace: str | None
    nets: tuple[Network, ...]
    labels: LabelMap = field(default_factory=LabelMap)
    location: Location = field(default_factory=Location, compare=False)

    @property
    def is_global(self) -> bool:
        return self.namespace is None


@dataclass(frozen=True, slots=True)
class HostEndpoint:
    """A HostEndpoint (only used to refuse host-IP semantics precisely)."""

    name: str
    node: str
    interface_name: str = ""
    expected_ips: tuple[str, ...] = ()
    labels: LabelMap = field(default_factory=LabelMap)
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input object deliberately not converted (staged, rendered ``knp.default.*``, other kinds)."""

    kind: str
    name: str
    namespace: str | None
    reason: str
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class Inventory:
    """Everything loaded from the inputs: Calico objects plus Kubernetes context."""

    policies: tuple[Policy, ...] = ()
    tiers: tuple[Tier, ...] = ()
    network_sets: tuple[NetworkSet, ...] = ()
    host_endpoints: tuple[HostEndpoint, ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    service_accounts: tuple[ServiceAccount, ...] = ()
    kubernetes_policies: tuple[KubernetesNetworkPolicy, ...] = ()
    pods: tuple[Pod, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    # True when HostEndpoints were part of the input (a live cluster, or a file with any HEP):
    # without an inventory the converter must state the assumption "no HostEndpoints".
    host_endpoints_known: bool = False
