"""The few nf_tables netlink calls the nft side of ``netfilter`` needs, on a raw NETLINK_NETFILTER socket.

Why not the tools: ``iptables-nft-save`` and ``nft list`` render every rule (libxtables turns each
xt match back into text; ``nft -j list ruleset`` took 1.5 s at 20,000 rules here, and neither nft
listing shows xt ``comment`` text, so Felix's ``cali:`` tags are invisible to it). The netfilter
module only needs, per chain, the rule handles in order and whether a rule mentions ``cali`` at
all (a cheap superset of Calico's jump rules, which it then reads in ``-S`` form for those few
chains), and one transaction to delete what it planned. What is left is the kernel's own dump.

Rule handles are the kernel's stable identity of a rule (never reused within a table, unlike line
numbers): ``nft delete rule ... handle N`` deletes by it. The ruleset generation id tells the
caller whether two reads saw the same ruleset.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from node_agent._netlink import in_netns

__all__ = [
    "BatchItem",
    "ChainRules",
    "DeleteChain",
    "DeleteRule",
    "FlushChain",
    "InconsistentDumpError",
    "NftSocket",
    "NftTables",
]

_NETLINK_NETFILTER = 12
_SOL_NETLINK = 270
_NETLINK_CAP_ACK = 10
_SUBSYS_NFTABLES = 10
_MSG_GETTABLE, _MSG_GETCHAIN, _MSG_DELCHAIN, _MSG_GETRULE, _MSG_DELRULE, _MSG_GETGEN = 1, 4, 5, 7, 8, 16
_BATCH_BEGIN, _BATCH_END = 16, 17
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_DUMP, _NLM_F_DUMP_INTR = 0x1, 0x4, 0x300, 0x10
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_ATTR_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
_HEADER = struct.Struct("=IHHII")
_ATTR = struct.Struct("=HH")
_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")
_BUFFER = 1 << 20
_SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
_BATCH_TIMEOUT = 60.0  # seconds; a lost reply must not hang the agent
# Attribute numbers: NFTA_TABLE_NAME; NFTA_CHAIN_TABLE/NAME; NFTA_RULE_TABLE/CHAIN/HANDLE; NFTA_GEN_ID.
_TABLE_NAME, _CHAIN_TABLE, _CHAIN_NAME, _RULE_TABLE, _RULE_CHAIN, _RULE_HANDLE, _GEN_ID = 1, 1, 3, 1, 2, 3, 1
_BATCH_GENID = 1  # NFNL_BATCH_GENID, on the batch-begin message
_CHAIN_USE = 6  # NFTA_CHAIN_USE
_WHOLE_TABLE_DUMP = 4000  # rules (by use counts) up to which a table is dumped at once, not per chain


class InconsistentDumpError(Exception):
    """The ruleset changed while the kernel was dumping it (``NLM_F_DUMP_INTR``): read again."""


@dataclass(slots=True)
class ChainRules:
    """One chain as dumped: its rules' handles in order, and whether any of them mentions ``cali``.

    ``use`` is the kernel's use count of the chain: its own rules plus the jumps into it (-1: not told).
    ``dumped`` is False when the read was told to skip the chain's rules (``handles`` then stays empty).
    """

    handles: list[int]
    mentions_cali: bool = False
    use: int = field(default=-1, compare=False)
    dumped: bool = True


@dataclass(frozen=True, slots=True)
class NftTables:
    """One family's tables (kernel order), each with its chains (kernel order) and their rules."""

    generation: int
    tables: dict[str, dict[str, ChainRules]]


@dataclass(frozen=True, slots=True)
class DeleteRule:
    """Delete the rule with ``handle`` in ``table``/``chain`` of ``family`` (``socket.AF_INET``/``AF_INET6``)."""

    family: int
    table: str
    chain: str
    handle: int


@dataclass(frozen=True, slots=True)
class FlushChain:
    """Delete every rule of ``table``/``chain`` of ``family``."""

    family: int
    table: str
    chain: str


@dataclass(frozen=True, slots=True)
class DeleteChain:
    """Delete the (empty, unreferenced) chain ``table``/``chain`` of ``family``."""

    family: int
    table: str
    chain: str


BatchItem = DeleteRule | FlushChain | DeleteChain


def _attr(kind: int, value: bytes) -> bytes:
    size = _ATTR.size + len(value)
    return _ATTR.pack(size, kind) + value + b"\0" * (-size % 4)


def _name(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _string(data: bytes, pos: int, size: int) -> str:
    return data[pos + 4 : pos + size - 1].decode(errors="replace")


class NftSocket:
    """A NETLINK_NETFILTER socket opened inside a network namespace (``None``: the caller's own).

    Raises:
        OSError: the namespace cannot be entered or the socket cannot be opened.
    """

    def __init__(self, netns: str | None) -> None:
        """Open the socket in ``netns``; it stays bound to that namespace after we leave it."""
        with in_netns(netns):
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER)
        self._seq = 0
        try:
            self._sock.bind((0, 0))
            self._sock.setsockopt(_SOL_NETLINK, _NETLINK_CAP_ACK, 1)  # acks without the request echoed
        except OSError:
            self._sock.close()
            raise

    def __enter__(self) -> NftSocket:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._sock.close()

    def read(
        self,
        family: int,
        wanted: frozenset[str],
        whole_table_up_to: int | None = None,
        skip_prefix: str | None = None,
    ) -> NftTables:
        """Tables named in ``wanted`` of ``family`` (``socket.AF_INET``/``AF_INET6``), with chains and rules.

        The generation id is read first: equal to a later ``generation()``, nothing changed between.
        A table whose chains' use counts add up to at most ``whole_table_up_to`` (default
        ``_WHOLE_TABLE_DUMP``) is dumped at once, a bigger one chain by chain (same result, different
        cost). With ``skip_prefix``, a big table's chains named so are listed but their rules are not
        dumped (``ChainRules.dumped`` False): a small table costs little either way.

        Raises:
            InconsistentDumpError: the ruleset changed during a dump.
            OSError: the kernel refused a request (e.g. nf_tables missing).
        """
        if whole_table_up_to is None:
            whole_table_up_to = _WHOLE_TABLE_DUMP
        generation = self.generation()
        tables: dict[str, dict[str, ChainRules]] = {}
        for data, pos, end in self._dump(_MSG_GETTABLE, family):
            for kind, start, size in _attrs(data, pos, end):
                if kind == _TABLE_NAME and (name := _string(data, start, size)) in wanted:
                    tables[name] = {}
        unpack_attr = _ATTR.unpack_from
        for data, pos, end in self._dump(_MSG_GETCHAIN, family):
            table = chain = ""
            use = -1
            while pos + _ATTR.size <= end:  # once per chain (thousands): inline, not _attrs()
                size, kind = unpack_attr(data, pos)
                if size < _ATTR.size:
                    break
                kind &= _ATTR_TYPE_MASK
                if kind == _CHAIN_TABLE:
                    table = _string(data, pos, size)
                elif kind == _CHAIN_NAME:
                    chain = _string(data, pos, size)
                elif kind == _CHAIN_USE:
                    use = _BE32.unpack_from(data, pos + 4)[0]
                    break  # table, handle, name, (hook, policy,) use: the rest is not needed
                pos += (size + 3) & ~3
            if table in tables:
                tables[table][chain] = ChainRules([], use=use)
        buffer = bytearray(_BUFFER)
        for table, chains in tables.items():
            # The kernel restarts a dump from the table's first rule at every 32 KiB reply, which is
            # quadratic in a table of 20,000 rules; one dump per chain keeps restarts short but costs
            # a round trip per chain, so a small table (by the kernel's use counts) goes in one dump.
            if 0 <= sum(rules.use for rules in chains.values()) <= whole_table_up_to:
                self._read_rules(family, table, None, chains, buffer)
                continue
            for chain, rules in chains.items():
                if skip_prefix is not None and chain.startswith(skip_prefix):
                    rules.dumped = False
                elif rules.use != 0:  # 0: no rules, nothing to ask
                    self._read_rules(family, table, chain, chains, buffer)
        return NftTables(generation, tables)

    def _read_rules(
        self, family: int, table: str, chain: str | None, chains: dict[str, ChainRules], buffer: bytearray
    ) -> None:
        """Dump the rules of ``table`` (only of ``chain`` when given) into ``chains``."""
        request = _name(_RULE_TABLE, table) + (_name(_RULE_CHAIN, chain) if chain is not None else b"")
        self._sock.send(self._message(_MSG_GETRULE, family, _NLM_F_REQUEST | _NLM_F_DUMP, request))
        unpack_header, unpack_attr, unpack_handle = _HEADER.unpack_from, _ATTR.unpack_from, _BE64.unpack_from
        rules = chains.get(chain) if chain is not None else None
        last = b""
        # Replies carry table, chain, handle first: for one chain the handle's offset is known.
        skip = _HEADER.size + 4 + (len(request) if chain is not None else 0)
        # This loop runs once per rule (20,000 on a big node): it decodes only the chain name (when
        # the whole table comes at once, and only when it changes) and the handle.
        while True:
            received = self._sock.recv_into(buffer)
            pos = 0
            while pos < received:
                length, kind, flags, _seq, _pid = unpack_header(buffer, pos)
                if kind == _NLMSG_DONE:
                    return
                if kind == _NLMSG_ERROR:
                    _raise_for(buffer, pos)
                    return
                if flags & _NLM_F_DUMP_INTR:
                    raise InconsistentDumpError("the ruleset changed during the dump")
                end = pos + length
                at = pos + skip
                size, attr = unpack_attr(buffer, at)
                while attr & _ATTR_TYPE_MASK != _RULE_HANDLE:  # table, chain (and a pad on strict arches)
                    if size < _ATTR.size or at + size > end:
                        raise OSError(errno.EPROTO, "nf_tables sent a rule without a handle")
                    if chain is None and attr & _ATTR_TYPE_MASK == _RULE_CHAIN:
                        name = bytes(buffer[at + 4 : at + size - 1])
                        if name != last:
                            last, rules = name, chains.get(name.decode(errors="replace"))
                    at += (size + 3) & ~3
                    size, attr = unpack_attr(buffer, at)
                if rules is not None:
                    rules.handles.append(unpack_handle(buffer, at + 4)[0])
                    if not rules.mentions_cali and buffer.find(b"cali", at, end) >= 0:
                        rules.mentions_cali = True
                pos = (end + 3) & ~3

    def generation(self) -> int:
        """The ruleset generation id: it changes with every committed nf_tables transaction."""
        for data, pos, end in self._exchange(self._message(_MSG_GETGEN, 0, _NLM_F_REQUEST), dump=False):
            for kind, start, _size in _attrs(data, pos, end):
                if kind == _GEN_ID:
                    return int(_BE32.unpack_from(data, start + 4)[0])
        raise OSError(errno.EPROTO, "nf_tables answered GETGEN without a generation id")

    def apply(self, items: Sequence[BatchItem], generation: int = 0) -> str:
        """Run ``items`` as ONE transaction (all or nothing); ``""`` on success, else the first error.

        With ``generation`` (non-zero), the kernel refuses the whole batch unless the ruleset is still
        at that generation (``NFNL_BATCH_GENID``): nothing changed since the read it was planned from.

        Raises:
            OSError: the batch could not be sent.
        """
        if not items:
            return ""
        last = len(items) - 1
        messages = [
            self._batch_marker(_BATCH_BEGIN, _attr(_BATCH_GENID, _BE32.pack(generation)) if generation else b"")
        ]
        first = self._seq + 1
        # Only the last item asks for an ack: the kernel reports every failing item anyway and sends
        # all replies once the whole batch is done, so that ack (or an error) ends the wait.
        messages += [self._item(item, ack=index == last) for index, item in enumerate(items)]
        messages.append(self._batch_marker(_BATCH_END))
        batch = b"".join(messages)
        self._sock.setsockopt(socket.SOL_SOCKET, _SO_SNDBUFFORCE, len(batch) + _BUFFER)  # one sendmsg = one batch
        self._sock.settimeout(_BATCH_TIMEOUT)
        try:
            self._sock.send(batch)
            while True:
                data = self._sock.recv(_BUFFER)
                pos = 0
                while pos < len(data):
                    length, kind, _flags, seq, _pid = _HEADER.unpack_from(data, pos)
                    if kind == _NLMSG_ERROR:
                        code = -struct.unpack_from("=i", data, pos + _HEADER.size)[0]
                        index = seq - first
                        if code:
                            what = items[index] if 0 <= index <= last else "batch"
                            return f"nf_tables: {os.strerror(code)} ({what})"
                        if index == last:
                            return ""
                    pos += (length + 3) & ~3
        finally:
            self._sock.settimeout(None)

    def _item(self, item: BatchItem, ack: bool) -> bytes:
        flags = _NLM_F_REQUEST | (_NLM_F_ACK if ack else 0)
        if isinstance(item, DeleteChain):
            attrs = _name(_CHAIN_TABLE, item.table) + _name(_CHAIN_NAME, item.chain)
            return self._message(_MSG_DELCHAIN, item.family, flags, attrs)
        attrs = _name(_RULE_TABLE, item.table) + _name(_RULE_CHAIN, item.chain)
        if isinstance(item, DeleteRule):
            attrs += _attr(_RULE_HANDLE, _BE64.pack(item.handle))
        return self._message(_MSG_DELRULE, item.family, flags, attrs)

    def _message(self, kind: int, family: int, flags: int, attrs: bytes = b"") -> bytes:
        self._seq += 1
        body = struct.pack("=BBH", family, 0, 0) + attrs
        return _HEADER.pack(_HEADER.size + len(body), (_SUBSYS_NFTABLES << 8) | kind, flags, self._seq, 0) + body

    def _batch_marker(self, kind: int, attrs: bytes = b"") -> bytes:
        self._seq += 1
        body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(_SUBSYS_NFTABLES)) + attrs
        return _HEADER.pack(_HEADER.size + len(body), kind, _NLM_F_REQUEST, self._seq, 0) + body

    def _dump(self, kind: int, family: int) -> Iterator[tuple[bytes, int, int]]:
        return self._exchange(self._message(kind, family, _NLM_F_REQUEST | _NLM_F_DUMP), dump=True)

    def _exchange(self, request: bytes, dump: bool) -> Iterator[tuple[bytes, int, int]]:
        """Send ``request``; yield (buffer, first attribute offset, message end) per reply message."""
        self._sock.send(request)
        while True:
            data = self._sock.recv(_BUFFER)
            pos = 0
            while pos < len(data):
                length, kind, flags, _seq, _pid = _HEADER.unpack_from(data, pos)
                if kind == _NLMSG_DONE:
                    return
                if kind == _NLMSG_ERROR:
                    _raise_for(data, pos)
                    return
                if flags & _NLM_F_DUMP_INTR:
                    raise InconsistentDumpError("the ruleset changed during the dump")
                yield data, pos + _HEADER.size + 4, pos + length
                pos += (length + 3) & ~3
            if not dump:
                return


def _attrs(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, offset, length) of each top-level attribute between ``pos`` and ``end``."""
    while pos + _ATTR.size <= end:
        size, kind = _ATTR.unpack_from(data, pos)
        if size < _ATTR.size:
            return
        yield kind & _ATTR_TYPE_MASK, pos, size
        pos += (size + 3) & ~3


def _raise_for(data: bytes | bytearray, pos: int) -> None:
    """Raise the errno carried by the NLMSG_ERROR message at ``pos`` (0 is an ack: nothing)."""
    code = -struct.unpack_from("=i", data, pos + _HEADER.size)[0]
    if code:
        raise OSError(code, f"nf_tables: {os.strerror(code)}")
