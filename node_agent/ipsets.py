"""Calico's ipsets (``cali40*`` for IPv4, ``cali60*`` for IPv6): list them, destroy them.

The kernel refuses to destroy a set that a rule still references, so destruction comes after the
netfilter cleanup of both backends; a set still in use is reported FAILED with the kernel's words,
never forced. Sets are listed with ``ipset list -n`` (names only: cheap even for huge sets).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_antrea_migrate.nodestate.model import Outcome, Result
from node_agent import _commands
from node_agent._commands import MissingBinaryError

__all__ = ["CALICO_IPSET_PREFIXES", "DestroySet", "IpsetScan", "Ipsets"]

CALICO_IPSET_PREFIXES = ("cali40", "cali60")


@dataclass(frozen=True, slots=True)
class IpsetScan:
    """Calico's sets in one namespace; ``available=False`` (with ``error``) when ``ipset`` is missing."""

    available: bool
    calico_sets: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class DestroySet:
    """Destroy one Calico ipset."""

    name: str

    def describe(self) -> tuple[str, str, str]:
        """(subsystem, object, action) for the outcome."""
        return "ipsets", f"ipset={self.name}", "destroy"


class Ipsets:
    """The ipsets of one network namespace (``None``: the node's own)."""

    def __init__(self, netns: str | None = None) -> None:
        """Aim at ``netns``."""
        self.netns = netns

    def scan(self) -> IpsetScan:
        """List Calico's sets. Never raises for a missing or failing ``ipset``: see ``error``.

        Raises:
            OSError: the namespace cannot be entered.
        """
        names, error = self._names()
        if error:
            return IpsetScan(False, (), error)
        return IpsetScan(True, tuple(sorted(n for n in names if n.startswith(CALICO_IPSET_PREFIXES))))

    @staticmethod
    def plan(scan: IpsetScan) -> tuple[DestroySet, ...]:
        """Pure: destroy every Calico set found."""
        return tuple(DestroySet(name) for name in scan.calico_sets)

    def apply(self, actions: tuple[DestroySet, ...]) -> tuple[Outcome, ...]:
        """Destroy the sets; one outcome each. Idempotent: a set already gone is ABSENT."""
        if not actions:
            return ()
        names, error = self._names()
        if error:
            return tuple(Outcome(*a.describe(), Result.FAILED, error) for a in actions)
        present = set(names)
        binary = _commands.find_binary("ipset", "destroy Calico ipsets")
        outcomes: list[Outcome] = []
        for action in actions:
            if action.name not in present:
                outcomes.append(Outcome(*action.describe(), Result.ABSENT, "no such set"))
                continue
            done = _commands.run([binary, "destroy", action.name], self.netns)
            result, detail = (Result.DONE, "") if done.ok else (Result.FAILED, done.error())
            outcomes.append(Outcome(*action.describe(), result, detail))
            present.discard(action.name)
        return tuple(outcomes)

    def _names(self) -> tuple[tuple[str, ...], str]:
        try:
            binary = _commands.find_binary("ipset", "list Calico ipsets")
        except MissingBinaryError as exc:
            return (), str(exc)
        done = _commands.run([binary, "list", "-n"], self.netns)
        if not done.ok:
            return (), done.error()
        return tuple(line.strip() for line in done.stdout.splitlines() if line.strip()), ""
