"""``migrate/runner.py`` over in-memory ports (``migrate/simulation.py``) on a virtual clock.

This is the unit layer: the ports are the simulated cluster, because a whole cluster of nodes with
pods cannot run in a unit test. The same runner is exercised end to end against a real
kube-apiserver, kubelet and containerd through the real adapters in ``tests/e2e``.

Fault injection wraps every port (cluster, node agents, state store) and fails the k-th call, for
every k of an uninterrupted run, in three ways: the call raises before acting, acts and then raises
(a lost reply), or the process is killed (that call and every later one fail, so no ``finally``
reaches the cluster). A rerun must then end in the same state as an uninterrupted run, restart no
pod more often, and leave no node cordoned.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import pytest

from kubectl_antrea_migrate.errors import EXIT_FAILURE, EXIT_FINDINGS
from kubectl_antrea_migrate.migrate.plan import Network, Plan, PlanOptions, Strategy, build_plan
from kubectl_antrea_migrate.migrate.runner import (
    ClusterPort,
    EventKind,
    MigrationStoppedError,
    NodePort,
    Ports,
    PreflightBlockedError,
    ProgressEvent,
    RollbackRefusedError,
    RunOptions,
    RunResult,
    StateStore,
    rollback,
    run,
)
from kubectl_antrea_migrate.migrate.simulation import (
    Latency,
    SimPod,
    SimulatedCluster,
    SimulatedStateStore,
    VirtualClock,
)
from kubectl_antrea_migrate.migrate.state import (
    ConcurrentRunError,
    InvalidTransitionError,
    MigrationState,
    RunStatus,
    StepStatus,
    acquire_lock,
)

TTL = 300.0


class Recorder:
    """Progress sink keeping every event."""

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []

    def event(self, event: ProgressEvent) -> None:
        self.events.append(event)

    def kinds(self, kind: EventKind) -> list[ProgressEvent]:
        return [e for e in self.events if e.kind is kind]


class World:
    """A simulated cluster: 4 workers (w1 overlapped, so drained) and one control-plane node.

    Each node runs two pod-network pods (web, a DaemonSet pod on w1, in PDB default/web with
    maxUnavailable 1; api, evicted from w1 by the drain), a hostNetwork pod, and w3 a restartPolicy
    Never pod.
    """

    def __init__(self, strategy: Strategy = Strategy.MULTUS, **plan_options: Any) -> None:
        self.clock = VirtualClock()
        self.cluster = SimulatedCluster(self.clock)
        self.store = SimulatedStateStore(self.clock)
        for name, cp in (("w0", False), ("w1", False), ("w2", False), ("w3", False), ("cp", True)):
            pods = [
                SimPod("default", f"web-{name}", Network.CALICO, pdb="default/web", daemonset=name == "w1"),
                SimPod("default", f"api-{name}", Network.CALICO),
                SimPod("kube-system", f"proxy-{name}", Network.CALICO, host_network=True, daemonset=True),
            ]
            if name == "w3":
                pods.append(SimPod("jobs", "once", Network.CALICO, restart_policy="Never"))
            self.cluster.add_node(name, pods, control_plane=cp)
        self.cluster.pdb_max_unavailable["default/web"] = 1
        options = PlanOptions(strategy=strategy, antrea_manifest="antrea.yml", batch_size=2, **plan_options)
        self.plan = build_plan(self.cluster.node_specs(overlapped=("w1",)), options)

    def ports(self, wrap: Callable[[Any], Any] = lambda x: x) -> Ports:
        return Ports(cast(ClusterPort, wrap(self.cluster)), cast(NodePort, wrap(self.cluster)), self.clock)

    def run(self, holder: str = "first", wrap: Callable[[Any], Any] = lambda x: x,
            progress: Recorder | None = None, plan: Plan | None = None, **options: Any) -> RunResult:
        return run(plan or self.plan, self.ports(wrap), cast(StateStore, wrap(self.store)), progress or Recorder(),
                   RunOptions(holder=holder, poll_interval=0.25, lock_ttl=TTL, heartbeat=None, **options))

    def rollback(self, holder: str = "undo", remove_antrea_policies: bool = False) -> RunResult:
        return rollback(self.plan, self.ports(), self.store, Recorder(),
                        RunOptions(holder=holder, poll_interval=0.25, lock_ttl=TTL, heartbeat=None),
                        remove_antrea_policies)

    def state(self) -> MigrationState:
        return self.store.load()

    def restart_counts(self) -> dict[str, int]:
        return {p.key: len(p.restarts) for p in self.cluster.all_pods()}


class InjectedFault(Exception):
    """The fault the injector raises."""


class Faults:
    """Counts calls on every wrapped port and fails the ``at``-th one (1-based) as ``mode`` says."""

    def __init__(self, at: int | None = None, mode: str = "before") -> None:
        self.at = at
        self.mode = mode  # before | after | kill
        self.calls = 0
        self._lock = threading.Lock()

    def wrap(self, target: Any) -> Any:
        return _Wrapped(target, self)

    def call(self, name: str, method: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            self.calls += 1
            number = self.calls
        hit = self.at is not None and (number == self.at or (self.mode == "kill" and number > self.at))
        if hit and self.mode in ("before", "kill"):
            raise InjectedFault(f"injected fault at call {number} ({name})")
        result = method(*args)
        if hit:
            raise InjectedFault(f"injected fault after call {number} ({name})")
        return result


class _Wrapped:
    def __init__(self, target: Any, faults: Faults) -> None:
        self._target = target
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)
        return lambda *args: self._faults.call(name, method, *args)


def done_steps(state: MigrationState) -> set[str]:
    return {r.id for r in state.steps if r.status is StepStatus.DONE}


def assert_no_pod_restarted_on_its_target(world: World) -> None:
    for pod in world.cluster.all_pods():
        for _, before, after in pod.restarts:
            assert before is not after, f"{pod.key} restarted although already on {after.value}"


@pytest.fixture(scope="module")
def reference() -> dict[Strategy, tuple[dict[str, object], set[str], dict[str, int], int]]:
    out = {}
    for strategy in Strategy:
        world = World(strategy)
        faults = Faults()
        world.run(wrap=faults.wrap)
        out[strategy] = (world.cluster.snapshot(), done_steps(world.state()), world.restart_counts(), faults.calls)
    return out


# --- whole runs ------------------------------------------------------------------------------------

def test_multus_run_moves_every_pod_twice_and_leaves_host_network_alone() -> None:
    world = World()
    progress = Recorder()
    result = world.run(progress=progress)
    assert result.state.status is RunStatus.SUCCEEDED and result.state.lock is None
    counts = world.restart_counts()
    assert counts["kube-system/proxy-w0"] == 0
    assert counts["jobs/once"] == 0
    assert counts["default/web-w0"] == 2 and counts["default/api-cp"] == 2
    hops = [(before, after) for _, before, after in world.cluster.nodes["w0"].pods["default/web-w0"].restarts]
    assert hops == [(Network.CALICO, Network.MULTUS), (Network.MULTUS, Network.ANTREA)]
    assert world.cluster.pdb_violations == []
    assert not any(n.cordoned or n.calico_residue for n in world.cluster.nodes.values())
    assert not world.cluster.calico_installed and world.cluster.backups == 1 and world.cluster.calico_policies
    assert any("jobs/once" in w for w in result.warnings)
    assert {e.node for e in progress.kinds(EventKind.STEP_DONE) if e.node} == {"w0", "w1", "w2", "w3", "cp"}
    assert dict(result.node_seconds)["w0"] > 0


def test_two_restarts_of_a_pod_are_a_whole_pass_apart() -> None:
    world = World()
    world.run()
    for pod in world.cluster.all_pods():
        if len(pod.restarts) == 2:
            assert pod.restarts[1][0] - pod.restarts[0][0] > Latency().ready_after


def test_direct_run_restarts_each_pod_once() -> None:
    world = World(Strategy.DIRECT)
    result = world.run()
    assert result.state.status is RunStatus.SUCCEEDED
    assert {k: v for k, v in world.restart_counts().items() if v} == {
        k: 1 for k, v in world.restart_counts().items() if v}
    assert all(p.network is Network.ANTREA for p in world.cluster.all_pods()
               if not p.host_network and p.restart_policy != "Never")


def test_never_pods_are_restarted_when_forced() -> None:
    world = World(Strategy.DIRECT, force_restart_never=True)
    world.run()
    assert world.restart_counts()["jobs/once"] == 1


def test_nodes_of_a_batch_are_handled_in_parallel_threads() -> None:
    world = World(Strategy.DIRECT)
    barrier = threading.Barrier(2, timeout=60)
    seen: set[str] = set()
    inner = world.cluster.use_cni

    def use_cni(node: str, network: Network) -> None:
        if node in ("w0", "w1") and node not in seen:
            seen.add(node)
            barrier.wait()  # both nodes of batch 1 must be inside the call at once
        inner(node, network)

    world.cluster.use_cni = use_cni  # type: ignore[method-assign]
    world.run()
    assert seen == {"w0", "w1"}


def test_batches_run_faster_than_one_node_at_a_time() -> None:
    batched = World(Strategy.DIRECT)
    batched.run()
    single = World(Strategy.DIRECT)
    single.plan = build_plan(single.cluster.node_specs(overlapped=("w1",)),
                             PlanOptions(strategy=Strategy.DIRECT, antrea_manifest="a", batch_size=1))
    single.run()
    assert batched.clock.now() < single.clock.now()


def test_running_again_after_success_does_nothing() -> None:
    world = World()
    world.run()
    writes, before = world.store.writes, world.cluster.snapshot()
    progress = Recorder()
    again = world.run(holder="again", progress=progress)
    assert again.state.status is RunStatus.SUCCEEDED and again.state.lock is None
    assert world.store.writes == writes + 2  # lock taken and released, nothing else
    assert world.cluster.snapshot() == before
    assert "nothing to do" in progress.kinds(EventKind.RUN_DONE)[0].message


def test_interrupt_by_the_user_is_recorded_and_resumable() -> None:
    world = World(Strategy.DIRECT)
    inner = world.cluster.ensure_antrea

    def interrupted() -> None:
        raise KeyboardInterrupt

    world.cluster.ensure_antrea = interrupted  # type: ignore[method-assign]
    with pytest.raises(MigrationStoppedError, match="interrupted by the user") as info:
        world.run()
    assert info.value.cordoned == ("w1",) and world.cluster.nodes["w1"].cordoned
    assert world.state().status is RunStatus.FAILED and world.state().lock is None
    world.cluster.ensure_antrea = inner  # type: ignore[method-assign]
    assert world.run(holder="second").state.status is RunStatus.SUCCEEDED
    assert not world.cluster.nodes["w1"].cordoned


def test_heartbeat_renews_the_lock_while_a_port_call_blocks() -> None:
    """Real threads and a real Event: the heartbeat must write while ensure_antrea blocks."""
    world = World(Strategy.DIRECT)
    inner = world.cluster.ensure_antrea
    renewed = threading.Event()
    writes_before: list[int] = []

    def slow_rollout() -> None:
        writes_before.append(world.store.writes)
        while world.store.writes == writes_before[0]:
            renewed.wait(0.01)
        inner()

    world.cluster.ensure_antrea = slow_rollout  # type: ignore[method-assign]
    result = run(world.plan, world.ports(), world.store, Recorder(),
                 RunOptions(holder="hb", poll_interval=0.25, lock_ttl=TTL, heartbeat=0.05))
    assert result.state.status is RunStatus.SUCCEEDED


# --- refusals, blockers, budgets -------------------------------------------------------------------

def test_concurrent_run_is_refused_naming_the_holder() -> None:
    world = World()
    world.store.save(acquire_lock(MigrationState(), "alice@laptop pid=42", world.clock.now(), TTL))
    with pytest.raises(ConcurrentRunError) as info:
        world.run(holder="bob")
    assert "holder=alice@laptop pid=42" in str(info.value) and info.value.exit_code == EXIT_FAILURE
    assert not world.cluster.agents


def test_lost_compare_and_swap_race_is_a_concurrent_run() -> None:
    world = World()

    class RacingStore(SimulatedStateStore):
        """Another run saves its lock between our load and our save."""

        def save(self, state: MigrationState) -> MigrationState:
            if self.data is None:
                super().save(acquire_lock(MigrationState(), "racer", self.clock.now(), TTL))
            return super().save(state)

    world.store = RacingStore(world.clock)
    with pytest.raises(ConcurrentRunError, match="holder=racer"):
        world.run()


def test_preflight_blockers_stop_the_run_unless_forced() -> None:
    world = World()
    world.cluster.blockers = ("node w9 has no spec.podCIDR",)
    with pytest.raises(PreflightBlockedError, match=r"w9 has no spec\.podCIDR") as info:
        world.run()
    assert info.value.exit_code == EXIT_FINDINGS
    assert not world.cluster.agents and world.state().lock is None
    result = world.run(holder="second", force=True)
    assert any("--force overrides 1 pre-flight blockers" in w for w in result.warnings)


def test_refused_plan_changes_nothing() -> None:
    world = World()
    refused = build_plan(world.cluster.node_specs(overlapped=("w0", "w1", "w2")), PlanOptions(antrea_manifest="a"))
    with pytest.raises(Exception, match="IPPool") as info:
        world.run(plan=refused)
    assert cast(Any, info.value).exit_code == EXIT_FINDINGS
    assert world.store.data is None


def test_pod_disruption_budget_of_one_takes_pods_one_at_a_time() -> None:
    world = World(Strategy.DIRECT)
    for name in ("w2", "w3"):  # the same batch: the budget is shared across the nodes
        for i in range(3):
            pod = SimPod("default", f"db-{name}-{i}", Network.CALICO, pdb="default/db")
            world.cluster.nodes[name].pods[pod.key] = pod
    world.cluster.pdb_max_unavailable["default/db"] = 1
    progress = Recorder()
    world.run(progress=progress)
    assert world.cluster.pdb_violations == []
    db = sorted(p.restarts[0][0] for p in world.cluster.all_pods() if p.pdb == "default/db")
    assert len(db) == 6 and all(len(p.restarts) == 1 for p in world.cluster.all_pods() if p.pdb == "default/db")
    assert all(later - earlier >= Latency().ready_after for earlier, later in itertools.pairwise(db))
    assert progress.kinds(EventKind.WAITING)


def test_pod_disruption_budget_that_never_allows_stops_with_the_reason() -> None:
    world = World(Strategy.DIRECT)
    world.cluster.pdb_max_unavailable["default/web"] = 0
    with pytest.raises(MigrationStoppedError) as info:
        world.run(pdb_timeout=30)
    message = str(info.value)
    assert "PodDisruptionBudget default/web" in message and "waited 30s" in message
    assert "nodes still cordoned" in message and "w1" in message  # drained, not switched yet
    assert world.cluster.nodes["w1"].cordoned
    assert world.state().status is RunStatus.FAILED and world.state().lock is None
    world.cluster.pdb_max_unavailable["default/web"] = 1
    world.run(holder="second")
    assert not world.cluster.nodes["w1"].cordoned
    assert world.cluster.pdb_violations == []


def test_pods_that_never_get_ready_stop_the_batch_naming_them() -> None:
    world = World(Strategy.DIRECT)
    world.cluster.latency = replace(world.cluster.latency, ready_after=10_000.0)
    with pytest.raises(MigrationStoppedError) as info:
        world.run(ready_timeout=60)
    assert "not Ready on antrea after 60s" in str(info.value)
    assert "default/web-w0 (not Ready on antrea)" in str(info.value)
    # w1 waits on the budget web-w0 still holds, then stops too: both failures are reported.
    assert set(info.value.failed_steps) == {"switch/w0/ready", "switch/w1/restart"}
    assert "PodDisruptionBudget default/web" in str(info.value)


def test_failed_uncordon_is_retried_on_the_way_out() -> None:
    world = World(Strategy.DIRECT)
    inner = world.cluster.uncordon
    calls: list[str] = []

    def flaky_uncordon(node: str) -> None:
        calls.append(node)
        if len(calls) == 1:
            raise InjectedFault("apiserver hiccup")
        inner(node)

    world.cluster.uncordon = flaky_uncordon  # type: ignore[method-assign]
    with pytest.raises(MigrationStoppedError) as info:
        world.run()
    assert calls == ["w1", "w1"]
    assert not world.cluster.nodes["w1"].cordoned
    assert "still cordoned" not in str(info.value)


def test_calico_policies_deleted_only_with_the_flag_after_backup() -> None:
    world = World(delete_calico_policies=True)
    world.run()
    assert world.cluster.calico_policies == 0 and world.cluster.backups == 1


def test_failing_final_check_is_a_finding() -> None:
    world = World(Strategy.DIRECT)
    world.cluster.final_check = lambda: ("pod default/x still on calico",)  # type: ignore[method-assign]
    with pytest.raises(MigrationStoppedError, match="still on calico") as info:
        world.run()
    assert info.value.exit_code == EXIT_FINDINGS


def test_resume_with_another_plan_is_refused() -> None:
    world = World()
    world.cluster.pdb_max_unavailable["default/web"] = 0
    with pytest.raises(MigrationStoppedError):
        world.run(pdb_timeout=1)
    other = build_plan(world.cluster.node_specs(overlapped=("w1",)), PlanOptions(
        strategy=Strategy.DIRECT, antrea_manifest="a"))
    with pytest.raises(InvalidTransitionError, match="another plan"):
        world.run(holder="second", plan=other)


# --- rollback --------------------------------------------------------------------------------------

def test_rollback_before_calico_removal_restores_calico() -> None:
    world = World()
    world.cluster.pdb_max_unavailable["default/web"] = 0
    with pytest.raises(MigrationStoppedError):
        world.run(pdb_timeout=1)  # stops in the switch pass: some pods on Multus, w1 still cordoned
    world.cluster.pdb_max_unavailable["default/web"] = 1
    result = world.rollback(remove_antrea_policies=True)
    assert result.state.status is RunStatus.ROLLED_BACK
    for node in world.cluster.nodes.values():
        assert not node.cordoned and not node.multus_conf
        assert world.cluster.network_in_force(node.name) is Network.CALICO
    assert all(p.network is Network.CALICO for p in world.cluster.all_pods())
    assert not world.cluster.antrea_policies and world.cluster.calico_installed
    assert world.cluster.pdb_violations == []
    assert_no_pod_restarted_on_its_target(world)
    again = world.run(holder="later")  # a new run after a rollback starts over and completes
    assert again.state.status is RunStatus.SUCCEEDED


def test_rollback_after_calico_removal_is_refused_with_the_reason() -> None:
    world = World()
    world.cluster.final_check = lambda: ("something",)  # type: ignore[method-assign]
    with pytest.raises(MigrationStoppedError):
        world.run()
    before = world.cluster.snapshot()
    with pytest.raises(RollbackRefusedError, match="Calico removal started") as info:
        world.rollback()
    assert info.value.exit_code == EXIT_FINDINGS
    assert world.cluster.snapshot() == before
    assert world.state().status is RunStatus.FAILED and world.state().lock is None


def test_rollback_without_a_migration_is_refused() -> None:
    with pytest.raises(RollbackRefusedError, match="nothing to roll back"):
        World().rollback()


# --- fault injection -------------------------------------------------------------------------------

def rerun_until_done(world: World) -> tuple[RunResult, list[str]]:
    """Rerun as a new process would; a dead run's lock is waited out (virtual time)."""
    refused: list[str] = []
    for attempt in range(3):
        try:
            return world.run(holder=f"rerun-{attempt}"), refused
        except ConcurrentRunError as exc:
            refused.append(str(exc))
            world.clock.advance(TTL + 1)
    raise AssertionError("rerun never completed")


@pytest.mark.parametrize("mode", ["before", "after", "kill"])
@pytest.mark.parametrize("strategy", list(Strategy))
def test_killed_at_every_call_then_rerun_completes_identically(
    strategy: Strategy, mode: str,
    reference: dict[Strategy, tuple[dict[str, object], set[str], dict[str, int], int]],
) -> None:
    snapshot, steps, counts, calls = reference[strategy]
    assert calls > 100  # every phase boundary and every step inside the batches is a call
    interruptions = lock_waits = 0
    for k in range(1, calls + 1):
        world = World(strategy)
        faults = Faults(at=k, mode=mode)
        try:
            world.run(wrap=faults.wrap)
            interrupted = False
        except (InjectedFault, MigrationStoppedError, ConcurrentRunError):
            interrupted = True
        context = f"strategy={strategy.value} mode={mode} k={k}"
        if interrupted:
            _, refused = rerun_until_done(world)
            assert all("holder=first" in r for r in refused), (context, refused)
            interruptions += 1
            lock_waits += bool(refused)
        final = world.state()
        assert final.status is RunStatus.SUCCEEDED, context
        assert world.cluster.snapshot() == snapshot, context
        assert done_steps(world.state()) == steps, context
        assert world.restart_counts() == counts, context
        assert world.cluster.pdb_violations == [], context
        assert_no_pod_restarted_on_its_target(world)
        assert not any(n.cordoned for n in world.cluster.nodes.values()), context
        assert final.cordoned == (), context
        # A fault on the very last write (the lock release) leaves a lock that expires by itself.
        assert final.lock is None or (not interrupted and final.lock.holder == "first"), context
    assert interruptions >= calls - 2, "nearly every fault must interrupt the run"
    if mode == "kill":
        assert lock_waits > calls // 2, "a killed run leaves its lock; the rerun waits it out"


def test_rollback_with_a_refused_plan_is_refused_not_a_silent_no_op() -> None:
    world = World()
    world.cluster.pdb_max_unavailable["default/web"] = 0
    with pytest.raises(MigrationStoppedError):
        world.run(pdb_timeout=1)
    refused = build_plan(world.cluster.node_specs(overlapped=("w0", "w1", "w2")), PlanOptions(antrea_manifest="a"))
    with pytest.raises(RollbackRefusedError, match="IPPool"):
        rollback(refused, world.ports(), world.store, Recorder(), RunOptions(holder="x", heartbeat=None))
    assert world.state().status is RunStatus.FAILED


def stopped_in_bridge_pass() -> World:
    """A multus run stopped by a budget in the first batch: w0/w1 on Multus conf, api pods moved."""
    world = World()
    world.cluster.pdb_max_unavailable["default/web"] = 0
    with pytest.raises(MigrationStoppedError):
        world.run(pdb_timeout=1)
    world.cluster.pdb_max_unavailable["default/web"] = 1
    return world


def test_rollback_killed_at_every_call_then_rerun_restores_calico() -> None:
    reference = stopped_in_bridge_pass()
    counter = Faults()
    rollback(reference.plan, reference.ports(counter.wrap), cast(StateStore, counter.wrap(reference.store)),
             Recorder(), RunOptions(holder="undo", poll_interval=0.25, lock_ttl=TTL, heartbeat=None))
    expected = reference.cluster.snapshot()
    assert counter.calls > 30
    for k in range(1, counter.calls + 1):
        world = stopped_in_bridge_pass()
        faults = Faults(at=k, mode="kill")
        # The last call is the lock release: killed there, the rollback itself has finished.
        with contextlib.suppress(InjectedFault, MigrationStoppedError, ConcurrentRunError):
            rollback(world.plan, world.ports(faults.wrap), cast(StateStore, faults.wrap(world.store)), Recorder(),
                     RunOptions(holder="undo", poll_interval=0.25, lock_ttl=TTL, heartbeat=None))
        world.clock.advance(TTL + 1)
        assert world.rollback(holder="undo-again").state.status is RunStatus.ROLLED_BACK, k
        assert world.cluster.snapshot() == expected, k
        assert_no_pod_restarted_on_its_target(world)
