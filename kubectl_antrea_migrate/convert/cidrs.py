"""CIDR algebra for ipBlocks: Calico ``nets`` minus ``notNets`` as Antrea ``ipBlock {cidr, except}``.

Two CIDRs are either nested or disjoint, which makes the difference exact with one level of
``except``: for each positive CIDR N, drop N when some excluded M contains it, otherwise keep the
excluded CIDRs strictly inside N (only the maximal ones; Antrea requires each to be a strict
subset). Families never mix: an excluded CIDR of the other family is irrelevant.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from kubectl_antrea_migrate.calico.model import Network
from kubectl_antrea_migrate.kube.model import IPBlock

__all__ = ["everything", "intersect", "ip_blocks", "maximal", "sort_key"]


def sort_key(net: Network) -> tuple[int, int, int]:
    """Deterministic order: family, address, prefix length."""
    return (net.version, int(net.network_address), net.prefixlen)


def everything(family: int) -> Network:
    """``0.0.0.0/0`` or ``::/0``."""
    return ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")


def _contains(outer: Network, inner: Network) -> bool:
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def maximal(nets: Iterable[Network]) -> tuple[Network, ...]:
    """Remove duplicates and CIDRs contained in another one; sorted."""
    unique = sorted(set(nets), key=sort_key)
    return tuple(n for n in unique if not any(o != n and _contains(o, n) for o in unique))


def ip_blocks(include: Iterable[Network], exclude: Iterable[Network]) -> tuple[IPBlock, ...]:
    """``include`` minus ``exclude`` as ipBlocks (exact because CIDRs nest or are disjoint)."""
    excluded = maximal(exclude)
    blocks: list[IPBlock] = []
    for net in maximal(include):
        if any(_contains(m, net) for m in excluded):
            continue
        inner = tuple(str(m) for m in excluded if m != net and _contains(net, m))
        blocks.append(IPBlock(cidr=str(net), except_=inner))
    return tuple(blocks)


def intersect(a: Iterable[Network], b: Iterable[Network]) -> tuple[Network, ...]:
    """The intersection of two CIDR unions (the smaller of each nested pair)."""
    out: list[Network] = []
    b_list = list(b)
    for x in a:
        for y in b_list:
            if _contains(x, y):
                out.append(y)
            elif _contains(y, x):
                out.append(x)
    return maximal(out)
