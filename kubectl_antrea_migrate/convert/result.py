"""What a conversion returns: the Antrea objects and a fidelity report per input object.

Unsupported constructs are collected, never raised: the caller decides (``check`` exits 1,
``convert`` refuses unless ``--partial``). A refusal always names the field path and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from kubectl_antrea_migrate.antrea.model import AntreaObjects
from kubectl_antrea_migrate.errors import Location

__all__ = [
    "ConversionResult",
    "ConvertOptions",
    "DenyAction",
    "Fidelity",
    "Finding",
    "NamespacedAs",
    "ObjectReport",
]


class Fidelity(Enum):
    """How faithfully one Calico object was converted."""

    EXACT = "exact"
    EXACT_WITH_NOTES = "exact-with-notes"  # same forwarding verdicts, something else differs (e.g. logging)
    UNSUPPORTED = "unsupported"  # refused: field path + reason
    SKIPPED = "skipped"  # not enforced by Calico (staged, rendered knp.default.*) or not a policy kind


class NamespacedAs(Enum):
    """Output kind for namespaced Calico NetworkPolicies."""

    AUTO = "auto"  # Antrea NetworkPolicy (ANNP) when exact, else an ACNP pinned to the namespace
    ACNP = "acnp"  # always ClusterNetworkPolicy


class DenyAction(Enum):
    """Felix's deny action (``iptablesFilterDenyAction``): Calico Deny becomes Antrea Drop or Reject."""

    DROP = "Drop"
    REJECT = "Reject"


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Conversion parameters (policy-mapping §6)."""

    namespaced_as: NamespacedAs = NamespacedAs.AUTO
    calico_version: str = "3.32"  # decides equal-order tie-breaking and v1 naming (§1.1, §1.7)
    deny_action: DenyAction = DenyAction.DROP
    ip_families: frozenset[int] = frozenset({4})  # cluster IP families: {4}, {6} or {4, 6}
    partial: bool = False  # emit the convertible rest and list lost guarantees


@dataclass(frozen=True, slots=True)
class Finding:
    """One note or problem about a Calico object, pointing at the field it concerns."""

    path: str  # field path inside the object, e.g. spec.ingress[0].source.selector
    message: str


@dataclass(frozen=True, slots=True)
class ObjectReport:
    """The fidelity of one input object and the Antrea objects it became."""

    kind: str
    name: str
    namespace: str | None
    fidelity: Fidelity
    notes: tuple[Finding, ...] = ()  # exact-with-notes / skipped: what differs or why skipped
    problems: tuple[Finding, ...] = ()  # unsupported: every reason, with its field path
    outputs: tuple[str, ...] = ()  # "ClusterNetworkPolicy/calico-gnp-x", ...
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class ConversionResult:
    """The conversion of a whole inventory."""

    objects: AntreaObjects
    reports: tuple[ObjectReport, ...]
    notes: tuple[str, ...] = ()  # global assumptions, e.g. "no HostEndpoints in the input: assumed none"
    lost_guarantees: tuple[str, ...] = ()  # with partial: (tier, direction, selector) no longer guaranteed

    @property
    def blocked(self) -> bool:
        """True when any object is unsupported (conversion refused unless partial)."""
        return any(r.fidelity is Fidelity.UNSUPPORTED for r in self.reports)
