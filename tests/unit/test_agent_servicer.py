"""The servicer's mapping: requests reach the node subsystems unchanged, failures arrive as status codes.

The node subsystems are FAKES here (the real ``Node`` needs root and network namespaces; it runs for
real in tests/node/test_agent_mtls.py and the CRI side in tests/cri/). The gRPC server, the mutual TLS
and ``AgentClient`` are real, on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from kubectl_antrea_migrate.agents.client import AgentClient
from kubectl_antrea_migrate.agents.tls import TlsBundle, generate
from kubectl_antrea_migrate.errors import EXIT_FAILURE, AgentError, InputError
from kubectl_antrea_migrate.nodestate.model import CniNetwork, CniScan, NodeReport, Outcome, Result, SandboxOutcome
from node_agent._commands import MissingBinaryError
from node_agent._pb import agent_pb2, agent_pb2_grpc
from node_agent.sandboxes import CriSocketNotFound, PodRef
from node_agent.server import AgentServicer, SandboxPort, register

REPORT = NodeReport("worker-1", CniScan("/etc/cni/net.d", (), None), (), (), 0, (), (), (), ())
MULTUS = (Outcome("cni", "file=00-multus.conf", "write", Result.PLANNED),)
PINNED = (
    Outcome("cni", "file=00-antrea-migrate-calico.conflist", "write", Result.DONE, "copy of 10-calico.conflist"),
    Outcome("cni", "file=00-multus.conf", "move-to-backup", Result.ABSENT, "no such file"),
)
CLEANUP = (
    Outcome("links", "link=tunl0", "delete", Result.DONE),
    Outcome("ipsets", "set=cali40x", "destroy", Result.ABSENT),
)
KILLED = (SandboxOutcome("web-0", "shop", "abc", Result.DONE, 0.3),)


@dataclass
class FakeNode:
    """Records calls; raises ``error`` from every method when set."""

    error: Exception | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def _record(self, name: str, args: Any) -> None:
        self.calls.append((name, args))
        if self.error is not None:
            raise self.error

    def report(self, pod_cidrs: tuple[str, ...] = ()) -> NodeReport:
        self._record("report", pod_cidrs)
        return REPORT

    def set_multus(self, enabled: bool, dry_run: bool) -> tuple[Outcome, ...]:
        self._record("set_multus", (enabled, dry_run))
        return MULTUS

    def set_cni(self, network: CniNetwork, dry_run: bool) -> tuple[Outcome, ...]:
        self._record("set_cni", (network, dry_run))
        return PINNED

    def cleanup_calico(self, dry_run: bool) -> tuple[Outcome, ...]:
        self._record("cleanup_calico", dry_run)
        return CLEANUP


@dataclass
class FakeSandboxes:
    calls: list[dict[str, Any]] = field(default_factory=list)
    closed: int = 0

    def kill(
        self,
        namespaces: Iterable[str] = (),
        pods: Iterable[str] = (),
        dry_run: bool = False,
        force: bool = False,
        never_restart: Iterable[PodRef] = (),
        created_before_ns: int = 0,
    ) -> tuple[SandboxOutcome, ...]:
        self.calls.append(
            {
                "namespaces": tuple(namespaces),
                "pods": tuple(pods),
                "dry_run": dry_run,
                "force": force,
                "never_restart": tuple(never_restart),
                "created_before_ns": created_before_ns,
            }
        )
        return KILLED

    def close(self) -> None:
        self.closed += 1


@dataclass
class Agent:
    node: FakeNode
    sandboxes: FakeSandboxes
    client: AgentClient
    factory_error: list[Exception]


@pytest.fixture(scope="module")
def bundle() -> TlsBundle:
    return generate(ips=["127.0.0.1"])


@pytest.fixture
def agent(bundle: TlsBundle) -> Iterator[Agent]:
    node, sandboxes = FakeNode(), FakeSandboxes()
    factory_error: list[Exception] = []

    def open_sandboxes() -> SandboxPort:
        if factory_error:
            raise factory_error[0]
        return sandboxes

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    register(server, AgentServicer("worker-1", node, open_sandboxes, version="1.2.3"))
    credentials = grpc.ssl_server_credentials(
        [(bundle.server_key, bundle.server_cert)], root_certificates=bundle.ca_cert, require_client_auth=True
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        with AgentClient(f"127.0.0.1:{port}", bundle.client(), "worker-1", timeout=20) as client:
            yield Agent(node, sandboxes, client, factory_error)
    finally:
        server.stop(None)


def test_ping_names_version_and_node(agent: Agent) -> None:
    identity = agent.client.ping()

    assert (identity.version, identity.node) == ("1.2.3", "worker-1")


def test_report_passes_pod_cidrs_and_returns_the_report(agent: Agent) -> None:
    assert agent.client.report(["10.10.4.0/24", "fd00:10::/64"]) == REPORT
    assert agent.node.calls == [("report", ("10.10.4.0/24", "fd00:10::/64"))]


def test_set_multus_and_cleanup_pass_their_flags(agent: Agent) -> None:
    assert agent.client.set_multus(True, dry_run=True) == MULTUS
    assert agent.client.cleanup_calico(dry_run=False) == CLEANUP
    assert agent.node.calls == [("set_multus", (True, True)), ("cleanup_calico", False)]


@pytest.mark.parametrize("network", list(CniNetwork))
def test_set_cni_passes_the_network_and_dry_run(agent: Agent, network: CniNetwork) -> None:
    assert agent.client.set_cni(network, dry_run=True) == PINNED
    assert agent.client.set_cni(network) == PINNED
    assert agent.node.calls == [("set_cni", (network, True)), ("set_cni", (network, False))]


def test_set_cni_without_a_network_is_invalid_argument_and_reaches_no_node(agent: Agent) -> None:
    channel = agent.client._channel  # the client has no way to send UNSPECIFIED: a raw stub does
    stub = agent_pb2_grpc.AgentServiceStub(channel)

    with pytest.raises(grpc.RpcError) as info:
        stub.SetCni(agent_pb2.SetCniRequest(dry_run=True), timeout=20)

    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "CNI_NETWORK_UNSPECIFIED" in (info.value.details() or "")
    assert agent.node.calls == []


class _OldServicer(agent_pb2_grpc.AgentServiceServicer):
    """An agent built before SetCni: the generated base answers UNIMPLEMENTED for it."""

    def __init__(self) -> None:
        self.multus: list[tuple[bool, bool]] = []

    def SetMultus(self, request: agent_pb2.SetMultusRequest, context: grpc.ServicerContext) -> agent_pb2.OutcomesReply:
        self.multus.append((request.enabled, request.dry_run))
        return agent_pb2.OutcomesReply(outcomes=[agent_pb2.Outcome(subsystem="cni", result=agent_pb2.RESULT_DONE)])


def test_set_cni_on_an_older_agent_falls_back_to_set_multus_except_for_calico(bundle: TlsBundle) -> None:
    old = _OldServicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    agent_pb2_grpc.add_AgentServiceServicer_to_server(old, server)
    credentials = grpc.ssl_server_credentials(
        [(bundle.server_key, bundle.server_cert)], root_certificates=bundle.ca_cert, require_client_auth=True
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        with AgentClient(f"127.0.0.1:{port}", bundle.client(), "worker-1", timeout=20) as client:
            assert [o.result for o in client.set_cni(CniNetwork.MULTUS)] == [Result.DONE]
            assert [o.result for o in client.set_cni(CniNetwork.ANTREA, dry_run=True)] == [Result.DONE]
            with pytest.raises(AgentError, match=r"UNIMPLEMENTED.*rpc=SetCni"):
                client.set_cni(CniNetwork.CALICO)
    finally:
        server.stop(None)

    assert old.multus == [(True, False), (False, True)]


def test_kill_sandboxes_passes_every_filter_and_closes_the_cri_client(agent: Agent) -> None:
    outcomes = agent.client.kill_sandboxes(
        namespaces=["shop"],
        pods=["shop/web-0", "db"],
        dry_run=True,
        force=True,
        never_restart=[("shop", "job-1")],
        created_before_ns=1234,
    )

    assert outcomes == KILLED
    assert agent.sandboxes.calls == [
        {
            "namespaces": ("shop",),
            "pods": ("shop/web-0", "db"),
            "dry_run": True,
            "force": True,
            "never_restart": (PodRef("shop", "job-1"),),
            "created_before_ns": 1234,
        }
    ]
    assert agent.sandboxes.closed == 1


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (PermissionError(1, "Operation not permitted"), "PERMISSION_DENIED", "missing privileges"),
        (MissingBinaryError("iptables-nft-save", "read nft rules"), "FAILED_PRECONDITION", "iptables-nft-save"),
        (FileNotFoundError(2, "No such file", "/sbin/ipset"), "FAILED_PRECONDITION", "/sbin/ipset"),
        (InputError("not a CIDR: 10.10.4.0/33"), "INVALID_ARGUMENT", "10.10.4.0/33"),
        (RuntimeError("boom"), "INTERNAL", "RuntimeError: boom"),
    ],
)
def test_node_errors_become_status_codes_naming_the_cause(agent: Agent, error: Exception, code: str, text: str) -> None:
    agent.node.error = error

    with pytest.raises(AgentError) as info:
        agent.client.report()

    message = str(info.value)
    assert code in message and text in message
    assert "node=worker-1" in message and "rpc=Report" in message and f"endpoint={agent.client.endpoint}" in message
    assert info.value.exit_code == EXIT_FAILURE


def test_missing_cri_socket_lists_the_paths_tried(agent: Agent) -> None:
    agent.factory_error.append(CriSocketNotFound(["/run/containerd/containerd.sock", "/run/crio/crio.sock"]))

    with pytest.raises(AgentError, match=r"FAILED_PRECONDITION.*/run/containerd/containerd.sock, /run/crio/crio.sock"):
        agent.client.kill_sandboxes()


def test_unreachable_agent_is_an_agent_error(bundle: TlsBundle) -> None:
    with (
        AgentClient("127.0.0.1:1", bundle.client(), "worker-9", timeout=2) as client,
        pytest.raises(AgentError, match=r"UNAVAILABLE.*node=worker-9 endpoint=127.0.0.1:1 rpc=Ping"),
    ):
        client.ping()
