"""Execute a ``Plan`` step by step through the ports it is handed; resume after any crash; roll back.

Design
------
The runner owns no I/O. It is handed ports (``ClusterPort`` for the kube-apiserver, ``NodePort`` for
the node agents, ``StateStore`` for the state ConfigMap, ``Clock``, ``Progress``) defined here, where
they are used; the CLI builds the real adapters, the unit tests and the benchmark build in-memory
ones (``simulation.py``). The real end-to-end runs go through the real adapters against a real
kube-apiserver, kubelet and containerd (``tests/e2e``).

Invariants:
- Every step is recorded ``started`` in the state before its port call and ``done`` after it, and is
  skipped once done. A step started but not done is re-run on resume: every port method is
  idempotent (its docstring says how), so re-running is always safe.
- A pod is never restarted twice for the same move: a restart step asks the cluster which network
  each pod is on now and restarts only those not yet on the target (a pod being recreated, with no
  sandbox yet, gets the conf in force, so it is left alone too). The pods restarted are recorded
  per node and step before the kill; the following wait-Ready step waits for exactly those.
- Nodes of one batch run in parallel (a thread pool: the port calls are blocking I/O); the next batch
  starts only when every pod restarted in this one is Ready on its new network.
- PodDisruptionBudgets: a restart takes only as many pods of one budget as the budget allows, minus
  the pods this run already has in flight; when none may go, it waits (bounded) and then stops
  naming the budget.
- Nodes this run drained are uncordoned by their own step after their switch; when a run stops, the
  ones already switched are uncordoned on the way out, and the message names each node that stays
  cordoned and why.
- Calico policies are deleted only by a step the plan contains when the user asked for it, and only
  after the backup step is done.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from kubectl_antrea_migrate.errors import EXIT_FAILURE, EXIT_FINDINGS, MigrateError
from kubectl_antrea_migrate.migrate.plan import (
    Network,
    NodeSteps,
    Phase,
    Plan,
    Step,
    StepKind,
    build_rollback_plan,
)
from kubectl_antrea_migrate.migrate.state import (
    ConcurrentRunError,
    InvalidTransitionError,
    MigrationState,
    RunStatus,
    StateConflictError,
    acquire_lock,
    complete_run,
    fail_run,
    finish_step,
    mark_cordoned,
    mark_uncordoned,
    record_restarts,
    release_lock,
    renew_lock,
    start_rollback,
    start_run,
    start_step,
)

__all__ = [
    "Budget",
    "Clock",
    "ClusterPort",
    "EventKind",
    "FinalCheckError",
    "LivePod",
    "MigrationStoppedError",
    "NodePort",
    "NullProgress",
    "PlanRefusedError",
    "Ports",
    "PreflightBlockedError",
    "Progress",
    "ProgressEvent",
    "RollbackRefusedError",
    "RunOptions",
    "RunResult",
    "StateStore",
    "SystemClock",
    "rollback",
    "run",
]


# --- ports -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LivePod:
    """A pod as it is now on a node: the cluster edge derives ``network`` from the pod's IPs."""

    namespace: str
    name: str
    network: Network
    ready: bool
    host_network: bool = False
    restart_policy: str = "Always"
    pdb: str | None = None  # namespace/name of the PodDisruptionBudget selecting it

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Budget:
    """A PodDisruptionBudget now: ``status.disruptionsAllowed`` and the pods already counted unhealthy.

    ``unhealthy`` lets the runner tell its own fresh kills (not yet seen by the disruption
    controller, so still inside ``allowed``) from those already subtracted.
    """

    allowed: int
    unhealthy: frozenset[str] = frozenset()  # pod keys namespace/name


class ClusterPort(Protocol):
    """What the runner needs from the kube-apiserver. Every mutating method is idempotent."""

    def preflight_blockers(self) -> tuple[str, ...]:
        """Read only: the pre-flight blockers the plan does not resolve itself, one message each.

        A few nodes overlapped by Calico blocks are resolved by the plan (drain), so they are not
        listed; nodes without a podCIDR or an overlap of most nodes are.
        """
        ...

    def ensure_agents(self) -> None:
        """Install the node agents and wait until each node's agent answers; no-op when they do."""
        ...

    def ensure_antrea(self) -> None:
        """Server-side apply the Antrea manifest, wait for antrea-agent Ready on every node; re-apply is a no-op."""
        ...

    def backup_calico_policies(self) -> str:
        """Save every Calico policy object to a new timestamped backup file; return its path.

        Calling it again writes another backup and changes nothing in the cluster.
        """
        ...

    def ensure_antrea_policies(self) -> None:
        """Server-side apply the converted Antrea policies (Tiers first); a second apply changes nothing."""
        ...

    def remove_antrea_policies(self) -> None:
        """Delete the Antrea policies this tool applied (by field manager); already absent is success."""
        ...

    def drain(self, node: str) -> None:
        """Cordon ``node`` and evict its pods except DaemonSet pods, respecting PodDisruptionBudgets.

        Returns when the evictions are done; an already cordoned and drained node is a no-op.
        """
        ...

    def uncordon(self, node: str) -> None:
        """Mark ``node`` schedulable; a schedulable node is a no-op."""
        ...

    def pods(self, node: str) -> tuple[LivePod, ...]:
        """Read only: the pods bound to ``node`` now, with their network and readiness."""
        ...

    def disruption_budgets(self, pdbs: frozenset[str]) -> Mapping[str, Budget]:
        """Read only: each named PodDisruptionBudget as it stands now (a missing one allows nothing)."""
        ...

    def remove_calico(self) -> None:
        """Delete the Calico workloads (calico-node, typha, kube-controllers); absent ones are success."""
        ...

    def delete_calico_policies(self) -> None:
        """Delete every Calico policy object (the runner guarantees a backup exists); absent is success."""
        ...

    def final_check(self) -> tuple[str, ...]:
        """Read only: what is still wrong after the migration (Calico left, pods not on Antrea), one per item."""
        ...


class NodePort(Protocol):
    """What the runner needs from the node agents (one per node). Every method is idempotent."""

    def use_cni(self, node: str, network: Network) -> None:
        """Make ``network``'s CNI conf the one in force on ``node`` for the next pod sandboxes.

        MULTUS writes ``00-multus.conf`` (Calico first, then Antrea); ANTREA removes it so Antrea's
        conf wins; CALICO puts Calico's conf back in force (rollback). Atomic file replacement; a
        node already in that state is a no-op.
        """
        ...

    def restart_pods(self, node: str, pods: tuple[str, ...]) -> tuple[str, ...]:
        """Stop and remove the pod-network sandboxes of ``pods`` (``namespace/name``) through the CRI.

        The kubelet recreates them in place on the conf in force. hostNetwork sandboxes are never
        touched. A pod without a sandbox is skipped. Returns the pods whose sandbox was removed.
        """
        ...

    def cleanup_calico(self, node: str) -> None:
        """Remove Calico links, routes, chains, ipsets and conf files from ``node``; absent is success."""
        ...


class StateStore(Protocol):
    """The state ConfigMap, written with compare-and-swap on ``resourceVersion``."""

    def load(self) -> MigrationState:
        """The stored state with its ``resource_version``; an empty state (version "") when none exists."""
        ...

    def save(self, state: MigrationState) -> MigrationState:
        """Write ``state`` if the stored version still equals ``state.resource_version`` ("" = create).

        Returns the state with its new ``resource_version``.

        Raises:
            StateConflictError: someone else wrote since (nothing is written).
        """
        ...


class Clock(Protocol):
    """Time, so tests and the benchmark can run on a virtual clock."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        ...

    def timeline(self, start: float) -> contextlib.AbstractContextManager[None]:
        """Context for one parallel task that began at ``start``; a real clock needs nothing here.

        A virtual clock gives each task its own time line and, on exit, moves the shared time to the
        latest task's end, as real parallel work would.
        """
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        import time

        return time.time()

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)

    def timeline(self, start: float) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class EventKind(Enum):
    """What a progress event reports."""

    RUN_STARTED = "run-started"
    PHASE_STARTED = "phase-started"
    BATCH_STARTED = "batch-started"
    BATCH_DONE = "batch-done"
    STEP_STARTED = "step-started"
    STEP_DONE = "step-done"
    STEP_SKIPPED = "step-skipped"  # done by an earlier run
    WAITING = "waiting"
    WARNING = "warning"
    RUN_DONE = "run-done"
    RUN_FAILED = "run-failed"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One progress event; the CLI renders these with rich."""

    kind: EventKind
    message: str = ""
    phase: str | None = None
    batch: int | None = None
    nodes: tuple[str, ...] = ()
    node: str | None = None
    step_id: str | None = None
    seconds: float | None = None


class Progress(Protocol):
    """Receives progress events, one call at a time (the runner serializes them)."""

    def event(self, event: ProgressEvent) -> None:
        """Render or record ``event``; must not raise."""
        ...


class NullProgress:
    """Discards events."""

    def event(self, event: ProgressEvent) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Ports:
    """The ports a run needs besides the state store and the progress sink."""

    cluster: ClusterPort
    nodes: NodePort
    clock: Clock


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How the runner behaves (not what it does: that is the plan).

    Attributes:
        holder: the lock holder name, unique per invocation (e.g. ``user@host pid=123``).
        force: run despite pre-flight blockers (each overridden blocker is reported).
        lock_ttl: seconds a lock stays valid without renewal; every state write renews it.
        poll_interval: seconds between readiness and PodDisruptionBudget polls.
        ready_timeout: seconds restarted pods may take to be Ready on their new network.
        pdb_timeout: seconds a restart waits for a PodDisruptionBudget to allow it.
        max_workers: nodes handled at once inside a batch (default: the whole batch).
        heartbeat: real seconds between lock renewals while a long port call blocks (an Antrea
            rollout can outlast ``lock_ttl``); ``None`` turns the heartbeat off (virtual clocks).
    """

    holder: str
    force: bool = False
    lock_ttl: float = 300.0
    poll_interval: float = 1.0
    ready_timeout: float = 600.0
    pdb_timeout: float = 300.0
    max_workers: int | None = None
    heartbeat: float | None = 60.0


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run or rollback did, for the final summary."""

    state: MigrationState
    seconds: float
    node_seconds: tuple[tuple[str, float], ...]
    pods_restarted: int
    warnings: tuple[str, ...]


class PlanRefusedError(MigrateError):
    """The plan carries refusals (e.g. most nodes overlapped): nothing was changed."""

    exit_code = EXIT_FINDINGS


class PreflightBlockedError(MigrateError):
    """Pre-flight blockers and no ``--force``."""

    exit_code = EXIT_FINDINGS


class FinalCheckError(MigrateError):
    """The migration ran, but the final check still finds something wrong."""

    exit_code = EXIT_FINDINGS


class RollbackRefusedError(MigrateError):
    """Rollback is no longer (or not yet) possible; the message says why."""

    exit_code = EXIT_FINDINGS


class MigrationStoppedError(MigrateError):
    """The run stopped at a step; resumable with ``run``. Names the nodes that stay cordoned."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, failed_steps: tuple[str, ...] = (), cordoned: tuple[str, ...] = (),
                 exit_code: int = EXIT_FAILURE) -> None:
        self.failed_steps = failed_steps
        self.cordoned = cordoned
        self.exit_code = exit_code
        super().__init__(message)


# --- entry points ----------------------------------------------------------------------------------

def run(plan: Plan, ports: Ports, state_store: StateStore, progress: Progress, options: RunOptions) -> RunResult:
    """Run (or resume) the migration ``plan``.

    Raises:
        PlanRefusedError: the plan has refusals.
        ConcurrentRunError: another run holds the lock.
        PreflightBlockedError: blockers and no ``force``.
        MigrationStoppedError: a step failed; the state says where, ``run`` again resumes.
    """
    if not plan.runnable:
        raise PlanRefusedError("the migration plan is refused:\n" + "\n".join(f"  - {r}" for r in plan.refusals))
    execution = _Execution(plan, ports, state_store, progress, options)

    def begin() -> bool:
        current = execution.state
        if current.status is RunStatus.SUCCEEDED and current.plan_id == plan.plan_id:
            progress.event(ProgressEvent(EventKind.RUN_DONE, "the migration already succeeded: nothing to do"))
            return False
        execution.update(lambda s, now: start_run(s, plan.plan_id, plan.strategy.value, now))
        return True

    return execution.guarded(begin, plan.phases, plan.warnings)


def rollback(plan: Plan, ports: Ports, state_store: StateStore, progress: Progress, options: RunOptions,
             remove_antrea_policies: bool = False) -> RunResult:
    """Move every pod back onto Calico (possible until Calico removal starts).

    Calico's conf is put back in force on each node, pods not on Calico are restarted and waited
    for, drained nodes are uncordoned; with ``remove_antrea_policies`` the Antrea policies this tool
    applied are deleted too. Antrea itself stays installed.

    Raises:
        RollbackRefusedError: Calico removal has started, no migration ran, or ``plan`` is refused.
        ConcurrentRunError: another run holds the lock.
        MigrationStoppedError: a step failed; ``rollback`` again resumes.
    """
    if not plan.runnable:
        raise RollbackRefusedError("cannot plan the rollback: the node plan is refused:\n"
                                   + "\n".join(f"  - {r}" for r in plan.refusals))
    back = build_rollback_plan(plan, remove_antrea_policies)
    execution = _Execution(back, ports, state_store, progress, options)

    def begin() -> bool:
        try:
            execution.update(lambda s, now: start_rollback(s, now))
        except InvalidTransitionError as exc:
            raise RollbackRefusedError(str(exc)) from None
        return True

    return execution.guarded(begin, back.phases, ())


# --- execution -------------------------------------------------------------------------------------

class _StepFailed(Exception):
    def __init__(self, failures: Sequence[tuple[str, BaseException]]) -> None:
        self.failures = tuple(failures)
        super().__init__("; ".join(f"step {step} failed: {exc}" for step, exc in failures))


class _Execution:
    """One invocation: the lock, the state, and the steps of one plan."""

    def __init__(self, plan: Plan, ports: Ports, store: StateStore, progress: Progress,
                 options: RunOptions) -> None:
        self._plan = plan
        self._cluster = ports.cluster
        self._nodes = ports.nodes
        self._clock = ports.clock
        self._store = store
        self._progress = progress
        self._options = options
        self._mutex = threading.RLock()
        self._state = MigrationState()
        self._budget = _DisruptionBudget(ports.cluster)
        self._warnings: list[str] = []

    # -- lifecycle

    def guarded(self, begin: Callable[[], bool], phases: Sequence[Phase], warnings: Sequence[str]) -> RunResult:
        """Take the lock, ``begin`` (False: nothing to do; a refusal there changes nothing), run ``phases``."""
        started = self._clock.now()
        self._acquire()
        heartbeat = _Heartbeat(self, self._options.heartbeat)
        try:
            if begin():
                heartbeat.start()
                self._execute(phases, warnings, started)
        finally:
            heartbeat.stop()
            self._release()
        return self._result(started)

    def _execute(self, phases: Sequence[Phase], warnings: Sequence[str], started: float) -> None:
        try:
            self._emit(EventKind.RUN_STARTED, f"plan {self._plan.plan_id}, strategy {self._plan.strategy.value}")
            for warning in warnings:
                self._warn(warning)
            self._run_phases(phases)
            self.update(lambda s, now: complete_run(s, now))
        except ConcurrentRunError:
            raise
        except (Exception, KeyboardInterrupt) as exc:
            error = self._stopped(exc)
            if isinstance(error, MigrationStoppedError):
                raise error from exc
            raise error from None
        self._emit(EventKind.RUN_DONE, seconds=self._clock.now() - started)

    def _acquire(self) -> None:
        now = self._clock.now()
        stored = self._store.load()
        locked = acquire_lock(stored, self._options.holder, now, self._options.lock_ttl)
        try:
            self._state = self._store.save(locked)
        except StateConflictError:
            current = self._store.load()
            if current.lock is not None and current.lock.holder != self._options.holder:
                raise ConcurrentRunError(current.lock.holder, current.lock.expires, now) from None
            raise

    def _release(self) -> None:
        lock = self._state.lock
        if lock is None or lock.holder != self._options.holder:
            return
        try:
            self.update(lambda s, now: release_lock(s, self._options.holder), renew=False)
        except Exception as exc:  # the run's own outcome matters more than the lock
            self._warn(f"could not release the migration lock ({exc}); it expires by itself")

    def update(self, change: Callable[[MigrationState, float], MigrationState], renew: bool = True) -> MigrationState:
        """Apply a pure transition and persist it (renewing the lock); serialized across node threads.

        A save whose reply was lost may still have landed: on a conflict, a stored state equal to ours
        is adopted, and a stored state still locked by us is built upon once more.
        """
        with self._mutex:
            now = self._clock.now()
            for attempt in range(2):
                changed = change(self._state, now)
                if renew:
                    changed = renew_lock(changed, self._options.holder, now, self._options.lock_ttl)
                try:
                    self._state = self._store.save(changed)
                    return self._state
                except StateConflictError:
                    current = self._store.load()
                    if current == changed:
                        self._state = current
                        return current
                    if current.lock is not None and current.lock.holder != self._options.holder:
                        raise ConcurrentRunError(current.lock.holder, current.lock.expires, now) from None
                    if attempt:
                        raise
                    self._state = current
            raise AssertionError("unreachable")

    # -- phases, batches, steps

    def _run_phases(self, phases: Sequence[Phase]) -> None:
        widest = max((len(b.nodes) for p in phases for b in p.batches), default=1)
        workers = min(widest, self._options.max_workers or widest)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="migrate-node") as pool:
            for phase in phases:
                self._run_phase(pool, phase)

    def _run_phase(self, pool: ThreadPoolExecutor, phase: Phase) -> None:
        self._emit(EventKind.PHASE_STARTED, phase=phase.name.value)
        for step in phase.steps:
            self._run_step(step)
        for batch in phase.batches:
            if all(self._state.is_done(s.id) for n in batch.nodes for s in n.steps):
                continue
            self._emit(EventKind.BATCH_STARTED, phase=phase.name.value, batch=batch.index,
                       nodes=batch.node_names)
            self._parallel(pool, batch.nodes)
            self._emit(EventKind.BATCH_DONE, phase=phase.name.value, batch=batch.index,
                       nodes=batch.node_names)

    def _parallel(self, pool: ThreadPoolExecutor, nodes: Sequence[NodeSteps]) -> None:
        start = self._clock.now()

        def node_task(node: NodeSteps) -> None:
            with self._clock.timeline(start):
                for step in node.steps:
                    self._run_step(step)

        failures: list[tuple[str, BaseException]] = []
        # Every node of the batch finishes its current work before the batch reports failure:
        # cutting a node off between a kill and its Ready wait gains nothing.
        futures = [pool.submit(node_task, node) for node in nodes]
        for future in futures:
            exc = future.exception()
            if isinstance(exc, ConcurrentRunError):
                failures.insert(0, ("", exc))
            elif isinstance(exc, _StepFailed):
                failures.extend(exc.failures)
            elif exc is not None:
                failures.append(("?", exc))
        if failures and isinstance(failures[0][1], ConcurrentRunError):
            raise failures[0][1]
        if failures:
            raise _StepFailed(failures)

    def _run_step(self, step: Step) -> None:
        if self._state.is_done(step.id):
            self._emit(EventKind.STEP_SKIPPED, step=step, message="done earlier")
            return
        self.update(lambda s, now: start_step(s, step.id, step.kind.value, step.phase.value, step.node, now))
        self._emit(EventKind.STEP_STARTED, step=step, message=step.description)
        began = self._clock.now()
        try:
            detail = self._action(step)
        except ConcurrentRunError:
            raise
        except Exception as exc:
            raise _StepFailed([(step.id, exc)]) from exc
        self.update(lambda s, now: finish_step(s, step.id, now, detail))
        self._emit(EventKind.STEP_DONE, step=step, message=detail, seconds=self._clock.now() - began)

    def _action(self, step: Step) -> str:
        node = step.node or ""
        match step.kind:
            case StepKind.PREFLIGHT:
                return self._preflight()
            case StepKind.INSTALL_AGENTS:
                self._cluster.ensure_agents()
            case StepKind.DRAIN:
                self.update(lambda s, now: mark_cordoned(s, node))
                self._cluster.drain(node)
            case StepKind.INSTALL_ANTREA:
                self._cluster.ensure_antrea()
            case StepKind.BACKUP_CALICO_POLICIES:
                return f"backup written to {self._cluster.backup_calico_policies()}"
            case StepKind.APPLY_ANTREA_POLICIES:
                self._cluster.ensure_antrea_policies()
            case StepKind.SET_CNI:
                self._nodes.use_cni(node, _target(step))
            case StepKind.RESTART_PODS:
                return self._restart(step)
            case StepKind.WAIT_READY:
                pods = self._state.restarted(node, _sibling(step, StepKind.RESTART_PODS))
                self._wait_ready(node, pods, _target(step))
                return f"{len(pods)} pods Ready on {_target(step).value}"
            case StepKind.UNCORDON:
                if node not in self._state.cordoned:
                    return "not cordoned by this run"
                self._uncordon(node)
            case StepKind.REMOVE_CALICO:
                self._cluster.remove_calico()
            case StepKind.DELETE_CALICO_POLICIES:
                if not any(r.kind == StepKind.BACKUP_CALICO_POLICIES.value and self._state.is_done(r.id)
                           for r in self._state.steps):
                    raise MigrateError("refusing to delete Calico policies: no backup was made by this run")
                self._cluster.delete_calico_policies()
            case StepKind.CLEANUP_NODE:
                self._nodes.cleanup_calico(node)
            case StepKind.FINAL_CHECK:
                problems = self._cluster.final_check()
                if problems:
                    raise FinalCheckError("final check found:\n" + "\n".join(f"  - {p}" for p in problems))
            case StepKind.REMOVE_ANTREA_POLICIES:
                self._cluster.remove_antrea_policies()
        return ""

    def _preflight(self) -> str:
        blockers = self._cluster.preflight_blockers()
        if not blockers:
            return "no blockers"
        listed = "\n".join(f"  - {b}" for b in blockers)
        if not self._options.force:
            raise PreflightBlockedError(f"pre-flight check reports blockers (fix them, or --force):\n{listed}")
        self._warn(f"--force overrides {len(blockers)} pre-flight blockers:\n{listed}")
        return f"{len(blockers)} blockers overridden by --force"

    # -- pods

    def _restart(self, step: Step) -> str:
        node, target = step.node or "", _target(step)
        waiting_since: float | None = None
        restarted = 0
        # A killed pod still shows its old address until the kubelet reports the new sandbox: without
        # this set the next round would kill it again, and again, until its status catches up.
        killed: set[str] = set()
        while True:
            pods = self._cluster.pods(node)
            candidates = [p for p in pods if p.key not in killed and self._needs_restart(p, target)]
            if not candidates:
                return f"{restarted} pods restarted onto {target.value}"
            allowed, blocked = self._budget.take(candidates)
            if not allowed:
                now = self._clock.now()
                waiting_since = now if waiting_since is None else waiting_since
                if now - waiting_since >= self._options.pdb_timeout:
                    raise MigrateError(
                        f"node {node}: restarting would break PodDisruptionBudget {blocked}; waited "
                        f"{now - waiting_since:.0f}s for it to allow a disruption")
                self._emit(EventKind.WAITING, node=node, step=step,
                           message=f"PodDisruptionBudget {blocked} allows no disruption now")
                self._clock.sleep(self._options.poll_interval)
                self._renew_if_due()
                continue
            waiting_since = None
            keys = tuple(p.key for p in allowed)
            # Recorded before the kill: the wait-Ready step waits for these even after a crash here.
            self._record_restarts(node, step.id, keys)
            try:
                self._nodes.restart_pods(node, keys)
            except BaseException:
                self._budget.release(keys)
                raise
            restarted += len(keys)
            killed.update(keys)
            if len(allowed) < len(candidates):
                # The rest waits for this round: a budget frees up only when these are Ready again.
                self._wait_ready(node, keys, target)

    def _record_restarts(self, node: str, step_id: str, keys: tuple[str, ...]) -> None:
        self.update(lambda s, now: record_restarts(s, node, step_id, keys))

    def _needs_restart(self, pod: LivePod, target: Network) -> bool:
        if pod.host_network or pod.network in (target, Network.NONE):
            return False
        return pod.restart_policy != "Never" or self._plan.force_restart_never

    def _wait_ready(self, node: str, keys: Sequence[str], target: Network) -> None:
        deadline = self._clock.now() + self._options.ready_timeout
        wanted = set(keys)
        while True:
            pods = {p.key: p for p in self._cluster.pods(node) if p.key in wanted}
            # A pod that vanished (deleted by its controller) no longer needs waiting for.
            pending = {k: p for k, p in pods.items() if not (p.ready and p.network is target)}
            self._budget.release(tuple(k for k in wanted if k not in pending))
            if not pending:
                return
            if self._clock.now() >= deadline:
                described = ", ".join(f"{k} ({'Ready' if p.ready else 'not Ready'} on {p.network.value})"
                                      for k, p in sorted(pending.items()))
                raise MigrateError(f"node {node}: pods not Ready on {target.value} after "
                                   f"{self._options.ready_timeout:.0f}s: {described}")
            self._clock.sleep(self._options.poll_interval)
            self._renew_if_due()

    def _renew_if_due(self) -> None:
        lock = self._state.lock
        if lock is not None and lock.expires - self._clock.now() < self._options.lock_ttl / 2:
            self.update(lambda s, now: s)

    # -- failure and summary

    @property
    def state(self) -> MigrationState:
        return self._state

    def _stopped(self, exc: BaseException) -> MigrateError:
        cordoned, notes = self._settle_cordoned()
        failures = exc.failures if isinstance(exc, _StepFailed) else (("", exc),)
        causes = [cause for _, cause in failures]
        message = "; ".join(f"step {step} failed: {_describe(cause)}" if step else _describe(cause)
                            for step, cause in failures)
        try:
            self.update(lambda s, now: fail_run(s, message, now))
        except Exception as record_exc:  # the original failure matters more
            notes.append(f"the failure could not be recorded in the state ConfigMap: {record_exc}")
        if cordoned:
            notes.append("nodes still cordoned (drained for the Pod CIDR overlap and not switched yet; `run` "
                         f"resumes and uncordons them after their switch, `rollback` uncordons them): "
                         f"{', '.join(cordoned)}")
        full = "\n".join([message, *notes])
        self._emit(EventKind.RUN_FAILED, full)
        if len(causes) == 1 and isinstance(causes[0], PreflightBlockedError | RollbackRefusedError):
            return causes[0]
        codes = {c.exit_code if isinstance(c, MigrateError) else EXIT_FAILURE for c in causes}
        code = EXIT_FINDINGS if codes == {EXIT_FINDINGS} else EXIT_FAILURE
        return MigrationStoppedError(full, tuple(s for s, _ in failures if s), tuple(cordoned), code)

    def _settle_cordoned(self) -> tuple[list[str], list[str]]:
        """Uncordon the drained nodes whose switch is complete; return the ones that stay, and notes."""
        stays: list[str] = []
        notes: list[str] = []
        for node in self._state.cordoned:
            if not self._switched(node):
                stays.append(node)
                continue
            try:
                self._uncordon(node)
            except Exception as exc:  # keep going, name the node
                stays.append(node)
                notes.append(f"could not uncordon {node} ({exc}): run `kubectl uncordon {node}`")
        return stays, notes

    def _uncordon(self, node: str) -> None:
        self._cluster.uncordon(node)
        self.update(lambda s, now: mark_uncordoned(s, node))

    def _switched(self, node: str) -> bool:
        for step in self._plan.steps():
            if step.node == node and step.kind is StepKind.UNCORDON:
                return all(self._state.is_done(s.id) for s in self._plan.steps()
                           if s.node == node and s.phase is step.phase and s.kind is not StepKind.UNCORDON)
        return False

    def _result(self, started: float) -> RunResult:
        state = self._state
        return RunResult(
            state=state,
            seconds=self._clock.now() - started,
            node_seconds=tuple(sorted(state.node_seconds().items())),
            pods_restarted=sum(len(pods) for _, _, pods in state.restarts),
            warnings=tuple(self._warnings),
        )

    # -- progress

    def _warn(self, message: str) -> None:
        self._warnings.append(message)
        self._emit(EventKind.WARNING, message)

    def _emit(self, kind: EventKind, message: str = "", *, phase: str | None = None, batch: int | None = None,
              nodes: tuple[str, ...] = (), node: str | None = None, step: Step | None = None,
              seconds: float | None = None) -> None:
        if step is not None:
            phase, node = step.phase.value, step.node
        event = ProgressEvent(kind, message, phase, batch, nodes, node, step.id if step else None, seconds)
        with self._mutex:
            self._progress.event(event)


class _Heartbeat:
    """Renews the lock every ``interval`` real seconds from a daemon thread while the run goes on."""

    def __init__(self, execution: _Execution, interval: float | None) -> None:
        self._execution = execution
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._interval is None:
            return
        self._thread = threading.Thread(target=self._beat, name="migrate-lock-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        assert self._interval is not None
        while not self._stop.wait(self._interval):
            try:
                self._execution.update(lambda s, now: s)
            except Exception:  # the run's next state write meets the same problem and reports it
                return


class _DisruptionBudget:
    """Pods of one PodDisruptionBudget this run may take down now, across the nodes of a batch.

    The apiserver's ``disruptionsAllowed`` lags behind our kills (the disruption controller has to see
    the pods go unready), so the pods this run has in flight and the budget does not yet count as
    unhealthy are subtracted too: never permissive, and not twice conservative.
    """

    def __init__(self, cluster: ClusterPort) -> None:
        self._cluster = cluster
        self._lock = threading.Lock()
        self._in_flight: dict[str, str] = {}  # pod key -> pdb

    def take(self, candidates: Sequence[LivePod]) -> tuple[list[LivePod], str]:
        """Reserve the candidates that may go now; the second value names a blocking budget, if any."""
        pdbs = frozenset(p.pdb for p in candidates if p.pdb)
        with self._lock:
            budgets = self._cluster.disruption_budgets(pdbs) if pdbs else {}
            allowed = {name: budget.allowed for name, budget in budgets.items()}
            for key, pdb in self._in_flight.items():
                if pdb in budgets and key not in budgets[pdb].unhealthy:
                    allowed[pdb] -= 1
            taken: list[LivePod] = []
            blocked = ""
            for pod in candidates:
                if pod.pdb is None:
                    taken.append(pod)
                elif allowed.get(pod.pdb, 0) > 0:
                    allowed[pod.pdb] -= 1
                    taken.append(pod)
                    self._in_flight[pod.key] = pod.pdb
                else:
                    blocked = blocked or pod.pdb
            return taken, blocked

    def release(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._in_flight.pop(key, None)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted by the user; `run` resumes"
    return str(exc) or type(exc).__name__


def _target(step: Step) -> Network:
    if step.target is None:
        raise ValueError(f"step {step.id} has no target network")
    return step.target


def _sibling(step: Step, kind: StepKind) -> str:
    return f"{step.id.rsplit('/', 1)[0]}/{kind.value}"

