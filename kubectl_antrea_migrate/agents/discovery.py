"""Find a node's agent, load the plugin's TLS material, and call many agents at once.

Discovery contract (architecture.md "Agent contract"): the agent pods are labelled
``app.kubernetes.io/name=antrea-migrate-agent`` in the agent namespace; a node's agent is the pod with
``spec.nodeName`` equal to the node, reached at its ``status.hostIP`` on the container port named
``grpc``. During a rollout a node can briefly hold two pods: the one not terminating, running and
newest wins. ``--agent-endpoint HOST:PORT`` bypasses all this (debugging, tests).

The client TLS material comes from ``--tls-dir`` when given, else from Secret
``antrea-migrate-agent-tls`` in the agent namespace (written by ``agent install``).

``fan_out`` runs one call per node on a thread pool (each call is a blocking gRPC round trip); a
node that fails becomes a ``NodeOutcome`` with its error and the other nodes go on.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from kubectl_antrea_migrate.agents.client import AgentClient
from kubectl_antrea_migrate.agents.tls import ClientTls
from kubectl_antrea_migrate.cluster.agent_install import AGENT_LABEL, DEFAULT_NAMESPACE, SECRET_NAME
from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient, resource_path
from kubectl_antrea_migrate.errors import AgentError, ClusterError, MigrateError, UsageError

__all__ = [
    "AGENT_LABEL",
    "DEFAULT_NAMESPACE",
    "GRPC_PORT_NAME",
    "SECRET_NAME",
    "AgentTarget",
    "NodeFacts",
    "NodeOutcome",
    "call_agent",
    "fan_out",
    "find_agent",
    "find_agents",
    "load_client_tls",
    "parse_endpoint",
    "read_node_facts",
]

GRPC_PORT_NAME = "grpc"
_DEFAULT_WORKERS = 16

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class AgentTarget:
    """Where one node's agent answers.

    Attributes:
        node: the node's name.
        endpoint: ``HOST:PORT`` (IPv6 hosts in brackets).
        pod: ``namespace/name`` of the agent pod; ``""`` when given by ``--agent-endpoint``.
    """

    node: str
    endpoint: str
    pod: str = ""


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What the plugin tells a node's agent about its node.

    Attributes:
        node: the node's name.
        pod_cidrs: ``spec.podCIDRs`` (Antrea's ``antrea-gw0`` takes the first host of each).
        never_restart: (namespace, name) of the node's pods with ``restartPolicy: Never``, which
            KillSandboxes skips unless forced (their containers would not come back).
    """

    node: str
    pod_cidrs: tuple[str, ...] = ()
    never_restart: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class NodeOutcome(Generic[_T]):
    """One node's answer in a fan-out: ``value`` when the call succeeded, else ``error``."""

    node: str
    value: _T | None = None
    error: MigrateError | None = None

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error is None


def parse_endpoint(text: str, node: str = "") -> str:
    """Check ``--agent-endpoint`` (``HOST:PORT``, IPv6 in brackets) and return it.

    Raises:
        UsageError: not ``HOST:PORT`` with a port in 1..65535.
    """
    host, sep, port = text.rpartition(":")
    bad = not sep or not host or not port.isdigit() or not 0 < int(port) < 65536
    if bad or (":" in host and not (host.startswith("[") and host.endswith("]"))):
        raise UsageError(f"--agent-endpoint {text!r}: expected HOST:PORT, e.g. 10.0.0.5:10361 or [fd00::5]:10361")
    return text


def find_agents(client: KubeClient, namespace: str = DEFAULT_NAMESPACE) -> dict[str, AgentTarget | AgentError]:
    """Every node's agent, by node name, from one list of the agent pods.

    A node whose pods are all unusable (not running, no hostIP, no ``grpc`` port) maps to the
    ``AgentError`` saying why; nodes with no agent pod at all are absent from the result.

    Raises:
        ClusterError: the pods cannot be listed.
    """
    pods = _agent_pods(client, namespace, {})
    by_node: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if node:
            by_node.setdefault(node, []).append(pod)
    return {node: _pick(node, namespace, candidates) for node, candidates in sorted(by_node.items())}


def find_agent(client: KubeClient, node: str, namespace: str = DEFAULT_NAMESPACE) -> AgentTarget:
    """The agent of ``node``: its pod's ``status.hostIP`` and container port named ``grpc``.

    Raises:
        AgentError: no agent pod on the node, or none running with a hostIP and a ``grpc`` port.
        ClusterError: the pods cannot be listed.
    """
    pods = _agent_pods(client, namespace, {"fieldSelector": f"spec.nodeName={node}"})
    if not pods:
        raise AgentError(
            f"no agent pod ({AGENT_LABEL}) in namespace {namespace} on this node: "
            "run `kubectl antrea-migrate agent install` (or pass --namespace where it runs)",
            node=node,
        )
    found = _pick(node, namespace, pods)
    if isinstance(found, AgentError):
        raise found
    return found


def load_client_tls(
    client: KubeClient | None, namespace: str = DEFAULT_NAMESPACE, tls_dir: Path | None = None
) -> ClientTls:
    """The CA and client certificate to call agents with: from ``tls_dir`` or from the Secret.

    Raises:
        InputError: a file of ``tls_dir`` or a key of the Secret is missing.
        ClusterError: the Secret does not exist or cannot be read (403 names the missing permission).
        UsageError: neither ``tls_dir`` nor a cluster client.
    """
    if tls_dir is not None:
        return ClientTls.from_dir(tls_dir)
    if client is None:
        raise UsageError("no --tls-dir and no cluster to read Secret antrea-migrate-agent-tls from")
    path = resource_path("", "v1", "secrets", namespace=namespace, name=SECRET_NAME)
    try:
        secret = client.get_optional(path)
    except ApiError as exc:
        raise ClusterError(f"cannot read Secret {namespace}/{SECRET_NAME}: {exc}") from exc
    if secret is None:
        raise ClusterError(
            f"Secret {namespace}/{SECRET_NAME} not found: run `kubectl antrea-migrate agent install` "
            "(or pass --tls-dir)"
        )
    try:
        data = {k: base64.b64decode(v, validate=True) for k, v in (secret.get("data") or {}).items()}
    except (binascii.Error, ValueError) as exc:
        raise ClusterError(f"Secret {namespace}/{SECRET_NAME}: data is not base64: {exc}") from exc
    return ClientTls.from_secret_data(data)


def read_node_facts(client: KubeClient, node: str) -> NodeFacts:
    """Read ``node``'s podCIDRs and its pods with ``restartPolicy: Never`` (two requests).

    Raises:
        ClusterError: the Node does not exist or the apiserver refused.
    """
    obj = client.get_optional(resource_path("", "v1", "nodes", name=node))
    if obj is None:
        raise ClusterError(f"node {node} not found")
    spec = obj.get("spec") or {}
    cidrs = tuple(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))
    pods = client.get("/api/v1/pods", query={"fieldSelector": f"spec.nodeName={node}"})
    never = tuple(
        sorted(
            (str(p["metadata"].get("namespace") or ""), str(p["metadata"]["name"]))
            for p in pods.get("items") or ()
            if (p.get("spec") or {}).get("restartPolicy") == "Never"
        )
    )
    return NodeFacts(node, tuple(str(c) for c in cidrs), never)


def call_agent(
    target: AgentTarget, tls: ClientTls, call: Callable[[AgentClient], _T], timeout: float | None = None
) -> _T:
    """Open a client for ``target``, run ``call`` with it, and close it.

    Raises:
        AgentError: the agent did not answer or failed the RPC.
    """
    with AgentClient(target.endpoint, tls, target.node, timeout=timeout) as agent:
        return call(agent)


def fan_out(
    nodes: Iterable[str], call: Callable[[str], _T], max_workers: int = _DEFAULT_WORKERS
) -> tuple[NodeOutcome[_T], ...]:
    """Run ``call(node)`` for every node concurrently; one outcome per node, in input order.

    A ``MigrateError`` (an agent that does not answer, a node without an agent) becomes that node's
    ``error``; the other nodes are unaffected. Any other exception is a bug and propagates.
    """
    names = list(dict.fromkeys(nodes))

    def one(node: str) -> NodeOutcome[_T]:
        try:
            return NodeOutcome(node, value=call(node))
        except MigrateError as exc:
            return NodeOutcome(node, error=exc)

    if not names:
        return ()
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(names)))) as pool:
        return tuple(pool.map(one, names))


def _agent_pods(client: KubeClient, namespace: str, extra: Mapping[str, str]) -> list[dict[str, Any]]:
    query = {"labelSelector": AGENT_LABEL, **extra}
    try:
        listing = client.get(resource_path("", "v1", "pods", namespace=namespace), query=query)
    except ApiError as exc:
        raise ClusterError(f"cannot list the agent pods in namespace {namespace}: {exc}") from exc
    return list(listing.get("items") or ())


def _pick(node: str, namespace: str, pods: Iterable[Mapping[str, Any]]) -> AgentTarget | AgentError:
    """The usable pod (running, not terminating, newest first), or the error saying why there is none."""
    ranked = sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""), reverse=True)
    problems: list[str] = []
    for pod in ranked:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        ref = f"{namespace}/{meta.get('name')}"
        phase = str(status.get("phase") or "Pending")
        port = _grpc_port(pod)
        if meta.get("deletionTimestamp"):
            problems.append(f"agent pod {ref} is terminating")
        elif phase != "Running":
            problems.append(f"agent pod {ref} is {phase}, not Running")
        elif not status.get("hostIP"):
            problems.append(f"agent pod {ref} has no status.hostIP yet")
        elif port is None:
            problems.append(f"agent pod {ref} has no container port named {GRPC_PORT_NAME!r}")
        else:
            host = str(status["hostIP"])
            return AgentTarget(node, f"[{host}]:{port}" if ":" in host else f"{host}:{port}", ref)
    return AgentError("; ".join(problems) or "no agent pod", node=node)


def _grpc_port(pod: Mapping[str, Any]) -> int | None:
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == GRPC_PORT_NAME and port.get("containerPort"):
                return int(port["containerPort"])
    return None
