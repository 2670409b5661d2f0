"""Pure checks over a node's routes and links: where Calico and Antrea would fight over addresses.

Route conflicts: two routes on different devices whose prefixes overlap. The kernel picks the
longest prefix, so the shorter route loses the overlapping range (the longer prefix), e.g. Calico's
``10.10.4.128/26 via tunl0`` inside Antrea's ``10.10.4.0/24 dev antrea-gw0`` sends traffic for the
Antrea pods in 10.10.4.128/26 into the IPIP tunnel. CIDRs either nest or are disjoint, so overlap
means containment; the check sorts once and looks each Antrea prefix's neighbours up, instead of
comparing every pair (nodes can hold thousands of Calico routes).

Address conflicts: Antrea gives ``antrea-gw0`` the first host address of the node's podCIDR; a Calico
pod (a ``/32`` or ``/128`` route to that address via a ``cali*`` device) or another interface may
already hold it.
"""

from __future__ import annotations

import bisect
import ipaddress
import socket
from collections.abc import Iterable

from kubectl_antrea_migrate.nodestate.model import AddressConflict, LinkInfo, Owner, RouteConflict, RouteInfo

__all__ = ["find_address_conflicts", "find_route_conflicts", "gateway_address"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ANTREA_GATEWAY = "antrea-gw0"


def gateway_address(pod_cidr: str) -> str:
    """The address Antrea gives ``antrea-gw0``: the first host of ``pod_cidr`` (``10.10.4.0/24`` -> ``10.10.4.1``).

    Raises:
        ValueError: ``pod_cidr`` is not a CIDR.
    """
    network = ipaddress.ip_network(pod_cidr, strict=False)
    return str(network.network_address + 1)


_LINK_LOCAL_V6 = 0xFE80 >> 6  # fe80::/10, as the top 10 bits


def _span(cidr: str) -> tuple[int, int, int, int]:
    """(version, first, last, prefix length) of a CIDR, by integer arithmetic.

    Cheaper than ``ipaddress.ip_network`` by an order of magnitude: nodes hold tens of thousands
    of Calico routes and only the few that conflict become ``ip_network`` objects.
    """
    address, _, prefix = cidr.partition("/")
    version, bits = (6, 128) if ":" in address else (4, 32)
    length = int(prefix) if prefix else bits
    family = socket.AF_INET6 if version == 6 else socket.AF_INET
    first = int.from_bytes(socket.inet_pton(family, address), "big") >> (bits - length) << (bits - length)
    return version, first, first | ((1 << (bits - length)) - 1), length


def find_route_conflicts(routes: Iterable[RouteInfo]) -> tuple[RouteConflict, ...]:
    """Every Calico route overlapping an Antrea route on another device, with the range it shadows.

    Routes outside the same table are not compared. Order: by Antrea route, then Calico route, as given.

    Raises:
        ValueError: a route destination is not a CIDR.
    """
    candidates = [r for r in routes if r.owner in (Owner.CALICO, Owner.ANTREA)]
    if not any(r.owner is Owner.ANTREA for r in candidates):
        return ()
    calico: list[tuple[tuple[int, int, int, int], int, RouteInfo]] = []
    antrea: list[tuple[tuple[int, int, int, int], RouteInfo]] = []
    for route in candidates:
        try:
            span = _span(route.destination)
        except (OSError, ValueError) as exc:
            raise ValueError(f"route destination {route.destination!r} is not a CIDR") from exc
        if span[0] == 6 and span[1] >> 118 == _LINK_LOCAL_V6:
            continue  # scoped to its own interface: cannot shadow another device's range
        if route.owner is Owner.CALICO:
            calico.append((span, len(calico), route))
        else:
            antrea.append((span, route))
    calico.sort(key=lambda item: (item[0], item[1]))
    starts = [(item[0][0], item[0][1]) for item in calico]
    conflicts: list[RouteConflict] = []
    for (version, first, last, _length), antrea_route in antrea:
        # Prefixes nest or are disjoint: every Calico prefix starting inside the Antrea one overlaps
        # it (a bisected slice); one starting before it overlaps only by containing it.
        low = bisect.bisect_left(starts, (version, first))
        high = bisect.bisect_right(starts, (version, last))
        hits = calico[low:high] + [item for item in calico[:low] if item[0][0] == version and item[0][2] >= first]
        for _span_of, _order, calico_route in sorted(hits, key=lambda item: item[1]):
            if calico_route.device == antrea_route.device or calico_route.table != antrea_route.table:
                continue
            conflicts.append(
                _route_conflict(
                    calico_route,
                    ipaddress.ip_network(calico_route.destination, strict=False),
                    antrea_route,
                    ipaddress.ip_network(antrea_route.destination, strict=False),
                )
            )
    return tuple(conflicts)


def _route_conflict(calico: RouteInfo, calico_net: _Network, antrea: RouteInfo, antrea_net: _Network) -> RouteConflict:
    calico_dev = calico.device or calico.type
    antrea_dev = antrea.device or antrea.type
    if calico_net.prefixlen >= antrea_net.prefixlen:
        shadowed = calico_net
        winner = f"Calico's {calico.destination} ({calico_dev})"
        loser = f"Antrea's {antrea.destination} ({antrea_dev})"
        victims = "Antrea pods given these addresses are unreachable"
    else:
        shadowed = antrea_net
        winner = f"Antrea's {antrea.destination} ({antrea_dev})"
        loser = f"Calico's {calico.destination} ({calico_dev})"
        victims = "Calico pods with these addresses are unreachable"
    reason = f"{winner} is the longer prefix and takes {shadowed} from {loser}: {victims}"
    if calico_net.prefixlen == antrea_net.prefixlen:
        reason = f"same prefix {shadowed} on {calico_dev} (Calico) and {antrea_dev} (Antrea): the first installed wins"
    return RouteConflict(calico, antrea, str(shadowed), reason)


def find_address_conflicts(
    gateway_ips: Iterable[str], links: Iterable[LinkInfo], routes: Iterable[RouteInfo]
) -> tuple[AddressConflict, ...]:
    """Every holder, other than ``antrea-gw0`` itself, of an address Antrea will give ``antrea-gw0``.

    Holders: a host route (``/32``, ``/128``) to the address via a ``cali*`` device (a Calico pod) and
    any other interface carrying the address (e.g. Calico's ``tunl0``, addressed from the block).

    Raises:
        ValueError: a gateway address is not an IP address.
    """
    wanted = {ipaddress.ip_address(ip): ip for ip in gateway_ips}
    conflicts: list[AddressConflict] = []
    if not wanted:
        return ()
    for route in routes:
        if not route.device or not route.device.startswith("cali"):
            continue
        network = ipaddress.ip_network(route.destination, strict=False)
        if network.num_addresses != 1 or network.network_address not in wanted:
            continue
        ip = wanted[network.network_address]
        conflicts.append(
            AddressConflict(
                ip,
                f"route {route.destination} dev {route.device} (a Calico pod)",
                f"a Calico pod holds {ip}, which Antrea gives {ANTREA_GATEWAY}: restart that pod before Antrea starts",
            )
        )
    for link in links:
        if link.name == ANTREA_GATEWAY:
            continue
        for cidr in link.addresses:
            address = ipaddress.ip_interface(cidr).ip
            if address in wanted:
                ip = wanted[address]
                conflicts.append(
                    AddressConflict(
                        ip,
                        f"address {cidr} on {link.name}",
                        f"{link.name} holds {ip}, which Antrea gives {ANTREA_GATEWAY}: remove it before Antrea starts",
                    )
                )
    return tuple(conflicts)
