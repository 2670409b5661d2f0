"""The migration's node edge: ``NodePort`` (``migrate/runner.py``) over the node agents.

Each call finds the node's agent (``--agent-endpoint NODE=HOST:PORT`` first, else discovery), calls it
over mutual TLS and turns the per-object outcomes into success or an ``AgentError`` naming the node
and the objects that failed:

- ``use_cni``: SetCni. MULTUS writes ``00-multus.conf``; ANTREA removes it (and the Calico pin), so
  Antrea's ``10-antrea.conflist`` is first again; CALICO (rollback) writes the pin
  ``00-antrea-migrate-calico.conflist``, a copy of Calico's conflist that sorts before Antrea's conf,
  which antrea-agent would rewrite if it were only moved aside, and removes ``00-multus.conf``. The
  agent refuses CALICO (FAILED, nothing changed) once Calico's conf is gone. After a switch the
  Node gets the annotation ``kubectl-antrea-migrate/cni: <network>@<time>``: the cluster edge reads
  it to tell Multus pods (sandboxes made after the mark) from Calico ones, since the pod IP the
  kubelet reports is the Calico one in both cases.
- ``restart_pods``: KillSandboxes filtered to exactly the pods asked for, with the node's
  ``restartPolicy: Never`` pods passed along (the agent leaves them alone unless ``force_never``) and
  ``created_before_ns`` set to the call's start, so a sandbox the kubelet recreates meanwhile is
  never killed twice.
- ``cleanup_calico``: CleanupCalico; any FAILED object is an error (the step is retried on resume).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from kubectl_antrea_migrate.agents.client import AgentClient
from kubectl_antrea_migrate.agents.discovery import (
    AgentTarget,
    call_agent,
    fan_out,
    find_agent,
    load_client_tls,
    parse_endpoint,
    read_node_facts,
)
from kubectl_antrea_migrate.agents.tls import ClientTls
from kubectl_antrea_migrate.cluster.agent_install import DEFAULT_NAMESPACE
from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient, resource_path
from kubectl_antrea_migrate.cluster.migration import CNI_ANNOTATION, format_cni_mark
from kubectl_antrea_migrate.errors import AgentError, ClusterError, UsageError
from kubectl_antrea_migrate.migrate.plan import Network
from kubectl_antrea_migrate.nodestate.model import CniNetwork, NodeReport, Outcome, Result, SandboxOutcome
from kubectl_antrea_migrate.preflight.findings import Finding
from kubectl_antrea_migrate.preflight.nodes import nodes_findings

__all__ = ["AgentNodes", "parse_endpoints"]

_T = TypeVar("_T")

_CNI_NETWORKS = {
    Network.CALICO: CniNetwork.CALICO,
    Network.MULTUS: CniNetwork.MULTUS,
    Network.ANTREA: CniNetwork.ANTREA,
}


def parse_endpoints(values: Sequence[str]) -> dict[str, str]:
    """``--agent-endpoint NODE=HOST:PORT`` (repeatable) -> {node: endpoint}.

    Raises:
        UsageError: a value without ``NODE=`` or with a bad ``HOST:PORT``, or a node given twice.
    """
    endpoints: dict[str, str] = {}
    for value in values:
        node, sep, endpoint = value.partition("=")
        if not sep or not node:
            raise UsageError(f"--agent-endpoint {value!r}: expected NODE=HOST:PORT, e.g. worker-1=10.0.0.5:10361")
        if node in endpoints:
            raise UsageError(f"--agent-endpoint: node {node} given twice")
        endpoints[node] = parse_endpoint(endpoint)
    return endpoints


class AgentNodes:
    """``NodePort`` through the node agents.

    Args:
        client: the cluster client (discovery, TLS Secret, node facts, the CNI mark annotation).
        namespace: the agent namespace.
        endpoints: node -> ``HOST:PORT`` overrides (``--agent-endpoint``); other nodes are discovered.
        tls_dir: ``--tls-dir`` with ca.crt, client.crt, client.key; default: the agents' Secret.
        force_never: also restart ``restartPolicy: Never`` pods (they are killed, not restarted).
        timeout: seconds per RPC (None: the client's per-RPC defaults).
        now: wall clock, for the CNI mark and ``created_before_ns``.
    """

    def __init__(self, client: KubeClient, *, namespace: str = DEFAULT_NAMESPACE,
                 endpoints: Mapping[str, str] | None = None, tls_dir: Path | None = None,
                 force_never: bool = False, timeout: float | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self._client = client
        self._namespace = namespace
        self._endpoints = dict(endpoints or {})
        self._tls_dir = tls_dir
        self._force_never = force_never
        self._timeout = timeout
        self._now = now
        self._tls: ClientTls | None = None
        self._lock = threading.Lock()

    # -- NodePort

    def use_cni(self, node: str, network: Network) -> None:
        """Put ``network``'s conf in force on ``node`` (see the module docstring); idempotent.

        Raises:
            AgentError: the agent failed or refused a file (the message says which and why).
            UsageError: ``network`` is NONE (no conf to put in force).
        """
        cni = _CNI_NETWORKS.get(network)
        if cni is None:
            raise UsageError(f"node {node}: no CNI conf to put in force for network {network.value}")
        outcomes = self._call(node, lambda agent: agent.set_cni(cni))
        _raise_failed(node, "SetCni", outcomes)
        self._mark(node, network)

    def restart_pods(self, node: str, pods: tuple[str, ...]) -> tuple[str, ...]:
        """Stop and remove the sandboxes of ``pods`` (``namespace/name``); returns those removed."""
        if not pods:
            return ()
        facts = read_node_facts(self._client, node)
        started_ns = int(self._now() * 1e9)
        outcomes = self._call(node, lambda agent: agent.kill_sandboxes(
            pods=pods, force=self._force_never, never_restart=facts.never_restart, created_before_ns=started_ns))
        failed = [s for s in outcomes if s.result is Result.FAILED]
        if failed:
            raise AgentError("KillSandboxes failed for " + ", ".join(f"{s.namespace}/{s.pod}: {s.detail}"
                                                                     for s in failed), node=node)
        return _removed(outcomes)

    def cleanup_calico(self, node: str) -> None:
        """Remove Calico's links, routes, chains, ipsets and conf files from ``node``."""
        _raise_failed(node, "CleanupCalico", self._call(node, lambda agent: agent.cleanup_calico()))

    # -- used by the cluster edge and the CLI

    def ping_all(self, nodes: Sequence[str]) -> None:
        """Raise ``AgentError`` naming every node whose agent does not answer."""
        outcomes = fan_out(nodes, lambda node: self._call(node, lambda agent: agent.ping()))
        bad = [f"{o.node}: {o.error}" for o in outcomes if o.error is not None]
        if bad:
            raise AgentError("agents not answering: " + "; ".join(bad))

    def findings(self, nodes: Sequence[str]) -> tuple[Finding, ...]:
        """The pre-flight findings of every node whose agent answers (the others are skipped)."""
        def report(node: str) -> NodeReport:
            facts = read_node_facts(self._client, node)
            return self._call(node, lambda agent: agent.report(facts.pod_cidrs))

        return nodes_findings(o.value for o in fan_out(nodes, report) if o.value is not None)

    # -- internals

    def _call(self, node: str, call: Callable[[AgentClient], _T]) -> _T:
        return call_agent(self._target(node), self._client_tls(), call, self._timeout)

    def _target(self, node: str) -> AgentTarget:
        if node in self._endpoints:
            return AgentTarget(node, self._endpoints[node])
        return find_agent(self._client, node, self._namespace)

    def _client_tls(self) -> ClientTls:
        with self._lock:
            if self._tls is None:
                self._tls = load_client_tls(self._client, self._namespace, self._tls_dir)
            return self._tls

    def _mark(self, node: str, network: Network) -> None:
        patch = {"metadata": {"annotations": {CNI_ANNOTATION: format_cni_mark(network, self._now())}}}
        try:
            self._client.request("PATCH", resource_path("", "v1", "nodes", name=node), body=patch,
                                 content_type="application/merge-patch+json")
        except ApiError as exc:
            raise ClusterError(f"node {node}: cannot record the CNI switch ({CNI_ANNOTATION}): {exc}") from exc


def _raise_failed(node: str, rpc: str, outcomes: Sequence[Outcome]) -> None:
    failed = [o for o in outcomes if o.result is Result.FAILED]
    if failed:
        raise AgentError(f"{rpc} failed on " + "; ".join(f"{o.object}: {o.detail}" for o in failed), node=node, rpc=rpc)


def _removed(outcomes: Sequence[SandboxOutcome]) -> tuple[str, ...]:
    return tuple(sorted({f"{s.namespace}/{s.pod}" for s in outcomes if s.result is Result.DONE and not s.host_network}))
