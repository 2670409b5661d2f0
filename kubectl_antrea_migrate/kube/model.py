"""Kubernetes objects the migration reasons about, as frozen dataclasses (core: no client imports).

``LabelSelector.matches`` follows ``k8s.io/apimachinery`` ``Requirement.Matches``: ``NotIn`` and
``DoesNotExist`` are true when the key is absent; ``In``/``NotIn`` need at least one value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum

from kubectl_antrea_migrate.errors import Location

__all__ = [
    "ContainerPort",
    "IPBlock",
    "KubernetesNetworkPolicy",
    "LabelMap",
    "LabelSelector",
    "Namespace",
    "NetworkPolicyPeer",
    "NetworkPolicyPort",
    "NetworkPolicyRule",
    "Operator",
    "Pod",
    "Requirement",
    "ServiceAccount",
]


class LabelMap(Mapping[str, str]):
    """An immutable, hashable label map, so models holding labels stay frozen and comparable.

    Backed by a dict for O(1) lookups (selectors evaluate labels millions of times in ``verify``)
    plus the sorted item tuple that gives equality, hashing and a deterministic order.
    """

    __slots__ = ("_hash", "_items", "_map")

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple(sorted((items or {}).items()))
        self._map: dict[str, str] = dict(self._items)
        self._hash: int | None = None

    def __getitem__(self, key: str) -> str:
        return self._map[key]

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        return self._map.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._map

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._items)
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LabelMap):
            return self is other or self._items == other._items
        if isinstance(other, Mapping):
            return self._map == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"LabelMap({self._map!r})"

    def as_dict(self) -> dict[str, str]:
        return dict(self._items)

    def with_labels(self, extra: Mapping[str, str]) -> LabelMap:
        """A copy with ``extra`` added (``extra`` wins)."""
        merged = dict(self._items)
        merged.update(extra)
        return LabelMap(merged)


class Operator(Enum):
    """Kubernetes label selector operators."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry (``matchLabels`` entries are ``In`` with one value)."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.operator is Operator.IN:
            return value is not None and value in self.values
        if self.operator is Operator.NOT_IN:
            return value is None or value not in self.values
        if self.operator is Operator.EXISTS:
            return value is not None
        return value is None


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A Kubernetes label selector; the empty selector matches everything."""

    match_labels: LabelMap = field(default_factory=LabelMap)
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace; ``labels`` include ``kubernetes.io/metadata.name`` when the loader saw it or added it."""

    name: str
    labels: LabelMap = field(default_factory=LabelMap)
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A service account (its labels matter to Calico ``pcsa.*`` selectors)."""

    name: str
    namespace: str
    labels: LabelMap = field(default_factory=LabelMap)
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class ContainerPort:
    """A container port; named ports are what Calico/Antrea named-port rules resolve against."""

    port: int
    protocol: str = "TCP"
    name: str = ""


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod as the policies see it."""

    name: str
    namespace: str
    labels: LabelMap = field(default_factory=LabelMap)
    service_account: str = "default"
    ips: tuple[str, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False
    node_name: str = ""
    phase: str = ""
    restart_policy: str = "Always"
    uid: str = ""
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class IPBlock:
    """``ipBlock``: a CIDR minus exceptions."""

    cidr: str
    except_: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NetworkPolicyPort:
    """``ports[]`` of a K8s NetworkPolicy rule; ``port`` may be a number, a name, or None (all ports)."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None


@dataclass(frozen=True, slots=True)
class NetworkPolicyPeer:
    """``from[]``/``to[]`` entry: podSelector and/or namespaceSelector, or ipBlock."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


@dataclass(frozen=True, slots=True)
class NetworkPolicyRule:
    """An ingress or egress rule; empty ``peers`` = all peers, empty ``ports`` = all ports."""

    peers: tuple[NetworkPolicyPeer, ...] = ()
    ports: tuple[NetworkPolicyPort, ...] = ()


@dataclass(frozen=True, slots=True)
class KubernetesNetworkPolicy:
    """``networking.k8s.io/v1`` NetworkPolicy; ``policy_types`` already defaulted as the apiserver does."""

    name: str
    namespace: str
    pod_selector: LabelSelector
    policy_types: frozenset[str]  # {"Ingress", "Egress"}
    ingress: tuple[NetworkPolicyRule, ...] = ()
    egress: tuple[NetworkPolicyRule, ...] = ()
    location: Location = field(default_factory=Location, compare=False)
