"""The agent's wire format: every node fact survives dataclass -> protobuf bytes -> dataclass unchanged."""

from __future__ import annotations

from dataclasses import replace
from enum import Enum

import pytest

from kubectl_antrea_migrate.agents.client import (
    cni_network_to_pb,
    outcome_from_pb,
    report_from_pb,
    sandbox_outcome_from_pb,
)
from kubectl_antrea_migrate.nodestate.model import (
    AddressConflict,
    Backend,
    CniConf,
    CniNetwork,
    CniScan,
    LinkInfo,
    NetfilterSummary,
    NodeReport,
    Outcome,
    Owner,
    Result,
    RouteConflict,
    RouteInfo,
    SandboxOutcome,
    TableSummary,
)
from node_agent._pb import agent_pb2
from node_agent.server import cni_network_from_pb, outcome_to_pb, report_to_pb, sandbox_outcome_to_pb

CALICO_BLOCK = RouteInfo("10.10.4.128/26", "tunl0", "192.168.1.12", "bird", "unicast", Owner.CALICO, onlink=True)
ANTREA_NODE = RouteInfo("10.10.4.0/24", "antrea-gw0", None, "kernel", "unicast", Owner.ANTREA)
BLACKHOLE = RouteInfo("10.10.7.0/26", None, None, "bird", "blackhole", Owner.CALICO, table=100)


def _report(active: str | None = "10-antrea.conflist") -> NodeReport:
    return NodeReport(
        node="worker-1",
        cni=CniScan(
            conf_dir="/etc/cni/net.d",
            confs=(
                CniConf("10-antrea.conflist", "antrea", ("antrea", "portmap", "bandwidth"), True, owner=Owner.ANTREA),
                CniConf("10-calico.conflist", "k8s-pod-network", ("calico",), True, owner=Owner.CALICO),
                CniConf("99-broken.conf", "", (), False, error="line 3: invalid JSON"),
            ),
            active=active,
            other_files=("calico-kubeconfig",),
        ),
        links=(
            LinkInfo("tunl0", "ipip", Owner.CALICO, ("10.10.4.129/32",), up=True, index=4),
            LinkInfo("antrea-gw0", "openvswitch", Owner.ANTREA, ("10.10.4.1/24", "fd00::1/64"), up=False, index=9),
        ),
        routes=(CALICO_BLOCK, ANTREA_NODE, BLACKHOLE),
        other_route_count=17,
        route_conflicts=(RouteConflict(CALICO_BLOCK, ANTREA_NODE, "10.10.4.128/26", "longer prefix via tunl0"),),
        address_conflicts=(AddressConflict("10.10.4.1", "route 10.10.4.1/32 dev cali1234", "held by a pod"),),
        netfilter=(
            NetfilterSummary(
                Backend.LEGACY, True, (TableSummary("filter", 12, 80, 3, 120), TableSummary("ip6:nat", 0, 0, 0, 4))
            ),
            NetfilterSummary(Backend.NFT, False, error="iptables-nft-save not found on PATH"),
        ),
        calico_ipsets=("cali40all-ipam-pools", "cali40masq-ipam-pools"),
        warnings=("ipip module missing",),
    )


def _through_bytes(report: NodeReport) -> NodeReport:
    wire = report_to_pb(report).SerializeToString()
    return report_from_pb(agent_pb2.NodeReport.FromString(wire))


def test_node_report_round_trips_through_bytes() -> None:
    report = _report()

    assert _through_bytes(report) == report


def test_no_active_conf_stays_none_not_empty_string() -> None:
    decoded = _through_bytes(_report(active=None))

    assert decoded.cni.active is None


def test_route_without_device_or_gateway_stays_none() -> None:
    decoded = _through_bytes(_report())

    assert decoded.routes[2].device is None
    assert decoded.routes[1].gateway is None
    assert decoded.routes[0].gateway == "192.168.1.12"


@pytest.mark.parametrize("member", [*Owner, *Result, *Backend])
def test_every_enum_member_has_a_wire_value(member: Enum) -> None:
    """A model enum member without a proto value would fail at run time on the first node that has one."""
    if isinstance(member, Result):
        decoded = outcome_from_pb(outcome_to_pb(Outcome("files", "file=x", "move", member)))
        assert decoded.result is member
    elif isinstance(member, Owner):
        report = replace(_report(), links=(LinkInfo("x", "dummy", member),))
        assert _through_bytes(report).links[0].owner is member
    else:
        assert isinstance(member, Backend)
        report = replace(_report(), netfilter=(NetfilterSummary(member, True),))
        assert _through_bytes(report).netfilter[0].backend is member


def test_outcomes_round_trip() -> None:
    outcome = Outcome("netfilter", "chain=cali-FORWARD table=filter backend=nft", "delete", Result.PLANNED, "12 rules")
    sandbox = SandboxOutcome("web-0", "shop", "4f2a", Result.DONE, 0.42, "stopped and removed")
    host = SandboxOutcome(
        "kube-proxy-x", "kube-system", "9c1e", Result.SKIPPED, detail="hostNetwork", host_network=True
    )

    assert outcome_from_pb(outcome_to_pb(outcome)) == outcome
    assert sandbox_outcome_from_pb(sandbox_outcome_to_pb(sandbox)) == sandbox
    assert sandbox_outcome_from_pb(sandbox_outcome_to_pb(host)) == host


def test_unknown_enum_value_from_a_newer_agent_is_an_error() -> None:
    message = outcome_to_pb(Outcome("links", "link=tunl0", "delete", Result.DONE))
    message.result = 42  # type: ignore[assignment] # proto3 enums are open: a newer agent may send values this plugin lacks

    with pytest.raises(ValueError, match="unknown Result value 42"):
        outcome_from_pb(message)


def test_unspecified_enum_value_is_an_error() -> None:
    message = outcome_to_pb(Outcome("links", "link=tunl0", "delete", Result.DONE))
    message.result = agent_pb2.RESULT_UNSPECIFIED

    with pytest.raises(ValueError, match="RESULT_UNSPECIFIED"):
        outcome_from_pb(message)


@pytest.mark.parametrize("network", list(CniNetwork))
def test_every_cni_network_survives_a_set_cni_request_through_bytes(network: CniNetwork) -> None:
    request = agent_pb2.SetCniRequest(network=cni_network_to_pb(network), dry_run=True)

    decoded = agent_pb2.SetCniRequest.FromString(request.SerializeToString())

    assert cni_network_from_pb(decoded.network) is network
    assert decoded.dry_run


def test_set_cni_network_unspecified_or_unknown_is_refused() -> None:
    with pytest.raises(ValueError, match="network is CNI_NETWORK_UNSPECIFIED: expected CNI_NETWORK_CALICO"):
        cni_network_from_pb(agent_pb2.CNI_NETWORK_UNSPECIFIED)
    with pytest.raises(ValueError, match="unknown network value 42"):
        cni_network_from_pb(42)
