"""``migrate/plan.py``: the shape of the migration plan (pure, no cluster needed)."""

from __future__ import annotations

import json

import pytest

from kubectl_antrea_migrate.errors import InputError, UsageError
from kubectl_antrea_migrate.migrate.plan import (
    Network,
    NodeSpec,
    PhaseName,
    Plan,
    PlanOptions,
    PodSpec,
    StepKind,
    Strategy,
    build_plan,
    build_rollback_plan,
    default_batch_size,
)

MANIFEST = PlanOptions(antrea_manifest="antrea.yml")


def nodes(workers: int, control: int = 0, overlapped: tuple[str, ...] = ()) -> list[NodeSpec]:
    out = [NodeSpec(f"w{i:02d}", pod_cidr=f"10.10.{i}.0/24", overlapped=f"w{i:02d}" in overlapped,
                    pods=(PodSpec("default", f"web-{i}"),)) for i in range(workers)]
    out += [NodeSpec(f"cp{i}", control_plane=True, pod_cidr=f"10.20.{i}.0/24") for i in range(control)]
    return out


def phase_names(plan: Plan) -> list[str]:
    return [p.name.value for p in plan.phases]


def batches(plan: Plan, name: PhaseName) -> list[tuple[str, ...]]:
    phase = next(p for p in plan.phases if p.name is name)
    return [b.node_names for b in phase.batches]


def test_default_batch_size_is_a_tenth_of_the_workers_at_least_one() -> None:
    assert default_batch_size(50) == 5
    assert default_batch_size(9) == 1
    assert default_batch_size(0) == 1
    plan = build_plan(nodes(20, control=1), MANIFEST)
    assert plan.batch_size == 2
    assert all(len(b) <= 2 for b in batches(plan, PhaseName.SWITCH))


def test_control_plane_nodes_come_last_one_per_batch() -> None:
    specs = [NodeSpec("a-cp", control_plane=True, pod_cidr="10.0.9.0/24"), *nodes(5, control=1)]
    plan = build_plan(specs, PlanOptions(antrea_manifest="a.yml", batch_size=2))
    switch = batches(plan, PhaseName.SWITCH)
    assert switch == [("w00", "w01"), ("w02", "w03"), ("w04",), ("a-cp",), ("cp0",)]
    phase = next(p for p in plan.phases if p.name is PhaseName.SWITCH)
    assert [b.control_plane for b in phase.batches] == [False, False, False, True, True]


def test_phases_follow_the_seed_order_for_multus() -> None:
    plan = build_plan(nodes(3, overlapped=("w01",)), MANIFEST)
    assert phase_names(plan) == ["preflight", "agents", "drain", "antrea-install", "policies", "bridge", "switch",
                                 "calico-removal", "cleanup", "final-check"]
    bridge_steps = [s.kind for s in plan.phases[5].batches[0].nodes[0].steps]
    assert bridge_steps == [StepKind.SET_CNI, StepKind.RESTART_PODS, StepKind.WAIT_READY]
    targets = {s.target for s in plan.phases[5].all_steps() if s.target}
    assert targets == {Network.MULTUS}
    assert {s.target for s in plan.phases[6].all_steps() if s.target} == {Network.ANTREA}


def test_direct_strategy_has_one_pass_and_warns_about_cross_cni_traffic() -> None:
    plan = build_plan(nodes(3), PlanOptions(strategy=Strategy.DIRECT, antrea_manifest="a.yml"))
    assert "bridge" not in phase_names(plan)
    assert "drain" not in phase_names(plan)
    assert any("cannot talk" in w for w in plan.warnings)


def test_a_few_overlapped_nodes_are_drained_first_and_uncordoned_after_their_switch() -> None:
    specs = nodes(4, overlapped=("w02",))
    specs[0] = NodeSpec("w00", pod_cidr="10.10.0.0/24", holds_overlapping_block=True)
    plan = build_plan(specs, MANIFEST)
    assert plan.drain == ("w00", "w02")
    drain = next(p for p in plan.phases if p.name is PhaseName.DRAIN)
    assert [s.node for s in drain.steps] == ["w00", "w02"]
    assert phase_names(plan).index("drain") < phase_names(plan).index("antrea-install")
    switch = next(p for p in plan.phases if p.name is PhaseName.SWITCH)
    uncordon = sorted(s.node or "" for s in switch.all_steps() if s.kind is StepKind.UNCORDON)
    assert uncordon == ["w00", "w02"]
    for batch in switch.batches:
        for node in batch.nodes:
            if node.node in plan.drain:
                assert node.steps[-1].kind is StepKind.UNCORDON


def test_half_the_nodes_overlapped_is_still_a_drain() -> None:
    plan = build_plan(nodes(4, overlapped=("w00", "w01")), MANIFEST)
    assert plan.runnable
    assert plan.drain == ("w00", "w01")


def test_most_nodes_overlapped_is_refused_with_the_ippool_change() -> None:
    plan = build_plan(nodes(4, overlapped=("w00", "w01", "w03")), MANIFEST)
    assert not plan.runnable
    assert plan.phases == ()
    (refusal,) = plan.refusals
    assert "3 of 4 nodes" in refusal and "IPPool" in refusal and "w00, w01, w03" in refusal
    assert "REFUSED" in plan.render_text()


def test_nodes_without_pod_cidr_and_missing_antrea_are_refused() -> None:
    specs = [*nodes(2), NodeSpec("bare")]
    plan = build_plan(specs, PlanOptions())
    assert len(plan.refusals) == 2
    assert "bare" in plan.refusals[0]
    assert "--antrea-manifest" in plan.refusals[1]


def test_installed_antrea_skips_the_install_phase() -> None:
    plan = build_plan(nodes(2), PlanOptions(antrea_installed=True))
    assert plan.runnable
    assert "antrea-install" not in phase_names(plan)


def test_calico_policies_deleted_only_when_asked_and_after_removal() -> None:
    kept = build_plan(nodes(2), MANIFEST)
    assert not any(s.kind is StepKind.DELETE_CALICO_POLICIES for s in kept.steps())
    assert any("kept" in d for d in kept.deletions)
    opts = PlanOptions(antrea_manifest="a.yml", delete_calico_policies=True, calico_policies=("gnp/a", "np/b"))
    deleted = build_plan(nodes(2), opts)
    ids = [s.id for s in deleted.steps()]
    assert ids.index("policies/backup-calico-policies") < ids.index("calico-removal/remove-calico") < ids.index(
        "calico-removal/delete-calico-policies")
    assert any("Calico policy objects (2), after a backup" in d for d in deleted.deletions)


def test_step_ids_are_unique_and_independent_of_pods() -> None:
    plan = build_plan(nodes(6, overlapped=("w01",)), MANIFEST)
    ids = [s.id for s in plan.steps()]
    assert len(ids) == len(set(ids))
    other_pods = [NodeSpec(n.name, n.control_plane, n.pod_cidr, n.overlapped, pods=()) for n in
                  nodes(6, overlapped=("w01",))]
    assert build_plan(other_pods, MANIFEST).plan_id == plan.plan_id
    direct = build_plan(nodes(6, overlapped=("w01",)), PlanOptions(strategy=Strategy.DIRECT, antrea_manifest="a"))
    assert direct.plan_id != plan.plan_id


def test_restart_policy_never_pods_are_warned_and_skipped_unless_forced() -> None:
    specs = [NodeSpec("w0", pod_cidr="10.0.0.0/24", pods=(
        PodSpec("jobs", "once", restart_policy="Never"), PodSpec("default", "web", pdb="default/web"),
        PodSpec("kube-system", "proxy", host_network=True)))]
    plan = build_plan(specs, MANIFEST)
    (summary,) = plan.nodes
    assert (summary.restart, summary.host_network, summary.never_skipped) == (1, 1, ("jobs/once",))
    assert summary.pdbs == ("default/web",)
    assert any("jobs/once" in w and "left on Calico" in w for w in plan.warnings)
    forced = build_plan(specs, PlanOptions(antrea_manifest="a.yml", force_restart_never=True))
    assert forced.nodes[0].restart == 2
    assert forced.force_restart_never


def test_bad_batch_size_and_duplicate_nodes_are_input_errors() -> None:
    with pytest.raises(UsageError, match="--batch-size must be at least 1"):
        build_plan(nodes(2), PlanOptions(antrea_manifest="a", batch_size=0))
    with pytest.raises(InputError, match="'w00' listed twice"):
        build_plan([*nodes(1), *nodes(1)], MANIFEST)


def test_plan_renders_to_json_and_text() -> None:
    plan = build_plan(nodes(3, control=1, overlapped=("w01",)), PlanOptions(antrea_manifest="antrea.yml",
                                                                             batch_size=2))
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["strategy"] == "multus" and data["drain"] == ["w01"] and data["runnable"]
    switch = next(p for p in data["phases"] if p["name"] == "switch")
    assert [[n["name"] for n in b["nodes"]] for b in switch["batches"]] == [["w00", "w01"], ["w02"], ["cp0"]]
    text = plan.render_text()
    assert "batch 3 (control plane): cp0" in text
    assert "Nodes drained first" in text and "w01" in text
    assert "antrea.yml" in text


def test_rollback_plan_uses_the_same_batches_and_uncordons_drained_nodes() -> None:
    plan = build_plan(nodes(4, overlapped=("w03",)), PlanOptions(antrea_manifest="a", batch_size=3))
    back = build_rollback_plan(plan, remove_antrea_policies=True)
    assert phase_names(back) == ["rollback", "rollback-policies"]
    assert batches(back, PhaseName.ROLLBACK) == batches(plan, PhaseName.SWITCH)
    assert {s.target for s in back.steps() if s.target} == {Network.CALICO}
    assert [s.node for s in back.steps() if s.kind is StepKind.UNCORDON] == ["w03"]
