"""Calico's iptables state in one netfilter backend (iptables-legacy or iptables-nft), IPv4 and IPv6.

Design:
- Both backends go through their own ``*-save``/``*-restore`` tools. python-iptables (libiptc)
  sees only the legacy backend and costs one library round trip per rule; one ``-save`` per
  family, parsed once, reads 20,000 rules in well under a second and gives the nft side the same
  code path. A node may hold rules in both backends, so both are always checked.
- Calico's objects are recognised by prefix only: chains ``cali-*`` and, in every other chain,
  rules whose target (``-j``/``-g``) is a ``cali-*`` chain or that carry Felix's ``cali:<hash>``
  comment tag (together "jump rules": Calico's hooks into the built-in chains).
- Cleanup, per table: one ``*-restore --noflush`` transaction deletes each jump rule by its FULL
  rule spec (``-A`` -> ``-D``, never a line number, which shifts under concurrent writers); a
  second transaction flushes every ``cali-*`` chain, then deletes them (flush first: cali chains
  jump to each other). On the nft backend that second transaction goes through ``nft -f`` when
  ``nft`` is present (``flush chain``/``delete chain`` on the same ``ip``/``ip6`` tables that
  iptables-nft uses), because iptables-nft-restore first loads the whole table into its cache.
  A table is never flushed; any other chain (KUBE-*, ANTREA-*, CNI-*, DOCKER*) is never named, so it
  stays byte-identical.
- Check, then act: the fast path trusts the fresh plan; if a transaction fails (the table moved
  since the scan), the table is re-read, objects already gone are reported ABSENT, and the rest is
  retried object by object so the reply says exactly which one failed.
- An absent tool is not an error for the report: the backend is reported ``available=False`` with
  the missing binary named (Calico's ``CleanupOnly`` mode tolerates an absent backend the same way).
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass
from enum import Enum

from kubectl_antrea_migrate.nodestate.model import Backend, NetfilterSummary, Outcome, Result, TableSummary
from node_agent import _commands
from node_agent._commands import MissingBinaryError

__all__ = [
    "CALICO_CHAIN_PREFIX",
    "DeleteJump",
    "Family",
    "Netfilter",
    "NetfilterAction",
    "NetfilterScan",
    "RemoveChain",
    "Rule",
    "TableDump",
    "parse_save",
]

CALICO_CHAIN_PREFIX = "cali-"
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_TARGET = re.compile(r"(?:^|\s)-[jg]\s+(\S+)")
# Felix tags every rule it writes with a comment "cali:<rule hash>"; outside cali-* chains that tag
# finds Calico's rules that jump nowhere (e.g. FORWARD's "Policy explicitly accepted packet.").
# Chain names nft accepts unquoted (its scanner refuses quoted chain names in 1.0.x).
_NFT_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9/_.-]*")
_CALICO_TAG = re.compile(r'(?:^|\s)--comment "?cali:')


class Family(Enum):
    """Address family of a netfilter table: iptables or ip6tables."""

    IPV4 = "ip"
    IPV6 = "ip6"


def _tool(backend: Backend, family: Family, verb: str) -> str:
    prefix = "iptables" if family is Family.IPV4 else "ip6tables"
    return f"{prefix}-{backend.value}-{verb}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule as ``-save`` prints it: ``-A {chain} {spec}``."""

    chain: str
    spec: str

    @property
    def line(self) -> str:
        """The rule in ``-save`` form."""
        return f"-A {self.chain} {self.spec}"


@dataclass(frozen=True, slots=True)
class TableDump:
    """What matters to the migration in one table of one family."""

    family: Family
    table: str
    total_rules: int
    calico_chains: tuple[tuple[str, int], ...]  # (chain, rules in it), in declaration order
    jump_rules: tuple[Rule, ...]  # Calico's rules in other chains: jumps/gotos into cali-*, "cali:" tagged

    @property
    def label(self) -> str:
        """``filter`` for IPv4, ``ip6:filter`` for IPv6 (the report's table names)."""
        return self.table if self.family is Family.IPV4 else f"ip6:{self.table}"


@dataclass(frozen=True, slots=True)
class NetfilterScan:
    """One backend's tables (both families); ``available=False`` when its tool is missing or fails."""

    backend: Backend
    available: bool
    tables: tuple[TableDump, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class DeleteJump:
    """Delete one rule that jumps into a Calico chain, by its full spec."""

    backend: Backend
    family: Family
    table: str
    rule: Rule

    def describe(self) -> tuple[str, str, str]:
        """(subsystem, object, action) for the outcome."""
        label = _label(self.family, self.table)
        return "netfilter", f"rule='{self.rule.line}' table={label} backend={self.backend.value}", "delete"


@dataclass(frozen=True, slots=True)
class RemoveChain:
    """Flush and delete one ``cali-*`` chain."""

    backend: Backend
    family: Family
    table: str
    chain: str
    rules: int

    def describe(self) -> tuple[str, str, str]:
        """(subsystem, object, action) for the outcome."""
        label = _label(self.family, self.table)
        return "netfilter", f"chain={self.chain} table={label} backend={self.backend.value}", "flush+delete"


NetfilterAction = DeleteJump | RemoveChain


def _label(family: Family, table: str) -> str:
    return table if family is Family.IPV4 else f"ip6:{table}"


def _target(spec: str) -> str | None:
    # Quoted strings (comments) are blanked first so a comment mentioning "-j cali-x" is no target.
    match = _TARGET.search(_QUOTED.sub('""', spec) if '"' in spec else spec)
    return match.group(1) if match else None


def _is_calico_rule(spec: str) -> bool:
    target = _target(spec)
    return (target is not None and target.startswith(CALICO_CHAIN_PREFIX)) or bool(_CALICO_TAG.search(spec))


def parse_save(text: str, family: Family) -> tuple[TableDump, ...]:
    """Pure: the tables of one ``iptables-save`` dump (without ``-c``), reduced to Calico facts.

    Comment lines (``#``) and blank lines are ignored; the dump is read once, line by line.
    """
    tables: list[TableDump] = []
    table = ""
    total = 0
    chains: list[str] = []
    counts: Counter[str] = Counter()
    jumps: list[Rule] = []
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        head = line[0]
        if head == "-":
            total += 1
            if "cali" not in line:  # cheap pre-filter: most rules of a big node are not Calico's
                continue
            chain, _, spec = line[3:].partition(" ")
            if chain.startswith(CALICO_CHAIN_PREFIX):
                counts[chain] += 1
            elif _is_calico_rule(spec):
                jumps.append(Rule(chain, spec))
        elif head == ":":
            name = line[1:].split(" ", 1)[0]
            if name.startswith(CALICO_CHAIN_PREFIX):
                chains.append(name)
        elif head == "*":
            table, total, chains, counts, jumps = line[1:].strip(), 0, [], Counter(), []
        elif line.startswith("COMMIT"):
            tables.append(TableDump(family, table, total, tuple((c, counts[c]) for c in chains), tuple(jumps)))
    return tuple(tables)


class Netfilter:
    """One netfilter backend of one network namespace (``None``: the node's own)."""

    def __init__(self, backend: Backend, netns: str | None = None) -> None:
        """Aim at ``backend`` (legacy or nft) in ``netns``."""
        self.backend = backend
        self.netns = netns

    def scan(self) -> NetfilterScan:
        """Read both families' tables. Never raises for a missing or failing tool: see ``error``.

        Raises:
            OSError: the namespace cannot be entered.
        """
        errors: list[str] = []
        tables: list[TableDump] = []
        for family in Family:
            dumps, error = self._read(family)
            if error:
                if family is Family.IPV4:
                    return NetfilterScan(self.backend, False, (), error)
                errors.append(f"{error}; IPv6 tables not checked")
            tables.extend(dumps)
        return NetfilterScan(self.backend, True, tuple(tables), "; ".join(errors))

    @staticmethod
    def summary(scan: NetfilterScan) -> NetfilterSummary:
        """Pure: the report's view of a scan (counts per table)."""
        tables = tuple(
            TableSummary(
                table=dump.label,
                calico_chains=len(dump.calico_chains),
                calico_rules=sum(count for _chain, count in dump.calico_chains),
                jump_rules=len(dump.jump_rules),
                total_rules=dump.total_rules,
            )
            for dump in scan.tables
        )
        return NetfilterSummary(scan.backend, scan.available, tables, scan.error)

    @staticmethod
    def plan(scan: NetfilterScan) -> tuple[NetfilterAction, ...]:
        """Pure: every jump rule into ``cali-*`` (all tables, both families), then every ``cali-*`` chain."""
        jumps = [DeleteJump(scan.backend, d.family, d.table, rule) for d in scan.tables for rule in d.jump_rules]
        chains = [
            RemoveChain(scan.backend, d.family, d.table, chain, count)
            for d in scan.tables
            for chain, count in d.calico_chains
        ]
        return (*jumps, *chains)

    def apply(self, actions: tuple[NetfilterAction, ...]) -> tuple[Outcome, ...]:
        """Run ``actions`` (all of this backend); one outcome each, in the given order.

        Idempotent: objects already gone are ABSENT. A missing restore tool fails the actions of
        its family with the binary named.
        """
        results: dict[int, tuple[Result, str]] = {}
        groups: dict[tuple[Family, str], list[tuple[int, NetfilterAction]]] = {}
        for position, action in enumerate(actions):
            if action.backend is not self.backend:
                results[position] = (
                    Result.FAILED,
                    f"action for backend {action.backend.value} sent to backend {self.backend.value}",
                )
                continue
            groups.setdefault((action.family, action.table), []).append((position, action))
        for (family, table), todo in groups.items():
            results.update(self._apply_table(family, table, todo))
        return tuple(Outcome(*action.describe(), *results[p]) for p, action in enumerate(actions))

    def _read(self, family: Family) -> tuple[tuple[TableDump, ...], str]:
        try:
            save = _commands.find_binary(
                _tool(self.backend, family, "save"), f"read the {self.backend.value} netfilter backend"
            )
        except MissingBinaryError as exc:
            return (), str(exc)
        done = _commands.run([save], self.netns)
        if not done.ok:
            return (), done.error()
        return parse_save(done.stdout, family), ""

    def _apply_table(
        self, family: Family, table: str, todo: list[tuple[int, NetfilterAction]]
    ) -> dict[int, tuple[Result, str]]:
        # Fast path: the plan is fresh, so one transaction for the jumps and one for the chains.
        # Any failure (the table moved since the scan) re-reads the table and goes object by object.
        try:
            restore = _commands.find_binary(
                _tool(self.backend, family, "restore"), f"change the {self.backend.value} netfilter backend"
            )
        except MissingBinaryError as exc:
            return {p: (Result.FAILED, str(exc)) for p, _a in todo}
        jumps = [(p, a) for p, a in todo if isinstance(a, DeleteJump)]
        chains = [(p, a) for p, a in todo if isinstance(a, RemoveChain)]
        results: dict[int, tuple[Result, str]] = {}
        if jumps and self._restore(restore, table, [_delete_line(a) for _p, a in jumps]).ok:
            results.update({p: (Result.DONE, "") for p, _a in jumps})
        if chains and len(results) == len(jumps) and self._remove_chains(restore, family, table, chains).ok:
            results.update({p: (Result.DONE, _done_detail(a)) for p, a in chains})
        pending = [(p, a) for p, a in todo if p not in results]
        if pending:
            results.update(self._reconcile(restore, family, table, pending))
        return results

    def _reconcile(
        self, restore: str, family: Family, table: str, todo: list[tuple[int, NetfilterAction]]
    ) -> dict[int, tuple[Result, str]]:
        dumps, error = self._read(family)
        if error:
            return {p: (Result.FAILED, error) for p, _a in todo}
        dump = next((d for d in dumps if d.table == table), None)
        present_jumps = Counter(dump.jump_rules) if dump else Counter[Rule]()
        present_chains = {chain for chain, _count in dump.calico_chains} if dump else set()
        results: dict[int, tuple[Result, str]] = {}
        chains: list[tuple[int, RemoveChain]] = []
        for position, action in todo:
            if isinstance(action, RemoveChain):
                if action.chain in present_chains:
                    chains.append((position, action))
                else:
                    results[position] = (Result.ABSENT, "no such chain")
            elif present_jumps[action.rule] <= 0:
                results[position] = (Result.ABSENT, "no such rule")
            else:
                present_jumps[action.rule] -= 1
                done = self._restore(restore, table, [_delete_line(action)])
                results[position] = (Result.DONE, "") if done.ok else (Result.FAILED, done.error())
        if chains and self._remove_chains(restore, family, table, chains).ok:
            results.update({p: (Result.DONE, _done_detail(a)) for p, a in chains})
            return results
        # Flush all first (cali chains jump to each other), in one go unless that fails too.
        if not self._restore(restore, table, [f"-F {action.chain}" for _p, action in chains]).ok:
            for position, action in chains:
                done = self._restore(restore, table, [f"-F {action.chain}"])
                if not done.ok:
                    results[position] = (Result.FAILED, done.error())
        for position, action in chains:
            if position not in results:
                done = self._restore(restore, table, [f"-X {action.chain}"])
                results[position] = (Result.DONE, _done_detail(action)) if done.ok else (Result.FAILED, done.error())
        return results

    def _remove_chains(
        self, restore: str, family: Family, table: str, chains: list[tuple[int, RemoveChain]]
    ) -> _commands.CommandResult:
        names = [action.chain for _p, action in chains]
        nft = shutil.which("nft") if self.backend is Backend.NFT else None
        if nft is not None and all(_NFT_NAME.fullmatch(name) for name in names):
            # iptables-nft-restore --noflush first loads every rule of the table into its cache
            # (0.5 s at 20k rules); nft flushes and deletes the chains in one transaction without it.
            scope = f"{family.value} {table}"
            script = [f"flush chain {scope} {c}" for c in names] + [f"delete chain {scope} {c}" for c in names]
            done = _commands.run([nft, "-f", "-"], self.netns, stdin="\n".join(script) + "\n")
            if done.ok:
                return done
        return self._restore(restore, table, [f"-F {c}" for c in names] + [f"-X {c}" for c in names])

    def _restore(self, restore: str, table: str, lines: list[str]) -> _commands.CommandResult:
        text = f"*{table}\n" + "\n".join(lines) + "\nCOMMIT\n"
        return _commands.run([restore, "-w", "--noflush"], self.netns, stdin=text)


def _delete_line(action: DeleteJump) -> str:
    return f"-D {action.rule.chain} {action.rule.spec}"


def _done_detail(action: NetfilterAction) -> str:
    return f"{action.rules} rules flushed" if isinstance(action, RemoveChain) else ""
