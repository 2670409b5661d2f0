"""Pure route and address conflict checks (kubectl_antrea_migrate.nodestate.conflicts)."""

from __future__ import annotations

import pytest

from kubectl_antrea_migrate.nodestate.conflicts import find_address_conflicts, find_route_conflicts, gateway_address
from kubectl_antrea_migrate.nodestate.model import LinkInfo, Owner, RouteInfo


def calico(destination: str, device: str | None = "tunl0", type_: str = "unicast") -> RouteInfo:
    return RouteInfo(destination, device, None, "bird", type_, Owner.CALICO)


def antrea(destination: str, device: str = "antrea-gw0") -> RouteInfo:
    return RouteInfo(destination, device, None, "kernel", "unicast", Owner.ANTREA)


def other(destination: str, device: str = "eth0") -> RouteInfo:
    return RouteInfo(destination, device, None, "static", "unicast", Owner.OTHER)


def test_seed_case_calico_block_inside_antrea_podcidr_shadows_the_block() -> None:
    block, pod_cidr = calico("10.10.4.128/26"), antrea("10.10.4.0/24")

    (conflict,) = find_route_conflicts([block, pod_cidr])

    assert conflict.calico_route == block and conflict.antrea_route == pod_cidr
    assert conflict.shadowed == "10.10.4.128/26"
    assert "Calico's 10.10.4.128/26 (tunl0) is the longer prefix" in conflict.reason
    assert "Antrea pods" in conflict.reason


def test_antrea_route_inside_a_calico_route_shadows_the_antrea_range() -> None:
    (conflict,) = find_route_conflicts([calico("10.10.0.0/16"), antrea("10.10.4.0/24")])

    assert conflict.shadowed == "10.10.4.0/24"
    assert "Calico pods" in conflict.reason


def test_containing_calico_route_with_the_same_start_is_found() -> None:
    (conflict,) = find_route_conflicts([calico("10.10.4.0/22"), antrea("10.10.4.0/24")])

    assert conflict.shadowed == "10.10.4.0/24"


def test_blackhole_for_a_local_block_conflicts_with_the_podcidr() -> None:
    (conflict,) = find_route_conflicts([calico("10.10.4.192/26", None, "blackhole"), antrea("10.10.4.0/24")])

    assert conflict.shadowed == "10.10.4.192/26"
    assert "blackhole" in conflict.reason


def test_equal_prefixes_on_different_devices_conflict() -> None:
    (conflict,) = find_route_conflicts([calico("10.10.4.0/24", "vxlan.calico"), antrea("10.10.4.0/24")])

    assert conflict.shadowed == "10.10.4.0/24"
    assert "same prefix" in conflict.reason


@pytest.mark.parametrize(
    "routes",
    [
        pytest.param([calico("10.10.5.0/26"), antrea("10.10.4.0/24")], id="disjoint"),
        pytest.param([calico("10.10.4.128/26", "antrea-gw0"), antrea("10.10.4.0/24")], id="same-device"),
        pytest.param([other("10.10.4.128/26"), antrea("10.10.4.0/24")], id="foreign-route"),
        pytest.param([calico("fd00:10:4::/122"), antrea("10.10.4.0/24")], id="other-family"),
        pytest.param([calico("fe80::/64", "cali1"), antrea("fe80::/64")], id="link-local"),
        pytest.param(
            [
                calico("10.10.4.128/26"),
                RouteInfo("10.10.4.0/24", "antrea-gw0", None, "kernel", "unicast", Owner.ANTREA, table=100),
            ],
            id="other-table",
        ),
    ],
)
def test_no_conflict(routes: list[RouteInfo]) -> None:
    assert find_route_conflicts(routes) == ()


def test_every_overlap_is_reported_once_in_input_order() -> None:
    routes = [
        antrea("10.10.4.0/24"),
        calico("10.10.4.64/26"),
        calico("10.10.5.0/26"),
        calico("10.10.4.0/26", "cali123"),
        antrea("fd00:10:4::/64"),
        calico("fd00:10:4::40/122", "vxlan-v6.calico"),
        calico("10.0.0.0/8", "tunl0"),
    ]

    found = [(c.calico_route.destination, c.antrea_route.destination, c.shadowed) for c in find_route_conflicts(routes)]

    assert found == [
        ("10.10.4.64/26", "10.10.4.0/24", "10.10.4.64/26"),
        ("10.10.4.0/26", "10.10.4.0/24", "10.10.4.0/26"),
        ("10.0.0.0/8", "10.10.4.0/24", "10.10.4.0/24"),
        ("fd00:10:4::40/122", "fd00:10:4::/64", "fd00:10:4::40/122"),
    ]


def test_many_calico_routes_are_checked_against_each_antrea_route() -> None:
    blocks = [calico(f"10.{i // 256}.{i % 256}.0/26") for i in range(20_000)]

    found = find_route_conflicts([*blocks, antrea("10.3.0.0/22")])

    assert [c.shadowed for c in found] == ["10.3.0.0/26", "10.3.1.0/26", "10.3.2.0/26", "10.3.3.0/26"]


def test_gateway_address_is_the_first_host_of_the_podcidr() -> None:
    assert gateway_address("10.10.4.0/24") == "10.10.4.1"
    assert gateway_address("fd00:10:4::/64") == "fd00:10:4::1"


def test_pod_route_to_the_gateway_address_is_an_address_conflict() -> None:
    routes = [RouteInfo("10.10.4.1/32", "cali1a2b", None, "boot", "unicast", Owner.CALICO), calico("10.10.4.0/26")]

    (conflict,) = find_address_conflicts(["10.10.4.1"], [], routes)

    assert conflict.address == "10.10.4.1"
    assert conflict.holder == "route 10.10.4.1/32 dev cali1a2b (a Calico pod)"


def test_interface_already_holding_the_gateway_address_is_reported_but_antrea_gw0_is_not() -> None:
    links = [
        LinkInfo("tunl0", "ipip", Owner.CALICO, ("10.10.4.1/32",)),
        LinkInfo("antrea-gw0", "openvswitch", Owner.ANTREA, ("10.10.4.1/24",)),
    ]

    conflicts = find_address_conflicts(["10.10.4.1"], links, [])

    assert [(c.address, c.holder) for c in conflicts] == [("10.10.4.1", "address 10.10.4.1/32 on tunl0")]


def test_no_address_conflict_for_other_addresses_or_prefixes() -> None:
    routes = [
        RouteInfo("10.10.4.2/32", "cali1a2b", None, "boot", "unicast", Owner.CALICO),
        RouteInfo("10.10.4.0/31", "cali1a2b", None, "boot", "unicast", Owner.CALICO),
        RouteInfo("10.10.4.1/32", "eth0", None, "static", "unicast", Owner.OTHER),
    ]

    assert find_address_conflicts(["10.10.4.1"], [], routes) == ()
    assert find_address_conflicts([], [], routes) == ()
