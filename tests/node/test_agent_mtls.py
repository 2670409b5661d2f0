"""The agent as its own process in a network namespace ("the node"), called over a veth with mutual TLS.

Only a client holding a certificate from the agent's CA gets answers; a certificate from another CA,
no certificate and plaintext are all refused during the handshake.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from kubectl_antrea_migrate.agents.client import AgentClient
from kubectl_antrea_migrate.agents.tls import ClientTls, TlsBundle, generate, write_tls_dir
from kubectl_antrea_migrate.errors import AgentError
from node_agent._pb import agent_pb2, agent_pb2_grpc
from tests._prereq import require_binary, require_root

pytestmark = pytest.mark.node

PORT = 10361
CALICO_CONF = '{"cniVersion": "0.3.1", "name": "k8s-pod-network", "plugins": [{"type": "calico"}]}'


@dataclass(frozen=True)
class RunningAgent:
    endpoint: str
    bundle: TlsBundle
    host_root: Path


def _veth_subnet() -> tuple[str, str]:
    """A /30 unlikely to collide with other tests running at the same time (derived from the pid)."""
    n = os.getpid() % 16000
    base = f"10.253.{n // 64}.{(n % 64) * 4}"
    prefix = base.rsplit(".", 1)[0]
    last = int(base.rsplit(".", 1)[1])
    return f"{prefix}.{last + 1}", f"{prefix}.{last + 2}"


def _wait_until_serving(proc: subprocess.Popen[bytes], client: AgentClient, log: Path) -> None:
    # Startup takes about a second (imports); the loop ends as soon as the agent answers or dies.
    for _ in range(600):
        if proc.poll() is not None:
            break
        try:
            client.ping()
            return
        except AgentError:
            time.sleep(0.1)
    raise AssertionError(f"agent did not serve (exit {proc.poll()}):\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    """``antrea-migrate-agent serve`` inside a fresh netns, reachable from here over a veth pair."""
    require_root()
    require_binary("ip", "antrea-migrate-agent")
    tmp = tmp_path_factory.mktemp("agent")
    netns, host_if = f"am-agent-{os.getpid()}", f"amag{os.getpid() % 100000}"
    host_ip, agent_ip = _veth_subnet()
    bundle = generate(ips=[agent_ip])
    tls_dir = write_tls_dir(bundle, tmp / "tls")
    host_root = tmp / "host"
    (host_root / "etc" / "cni" / "net.d").mkdir(parents=True)
    (host_root / "etc" / "cni" / "net.d" / "10-calico.conflist").write_text(CALICO_CONF)
    log = tmp / "agent.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        for cmd in (
            ["ip", "netns", "add", netns],
            ["ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", netns],
            ["ip", "addr", "add", f"{host_ip}/30", "dev", host_if],
            ["ip", "link", "set", host_if, "up"],
            ["ip", "-n", netns, "addr", "add", f"{agent_ip}/30", "dev", "eth0"],
            ["ip", "-n", netns, "link", "set", "eth0", "up"],
            ["ip", "-n", netns, "link", "set", "lo", "up"],
        ):
            subprocess.run(cmd, check=True, capture_output=True)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", netns, shutil.which("antrea-migrate-agent") or "antrea-migrate-agent",
                 "serve", f"--listen={agent_ip}:{PORT}", f"--tls-dir={tls_dir}", f"--host-root={host_root}",
                 "--node-name=node-a"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        endpoint = f"{agent_ip}:{PORT}"
        with AgentClient(endpoint, bundle.client(), "node-a", timeout=10) as client:
            _wait_until_serving(proc, client, log)
        yield RunningAgent(endpoint, bundle, host_root)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text(errors="replace")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)  # takes the veth pair too
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True)


def test_ping_names_the_node(agent: RunningAgent) -> None:
    with AgentClient(agent.endpoint, agent.bundle.client(), "node-a") as client:
        identity = client.ping()

    assert identity.node == "node-a"
    assert identity.version


def test_report_reads_the_host_root(agent: RunningAgent) -> None:
    with AgentClient(agent.endpoint, agent.bundle.client(), "node-a") as client:
        report = client.report()

    assert report.cni.conf_dir.startswith(str(agent.host_root))
    assert [c.file for c in report.cni.confs] == ["10-calico.conflist"]
    assert report.cni.active == "10-calico.conflist"


def test_kill_sandboxes_without_a_cri_socket_names_the_paths_tried(agent: RunningAgent) -> None:
    with AgentClient(agent.endpoint, agent.bundle.client(), "node-a") as client, pytest.raises(AgentError) as info:
        client.kill_sandboxes(dry_run=True)

    message = str(info.value)
    assert "FAILED_PRECONDITION" in message and "rpc=KillSandboxes" in message
    assert f"{agent.host_root}/run/containerd/containerd.sock" in message
    assert f"{agent.host_root}/run/crio/crio.sock" in message


def test_client_certificate_from_another_ca_is_refused(agent: RunningAgent) -> None:
    stranger = generate()
    # Trusts the agent's CA but presents a certificate the agent's CA never signed.
    forged = ClientTls(agent.bundle.ca_cert, stranger.client_cert, stranger.client_key)

    with AgentClient(agent.endpoint, forged, "node-a") as client, pytest.raises(AgentError, match="UNAVAILABLE"):
        client.ping()


def _raw_ping(channel: grpc.Channel) -> grpc.StatusCode:
    try:
        agent_pb2_grpc.AgentServiceStub(channel).Ping(agent_pb2.PingRequest(), timeout=10)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_client_without_certificate_is_refused(agent: RunningAgent) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=agent.bundle.ca_cert)
    options = [("grpc.ssl_target_name_override", "antrea-migrate-agent")]

    with grpc.secure_channel(agent.endpoint, credentials, options=options) as channel:
        assert _raw_ping(channel) == grpc.StatusCode.UNAVAILABLE


def test_plaintext_client_is_refused(agent: RunningAgent) -> None:
    with grpc.insecure_channel(agent.endpoint) as channel:
        assert _raw_ping(channel) == grpc.StatusCode.UNAVAILABLE
