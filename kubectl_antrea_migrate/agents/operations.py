"""``node NAME``: reach one node's agent and run what the user asked, in the migration's order.

Order when several actions are asked at once: CNI conf (``--cni`` or ``--multus``, so restarted pods
get the wanted network), then KillSandboxes (pods restart onto the conf in force), then the Calico
cleanup, then the report (so it shows the node as the actions left it). With ``dry_run`` every mutation is only planned.

Reaching the agent needs the cluster (discovery, TLS Secret, the Node's podCIDRs and its
``restartPolicy: Never`` pods) unless both ``--agent-endpoint`` and ``--tls-dir`` are given; then the
cluster is still asked for the node facts when it can be reached, and otherwise the run goes on
without them, saying so in ``notes`` (KillSandboxes then refuses unless forced: it could not tell
which pods would never come back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubectl_antrea_migrate.agents.client import AgentClient
from kubectl_antrea_migrate.agents.discovery import (
    DEFAULT_NAMESPACE,
    AgentTarget,
    NodeFacts,
    call_agent,
    find_agent,
    load_client_tls,
    parse_endpoint,
    read_node_facts,
)
from kubectl_antrea_migrate.agents.tls import ClientTls
from kubectl_antrea_migrate.cluster.client import KubeClient
from kubectl_antrea_migrate.errors import ClusterError, UsageError
from kubectl_antrea_migrate.nodestate.model import CniNetwork, NodeReport, Outcome, Result, SandboxOutcome
from kubectl_antrea_migrate.preflight.findings import Finding, has_blockers
from kubectl_antrea_migrate.preflight.nodes import node_findings

__all__ = ["NodeConnection", "NodeRequest", "NodeRun", "connect", "run", "run_on_node"]


@dataclass(frozen=True, slots=True)
class NodeRequest:
    """What ``node NAME`` was asked to do (no action at all means ``report``).

    Attributes:
        report: read the node and judge it (``preflight/nodes.py``).
        kill_sandbox: stop the node's pod-network sandboxes, filtered by ``namespaces`` and ``pods``.
        force: also kill pods with ``restartPolicy: Never``.
        multus: write (True) or remove (False) ``00-multus.conf``; None leaves it.
        cni: put this network's conf in force (SetCni; CALICO pins Calico's conf in front); None leaves it.
        cleanup_calico: remove every Calico object from the node.
        dry_run: plan the mutations, change nothing.
    """

    report: bool = False
    kill_sandbox: bool = False
    namespaces: tuple[str, ...] = ()
    pods: tuple[str, ...] = ()
    force: bool = False
    multus: bool | None = None
    cleanup_calico: bool = False
    dry_run: bool = False
    cni: CniNetwork | None = None

    @property
    def mutates(self) -> bool:
        """True when any mutating action is asked."""
        return self.kill_sandbox or self.multus is not None or self.cni is not None or self.cleanup_calico


@dataclass(frozen=True, slots=True)
class NodeConnection:
    """Everything needed to call one node's agent."""

    target: AgentTarget
    tls: ClientTls
    facts: NodeFacts
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeRun:
    """What the agent did (or would do) on one node, action by action, and the report if asked."""

    node: str
    endpoint: str
    dry_run: bool
    multus: tuple[Outcome, ...] = ()
    sandboxes: tuple[SandboxOutcome, ...] = ()
    cleanup: tuple[Outcome, ...] = ()
    report: NodeReport | None = None
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    cni: tuple[Outcome, ...] = ()

    @property
    def failed(self) -> bool:
        """True when any object's outcome is FAILED (exit 3)."""
        results = [o.result for o in (*self.cni, *self.multus, *self.cleanup)] + [s.result for s in self.sandboxes]
        return Result.FAILED in results

    @property
    def blocked(self) -> bool:
        """True when the report has a blocker (exit 1)."""
        return has_blockers(self.findings)


def connect(
    load_cluster: Callable[[], KubeClient],
    node: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    endpoint: str | None = None,
    tls_dir: Path | None = None,
) -> NodeConnection:
    """Find ``node``'s agent and the TLS material, and read the node facts the agent needs.

    Args:
        load_cluster: builds the cluster client (called at most once; may raise ``ClusterError``).
        node: the node's name.
        namespace: the agent namespace.
        endpoint: ``--agent-endpoint HOST:PORT``, bypassing discovery.
        tls_dir: ``--tls-dir``, instead of the Secret.

    Raises:
        AgentError: no usable agent pod on the node.
        ClusterError: the cluster is needed and cannot be read, or the node does not exist.
        UsageError: a bad ``endpoint``.
    """
    fixed = AgentTarget(node, parse_endpoint(endpoint)) if endpoint else None
    if fixed is not None and tls_dir is not None:
        try:
            client = load_cluster()
            return NodeConnection(fixed, load_client_tls(None, namespace, tls_dir), read_node_facts(client, node))
        except ClusterError as exc:
            note = f"cluster not read ({exc}): podCIDRs and restartPolicy=Never pods unknown"
            return NodeConnection(fixed, load_client_tls(None, namespace, tls_dir), NodeFacts(node), (note,))
    client = load_cluster()
    facts = read_node_facts(client, node)
    target = fixed or find_agent(client, node, namespace)
    return NodeConnection(target, load_client_tls(client, namespace, tls_dir), facts)


def run_on_node(agent: AgentClient, connection: NodeConnection, request: NodeRequest) -> NodeRun:
    """Run ``request`` through ``agent`` (see the module docstring for the order).

    Raises:
        AgentError: the agent did not answer or failed an RPC.
        UsageError: ``--kill-sandbox`` without knowing the node's pods and without ``force``.
    """
    facts = connection.facts
    if request.kill_sandbox and connection.notes and not request.force:
        raise UsageError(
            "--kill-sandbox: the node's restartPolicy=Never pods are unknown without the cluster; "
            "pass --force to kill them too"
        )
    cni = agent.set_cni(request.cni, request.dry_run) if request.cni is not None else ()
    multus = agent.set_multus(request.multus, request.dry_run) if request.multus is not None else ()
    sandboxes: tuple[SandboxOutcome, ...] = ()
    if request.kill_sandbox:
        sandboxes = agent.kill_sandboxes(
            namespaces=request.namespaces,
            pods=request.pods,
            dry_run=request.dry_run,
            force=request.force,
            never_restart=facts.never_restart,
        )
    cleanup = agent.cleanup_calico(request.dry_run) if request.cleanup_calico else ()
    report = agent.report(facts.pod_cidrs) if request.report or not request.mutates else None
    return NodeRun(
        node=connection.target.node,
        endpoint=connection.target.endpoint,
        dry_run=request.dry_run,
        cni=cni,
        multus=multus,
        sandboxes=sandboxes,
        cleanup=cleanup,
        report=report,
        findings=node_findings(report) if report is not None else (),
        notes=connection.notes,
    )


def run(connection: NodeConnection, request: NodeRequest, timeout: float | None = None) -> NodeRun:
    """``run_on_node`` through a client opened (and closed) for ``connection``."""
    return call_agent(connection.target, connection.tls, lambda agent: run_on_node(agent, connection, request), timeout)
