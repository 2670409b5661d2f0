"""What a pre-flight check reports: findings with a severity, a stable code, a subject and a fix.

``check`` exits 1 when any finding is a blocker (``has_blockers``); the severity, not an exception,
carries that outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

__all__ = ["Finding", "Severity", "has_blockers"]


class Severity(Enum):
    """How much a finding matters to the migration."""

    BLOCKER = "blocker"  # the migration would break traffic or cannot proceed: fix first
    WARNING = "warning"  # works, but something is lost or needs a manual step
    INFO = "info"  # a fact about the cluster the user should know


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of a pre-flight check.

    Attributes:
        severity: blocker, warning or info.
        code: a stable, machine-readable identifier (``podcidr-overlap``), for ``-o json`` users.
        subject: what it is about (``node/worker-1``, ``ippool/default-ipv4-ippool``, ``cluster``).
        message: what is wrong or true, naming the exact objects.
        fix: what to do about it (``""`` for a plain fact).
    """

    severity: Severity
    code: str
    subject: str
    message: str
    fix: str = ""


def has_blockers(findings: Iterable[Finding]) -> bool:
    """True when any finding is a blocker (``check`` then exits 1)."""
    return any(f.severity is Severity.BLOCKER for f in findings)
