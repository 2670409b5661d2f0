"""The probe universe: which endpoints and traffic ``verify`` tries."""

from __future__ import annotations

import dataclasses
import ipaddress

from kubectl_antrea_migrate.antrea.model import AntreaObjects
from kubectl_antrea_migrate.calico.model import ICMPMatch, NamedPort, PortRange
from kubectl_antrea_migrate.kube.model import LabelMap, Pod
from kubectl_antrea_migrate.verify.endpoints import EndpointKind, build_universe
from tests.unit.verify_world import inventory, policy, rule, side

NONE = AntreaObjects()


def test_pods_network_sets_edges_and_outside_are_endpoints() -> None:
    universe = build_universe(inventory(), NONE)
    names = {e.name: e for e in universe.endpoints}
    assert names["prod/web"].kind is EndpointKind.POD
    # dual-stack db is one endpoint per family
    assert {str(e.ip) for e in universe.endpoints if e.name == "prod/db"} == {"10.0.0.2", "fd00::2"}
    assert names["NetworkSet prod/corp"].ip == ipaddress.ip_address("192.168.0.128")
    assert names["GlobalNetworkSet ext"].kind is EndpointKind.NETWORK_SET
    for edge in ("192.168.0.0", "192.168.0.255", "192.167.255.255", "192.168.1.0"):
        assert f"address {edge}" in names
    assert {str(e.ip) for e in universe.endpoints if e.name == "outside"} == {"198.51.100.7", "2001:db8::7"}


def test_pairs_never_mix_families_or_skip_pods() -> None:
    universe = build_universe(inventory(), NONE)
    pairs = list(universe.pairs())
    assert all(s.ip.version == d.ip.version for s, d in pairs)
    assert all(s.pod is not None or d.pod is not None for s, d in pairs)
    assert all(s.pod is None or s.pod is not d.pod for s, d in pairs)
    assert universe.probe_count() == sum(len(universe.traffic(s.ip.version)) for s, _ in pairs)


def test_traffic_covers_mentioned_ports_edges_and_icmp() -> None:
    ranged = rule("Allow", protocol=17, destination=side(ports=(PortRange(1000, 2000), NamedPort("dns"))))
    echo = rule("Allow", protocol=1, icmp=ICMPMatch(8, 0))
    other = rule("Deny", protocol=47)
    universe = build_universe(inventory(policy("p", ingress=(ranged, echo, other))), NONE)
    v4 = {t.describe() for t in universe.traffic_v4}
    assert {"UDP/999", "UDP/1000", "UDP/2000", "UDP/2001", "TCP/8080", "TCP/5432"} <= v4
    assert {"ICMP 8/0", "ICMP 8/1", "ICMP 9/0", "protocol 47"} <= v4
    v6 = {t.describe() for t in universe.traffic_v6}
    assert "ICMPv6 128/0" in v6 and "ICMPv6 8/0" in v6


def test_host_network_pods_are_excluded_and_pods_without_ips_get_one() -> None:
    host = Pod("agent", "prod", host_network=True, ips=("172.18.0.3",))
    pending = Pod("pending", "prod", LabelMap({"app": "x"}))
    universe = build_universe(inventory(), NONE, pods=(host, pending))
    pods = {e.name: e for e in universe.endpoints if e.kind is EndpointKind.POD}
    assert set(pods) == {"prod/pending"}
    assert pods["prod/pending"].ip in ipaddress.ip_network("100.64.0.0/10")


def test_synthetic_pods_satisfy_every_selector_conjunct() -> None:
    p = policy(
        "np",
        "app == 'db' || tier in {'a', 'b'}",
        namespace="prod",
        ingress=(rule("Allow", source=side("role == 'x' && !has(debug)", namespace_selector="team == 'red'")),),
    )
    universe = build_universe(dataclasses.replace(inventory(p), pods=()), NONE)
    assert universe.synthetic
    pods = universe.population.pods
    assert any(q.namespace == "prod" and q.labels == {"app": "db"} for q in pods)
    assert any(q.namespace == "prod" and q.labels == {"tier": "a"} for q in pods)
    # The rule's namespaceSelector became a namespace carrying team=red.
    red = [n for n in universe.population.namespaces if n.labels.get("team") == "red"]
    assert red and any(q.namespace == red[0].name and q.labels == {"role": "x"} for q in pods)
    # Every namespace gets an unlabeled pod; pinned pods are copied to a namespace nobody selects.
    assert {q.namespace for q in pods if not q.labels} >= {"prod", "dev", red[0].name}
    assert any(q.namespace == "verify-elsewhere" and q.labels == {"app": "db"} for q in pods)


def test_synthetic_pod_addresses_avoid_mentioned_cidrs() -> None:
    wide = rule("Allow", source=side(nets=("100.64.0.0/24",)))
    universe = build_universe(dataclasses.replace(inventory(policy("p", ingress=(wide,))), pods=()), NONE)
    for pod in universe.population.pods:
        assert ipaddress.ip_address(pod.ips[0]) not in ipaddress.ip_network("100.64.0.0/24")
