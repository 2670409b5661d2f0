"""Pod sandboxes through the CRI socket: stop and remove the ones on the pod network, so the kubelet
recreates them on the CNI now in force.

Design: the seed ran ``pkill -9 /pause``, which also kills every hostNetwork pod (kube-proxy,
calico-node, antrea-agent). Here a sandbox is only touched when the runtime itself says its network
namespace is the pod's own: ``PodSandboxStatus`` ``status.linux.namespaces.options.network == POD``.
``ListPodSandbox`` items look the same for both kinds, so every candidate costs one status call. A
sandbox whose status carries no Linux namespace options is left alone (unknown is not POD).

The CRI cannot tell a pod's ``restartPolicy``; the caller (the plugin, which has the pod specs) passes
the pods with ``restartPolicy: Never`` and they are skipped unless forced: killing them loses them.

Idempotent: stop and remove are idempotent in the CRI; a sandbox gone between list and kill is
``ABSENT``; ``created_before_ns`` lets a retry leave alone sandboxes the kubelet recreated since.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from kubectl_antrea_migrate.nodestate.model import Result, SandboxOutcome
from node_agent._pb import api_pb2, api_pb2_grpc

__all__ = ["CRI_SOCKETS", "CriError", "CriSocketNotFound", "PodRef", "Sandboxes", "find_endpoint"]

# The runtimes' default sockets, in the order kubelet users most often have them.
CRI_SOCKETS: tuple[str, ...] = (
    "run/containerd/containerd.sock",
    "run/crio/crio.sock",
    "var/run/containerd/containerd.sock",
    "var/run/crio/crio.sock",
    "run/k3s/containerd/containerd.sock",
)

_CALL_TIMEOUT = 30.0  # seconds per CRI call; StopPodSandbox runs CNI DEL, which can be slow
_HOST_NETWORK_DETAIL = "hostNetwork: shares the node's network namespace; never touched"

_Rep = TypeVar("_Rep")
# Builds the outcome of one sandbox from (result, detail, seconds); the sandbox's identity is bound in.
_OutcomeFn = Callable[..., SandboxOutcome]


class CriError(Exception):
    """The container runtime could not be reached or refused a call; ``str()`` names the endpoint."""


class CriSocketNotFound(CriError):
    """No CRI socket exists at the given endpoint or at any of the usual paths."""

    def __init__(self, tried: Sequence[str]) -> None:
        self.tried = tuple(tried)
        super().__init__(
            "no CRI socket found; tried: " + ", ".join(self.tried) + " (pass --cri-endpoint unix:///path/to.sock)"
        )


@dataclass(frozen=True, slots=True)
class PodRef:
    """A pod by namespace and name."""

    namespace: str
    name: str


def find_endpoint(host_root: Path = Path("/"), endpoint: str | None = None) -> str:
    """Return the ``unix://`` endpoint of the node's CRI socket.

    Args:
        host_root: prefix of the host's file system (the agent's ``--host-root``).
        endpoint: explicit ``unix:///path`` or ``/path`` (``--cri-endpoint``); used as given, not
            prefixed with ``host_root``.

    Raises:
        CriSocketNotFound: listing every path tried.
    """
    if endpoint:
        path = Path(endpoint.removeprefix("unix://"))
        if path.is_socket():
            return f"unix://{path}"
        raise CriSocketNotFound([str(path)])
    candidates = [host_root / rel for rel in CRI_SOCKETS]
    for path in candidates:
        if path.is_socket():
            return f"unix://{path}"
    raise CriSocketNotFound([str(p) for p in candidates])


def _selected(meta: api_pb2.PodSandboxMetadata, namespaces: frozenset[str], pods: frozenset[str]) -> bool:
    if namespaces and meta.namespace not in namespaces:
        return False
    return not pods or meta.name in pods or f"{meta.namespace}/{meta.name}" in pods


class Sandboxes:
    """The node's pod sandboxes, seen through one CRI endpoint.

    Args:
        endpoint: ``unix:///path`` of the runtime's CRI socket (see ``find_endpoint``).
        timeout: seconds allowed for each CRI call.
    """

    def __init__(self, endpoint: str, timeout: float = _CALL_TIMEOUT) -> None:
        self.endpoint = endpoint
        self._timeout = timeout
        self._channel = grpc.insecure_channel(endpoint)
        self._cri = api_pb2_grpc.RuntimeServiceStub(self._channel)

    def close(self) -> None:
        """Close the gRPC channel."""
        self._channel.close()

    def __enter__(self) -> Sandboxes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def version(self) -> str:
        """Return ``runtime_name runtime_version (CRI runtime_api_version)``.

        Raises:
            CriError: the runtime is unreachable or does not speak CRI v1.
        """
        reply = self._call("Version", self._cri.Version, api_pb2.VersionRequest(version="v1"))
        return f"{reply.runtime_name} {reply.runtime_version} (CRI {reply.runtime_api_version})"

    def kill(
        self,
        namespaces: Iterable[str] = (),
        pods: Iterable[str] = (),
        dry_run: bool = False,
        force: bool = False,
        never_restart: Iterable[PodRef] = (),
        created_before_ns: int = 0,
    ) -> tuple[SandboxOutcome, ...]:
        """Stop and remove the READY pod-network sandboxes; report every selected sandbox.

        Idempotent: a sandbox already gone is ``ABSENT``; hostNetwork sandboxes are always
        ``SKIPPED``; with ``dry_run`` nothing changes and candidates are ``PLANNED``.

        Args:
            namespaces: only pods in these namespaces (empty: all).
            pods: only these pods, ``name`` (any namespace) or ``namespace/name`` (empty: all).
            dry_run: list what would be killed, change nothing.
            force: also kill pods listed in ``never_restart``.
            never_restart: pods with ``restartPolicy: Never`` (skipped unless ``force``).
            created_before_ns: only sandboxes created before this Unix time in ns (0: any).

        Returns:
            One outcome per selected READY sandbox, ordered by namespace, pod name, sandbox id.

        Raises:
            CriError: listing the sandboxes failed (per-sandbox failures are ``FAILED`` outcomes).
        """
        ns_filter, pod_filter = frozenset(namespaces), frozenset(pods)
        never = frozenset(never_restart)
        ready = api_pb2.PodSandboxFilter(state=api_pb2.PodSandboxStateValue(state=api_pb2.SANDBOX_READY))
        listed = self._call("ListPodSandbox", self._cri.ListPodSandbox, api_pb2.ListPodSandboxRequest(filter=ready))
        chosen = [
            sb
            for sb in listed.items
            if _selected(sb.metadata, ns_filter, pod_filter)
            and (not created_before_ns or sb.created_at < created_before_ns)
        ]
        chosen.sort(key=lambda sb: (sb.metadata.namespace, sb.metadata.name, sb.id))
        return tuple(self._handle(sb, dry_run, force, never) for sb in chosen)

    def _handle(self, sb: api_pb2.PodSandbox, dry_run: bool, force: bool, never: frozenset[PodRef]) -> SandboxOutcome:
        meta = sb.metadata

        def outcome(result: Result, detail: str = "", seconds: float = 0.0, host: bool = False) -> SandboxOutcome:
            return SandboxOutcome(meta.name, meta.namespace, sb.id, result, seconds, detail, host)

        try:
            status = self._cri.PodSandboxStatus(
                api_pb2.PodSandboxStatusRequest(pod_sandbox_id=sb.id), timeout=self._timeout
            ).status
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return outcome(Result.ABSENT, "sandbox already removed")
            return outcome(Result.FAILED, f"PodSandboxStatus: {_rpc_detail(exc)}")
        if not status.linux.HasField("namespaces") or not status.linux.namespaces.HasField("options"):
            return outcome(Result.SKIPPED, "runtime reports no network namespace mode; left alone")
        mode = status.linux.namespaces.options.network
        if mode == api_pb2.NODE:
            return outcome(Result.SKIPPED, _HOST_NETWORK_DETAIL, host=True)
        if mode != api_pb2.POD:
            return outcome(Result.SKIPPED, f"network namespace mode {api_pb2.NamespaceMode.Name(mode)}; left alone")
        if PodRef(meta.namespace, meta.name) in never and not force:
            return outcome(Result.SKIPPED, "restartPolicy Never: the pod would not come back; use force")
        if dry_run:
            return outcome(Result.PLANNED, "would stop and remove the sandbox")
        return self._stop_remove(sb.id, outcome)

    def _stop_remove(self, sandbox_id: str, outcome: _OutcomeFn) -> SandboxOutcome:
        start = time.monotonic()
        try:
            self._cri.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id=sandbox_id), timeout=self._timeout)
            self._cri.RemovePodSandbox(
                api_pb2.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id), timeout=self._timeout
            )
        except grpc.RpcError as exc:
            return outcome(Result.FAILED, _rpc_detail(exc), time.monotonic() - start)
        return outcome(Result.DONE, "stopped and removed", time.monotonic() - start)

    def _call(self, name: str, method: Callable[..., _Rep], request: Any) -> _Rep:
        try:
            return method(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise CriError(f"CRI {name} failed at {self.endpoint}: {_rpc_detail(exc)}") from exc


def _rpc_detail(exc: grpc.RpcError) -> str:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return f"{code.name if code else 'ERROR'}: {details}"
