"""Glue shared by ``run``, ``rollback`` and ``status``: options -> adapters, plan, progress display, summary.

I/O and wiring only: the plan is ``migrate/plan.py``'s, the steps are ``migrate/runner.py``'s, the
cluster and node calls are ``cluster/migration.py``'s and ``agents/migration.py``'s.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from kubectl_antrea_migrate.cli.options import OutputFormat, cluster_client
from kubectl_antrea_migrate.convert.result import ConvertOptions
from kubectl_antrea_migrate.errors import InputError, Location, UsageError
from kubectl_antrea_migrate.migrate.plan import Plan, PlanOptions, Strategy, build_plan
from kubectl_antrea_migrate.migrate.runner import EventKind, Ports, ProgressEvent, RunResult, SystemClock
from kubectl_antrea_migrate.migrate.state import MigrationState
from kubectl_antrea_migrate.output import table

if TYPE_CHECKING:  # the edges pull in kubernetes and grpc: imported only when a command runs
    from kubectl_antrea_migrate.agents.migration import AgentNodes
    from kubectl_antrea_migrate.cluster.client import KubeClient
    from kubectl_antrea_migrate.cluster.migration import ClusterMigration, MigrationConfig, PlanFacts
    from kubectl_antrea_migrate.cluster.state_store import ConfigMapStateStore

__all__ = [
    "AgentEndpointOpt",
    "AntreaSubnetOpt",
    "Migration",
    "NamespaceOpt",
    "RichProgress",
    "TlsDirOpt",
    "YesOpt",
    "confirm",
    "holder_name",
    "open_migration",
    "print_summary",
    "result_document",
]

NamespaceOpt = Annotated[
    str,
    typer.Option("--namespace", "-n", help="Agent namespace: the agents, their TLS Secret and the state ConfigMap."),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a terminal).")]
AgentEndpointOpt = Annotated[
    list[str] | None,
    typer.Option("--agent-endpoint", help="NODE=HOST:PORT: reach NODE's agent there, bypassing discovery and the "
                                          "agent install; repeatable."),
]
TlsDirOpt = Annotated[
    Path | None, typer.Option("--tls-dir", help="ca.crt, client.crt, client.key for the agents (default: the Secret).")
]
AntreaSubnetOpt = Annotated[
    list[str] | None,
    typer.Option("--antrea-subnet", help="CIDR Antrea gives pod IPs from, when not the Nodes' podCIDRs; repeatable."),
]


@dataclass(frozen=True, slots=True)
class Migration:
    """Everything one invocation wired up."""

    client: KubeClient
    store: ConfigMapStateStore
    state: MigrationState
    facts: PlanFacts
    plan: Plan
    cluster: ClusterMigration
    nodes: AgentNodes
    ports: Ports


def holder_name() -> str:
    """The lock holder for this invocation: ``user@host pid=N`` (unique, and tells a human who it is)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid={os.getpid()}"


def open_migration(
    *,
    kubeconfig: Path | None,
    context: str | None,
    config: MigrationConfig,
    strategy: Strategy | None,
    batch_size: int | None,
    delete_calico_policies: bool = False,
    agent_endpoints: Sequence[str] = (),
    tls_dir: Path | None = None,
    convert_policies: bool = True,
    convert_options: ConvertOptions | None = None,
    for_rollback: bool = False,
) -> Migration:
    """Connect, load the state, read the cluster, convert its policies and build the plan.

    ``strategy`` None takes the stored run's strategy (rollback), else multus. ``for_rollback``: the
    plan is only the run's shape (batches, drained nodes) for ``rollback``, which installs nothing,
    so a missing Antrea manifest is no reason to refuse it.
    """
    from kubectl_antrea_migrate.agents.migration import AgentNodes, parse_endpoints
    from kubectl_antrea_migrate.cluster.migration import ClusterMigration, read_plan_facts
    from kubectl_antrea_migrate.cluster.state_store import ConfigMapStateStore

    endpoints = parse_endpoints(agent_endpoints)
    client = cluster_client(kubeconfig, context)
    store = ConfigMapStateStore(client, config.namespace)
    state = store.load()
    config = replace(config, install_agents=config.install_agents and not endpoints)
    facts = read_plan_facts(client, config, state)
    antrea_names: tuple[str, ...] = ()
    if convert_policies:
        manifests, blockers = _convert(facts, convert_options or ConvertOptions())
        config = replace(config, policy_manifests=tuple(manifests), policy_blockers=blockers)
        antrea_names = tuple(f"{m['kind']} {m['metadata']['name']}" for m in manifests)
    chosen = strategy or (Strategy(state.strategy) if state.strategy else Strategy.MULTUS)
    plan = build_plan(facts.nodes, PlanOptions(
        strategy=chosen,
        batch_size=batch_size,
        antrea_installed=facts.antrea_installed or for_rollback,
        antrea_manifest=str(config.antrea_manifest) if config.antrea_manifest else None,
        delete_calico_policies=delete_calico_policies,
        antrea_policies=antrea_names,
        calico_policies=facts.calico_policies,
        calico_workloads=facts.calico_workloads,
    ))
    names = tuple(n.name for n in facts.nodes)
    nodes = AgentNodes(client, namespace=config.namespace, endpoints=endpoints, tls_dir=tls_dir)
    cluster = ClusterMigration(client, config, agents_ready=lambda: nodes.ping_all(names),
                               node_findings=lambda: nodes.findings(names))
    return Migration(client, store, state, facts, plan, cluster, nodes, Ports(cluster, nodes, SystemClock()))


def antrea_subnets(values: Sequence[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse ``--antrea-subnet`` values.

    Raises:
        InputError: a value is not a CIDR.
    """
    subnets = []
    for value in values:
        try:
            subnets.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise InputError(f"{value!r} is not a CIDR", Location(path="--antrea-subnet")) from None
    return tuple(subnets)


def confirm(question: str, yes: bool, stdin: TextIO | None = None) -> bool:
    """True when the user agreed (or gave ``--yes``).

    Raises:
        UsageError: no ``--yes`` and no terminal to ask on (exit 2).
    """
    if yes:
        return True
    stream = stdin or sys.stdin
    if not stream.isatty():
        raise UsageError(f"{question.rstrip('?')}: refusing without confirmation: no terminal to ask on; pass --yes")
    return typer.confirm(question, default=False)


def _convert(facts: PlanFacts, options: ConvertOptions) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The converted Antrea objects, and one blocker per object that cannot be converted or loaded."""
    from kubectl_antrea_migrate.antrea.render import render
    from kubectl_antrea_migrate.cli._live import inventory_from_snapshot
    from kubectl_antrea_migrate.convert import convert
    from kubectl_antrea_migrate.convert.result import Fidelity

    inventory, rejected = inventory_from_snapshot(facts.snapshot)
    result = convert(inventory, options)
    blockers = [f"Calico object cannot be loaded: {r}" for r in rejected]
    for report in result.reports:
        if report.fidelity is Fidelity.UNSUPPORTED:
            subject = f"{report.namespace}/{report.name}" if report.namespace else report.name
            reasons = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in report.problems)
            blockers.append(f"{report.kind} {subject} cannot be converted exactly: {reasons}")
    return [dict(m) for m in render(result.objects)], tuple(blockers)


class RichProgress:
    """``Progress`` on a rich live display: one bar per phase, one per node of the running batch.

    Without a terminal (CI, ``-o json``) it prints one line per event instead.
    """

    def __init__(self, plan: Plan, console: Console) -> None:
        self._plan = plan
        self._console = console
        self._live = console.is_terminal
        self._bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TimeElapsedColumn(), console=console, disable=not self._live, transient=False)
        self._phase_task: TaskID | None = None
        self._node_tasks: dict[str, TaskID] = {}
        self._steps_per_phase = {p.name.value: sum(1 for _ in p.all_steps()) for p in plan.phases}

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def event(self, event: ProgressEvent) -> None:
        """Render one event; never raises (the runner's outcome must not depend on the display)."""
        try:
            self._render(event)
        except Exception:  # a display glitch must not stop a migration
            return

    def _render(self, event: ProgressEvent) -> None:
        kind = event.kind
        if kind is EventKind.PHASE_STARTED and event.phase:
            total = self._steps_per_phase.get(event.phase, 0)
            self._phase_task = self._bars.add_task(f"phase {event.phase}", total=total or None)
            self._print(f"== phase {event.phase}")
        elif kind is EventKind.BATCH_STARTED:
            self._print(f"-- batch {event.batch} ({event.phase}): {', '.join(event.nodes)}")
            per_node = self._node_steps(event.phase)
            for node in event.nodes:
                self._node_tasks[node] = self._bars.add_task(f"  batch {event.batch} {node}", total=per_node)
        elif kind is EventKind.BATCH_DONE:
            for node in event.nodes:
                task = self._node_tasks.pop(node, None)
                if task is not None:
                    self._bars.remove_task(task)
        elif kind in (EventKind.STEP_DONE, EventKind.STEP_SKIPPED):
            self._advance(event)
            seconds = f" ({event.seconds:.1f}s)" if event.seconds is not None else ""
            verb = "done" if kind is EventKind.STEP_DONE else "skipped, done earlier"
            detail = f": {event.message}" if event.message and kind is EventKind.STEP_DONE else ""
            self._print(f"   {event.step_id} {verb}{seconds}{detail}")
        elif kind is EventKind.WAITING:
            self._print(f"   waiting{f' on {event.node}' if event.node else ''}: {event.message}")
        elif kind is EventKind.WARNING:
            self._print(f"warning: {event.message}")
        elif kind is EventKind.RUN_STARTED:
            self._print(f"run started: {event.message}")
        elif kind is EventKind.RUN_DONE:
            took = f" in {event.seconds:.1f}s" if event.seconds is not None else ""
            self._print(event.message or f"run finished{took}")
        elif kind is EventKind.RUN_FAILED:
            self._print(f"run stopped: {event.message}")

    def _node_steps(self, phase: str | None) -> int:
        for p in self._plan.phases:
            if p.name.value == phase and p.batches:
                return len(p.batches[0].nodes[0].steps)
        return 0

    def _advance(self, event: ProgressEvent) -> None:
        if self._phase_task is not None:
            self._bars.advance(self._phase_task)
        if event.node and event.node in self._node_tasks:
            self._bars.advance(self._node_tasks[event.node])

    def _print(self, line: str) -> None:
        self._console.print(line, markup=False, highlight=False)


def print_summary(result: RunResult, console: Console, title: str = "Migration summary") -> None:
    """The final summary: status, wall time, pods restarted, per-node timings, warnings, cordoned nodes."""
    state = result.state
    console.print(f"{title}: {state.status.value} in {result.seconds:.1f}s, {result.pods_restarted} pods restarted",
                  markup=False)
    latest = state.node_steps()
    rows = [(node, f"{seconds:.1f}", latest[node].id if node in latest else "")
            for node, seconds in result.node_seconds]
    if rows:
        console.print(table("Per-node timings", ("NODE", "SECONDS", "LAST STEP"), rows))
    for warning in result.warnings:
        console.print(f"warning: {warning}", markup=False)
    if state.cordoned:
        console.print(f"nodes still cordoned by this migration: {', '.join(state.cordoned)}", markup=False)


def result_document(result: RunResult) -> dict[str, Any]:
    """The run's result as plain data for ``-o json|yaml``."""
    return {
        "status": result.state.status.value,
        "seconds": round(result.seconds, 3),
        "podsRestarted": result.pods_restarted,
        "nodeSeconds": {node: round(seconds, 3) for node, seconds in result.node_seconds},
        "warnings": list(result.warnings),
        "cordoned": list(result.state.cordoned),
        "state": result.state.to_dict(),
    }


def output_console(output: OutputFormat) -> Console:
    """Where progress goes: stdout for tables, stderr when stdout carries json/yaml."""
    stream = sys.stdout if output is OutputFormat.TABLE else sys.stderr
    return Console(file=stream, soft_wrap=True, highlight=False)
