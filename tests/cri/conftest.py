"""CRI fixtures: one private containerd per session (see ``_containerd.py``), a clean slate per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from node_agent._pb import api_pb2, api_pb2_grpc
from tests._prereq import require, require_binary, require_root
from tests.cri._containerd import PrivateContainerd

# Runs one sandbox: (namespace, name, host_network) -> sandbox id.
RunSandbox = Callable[..., str]


@pytest.fixture(scope="session")
def containerd() -> Iterator[PrivateContainerd]:
    """A real containerd 1.6 with the CRI plugin, private to this test session."""
    require_root()
    require_binary("containerd", "ctr", "runc", "gcc", "unshare", "nsenter", "ip")
    require(Path("/usr/lib/cni/bridge").is_file(), "needs containernetworking-plugins in /usr/lib/cni")
    require(
        os.path.exists("/usr/lib/x86_64-linux-gnu/libc.a") or os.path.exists("/usr/lib/libc.a"),
        "needs a static libc (libc6-dev) to build the pause image",
    )
    with PrivateContainerd() as cd:
        yield cd


@pytest.fixture
def cri(containerd: PrivateContainerd) -> Iterator[api_pb2_grpc.RuntimeServiceStub]:
    """A CRI client on the private containerd; every sandbox is removed after the test."""
    with grpc.insecure_channel(containerd.endpoint) as channel:
        stub = api_pb2_grpc.RuntimeServiceStub(channel)
        try:
            yield stub
        finally:
            for sb in stub.ListPodSandbox(api_pb2.ListPodSandboxRequest(), timeout=30).items:
                stub.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)
                stub.RemovePodSandbox(api_pb2.RemovePodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)


@pytest.fixture
def run_sandbox(cri: api_pb2_grpc.RuntimeServiceStub, containerd: PrivateContainerd) -> RunSandbox:
    """Start a pod sandbox the way the kubelet does; hostNetwork ones get an empty hostname (runc needs it)."""

    def run(namespace: str, name: str, host_network: bool = False) -> str:
        mode = api_pb2.NODE if host_network else api_pb2.POD
        config = api_pb2.PodSandboxConfig(
            metadata=api_pb2.PodSandboxMetadata(name=name, namespace=namespace, uid=f"uid-{namespace}-{name}"),
            hostname="" if host_network else name,
            log_directory=str(containerd.dir / "logs" / f"{namespace}_{name}"),
            linux=api_pb2.LinuxPodSandboxConfig(
                security_context=api_pb2.LinuxSandboxSecurityContext(
                    namespace_options=api_pb2.NamespaceOption(network=mode, pid=api_pb2.CONTAINER, ipc=mode)
                )
            ),
        )
        try:
            reply = cri.RunPodSandbox(api_pb2.RunPodSandboxRequest(config=config), timeout=120)
        except grpc.RpcError as exc:
            raise AssertionError(f"RunPodSandbox {namespace}/{name}: {exc}\n{containerd.log()}") from exc
        return str(reply.pod_sandbox_id)

    return run
