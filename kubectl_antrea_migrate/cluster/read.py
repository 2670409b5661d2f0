"""Read a live cluster into a ``ClusterSnapshot``: one paginated list per kind, nothing else.

Request budget: two discovery GETs for the Calico groups, then one list per kind (plus one request
per extra page of ``page_size`` objects). Lists run on a few threads because each is a separate round
trip the apiserver serves independently; the result does not depend on their order.

Calico API choice (per kind, from discovery):
- policy objects (Tiers, policies, network sets, host endpoints) through ``projectcalico.org/v3`` when
  it serves the kind (Calico API server, or Calico's v3 CRDs), else ``crd.projectcalico.org/v1``;
- IPAM objects (IPPools, IPAMBlocks, BlockAffinities) through ``crd.projectcalico.org/v1`` when served
  (that is where Calico stores them), else ``projectcalico.org/v3``.
A kind neither group serves is simply absent (a cluster without Calico reads as empty).

Objects that cannot be used (an IPAM block whose CIDR does not parse) become ``ObjectProblem``s; the
rest of the snapshot is unaffected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubectl_antrea_migrate.cluster.client import DEFAULT_PAGE_SIZE, ApiError, KubeClient, resource_path
from kubectl_antrea_migrate.errors import Location
from kubectl_antrea_migrate.kube.model import ContainerPort, LabelMap, Namespace, Pod, ServiceAccount
from kubectl_antrea_migrate.kube.snapshot import (
    CALICO_CRD_API,
    CALICO_V3_API,
    BlockAffinity,
    ClusterSnapshot,
    Component,
    DaemonSetInfo,
    IPAMBlock,
    IPPool,
    Network,
    NodeInfo,
    ObjectProblem,
)

__all__ = ["CALICO_IPAM_KINDS", "CALICO_POLICY_KINDS", "read_antrea_objects", "read_snapshot"]

# (kind, plural) of the Calico objects the policy loader consumes, in dependency order.
CALICO_POLICY_KINDS: tuple[tuple[str, str], ...] = (
    ("Tier", "tiers"),
    ("GlobalNetworkPolicy", "globalnetworkpolicies"),
    ("NetworkPolicy", "networkpolicies"),
    ("GlobalNetworkSet", "globalnetworksets"),
    ("NetworkSet", "networksets"),
    ("HostEndpoint", "hostendpoints"),
)
CALICO_IPAM_KINDS: tuple[tuple[str, str], ...] = (
    ("IPPool", "ippools"),
    ("IPAMBlock", "ipamblocks"),
    ("BlockAffinity", "blockaffinities"),
)
_CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
_WORKERS = 4


@dataclass(frozen=True, slots=True)
class _ListJob:
    key: str
    path: str
    api_version: str
    kind: str


def read_snapshot(client: KubeClient, *, page_size: int = DEFAULT_PAGE_SIZE) -> ClusterSnapshot:
    """List every kind the migration needs, once, and return plain data.

    Args:
        client: the cluster edge's client.
        page_size: objects per list request (``limit``); kubectl uses 500 too.

    Raises:
        ClusterError: a list failed (unreachable apiserver, RBAC forbids a kind, ...).
    """
    start = client.request_count
    served = {api: _served_plurals(client, api) for api in (CALICO_V3_API, CALICO_CRD_API)}
    jobs = _core_jobs() + _calico_jobs(served)
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        results = dict(zip((j.key for j in jobs), pool.map(lambda j: _list(client, j, page_size), jobs), strict=True))
    policy_api = _policy_api(served)
    problems: list[ObjectProblem] = []
    snapshot = ClusterSnapshot(
        nodes=tuple(_node(o) for o in results["nodes"]),
        ip_pools=_parse_each(results.get("IPPool", ()), "IPPool", _ip_pool, problems),
        ipam_blocks=_parse_each(results.get("IPAMBlock", ()), "IPAMBlock", _ipam_block, problems),
        block_affinities=_parse_each(results.get("BlockAffinity", ()), "BlockAffinity", _block_affinity, problems),
        calico_api_version=policy_api,
        calico_objects=tuple(o for kind, _ in CALICO_POLICY_KINDS for o in results.get(kind, ())),
        network_policies=tuple(results["networkpolicies"]),
        namespaces=tuple(_namespace(o) for o in results["namespaces"]),
        service_accounts=tuple(_service_account(o) for o in results["serviceaccounts"]),
        pods=tuple(_pod(o) for o in results["pods"]),
        daemonsets=tuple(ds for o in results["daemonsets"] if (ds := _daemonset(o)) is not None),
        problems=tuple(problems),
        requests=client.request_count - start,
    )
    return snapshot


def _served_plurals(client: KubeClient, api_version: str) -> frozenset[str]:
    listing = client.get_optional(f"/apis/{api_version}")
    if not listing:
        return frozenset()
    return frozenset(r["name"] for r in listing.get("resources", ()) if "/" not in r.get("name", "/"))


def _policy_api(served: Mapping[str, frozenset[str]]) -> str:
    for api in (CALICO_V3_API, CALICO_CRD_API):
        if any(plural in served[api] for _, plural in CALICO_POLICY_KINDS):
            return api
    return ""


def _core_jobs() -> list[_ListJob]:
    return [
        _ListJob("nodes", "/api/v1/nodes", "v1", "Node"),
        _ListJob("namespaces", "/api/v1/namespaces", "v1", "Namespace"),
        _ListJob("serviceaccounts", "/api/v1/serviceaccounts", "v1", "ServiceAccount"),
        _ListJob("pods", "/api/v1/pods", "v1", "Pod"),
        _ListJob(
            "networkpolicies", "/apis/networking.k8s.io/v1/networkpolicies", "networking.k8s.io/v1", "NetworkPolicy"
        ),
        _ListJob("daemonsets", "/apis/apps/v1/daemonsets", "apps/v1", "DaemonSet"),
    ]


def _calico_jobs(served: Mapping[str, frozenset[str]]) -> list[_ListJob]:
    jobs: list[_ListJob] = []
    for kinds, preference in (
        (CALICO_POLICY_KINDS, (CALICO_V3_API, CALICO_CRD_API)),
        (CALICO_IPAM_KINDS, (CALICO_CRD_API, CALICO_V3_API)),
    ):
        for kind, plural in kinds:
            api = next((a for a in preference if plural in served[a]), None)
            if api is not None:
                jobs.append(_ListJob(kind, f"/apis/{api}/{plural}", api, kind))
    return jobs


def _list(client: KubeClient, job: _ListJob, page_size: int) -> list[dict[str, Any]]:
    items = []
    for item in client.list_pages(job.path, page_size=page_size):
        # List items of built-in kinds carry no apiVersion/kind; loaders and backups need both.
        item["apiVersion"] = job.api_version
        item["kind"] = job.kind
        items.append(item)
    return items


def _parse_each(
    objects: Iterable[dict[str, Any]], kind: str, parse: Callable[[dict[str, Any]], Any], problems: list[ObjectProblem]
) -> tuple[Any, ...]:
    parsed = []
    for obj in objects:
        name = str((obj.get("metadata") or {}).get("name", ""))
        try:
            parsed.append(parse(obj))
        except _FieldError as exc:
            problems.append(ObjectProblem(Location(kind=kind, name=name, path=exc.path), exc.message))
    return tuple(parsed)


class _FieldError(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _network(value: Any, path: str) -> Network:
    if not isinstance(value, str) or not value:
        raise _FieldError(path, f"expected a CIDR, got {value!r}")
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise _FieldError(path, f"not a CIDR: {value!r}") from exc


def _labels(obj: Mapping[str, Any]) -> LabelMap:
    return LabelMap((obj.get("metadata") or {}).get("labels") or {})


def _node(obj: dict[str, Any]) -> NodeInfo:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    labels = LabelMap(meta.get("labels") or {})
    ready: bool | None = None
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
    return NodeInfo(
        name=meta.get("name", ""),
        # The apiserver validates podCIDRs, so these always parse.
        pod_cidrs=tuple(ipaddress.ip_network(c, strict=False) for c in cidrs),
        internal_ips=tuple(
            a.get("address", "") for a in status.get("addresses") or () if a.get("type") == "InternalIP"
        ),
        control_plane=any(label in labels for label in _CONTROL_PLANE_LABELS),
        ready=ready,
        labels=labels,
        unschedulable=bool(spec.get("unschedulable")),
    )


def _ip_pool(obj: dict[str, Any]) -> IPPool:
    spec = obj.get("spec") or {}
    return IPPool(
        name=obj["metadata"]["name"],
        cidr=_network(spec.get("cidr"), "spec.cidr"),
        # An absent mode is Never in both API versions (the v1 `ipip` legacy struct aside).
        ipip_mode=str(spec.get("ipipMode") or _legacy_ipip(spec) or "Never"),
        vxlan_mode=str(spec.get("vxlanMode") or "Never"),
        block_size=int(spec.get("blockSize") or (26 if ":" not in str(spec.get("cidr")) else 122)),
        disabled=bool(spec.get("disabled")),
        node_selector=str(spec.get("nodeSelector") or "all()"),
    )


def _legacy_ipip(spec: Mapping[str, Any]) -> str:
    legacy = spec.get("ipip") or {}
    if legacy.get("enabled"):
        return "CrossSubnet" if legacy.get("mode") == "cross-subnet" else "Always"
    return ""


def _ipam_block(obj: dict[str, Any]) -> IPAMBlock:
    spec = obj.get("spec") or {}
    affinity = str(spec.get("affinity") or "")
    return IPAMBlock(
        name=obj["metadata"]["name"],
        cidr=_network(spec.get("cidr"), "spec.cidr"),
        node=affinity.removeprefix("host:") if affinity.startswith("host:") else "",
        allocated=sum(1 for a in spec.get("allocations") or () if a is not None),
        deleted=bool(spec.get("deleted")),
    )


def _block_affinity(obj: dict[str, Any]) -> BlockAffinity:
    spec = obj.get("spec") or {}
    return BlockAffinity(
        name=obj["metadata"]["name"],
        node=str(spec.get("node") or ""),
        cidr=_network(spec.get("cidr"), "spec.cidr"),
        state=str(spec.get("state") or ""),
    )


def _namespace(obj: dict[str, Any]) -> Namespace:
    name = obj["metadata"]["name"]
    # The apiserver sets this label on every namespace; add it for objects created before 1.21.
    labels = _labels(obj).with_labels({"kubernetes.io/metadata.name": name})
    return Namespace(name=name, labels=labels, location=Location(kind="Namespace", name=name))


def _service_account(obj: dict[str, Any]) -> ServiceAccount:
    meta = obj["metadata"]
    return ServiceAccount(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        labels=_labels(obj),
        location=Location(kind="ServiceAccount", name=f"{meta.get('namespace', '')}/{meta['name']}"),
    )


def _pod(obj: dict[str, Any]) -> Pod:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    ips = tuple(p["ip"] for p in status.get("podIPs") or () if p.get("ip"))
    if not ips and status.get("podIP"):
        ips = (status["podIP"],)
    ports = tuple(
        ContainerPort(
            port=int(p["containerPort"]), protocol=str(p.get("protocol") or "TCP"), name=str(p.get("name") or "")
        )
        for c in (spec.get("containers") or [])
        for p in (c.get("ports") or ())
        if "containerPort" in p
    )
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    return Pod(
        name=name,
        namespace=namespace,
        labels=LabelMap(meta.get("labels") or {}),
        service_account=str(spec.get("serviceAccountName") or "default"),
        ips=ips,
        ports=ports,
        host_network=bool(spec.get("hostNetwork")),
        node_name=str(spec.get("nodeName") or ""),
        phase=str(status.get("phase") or ""),
        restart_policy=str(spec.get("restartPolicy") or "Always"),
        uid=str(meta.get("uid") or ""),
        location=Location(kind="Pod", name=f"{namespace}/{name}"),
    )


def _daemonset(obj: dict[str, Any]) -> DaemonSetInfo | None:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or ()
    images = tuple(str(c.get("image") or "") for c in containers)
    component = _component(str(meta.get("name") or ""), images)
    if component is None:
        return None
    return DaemonSetInfo(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        component=component,
        images=images,
        desired=int(status.get("desiredNumberScheduled") or 0),
        ready=int(status.get("numberReady") or 0),
    )


def _component(name: str, images: tuple[str, ...]) -> Component | None:
    # Names as the upstream manifests ship them; images catch renamed DaemonSets.
    haystack = " ".join((name, *(i.rsplit("/", 1)[-1] for i in images))).lower()
    for needle, component in (
        ("antrea-agent", Component.ANTREA),
        ("antrea/antrea", Component.ANTREA),
        ("multus", Component.MULTUS),
        ("kube-proxy", Component.KUBE_PROXY),
        ("calico-node", Component.CALICO_NODE),
        ("calico/node", Component.CALICO_NODE),
    ):
        if needle in haystack or any(needle in i for i in images):
            return component
    return None


_ANTREA_KINDS = (
    ("tiers", "Tier"),
    ("clustergroups", "ClusterGroup"),
    ("groups", "Group"),
    ("clusternetworkpolicies", "ClusterNetworkPolicy"),
    ("networkpolicies", "NetworkPolicy"),
)


def read_antrea_objects(client: KubeClient, *, page_size: int = DEFAULT_PAGE_SIZE) -> tuple[dict[str, Any], ...]:
    """Every Antrea policy object in the cluster (crd.antrea.io/v1beta1), one paginated list per kind.

    Returns raw dicts with ``apiVersion`` and ``kind`` set (lists omit them per item), for
    ``antrea/load.py``. An Antrea kind that is not served (Antrea CRDs absent) yields nothing.
    """
    objects: list[dict[str, Any]] = []
    for plural, kind in _ANTREA_KINDS:
        path = resource_path("crd.antrea.io", "v1beta1", plural)
        try:
            items = list(client.list_pages(path, page_size=page_size))
        except ApiError as exc:
            if exc.status == 404:
                continue
            raise
        for item in items:
            objects.append({"apiVersion": "crd.antrea.io/v1beta1", "kind": kind, **item})
    return tuple(objects)
