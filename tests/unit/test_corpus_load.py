"""Every file of the public Calico policy corpus (../shared/upstream/calico-policies, read in place) loads
to exactly the pinned counts, or fails with exactly the pinned InputError; none crashes.

Files that fail are broken as published: SOURCES.md flags the documentation defects and placeholders;
the others break a rule Calico's validator enforces (upper-case names, a named port longer than 15
characters, numeric ports without a protocol, IPv4 and IPv6 CIDRs in one rule, ``global()`` combined
with other selectors in a namespaceSelector).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

from kubectl_antrea_migrate.calico.load import load_paths
from kubectl_antrea_migrate.errors import InputError


class Loaded(NamedTuple):
    policies: int
    network_sets: int
    tiers: int
    kubernetes_policies: int
    host_endpoints: int
    skipped: int


# file (relative to calico-policies/) -> counts, or the InputError message after "<path>: ".
EXPECTED: dict[str, Loaded | str] = {
    "ibm-network-config-analyzer/demo-sanity2-typo-selector-no-effect.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "ibm-network-config-analyzer/testcase11-allowFirstDefaultDeny.yaml":
        "document 1 (NetworkPolicy kube-system/testcase11-allow-allowFirst-DefaultDeny): metadata.name: invalid "
        "NetworkPolicy name 'testcase11-allow-allowFirst-DefaultDeny': must be lower case alphanumerics and '-', "
        "optionally '<tier>.<name>'",
    "ibm-network-config-analyzer/testcase12-kube-system-policies.yaml":
        "document 2 (NetworkPolicy kube-system/allow-notSelector-tier): metadata.name: invalid NetworkPolicy name "
        "'allow-notSelector-tier': must be lower case alphanumerics and '-', optionally '<tier>.<name>'",
    "ibm-network-config-analyzer/testcase13-kube-system-match-not-protocol.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "ibm-network-config-analyzer/testcase14-default-icmp-no-type.yaml":
        "document 2 (NetworkPolicy default/testcase14-networkpolicy-open-default-with-notICMP): metadata.name: "
        "invalid NetworkPolicy name 'testcase14-networkpolicy-open-default-with-notICMP': must be lower case "
        "alphanumerics and '-', optionally '<tier>.<name>'",
    "ibm-network-config-analyzer/testcase14-kube-system-match-notICMP.yaml":
        "document 1 (NetworkPolicy kube-system/kube-system-match-nonICMP): metadata.name: invalid NetworkPolicy "
        "name 'kube-system-match-nonICMP': must be lower case alphanumerics and '-', optionally '<tier>.<name>'",
    "ibm-network-config-analyzer/testcase15-equiv-games1.yaml":
        "document 1 (NetworkPolicy kube-system/testcase15-enable-egress-TCP-all-ports-directly): metadata.name: "
        "invalid NetworkPolicy name 'testcase15-enable-egress-TCP-all-ports-directly': must be lower case "
        "alphanumerics and '-', optionally '<tier>.<name>'",
    "ibm-network-config-analyzer/testcase15-global-not-simple.yaml": Loaded(2, 0, 0, 0, 0, 0),
    "ibm-network-config-analyzer/testcase15-named-ports.yaml":
        "document 1 (NetworkPolicy kube-system/testcase15-vacuous-no-exist-named-ports): "
        "spec.egress[0].destination.ports[0]: invalid port 'no-exist-named-port1': expected a number, 'min:max', "
        "or a port name (at most 15 lower case alphanumerics and '-', with a letter)",
    "ibm-network-config-analyzer/testcase16-containment-games.yaml":
        "document 1 (NetworkPolicy kube-system/testcase16-Allow-ingress-All-egress-TCP): metadata.name: invalid "
        "NetworkPolicy name 'testcase16-Allow-ingress-All-egress-TCP': must be lower case alphanumerics and '-', "
        "optionally '<tier>.<name>'",
    "ibm-network-config-analyzer/testcase16-different-ranges-writing-equiv.yaml":
        "document 1 (NetworkPolicy kube-system/testcase16-simple-all-range): spec.ingress[0].source.nets: rule "
        "contains both IPv4 and IPv6 CIDRs",
    "ibm-network-config-analyzer/testcase18-pods-based-policies.yaml":
        "document 1 (NetworkPolicy kube-system/testcase18-highPriorityPass-k8s-app-redundant): metadata.name: "
        "invalid NetworkPolicy name 'testcase18-highPriorityPass-k8s-app-redundant': must be lower case "
        "alphanumerics and '-', optionally '<tier>.<name>'",
    "ibm-network-config-analyzer/testcase18-ports-based-policies.yaml": Loaded(3, 0, 0, 0, 0, 0),
    "ibm-network-config-analyzer/testcase20-0-gnps.yaml": Loaded(6, 0, 0, 0, 0, 0),
    "ibm-network-config-analyzer/testcase23-networkpolicy-globalnetworkset.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "ibm-network-config-analyzer/testcase23-networkpolicy-networkset.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "ibm-network-config-analyzer/testcase24-a.yaml":
        "document 1 (NetworkPolicy kube-system/testcase24-a): spec.egress[0].destination.namespaceSelector: "
        "global() cannot be combined with other selectors",
    "ibm-network-config-analyzer/testcase24-b.yaml":
        "document 1 (NetworkPolicy kube-system/testcase24-b): spec.ingress[0].source.namespaceSelector: global() "
        "cannot be combined with other selectors",
    "ibm-network-config-analyzer/testcase24-c.yaml":
        "document 1 (NetworkPolicy kube-system/testcase24-c): spec.egress[0].destination.namespaceSelector: "
        "global() cannot be combined with other selectors",
    "ibm-network-config-analyzer/testcase25-networkpolicy-calico-k8s.yaml": Loaded(1, 0, 0, 1, 0, 0),
    "projectcalico-calico/global-network-policy-override.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "projectcalico-calico/seed-resources.yaml": Loaded(3, 2, 1, 0, 1, 1),
    "projectcalico-calico/winfv-egress.yaml": Loaded(0, 0, 0, 2, 0, 0),
    "projectcalico-calico/winfv-ingress.yaml": Loaded(0, 0, 0, 1, 0, 0),
    "tigera-docs/about-network-policy--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/adopt-zero-trust--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/adopt-zero-trust--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/calico-labels--1.yaml":
        "document 1 (GlobalNetworkPolicy foo-and-bar): spec.ingress[0].destination.ports[0]: rules that specify "
        "ports must set protocol to TCP, UDP or SCTP",
    "tigera-docs/calico-labels--2.yaml":
        "document 1 (GlobalNetworkPolicy foo-and-bar): spec.ingress[0].destination.ports[0]: rules that specify "
        "ports must set protocol to TCP, UDP or SCTP",
    "tigera-docs/calico-network-policy--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/calico-network-policy--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/calico-network-policy--3.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/calico-network-policy--4.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/calico-network-policy--5.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/calico-network-policy--6.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/create-ingress-gateway--1.yaml":
        "document 1 (NetworkPolicy <gateway-namespace>/allow-tigera-gateway-proxy): metadata.namespace: invalid "
        "namespace '<gateway-namespace>': must be a DNS-1123 label",
    "tigera-docs/defend-dos-attack--1.yaml": Loaded(0, 1, 0, 0, 0, 0),
    "tigera-docs/defend-dos-attack--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/enforce-policy-istio--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/external-ips-policy--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/external-ips-policy--2.yaml": Loaded(0, 1, 0, 0, 0, 0),
    "tigera-docs/external-ips-policy--3.yaml": Loaded(2, 0, 0, 0, 0, 0),
    "tigera-docs/globalnetworkpolicy--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/globalnetworkset--1.yaml": Loaded(0, 1, 0, 0, 0, 0),
    "tigera-docs/high-connection-workloads--1.yaml": Loaded(1, 0, 0, 0, 1, 0),
    "tigera-docs/host-forwarded-traffic--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/http-methods--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/icmp-ping--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/icmp-ping--2.yaml":
        "document 1 (GlobalNetworkPolicy allow-ping-in-cluster): spec.ingress[0].icmp.type: expected an integer, "
        "got a string ('8  Ping request')",
    "tigera-docs/icmp-ping--3.yaml":
        "document 1 (GlobalNetworkPolicy allow-host-unreachable): spec.ingress[0].icmp.type: expected an integer, "
        "got a string ('3  Destination unreachable')",
    "tigera-docs/kubernetes-default-deny--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/kubernetes-default-deny--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/kubernetes-default-deny--3.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/kubernetes-node-ports--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/kubernetes-node-ports--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/limitations--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/limitations--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/log-rules--1.yaml":
        "document 1 (GlobalNetworkPolicy <log-everything-in-cluster>): metadata.name: invalid GlobalNetworkPolicy "
        "name '<log-everything-in-cluster>': must be lower case alphanumerics and '-', optionally '<tier>.<name>'",
    "tigera-docs/log-rules--2.yaml":
        "document 1 (NetworkPolicy <namespace>/log-everything-in-ns): metadata.namespace: invalid namespace "
        "'<namespace>': must be a DNS-1123 label",
    "tigera-docs/namespace-policy--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/network-policy-openstack--1.yaml": Loaded(2, 0, 0, 0, 0, 0),
    "tigera-docs/network-policy-openstack--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/networkpolicy--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/networkset--1.yaml": Loaded(0, 1, 0, 0, 0, 0),
    "tigera-docs/node-local-dns-cache--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/protect-hosts--1.yaml":
        "document 1 (GlobalNetworkPolicy k8s-worker): spec.ingress[0].source.nets[0]: invalid CIDR "
        "'<your management CIDR>'",
    "tigera-docs/secure-metrics--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/secure-metrics--2.yaml": Loaded(0, 1, 0, 0, 0, 0),
    "tigera-docs/secure-metrics--3.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/secure-metrics--4.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/service-accounts--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/service-accounts--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/service-accounts--3.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/service-policy--1.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/service-policy--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/service-policy--3.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/service-policy--4.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/services-cluster-ips--1.yaml":
        "document 1 (GlobalNetworkPolicy allow-cluster-ips): spec.ingress[0].destination.nets[0]: invalid CIDR "
        "'10.20.30.40/32  Cluster IP A'",
    "tigera-docs/services-cluster-ips--2.yaml":
        "document 1 (GlobalNetworkPolicy allow-to-pods): spec.ingress[0].destination.nets[0]: invalid CIDR "
        "'192.168.0.0/16  Pod CIDR'",
    "tigera-docs/services-cluster-ips--3.yaml":
        "document 1 (GlobalNetworkPolicy allow-traffic-hostendpoints): spec.types[1]: expected a string, got a "
        "mapping",
    "tigera-docs/services-cluster-ips--4.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/staged-network-policies--1.yaml": Loaded(0, 0, 0, 0, 0, 1),
    "tigera-docs/staged-network-policies--2.yaml": Loaded(0, 0, 0, 0, 0, 1),
    "tigera-docs/staged-network-policies--3.yaml": Loaded(0, 0, 0, 0, 0, 1),
    "tigera-docs/tier--1.yaml": Loaded(0, 0, 1, 0, 0, 0),
    "tigera-docs/tiered-policy--1.yaml": Loaded(0, 0, 1, 0, 0, 0),
    "tigera-docs/tiered-policy--2.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs/tiered-policy--3.yaml": Loaded(0, 0, 1, 0, 0, 0),
    "tigera-docs-static/30-policy.yaml": Loaded(3, 0, 0, 0, 0, 0),
    "tigera-docs-static/allow-istio-pilot.yaml": Loaded(1, 0, 0, 0, 0, 0),
    "tigera-docs-static/allow-ui-client.yaml": Loaded(0, 0, 0, 1, 0, 0),
    "tigera-docs-static/allow-ui.yaml": Loaded(0, 0, 0, 1, 0, 0),
    "tigera-docs-static/backend-policy.yaml": Loaded(0, 0, 0, 1, 0, 0),
    "tigera-docs-static/default-deny.yaml": Loaded(0, 0, 0, 1, 0, 0),
    "tigera-docs-static/frontend-policy.yaml": Loaded(0, 0, 0, 1, 0, 0),
}


def _corpus(upstream: Path) -> Path:
    return upstream / "calico-policies"


def test_the_table_covers_every_corpus_file(upstream: Path) -> None:
    root = _corpus(upstream)
    files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_loads_as_pinned(upstream: Path, name: str) -> None:
    path = _corpus(upstream) / name
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(InputError) as info:
            load_paths([str(path)])
        assert str(info.value) == f"{path}: {expected}"
        assert info.value.exit_code == 2
        return
    inv = load_paths([str(path)])
    counts = Loaded(len(inv.policies), len(inv.network_sets), len(inv.tiers), len(inv.kubernetes_policies),
                    len(inv.host_endpoints), len(inv.skipped))
    assert counts == expected


def test_files_flagged_invalid_in_sources_md_are_input_errors(upstream: Path) -> None:
    sources = (_corpus(upstream) / "SOURCES.md").read_text()
    flagged = re.findall(r"^\| `([^`]+)` \|.*(?:DOC DEFECT|[Pp]laceholder)", sources, flags=re.MULTILINE)
    assert len(flagged) >= 8
    for name in flagged:
        assert isinstance(EXPECTED[name], str), name


def test_corpus_details_that_matter_for_conversion(upstream: Path) -> None:
    root = _corpus(upstream)
    seed = load_paths([str(root / "projectcalico-calico" / "seed-resources.yaml")])
    assert [(p.name, p.tier, p.namespace) for p in seed.policies] == [
        ("test-deny-all", "default", None), ("security.test-allow-dns", "security", None),
        ("test-allow-web", "default", "migration-test"),
    ]
    assert [(s.kind, s.reason) for s in seed.skipped] == [("BGPPeer", "not a policy kind: ignored")]
    assert seed.host_endpoints_known
    staged = load_paths([str(root / "tigera-docs" / "staged-network-policies--1.yaml")])
    assert staged.skipped[0].reason == "staged policy: Calico does not enforce it, not converted"
