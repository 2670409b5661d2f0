"""The plugin's client for one node agent: mutual TLS, a deadline on every call, answers as dataclasses.

This module owns the protobuf -> dataclass direction of the wire format (the agent's
``node_agent/server.py`` owns the other). Every ``grpc.RpcError`` leaves as ``AgentError`` naming the
node, the endpoint and the RPC, with the agent's own message (which names what is wrong on the node).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import grpc

from kubectl_antrea_migrate.agents.tls import ClientTls
from kubectl_antrea_migrate.errors import AgentError
from kubectl_antrea_migrate.nodestate.model import (
    AddressConflict,
    Backend,
    CniConf,
    CniNetwork,
    CniScan,
    LinkInfo,
    NetfilterSummary,
    NodeReport,
    Outcome,
    Owner,
    Result,
    RouteConflict,
    RouteInfo,
    SandboxOutcome,
    TableSummary,
)
from node_agent._pb import agent_pb2, agent_pb2_grpc

__all__ = [
    "DEFAULT_TIMEOUTS",
    "AgentClient",
    "AgentIdentity",
    "cni_network_to_pb",
    "outcome_from_pb",
    "report_from_pb",
    "sandbox_outcome_from_pb",
]

# Seconds per RPC. KillSandboxes stops pods one by one (0.3-0.5 s each, more with slow CNI DEL).
DEFAULT_TIMEOUTS: dict[str, float] = {
    "Ping": 10.0,
    "Report": 120.0,
    "KillSandboxes": 900.0,
    "SetMultus": 60.0,
    "SetCni": 60.0,
    "CleanupCalico": 600.0,
}

_E = TypeVar("_E", bound=Enum)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """What Ping answers: the agent's version and the node it runs on."""

    version: str
    node: str


class AgentClient:
    """One agent, reached at ``endpoint`` (``HOST:PORT``) over mutual TLS.

    Args:
        endpoint: ``HOST:PORT`` of the agent (a node's IP and the container port named ``grpc``).
        tls: the CA to trust and the client certificate to present.
        node: the node's name, for error messages.
        timeout: seconds for every call, overriding ``DEFAULT_TIMEOUTS``.
    """

    def __init__(self, endpoint: str, tls: ClientTls, node: str, timeout: float | None = None) -> None:
        self.endpoint = endpoint
        self.node = node
        self._timeout = timeout
        credentials = grpc.ssl_channel_credentials(
            root_certificates=tls.ca_cert, private_key=tls.key, certificate_chain=tls.cert
        )
        # The server certificate names SERVER_NAME, not the node IP we dial (see tls.py).
        options = [("grpc.ssl_target_name_override", tls.server_name), ("grpc.default_authority", tls.server_name)]
        self._channel = grpc.secure_channel(endpoint, credentials, options=options)
        self._stub = agent_pb2_grpc.AgentServiceStub(self._channel)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> AgentIdentity:
        """Return the agent's version and node name."""
        return self._call(
            "Ping", self._stub.Ping, agent_pb2.PingRequest(), lambda r: AgentIdentity(version=r.version, node=r.node)
        )

    def report(self, pod_cidrs: Iterable[str] = ()) -> NodeReport:
        """Read the node (changes nothing); ``pod_cidrs`` are the Node's podCIDRs."""
        request = agent_pb2.ReportRequest(pod_cidrs=list(pod_cidrs))
        return self._call("Report", self._stub.Report, request, report_from_pb)

    def kill_sandboxes(
        self,
        namespaces: Iterable[str] = (),
        pods: Iterable[str] = (),
        dry_run: bool = False,
        force: bool = False,
        never_restart: Iterable[tuple[str, str]] = (),
        created_before_ns: int = 0,
    ) -> tuple[SandboxOutcome, ...]:
        """Stop and remove the node's pod-network sandboxes (never hostNetwork ones).

        Args:
            namespaces: only pods in these namespaces (empty: all).
            pods: only these pods, ``name`` or ``namespace/name`` (empty: all).
            dry_run: report what would be killed, change nothing.
            force: also kill pods listed in ``never_restart``.
            never_restart: (namespace, name) of pods with ``restartPolicy: Never``.
            created_before_ns: only sandboxes created before this Unix time in ns (0: any); pass the
                time of the first attempt when retrying, so recreated sandboxes are left alone.
        """
        request = agent_pb2.KillSandboxesRequest(
            namespaces=list(namespaces),
            pods=list(pods),
            dry_run=dry_run,
            force=force,
            never_restart=[agent_pb2.PodRef(namespace=ns, name=name) for ns, name in never_restart],
            created_before_ns=created_before_ns,
        )
        return self._call(
            "KillSandboxes",
            self._stub.KillSandboxes,
            request,
            lambda r: tuple(sandbox_outcome_from_pb(o) for o in r.sandboxes),
        )

    def set_multus(self, enabled: bool, dry_run: bool = False) -> tuple[Outcome, ...]:
        """Write (``enabled``) or remove the node's ``00-multus.conf``."""
        request = agent_pb2.SetMultusRequest(enabled=enabled, dry_run=dry_run)
        return self._call("SetMultus", self._stub.SetMultus, request, _outcomes)

    def set_cni(self, network: CniNetwork, dry_run: bool = False) -> tuple[Outcome, ...]:
        """Put ``network``'s CNI conf in force on the node (CALICO pins a copy of Calico's conf in front).

        An agent older than SetCni answers UNIMPLEMENTED: MULTUS and ANTREA then fall back to
        SetMultus on/off, which is what they meant before; CALICO has no older equivalent and fails.
        """
        request = agent_pb2.SetCniRequest(network=cni_network_to_pb(network), dry_run=dry_run)
        try:
            return self._call("SetCni", self._stub.SetCni, request, _outcomes)
        except AgentError as exc:
            cause = exc.__cause__
            unimplemented = isinstance(cause, grpc.RpcError) and cause.code() is grpc.StatusCode.UNIMPLEMENTED
            if not unimplemented or network is CniNetwork.CALICO:
                raise
        return self.set_multus(network is CniNetwork.MULTUS, dry_run)

    def cleanup_calico(self, dry_run: bool = False) -> tuple[Outcome, ...]:
        """Remove every Calico object from the node."""
        request = agent_pb2.CleanupCalicoRequest(dry_run=dry_run)
        return self._call("CleanupCalico", self._stub.CleanupCalico, request, _outcomes)

    def _call(self, rpc: str, method: Callable[..., Any], request: Any, convert: Callable[[Any], _T]) -> _T:
        timeout = self._timeout if self._timeout is not None else DEFAULT_TIMEOUTS[rpc]
        try:
            return convert(method(request, timeout=timeout))
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            details = exc.details() if hasattr(exc, "details") else str(exc)
            name = code.name if code is not None else "ERROR"
            raise AgentError(f"agent call failed: {name}: {details}", self.node, self.endpoint, rpc) from exc
        except ValueError as exc:  # an enum value this plugin does not know: a newer agent
            raise AgentError(f"agent reply not understood: {exc}", self.node, self.endpoint, rpc) from exc


# protobuf -> dataclass. Enum values are named PREFIX_MEMBER in the proto.


def _enum(cls: type[_E], prefix: str, pb_enum: Any, value: int) -> _E:
    try:
        name = pb_enum.Name(value)
    except ValueError:
        raise ValueError(f"unknown {cls.__name__} value {value}") from None
    member = name.removeprefix(f"{prefix}_")
    if member not in cls.__members__:
        raise ValueError(f"unexpected {cls.__name__} value {name}")
    return cls[member]


def _result(value: int) -> Result:
    return _enum(Result, "RESULT", agent_pb2.Result, value)


def _owner(value: int) -> Owner:
    return _enum(Owner, "OWNER", agent_pb2.Owner, value)


def outcome_from_pb(o: agent_pb2.Outcome) -> Outcome:
    """Convert one ``Outcome`` message."""
    return Outcome(subsystem=o.subsystem, object=o.object, action=o.action, result=_result(o.result), detail=o.detail)


def cni_network_to_pb(network: CniNetwork) -> str:
    """The proto enum value name of ``network`` (``CNI_NETWORK_<MEMBER>``); messages take names or numbers."""
    return f"CNI_NETWORK_{network.name}"


def _outcomes(reply: agent_pb2.OutcomesReply) -> tuple[Outcome, ...]:
    return tuple(outcome_from_pb(o) for o in reply.outcomes)


def sandbox_outcome_from_pb(o: agent_pb2.SandboxOutcome) -> SandboxOutcome:
    """Convert one ``SandboxOutcome`` message."""
    return SandboxOutcome(
        pod=o.pod,
        namespace=o.namespace,
        sandbox_id=o.sandbox_id,
        result=_result(o.result),
        seconds=o.seconds,
        detail=o.detail,
        host_network=o.host_network,
    )


def _cni_scan(s: agent_pb2.CniScan) -> CniScan:
    confs = tuple(
        CniConf(
            file=c.file,
            network=c.network,
            plugin_types=tuple(c.plugin_types),
            valid=c.valid,
            error=c.error,
            owner=_owner(c.owner),
        )
        for c in s.confs
    )
    active = s.active if s.HasField("active") else None
    return CniScan(conf_dir=s.conf_dir, confs=confs, active=active, other_files=tuple(s.other_files))


def _link(link: agent_pb2.LinkInfo) -> LinkInfo:
    return LinkInfo(
        name=link.name,
        kind=link.kind,
        owner=_owner(link.owner),
        addresses=tuple(link.addresses),
        up=link.up,
        index=link.index,
    )


def _route(r: agent_pb2.RouteInfo) -> RouteInfo:
    return RouteInfo(
        destination=r.destination,
        device=r.device if r.HasField("device") else None,
        gateway=r.gateway if r.HasField("gateway") else None,
        protocol=r.protocol,
        type=r.type,
        owner=_owner(r.owner),
        table=r.table,
        onlink=r.onlink,
    )


def _netfilter(n: agent_pb2.NetfilterSummary) -> NetfilterSummary:
    tables = tuple(
        TableSummary(
            table=t.table,
            calico_chains=t.calico_chains,
            calico_rules=t.calico_rules,
            jump_rules=t.jump_rules,
            total_rules=t.total_rules,
        )
        for t in n.tables
    )
    backend = _enum(Backend, "BACKEND", agent_pb2.Backend, n.backend)
    return NetfilterSummary(backend=backend, available=n.available, tables=tables, error=n.error)


def report_from_pb(r: agent_pb2.NodeReport) -> NodeReport:
    """Convert a whole ``NodeReport`` message.

    Raises:
        ValueError: an enum value this plugin does not know (the agent is newer).
    """
    return NodeReport(
        node=r.node,
        cni=_cni_scan(r.cni),
        links=tuple(_link(link) for link in r.links),
        routes=tuple(_route(route) for route in r.routes),
        other_route_count=r.other_route_count,
        route_conflicts=tuple(
            RouteConflict(
                calico_route=_route(c.calico_route),
                antrea_route=_route(c.antrea_route),
                shadowed=c.shadowed,
                reason=c.reason,
            )
            for c in r.route_conflicts
        ),
        address_conflicts=tuple(
            AddressConflict(address=c.address, holder=c.holder, reason=c.reason) for c in r.address_conflicts
        ),
        netfilter=tuple(_netfilter(n) for n in r.netfilter),
        calico_ipsets=tuple(r.calico_ipsets),
        warnings=tuple(r.warnings),
    )
