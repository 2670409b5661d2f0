"""What an evaluator answers for one probe: the verdict and the rule that decided it, per direction.

Both evaluators (``calico_eval``, ``antrea_eval``) return a ``Decision``; ``diff`` compares only the
verdicts, and shows the ``Step``s so a user can see which Calico rule and which Antrea rule disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

__all__ = ["Decision", "DirectionSteps", "PairDecisions", "Step", "Verdict"]


class Verdict(Enum):
    """The forwarding outcome (Antrea Reject and Calico Deny-as-Reject are both DENY)."""

    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Step:
    """The verdict of one direction (egress at the source or ingress at the destination) and its reason.

    Attributes:
        direction: ``"egress"`` or ``"ingress"``.
        verdict: ALLOW or DENY for this direction.
        tier: the tier that decided, or None (profile / default allow).
        policy: e.g. ``GlobalNetworkPolicy deny-all``, ``NetworkPolicy prod/db``, or None.
        rule: e.g. ``ingress[0]``, ``end of tier``, ``profile kns.prod``, ``default allow``.
    """

    direction: str
    verdict: Verdict
    tier: str | None
    policy: str | None
    rule: str

    def describe(self) -> str:
        """One line: ``egress deny by tier default / NetworkPolicy prod/db / egress[1]``."""
        where = " / ".join(p for p in (f"tier {self.tier}" if self.tier else None, self.policy, self.rule) if p)
        return f"{self.direction} {self.verdict.value} by {where}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict of a connection: egress at the source AND ingress at the destination.

    A side that is not a pod is not policed (``None``); ingress is not evaluated once egress denies.
    """

    egress: Step | None
    ingress: Step | None

    @property
    def verdict(self) -> Verdict:
        """DENY when either evaluated direction denies."""
        for step in (self.egress, self.ingress):
            if step is not None and step.verdict is Verdict.DENY:
                return Verdict.DENY
        return Verdict.ALLOW

    @property
    def deciding(self) -> tuple[Step, ...]:
        """The steps worth showing: the denying one, or every allowing one."""
        steps = tuple(s for s in (self.egress, self.ingress) if s is not None)
        denying = tuple(s for s in steps if s.verdict is Verdict.DENY)
        return denying or steps

    def describe(self) -> str:
        """``deny (egress deny by ...)`` or ``allow (egress allow by ...; ingress allow by ...)``."""
        reasons = "; ".join(s.describe() for s in self.deciding) or "not policed"
        return f"{self.verdict.value} ({reasons})"


@dataclass(frozen=True, slots=True)
class DirectionSteps:
    """One direction's steps for a whole traffic list, with the denied ones as a bit mask."""

    steps: tuple[Step, ...]
    denied: int

    @classmethod
    def of(cls, steps: tuple[Step, ...]) -> DirectionSteps:
        """Wrap ``steps``, computing the mask (bit i set = ``steps[i]`` denies)."""
        return cls(steps, sum(1 << i for i, s in enumerate(steps) if s.verdict is Verdict.DENY))


class PairDecisions:
    """The decisions for every traffic between one (source, destination) pair.

    Indexing builds the ``Decision`` on demand: ``verify`` compares only ``allowed_mask`` and needs
    decisions only where the two CNIs differ (or for the matrix).
    """

    __slots__ = ("_egress", "_ingress", "_size")

    def __init__(self, egress: DirectionSteps | None, ingress: DirectionSteps | None, size: int) -> None:
        self._egress = egress
        self._ingress = ingress
        self._size = size

    @property
    def allowed_mask(self) -> int:
        """Bit i set when traffic i is allowed (egress and ingress)."""
        denied = (self._egress.denied if self._egress else 0) | (self._ingress.denied if self._ingress else 0)
        return ((1 << self._size) - 1) & ~denied

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: int) -> Decision:
        egress = self._egress.steps[index] if self._egress is not None else None
        if egress is not None and egress.verdict is Verdict.DENY:
            return Decision(egress, None)
        return Decision(egress, self._ingress.steps[index] if self._ingress is not None else None)

    def __iter__(self) -> Iterator[Decision]:
        return (self[i] for i in range(self._size))
