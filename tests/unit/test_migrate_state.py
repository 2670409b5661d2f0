"""``migrate/state.py``: the persisted state, its transitions and the lock model (pure)."""

from __future__ import annotations

import pytest

from kubectl_antrea_migrate.errors import EXIT_FAILURE, InputError
from kubectl_antrea_migrate.migrate.state import (
    ConcurrentRunError,
    InvalidTransitionError,
    Lock,
    MigrationState,
    RunStatus,
    StepStatus,
    acquire_lock,
    complete_run,
    fail_run,
    finish_step,
    from_configmap_data,
    mark_cordoned,
    mark_uncordoned,
    record_restarts,
    release_lock,
    renew_lock,
    start_rollback,
    start_run,
    start_step,
    to_configmap_data,
)

T0 = 1_800_000_000.0


def running() -> MigrationState:
    return start_run(acquire_lock(MigrationState(), "me", T0, 300), "plan1", "multus", T0)


def busy_state() -> MigrationState:
    state = running()
    state = start_step(state, "drain/w1/drain", "drain", "drain", "w1", T0 + 1)
    state = mark_cordoned(state, "w1")
    state = finish_step(state, "drain/w1/drain", T0 + 6.25, "drained")
    state = start_step(state, "switch/w1/restart", "restart", "switch", "w1", T0 + 7)
    state = record_restarts(state, "w1", "switch/w1/restart", ("default/web-1", "default/web-0"))
    return fail_run(state, "agent on w1 did not answer: \"timeout\"\nsecond line", T0 + 8)


def test_configmap_round_trip_keeps_every_field_as_strings() -> None:
    state = busy_state()
    data = to_configmap_data(state)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())
    back = from_configmap_data(data, resource_version="42")
    assert back == state
    assert back.resource_version == "42"
    assert back.restarted("w1", "switch/w1/restart") == ("default/web-0", "default/web-1")
    assert back.cordoned == ("w1",)
    assert back.record("drain/w1/drain") is not None and back.record("drain/w1/drain").seconds == 5.25  # type: ignore[union-attr]


def test_empty_state_round_trips() -> None:
    assert from_configmap_data(to_configmap_data(MigrationState())) == MigrationState()


@pytest.mark.parametrize(("key", "value", "path"), [
    ("steps", "[{]", "data.steps"),
    ("steps", '[{"id": "x"}]', "data.steps[0]"),
    ("status", "paused", "data.status"),
    ("lockExpires", "soon", "data.lockExpires"),
    ("restarts", '[["w1", "s", "not-a-list"]]', "data.restarts[0]"),
    ("version", "7", "data.version"),
])
def test_corrupt_configmap_names_the_field(key: str, value: str, path: str) -> None:
    data = to_configmap_data(busy_state())
    data[key] = value
    with pytest.raises(InputError) as info:
        from_configmap_data(data)
    assert f"ConfigMap antrea-migrate-state: {path}" in str(info.value)


def test_lock_held_by_another_run_is_refused_naming_the_holder() -> None:
    state = acquire_lock(MigrationState(), "alice@host1 pid=7", T0, 300)
    with pytest.raises(ConcurrentRunError) as info:
        acquire_lock(state, "bob@host2 pid=9", T0 + 10, 300)
    assert "holder=alice@host1 pid=7" in str(info.value)
    assert "expires in 290s" in str(info.value)
    assert info.value.exit_code == EXIT_FAILURE


def test_expired_lock_is_taken_over_and_own_lock_reacquired() -> None:
    state = acquire_lock(MigrationState(), "alice", T0, 300)
    assert acquire_lock(state, "alice", T0 + 1, 300).lock == Lock("alice", T0 + 301)
    taken = acquire_lock(state, "bob", T0 + 301, 300)
    assert taken.lock == Lock("bob", T0 + 601)
    with pytest.raises(ConcurrentRunError):
        renew_lock(taken, "alice", T0 + 302, 300)


def test_release_leaves_someone_elses_lock_alone() -> None:
    state = acquire_lock(MigrationState(), "alice", T0, 300)
    assert release_lock(state, "bob") == state
    assert release_lock(state, "alice").lock is None


def test_steps_cannot_be_finished_unstarted_or_restarted_when_done() -> None:
    state = running()
    with pytest.raises(InvalidTransitionError, match="never started"):
        finish_step(state, "agents", T0)
    state = finish_step(start_step(state, "agents", "install-agents", "agents", None, T0), "agents", T0 + 1)
    with pytest.raises(InvalidTransitionError, match="already done"):
        start_step(state, "agents", "install-agents", "agents", None, T0 + 2)
    with pytest.raises(InvalidTransitionError, match="already done"):
        finish_step(state, "agents", T0 + 2)


def test_a_started_step_can_be_started_again_on_resume() -> None:
    state = start_step(running(), "switch/w1/restart", "restart", "switch", "w1", T0)
    again = start_step(state, "switch/w1/restart", "restart", "switch", "w1", T0 + 5)
    assert [r.id for r in again.steps] == ["switch/w1/restart"]
    assert again.steps[0].status is StepStatus.STARTED and again.steps[0].started == T0 + 5


def test_resume_needs_the_same_plan_and_keeps_history() -> None:
    failed = busy_state()
    resumed = start_run(failed, "plan1", "multus", T0 + 100)
    assert resumed.status is RunStatus.RUNNING and resumed.steps == failed.steps and resumed.error == ""
    with pytest.raises(InvalidTransitionError, match="another plan"):
        start_run(failed, "plan2", "direct", T0 + 100)


def test_restarts_are_a_union_across_resumes() -> None:
    state = record_restarts(running(), "w1", "s", ("a/1",))
    state = record_restarts(state, "w1", "s", ("a/2", "a/1"))
    assert state.restarted("w1", "s") == ("a/1", "a/2")
    assert state.restarted("w2", "s") == ()


def test_rollback_is_refused_once_calico_removal_started() -> None:
    state = start_step(running(), "calico-removal/remove-calico", "remove-calico", "calico-removal", None, T0)
    assert not state.rollback_available
    with pytest.raises(InvalidTransitionError, match="Calico removal started at 2027-01-15T08:00:00Z"):
        start_rollback(state, T0 + 1)


def test_rollback_then_a_new_run_starts_fresh() -> None:
    state = start_rollback(busy_state(), T0 + 10)
    assert state.status is RunStatus.ROLLING_BACK
    with pytest.raises(InvalidTransitionError, match="rollback was interrupted"):
        start_run(state, "plan1", "multus", T0 + 11)
    done = complete_run(state, T0 + 20)
    assert done.status is RunStatus.ROLLED_BACK
    fresh = start_run(done, "plan9", "direct", T0 + 30)
    assert fresh.steps == () and fresh.plan_id == "plan9" and fresh.lock == done.lock


def test_cordoned_bookkeeping_and_status_dict() -> None:
    state = mark_cordoned(mark_cordoned(busy_state(), "w1"), "w2")
    assert state.cordoned == ("w1", "w2")
    assert mark_uncordoned(state, "w1").cordoned == ("w2",)
    view = state.to_dict()
    assert view["status"] == "failed" and view["nodes"]["w1"]["step"] == "switch/w1/restart"
    assert view["nodes"]["w1"]["seconds"] == 5.25
    assert view["rollbackAvailable"] is True


def test_nothing_to_roll_back_without_a_run() -> None:
    with pytest.raises(InvalidTransitionError, match="nothing to roll back"):
        start_rollback(MigrationState(), T0)
