"""NetworkSets and GlobalNetworkSets: their ClusterGroups (§4.6) and how rule selectors see them (§4.2).

A Calico rule selector matches a set through the set's labels as Felix sees them: its own (merged)
labels, plus ``projectcalico.org/namespace`` and the inherited ``pcns.*`` namespace labels for a
namespaced set. Which sets a selector covers is resolved here, at conversion time: exact for the
given inventory, and to be re-run when sets change. A namespace missing from the input still has
its name labels (``kubernetes.io/metadata.name`` is set by Kubernetes itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kubectl_antrea_migrate.antrea.model import AntreaGroup
from kubectl_antrea_migrate.calico.model import NetworkSet
from kubectl_antrea_migrate.calico.selector.ast import And, Eq, Selector
from kubectl_antrea_migrate.convert.cidrs import ip_blocks
from kubectl_antrea_migrate.convert.names import candidate_name
from kubectl_antrea_migrate.kube.model import Namespace

__all__ = ["SetIndex", "SetView", "group_candidate", "group_for", "group_key", "matching", "set_views"]

_NS_LABEL = "projectcalico.org/namespace"
_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True, slots=True)
class SetView:
    """A network set with the labels Calico selectors evaluate against."""

    netset: NetworkSet
    labels: Mapping[str, str]  # a plain dict: matched once per rule selector, so lookups must be O(1)


def group_key(netset: NetworkSet) -> str:
    """The unique key of the set's ClusterGroup (input to name allocation)."""
    if netset.namespace is None:
        return f"gns/{netset.name}"
    return f"ns/{netset.namespace}/{netset.name}"


def group_candidate(netset: NetworkSet) -> str:
    """``calico-gns-<name>`` or ``calico-ns-<ns>-<name>``."""
    if netset.namespace is None:
        return candidate_name("calico-gns", netset.name)
    return candidate_name("calico-ns", netset.namespace, netset.name)


def _namespace_labels(namespace: str, namespaces: Mapping[str, Namespace]) -> dict[str, str]:
    known = namespaces.get(namespace)
    labels = dict(known.labels) if known else {}
    labels.setdefault(_NAME_LABEL, namespace)
    labels["projectcalico.org/name"] = namespace
    return labels


def set_views(netsets: tuple[NetworkSet, ...], namespaces: tuple[Namespace, ...]) -> tuple[SetView, ...]:
    """Every set with its effective selector labels (§1.2 "Endpoint labels that Calico adds")."""
    by_name = {ns.name: ns for ns in namespaces}
    views: list[SetView] = []
    for netset in netsets:
        labels = dict(netset.labels)
        if netset.namespace is not None:
            labels[_NS_LABEL] = netset.namespace
            for key, value in _namespace_labels(netset.namespace, by_name).items():
                labels[f"pcns.{key}"] = value
        views.append(SetView(netset, labels))
    return tuple(views)


def matching(views: tuple[SetView, ...], selector: Selector) -> tuple[SetView, ...]:
    """The sets whose labels the (rewritten) Calico selector matches."""
    return tuple(v for v in views if selector.evaluate(v.labels))


def _required_pairs(selector: Selector) -> list[tuple[str, str]]:
    # Equalities every match must satisfy: the top-level conjunction's ``k == 'v'`` atoms.
    if isinstance(selector, Eq):
        return [(selector.key, selector.value)]
    if isinstance(selector, And):
        return [pair for op in selector.operands for pair in _required_pairs(op)]
    return []


class SetIndex:
    """The network sets, indexed by label pair so a selector only evaluates plausible candidates.

    Namespaced rule selectors always carry ``projectcalico.org/namespace == '<ns>'``, so with many
    sets across many namespaces the index turns a scan of every set into a lookup.
    """

    def __init__(self, views: tuple[SetView, ...] = ()) -> None:
        self.views = views
        self._by_pair: dict[tuple[str, str], list[int]] = {}
        for i, view in enumerate(views):
            for pair in view.labels.items():
                self._by_pair.setdefault(pair, []).append(i)

    def matching(self, selector: Selector) -> tuple[SetView, ...]:
        """The sets whose labels ``selector`` matches, in input order."""
        pairs = _required_pairs(selector)
        if not pairs:
            return matching(self.views, selector)
        candidates = min((self._by_pair.get(pair, []) for pair in pairs), key=len)
        return tuple(self.views[i] for i in candidates if selector.evaluate(self.views[i].labels))


def group_for(netset: NetworkSet, name: str) -> AntreaGroup:
    """The ClusterGroup holding the set's CIDRs (an empty ``nets`` gives an empty group: matches nothing)."""
    return AntreaGroup(
        name=name,
        namespace=None,
        ip_blocks=ip_blocks(netset.nets, ()),
        location=netset.location,
    )
