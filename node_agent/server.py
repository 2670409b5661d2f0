"""The gRPC servicer: protobuf in, one node subsystem call, protobuf out; errors become status codes.

Nothing here decides anything about the node: ``Node`` (report, CNI confs, Calico cleanup) and
``Sandboxes`` (CRI) do. This module owns the dataclass -> protobuf direction of the wire format (and
protobuf -> dataclass for request enums); the plugin's ``kubectl_antrea_migrate/agents/client.py``
owns the other directions.

Status codes (the message always names what is wrong):
  INVALID_ARGUMENT     bad request values (InputError, UsageError, ValueError)
  FAILED_PRECONDITION  the node lacks something: no CRI socket (paths tried), a missing backend binary
  PERMISSION_DENIED    missing privileges (the agent must run privileged, as root)
  UNAVAILABLE          the container runtime did not answer
  INTERNAL             anything else (a bug; logged with its traceback)
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from enum import Enum
from importlib import metadata
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf.message import Message

from kubectl_antrea_migrate.errors import InputError, MigrateError, UsageError
from kubectl_antrea_migrate.nodestate.model import (
    AddressConflict,
    CniConf,
    CniNetwork,
    CniScan,
    LinkInfo,
    NetfilterSummary,
    NodeReport,
    Outcome,
    RouteConflict,
    RouteInfo,
    SandboxOutcome,
    TableSummary,
)
from node_agent._commands import MissingBinaryError
from node_agent._pb import agent_pb2, agent_pb2_grpc
from node_agent.sandboxes import CriError, CriSocketNotFound, PodRef

__all__ = [
    "AgentServicer",
    "NodePort",
    "SandboxPort",
    "agent_version",
    "cni_network_from_pb",
    "outcome_to_pb",
    "register",
    "report_to_pb",
    "sandbox_outcome_to_pb",
]

log = logging.getLogger(__name__)

_Reply = TypeVar("_Reply", bound=Message)


class NodePort(Protocol):
    """The node subsystems (``node_agent.node.Node``), as the servicer uses them."""

    def report(self, pod_cidrs: tuple[str, ...] = ()) -> NodeReport:
        """Read the node; changes nothing."""
        ...

    def set_multus(self, enabled: bool, dry_run: bool) -> tuple[Outcome, ...]:
        """Write or remove 00-multus.conf; idempotent (already in the wanted state: ABSENT outcomes)."""
        ...

    def set_cni(self, network: CniNetwork, dry_run: bool) -> tuple[Outcome, ...]:
        """Put ``network``'s conf in force; idempotent (already in force: ABSENT outcomes)."""
        ...

    def cleanup_calico(self, dry_run: bool) -> tuple[Outcome, ...]:
        """Remove every Calico object; idempotent (nothing left: nothing but ABSENT outcomes)."""
        ...


class SandboxPort(Protocol):
    """The CRI side (``node_agent.sandboxes.Sandboxes``), as the servicer uses it."""

    def kill(
        self,
        namespaces: Iterable[str] = (),
        pods: Iterable[str] = (),
        dry_run: bool = False,
        force: bool = False,
        never_restart: Iterable[PodRef] = (),
        created_before_ns: int = 0,
    ) -> tuple[SandboxOutcome, ...]:
        """Stop and remove pod-network sandboxes; idempotent (a gone sandbox is not listed again)."""
        ...

    def close(self) -> None:
        """Release the CRI connection."""
        ...


def agent_version() -> str:
    """The installed distribution's version (what Ping reports)."""
    try:
        return metadata.version("kubectl-antrea-migrate")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _status_of(exc: Exception) -> grpc.StatusCode:
    match exc:
        case CriSocketNotFound() | MissingBinaryError() | FileNotFoundError():
            return grpc.StatusCode.FAILED_PRECONDITION
        case CriError():
            return grpc.StatusCode.UNAVAILABLE
        case InputError() | UsageError() | ValueError():
            return grpc.StatusCode.INVALID_ARGUMENT
        case PermissionError():
            return grpc.StatusCode.PERMISSION_DENIED
        case MigrateError():
            return grpc.StatusCode.FAILED_PRECONDITION
        case _:
            return grpc.StatusCode.INTERNAL


def _message_of(exc: Exception) -> str:
    if isinstance(exc, PermissionError):
        return f"missing privileges (the agent must run as root, privileged): {exc}"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"not found on the node: {exc.filename} ({exc.strerror})"
    if isinstance(exc, (MigrateError, CriError, MissingBinaryError, ValueError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _rpc(
    method: Callable[[AgentServicer, Any, grpc.ServicerContext], _Reply],
) -> Callable[[AgentServicer, Any, grpc.ServicerContext], _Reply]:
    """Log the call and turn any exception into a status code with a message naming the cause."""

    @functools.wraps(method)
    def wrapper(self: AgentServicer, request: Any, context: grpc.ServicerContext) -> _Reply:
        log.info("rpc=%s peer=%s", method.__name__, context.peer())
        try:
            return method(self, request, context)
        except Exception as exc:  # the boundary: every failure leaves as a status code
            code = _status_of(exc)
            if code is grpc.StatusCode.INTERNAL:
                log.exception("rpc=%s failed", method.__name__)
            else:
                log.warning("rpc=%s code=%s error=%s", method.__name__, code.name, exc)
            context.abort(code, _message_of(exc))
            raise  # unreachable: abort raises; keeps type checkers honest

    return wrapper


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    """Maps each RPC to one call of the node subsystems.

    Args:
        node_name: the node this agent runs on (Ping, and the report's node name).
        node: the node subsystems.
        sandboxes: opens the CRI client; called per KillSandboxes so a runtime that starts (or
            restarts) after the agent is still found, and a node without one can still Report.
        version: what Ping reports.
    """

    def __init__(
        self,
        node_name: str,
        node: NodePort,
        sandboxes: Callable[[], SandboxPort],
        version: str | None = None,
    ) -> None:
        self._node_name = node_name
        self._node = node
        self._sandboxes = sandboxes
        self._version = version or agent_version()
        # One mutation at a time: two CleanupCalico runs racing over the same chains would both fail.
        self._mutating = threading.Lock()

    @_rpc
    def Ping(self, request: agent_pb2.PingRequest, context: grpc.ServicerContext) -> agent_pb2.PingReply:
        return agent_pb2.PingReply(version=self._version, node=self._node_name)

    @_rpc
    def Report(self, request: agent_pb2.ReportRequest, context: grpc.ServicerContext) -> agent_pb2.NodeReport:
        return report_to_pb(self._node.report(tuple(request.pod_cidrs)))

    @_rpc
    def KillSandboxes(
        self, request: agent_pb2.KillSandboxesRequest, context: grpc.ServicerContext
    ) -> agent_pb2.KillSandboxesReply:
        sandboxes = self._sandboxes()
        try:
            with self._mutating:
                outcomes = sandboxes.kill(
                    namespaces=tuple(request.namespaces),
                    pods=tuple(request.pods),
                    dry_run=request.dry_run,
                    force=request.force,
                    never_restart=tuple(PodRef(p.namespace, p.name) for p in request.never_restart),
                    created_before_ns=request.created_before_ns,
                )
        finally:
            sandboxes.close()
        return agent_pb2.KillSandboxesReply(sandboxes=[sandbox_outcome_to_pb(o) for o in outcomes])

    @_rpc
    def SetMultus(self, request: agent_pb2.SetMultusRequest, context: grpc.ServicerContext) -> agent_pb2.OutcomesReply:
        with self._mutating:
            outcomes = self._node.set_multus(enabled=request.enabled, dry_run=request.dry_run)
        return agent_pb2.OutcomesReply(outcomes=[outcome_to_pb(o) for o in outcomes])

    @_rpc
    def SetCni(self, request: agent_pb2.SetCniRequest, context: grpc.ServicerContext) -> agent_pb2.OutcomesReply:
        network = cni_network_from_pb(request.network)
        with self._mutating:
            outcomes = self._node.set_cni(network, dry_run=request.dry_run)
        return agent_pb2.OutcomesReply(outcomes=[outcome_to_pb(o) for o in outcomes])

    @_rpc
    def CleanupCalico(
        self, request: agent_pb2.CleanupCalicoRequest, context: grpc.ServicerContext
    ) -> agent_pb2.OutcomesReply:
        with self._mutating:
            outcomes = self._node.cleanup_calico(dry_run=request.dry_run)
        return agent_pb2.OutcomesReply(outcomes=[outcome_to_pb(o) for o in outcomes])


def register(server: grpc.Server, servicer: AgentServicer) -> None:
    """Add the servicer to a gRPC server."""
    agent_pb2_grpc.add_AgentServiceServicer_to_server(servicer, server)


# dataclass -> protobuf. Enum values are named PREFIX_MEMBER in the proto (proto3 enum scoping rules).


def _enum_pb(prefix: str, value: Enum, pb_enum: Any) -> Any:
    return pb_enum.Value(f"{prefix}_{value.name}")


def cni_network_from_pb(value: int) -> CniNetwork:
    """The request's network; the one protobuf -> dataclass conversion on this side.

    Raises:
        ValueError: unspecified (a client that forgot it) or a value this agent does not know (a newer
            client); the servicer answers INVALID_ARGUMENT.
    """
    expected = ", ".join(f"CNI_NETWORK_{n.name}" for n in CniNetwork)
    try:
        member = agent_pb2.CniNetwork.Name(value).removeprefix("CNI_NETWORK_")
    except ValueError:
        raise ValueError(f"SetCni: unknown network value {value}: expected {expected}") from None
    if member not in CniNetwork.__members__:
        raise ValueError(f"SetCni: network is CNI_NETWORK_{member}: expected {expected}")
    return CniNetwork[member]


def outcome_to_pb(o: Outcome) -> agent_pb2.Outcome:
    """Convert one ``Outcome``."""
    return agent_pb2.Outcome(
        subsystem=o.subsystem,
        object=o.object,
        action=o.action,
        result=_enum_pb("RESULT", o.result, agent_pb2.Result),
        detail=o.detail,
    )


def sandbox_outcome_to_pb(o: SandboxOutcome) -> agent_pb2.SandboxOutcome:
    """Convert one ``SandboxOutcome``."""
    return agent_pb2.SandboxOutcome(
        pod=o.pod,
        namespace=o.namespace,
        sandbox_id=o.sandbox_id,
        result=_enum_pb("RESULT", o.result, agent_pb2.Result),
        seconds=o.seconds,
        detail=o.detail,
        host_network=o.host_network,
    )


def _cni_conf_pb(c: CniConf) -> agent_pb2.CniConf:
    return agent_pb2.CniConf(
        file=c.file,
        network=c.network,
        plugin_types=c.plugin_types,
        valid=c.valid,
        error=c.error,
        owner=_enum_pb("OWNER", c.owner, agent_pb2.Owner),
    )


def _cni_scan_pb(s: CniScan) -> agent_pb2.CniScan:
    scan = agent_pb2.CniScan(conf_dir=s.conf_dir, confs=[_cni_conf_pb(c) for c in s.confs], other_files=s.other_files)
    if s.active is not None:
        scan.active = s.active
    return scan


def _link_pb(link: LinkInfo) -> agent_pb2.LinkInfo:
    return agent_pb2.LinkInfo(
        name=link.name,
        kind=link.kind,
        owner=_enum_pb("OWNER", link.owner, agent_pb2.Owner),
        addresses=link.addresses,
        up=link.up,
        index=link.index,
    )


def _route_pb(r: RouteInfo) -> agent_pb2.RouteInfo:
    route = agent_pb2.RouteInfo(
        destination=r.destination,
        protocol=r.protocol,
        type=r.type,
        owner=_enum_pb("OWNER", r.owner, agent_pb2.Owner),
        table=r.table,
        onlink=r.onlink,
    )
    if r.device is not None:
        route.device = r.device
    if r.gateway is not None:
        route.gateway = r.gateway
    return route


def _route_conflict_pb(c: RouteConflict) -> agent_pb2.RouteConflict:
    return agent_pb2.RouteConflict(
        calico_route=_route_pb(c.calico_route),
        antrea_route=_route_pb(c.antrea_route),
        shadowed=c.shadowed,
        reason=c.reason,
    )


def _address_conflict_pb(c: AddressConflict) -> agent_pb2.AddressConflict:
    return agent_pb2.AddressConflict(address=c.address, holder=c.holder, reason=c.reason)


def _table_pb(t: TableSummary) -> agent_pb2.TableSummary:
    return agent_pb2.TableSummary(
        table=t.table,
        calico_chains=t.calico_chains,
        calico_rules=t.calico_rules,
        jump_rules=t.jump_rules,
        total_rules=t.total_rules,
    )


def _netfilter_pb(n: NetfilterSummary) -> agent_pb2.NetfilterSummary:
    return agent_pb2.NetfilterSummary(
        backend=_enum_pb("BACKEND", n.backend, agent_pb2.Backend),
        available=n.available,
        tables=[_table_pb(t) for t in n.tables],
        error=n.error,
    )


def report_to_pb(r: NodeReport) -> agent_pb2.NodeReport:
    """Convert a whole ``NodeReport``."""
    return agent_pb2.NodeReport(
        node=r.node,
        cni=_cni_scan_pb(r.cni),
        links=[_link_pb(link) for link in r.links],
        routes=[_route_pb(route) for route in r.routes],
        other_route_count=r.other_route_count,
        route_conflicts=[_route_conflict_pb(c) for c in r.route_conflicts],
        address_conflicts=[_address_conflict_pb(c) for c in r.address_conflicts],
        netfilter=[_netfilter_pb(n) for n in r.netfilter],
        calico_ipsets=r.calico_ipsets,
        warnings=r.warnings,
    )
