"""The pure judgements of the migration's edges, and the CLI's progress display.

``cluster/migration.py`` keeps the few decisions that belong to the cluster edge in pure functions
(which network a pod is on, when the Antrea rollout is done, what a drain evicts); they are pinned
down here on objects shaped as the apiserver returns them. The same functions run against a real
kube-apiserver in ``tests/cluster/test_migration_adapters.py``.

The progress display is fed by a real runner over the in-memory ports of ``migrate/simulation.py``
(a whole cluster cannot run in a unit test).
"""

from __future__ import annotations

import io
import ipaddress
import json
from typing import Any

import pytest
from rich.console import Console

from kubectl_antrea_migrate.agents.migration import parse_endpoints
from kubectl_antrea_migrate.cli._migration import RichProgress, confirm, print_summary, result_document
from kubectl_antrea_migrate.cluster.migration import (
    CNI_ANNOTATION,
    MULTUS_STATUS_ANNOTATION,
    antrea_missing_nodes,
    cni_mark,
    evictable,
    format_cni_mark,
    pod_network,
    selector_matches,
)
from kubectl_antrea_migrate.errors import UsageError
from kubectl_antrea_migrate.migrate.plan import Network, PlanOptions, Strategy, build_plan
from kubectl_antrea_migrate.migrate.runner import Ports, RunOptions, run
from kubectl_antrea_migrate.migrate.simulation import SimPod, SimulatedCluster, SimulatedStateStore, VirtualClock

ANTREA = (ipaddress.ip_network("10.10.4.0/24"),)
MARK = 1_800_000_000.0


def _pod(ip: str | None = None, *, annotations: dict[str, str] | None = None, sandbox: str | None = None,
         started: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running", "conditions": []}
    if ip:
        status["podIPs"] = [{"ip": ip}]
    if sandbox:
        status["conditions"].append({"type": "PodReadyToStartContainers", "status": "True",
                                     "lastTransitionTime": sandbox})
    if started:
        status["containerStatuses"] = [{"name": "c", "state": {"running": {"startedAt": started}}}]
    return {"metadata": {"name": "p", "namespace": "ns", "annotations": annotations or {}}, "status": status}


def _iso(epoch: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("pod", "mark", "network"), [
    (_pod(), None, Network.NONE),
    (_pod("10.10.4.7"), None, Network.ANTREA),
    (_pod("10.10.20.7"), None, Network.CALICO),
    # Multus's own report lists the Antrea interface.
    (_pod("10.10.20.7", annotations={MULTUS_STATUS_ANNOTATION: json.dumps(
        [{"name": "calico", "ips": ["10.10.20.7"]}, {"name": "antrea", "interface": "net1", "ips": ["10.10.4.9"]}])}),
     None, Network.MULTUS),
    # A sandbox made after Multus went in force on the node; the same second counts as after.
    (_pod("10.10.20.7", sandbox=_iso(MARK + 30)), (Network.MULTUS, MARK), Network.MULTUS),
    (_pod("10.10.20.7", sandbox=_iso(MARK)), (Network.MULTUS, MARK + 0.7), Network.MULTUS),
    (_pod("10.10.20.7", sandbox=_iso(MARK - 30)), (Network.MULTUS, MARK), Network.CALICO),
    (_pod("10.10.20.7", started=_iso(MARK + 30)), (Network.MULTUS, MARK), Network.MULTUS),
    # The kubelet kept the old transition time, but every container of the new sandbox started anew.
    (_pod("10.10.20.7", sandbox=_iso(MARK - 30), started=_iso(MARK + 2)), (Network.MULTUS, MARK), Network.MULTUS),
    (_pod("10.10.20.7", sandbox=_iso(MARK - 30), started=_iso(MARK - 20)), (Network.MULTUS, MARK), Network.CALICO),
    # After the switch to Antrea (or back to Calico) a Calico address means Calico.
    (_pod("10.10.20.7", sandbox=_iso(MARK + 30)), (Network.ANTREA, MARK), Network.CALICO),
    (_pod("10.10.20.7", sandbox=_iso(MARK + 30)), (Network.CALICO, MARK), Network.CALICO),
])
def test_pod_network_from_addresses_multus_status_and_the_node_mark(
    pod: dict[str, Any], mark: tuple[Network, float] | None, network: Network
) -> None:
    assert pod_network(pod, ANTREA, mark) is network


def test_cni_mark_round_trips_and_ignores_garbage() -> None:
    assert cni_mark({CNI_ANNOTATION: format_cni_mark(Network.MULTUS, MARK)}) == (Network.MULTUS, MARK)
    assert cni_mark({CNI_ANNOTATION: "sideways@now"}) is None
    assert cni_mark({}) is None


def _ds(generation: int = 2, observed: int = 2) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "status": {"observedGeneration": observed}}


def _agent(node: str, *, phase: str = "Running", ready: bool = True, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"antrea-agent-{node}"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_antrea_rollout_is_done_only_when_every_node_runs_a_ready_current_agent() -> None:
    nodes = ("n1", "n2", "n3")
    assert antrea_missing_nodes(_ds(), [_agent("n1"), _agent("n2"), _agent("n3")], nodes) == ()
    assert antrea_missing_nodes(_ds(), [_agent("n1"), _agent("n2", ready=False)], nodes) == (
        "n2: pod antrea-agent-n2 is Running, not Ready", "n3: no antrea-agent pod")
    # An old pod going away next to a new Ready one is fine.
    assert antrea_missing_nodes(_ds(), [_agent("n1", deleting=True), _agent("n1")], ("n1",)) == ()
    assert antrea_missing_nodes(_ds(3, 2), [_agent("n1")], ("n1",)) == (
        "n1: the DaemonSet controller has not seen generation 3 yet",)
    assert antrea_missing_nodes(None, [], ("n1",)) == ("n1: the antrea-agent DaemonSet does not exist",)


def test_drain_evicts_pod_network_pods_only() -> None:
    def pod(**meta: Any) -> dict[str, Any]:
        spec = meta.pop("spec", {})
        return {"metadata": {"name": "p", **meta}, "spec": spec, "status": {"phase": meta.pop("phase", "Running")}}

    assert evictable(pod())
    assert not evictable(pod(ownerReferences=[{"kind": "DaemonSet", "name": "x", "controller": True}]))
    assert evictable(pod(ownerReferences=[{"kind": "ReplicaSet", "name": "x", "controller": True}]))
    assert not evictable(pod(annotations={"kubernetes.io/config.mirror": "abc"}))
    assert not evictable(pod(spec={"hostNetwork": True}))
    done = pod()
    done["status"]["phase"] = "Succeeded"
    assert not evictable(done)


def test_label_selectors_follow_kubernetes_semantics() -> None:
    labels = {"app": "web", "tier": "front"}
    assert selector_matches({}, labels) and not selector_matches(None, labels)
    assert selector_matches({"matchLabels": {"app": "web"}}, labels)
    assert not selector_matches({"matchLabels": {"app": "db"}}, labels)
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]},
                                labels)
    assert selector_matches({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, labels)


def test_agent_endpoints_need_a_node_and_a_host_port() -> None:
    assert parse_endpoints(["w1=10.0.0.5:10361", "w2=[fd00::5]:10361"]) == {
        "w1": "10.0.0.5:10361", "w2": "[fd00::5]:10361"}
    for bad in (["10.0.0.5:10361"], ["w1=10.0.0.5"], ["w1=a:1", "w1=b:2"]):
        with pytest.raises(UsageError):
            parse_endpoints(bad)


def test_confirmation_without_a_terminal_refuses_unless_yes() -> None:
    assert confirm("Start?", yes=True, stdin=io.StringIO(""))
    with pytest.raises(UsageError, match="pass --yes") as refused:
        confirm("Start the migration of 3 nodes?", yes=False, stdin=io.StringIO(""))
    assert refused.value.exit_code == 2


def test_progress_display_shows_phases_batches_and_nodes_and_the_summary_timings() -> None:
    clock = VirtualClock()
    world = SimulatedCluster(clock)
    world.antrea_installed = True
    for name in ("w1", "w2", "w3"):
        world.add_node(name, [SimPod("default", f"web-{name}", Network.CALICO)])
    plan = build_plan(world.node_specs(), PlanOptions(strategy=Strategy.MULTUS, batch_size=2, antrea_installed=True))
    stream = io.StringIO()
    console = Console(file=stream, width=200)  # not a terminal: one line per event

    with RichProgress(plan, console) as progress:
        result = run(plan, Ports(world, world, clock), SimulatedStateStore(clock), progress,
                     RunOptions(holder="test", heartbeat=None))
    print_summary(result, console)

    text = stream.getvalue()
    assert "== phase bridge" in text and "== phase switch" in text
    assert "-- batch 1 (switch): w1, w2" in text and "-- batch 2 (switch): w3" in text
    assert "switch/w3/restart done" in text
    assert "Migration summary: succeeded" in text and "6 pods restarted" in text
    for node in ("w1", "w2", "w3"):
        assert node in text.split("Per-node timings", 1)[1]
    doc = result_document(result)
    assert doc["status"] == "succeeded" and set(doc["nodeSeconds"]) == {"w1", "w2", "w3"}


@pytest.mark.parametrize(("argv", "forwarded"), [
    (["plan", "--antrea-manifest", "a.yml"], "run --plan --antrea-manifest a.yml"),
    (["migrate", "--yes", "--batch-size", "5"], "run --yes --batch-size 5"),
    (["status", "-o", "json"], "status -o json"),
    (["rollback", "--yes"], "rollback --yes"),
])
def test_antrea_migrate_sh_maps_its_verbs_onto_the_plugin_commands(argv: list[str], forwarded: str) -> None:
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "antrea-migrate.sh"
    done = subprocess.run(["bash", str(script), *argv], env={"ANTREA_MIGRATE": "echo", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == forwarded
