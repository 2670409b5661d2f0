"""What ``cluster/read.py`` saw in a live cluster, as plain frozen data (core: no client imports).

A ``ClusterSnapshot`` is read once (one paginated list per kind) and then handed to the pure checks in
``preflight/`` and, through ``calico/load.py``, to the converter. Calico policy objects and Kubernetes
NetworkPolicies stay raw dicts here on purpose: their loaders own validation and defaults, and
reporting a bad object per object is their job. The Calico IPAM objects are small and fixed-format,
so they are parsed here; an object whose CIDR does not parse becomes an ``ObjectProblem`` and the rest
of the snapshot goes on.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeAlias

from kubectl_antrea_migrate.errors import Location
from kubectl_antrea_migrate.kube.model import LabelMap, Namespace, Pod, ServiceAccount

__all__ = [
    "CALICO_CRD_API",
    "CALICO_V3_API",
    "BlockAffinity",
    "ClusterComponents",
    "ClusterSnapshot",
    "Component",
    "DaemonSetInfo",
    "IPAMBlock",
    "IPPool",
    "Network",
    "NodeInfo",
    "ObjectProblem",
]

CALICO_V3_API = "projectcalico.org/v3"
CALICO_CRD_API = "crd.projectcalico.org/v1"

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A Node as the migration needs it.

    Attributes:
        pod_cidrs: ``spec.podCIDRs`` (or ``[spec.podCIDR]`` on old clusters); empty when the node has
            none, and then Antrea (NodeIPAM from the controller-manager) cannot start on it.
        internal_ips: ``status.addresses`` of type InternalIP, in the node's order.
        control_plane: labelled ``node-role.kubernetes.io/control-plane`` (or the old ``master``).
        ready: the Ready condition; ``None`` when the node reports none.
    """

    name: str
    pod_cidrs: tuple[Network, ...] = ()
    internal_ips: tuple[str, ...] = ()
    control_plane: bool = False
    ready: bool | None = None
    labels: LabelMap = field(default_factory=LabelMap)
    unschedulable: bool = False


@dataclass(frozen=True, slots=True)
class IPPool:
    """A Calico IPPool: the encapsulation modes decide what Calico left on the nodes (tunl0/vxlan)."""

    name: str
    cidr: Network
    ipip_mode: str = "Never"  # Always | CrossSubnet | Never
    vxlan_mode: str = "Never"  # Always | CrossSubnet | Never
    block_size: int = 26
    disabled: bool = False
    node_selector: str = "all()"

    @property
    def encapsulation(self) -> str:
        """``IPIP``, ``VXLAN`` or ``none`` (Calico refuses a pool with both on)."""
        if self.ipip_mode in ("Always", "CrossSubnet"):
            return "IPIP"
        if self.vxlan_mode in ("Always", "CrossSubnet"):
            return "VXLAN"
        return "none"


@dataclass(frozen=True, slots=True)
class IPAMBlock:
    """A Calico IPAM block: a CIDR claimed by one host (``affinity: host:<node>``).

    Attributes:
        node: the affine node; ``""`` for a block without host affinity (borrowed/orphaned).
        allocated: how many addresses are allocated in it (pods, tunnel addresses).
        deleted: Calico marked it for deletion.
    """

    name: str
    cidr: Network
    node: str = ""
    allocated: int = 0
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class BlockAffinity:
    """A Calico BlockAffinity: node ``node`` holds ``cidr`` in ``state`` (confirmed/pending/...)."""

    name: str
    node: str
    cidr: Network
    state: str = ""


class Component(Enum):
    """Cluster networking components that a DaemonSet reveals."""

    ANTREA = "antrea"
    MULTUS = "multus"
    KUBE_PROXY = "kube-proxy"
    CALICO_NODE = "calico-node"


@dataclass(frozen=True, slots=True)
class DaemonSetInfo:
    """A DaemonSet that reveals a networking component, with its rollout counts."""

    namespace: str
    name: str
    component: Component
    images: tuple[str, ...] = ()
    desired: int = 0
    ready: int = 0


@dataclass(frozen=True, slots=True)
class ClusterComponents:
    """Which networking components run (have a DaemonSet)."""

    antrea: bool = False
    multus: bool = False
    kube_proxy: bool = False
    calico_node: bool = False


@dataclass(frozen=True, slots=True)
class ObjectProblem:
    """One cluster object the reader could not use; the rest of the snapshot is still complete."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything ``check``/``convert`` read from the live cluster, listed once per kind.

    Attributes:
        calico_api_version: where Calico policies were read from: ``projectcalico.org/v3`` when the
            cluster serves it (Calico API server or v3 CRDs), else ``crd.projectcalico.org/v1``;
            ``""`` when Calico serves neither.
        calico_objects: raw Calico objects (Tiers, (Global)NetworkPolicies, (Global)NetworkSets,
            HostEndpoints), each with ``apiVersion`` and ``kind`` set, for ``calico/load.py``.
        network_policies: raw ``networking.k8s.io/v1`` NetworkPolicies, ``apiVersion``/``kind`` set.
        problems: objects that were skipped, each with where and why.
        requests: API requests the read took (the benchmark shows it is O(kinds)).
    """

    nodes: tuple[NodeInfo, ...] = ()
    ip_pools: tuple[IPPool, ...] = ()
    ipam_blocks: tuple[IPAMBlock, ...] = ()
    block_affinities: tuple[BlockAffinity, ...] = ()
    calico_api_version: str = ""
    calico_objects: tuple[dict[str, Any], ...] = ()
    network_policies: tuple[dict[str, Any], ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    service_accounts: tuple[ServiceAccount, ...] = ()
    pods: tuple[Pod, ...] = ()
    daemonsets: tuple[DaemonSetInfo, ...] = ()
    problems: tuple[ObjectProblem, ...] = ()
    requests: int = 0

    @property
    def components(self) -> ClusterComponents:
        """The networking components present, from the DaemonSets."""
        present = {ds.component for ds in self.daemonsets}
        return ClusterComponents(
            antrea=Component.ANTREA in present,
            multus=Component.MULTUS in present,
            kube_proxy=Component.KUBE_PROXY in present,
            calico_node=Component.CALICO_NODE in present,
        )

    def calico_objects_of(self, kind: str) -> tuple[dict[str, Any], ...]:
        """The raw Calico objects of one ``kind`` (e.g. ``GlobalNetworkPolicy``)."""
        return tuple(o for o in self.calico_objects if o.get("kind") == kind)
