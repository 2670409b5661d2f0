"""Calico's iptables state in one netfilter backend (iptables-legacy or iptables-nft), IPv4 and IPv6.

Design:
- Calico's objects are recognised by prefix only: chains ``cali-*`` and, in every other chain,
  rules whose target (``-j``/``-g``) is a ``cali-*`` chain or that carry Felix's ``cali:<hash>``
  comment tag (together "jump rules": Calico's hooks into the built-in chains). A node may hold
  rules in both backends, so both are always checked.
- Reading, legacy: one ``*-legacy-save`` per family, parsed once (python-iptables/libiptc would
  cost a library round trip per rule).
- Reading, nft: ``*-nft-save`` renders every rule through libxtables, most of the cleanup's time
  at 20,000 rules. Instead the kernel is asked over netlink (``_nftables``) for every chain's rule
  handles, plus whether a rule mentions ``cali`` at all; only the few non-Calico chains holding
  such a rule are printed with ``iptables-nft -t TABLE -S CHAIN`` and classified exactly like a
  ``-save`` line. Those ``-S`` lines are paired with the handles by position, which is only sound
  because the ruleset generation id is the same before the netlink read and after the last
  ``-S``; otherwise the read is retried, then ``*-nft-save`` is used. Each rule keeps its handle
  (the kernel's stable identity of a rule, never a position) and each dump the generation.
  The cleanup's scan (``counts=False``) skips the rules inside ``cali-*`` chains (most of a Calico
  node's rules): it flushes and deletes those chains whole, so only their names are needed.
- Cleanup, nft: ONE nf_tables transaction for the whole plan (both families): delete each jump
  rule by handle, flush every ``cali-*`` chain, then delete them (flush first: cali chains jump
  to each other). The batch carries the scan's generation id (``NFNL_BATCH_GENID``), so the kernel
  refuses it if anything changed since the scan: a handle never names another rule than the one
  planned, and a concurrent writer's rules are never touched.
- Cleanup, legacy (and nft when the batch is refused or netlink is unusable): per table, one
  ``*-restore --noflush`` transaction deletes each jump rule by its FULL rule spec (``-A`` ->
  ``-D``, never a line number, which shifts under concurrent writers), flushes and deletes the
  chains (nft: the chains go through ``nft -f`` when present, because iptables-nft-restore first
  loads the whole table into its cache). A table is never flushed; any other chain (KUBE-*,
  ANTREA-*, CNI-*, DOCKER*) is never named, so it stays byte-identical.
- Check, then act: the fast path trusts the fresh plan; if a transaction fails (the table moved
  since the scan), the table is re-read, objects already gone are reported ABSENT, and the rest is
  retried object by object so the reply says exactly which one failed.
- An absent tool is not an error for the report: the backend is reported ``available=False`` with
  the missing binary named (Calico's ``CleanupOnly`` mode tolerates an absent backend the same way).
"""

from __future__ import annotations

import re
import shutil
import socket
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

from kubectl_antrea_migrate.nodestate.model import Backend, NetfilterSummary, Outcome, Result, TableSummary
from node_agent import _commands, _nftables
from node_agent._commands import MissingBinaryError
from node_agent._nftables import InconsistentDumpError, NftSocket, NftTables

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
# The tables iptables-nft-save prints, in its order; builtin chains in the order it lists them.
_IPTABLES_TABLES = ("mangle", "security", "raw", "filter", "nat")
_BUILTIN_CHAINS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
_NFT_READ_ATTEMPTS = 3


class Family(Enum):
    """Address family of a netfilter table: iptables or ip6tables."""

    IPV4 = "ip"
    IPV6 = "ip6"

    @property
    def address_family(self) -> int:
        """The socket address family nf_tables files this family's tables under."""
        return socket.AF_INET if self is Family.IPV4 else socket.AF_INET6


def _tool(backend: Backend, family: Family, verb: str) -> str:
    prefix = "iptables" if family is Family.IPV4 else "ip6tables"
    return f"{prefix}-{backend.value}-{verb}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule as ``-save`` prints it: ``-A {chain} {spec}``.

    ``handle`` is the nf_tables handle the rule had when read (0: unknown, e.g. iptables-legacy). It
    is a stable identity, not a position, and takes no part in equality: two reads of one rule agree.
    """

    chain: str
    spec: str
    handle: int = field(default=0, compare=False)

    @property
    def line(self) -> str:
        """The rule in ``-save`` form."""
        return f"-A {self.chain} {self.spec}"


@dataclass(frozen=True, slots=True)
class TableDump:
    """What matters to the migration in one table of one family."""

    family: Family
    table: str
    total_rules: int  # of the chains whose rules were read (every chain unless the scan skipped cali-* ones)
    calico_chains: tuple[tuple[str, int | None], ...]  # (chain, rules in it; None: not read), declaration order
    jump_rules: tuple[Rule, ...]  # Calico's rules in other chains: jumps/gotos into cali-*, "cali:" tagged
    generation: int = 0  # nf_tables ruleset generation the dump was read at (0: not known)

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
    generation: int = field(default=0, compare=False)  # the scan's, see TableDump

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
    rules: int | None  # None: the scan did not read the chain's rules (cleanup scan)
    generation: int = field(default=0, compare=False)  # the scan's, see TableDump

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

    def scan(self, counts: bool = True) -> NetfilterScan:
        """Read both families' tables. Never raises for a missing or failing tool: see ``error``.

        Args:
            counts: read the rules inside ``cali-*`` chains too, to count them (the report needs
                that). The cleanup does not: it flushes and deletes those chains whole, so with
                ``False`` the nft backend dumps only the other chains' rules (most of a Calico
                node's rules are in ``cali-*`` chains); their counts may then be ``None`` and
                ``total_rules`` leaves them out. The legacy backend always counts (one ``-save``).

        Raises:
            OSError: the namespace cannot be entered.
        """
        errors: list[str] = []
        tables: list[TableDump] = []
        for family in Family:
            dumps, error = self._read(family, counts)
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
                # Only a cleanup scan (counts=False) leaves counts unknown; a report never uses one.
                calico_rules=sum(count for _chain, count in dump.calico_chains if count is not None),
                jump_rules=len(dump.jump_rules),
                total_rules=dump.total_rules,
            )
            for dump in scan.tables
        )
        return NetfilterSummary(scan.backend, scan.available, tables, scan.error)

    @staticmethod
    def plan(scan: NetfilterScan) -> tuple[NetfilterAction, ...]:
        """Pure: every jump rule into ``cali-*`` (all tables, both families), then every ``cali-*`` chain."""
        jumps = [
            DeleteJump(scan.backend, d.family, d.table, rule, d.generation)
            for d in scan.tables
            for rule in d.jump_rules
        ]
        chains = [
            RemoveChain(scan.backend, d.family, d.table, chain, count, d.generation)
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
        batched = [(p, a) for todo in groups.values() for p, a in todo]
        if batched and self._apply_nft_batch([a for _p, a in batched]):
            results.update({p: (Result.DONE, _done_detail(a)) for p, a in batched})
            groups = {}
        for (family, table), todo in groups.items():
            results.update(self._apply_table(family, table, todo))
        return tuple(Outcome(*action.describe(), *results[p]) for p, action in enumerate(actions))

    def _apply_nft_batch(self, actions: list[NetfilterAction]) -> bool:
        """nft backend: the whole plan (both families) as ONE nf_tables transaction; False if not taken or failed.

        Jump rules go by handle; chains are flushed, then deleted. The batch carries the scan's
        generation id, so the kernel refuses it when anything changed since the scan (the handles
        might then name other rules, e.g. of a re-created table) and the caller re-reads instead.
        """
        if self.backend is not Backend.NFT:
            return False
        if any(shutil.which(_tool(self.backend, f, "restore")) is None for f in {a.family for a in actions}):
            return False  # the per-table path names the missing tool
        generations = {action.generation for action in actions}
        jumps = [a for a in actions if isinstance(a, DeleteJump)]
        chains = [a for a in actions if isinstance(a, RemoveChain)]
        if len(generations) != 1 or 0 in generations or any(a.rule.handle == 0 for a in jumps):
            return False
        items: list[_nftables.BatchItem] = [
            _nftables.DeleteRule(a.family.address_family, a.table, a.rule.chain, a.rule.handle) for a in jumps
        ]
        items += [_nftables.FlushChain(a.family.address_family, a.table, a.chain) for a in chains]
        items += [_nftables.DeleteChain(a.family.address_family, a.table, a.chain) for a in chains]
        try:
            with NftSocket(self.netns) as sock:
                return sock.apply(items, generation=generations.pop()) == ""
        except OSError:
            return False

    def _read(self, family: Family, counts: bool = True) -> tuple[tuple[TableDump, ...], str]:
        try:
            save = _commands.find_binary(
                _tool(self.backend, family, "save"), f"read the {self.backend.value} netfilter backend"
            )
        except MissingBinaryError as exc:
            return (), str(exc)
        if self.backend is Backend.NFT:
            dumps = self._read_nft(family, counts)
            if dumps is not None:
                return dumps, ""
        done = _commands.run([save], self.netns)
        if not done.ok:
            return (), done.error()
        return parse_save(done.stdout, family), ""

    def _read_nft(self, family: Family, counts: bool) -> tuple[TableDump, ...] | None:
        """The nft backend read over netlink, with ``-S`` text for the chains that hold Calico's rules.

        ``None`` when that read cannot be trusted (no netlink, no ``iptables-nft``, a chain ``-S``
        cannot print, the ruleset kept changing): the caller then falls back to ``*-save``.
        """
        prefix = "iptables" if family is Family.IPV4 else "ip6tables"
        lister = shutil.which(f"{prefix}-nft")
        if lister is None:
            return None
        for _attempt in range(_NFT_READ_ATTEMPTS):
            try:
                with NftSocket(self.netns) as sock:
                    snapshot = sock.read(
                        family.address_family,
                        frozenset(_IPTABLES_TABLES),
                        skip_prefix=None if counts else CALICO_CHAIN_PREFIX,
                    )
                    dumps = self._dumps_from(snapshot, family, lister)
                    # The -S texts are paired with the dumped handles by position: only valid when
                    # no transaction committed in between, which the generation id tells.
                    if dumps is not None and sock.generation() == snapshot.generation:
                        return dumps
                    if dumps is None:
                        return None
            except InconsistentDumpError:
                continue
            except OSError:
                return None
        return None

    def _dumps_from(self, snapshot: NftTables, family: Family, lister: str) -> tuple[TableDump, ...] | None:
        dumps: list[TableDump] = []
        for table in sorted(snapshot.tables, key=_IPTABLES_TABLES.index):
            chains = snapshot.tables[table]
            jumps: list[Rule] = []
            # Only chains with a rule that mentions "cali" anywhere (a superset of jumps into cali-*
            # and "cali:" tags) are printed; Calico's own chains are only counted.
            hooks = (c for c, r in chains.items() if r.mentions_cali and not _is_calico_chain(c))
            for chain in sorted(hooks, key=_chain_order):
                rules = self._list_chain(lister, table, chain, chains[chain].handles)
                if rules is None:
                    return None
                jumps.extend(rule for rule in rules if _is_calico_rule(rule.spec))
            calico = tuple(
                sorted(
                    ((c, len(r.handles) if r.dumped else None) for c, r in chains.items() if _is_calico_chain(c)),
                    key=lambda item: item[0],
                )
            )
            total = sum(len(r.handles) for r in chains.values())
            dumps.append(TableDump(family, table, total, calico, tuple(jumps), snapshot.generation))
        return tuple(dumps)

    def _list_chain(self, lister: str, table: str, chain: str, handles: list[int]) -> list[Rule] | None:
        done = _commands.run([lister, "-t", table, "-S", chain], self.netns)
        if not done.ok:
            return None
        lines = [line for line in done.stdout.splitlines() if line.startswith("-A ")]
        if len(lines) != len(handles):
            return None
        return [Rule(chain, line[3:].partition(" ")[2], handle) for line, handle in zip(lines, handles, strict=True)]

    def _apply_table(
        self, family: Family, table: str, todo: list[tuple[int, NetfilterAction]]
    ) -> dict[int, tuple[Result, str]]:
        # Per-table path (legacy, or nft without netlink or after its batch was refused): the plan is
        # trusted first; any failure (the table moved since the scan) re-reads the table and goes
        # object by object.
        try:
            restore = _commands.find_binary(
                _tool(self.backend, family, "restore"), f"change the {self.backend.value} netfilter backend"
            )
        except MissingBinaryError as exc:
            return {p: (Result.FAILED, str(exc)) for p, _a in todo}
        jumps = [(p, a) for p, a in todo if isinstance(a, DeleteJump)]
        chains = [(p, a) for p, a in todo if isinstance(a, RemoveChain)]
        results: dict[int, tuple[Result, str]] = {}
        if self.backend is Backend.LEGACY:
            # One libiptc commit replaces the table at once: jumps, flushes and deletions together.
            names = [a.chain for _p, a in chains]
            lines = [_delete_line(a) for _p, a in jumps] + [f"-F {c}" for c in names] + [f"-X {c}" for c in names]
            if self._restore(restore, table, lines).ok:
                results.update({p: (Result.DONE, _done_detail(a)) for p, a in todo})
        else:
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
        dumps, error = self._read(family, counts=False)  # only names and jump rules matter here
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


def _is_calico_chain(chain: str) -> bool:
    return chain.startswith(CALICO_CHAIN_PREFIX)


def _chain_order(chain: str) -> tuple[int, str]:
    """``-save`` order: builtin chains in their fixed order, then user chains by name."""
    return (_BUILTIN_CHAINS.index(chain), "") if chain in _BUILTIN_CHAINS else (len(_BUILTIN_CHAINS), chain)


def _delete_line(action: DeleteJump) -> str:
    return f"-D {action.rule.chain} {action.rule.spec}"


def _done_detail(action: NetfilterAction) -> str:
    if not isinstance(action, RemoveChain):
        return ""
    return "flushed and deleted" if action.rules is None else f"{action.rules} rules flushed"
