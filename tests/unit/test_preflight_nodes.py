"""preflight/nodes.py: the agents' node reports judged for the migration."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kubectl_antrea_migrate.nodestate.model import (
    CALICO_PIN_FILE,
    AddressConflict,
    Backend,
    CniConf,
    CniScan,
    NetfilterSummary,
    NodeReport,
    Owner,
    RouteConflict,
    RouteInfo,
    TableSummary,
)
from kubectl_antrea_migrate.preflight.findings import Finding, Severity, has_blockers
from kubectl_antrea_migrate.preflight.nodes import node_findings, nodes_findings

CALICO = CniConf("10-calico.conflist", "k8s-pod-network", ("calico", "portmap"), True, owner=Owner.CALICO)
ANTREA = CniConf("10-antrea.conflist", "antrea", ("antrea", "portmap"), True, owner=Owner.ANTREA)
MULTUS = CniConf("00-multus.conf", "multus-cni-network", ("multus",), True, owner=Owner.MULTUS)
CLEAN_NETFILTER = (
    NetfilterSummary(Backend.LEGACY, True, (TableSummary("filter", 0, 0, 0, 3),)),
    NetfilterSummary(Backend.NFT, True, (TableSummary("filter", 0, 0, 0, 5),)),
)


def report(**changes: Any) -> NodeReport:
    base = NodeReport(
        node="worker-1",
        cni=CniScan("/etc/cni/net.d", (CALICO,), "10-calico.conflist"),
        links=(),
        routes=(),
        other_route_count=3,
        route_conflicts=(),
        address_conflicts=(),
        netfilter=CLEAN_NETFILTER,
        calico_ipsets=(),
    )
    return replace(base, **changes)


def codes(findings: tuple[Finding, ...]) -> list[str]:
    return [f.code for f in findings]


def test_a_calico_only_node_before_the_switch_has_nothing_to_fix() -> None:
    findings = node_findings(report())

    assert findings == ()


def test_the_seed_route_conflict_is_a_blocker_naming_both_routes_and_the_shadowed_range() -> None:
    calico = RouteInfo("10.10.4.128/26", "tunl0", None, "bird", "unicast", Owner.CALICO)
    antrea = RouteInfo("10.10.4.0/24", "antrea-gw0", None, "kernel", "unicast", Owner.ANTREA)
    conflict = RouteConflict(calico, antrea, "10.10.4.128/26", "Calico's route is the longer prefix")

    (finding,) = node_findings(report(route_conflicts=(conflict,)))

    assert finding.severity is Severity.BLOCKER and finding.code == "node-route-conflict"
    assert finding.subject == "node/worker-1"
    assert "10.10.4.128/26 dev tunl0" in finding.message and "10.10.4.0/24 dev antrea-gw0" in finding.message
    assert "10.10.4.128/26 is shadowed" in finding.message
    assert "worker-1 --cleanup-calico" in finding.fix


def test_a_pod_holding_the_gateway_address_is_a_blocker() -> None:
    taken = AddressConflict("10.10.4.1", "route 10.10.4.1/32 dev cali12ab (a Calico pod)", "restart that pod")

    (finding,) = node_findings(report(address_conflicts=(taken,)))

    assert (finding.severity, finding.code) == (Severity.BLOCKER, "node-gateway-address-taken")
    assert "10.10.4.1" in finding.message and "cali12ab" in finding.message


def test_a_foreign_conf_sorting_before_antrea_blocks_but_multus_does_not() -> None:
    weave = CniConf("05-weave.conflist", "weave", ("weave-net",), True, owner=Owner.OTHER)
    confs = (MULTUS, weave, ANTREA, CALICO)

    findings = node_findings(report(cni=CniScan("/etc/cni/net.d", confs, "00-multus.conf")))

    assert codes(findings) == ["cni-conf-shadows-antrea"]
    assert findings[0].severity is Severity.BLOCKER
    assert "05-weave.conflist sorts before 10-antrea.conflist" in findings[0].message


def test_before_antrea_is_installed_its_future_conf_name_is_the_reference() -> None:
    early_calico = replace(CALICO, file="01-calico.conflist")

    findings = node_findings(report(cni=CniScan("/etc/cni/net.d", (early_calico,), early_calico.file)))

    assert codes(findings) == ["cni-conf-shadows-antrea"]
    assert "Calico's CNI conf 01-calico.conflist sorts before 10-antrea.conflist" in findings[0].message


def test_the_calico_pin_a_rollback_wrote_is_info_not_a_blocker_so_run_can_start_again() -> None:
    pin = replace(CALICO, file=CALICO_PIN_FILE)
    foreign_calico = replace(CALICO, file="01-calico.conflist")

    pinned = node_findings(report(cni=CniScan("/etc/cni/net.d", (pin, ANTREA, CALICO), pin.file)))
    shadowed = node_findings(report(cni=CniScan("/etc/cni/net.d", (foreign_calico, ANTREA), foreign_calico.file)))

    assert [(f.severity, f.code) for f in pinned] == [(Severity.INFO, "cni-calico-pinned")]
    assert "worker-1 --cni antrea" in pinned[0].fix
    assert codes(shadowed) == ["cni-conf-shadows-antrea"]  # any other early Calico conf still blocks


def test_an_invalid_conf_is_a_warning_and_no_valid_conf_is_reported() -> None:
    broken = CniConf("05-broken.conf", "", (), False, error="invalid JSON")

    findings = node_findings(report(cni=CniScan("/etc/cni/net.d", (broken,), None)))

    assert codes(findings) == ["cni-conf-invalid", "cni-no-active-conf"]
    assert findings[0].severity is Severity.WARNING and "invalid JSON" in findings[0].message
    assert not has_blockers(findings)


def test_calico_rules_in_both_backends_are_flagged_as_stale() -> None:
    calico_tables = (TableSummary("filter", 12, 80, 3, 100), TableSummary("nat", 4, 10, 2, 20))
    netfilter = (
        NetfilterSummary(Backend.LEGACY, True, calico_tables),
        NetfilterSummary(Backend.NFT, True, calico_tables[:1]),
    )

    findings = node_findings(report(netfilter=netfilter))

    assert codes(findings) == ["calico-netfilter-rules", "calico-netfilter-rules", "calico-rules-in-both-backends"]
    assert "iptables-legacy holds 16 Calico chains (90 rules) and 5 jumps into them" in findings[0].message
    assert findings[2].severity is Severity.WARNING


def test_a_missing_backend_tool_is_a_warning_and_a_read_error_is_not_reported_twice() -> None:
    netfilter = (
        NetfilterSummary(Backend.LEGACY, False),
        NetfilterSummary(Backend.NFT, False, error="iptables-nft-save: permission denied"),
    )
    warnings = ("nft backend: iptables-nft-save: permission denied",)

    findings = node_findings(report(netfilter=netfilter, warnings=warnings))

    assert codes(findings) == ["netfilter-backend-unreadable", "node-agent-warning"]
    assert "iptables-legacy is not available" in findings[0].message
    assert findings[1].message == warnings[0]


def test_findings_of_many_nodes_keep_the_node_order() -> None:
    broken = CniConf("05-broken.conf", "", (), False, error="bad")
    reports = (
        report(node="b", cni=CniScan("/d", (broken, CALICO), CALICO.file)),
        report(node="a", cni=CniScan("/d", (broken, CALICO), CALICO.file)),
    )

    assert [f.subject for f in nodes_findings(reports)] == ["node/b", "node/a"]
