"""Calico and Antrea interfaces and routes on a node: scan, plan the Calico removal, apply it.

Design:
- Ownership is judged by name, device and routing protocol, the way the two CNIs create them:
  Calico owns ``tunl0``, ``vxlan.calico``, ``vxlan-v6.calico`` and every ``cali*`` veth, every route
  whose device is one of those, and every ``proto bird`` route (BIRD is Calico's BGP daemon: block
  routes to other nodes and the blackhole routes of the node's own blocks). Antrea owns
  ``antrea-gw0``/``antrea-tun0`` and the routes through them. Everything else is counted, never touched.
- Only the main routing table is read: both CNIs put their pod routes there.
- Reading and route deletion use ``_netlink`` (struct-parsed dumps and batched deletes, fast on
  100k routes); link changes, a handful per node, go through pyroute2 (``NetNS(netns)``/``IPRoute()``).
- Deletion is exact: a route is deleted by its full key (destination, table, protocol, type,
  metric, device, gateway), never by destination alone, so a foreign route to the same prefix stays.
- ``tunl0`` of kind ``ipip`` is the ipip module's fallback device, which the kernel refuses to
  delete: it is set down and stripped of its addresses instead (what Calico's own teardown does).
- "Already absent" is success: a route or link that vanished between plan and apply is ABSENT.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from kubectl_antrea_migrate.nodestate.model import LinkInfo, Outcome, Owner, Result, RouteInfo
from node_agent import _netlink
from node_agent._netlink import RawRoute

__all__ = [
    "ANTREA_LINKS",
    "CALICO_TUNNELS",
    "DeleteLink",
    "DeleteRoute",
    "DisableLink",
    "LinkAction",
    "Links",
    "NetScan",
    "RouteEntry",
    "link_owner",
]

CALICO_TUNNELS = ("tunl0", "vxlan.calico", "vxlan-v6.calico")
ANTREA_LINKS = ("antrea-gw0", "antrea-tun0")
_RTPROT_BIRD = 12
_RTN_UNICAST = 1
_MISSING = (errno.ENOENT, errno.ESRCH, errno.ENODEV)
_PROTOCOLS = {
    0: "unspec",
    1: "redirect",
    2: "kernel",
    3: "boot",
    4: "static",
    11: "zebra",
    12: "bird",
    16: "dhcp",
    186: "bgp",
}
_TYPES = {
    1: "unicast",
    2: "local",
    3: "broadcast",
    4: "anycast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
    9: "throw",
    10: "nat",
}


def link_owner(name: str) -> Owner:
    """Which CNI created an interface, judged by its name."""
    if name in CALICO_TUNNELS or name.startswith("cali"):
        return Owner.CALICO
    if name in ANTREA_LINKS:
        return Owner.ANTREA
    return Owner.OTHER


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """A reported route plus the exact kernel key needed to delete only it."""

    info: RouteInfo
    key: RawRoute


@dataclass(frozen=True, slots=True)
class NetScan:
    """Calico and Antrea links and routes of one namespace."""

    links: tuple[LinkInfo, ...]
    routes: tuple[RouteEntry, ...]
    other_route_count: int

    @property
    def route_infos(self) -> tuple[RouteInfo, ...]:
        """The routes as reported (without kernel keys)."""
        return tuple(entry.info for entry in self.routes)


@dataclass(frozen=True, slots=True)
class DeleteRoute:
    """Delete one Calico route by its full key."""

    entry: RouteEntry

    def describe(self) -> tuple[str, str, str]:
        """(subsystem, object, action) for the outcome."""
        info = self.entry.info
        via = f" via={info.gateway}" if info.gateway else ""
        dev = f" dev={info.device}" if info.device else ""
        return "routes", f"route={info.destination} type={info.type} proto={info.protocol}{dev}{via}", "delete"


@dataclass(frozen=True, slots=True)
class DeleteLink:
    """Delete one Calico interface (a veth takes its peer with it)."""

    name: str
    kind: str

    def describe(self) -> tuple[str, str, str]:
        """(subsystem, object, action) for the outcome."""
        return "links", f"link={self.name} kind={self.kind}", "delete"


@dataclass(frozen=True, slots=True)
class DisableLink:
    """Set a link down and remove its addresses (the undeletable ipip fallback ``tunl0``)."""

    name: str

    def describe(self) -> tuple[str, str, str]:
        """(subsystem, object, action) for the outcome."""
        return "links", f"link={self.name} kind=ipip", "down+flush-addresses"


LinkAction = DeleteRoute | DeleteLink | DisableLink


class Links:
    """Links and routes of one network namespace (``None``: the agent's own, i.e. the node's)."""

    def __init__(self, netns: str | None = None) -> None:
        """Aim the subsystem at ``netns`` (a name under /run/netns or a path), or the current one."""
        self.netns = netns

    def scan(self) -> NetScan:
        """Read Calico/Antrea links (with addresses) and routes; count the other routes.

        Raises:
            OSError: the namespace cannot be entered or netlink refused the dump.
        """
        raw_links = _netlink.dump_links(self.netns)
        names = {link.index: link.name for link in raw_links}
        addresses: dict[int, list[str]] = {}
        for address in _netlink.dump_addresses(self.netns):
            addresses.setdefault(address.index, []).append(address.cidr)
        links = tuple(
            LinkInfo(
                link.name, link.kind, link_owner(link.name), tuple(addresses.get(link.index, ())), link.up, link.index
            )
            for link in raw_links
            if link_owner(link.name) is not Owner.OTHER
        )
        owned_oifs = frozenset(link.index for link in links)
        raw_routes, others = _netlink.dump_routes(self.netns, frozenset({_RTPROT_BIRD}), owned_oifs)
        # Every IPv6 device gets its own fe80::/64 from the kernel: not a pod route, gone with the link.
        kept = [route for route in raw_routes if not route.destination.startswith("fe80:")]
        entries = tuple(RouteEntry(_route_info(route, names), route) for route in kept)
        return NetScan(links, entries, others + len(raw_routes) - len(kept))

    @staticmethod
    def plan(scan: NetScan) -> tuple[LinkAction, ...]:
        """Pure: the Calico routes, then the Calico links, to remove (Antrea and others untouched)."""
        actions: list[LinkAction] = [DeleteRoute(entry) for entry in scan.routes if entry.info.owner is Owner.CALICO]
        for link in scan.links:
            if link.owner is not Owner.CALICO:
                continue
            if link.name == "tunl0" and link.kind == "ipip":
                if link.up or link.addresses:
                    actions.append(DisableLink(link.name))
            else:
                actions.append(DeleteLink(link.name, link.kind))
        return tuple(actions)

    def apply(self, actions: tuple[LinkAction, ...]) -> tuple[Outcome, ...]:
        """Run ``actions``: every route deletion first (one netlink batch), then the links in order.

        One outcome per action, in the given order. Idempotent: a vanished object is ABSENT.

        Raises:
            OSError: the namespace cannot be entered.
        """
        results: dict[int, tuple[Result, str]] = {}
        routes = [(p, a) for p, a in enumerate(actions) if isinstance(a, DeleteRoute)]
        if routes:  # all routes first, in one batch: a link deletion would take its routes silently
            errors = _netlink.delete_routes(self.netns, tuple(a.entry.key for _p, a in routes))
            results.update({p: _route_result(code) for (p, _a), code in zip(routes, errors, strict=True)})
        others = [(p, a) for p, a in enumerate(actions) if not isinstance(a, DeleteRoute)]
        if others:
            with self._ipr() as ipr:
                for position, action in others:
                    try:
                        results[position] = _run(ipr, action)
                    except OSError as exc:
                        results[position] = (Result.FAILED, f"{exc.strerror or exc} (errno {exc.errno})")
                    except NetlinkError as exc:
                        results[position] = (Result.FAILED, f"{os.strerror(exc.code)} (errno {exc.code})")
        return tuple(Outcome(*action.describe(), *results[p]) for p, action in enumerate(actions))

    @contextmanager
    def _ipr(self) -> Iterator[Any]:
        from pyroute2 import IPRoute, NetNS

        ipr = NetNS(self.netns) if self.netns else IPRoute()
        try:
            yield ipr
        finally:
            ipr.close()


def _route_info(route: RawRoute, names: dict[int, str]) -> RouteInfo:
    device = names.get(route.oif) if route.oif else None
    if route.type != _RTN_UNICAST and device == "lo":  # the kernel hangs IPv6 blackholes on lo
        device = None
    owner = link_owner(device) if device else Owner.OTHER
    if owner is Owner.OTHER and route.protocol == _RTPROT_BIRD:
        owner = Owner.CALICO
    return RouteInfo(
        destination=route.destination,
        device=device,
        gateway=route.gateway,
        protocol=_PROTOCOLS.get(route.protocol, str(route.protocol)),
        type=_TYPES.get(route.type, str(route.type)),
        owner=owner,
        table=route.table,
        onlink=route.onlink,
    )


def _route_result(code: int) -> tuple[Result, str]:
    if code == 0:
        return Result.DONE, ""
    if code in _MISSING:
        return Result.ABSENT, "no such route"
    return Result.FAILED, f"{os.strerror(code)} (errno {code})"


def _run(ipr: Any, action: DeleteLink | DisableLink) -> tuple[Result, str]:
    indexes = ipr.link_lookup(ifname=action.name)
    if not indexes:
        return Result.ABSENT, "no such link"
    if isinstance(action, DeleteLink):
        try:
            ipr.link("del", index=indexes[0])
        except NetlinkError as exc:
            if exc.code in _MISSING:
                return Result.ABSENT, "no such link"
            raise OSError(exc.code, os.strerror(exc.code)) from exc
        return Result.DONE, ""
    ipr.link("set", index=indexes[0], state="down")
    for address in ipr.get_addr(index=indexes[0]):
        ipr.addr(
            "del",
            index=indexes[0],
            address=address.get("IFA_LOCAL") or address.get("IFA_ADDRESS"),
            prefixlen=address["prefixlen"],
        )
    return Result.DONE, "ipip fallback device cannot be deleted: set down, addresses removed"
