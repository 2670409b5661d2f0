"""``read_snapshot`` against a real kube-apiserver holding the real Calico CRDs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient
from kubectl_antrea_migrate.cluster.read import read_snapshot
from kubectl_antrea_migrate.kube.model import ContainerPort
from kubectl_antrea_migrate.kube.snapshot import CALICO_CRD_API, CALICO_V3_API, Component
from kubectl_antrea_migrate.preflight.podcidr import NodeStatus, Scenario, analyse_snapshot
from tests.conftest import UPSTREAM
from tests.harness import objects as o
from tests.harness.controlplane import ControlPlane, install_crds, start_control_plane


def seed_cluster(client: KubeClient) -> None:
    """The seed's example: /24 podCIDRs per node, Calico /26 blocks, one block inside node-4's podCIDR."""
    o.create_node(client, "cp-0", ["10.10.0.0/24"], "192.168.1.10", control_plane=True)
    for i in range(1, 5):
        o.create_node(client, f"node-{i}", [f"10.10.{i}.0/24"], f"192.168.1.{10 + i}")
    o.create(client, o.ip_pool("default-ipv4-ippool", "10.0.0.0/8", ipip="Always"))
    for i in range(5):
        holder = "cp-0" if i == 0 else f"node-{i}"
        o.create(client, o.ipam_block(f"10.20.{i}.0/26", holder, allocated=4))
        o.create(client, o.block_affinity(holder, f"10.20.{i}.0/26"))
    o.create(client, o.ipam_block("10.10.4.128/26", "node-1", allocated=3))


def test_snapshot_reads_nodes_ipam_and_pools_as_calico_and_the_kubelet_wrote_them(clean_cluster: KubeClient) -> None:
    seed_cluster(clean_cluster)
    o.create_node(clean_cluster, "edge-1", [], None, ready=False)

    snap = read_snapshot(clean_cluster)

    nodes = {n.name: n for n in snap.nodes}
    assert sorted(nodes) == ["cp-0", "edge-1", "node-1", "node-2", "node-3", "node-4"]
    assert nodes["node-4"].pod_cidrs == (ipaddress.ip_network("10.10.4.0/24"),)
    assert nodes["node-4"].internal_ips == ("192.168.1.14",)
    assert nodes["node-4"].ready is True
    assert nodes["cp-0"].control_plane and not nodes["node-1"].control_plane
    assert nodes["edge-1"].pod_cidrs == () and nodes["edge-1"].internal_ips == () and nodes["edge-1"].ready is False

    assert [(p.name, str(p.cidr), p.encapsulation, p.block_size) for p in snap.ip_pools] == [
        ("default-ipv4-ippool", "10.0.0.0/8", "IPIP", 26)
    ]
    blocks = {str(b.cidr): b for b in snap.ipam_blocks}
    assert len(blocks) == 6
    assert (blocks["10.10.4.128/26"].node, blocks["10.10.4.128/26"].allocated) == ("node-1", 3)
    assert sorted((a.node, str(a.cidr), a.state) for a in snap.block_affinities)[0] == (
        "cp-0",
        "10.20.0.0/26",
        "confirmed",
    )
    assert len(snap.block_affinities) == 5
    assert snap.problems == ()

    analysis = analyse_snapshot(snap)
    assert analysis.scenario is Scenario.DRAIN_NODES
    assert analysis.overlapped == ("node-4",)
    assert analysis.node("edge-1").status is NodeStatus.NO_POD_CIDR
    assert analysis.drain_first == ("node-1", "node-4")


def test_snapshot_reads_pods_as_patched_by_a_kubelet_and_the_namespace_objects(
    clean_cluster: KubeClient, namespace: str
) -> None:
    o.create_node(clean_cluster, "node-1", ["10.10.1.0/24"], "192.168.1.11")
    o.create(
        clean_cluster,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "web-sa", "namespace": namespace, "labels": {"team": "web"}},
        },
    )
    o.create_pod(
        clean_cluster,
        "web",
        namespace,
        "node-1",
        ip="10.20.1.5",
        host_ip="192.168.1.11",
        labels={"app": "web"},
        ports=[("https", 8443)],
        service_account="web-sa",
    )
    o.create_pod(
        clean_cluster,
        "agent",
        namespace,
        "node-1",
        ip="192.168.1.11",
        host_ip="192.168.1.11",
        host_network=True,
        phase="Pending",
    )
    o.create(
        clean_cluster,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny-all", "namespace": namespace},
            "spec": {"podSelector": {}},
        },
    )
    o.create(clean_cluster, o.calico_network_policy("calico-deny", namespace))
    o.create(clean_cluster, o.global_network_policy("allow-https"))

    snap = read_snapshot(clean_cluster)

    pods = {p.name: p for p in snap.pods if p.namespace == namespace}
    web = pods["web"]
    assert (web.ips, web.node_name, web.phase, web.service_account) == (("10.20.1.5",), "node-1", "Running", "web-sa")
    assert dict(web.labels) == {"app": "web"}
    assert web.ports == (ContainerPort(8443, "TCP", "https"),)
    assert web.restart_policy == "Always" and not web.host_network
    assert pods["agent"].host_network and pods["agent"].phase == "Pending"

    ns = next(n for n in snap.namespaces if n.name == namespace)
    assert ns.labels["kubernetes.io/metadata.name"] == namespace
    sa = next(s for s in snap.service_accounts if (s.namespace, s.name) == (namespace, "web-sa"))
    assert dict(sa.labels) == {"team": "web"}

    netpols = [p for p in snap.network_policies if p["metadata"]["namespace"] == namespace]
    assert [(p["apiVersion"], p["kind"], p["metadata"]["name"]) for p in netpols] == [
        ("networking.k8s.io/v1", "NetworkPolicy", "deny-all")
    ]
    assert snap.calico_api_version == CALICO_CRD_API
    calico = {(p["kind"], p["metadata"]["name"]) for p in snap.calico_objects}
    assert {("GlobalNetworkPolicy", "allow-https"), ("NetworkPolicy", "calico-deny")} <= calico
    assert all(p["apiVersion"] == CALICO_CRD_API for p in snap.calico_objects)
    assert snap.calico_objects_of("GlobalNetworkPolicy")[0]["spec"]["selector"] == "all()"


def test_small_pages_really_paginate_and_lose_nothing(clean_cluster: KubeClient) -> None:
    o.create_many(clean_cluster, [o.node(f"n{i:02d}", [f"10.10.{i}.0/24"], f"192.168.1.{i + 1}") for i in range(23)])
    o.create_many(clean_cluster, [o.ipam_block(f"10.20.{i}.0/26", f"n{i:02d}", 1) for i in range(17)])

    coarse = read_snapshot(clean_cluster, page_size=500)
    fine = read_snapshot(clean_cluster, page_size=5)

    assert len(fine.nodes) == 23 and len(fine.ipam_blocks) == 17
    assert fine.nodes == coarse.nodes and fine.ipam_blocks == coarse.ipam_blocks
    # 23 nodes in pages of 5 = 5 requests instead of 1; 17 blocks = 4 instead of 1.
    assert fine.requests >= coarse.requests + (5 - 1) + (4 - 1)
    # One list per kind at page size 500: 2 discovery GETs + 6 core kinds + 9 Calico kinds.
    assert coarse.requests == 2 + 6 + 9


def test_a_bad_calico_object_is_reported_on_its_own_and_the_rest_is_read(clean_cluster: KubeClient) -> None:
    # The v1 CRD types spec.cidr as a plain string, so the apiserver stores this block as it is.
    bad = o.ipam_block("10.20.9.0/26", "node-1", 1, name="broken-block")
    bad["spec"]["cidr"] = "10.20.9.0/banana"
    o.create(clean_cluster, bad)
    o.create(clean_cluster, o.ipam_block("10.20.1.0/26", "node-1", 2))
    o.create(clean_cluster, o.ip_pool("good-pool", "10.20.0.0/16"))

    snap = read_snapshot(clean_cluster)

    assert [str(b.cidr) for b in snap.ipam_blocks] == ["10.20.1.0/26"]
    assert [p.name for p in snap.ip_pools] == ["good-pool"]
    assert [str(p) for p in snap.problems] == ["IPAMBlock broken-block: spec.cidr: not a CIDR: '10.20.9.0/banana'"]


def test_daemonsets_reveal_antrea_multus_kube_proxy_and_calico(clean_cluster: KubeClient, namespace: str) -> None:
    def daemonset(name: str, image: str) -> dict[str, object]:
        labels = {"app": name}
        return {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": image}]},
                },
            },
        }

    for name, image in (
        ("calico-node", "docker.io/calico/node:v3.29.1"),
        ("kube-proxy", "registry.k8s.io/kube-proxy:v1.36.3"),
        ("kube-multus-ds", "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0"),
        ("logging", "fluent/fluent-bit:3.0"),
    ):
        o.create(clean_cluster, daemonset(name, image))

    snap = read_snapshot(clean_cluster)

    mine = sorted((d.name, d.component) for d in snap.daemonsets if d.namespace == namespace)
    assert mine == [
        ("calico-node", Component.CALICO_NODE),
        ("kube-multus-ds", Component.MULTUS),
        ("kube-proxy", Component.KUBE_PROXY),
    ]
    components = snap.components
    assert (components.calico_node, components.kube_proxy, components.multus, components.antrea) == (
        True,
        True,
        True,
        False,
    )


@pytest.fixture
def calico_v3_crds(control_plane: ControlPlane, admin: KubeClient) -> Iterator[None]:
    """Calico's projectcalico.org/v3 CRDs (what a cluster with the Calico API server serves), removed after."""
    files = sorted((UPSTREAM / "calico" / "crds" / "projectcalico.org-v3").glob("*.yaml"))
    names = install_crds(admin, files)
    try:
        yield
    finally:
        for name in names:
            try:
                admin.request("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            except ApiError as exc:
                if exc.status != 404:
                    raise


def test_policies_come_from_projectcalico_v3_when_served_and_ipam_stays_on_crd_v1(
    clean_cluster: KubeClient, calico_v3_crds: None
) -> None:
    v3 = o.global_network_policy("only-in-v3")
    v3["apiVersion"] = CALICO_V3_API
    clean_cluster.request("POST", "/apis/projectcalico.org/v3/globalnetworkpolicies", body=v3)
    o.create(clean_cluster, o.global_network_policy("only-in-v1"))
    o.create(clean_cluster, o.ipam_block("10.20.1.0/26", "node-1", 2))

    snap = read_snapshot(clean_cluster)

    assert snap.calico_api_version == CALICO_V3_API
    gnps = snap.calico_objects_of("GlobalNetworkPolicy")
    assert [(p["apiVersion"], p["metadata"]["name"]) for p in gnps] == [(CALICO_V3_API, "only-in-v3")]
    assert [str(b.cidr) for b in snap.ipam_blocks] == ["10.20.1.0/26"]
    clean_cluster.request("DELETE", "/apis/projectcalico.org/v3/globalnetworkpolicies/only-in-v3")


def test_a_cluster_without_calico_reads_as_empty_calico_data(control_plane: ControlPlane, admin: KubeClient) -> None:
    """Here a fresh control plane without any CRD stands for a cluster Calico was never installed in."""
    with start_control_plane(controller_manager=False, crds=()) as bare:
        client = bare.client()
        snap = read_snapshot(client)
        client.close()
    assert (snap.calico_api_version, snap.calico_objects, snap.ip_pools, snap.ipam_blocks) == ("", (), (), ())
    assert snap.requests == 2 + 6
