"""The migration's cluster adapters and CLI against a real kube-apiserver (+ controller-manager).

Real parts: the state ConfigMap's compare-and-swap (the apiserver's own 409s), the Eviction API with
PodDisruptionBudgets computed by the real disruption controller, a DaemonSet whose pod the real
DaemonSet controller created, Node cordon flags, and the CLI's ``run --plan``/``status``.
No kubelet runs: pods are created with ``nodeName`` set and their status patched as a kubelet would,
and evictions use grace period 0 so nobody has to confirm a graceful deletion.

The one stand-in is the ``NodePort`` (``_StandInNodes``) in the runs driven through the runner: the
node agents need network-namespace nodes and a container runtime, which ``tests/e2e`` provides; here
it records the calls and can fail on demand, to see what the cluster side does when a node fails.
The real node adapter (``AgentNodes``) is exercised against a real agent process serving a temp
host tree on loopback (CNI conf switches; it has no container runtime, so a restart must fail loudly).
"""

from __future__ import annotations

import datetime
import json
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_antrea_migrate.agents.client import AgentClient
from kubectl_antrea_migrate.agents.migration import AgentNodes
from kubectl_antrea_migrate.agents.tls import generate, write_tls_dir
from kubectl_antrea_migrate.cli.app import main
from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient, resource_path
from kubectl_antrea_migrate.cluster.migration import (
    CNI_ANNOTATION,
    ClusterMigration,
    MigrationConfig,
    format_cni_mark,
    read_plan_facts,
)
from kubectl_antrea_migrate.cluster.state_store import ConfigMapStateStore
from kubectl_antrea_migrate.errors import AgentError, ClusterError
from kubectl_antrea_migrate.migrate.plan import (
    Network,
    Phase,
    PhaseName,
    Plan,
    PlanOptions,
    Step,
    StepKind,
    Strategy,
    build_plan,
)
from kubectl_antrea_migrate.migrate.runner import (
    MigrationStoppedError,
    NullProgress,
    Ports,
    RunOptions,
    SystemClock,
    run,
)
from kubectl_antrea_migrate.migrate.state import (
    ConcurrentRunError,
    Lock,
    MigrationState,
    RunStatus,
    StateConflictError,
    StepRecord,
    StepStatus,
)
from tests._prereq import require_binary
from tests.harness import objects as o
from tests.harness.controlplane import ControlPlane

_FAST: dict[str, Any] = {"poll_interval": 0.2, "eviction_grace_seconds": 0}


# --- helpers ---------------------------------------------------------------------------------------

def _stamp(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(name: str, namespace: str, node: str, ip: str | None, *, labels: dict[str, str] | None = None,
         host_network: bool = False, restart_policy: str = "Always", sandbox_at: float | None = None,
         ready: bool = True) -> dict[str, Any]:
    """A running pod as its kubelet reports it: IP, Ready, and when its sandbox got its network."""
    obj = o.pod(name, namespace, node, ip=ip, labels=labels, host_network=host_network)
    obj["spec"]["restartPolicy"] = restart_policy
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    if sandbox_at is not None:
        conditions.append({"type": "PodReadyToStartContainers", "status": "True",
                           "lastTransitionTime": _stamp(sandbox_at)})
    obj["status"]["conditions"] = conditions
    return obj


def _seed(client: KubeClient) -> None:
    """The seed's example: /24 node podCIDRs, Calico /26 blocks; node-b's range holds node-a's block."""
    o.create(client, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    o.create(client, o.node("node-b", ["10.10.4.0/24"], "192.168.0.12"))
    o.create(client, o.node("node-c", ["10.10.7.0/24"], "192.168.0.13"))
    o.create(client, o.node("node-d", ["10.10.9.0/24"], "192.168.0.14"))
    o.create(client, o.ip_pool("default-ipv4-ippool", "10.10.0.0/16"))
    o.create(client, o.ipam_block("10.10.4.128/26", "node-a", allocated=5))
    o.create(client, o.ipam_block("10.10.20.0/26", "node-b", allocated=3))


def _unschedulable(client: KubeClient, node: str) -> bool:
    return bool((client.get(resource_path("", "v1", "nodes", name=node)).get("spec") or {}).get("unschedulable"))


def _pod_names(client: KubeClient, namespace: str) -> set[str]:
    items = client.get(resource_path("", "v1", "pods", namespace=namespace)).get("items") or []
    return {p["metadata"]["name"] for p in items}


def _wait_for(what: str, check: Any, deadline_s: float = 60.0) -> Any:
    # A guard against a controller that never acts, not a timing assertion.
    deadline = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {deadline_s:g}s")
        time.sleep(0.1)


def _pdb(client: KubeClient, namespace: str, name: str, labels: dict[str, str], min_available: int) -> None:
    body = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": labels}}}
    client.request("POST", resource_path("policy", "v1", "poddisruptionbudgets", namespace=namespace), body=body)


def _pdb_allows(client: KubeClient, namespace: str, name: str, allowed: int) -> bool:
    status = client.get(resource_path("policy", "v1", "poddisruptionbudgets", namespace=namespace,
                                      name=name)).get("status") or {}
    return status.get("observedGeneration") == 1 and status.get("disruptionsAllowed") == allowed


class _StandInNodes:
    """NodePort stand-in (no node agents here, see the module docstring): records calls, fails on demand."""

    def __init__(self, fail_cni_on: str | None = None) -> None:
        self.fail_cni_on = fail_cni_on
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def use_cni(self, node: str, network: Network) -> None:
        with self._lock:
            self.calls.append(("cni", node))
        if node == self.fail_cni_on:
            raise ClusterError(f"injected failure: agent on {node} unreachable")

    def restart_pods(self, node: str, pods: tuple[str, ...]) -> tuple[str, ...]:
        with self._lock:
            self.calls.append(("restart", node))
        return pods

    def cleanup_calico(self, node: str) -> None:
        with self._lock:
            self.calls.append(("cleanup", node))


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """A stand-in Antrea manifest: `run --plan` and the refused runs only name it, nothing applies it."""
    path = tmp_path / "antrea.yml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "antrea-x"}}))
    return path


def _cli(capsys: pytest.CaptureFixture[str], cp: ControlPlane, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--kubeconfig", str(cp.admin_kubeconfig)])
    out, err = capsys.readouterr()
    return code, out, err


# --- the state store -------------------------------------------------------------------------------

class _ReadTogether(ConfigMapStateStore):
    """The real store; its first load waits for the other run's, so both read before either writes."""

    def __init__(self, client: KubeClient, namespace: str, barrier: threading.Barrier) -> None:
        super().__init__(client, namespace)
        self._barrier = barrier
        self._first = True
        self.conflicts: list[StateConflictError] = []

    def load(self) -> MigrationState:
        state = super().load()
        if self._first:
            self._first = False
            self._barrier.wait()
        return state

    def save(self, state: MigrationState) -> MigrationState:
        try:
            return super().save(state)
        except StateConflictError as exc:
            self.conflicts.append(exc)
            raise


class _GatedCluster(ClusterMigration):
    """The real cluster adapter whose pre-flight waits for ``gate``: the winner holds the lock meanwhile."""

    def __init__(self, client: KubeClient, config: MigrationConfig, gate: threading.Event) -> None:
        super().__init__(client, config)
        self._gate = gate

    def preflight_blockers(self) -> tuple[str, ...]:
        self._gate.wait()
        return super().preflight_blockers()


def _preflight_only_plan() -> Plan:
    step = Step("preflight", StepKind.PREFLIGHT, PhaseName.PREFLIGHT, description="pre-flight")
    return Plan(strategy=Strategy.DIRECT, batch_size=1, phases=(Phase(PhaseName.PREFLIGHT, steps=(step,)),),
                drain=(), deletions=(), warnings=(), refusals=(), nodes=())


def test_two_concurrent_runs_one_is_refused_naming_the_holder_after_a_real_409(
    control_plane: ControlPlane, clean_cluster: KubeClient, namespace: str
) -> None:
    barrier, gate = threading.Barrier(2), threading.Event()
    results: queue.Queue[tuple[str, BaseException | None]] = queue.Queue()
    stores: dict[str, _ReadTogether] = {}
    plan = _preflight_only_plan()

    def one_run(holder: str) -> None:
        client = control_plane.client()  # each run its own client, as two processes would have
        store = stores[holder] = _ReadTogether(client, namespace, barrier)
        ports = Ports(_GatedCluster(client, MigrationConfig(namespace=namespace), gate), _StandInNodes(), SystemClock())
        try:
            run(plan, ports, store, NullProgress(), RunOptions(holder=holder, heartbeat=None))
            results.put((holder, None))
        except BaseException as exc:  # reported to the test thread
            results.put((holder, exc))
        finally:
            client.close()

    threads = [threading.Thread(target=one_run, args=(h,)) for h in ("alice@host-1 pid=1", "bob@host-2 pid=2")]
    for t in threads:
        t.start()
    try:
        loser, error = results.get(timeout=120)  # the refused run ends first: the winner waits at the gate
    finally:
        gate.set()
        for t in threads:
            t.join()
    winner, winner_error = results.get_nowait()

    assert winner_error is None
    assert isinstance(error, ConcurrentRunError)
    assert error.holder == winner and winner in str(error)
    # The refusal came from the apiserver's compare-and-swap: a real 409 on the loser's write.
    conflict = stores[loser].conflicts[0]
    assert isinstance(conflict.__cause__, ApiError) and conflict.__cause__.status == 409
    final = ConfigMapStateStore(clean_cluster, namespace).load()
    assert final.status is RunStatus.SUCCEEDED and final.lock is None


def test_save_with_a_stale_resource_version_is_refused_and_changes_nothing(
    clean_cluster: KubeClient, namespace: str
) -> None:
    store = ConfigMapStateStore(clean_cluster, namespace)
    first = store.save(MigrationState(status=RunStatus.RUNNING, phase="agents"))
    second = store.save(replace(first, phase="drain"))

    with pytest.raises(StateConflictError, match="changed since it was read"):
        store.save(replace(first, phase="stale"))
    with pytest.raises(StateConflictError):
        store.save(MigrationState(phase="create-again"))
    assert store.load().phase == "drain" and store.load().resource_version == second.resource_version


def test_state_survives_a_new_client(control_plane: ControlPlane, clean_cluster: KubeClient, namespace: str) -> None:
    state = MigrationState(
        status=RunStatus.FAILED, phase="switch", strategy="multus", plan_id="abc123", started_at=1.5e9,
        updated_at=1.5e9 + 60, error="step switch/node-b/cni failed: boom", lock=Lock("alice@h pid=7", 1.5e9 + 300),
        steps=(StepRecord("switch/node-a/cni", "cni", "switch", "node-a", StepStatus.DONE, 1.5e9, 1.5e9 + 2.25),
               StepRecord("switch/node-b/cni", "cni", "switch", "node-b", StepStatus.STARTED, 1.5e9 + 3)),
        restarts=(("node-a", "switch/node-a/restart", ("ns/p1", "ns/p2")),),
        cordoned=("node-b",),
    )
    ConfigMapStateStore(clean_cluster, namespace).save(state)

    fresh = control_plane.client()
    try:
        loaded = ConfigMapStateStore(fresh, namespace).load()
    finally:
        fresh.close()
    assert loaded == state and loaded.resource_version
    assert loaded.node_seconds() == {"node-a": 2.25}


# --- drain, pods, budgets --------------------------------------------------------------------------

def _daemonset_pod_on(client: KubeClient, namespace: str, node: str) -> str:
    """A DaemonSet whose controller makes the pod, bound to ``node`` as the scheduler would."""
    labels = {"app": "per-node"}
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "per-node"},
          "spec": {"selector": {"matchLabels": labels},
                   "template": {"metadata": {"labels": labels},
                                "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                                         "automountServiceAccountToken": False,
                                         # New Nodes keep their not-ready taint: no lifecycle controller runs.
                                         "tolerations": [{"operator": "Exists"}],
                                         "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}}}
    client.request("POST", resource_path("apps", "v1", "daemonsets", namespace=namespace), body=ds)

    def created() -> list[dict[str, Any]]:
        return client.get(resource_path("", "v1", "pods", namespace=namespace),
                          query={"labelSelector": "app=per-node"}).get("items") or []

    pod = _wait_for("the DaemonSet controller creating its pod", created)[0]
    name = pod["metadata"]["name"]
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    client.request("POST", resource_path("", "v1", "pods", namespace=namespace, name=name) + "/binding", body=binding)
    return str(name)


def test_drain_cordons_and_evicts_only_pod_network_pods_not_owned_by_a_daemonset(
    clean_cluster: KubeClient, namespace: str
) -> None:
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    o.create(clean_cluster, o.node("node-z", ["10.10.2.0/24"], "192.168.0.12"))
    o.create(clean_cluster, _pod("web", namespace, "node-a", "10.10.4.130"))
    o.create(clean_cluster, _pod("batch", namespace, "node-a", "10.10.4.131", restart_policy="Never"))
    o.create(clean_cluster, _pod("proxy", namespace, "node-a", "192.168.0.11", host_network=True))
    o.create(clean_cluster, _pod("elsewhere", namespace, "node-z", "10.10.20.5"))
    mirror = _pod("static-web", namespace, "node-a", "10.10.4.132")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "0123abcd"}
    del mirror["spec"]["serviceAccountName"]  # mirror pods may not name a ServiceAccount
    o.create(clean_cluster, mirror)
    daemon = _daemonset_pod_on(clean_cluster, namespace, "node-a")

    ClusterMigration(clean_cluster, MigrationConfig(namespace=namespace, **_FAST)).drain("node-a")

    assert _unschedulable(clean_cluster, "node-a") and not _unschedulable(clean_cluster, "node-z")
    left = _pod_names(clean_cluster, namespace)
    assert {"proxy", "static-web", "elsewhere", daemon} <= left
    assert not {"web", "batch"} & left


def test_drain_respects_a_pod_disruption_budget_and_stops_naming_the_pod_left(
    clean_cluster: KubeClient, namespace: str
) -> None:
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    for name in ("web-1", "web-2"):
        o.create(clean_cluster, _pod(name, namespace, "node-a", None, labels={"app": "web"}))
    _pdb(clean_cluster, namespace, "web", {"app": "web"}, min_available=1)
    _wait_for("the disruption controller computing the budget", lambda: _pdb_allows(clean_cluster, namespace, "web", 1))
    config = MigrationConfig(namespace=namespace, drain_timeout=2.0, **_FAST)

    with pytest.raises(ClusterError) as stopped:
        ClusterMigration(clean_cluster, config).drain("node-a")

    left = _pod_names(clean_cluster, namespace) & {"web-1", "web-2"}
    assert len(left) == 1  # the budget let exactly one go: the Eviction API answered 429 for the other
    message = str(stopped.value)
    assert f"{namespace}/{left.pop()}" in message and "disruption budget" in message
    assert "node-a stays cordoned" in message and _unschedulable(clean_cluster, "node-a")


def test_pods_report_network_readiness_restart_policy_and_budget(clean_cluster: KubeClient, namespace: str) -> None:
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    mark = time.time() - 60
    clean_cluster.request("PATCH", resource_path("", "v1", "nodes", name="node-a"),
                          body={"metadata": {"annotations": {CNI_ANNOTATION: format_cni_mark(Network.MULTUS, mark)}}},
                          content_type="application/merge-patch+json")
    o.create(clean_cluster, _pod("on-antrea", namespace, "node-a", "10.10.1.7", labels={"app": "web"}))
    o.create(clean_cluster, _pod("on-calico", namespace, "node-a", "10.10.20.7", sandbox_at=mark - 3600,
                                 labels={"app": "web"}))
    o.create(clean_cluster, _pod("on-multus", namespace, "node-a", "10.10.20.8", sandbox_at=mark + 5, ready=False))
    o.create(clean_cluster, _pod("job", namespace, "node-a", "10.10.20.9", restart_policy="Never"))
    o.create(clean_cluster, _pod("proxy", namespace, "node-a", "192.168.0.11", host_network=True))
    o.create(clean_cluster, _pod("starting", namespace, "node-a", None, ready=False))
    _pdb(clean_cluster, namespace, "web", {"app": "web"}, min_available=1)
    _wait_for("the disruption controller computing the budget", lambda: _pdb_allows(clean_cluster, namespace, "web", 1))
    cluster = ClusterMigration(clean_cluster, MigrationConfig(namespace=namespace))

    pods = {p.name: p for p in cluster.pods("node-a")}

    assert {n: p.network for n, p in pods.items() if not p.host_network} == {
        "on-antrea": Network.ANTREA, "on-calico": Network.CALICO, "on-multus": Network.MULTUS,
        "job": Network.CALICO, "starting": Network.NONE}
    assert pods["proxy"].host_network and pods["job"].restart_policy == "Never"
    assert pods["on-antrea"].ready and not pods["on-multus"].ready
    assert pods["on-antrea"].pdb == pods["on-calico"].pdb == f"{namespace}/web" and pods["job"].pdb is None
    budget = cluster.disruption_budgets(frozenset({f"{namespace}/web", f"{namespace}/missing"}))
    assert budget[f"{namespace}/web"].allowed == 1 and budget[f"{namespace}/missing"].allowed == 0


def test_ensure_antrea_applies_the_manifest_and_waits_until_every_node_runs_a_ready_agent(
    clean_cluster: KubeClient, namespace: str, tmp_path: Path
) -> None:
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    labels = {"component": "antrea-agent"}
    meta = {"name": "antrea-agent", "namespace": namespace}
    daemonset = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
                 "spec": {"selector": {"matchLabels": labels},
                          "template": {"metadata": {"labels": labels},
                                       "spec": {"automountServiceAccountToken": False, "hostNetwork": True,
                                                "tolerations": [{"operator": "Exists"}],
                                                "containers": [{"name": "antrea-agent",
                                                                "image": "antrea/antrea-agent-ubuntu:v2.2.0"}]}}}}
    manifest = tmp_path / "antrea.yml"
    manifest.write_text(yaml.safe_dump(daemonset))
    config = MigrationConfig(namespace=namespace, antrea_manifest=manifest, antrea_timeout=1.0, **_FAST)
    cluster = ClusterMigration(clean_cluster, config)

    with pytest.raises(ClusterError, match="not ready after 1s on: node-a: "):
        cluster.ensure_antrea()  # applied, but no kubelet runs the agent yet

    pods_path = resource_path("", "v1", "pods", namespace=namespace)
    pod = _wait_for("the DaemonSet controller creating the agent pod", lambda: (clean_cluster.get(
        pods_path, query={"labelSelector": "component=antrea-agent"}).get("items") or [None])[0])
    name = pod["metadata"]["name"]
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"}}
    clean_cluster.request("POST", f"{pods_path}/{name}/binding", body=binding)
    clean_cluster.request("PATCH", f"{pods_path}/{name}/status", content_type="application/merge-patch+json",
                          body={"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})

    cluster.ensure_antrea()  # the same apply again changes nothing, and now the wait is satisfied
    assert len(clean_cluster.get(pods_path, query={"labelSelector": "component=antrea-agent"})["items"]) == 1


def _workload(kind: str, name: str, namespace: str) -> dict[str, Any]:
    labels = {"k8s-app": name}
    template = {"metadata": {"labels": labels},
                "spec": {"automountServiceAccountToken": False,
                         "containers": [{"name": name, "image": "calico/node:v3.29.0"}]}}
    spec: dict[str, Any] = {"selector": {"matchLabels": labels}, "template": template}
    if kind == "Deployment":
        spec["replicas"] = 0
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_calico_removal_deletes_workloads_never_policies_and_policies_only_when_asked(
    clean_cluster: KubeClient, namespace: str, tmp_path: Path
) -> None:
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    o.create(clean_cluster, _pod("old", namespace, "node-a", "10.10.20.7"))
    for kind, name in (("DaemonSet", "calico-node"), ("Deployment", "calico-kube-controllers")):
        plural = "daemonsets" if kind == "DaemonSet" else "deployments"
        clean_cluster.request("POST", resource_path("apps", "v1", plural, namespace=namespace),
                              body=_workload(kind, name, namespace))
    o.create(clean_cluster, o.global_network_policy("web", selector="app == 'web'"))
    o.create(clean_cluster, o.calico_network_policy("no-egress", namespace))
    ours = {"apiVersion": "crd.antrea.io/v1beta1", "kind": "ClusterNetworkPolicy", "metadata": {"name": "ours"},
            "spec": {"priority": 5, "appliedTo": [{"podSelector": {}}], "ingress": [{"action": "Allow"}]}}
    theirs = {**ours, "metadata": {"name": "theirs"}}
    cluster = ClusterMigration(clean_cluster, replace(MigrationConfig(namespace=namespace, backup_dir=tmp_path),
                                                      policy_manifests=(ours,)))
    cluster.ensure_antrea_policies()
    clean_cluster.request("POST", "/apis/crd.antrea.io/v1beta1/clusternetworkpolicies", body=theirs)
    gnps = "/apis/crd.projectcalico.org/v1/globalnetworkpolicies"

    assert len(cluster.final_check()) == 3  # two Calico workloads, one pod still on Calico
    cluster.remove_calico()
    cluster.remove_calico()  # already absent: success

    problems = cluster.final_check()
    assert problems == (f"pod {namespace}/old on node node-a is on calico, not antrea",)
    assert [g["metadata"]["name"] for g in clean_cluster.get(gnps)["items"]] == ["web"]
    backup = Path(cluster.backup_calico_policies())
    assert {d["metadata"]["name"] for d in yaml.safe_load_all(backup.read_text()) if d} == {"web", "no-egress"}
    cluster.delete_calico_policies()
    assert clean_cluster.get(gnps)["items"] == []
    cluster.remove_antrea_policies()
    left = clean_cluster.get("/apis/crd.antrea.io/v1beta1/clusternetworkpolicies")["items"]
    assert [p["metadata"]["name"] for p in left] == ["theirs"]


def test_calico_removal_from_a_manifest_deletes_its_workloads_only(
    clean_cluster: KubeClient, namespace: str, tmp_path: Path
) -> None:
    renamed = _workload("DaemonSet", "calico-node-custom", namespace)
    clean_cluster.request("POST", resource_path("apps", "v1", "daemonsets", namespace=namespace), body=renamed)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"veth_mtu": "1440"},
                  "metadata": {"name": "calico-config", "namespace": namespace}}
    clean_cluster.request("POST", resource_path("", "v1", "configmaps", namespace=namespace), body=config_map)
    crd = clean_cluster.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ippools.crd.projectcalico.org")
    manifest = tmp_path / "calico.yaml"
    manifest.write_text(yaml.safe_dump_all([
        {"apiVersion": crd["apiVersion"], "kind": crd["kind"], "metadata": {"name": crd["metadata"]["name"]}},
        config_map, renamed]))
    cluster = ClusterMigration(clean_cluster, MigrationConfig(namespace=namespace, calico_manifest=manifest))

    cluster.remove_calico()

    assert clean_cluster.get_optional(resource_path("apps", "v1", "daemonsets", namespace=namespace,
                                                    name="calico-node-custom")) is None
    assert clean_cluster.get_optional(resource_path("", "v1", "configmaps", namespace=namespace,
                                                    name="calico-config")) is not None
    assert clean_cluster.get_optional(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ippools.crd.projectcalico.org") is not None


# --- runs through the runner -----------------------------------------------------------------------

def test_a_failed_node_stays_cordoned_by_name_the_switched_one_is_uncordoned_and_a_rerun_finishes(
    clean_cluster: KubeClient, namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    control_plane: ControlPlane
) -> None:
    _seed(clean_cluster)
    o.create(clean_cluster, _pod("web", namespace, "node-a", "10.10.4.130"))
    config = MigrationConfig(namespace=namespace, install_agents=False, backup_dir=tmp_path, **_FAST)
    store = ConfigMapStateStore(clean_cluster, namespace)
    facts = read_plan_facts(clean_cluster, config, store.load())
    plan = build_plan(facts.nodes, PlanOptions(strategy=Strategy.DIRECT, batch_size=2, antrea_installed=True))
    assert plan.drain == ("node-a", "node-b")
    nodes = _StandInNodes(fail_cni_on="node-b")
    ports = Ports(ClusterMigration(clean_cluster, config), nodes, SystemClock())
    options = RunOptions(holder="test pid=1", poll_interval=0.2, heartbeat=None)

    with pytest.raises(MigrationStoppedError) as stopped:
        run(plan, ports, store, NullProgress(), options)

    assert stopped.value.cordoned == ("node-b",)
    assert "node-b" in str(stopped.value) and "still cordoned" in str(stopped.value)
    assert not _unschedulable(clean_cluster, "node-a") and _unschedulable(clean_cluster, "node-b")
    assert "web" not in _pod_names(clean_cluster, namespace)  # evicted by node-a's drain
    assert store.load().cordoned == ("node-b",) and store.load().status is RunStatus.FAILED

    # `status -o json` shows exactly the stored state.
    code, out, _ = _cli(capsys, control_plane, "status", "-o", "json", "--namespace", namespace)
    assert code == 0 and json.loads(out) == json.loads(json.dumps(store.load().to_dict()))

    nodes.fail_cni_on = None
    drains_before = [c for c in nodes.calls]
    facts = read_plan_facts(clean_cluster, config, store.load())
    resumed = build_plan(facts.nodes, PlanOptions(strategy=Strategy.DIRECT, batch_size=2, antrea_installed=True))
    assert resumed.plan_id == plan.plan_id
    result = run(resumed, ports, store, NullProgress(), options)

    assert result.state.status is RunStatus.SUCCEEDED and result.state.cordoned == ()
    assert not any(_unschedulable(clean_cluster, n) for n in ("node-a", "node-b", "node-c", "node-d"))
    assert ("cni", "node-a") not in nodes.calls[len(drains_before):]  # done steps are not repeated
    backups = list(tmp_path.glob("calico-policies-*.yaml"))
    assert len(backups) == 1 and str(backups[0]) in " ".join(r.detail for r in result.state.steps)


# --- the CLI ---------------------------------------------------------------------------------------

def test_run_plan_lists_the_nodes_to_drain_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], control_plane: ControlPlane, clean_cluster: KubeClient, namespace: str,
    manifest: Path
) -> None:
    _seed(clean_cluster)
    common = ("run", "--plan", "--antrea-manifest", str(manifest), "--namespace", namespace, "--batch-size", "2")

    code, out, err = _cli(capsys, control_plane, *common)
    assert code == 0, err
    assert "Nodes drained first (Pod CIDR overlap), uncordoned after their switch: node-a, node-b" in out
    assert f"Antrea manifest applied server-side: {manifest}" in out

    code, out, err = _cli(capsys, control_plane, *common, "-o", "json")
    doc = json.loads(out)
    assert code == 0 and doc["runnable"] and doc["drain"] == ["node-a", "node-b"]
    phases = [p["name"] for p in doc["phases"]]
    assert phases == ["preflight", "agents", "drain", "antrea-install", "policies", "bridge", "switch",
                      "calico-removal", "cleanup", "final-check"]
    switch = next(p for p in doc["phases"] if p["name"] == "switch")
    assert [[n["name"] for n in b["nodes"]] for b in switch["batches"]] == [["node-a", "node-b"], ["node-c", "node-d"]]
    assert clean_cluster.get_optional(resource_path("", "v1", "configmaps", namespace=namespace,
                                                    name="antrea-migrate-state")) is None
    assert not any(_unschedulable(clean_cluster, n) for n in ("node-a", "node-b", "node-c", "node-d"))


def test_run_plan_refuses_when_most_nodes_overlap_and_explains_the_ippool_change(
    capsys: pytest.CaptureFixture[str], control_plane: ControlPlane, clean_cluster: KubeClient, manifest: Path
) -> None:
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    o.create(clean_cluster, o.node("node-b", ["10.10.4.0/24"], "192.168.0.12"))
    o.create(clean_cluster, o.ipam_block("10.10.1.0/26", "node-a", allocated=2))
    o.create(clean_cluster, o.ipam_block("10.10.4.0/26", "node-b", allocated=2))

    code, out, _ = _cli(capsys, control_plane, "run", "--plan", "--antrea-manifest", str(manifest))

    assert code == 1
    assert "REFUSED" in out and "Change the IPPool first" in out


def test_run_without_yes_and_without_a_terminal_refuses_with_exit_2(
    capsys: pytest.CaptureFixture[str], control_plane: ControlPlane, clean_cluster: KubeClient, namespace: str,
    manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115 - closed with the test

    code, _, err = _cli(capsys, control_plane, "run", "--antrea-manifest", str(manifest), "--namespace", namespace)

    assert code == 2 and "pass --yes" in err
    assert clean_cluster.get_optional(resource_path("", "v1", "configmaps", namespace=namespace,
                                                    name="antrea-migrate-state")) is None


def test_run_refused_while_another_run_holds_the_lock_names_it(
    capsys: pytest.CaptureFixture[str], control_plane: ControlPlane, clean_cluster: KubeClient, namespace: str,
    manifest: Path
) -> None:
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    held = MigrationState(status=RunStatus.RUNNING, phase="agents", lock=Lock("carol@laptop pid=42", time.time() + 600))
    ConfigMapStateStore(clean_cluster, namespace).save(held)

    code, _, err = _cli(capsys, control_plane, "run", "--yes", "--antrea-manifest", str(manifest),
                        "--namespace", namespace)

    assert code == 3 and "carol@laptop pid=42" in err
    assert ConfigMapStateStore(clean_cluster, namespace).load().lock == held.lock


@pytest.fixture(autouse=True)
def _no_leftover_state(clean_cluster: KubeClient) -> Iterator[None]:
    """The state ConfigMap in kube-system (the default namespace) must not leak between tests."""
    yield
    path = resource_path("", "v1", "configmaps", namespace="kube-system", name="antrea-migrate-state")
    try:
        clean_cluster.request("DELETE", path)
    except ApiError as exc:
        if exc.status != 404:
            raise


def test_run_refuses_while_check_finds_blockers_and_force_lists_what_it_overrides(
    capsys: pytest.CaptureFixture[str], control_plane: ControlPlane, clean_cluster: KubeClient, namespace: str,
    manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    o.create(clean_cluster, o.global_network_policy("broken", selector="app == 'web"))  # the CRD takes any string
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115 - closed with the test
    argv = ("run", "--antrea-manifest", str(manifest), "--namespace", namespace)

    code, _, err = _cli(capsys, control_plane, *argv, "--yes")
    assert code == 1 and "pre-flight check reports blockers" in err and "broken" in err

    code, out, err = _cli(capsys, control_plane, *argv, "--force")
    assert "--force overrides 1 pre-flight blockers" in out and "broken" in out
    assert code == 2  # then no terminal to confirm on: nothing started
    assert clean_cluster.get_optional(resource_path("", "v1", "configmaps", namespace=namespace,
                                                    name="antrea-migrate-state")) is None


CALICO_CONFLIST = {"cniVersion": "0.3.1", "name": "k8s-pod-network", "plugins": [{"type": "calico"}]}
ANTREA_CONFLIST = {"cniVersion": "0.3.0", "name": "antrea", "plugins": [{"type": "antrea"}, {"type": "portmap"}]}


@pytest.fixture
def loopback_agent(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """``antrea-migrate-agent serve`` on 127.0.0.1 over a temp host tree with Calico's and Antrea's confs.

    Yields the endpoint, the client TLS dir and the host tree's CNI conf dir.
    """
    require_binary("antrea-migrate-agent")
    bundle = generate()
    tls_dir = write_tls_dir(bundle, tmp_path / "tls")
    conf_dir = tmp_path / "host" / "etc" / "cni" / "net.d"
    conf_dir.mkdir(parents=True)
    (conf_dir / "10-calico.conflist").write_text(json.dumps(CALICO_CONFLIST))
    (conf_dir / "10-antrea.conflist").write_text(json.dumps(ANTREA_CONFLIST))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"127.0.0.1:{port}"
    log = tmp_path / "agent.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [shutil.which("antrea-migrate-agent") or "antrea-migrate-agent", "serve", f"--listen={endpoint}",
             f"--tls-dir={tls_dir}", f"--host-root={tmp_path / 'host'}", "--node-name=node-a",
             f"--cri-endpoint=unix://{tmp_path / 'no-cri.sock'}"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        with AgentClient(endpoint, bundle.client(), "node-a", timeout=5) as client:
            def answers() -> bool:
                if proc.poll() is not None:
                    pytest.fail(f"agent exited {proc.returncode}:\n{log.read_text(errors='replace')}")
                try:
                    client.ping()
                    return True
                except AgentError:
                    return False
            _wait_for("the agent serving", answers)
        yield endpoint, tls_dir, conf_dir
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_node_adapter_switches_cni_confs_through_the_agent_and_marks_the_node(
    clean_cluster: KubeClient, namespace: str, loopback_agent: tuple[str, Path, Path]
) -> None:
    endpoint, tls_dir, conf_dir = loopback_agent
    o.create(clean_cluster, o.node("node-a", ["10.10.1.0/24"], "127.0.0.1"))
    o.create(clean_cluster, o.node("node-x", ["10.10.2.0/24"], "192.0.2.1"))
    o.create(clean_cluster, _pod("web", namespace, "node-a", "10.10.20.7"))
    nodes = AgentNodes(clean_cluster, namespace=namespace, endpoints={"node-a": endpoint}, tls_dir=tls_dir)

    def mark() -> str:
        meta = clean_cluster.get(resource_path("", "v1", "nodes", name="node-a"))["metadata"]
        return str((meta.get("annotations") or {}).get(CNI_ANNOTATION, ""))

    nodes.use_cni("node-a", Network.MULTUS)
    multus = json.loads((conf_dir / "00-multus.conf").read_text())
    assert [d["name"] for d in multus["delegates"]] == ["k8s-pod-network", "antrea"]
    assert mark().startswith("multus@")
    nodes.use_cni("node-a", Network.MULTUS)  # already so: nothing changes
    assert json.loads((conf_dir / "00-multus.conf").read_text()) == multus

    # Rollback: Antrea's conf sorts before Calico's, so the agent pins an exact copy of Calico's in front.
    nodes.use_cni("node-a", Network.CALICO)
    assert not (conf_dir / "00-multus.conf").exists()
    pin = conf_dir / "00-antrea-migrate-calico.conflist"
    assert pin.read_bytes() == (conf_dir / "10-calico.conflist").read_bytes()
    assert mark().startswith("calico@")
    nodes.use_cni("node-a", Network.CALICO)  # already so: nothing changes
    assert pin.read_bytes() == (conf_dir / "10-calico.conflist").read_bytes()

    nodes.use_cni("node-a", Network.ANTREA)
    assert sorted(p.name for p in conf_dir.iterdir() if p.is_file()) == ["10-antrea.conflist", "10-calico.conflist"]
    assert mark().startswith("antrea@")

    # Once Calico's conf is gone (the cleanup moves it away) there is nothing to roll back to.
    (conf_dir / "10-calico.conflist").unlink()
    with pytest.raises(AgentError, match="Calico's CNI conf is gone: rollback is no longer possible"):
        nodes.use_cni("node-a", Network.CALICO)
    assert mark().startswith("antrea@") and not pin.exists()

    with pytest.raises(AgentError, match="node=node-a"):
        nodes.restart_pods("node-a", (f"{namespace}/web",))  # no container runtime behind this agent
    with pytest.raises(AgentError, match="node-x"):
        nodes.ping_all(["node-a", "node-x"])  # node-x has no agent pod and no endpoint
    nodes.ping_all(["node-a"])
