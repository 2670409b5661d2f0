"""The migration plan: which steps run, in which order, on which nodes. Pure: data in, data out.

Design
------
``build_plan`` turns plain facts about the cluster (nodes, their pods, the Pod CIDR overlap verdict)
and the user's options into a ``Plan``: ordered phases, each either a sequence of cluster-wide steps
or a sequence of batches whose nodes are handled in parallel. Every step has a stable id
(``switch/node-a/restart``); the runner records those ids in the state ConfigMap, so a resumed run
knows exactly what is done. The plan never depends on pod names (pods change while we migrate), only
on node names, strategy and options: recomputing the plan after a crash gives the same step ids.

Phase order follows the seeds: preflight -> agents -> drain (overlapped nodes) -> antrea-install ->
policies -> node batches -> calico-removal -> cleanup -> final-check.

Multus strategy (seed 001) in two passes over the batches, not one pass per node: pass ``bridge``
puts every pod on Multus (Calico primary interface + Antrea secondary), pass ``switch`` then moves
them to Antrea only. A node switched to Antrea-only while another still runs Calico-only pods would
cut traffic between them, which is the very loss the strategy exists to avoid; with two passes every
pod stays reachable from every other. Each pod is still restarted exactly twice, and the two restarts
of one pod are a whole pass apart (the kubelet's back-off punishes quick repeats).

Direct strategy (seed 000): one pass ``switch``; Calico and Antrea pods cannot talk until the pass ends.

Refusals (the plan is returned with ``refusals`` and no phases): most nodes overlapped by Calico
IPAM blocks (the IPPool itself has to change; draining would empty the cluster), nodes without a
podCIDR (Antrea cannot start there), Antrea neither installed nor given as a manifest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from kubectl_antrea_migrate.errors import InputError, Location, UsageError

__all__ = [
    "DEFAULT_BATCH_FRACTION",
    "Batch",
    "Network",
    "NodeSpec",
    "NodeSteps",
    "Phase",
    "PhaseName",
    "Plan",
    "PlanOptions",
    "PodSpec",
    "Step",
    "StepKind",
    "Strategy",
    "build_plan",
    "build_rollback_plan",
    "default_batch_size",
]

DEFAULT_BATCH_FRACTION = 0.10


class Strategy(Enum):
    """How pods move from Calico to Antrea."""

    DIRECT = "direct"
    MULTUS = "multus"


class Network(Enum):
    """Which network a pod sandbox is on (or should be on after a restart)."""

    CALICO = "calico"
    MULTUS = "multus"  # Calico primary interface plus an Antrea secondary interface
    ANTREA = "antrea"
    NONE = "none"  # no sandbox or no address yet: the next sandbox gets the conf in force


class PhaseName(Enum):
    """Phases in the order they run."""

    PREFLIGHT = "preflight"
    AGENTS = "agents"
    DRAIN = "drain"
    ANTREA = "antrea-install"
    POLICIES = "policies"
    BRIDGE = "bridge"
    SWITCH = "switch"
    CALICO_REMOVAL = "calico-removal"
    CLEANUP = "cleanup"
    FINAL_CHECK = "final-check"
    ROLLBACK = "rollback"
    ROLLBACK_POLICIES = "rollback-policies"


class StepKind(Enum):
    """What one step does; the runner maps each kind to one idempotent port call."""

    PREFLIGHT = "preflight"
    INSTALL_AGENTS = "install-agents"
    DRAIN = "drain"
    INSTALL_ANTREA = "install-antrea"
    BACKUP_CALICO_POLICIES = "backup-calico-policies"
    APPLY_ANTREA_POLICIES = "apply-antrea-policies"
    SET_CNI = "cni"
    RESTART_PODS = "restart"
    WAIT_READY = "ready"
    UNCORDON = "uncordon"
    REMOVE_CALICO = "remove-calico"
    DELETE_CALICO_POLICIES = "delete-calico-policies"
    CLEANUP_NODE = "cleanup"
    FINAL_CHECK = "final-check"
    REMOVE_ANTREA_POLICIES = "remove-antrea-policies"


@dataclass(frozen=True, slots=True)
class PodSpec:
    """A pod as the plan sees it. ``pdb`` is ``namespace/name`` of the PodDisruptionBudget covering it."""

    namespace: str
    name: str
    host_network: bool = False
    restart_policy: str = "Always"
    pdb: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A node as the plan sees it.

    ``overlapped``: a Calico IPAM block in use lies inside this node's podCIDR.
    ``holds_overlapping_block``: this node holds a Calico block lying inside another node's podCIDR
    (its pods keep addresses Antrea will hand out elsewhere), so it is drained too.
    """

    name: str
    control_plane: bool = False
    pod_cidr: str | None = None
    overlapped: bool = False
    holds_overlapping_block: bool = False
    pods: tuple[PodSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """The user's choices (``run`` options) and what the cluster edge found around the nodes.

    Attributes:
        strategy: direct or multus.
        batch_size: worker nodes per batch; ``None`` picks ``default_batch_size``.
        antrea_installed: Antrea already runs beside Calico (the install phase is then skipped).
        antrea_manifest: the manifest file to server-side apply (``--antrea-manifest``).
        delete_calico_policies: delete Calico policy objects after Calico is removed (always backed up).
        force_restart_never: restart ``restartPolicy: Never`` pods too (they are killed, not restarted).
        antrea_policies: names of the converted Antrea objects the policies phase applies.
        calico_policies: names of the Calico policy objects (backed up; deleted only on request).
        calico_workloads: the Calico resources removal deletes (from the manifest or as found).
    """

    strategy: Strategy = Strategy.MULTUS
    batch_size: int | None = None
    antrea_installed: bool = False
    antrea_manifest: str | None = None
    delete_calico_policies: bool = False
    force_restart_never: bool = False
    antrea_policies: tuple[str, ...] = ()
    calico_policies: tuple[str, ...] = ()
    calico_workloads: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """One idempotent unit of work. ``target`` is the network a CNI/restart/ready step moves pods to."""

    id: str
    kind: StepKind
    phase: PhaseName
    node: str | None = None
    target: Network | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class NodeSteps:
    """The steps of one node inside a batch, run in order."""

    node: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Batch:
    """Nodes handled in parallel; the next batch starts when every node here is done and Ready."""

    index: int  # 1-based within its phase
    nodes: tuple[NodeSteps, ...]
    control_plane: bool = False

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.node for n in self.nodes)


@dataclass(frozen=True, slots=True)
class Phase:
    """Either cluster-wide ``steps`` run one after another, or ``batches`` of nodes."""

    name: PhaseName
    steps: tuple[Step, ...] = ()
    batches: tuple[Batch, ...] = ()

    def all_steps(self) -> Iterator[Step]:
        yield from self.steps
        for batch in self.batches:
            for node in batch.nodes:
                yield from node.steps


@dataclass(frozen=True, slots=True)
class NodeSummary:
    """What the plan will do to one node's pods (for display)."""

    node: str
    control_plane: bool
    restart: int  # pod-network pods restarted in place
    host_network: int  # untouched
    never_skipped: tuple[str, ...]  # restartPolicy Never pods left alone
    pdbs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered migration. Empty ``phases`` and non-empty ``refusals`` when it must not run."""

    strategy: Strategy
    batch_size: int
    phases: tuple[Phase, ...]
    drain: tuple[str, ...]
    deletions: tuple[str, ...]
    warnings: tuple[str, ...]
    refusals: tuple[str, ...]
    nodes: tuple[NodeSummary, ...]
    antrea_manifest: str | None = None
    force_restart_never: bool = False

    @property
    def runnable(self) -> bool:
        return not self.refusals

    @property
    def plan_id(self) -> str:
        """A digest of strategy and step ids: a resumed run must be running the same plan."""
        digest = hashlib.sha256(self.strategy.value.encode())
        for step in self.steps():
            digest.update(b"\0" + step.id.encode())
        return digest.hexdigest()[:16]

    def steps(self) -> Iterator[Step]:
        """Every step in execution order (batch nodes listed in batch order)."""
        for phase in self.phases:
            yield from phase.all_steps()

    def step(self, step_id: str) -> Step:
        for step in self.steps():
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``run --plan -o json|yaml``."""
        return {
            "strategy": self.strategy.value,
            "batchSize": self.batch_size,
            "planId": self.plan_id,
            "runnable": self.runnable,
            "refusals": list(self.refusals),
            "warnings": list(self.warnings),
            "drain": list(self.drain),
            "antreaManifest": self.antrea_manifest,
            "deletions": list(self.deletions),
            "phases": [_phase_dict(p) for p in self.phases],
            "nodes": [
                {
                    "name": n.node,
                    "controlPlane": n.control_plane,
                    "podsRestarted": n.restart,
                    "hostNetworkUntouched": n.host_network,
                    "restartPolicyNeverSkipped": list(n.never_skipped),
                    "podDisruptionBudgets": list(n.pdbs),
                }
                for n in self.nodes
            ],
        }

    def render_text(self) -> str:
        """The human plan ``run --plan`` prints."""
        lines = [f"Migration plan (strategy {self.strategy.value}, batch size {self.batch_size}, "
                 f"plan {self.plan_id})"]
        if self.refusals:
            lines.append("REFUSED: this cluster cannot be migrated as it is:")
            lines.extend(f"  - {r}" for r in self.refusals)
        lines.extend(f"WARNING: {w}" for w in self.warnings)
        if self.drain:
            lines.append(f"Nodes drained first (Pod CIDR overlap), uncordoned after their switch: "
                         f"{', '.join(self.drain)}")
        if self.antrea_manifest:
            lines.append(f"Antrea manifest applied server-side: {self.antrea_manifest}")
        for number, phase in enumerate(self.phases, start=1):
            lines.append(f"{number}. {phase.name.value}")
            lines.extend(f"     - {s.description}" for s in phase.steps)
            for batch in phase.batches:
                label = " (control plane)" if batch.control_plane else ""
                lines.append(f"     batch {batch.index}{label}: {', '.join(batch.node_names)}")
            if phase.batches:
                lines.append("       per node: " + " -> ".join(s.description for s in phase.batches[0].nodes[0].steps))
        if self.deletions:
            lines.append("Will delete:")
            lines.extend(f"  - {d}" for d in self.deletions)
        return "\n".join(lines)


def default_batch_size(workers: int) -> int:
    """A safe fraction of the worker nodes: 10%, at least one."""
    return max(1, int(workers * DEFAULT_BATCH_FRACTION))


def build_plan(nodes: Sequence[NodeSpec], options: PlanOptions) -> Plan:
    """Plan the migration of ``nodes``.

    Args:
        nodes: every node of the cluster, as the cluster edge read it.
        options: strategy, batch size and what the edge found (policies, Calico workloads).

    Returns:
        The plan; when ``refusals`` is non-empty it has no phases and must not run.

    Raises:
        UsageError: a batch size below 1.
        InputError: two nodes with the same name.
    """
    if options.batch_size is not None and options.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {options.batch_size}")
    _check_unique(nodes)
    ordered = sorted(nodes, key=lambda n: n.name)
    workers = [n for n in ordered if not n.control_plane]
    control = [n for n in ordered if n.control_plane]
    batch_size = options.batch_size or default_batch_size(len(workers))
    summaries = tuple(_summarize(n, options.force_restart_never) for n in ordered)
    refusals = _refusals(ordered, options)
    drain = tuple(n.name for n in ordered if n.overlapped or n.holds_overlapping_block)
    warnings = _warnings(options, summaries)
    base = Plan(strategy=options.strategy, batch_size=batch_size, phases=(), drain=drain, deletions=(),
                warnings=warnings, refusals=refusals, nodes=summaries, antrea_manifest=options.antrea_manifest,
                force_restart_never=options.force_restart_never)
    if refusals:
        return base
    groups = _node_groups(workers, control, batch_size)
    phases = (
        Phase(PhaseName.PREFLIGHT, steps=(_step(StepKind.PREFLIGHT, PhaseName.PREFLIGHT,
                                                description="pre-flight check: no blocker left"),)),
        Phase(PhaseName.AGENTS, steps=(_step(StepKind.INSTALL_AGENTS, PhaseName.AGENTS,
                                             description="install the node agents and wait until Ready"),)),
        *_drain_phase(drain),
        *_antrea_phase(options),
        Phase(PhaseName.POLICIES, steps=(
            _step(StepKind.BACKUP_CALICO_POLICIES, PhaseName.POLICIES,
                  description=f"back up {len(options.calico_policies)} Calico policy objects"),
            _step(StepKind.APPLY_ANTREA_POLICIES, PhaseName.POLICIES,
                  description=f"apply {len(options.antrea_policies)} converted Antrea policy objects"),
        )),
        *_node_phases(groups, options.strategy, frozenset(drain)),
        _calico_removal_phase(options),
        Phase(PhaseName.CLEANUP, batches=_batches(
            groups, lambda node: (_step(StepKind.CLEANUP_NODE, PhaseName.CLEANUP, node,
                                        description="remove Calico links, routes, chains, ipsets, conf"),))),
        Phase(PhaseName.FINAL_CHECK, steps=(_step(StepKind.FINAL_CHECK, PhaseName.FINAL_CHECK,
                                                  description="final check: no Calico left, pods on Antrea"),)),
    )
    return replace(base, phases=phases, deletions=_deletions(options, len(ordered)))


def build_rollback_plan(plan: Plan, remove_antrea_policies: bool = False) -> Plan:
    """The way back, valid until Calico is removed: Calico's conf in force again, pods restarted onto it.

    Same batches as ``plan``; drained nodes are uncordoned at the end of their rollback steps.
    """
    drained = frozenset(plan.drain)
    groups = _groups_of(plan)
    phases: list[Phase] = [Phase(PhaseName.ROLLBACK, batches=_batches(
        groups, lambda node: _pod_move_steps(PhaseName.ROLLBACK, node, Network.CALICO, node in drained)))]
    if remove_antrea_policies:
        phases.append(Phase(PhaseName.ROLLBACK_POLICIES, steps=(
            _step(StepKind.REMOVE_ANTREA_POLICIES, PhaseName.ROLLBACK_POLICIES,
                  description="remove the Antrea policies this run applied"),)))
    return Plan(
        strategy=plan.strategy, batch_size=plan.batch_size, phases=tuple(phases), drain=plan.drain,
        deletions=("the Antrea policies this run applied",) if remove_antrea_policies else (),
        warnings=(), refusals=(), nodes=plan.nodes, force_restart_never=plan.force_restart_never,
    )


# --- internals -------------------------------------------------------------------------------------

_Group = tuple[tuple[str, ...], bool]  # node names, control plane


def _check_unique(nodes: Sequence[NodeSpec]) -> None:
    seen: set[str] = set()
    for index, node in enumerate(nodes):
        if node.name in seen:
            raise InputError(f"node {node.name!r} listed twice", Location(kind="Node", name=node.name,
                                                                          path=f"nodes[{index}]"))
        seen.add(node.name)


def _refusals(nodes: Sequence[NodeSpec], options: PlanOptions) -> tuple[str, ...]:
    refusals: list[str] = []
    no_cidr = [n.name for n in nodes if not n.pod_cidr]
    if no_cidr:
        refusals.append(f"nodes without spec.podCIDR, where Antrea cannot start: {', '.join(no_cidr)}; run "
                        "kube-controller-manager with --allocate-node-cidrs and re-register them")
    with_cidr = [n for n in nodes if n.pod_cidr]
    overlapped = [n.name for n in with_cidr if n.overlapped]
    if 2 * len(overlapped) > len(with_cidr):
        refusals.append(
            f"{len(overlapped)} of {len(with_cidr)} nodes have a podCIDR overlapping Calico IPAM blocks "
            f"({', '.join(overlapped)}): the Calico IPPool shares the nodes' pod CIDR range, and draining that "
            "many nodes would empty the cluster. Change the IPPool first: create a Calico IPPool outside the "
            "node podCIDRs, disable the old one, restart the pods so they take addresses from the new pool, "
            "then run `check` again")
    if not options.antrea_installed and not options.antrea_manifest:
        refusals.append("Antrea is not installed: give --antrea-manifest FILE")
    return tuple(refusals)


def _warnings(options: PlanOptions, nodes: Sequence[NodeSummary]) -> tuple[str, ...]:
    warnings: list[str] = []
    if options.strategy is Strategy.DIRECT:
        warnings.append("strategy direct: pods already on Antrea and pods still on Calico cannot talk to each "
                        "other until every batch is switched (use --strategy multus to keep them talking)")
    never = [p for n in nodes for p in n.never_skipped]
    if never:
        what = "restarted anyway (--force)" if options.force_restart_never else "left on Calico"
        warnings.append(f"restartPolicy Never pods are killed, not restarted, by a sandbox restart; "
                        f"{len(never)} will be {what}: {', '.join(never)}")
    return tuple(warnings)


def _summarize(node: NodeSpec, force_never: bool) -> NodeSummary:
    pod_network = [p for p in node.pods if not p.host_network]
    never = tuple(p.key for p in pod_network if p.restart_policy == "Never" and not force_never)
    return NodeSummary(
        node=node.name, control_plane=node.control_plane, restart=len(pod_network) - len(never),
        host_network=len(node.pods) - len(pod_network), never_skipped=never,
        pdbs=tuple(sorted({p.pdb for p in pod_network if p.pdb})),
    )


def _node_groups(workers: Sequence[NodeSpec], control: Sequence[NodeSpec], size: int) -> tuple[_Group, ...]:
    # Control-plane nodes come last and one at a time: losing two at once can cost the apiserver quorum.
    names = [n.name for n in workers]
    groups: list[_Group] = [(tuple(names[i:i + size]), False) for i in range(0, len(names), size)]
    groups.extend(((n.name,), True) for n in control)
    return tuple(groups)


def _groups_of(plan: Plan) -> tuple[_Group, ...]:
    for phase in plan.phases:
        if phase.name in (PhaseName.SWITCH, PhaseName.ROLLBACK):
            return tuple((b.node_names, b.control_plane) for b in phase.batches)
    return ()


def _batches(groups: Sequence[_Group], steps_of: Callable[[str], tuple[Step, ...]]) -> tuple[Batch, ...]:
    return tuple(
        Batch(index, tuple(NodeSteps(node, steps_of(node)) for node in names), control_plane)
        for index, (names, control_plane) in enumerate(groups, start=1)
    )


def _step(kind: StepKind, phase: PhaseName, node: str | None = None, target: Network | None = None,
          description: str = "") -> Step:
    parts = [phase.value] + ([node] if node else []) + ([kind.value] if node or kind.value != phase.value else [])
    return Step("/".join(parts), kind, phase, node, target, description or kind.value)


def _pod_move_steps(phase: PhaseName, node: str, target: Network, uncordon: bool) -> tuple[Step, ...]:
    conf = {Network.MULTUS: "multus on (00-multus.conf: Calico then Antrea)",
            Network.ANTREA: "Antrea conf in force (multus off)",
            Network.CALICO: "Calico conf in force again"}[target]
    steps = [
        _step(StepKind.SET_CNI, phase, node, target, conf),
        _step(StepKind.RESTART_PODS, phase, node, target, f"restart pods onto {target.value}"),
        _step(StepKind.WAIT_READY, phase, node, target, "wait Ready"),
    ]
    if uncordon:
        steps.append(_step(StepKind.UNCORDON, phase, node, description="uncordon"))
    return tuple(steps)


def _drain_phase(drain: Sequence[str]) -> tuple[Phase, ...]:
    if not drain:
        return ()
    return (Phase(PhaseName.DRAIN, steps=tuple(
        _step(StepKind.DRAIN, PhaseName.DRAIN, node, description=f"drain {node} (Pod CIDR overlap)")
        for node in drain)),)


def _antrea_phase(options: PlanOptions) -> tuple[Phase, ...]:
    if options.antrea_installed:
        return ()
    return (Phase(PhaseName.ANTREA, steps=(_step(
        StepKind.INSTALL_ANTREA, PhaseName.ANTREA,
        description=f"server-side apply {options.antrea_manifest} and wait for antrea-agent on every node"),)),)


def _node_phases(groups: Sequence[_Group], strategy: Strategy, drained: frozenset[str]) -> tuple[Phase, ...]:
    switch = Phase(PhaseName.SWITCH, batches=_batches(
        groups, lambda node: _pod_move_steps(PhaseName.SWITCH, node, Network.ANTREA, node in drained)))
    if strategy is Strategy.DIRECT:
        return (switch,)
    bridge = Phase(PhaseName.BRIDGE, batches=_batches(
        groups, lambda node: _pod_move_steps(PhaseName.BRIDGE, node, Network.MULTUS, False)))
    return (bridge, switch)


def _calico_removal_phase(options: PlanOptions) -> Phase:
    steps = [_step(StepKind.REMOVE_CALICO, PhaseName.CALICO_REMOVAL,
                   description="remove Calico workloads (no rollback after this)")]
    if options.delete_calico_policies:
        steps.append(_step(StepKind.DELETE_CALICO_POLICIES, PhaseName.CALICO_REMOVAL,
                           description=f"delete {len(options.calico_policies)} Calico policy objects (backed up)"))
    return Phase(PhaseName.CALICO_REMOVAL, steps=tuple(steps))


def _deletions(options: PlanOptions, node_count: int) -> tuple[str, ...]:
    workloads = options.calico_workloads or (
        "the calico-node, calico-typha and calico-kube-controllers resources found in the cluster",)
    deletions = [f"Calico workload: {w}" for w in workloads]
    deletions.append(f"on each of the {node_count} nodes: Calico links (tunl0, vxlan.calico, cali*), Calico "
                     "routes, cali-* chains and jumps (legacy and nft), Calico ipsets; the Calico CNI conf and "
                     "kubeconfig are moved to a backup directory")
    if options.delete_calico_policies:
        deletions.append(f"Calico policy objects ({len(options.calico_policies)}), after a backup")
    else:
        deletions.append("Calico policy objects are kept (backed up; --delete-calico-policies deletes them)")
    return tuple(deletions)


def _phase_dict(phase: Phase) -> dict[str, Any]:
    out: dict[str, Any] = {"name": phase.name.value}
    if phase.steps:
        out["steps"] = [_step_dict(s) for s in phase.steps]
    if phase.batches:
        out["batches"] = [
            {"index": b.index, "controlPlane": b.control_plane,
             "nodes": [{"name": n.node, "steps": [_step_dict(s) for s in n.steps]} for n in b.nodes]}
            for b in phase.batches
        ]
    return out


def _step_dict(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"id": step.id, "kind": step.kind.value, "description": step.description}
    if step.target is not None:
        out["target"] = step.target.value
    return out
