"""Build and create the objects a cluster test or benchmark needs: Nodes, Calico IPAM, policies, Pods.

Objects are plain dicts shaped as the real producers write them (kube-controller-manager's podCIDR,
Calico's IPAM objects in ``crd.projectcalico.org/v1``, a kubelet's Pod status), created through the
real apiserver. No kubelet runs: ``create_node`` and ``create_pod`` patch ``status`` through the status
subresource as a kubelet would.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubectl_antrea_migrate.cluster.client import KubeClient, resource_path

__all__ = [
    "block_affinity",
    "calico_network_policy",
    "create",
    "create_many",
    "create_node",
    "create_pod",
    "global_network_policy",
    "ip_pool",
    "ipam_block",
    "node",
    "pod",
]

CALICO_V1 = "crd.projectcalico.org/v1"

# kind -> (group, version, plural, namespaced) for the kinds the tests create.
_RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "Node": ("", "v1", "nodes", False),
    "Namespace": ("", "v1", "namespaces", False),
    "Pod": ("", "v1", "pods", True),
    "ServiceAccount": ("", "v1", "serviceaccounts", True),
    "NetworkPolicy/networking.k8s.io/v1": ("networking.k8s.io", "v1", "networkpolicies", True),
    "DaemonSet": ("apps", "v1", "daemonsets", True),
    "IPPool": ("crd.projectcalico.org", "v1", "ippools", False),
    "IPAMBlock": ("crd.projectcalico.org", "v1", "ipamblocks", False),
    "BlockAffinity": ("crd.projectcalico.org", "v1", "blockaffinities", False),
    "GlobalNetworkPolicy": ("crd.projectcalico.org", "v1", "globalnetworkpolicies", False),
    "NetworkPolicy/crd.projectcalico.org/v1": ("crd.projectcalico.org", "v1", "networkpolicies", True),
    "GlobalNetworkSet": ("crd.projectcalico.org", "v1", "globalnetworksets", False),
    "Tier/crd.projectcalico.org/v1": ("crd.projectcalico.org", "v1", "tiers", False),
    "Tier/crd.antrea.io/v1beta1": ("crd.antrea.io", "v1beta1", "tiers", False),
    "ClusterNetworkPolicy": ("crd.antrea.io", "v1beta1", "clusternetworkpolicies", False),
}


def _resource(obj: Mapping[str, Any]) -> tuple[str, str, str, bool]:
    kind, api_version = obj["kind"], obj["apiVersion"]
    return _RESOURCES.get(f"{kind}/{api_version}") or _RESOURCES[kind]


def path_of(obj: Mapping[str, Any], *, collection: bool = False) -> str:
    """The REST path of ``obj`` (or of its collection)."""
    group, version, plural, namespaced = _resource(obj)
    meta = obj.get("metadata") or {}
    namespace = str(meta.get("namespace", "")) if namespaced else ""
    return resource_path(group, version, plural, namespace=namespace, name="" if collection else meta["name"])


def create(client: KubeClient, obj: Mapping[str, Any]) -> dict[str, Any]:
    """POST ``obj``; then PUT its ``status`` through the status subresource when it has one."""
    created = client.request("POST", path_of(obj, collection=True), body=dict(obj)).body
    if "status" in obj and obj["kind"] in ("Node", "Pod"):
        created = client.request(
            "PATCH",
            path_of(obj) + "/status",
            body={"status": obj["status"]},
            content_type="application/merge-patch+json",
        ).body
    return created


def create_many(client: KubeClient, objects: Sequence[Mapping[str, Any]], threads: int = 16) -> int:
    """Create ``objects`` on ``threads`` threads (the apiserver handles requests in parallel)."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(1 for _ in pool.map(lambda o: create(client, o), objects))


def node(
    name: str,
    pod_cidrs: Sequence[str] = (),
    internal_ip: str | None = None,
    *,
    control_plane: bool = False,
    ready: bool = True,
) -> dict[str, Any]:
    """A Node as kubeadm + kubelet leave it: podCIDR(s), InternalIP, Ready condition."""
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
    spec: dict[str, Any] = {}
    if pod_cidrs:
        spec = {"podCIDR": pod_cidrs[0], "podCIDRs": list(pod_cidrs)}
    addresses = [{"type": "Hostname", "address": name}]
    if internal_ip:
        addresses.insert(0, {"type": "InternalIP", "address": internal_ip})
    status = {
        "addresses": addresses,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady"}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": status,
    }


def create_node(client: KubeClient, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``create(client, node(...))``."""
    return create(client, node(*args, **kwargs))


def ip_pool(
    name: str, cidr: str, *, ipip: str = "Always", vxlan: str = "Never", block_size: int = 26
) -> dict[str, Any]:
    """A Calico IPPool in ``crd.projectcalico.org/v1`` (as Calico stores it)."""
    spec = {"cidr": cidr, "ipipMode": ipip, "vxlanMode": vxlan, "blockSize": block_size, "natOutgoing": True}
    return {"apiVersion": CALICO_V1, "kind": "IPPool", "metadata": {"name": name}, "spec": spec}


def _calico_name(cidr: str) -> str:
    return cidr.replace(".", "-").replace(":", "-").replace("/", "-")


def ipam_block(cidr: str, node_name: str | None, allocated: int = 0, *, name: str | None = None) -> dict[str, Any]:
    """A Calico IPAMBlock affine to ``node_name`` with the first ``allocated`` addresses in use."""
    size = ipaddress.ip_network(cidr).num_addresses
    allocations: list[int | None] = [i if i < allocated else None for i in range(size)]
    spec = {
        "cidr": cidr,
        "affinity": f"host:{node_name}" if node_name else None,
        "allocations": allocations,
        "unallocated": list(range(allocated, size)),
        "attributes": [{"handle_id": f"k8s-pod-network.{i}", "secondary": {}} for i in range(allocated)],
        "strictAffinity": False,
        "deleted": False,
    }
    return {
        "apiVersion": CALICO_V1,
        "kind": "IPAMBlock",
        "metadata": {"name": name or _calico_name(cidr)},
        "spec": spec,
    }


def block_affinity(node_name: str, cidr: str) -> dict[str, Any]:
    """A Calico BlockAffinity (``state: confirmed``)."""
    spec = {"node": node_name, "cidr": cidr, "state": "confirmed", "deleted": "false"}
    name = f"{node_name}-{_calico_name(cidr)}"
    return {"apiVersion": CALICO_V1, "kind": "BlockAffinity", "metadata": {"name": name}, "spec": spec}


def global_network_policy(name: str, selector: str = "all()", order: float = 100.0) -> dict[str, Any]:
    """A Calico GlobalNetworkPolicy allowing TCP/443 in to ``selector``."""
    spec = {
        "order": order,
        "selector": selector,
        "types": ["Ingress"],
        "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [443]}}],
    }
    return {"apiVersion": CALICO_V1, "kind": "GlobalNetworkPolicy", "metadata": {"name": name}, "spec": spec}


def calico_network_policy(name: str, namespace: str, selector: str = "all()") -> dict[str, Any]:
    """A namespaced Calico NetworkPolicy denying egress from ``selector``."""
    spec = {"order": 200.0, "selector": selector, "types": ["Egress"], "egress": [{"action": "Deny"}]}
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": CALICO_V1, "kind": "NetworkPolicy", "metadata": meta, "spec": spec}


def pod(
    name: str,
    namespace: str,
    node_name: str,
    *,
    ip: str | None = None,
    host_ip: str | None = None,
    labels: Mapping[str, str] | None = None,
    ports: Iterable[tuple[str, int]] = (),
    host_network: bool = False,
    service_account: str = "default",
    phase: str = "Running",
) -> dict[str, Any]:
    """A Pod bound to ``node_name`` whose status says it runs with ``ip`` (as a kubelet reports it)."""
    container = {
        "name": "main",
        "image": "registry.k8s.io/pause:3.10",
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports],
    }
    spec = {
        "nodeName": node_name,
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "hostNetwork": host_network,
        "containers": [container],
    }
    status: dict[str, Any] = {"phase": phase}
    if ip:
        status.update(podIP=ip, podIPs=[{"ip": ip}])
    if host_ip:
        status.update(hostIP=host_ip, hostIPs=[{"ip": host_ip}])
    meta = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def create_pod(client: KubeClient, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``create(client, pod(...))``."""
    return create(client, pod(*args, **kwargs))
