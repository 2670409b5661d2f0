"""Calico protocol/port/ICMP matches → Antrea ``ports`` and ``protocols`` (§4.4).

A Calico rule ANDs its fields; an Antrea rule ORs its ``ports`` ∪ ``protocols`` entries and ANDs the
fields inside one entry. So ``ports`` minus ``notPorts`` becomes a list of disjoint ranges, and source
ports multiply with destination ports (cross product). Every refusal names its reason; a match that
can never hold (``in {}``-like) is reported as ``never`` so the caller drops the rule, which is exact.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from kubectl_antrea_migrate.antrea.model import ICMPSpec, PortSpec
from kubectl_antrea_migrate.calico.model import ICMPMatch, NamedPort, Port, PortRange, Rule

__all__ = ["ICMP_FAMILIES", "PORT_PROTOCOLS", "Match", "icmp_specs", "port_specs"]

PORT_PROTOCOLS: dict[int, str] = {6: "TCP", 17: "UDP", 132: "SCTP"}
ICMP_FAMILIES: dict[int, int] = {1: 4, 58: 6}  # ICMP -> IPv4, ICMPv6 -> IPv6
_FULL = (0, 65535)
_MAX_ICMP = 255
# Kubernetes container port names are IANA_SVC_NAMEs; any other name can never match a pod port.
_IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])(?!.*--)[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")

Interval = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Match:
    """The Antrea service match of one rule, or why there is none."""

    ports: tuple[PortSpec, ...] = ()
    protocols: tuple[ICMPSpec, ...] = ()
    never: bool = False  # the Calico match can never hold: drop the rule (exact)
    problems: tuple[tuple[str, str], ...] = ()  # (field suffix, reason)
    has_named_dst: bool = False


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _subtract(pos: list[Interval], neg: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in pos:
        pieces = [(a, b)]
        for c, d in neg:
            nxt: list[Interval] = []
            for x, y in pieces:
                if d < x or c > y:
                    nxt.append((x, y))
                    continue
                if x < c:
                    nxt.append((x, c - 1))
                if d < y:
                    nxt.append((d + 1, y))
            pieces = nxt
        out.extend(pieces)
    return _merge(out)


def _numeric(ports: tuple[Port, ...]) -> list[Interval]:
    return _merge([(p.first, p.last) for p in ports if isinstance(p, PortRange)])


@dataclass(frozen=True, slots=True)
class _Side:
    intervals: tuple[Interval, ...]  # numeric ranges still allowed; (_FULL,) = any port
    names: tuple[str, ...]  # valid named ports
    never: bool
    problem: tuple[str, str] | None


def _side(ports: tuple[Port, ...], not_ports: tuple[Port, ...], field: str, allow_names: bool) -> _Side:
    if not ports and not not_ports:
        return _ANY_SIDE
    names = tuple(p.name for p in ports if isinstance(p, NamedPort))
    if any(isinstance(p, NamedPort) for p in not_ports):
        return _Side((), (), False, (f"not{field.capitalize()}", "named ports in notPorts cannot be expressed"))
    if names and not allow_names:
        return _Side((), (), False, (field, "named source ports cannot be expressed"))
    if names and not_ports:
        return _Side((), (), False, (field, "named ports combined with notPorts cannot be expressed"))
    positive = _numeric(ports) if ports else [_FULL]
    intervals = _subtract(positive, _numeric(not_ports))
    valid = tuple(sorted({n for n in names if _IANA_SVC_NAME.match(n)}))
    return _Side(tuple(intervals), valid, not intervals and not valid, None)


_ANY_SIDE = _Side((_FULL,), (), False, None)


def _dst_values(side: _Side) -> tuple[list[tuple[int | str | None, int | None]], str | None]:
    values: list[tuple[int | str | None, int | None]] = []
    for a, b in side.intervals:
        if (a, b) == _FULL:
            values.append((None, None))
        elif a == b == 0:
            return [], "port 0 alone cannot be expressed (Antrea encodes port 0 as all ports)"
        else:
            values.append((a, None) if a == b else (a, b))
    values.extend((name, None) for name in side.names)
    return values, None


def _src_values(side: _Side) -> tuple[list[tuple[int | None, int | None]], str | None]:
    values: list[tuple[int | None, int | None]] = []
    for a, b in side.intervals:
        if (a, b) == _FULL:
            values.append((None, None))
        elif a == b == 0:
            return [], "source port 0 alone cannot be expressed"
        else:
            values.append((a, None) if a == b else (a, b))
    return values, None


def port_specs(rule: Rule, protocol: int | None) -> Match:
    """``ports``/``notPorts`` of both sides for a port protocol (TCP/UDP/SCTP) or no protocol."""
    src, dst = rule.source, rule.destination
    return _port_specs(dst.ports, dst.not_ports, src.ports, src.not_ports, protocol)


@functools.lru_cache(maxsize=4096)
def _port_specs(
    dst_ports: tuple[Port, ...],
    dst_not: tuple[Port, ...],
    src_ports: tuple[Port, ...],
    src_not: tuple[Port, ...],
    protocol: int | None,
) -> Match:
    # Cached: policies repeat the same port lists far more often than they differ.
    dst = _side(dst_ports, dst_not, "destination.ports", True)
    src = _side(src_ports, src_not, "source.ports", False)
    problems = tuple(p for p in (dst.problem, src.problem) if p)
    if problems:
        return Match(problems=problems)
    if dst.never or src.never:
        return Match(never=True)
    dst_values, why = _dst_values(dst)
    if why:
        return Match(problems=(("destination.ports", why),))
    src_values, why = _src_values(src)
    if why:
        return Match(problems=(("source.ports", why),))
    if protocol is None:
        numeric = [v for v in dst_values if not isinstance(v[0], str) and v != (None, None)]
        if numeric or src_values != [(None, None)]:
            return Match(problems=(("protocol", "numeric ports need protocol TCP, UDP or SCTP"),))
        if dst_values == [(None, None)]:
            return Match()  # all traffic: no ports, no protocols
        # Calico matches any protocol of the named port: one entry per port protocol.
        specs = tuple(PortSpec(protocol=proto, port=name) for name, _ in dst_values for proto in ("TCP", "UDP", "SCTP"))
        return Match(ports=specs, has_named_dst=True)
    proto_name = PORT_PROTOCOLS[protocol]
    specs = tuple(
        PortSpec(protocol=proto_name, port=port, end_port=end, source_port=sp, source_end_port=sep)
        for port, end in dst_values
        for sp, sep in src_values
    )
    return Match(ports=specs, has_named_dst=any(isinstance(p, str) for p, _ in dst_values))


def _types_except(skip: int) -> tuple[ICMPSpec, ...]:
    return tuple(ICMPSpec(icmp_type=t) for t in range(_MAX_ICMP + 1) if t != skip)


def icmp_specs(icmp: ICMPMatch | None, not_icmp: ICMPMatch | None) -> Match:
    """``icmp`` minus ``notICMP`` as ``protocols[].icmp`` entries (the complement is enumerated)."""
    if not_icmp is None or not_icmp.type is None:
        if icmp is None:
            return Match(protocols=(ICMPSpec(),))
        return Match(protocols=(ICMPSpec(icmp.type, icmp.code),))
    nt, nc = not_icmp.type, not_icmp.code
    if icmp is not None and icmp.type is not None:
        if icmp.type != nt:
            return Match(protocols=(ICMPSpec(icmp.type, icmp.code),))
        if nc is None or icmp.code == nc:
            return Match(never=True)
        if icmp.code is not None:
            return Match(protocols=(ICMPSpec(icmp.type, icmp.code),))
        return Match(protocols=tuple(ICMPSpec(nt, c) for c in range(_MAX_ICMP + 1) if c != nc))
    if nc is None:
        return Match(protocols=_types_except(nt))
    codes = tuple(ICMPSpec(nt, c) for c in range(_MAX_ICMP + 1) if c != nc)
    return Match(protocols=codes + _types_except(nt))
