"""The migration state kept in the cluster, and the pure transitions over it.

Design
------
One ConfigMap (``antrea-migrate-state`` in the agent namespace) holds everything a resumed run,
``status`` and ``rollback`` need: the run status and current phase, every step the run started or
finished (with timings), the pods restarted per node and step, the nodes we cordoned and have not
uncordoned yet, and the lock. ``MigrationState`` is a frozen dataclass; every change is a pure
function returning a new state or raising ``InvalidTransitionError`` for a move that makes no sense
(finishing a step never started, starting a step already done, rollback after Calico removal).

Persisting is the ``StateStore`` port's job (runner.py): it writes the ConfigMap with a
compare-and-swap on ``resourceVersion``, so two runs can never both believe they hold the lock.
The lock itself is plain data here: a holder name and an expiry; ``acquire_lock`` refuses while
another holder's lock has not expired (``ConcurrentRunError``, exit 3, naming the holder).

ConfigMap ``data`` takes strings only: scalars are stored as strings, lists and maps as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from kubectl_antrea_migrate.errors import EXIT_FAILURE, InputError, Location, MigrateError

__all__ = [
    "STATE_CONFIGMAP",
    "STATE_VERSION",
    "ConcurrentRunError",
    "InvalidTransitionError",
    "Lock",
    "LockHeldError",
    "MigrationState",
    "RunStatus",
    "StateConflictError",
    "StepRecord",
    "StepStatus",
    "acquire_lock",
    "complete_run",
    "fail_run",
    "finish_step",
    "from_configmap_data",
    "mark_cordoned",
    "mark_uncordoned",
    "record_restarts",
    "release_lock",
    "renew_lock",
    "start_rollback",
    "start_run",
    "start_step",
    "to_configmap_data",
]

STATE_CONFIGMAP = "antrea-migrate-state"
STATE_VERSION = "1"


class RunStatus(Enum):
    """Where the migration as a whole stands."""

    IDLE = "idle"  # no run yet
    RUNNING = "running"  # a run is going on, or died without a word (the lock tells which)
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    ROLLING_BACK = "rolling-back"
    ROLLED_BACK = "rolled-back"


class StepStatus(Enum):
    """A step is recorded as started before its port call and done after it."""

    STARTED = "started"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step's history entry."""

    id: str
    kind: str
    phase: str
    node: str | None
    status: StepStatus
    started: float
    finished: float | None = None
    detail: str = ""

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


@dataclass(frozen=True, slots=True)
class Lock:
    """Who runs the migration now, until when (seconds since the epoch, renewed on every save)."""

    holder: str
    expires: float


@dataclass(frozen=True, slots=True)
class MigrationState:
    """Everything persisted. ``resource_version`` is the store's CAS token, not part of the state."""

    status: RunStatus = RunStatus.IDLE
    phase: str = ""
    strategy: str = ""
    plan_id: str = ""
    started_at: float | None = None
    updated_at: float | None = None
    error: str = ""
    lock: Lock | None = None
    steps: tuple[StepRecord, ...] = ()
    restarts: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (node, step id, pods "ns/name")
    cordoned: tuple[str, ...] = ()  # drained by this run and not uncordoned yet
    resource_version: str = field(default="", compare=False)

    def record(self, step_id: str) -> StepRecord | None:
        for rec in self.steps:
            if rec.id == step_id:
                return rec
        return None

    def is_done(self, step_id: str) -> bool:
        rec = self.record(step_id)
        return rec is not None and rec.status is StepStatus.DONE

    def restarted(self, node: str, step_id: str) -> tuple[str, ...]:
        """Pods this run restarted on ``node`` in step ``step_id``."""
        for rec_node, rec_step, pods in self.restarts:
            if rec_node == node and rec_step == step_id:
                return pods
        return ()

    @property
    def rollback_available(self) -> bool:
        """True until Calico removal has started: after that there is no Calico to go back to."""
        return not any(r.kind == "remove-calico" for r in self.steps)

    @property
    def calico_removal_started(self) -> float | None:
        for rec in self.steps:
            if rec.kind == "remove-calico":
                return rec.started
        return None

    def node_steps(self) -> dict[str, StepRecord]:
        """The latest step of each node (for ``status``)."""
        latest: dict[str, StepRecord] = {}
        for rec in self.steps:
            if rec.node is not None:
                latest[rec.node] = rec
        return latest

    def node_seconds(self) -> dict[str, float]:
        """Seconds spent in finished steps, per node."""
        totals: dict[str, float] = {}
        for rec in self.steps:
            if rec.node is not None and rec.seconds is not None:
                totals[rec.node] = totals.get(rec.node, 0.0) + rec.seconds
        return totals

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``status -o json|yaml``."""
        return {
            "status": self.status.value,
            "phase": self.phase,
            "strategy": self.strategy,
            "planId": self.plan_id,
            "startedAt": self.started_at,
            "updatedAt": self.updated_at,
            "error": self.error,
            "lock": None if self.lock is None else {"holder": self.lock.holder, "expires": self.lock.expires},
            "rollbackAvailable": self.rollback_available,
            "cordoned": list(self.cordoned),
            "nodes": {
                node: {"step": rec.id, "status": rec.status.value, "seconds": self.node_seconds().get(node, 0.0)}
                for node, rec in sorted(self.node_steps().items())
            },
            "steps": [_step_to_json(r) for r in self.steps],
        }


class ConcurrentRunError(MigrateError):
    """Another run holds the migration lock."""

    exit_code = EXIT_FAILURE

    def __init__(self, holder: str, expires: float, now: float) -> None:
        self.holder = holder
        self.expires = expires
        super().__init__(
            f"another migration run holds the lock: holder={holder}, expires in {max(0.0, expires - now):.0f}s; "
            "wait for it to finish (`status` shows its progress), or, if it died, run again once the lock "
            "has expired"
        )


LockHeldError = ConcurrentRunError


class StateConflictError(MigrateError):
    """The state ConfigMap changed since it was read (compare-and-swap on resourceVersion failed)."""

    exit_code = EXIT_FAILURE


class InvalidTransitionError(MigrateError):
    """A state change that makes no sense from the current state."""

    exit_code = EXIT_FAILURE


# --- lock ------------------------------------------------------------------------------------------

def acquire_lock(state: MigrationState, holder: str, now: float, ttl: float) -> MigrationState:
    """Take the lock for ``holder``; a lock held by someone else is honoured until it expires.

    Raises:
        ConcurrentRunError: another holder's lock has not expired.
    """
    lock = state.lock
    if lock is not None and lock.holder != holder and lock.expires > now:
        raise ConcurrentRunError(lock.holder, lock.expires, now)
    return replace(state, lock=Lock(holder, now + ttl), updated_at=now)


def renew_lock(state: MigrationState, holder: str, now: float, ttl: float) -> MigrationState:
    """Push the expiry of ``holder``'s lock forward.

    Raises:
        ConcurrentRunError: the lock is now someone else's (ours expired and was taken).
        InvalidTransitionError: nobody holds the lock.
    """
    lock = state.lock
    if lock is None:
        raise InvalidTransitionError(f"cannot renew the migration lock for {holder}: nobody holds it")
    if lock.holder != holder:
        raise ConcurrentRunError(lock.holder, lock.expires, now)
    return replace(state, lock=Lock(holder, now + ttl))


def release_lock(state: MigrationState, holder: str) -> MigrationState:
    """Drop ``holder``'s lock; someone else's lock is left alone."""
    if state.lock is None or state.lock.holder != holder:
        return state
    return replace(state, lock=None)


# --- run transitions -------------------------------------------------------------------------------

def start_run(state: MigrationState, plan_id: str, strategy: str, now: float) -> MigrationState:
    """Begin or resume a run of plan ``plan_id``.

    A fresh run (idle, rolled back) resets the history; a failed or interrupted run of the same plan
    resumes with its history kept.

    Raises:
        InvalidTransitionError: the migration already succeeded, a rollback is unfinished, or a
            different plan is half done (resuming it with other options would mix two plans).
    """
    if state.status is RunStatus.SUCCEEDED:
        raise InvalidTransitionError("the migration already succeeded: nothing to run")
    if state.status is RunStatus.ROLLING_BACK:
        raise InvalidTransitionError("a rollback was interrupted: run `rollback` again to finish it first")
    if state.status in (RunStatus.IDLE, RunStatus.ROLLED_BACK):
        return replace(MigrationState(), status=RunStatus.RUNNING, plan_id=plan_id, strategy=strategy,
                       started_at=now, updated_at=now, lock=state.lock,
                       resource_version=state.resource_version)
    if state.plan_id != plan_id:
        raise InvalidTransitionError(
            f"a migration with another plan ({state.strategy}, plan {state.plan_id}) is half done; resume it "
            f"with the same options (strategy, batch size) or `rollback` it first")
    return replace(state, status=RunStatus.RUNNING, error="", updated_at=now)


def start_rollback(state: MigrationState, now: float) -> MigrationState:
    """Begin or resume a rollback.

    Raises:
        InvalidTransitionError: Calico removal has started (there is nothing to go back to) or no
            migration ran.
    """
    removal = state.calico_removal_started
    if removal is not None:
        raise InvalidTransitionError(
            "rollback is no longer possible: Calico removal started at "
            f"{_iso(removal)}, so there is no Calico network to move the pods back to; finish the migration "
            "with `run`")
    if state.status is RunStatus.IDLE:
        raise InvalidTransitionError("no migration has run: nothing to roll back")
    return replace(state, status=RunStatus.ROLLING_BACK, error="", updated_at=now)


def complete_run(state: MigrationState, now: float) -> MigrationState:
    """Mark the run (``RUNNING`` -> ``SUCCEEDED``) or the rollback (-> ``ROLLED_BACK``) finished."""
    if state.status is RunStatus.RUNNING:
        return replace(state, status=RunStatus.SUCCEEDED, updated_at=now, phase="done")
    if state.status is RunStatus.ROLLING_BACK:
        return replace(state, status=RunStatus.ROLLED_BACK, updated_at=now, phase="rolled-back")
    raise InvalidTransitionError(f"cannot complete a migration that is {state.status.value}")


def fail_run(state: MigrationState, message: str, now: float) -> MigrationState:
    """Record why the run (or the rollback) stopped; a rollback that fails stays ``ROLLING_BACK``."""
    status = RunStatus.ROLLING_BACK if state.status is RunStatus.ROLLING_BACK else RunStatus.FAILED
    return replace(state, status=status, error=message, updated_at=now)


def start_step(state: MigrationState, step_id: str, kind: str, phase: str, node: str | None,
               now: float) -> MigrationState:
    """Record that a step starts (before its port call). Re-starting a started step is a resume.

    Raises:
        InvalidTransitionError: the step is already done, or the run is not running.
    """
    if state.status not in (RunStatus.RUNNING, RunStatus.ROLLING_BACK):
        raise InvalidTransitionError(f"cannot start step {step_id}: the migration is {state.status.value}")
    previous = state.record(step_id)
    if previous is not None and previous.status is StepStatus.DONE:
        raise InvalidTransitionError(f"step {step_id} is already done")
    record = StepRecord(step_id, kind, phase, node, StepStatus.STARTED, now)
    others = tuple(r for r in state.steps if r.id != step_id)
    return replace(state, steps=(*others, record), phase=phase, updated_at=now)


def finish_step(state: MigrationState, step_id: str, now: float, detail: str = "") -> MigrationState:
    """Record that a step's port call returned.

    Raises:
        InvalidTransitionError: the step was never started or is already done.
    """
    previous = state.record(step_id)
    if previous is None or previous.status is not StepStatus.STARTED:
        what = "never started" if previous is None else "already done"
        raise InvalidTransitionError(f"cannot finish step {step_id}: it was {what}")
    done = replace(previous, status=StepStatus.DONE, finished=now, detail=detail)
    return replace(state, steps=tuple(done if r.id == step_id else r for r in state.steps), updated_at=now)


def record_restarts(state: MigrationState, node: str, step_id: str, pods: tuple[str, ...]) -> MigrationState:
    """Add ``pods`` to those restarted on ``node`` in ``step_id`` (a union: resumes add, never forget)."""
    merged = tuple(sorted(set(state.restarted(node, step_id)) | set(pods)))
    others = tuple(r for r in state.restarts if (r[0], r[1]) != (node, step_id))
    return replace(state, restarts=(*others, (node, step_id, merged)))


def mark_cordoned(state: MigrationState, node: str) -> MigrationState:
    """Remember that this run cordoned ``node`` (so it is uncordoned, or named, whatever happens)."""
    if node in state.cordoned:
        return state
    return replace(state, cordoned=(*state.cordoned, node))


def mark_uncordoned(state: MigrationState, node: str) -> MigrationState:
    """Forget ``node`` once it is uncordoned."""
    return replace(state, cordoned=tuple(n for n in state.cordoned if n != node))


# --- ConfigMap data --------------------------------------------------------------------------------

def to_configmap_data(state: MigrationState) -> dict[str, str]:
    """Serialize for ConfigMap ``data`` (strings only)."""
    return {
        "version": STATE_VERSION,
        "status": state.status.value,
        "phase": state.phase,
        "strategy": state.strategy,
        "planId": state.plan_id,
        "startedAt": _num(state.started_at),
        "updatedAt": _num(state.updated_at),
        "error": state.error,
        "lockHolder": state.lock.holder if state.lock else "",
        "lockExpires": _num(state.lock.expires) if state.lock else "",
        "steps": json.dumps([_step_to_json(r) for r in state.steps], separators=(",", ":")),
        "restarts": json.dumps([[n, s, list(p)] for n, s, p in state.restarts], separators=(",", ":")),
        "cordoned": json.dumps(list(state.cordoned)),
    }


def from_configmap_data(data: Mapping[str, str], resource_version: str = "",
                        name: str = STATE_CONFIGMAP) -> MigrationState:
    """Parse ConfigMap ``data`` back into a state.

    Raises:
        InputError: a key is missing or malformed, with the ``data.<key>`` path; the fix is to repair
            or delete the ConfigMap.
    """
    where = Location(kind="ConfigMap", name=name)
    reader = _Reader(data, where)
    version = reader.text("version")
    if version != STATE_VERSION:
        raise InputError(f"state version {version!r} is not supported (expected {STATE_VERSION})",
                         where.at("data.version"))
    holder = reader.text("lockHolder", "")
    lock = Lock(holder, reader.number("lockExpires") or 0.0) if holder else None
    return MigrationState(
        status=reader.enum("status", RunStatus),
        phase=reader.text("phase", ""),
        strategy=reader.text("strategy", ""),
        plan_id=reader.text("planId", ""),
        started_at=reader.number("startedAt"),
        updated_at=reader.number("updatedAt"),
        error=reader.text("error", ""),
        lock=lock,
        steps=tuple(_step_from_json(item, where.at(f"data.steps[{i}]"))
                    for i, item in enumerate(reader.json_list("steps"))),
        restarts=tuple(_restart_from_json(item, where.at(f"data.restarts[{i}]"))
                       for i, item in enumerate(reader.json_list("restarts"))),
        cordoned=tuple(_string(item, where.at(f"data.cordoned[{i}]"))
                       for i, item in enumerate(reader.json_list("cordoned"))),
        resource_version=resource_version,
    )


class _Reader:
    def __init__(self, data: Mapping[str, str], where: Location) -> None:
        self._data = data
        self._where = where

    def text(self, key: str, default: str | None = None) -> str:
        value = self._data.get(key, default)
        if not isinstance(value, str):
            raise InputError("missing or not a string; repair or delete the state ConfigMap",
                             self._where.at(f"data.{key}"))
        return value

    def number(self, key: str) -> float | None:
        raw = self.text(key, "")
        if raw == "":
            return None
        try:
            return float(raw)
        except ValueError:
            raise InputError(f"{raw!r} is not a number", self._where.at(f"data.{key}")) from None

    def enum(self, key: str, kind: type[RunStatus]) -> RunStatus:
        raw = self.text(key)
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise InputError(f"{raw!r} is not one of {allowed}", self._where.at(f"data.{key}")) from None

    def json_list(self, key: str) -> list[Any]:
        raw = self.text(key, "[]")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg} at column {exc.colno}",
                             self._where.at(f"data.{key}")) from None
        if not isinstance(value, list):
            raise InputError("expected a JSON list", self._where.at(f"data.{key}"))
        return value


def _step_to_json(rec: StepRecord) -> dict[str, Any]:
    return {"id": rec.id, "kind": rec.kind, "phase": rec.phase, "node": rec.node, "status": rec.status.value,
            "started": rec.started, "finished": rec.finished, "detail": rec.detail}


def _step_from_json(item: Any, where: Location) -> StepRecord:
    if not isinstance(item, dict):
        raise InputError("expected an object", where)
    try:
        node = item.get("node")
        finished = item.get("finished")
        return StepRecord(
            id=_string(item["id"], where.child("id")),
            kind=_string(item["kind"], where.child("kind")),
            phase=_string(item["phase"], where.child("phase")),
            node=None if node is None else _string(node, where.child("node")),
            status=StepStatus(item["status"]),
            started=float(item["started"]),
            finished=None if finished is None else float(finished),
            detail=_string(item.get("detail", ""), where.child("detail")),
        )
    except KeyError as exc:
        raise InputError(f"missing {exc.args[0]!r}", where) from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"malformed step record: {exc}", where) from None


def _restart_from_json(item: Any, where: Location) -> tuple[str, str, tuple[str, ...]]:
    if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], list)):
        raise InputError("expected [node, step id, [pods]]", where)
    pods = tuple(_string(p, where.child(f"[2][{i}]")) for i, p in enumerate(item[2]))
    return _string(item[0], where.child("[0]")), _string(item[1], where.child("[1]")), pods


def _string(value: Any, where: Location) -> str:
    if not isinstance(value, str):
        raise InputError(f"expected a string, got {type(value).__name__}", where)
    return value


def _num(value: float | None) -> str:
    return "" if value is None else repr(value)


def _iso(epoch: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
