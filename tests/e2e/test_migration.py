"""The whole migration on real nodes: ``kubectl antrea-migrate run`` against two real kubelets.

Real parts: kube-apiserver + kube-controller-manager (RBAC, NodeRestriction), two kubelets v1.36
each with its own containerd 1.6 in its own network namespace (``tests/harness/kubelet.py``), one
``antrea-migrate-agent serve`` process per node (in the node's netns, ``--host-root`` on the node's
tree, reached with ``--agent-endpoint``), the migration driven exactly as a user does it:
``kubectl_antrea_migrate.cli.app.main(["run", ...])``.

Stand-ins (the real thing cannot run here; see ``tests/harness/node_cni.py``):
- Calico and Antrea dataplanes: bridge + host-local CNI confs under the ``calico``/``antrea`` plugin
  types, with Calico's kernel leftovers (tunl0, ``proto bird`` routes, ``cali-*`` chains in both
  iptables backends, a ``cali40`` ipset, ``calico-kubeconfig``) on each node.
- Multus: multus-cni cannot be fetched from the Go module proxy here (403 on every module path), so
  ``multus`` in the nodes' CNI bin dir is ``tests/harness/multus_standin.py``: a CNI plugin that
  delegates to the confs listed in the agent's ``00-multus.conf`` (eth0 from the first, net1 from
  the second), as Multus' thin plugin does for a ``delegates`` conf.
- The Antrea manifest (``--antrea-manifest``): a DaemonSet ``antrea-agent`` whose init container
  installs the node's ``10-antrea.conflist`` through a ``hostPath: /etc/cni/net.d`` volume, as
  Antrea's ``install-cni`` does; calico-node is a hostNetwork DaemonSet of pause containers.
- No kube-scheduler is built here: DaemonSet pods (which name their node in a required node
  affinity) are bound to that node through the ``binding`` subresource by ``_bind_daemon_pods``,
  as the scheduler would; the Deployment sets ``nodeName`` in its template.

The cluster: node-a and node-b, Antrea pod subnets (podCIDRs) 10.244.129.0/24 and 10.244.130.0/24,
Calico's 10.244.1.0/24 and 10.244.2.0/24; a stray Calico IPAM block of node-b inside node-a's
podCIDR, so the plan drains node-a first (seed 001's "few nodes overlapped") and must uncordon it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_antrea_migrate.agents.client import AgentClient
from kubectl_antrea_migrate.agents.tls import ClientTls, generate, write_tls_dir
from kubectl_antrea_migrate.cli.app import main
from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient
from kubectl_antrea_migrate.errors import AgentError, ClusterError
from node_agent._pb import api_pb2
from tests._prereq import require, require_binary, require_root
from tests.harness import objects
from tests.harness.controlplane import ControlPlane, missing_binaries, start_control_plane
from tests.harness.kubelet import PAUSE_IMAGE, KubeletNode, host_side_ip, start_kubelet_node
from tests.harness.node_cni import (
    ANTREA_CONF,
    ANTREA_RANGE,
    CALICO_CONF,
    CALICO_RANGE,
    antrea_conflist,
    antrea_subnet,
    calico_subnet,
    underlay,
)
from tests.harness.probe import ECHO_IMAGE, Probe, ProbePod, ProbeResult, echo_image_tar

pytestmark = pytest.mark.e2e

NAMESPACE = "shop"
AGENT_PORT = 10361
NODES = ("node-a", "node-b")
NETWORKS = (ipaddress.IPv4Network(CALICO_RANGE), ipaddress.IPv4Network(ANTREA_RANGE))
_WAIT_S = 90.0  # a bound on waiting for pods, not a performance claim


@dataclass
class Cluster:
    """The running test cluster."""

    cp: ControlPlane
    client: KubeClient
    nodes: dict[str, KubeletNode]
    endpoints: dict[str, str]
    tls_dir: Path
    workdir: Path


def _wait(what: str, check: Callable[[], Any], node_logs: list[KubeletNode] | None = None) -> Any:
    """Poll ``check()`` until it returns something truthy; fail naming ``what`` with the nodes' logs."""
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    logs = "\n".join(n.log_tail(15) for n in node_logs or [])
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _agent_answers(endpoint: str, tls: ClientTls, node: str) -> bool:
    with AgentClient(endpoint, tls, node, timeout=5) as agent:
        try:
            agent.ping()
        except AgentError:
            return False
    return True


def _affinity_node(pod: dict[str, Any]) -> str | None:
    affinity = ((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in affinity.get("nodeSelectorTerms") or ():
        for field in term.get("matchFields") or ():
            if field.get("key") == "metadata.name" and field.get("values"):
                return str(field["values"][0])
    return None


def _bind_daemon_pods(client: KubeClient, stop: threading.Event) -> None:
    """Bind pending DaemonSet pods to the node their affinity names (the scheduler's job), until ``stop``."""
    while not stop.wait(0.3):
        try:
            pending = client.get("/api/v1/pods", query={"fieldSelector": "spec.nodeName=,status.phase=Pending"})
        except ClusterError:
            continue  # the apiserver is busy or restarting; the next round retries
        for pod in pending.get("items") or ():
            node, meta = _affinity_node(pod), pod["metadata"]
            if node is None:
                continue
            binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"]},
                       "target": {"apiVersion": "v1", "kind": "Node", "name": node}}  # fmt: skip
            with contextlib.suppress(ApiError):  # already bound, or deleted meanwhile
                client.request("POST", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding",
                               body=binding)  # fmt: skip


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Control plane, node-a and node-b (kubelet + containerd, Calico stand-in), their agents."""
    require_root()
    require_binary("containerd", "ctr", "runc", "gcc", "unshare", "nsenter", "ip", "ipset", "antrea-migrate-agent")
    require(Path("/usr/lib/cni/bridge").is_file(), "needs containernetworking-plugins in /usr/lib/cni")
    require(not missing_binaries(), f"needs the Kubernetes binaries: {missing_binaries()} (scripts/build-k8s.sh)")
    images = (echo_image_tar(),)
    with start_control_plane(bind_address="0.0.0.0", server_ips=tuple(host_side_ip(i) for i in range(2))) as cp:
        nodes: dict[str, KubeletNode] = {}
        stop, binder = threading.Event(), None
        try:
            for index, name in enumerate(NODES):
                nodes[name] = start_kubelet_node(cp, name, index, images=images)
            a, b = nodes.values()
            underlay(a.netns, a.index, b.netns, b.index)
            client = cp.client()
            for node in nodes.values():
                cidr = antrea_subnet(node.index)
                patch = {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}
                client.request(
                    "PATCH", f"/api/v1/nodes/{node.name}", body=patch, content_type="application/merge-patch+json"
                )
            bundle = generate(ips=[n.ip for n in nodes.values()])
            tls_dir = write_tls_dir(bundle, tmp_path / "tls")
            endpoints = {n.name: n.start_agent(tls_dir, AGENT_PORT) for n in nodes.values()}
            for name, endpoint in endpoints.items():
                _wait(f"agent of {name}", lambda: _agent_answers(endpoint, bundle.client(), name))  # noqa: B023
            binder = threading.Thread(target=_bind_daemon_pods, args=(cp.client(), stop), daemon=True)
            binder.start()
            yield Cluster(cp, client, nodes, endpoints, tls_dir, tmp_path)
        finally:
            stop.set()
            if binder is not None:
                binder.join()
            for node in reversed(nodes.values()):
                node.stop()


# --- workloads ---------------------------------------------------------------------------------------


def _container(name: str, image: str = ECHO_IMAGE) -> dict[str, Any]:
    return {"name": name, "image": image, "imagePullPolicy": "Never"}


def _pod_spec(*containers: dict[str, Any], host_network: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "containers": list(containers),
        "hostNetwork": host_network,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 1,
        "tolerations": [{"operator": "Exists"}],
        **extra,
    }


def _daemonset(name: str, namespace: str, spec: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": spec}},
    }


def _antrea_manifest(path: Path) -> Path:
    """The Antrea stand-in: per-node conflists in a ConfigMap, installed by antrea-agent's init container."""
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "antrea-cni-standin", "namespace": "kube-system"},
        "data": {f"{name}.conflist": antrea_conflist(index) for index, name in enumerate(NODES)},
    }
    install = _container("install-cni") | {
        "command": ["/install-cni", "/standin", f"/host/etc/cni/net.d/{ANTREA_CONF}"],
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "volumeMounts": [
            {"name": "standin", "mountPath": "/standin"},
            {"name": "host-cni-conf", "mountPath": "/host/etc/cni/net.d"},
        ],
    }
    spec = _pod_spec(
        _container("antrea-agent", PAUSE_IMAGE),
        host_network=True,
        initContainers=[install],
        volumes=[
            {"name": "standin", "configMap": {"name": "antrea-cni-standin"}},
            {"name": "host-cni-conf", "hostPath": {"path": "/etc/cni/net.d", "type": "Directory"}},
        ],
    )
    agent = _daemonset("antrea-agent", "kube-system", spec, {"app": "antrea", "component": "antrea-agent"})
    path.write_text(yaml.safe_dump_all([config, agent]))
    return path


def _create_workloads(cluster: Cluster) -> None:
    client = cluster.client
    objects.create(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    # Pods are admitted only once the controller-manager made the namespace's default ServiceAccount.
    _wait(
        "the default ServiceAccount",
        lambda: client.get_optional(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/default"),
    )
    # Calico as the cluster knows it: its IPPool and blocks, and calico-node (what `run` removes).
    for obj in (
        objects.ip_pool("default-ipv4-ippool", "10.244.0.0/16"),
        objects.ipam_block(calico_subnet(0).replace("/24", "/26"), "node-a", 8),
        objects.ipam_block(calico_subnet(1).replace("/24", "/26"), "node-b", 8),
        # A block of a node gone long ago, one address still allocated, inside node-a's podCIDR:
        # node-a must be drained before its switch (and uncordoned after).
        objects.ipam_block("10.244.129.192/26", None, 1),
    ):
        objects.create(client, obj)
    calico_spec = _pod_spec(_container("calico-node", PAUSE_IMAGE), host_network=True)
    calico_node = _daemonset("calico-node", "kube-system", calico_spec, {"k8s-app": "calico-node"})
    workloads: list[dict[str, Any]] = [
        calico_node,
        _daemonset("web", NAMESPACE, _pod_spec(_container("web")), {"app": "web"}),
        _daemonset("client", NAMESPACE, _pod_spec(_container("client")), {"app": "client"}),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "namespace": NAMESPACE},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {
                    "metadata": {"labels": {"app": "api"}},
                    "spec": _pod_spec(_container("api"), nodeName="node-b"),
                },
            },
        },
    ]
    for obj in workloads:
        plural = {"DaemonSet": "daemonsets", "Deployment": "deployments"}[obj["kind"]]
        client.request("POST", f"/apis/apps/v1/namespaces/{obj['metadata']['namespace']}/{plural}", body=obj)
    host_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "node-exporter", "namespace": NAMESPACE, "labels": {"app": "node-exporter"}},
        "spec": _pod_spec(_container("node-exporter", PAUSE_IMAGE), host_network=True, nodeName="node-a"),
    }
    client.request("POST", objects.path_of(host_pod, collection=True), body=host_pod)


def _pods(client: KubeClient, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    return list(client.get(f"/api/v1/namespaces/{namespace}/pods").get("items") or [])


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _all_ready(client: KubeClient, count: int) -> list[dict[str, Any]] | None:
    pods = [p for p in _pods(client) if not p["metadata"].get("deletionTimestamp")]
    return pods if len(pods) == count and all(_ready(p) and p["status"].get("podIP") for p in pods) else None


# web x2, client x2, api x2, node-exporter
_POD_COUNT = 7


def _host_network_sandbox(node: KubeletNode, pod: str) -> tuple[str, str]:
    """(sandbox id, state) of the one sandbox of ``pod`` on ``node``."""
    with node.cri() as cri:
        flt = api_pb2.PodSandboxFilter(label_selector={"io.kubernetes.pod.name": pod})
        items = cri.ListPodSandbox(api_pb2.ListPodSandboxRequest(filter=flt), timeout=10).items
    assert len(items) == 1, f"{pod}: expected one sandbox, found {[i.id for i in items]}"
    return items[0].id, api_pb2.PodSandboxState.Name(items[0].state)


# --- node state --------------------------------------------------------------------------------------


def _calico_left(node: KubeletNode) -> dict[str, list[str]]:
    """Every Calico stand-in object still on ``node``, by kind (empty lists: clean)."""
    links = json.loads(node.in_netns("ip", "-j", "link", "show").stdout)
    routes = node.in_netns("ip", "route", "show", "proto", "bird").stdout.splitlines()
    chains: list[str] = []
    for tool in ("iptables-legacy-save", "iptables-nft-save", "ip6tables-legacy-save", "ip6tables-nft-save"):
        chains += [f"{tool}: {line}" for line in node.in_netns(tool).stdout.splitlines() if "cali-" in line]
    ipsets = node.in_netns("ipset", "list", "-n").stdout.split()
    return {
        "links": [link["ifname"] for link in links if link["ifname"] == "tunl0" or link["ifname"].startswith("cali")],
        "routes": routes,
        "chains": chains,
        "ipsets": [s for s in ipsets if s.startswith("cali")],
        "files": sorted(f.name for f in node.conf_dir.iterdir() if f.name in (CALICO_CONF, "calico-kubeconfig")),
    }


def _run_cli(cluster: Cluster, strategy: str, antrea_manifest: Path) -> int:
    argv = [
        "run",
        f"--strategy={strategy}",
        "--batch-size=1",
        "--yes",
        f"--antrea-manifest={antrea_manifest}",
        f"--tls-dir={cluster.tls_dir}",
        f"--kubeconfig={cluster.cp.admin_kubeconfig}",
        f"--backup-dir={cluster.workdir / 'backups'}",
        "--poll-interval=0.5",
        "-o",
        "json",
    ]
    for name, endpoint in cluster.endpoints.items():
        argv.append(f"--agent-endpoint={name}={endpoint}")
    return main(argv)


def _probe_pods(cluster: Cluster, pods: list[dict[str, Any]]) -> tuple[list[ProbePod], list[ProbePod]]:
    def ref(pod: dict[str, Any]) -> ProbePod:
        endpoint = cluster.nodes[pod["spec"]["nodeName"]].containerd.endpoint
        return ProbePod(NAMESPACE, pod["metadata"]["name"], endpoint)

    apps = {p["metadata"]["name"]: p["metadata"]["labels"].get("app") for p in pods}
    clients = [ref(p) for p in pods if apps[p["metadata"]["name"]] == "client"]
    servers = [ref(p) for p in pods if apps[p["metadata"]["name"]] in ("web", "api")]
    return clients, servers


@pytest.mark.parametrize("strategy", ["multus", "direct"])
def test_run_moves_every_pod_to_antrea_in_place_and_cleans_calico(
    cluster: Cluster, strategy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_workloads(cluster)
    nodes = list(cluster.nodes.values())
    before = _wait("the workloads Ready on Calico", lambda: _all_ready(cluster.client, _POD_COUNT), nodes)
    calico = {n.name: ipaddress.IPv4Network(calico_subnet(n.index)) for n in nodes}
    assert all(
        ipaddress.IPv4Address(p["status"]["podIP"]) in calico[p["spec"]["nodeName"]]
        for p in before
        if not p["spec"].get("hostNetwork")
    ), "pods did not start on the Calico stand-in"
    host_sandbox = _host_network_sandbox(cluster.nodes["node-a"], "node-exporter")
    clients, servers = _probe_pods(cluster, before)

    with Probe(clients, servers, NETWORKS) as probe:
        code = _run_cli(cluster, strategy, _antrea_manifest(cluster.workdir / "antrea.yaml"))
        figures: ProbeResult = probe.stop()
    out, err = capsys.readouterr()
    (cluster.workdir / "run.out").write_text(out + "\n--- stderr\n" + err)
    with capsys.disabled():
        print(f"\nprobe strategy={strategy} ok={figures.ok} failed={figures.failed} skipped={figures.skipped}")
        print(f"first failures: {figures.failures[:5]}; run output in {cluster.workdir / 'run.out'}")
    assert code == 0, f"run exited {code}\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"

    after = _wait("the workloads Ready on Antrea", lambda: _all_ready(cluster.client, _POD_COUNT), nodes)
    by_name = {p["metadata"]["name"]: p for p in after}
    # Restarted in place: the same pod objects (names and UIDs), now with Antrea addresses.
    assert {(p["metadata"]["name"], p["metadata"]["uid"]) for p in before} == {
        (p["metadata"]["name"], p["metadata"]["uid"]) for p in after
    }
    for pod in after:
        if pod["spec"].get("hostNetwork"):
            continue
        subnet = ipaddress.IPv4Network(antrea_subnet(cluster.nodes[pod["spec"]["nodeName"]].index))
        assert ipaddress.IPv4Address(pod["status"]["podIP"]) in subnet, pod["metadata"]["name"]
    assert by_name["node-exporter"]["status"]["podIP"] == cluster.nodes["node-a"].ip
    assert _host_network_sandbox(cluster.nodes["node-a"], "node-exporter") == host_sandbox
    # Each pod restarted exactly once per pass (Multus: bridge, then switch), never re-killed meanwhile.
    restarts = 2 if strategy == "multus" else 1
    created = {name: n for node in nodes for name, n in node.sandboxes_created(NAMESPACE).items()}
    assert created == {p["metadata"]["name"]: 1 if p["spec"].get("hostNetwork") else 1 + restarts for p in after}

    for node in nodes:
        assert _calico_left(node) == {"links": [], "routes": [], "chains": [], "ipsets": [], "files": []}, node.name
        assert sorted(f.name for f in node.conf_dir.iterdir() if f.is_file()) == [ANTREA_CONF]
        # What is not Calico's stays: the kubelet's chains, Antrea's route to the other node's pods.
        assert ":KUBE-FIREWALL" in node.in_netns("iptables-save").stdout
        peer = next(n for n in nodes if n is not node)
        assert antrea_subnet(peer.index) in node.in_netns("ip", "route", "show").stdout
    # node-a was drained (cordoned) for the stray block in its podCIDR, and is schedulable again.
    done = {s["id"] for s in json.loads(out)["state"]["steps"] if s["status"] == "done"}
    assert {"drain/node-a/drain", "switch/node-a/uncordon"} <= done
    for name in NODES:
        assert not cluster.client.get(f"/api/v1/nodes/{name}").get("spec", {}).get("unschedulable"), name
    assert cluster.client.get_optional("/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node") is None

    assert figures.ok > 0, "the probe never got an answer: it measured nothing"
    if strategy == "multus":
        assert figures.failed == 0, f"requests lost across the Multus bridge: {figures.failures}"
    else:
        # Between the two batches Calico-only and Antrea-only pods cannot talk (seed 000): the probe
        # must see it, or its zero for Multus would prove nothing.
        assert figures.failed > 0, "the probe saw no loss with the direct strategy"
