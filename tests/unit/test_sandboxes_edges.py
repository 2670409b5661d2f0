"""Sandbox outcomes a real containerd does not produce on demand: missing namespace options, a sandbox that
vanishes between list and status, a failing stop, an unreachable runtime.

The runtime here is a FAKE CRI RuntimeService served over a real unix socket (containerd always reports
namespace options and cannot be told to fail a stop); the happy paths run on a real containerd in tests/cri/.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from kubectl_antrea_migrate.nodestate.model import Result
from node_agent._pb import api_pb2, api_pb2_grpc
from node_agent.sandboxes import CriError, Sandboxes


def _sandbox(sid: str, name: str) -> api_pb2.PodSandbox:
    return api_pb2.PodSandbox(id=sid, metadata=api_pb2.PodSandboxMetadata(name=name, namespace="ns"))


class FakeRuntime(api_pb2_grpc.RuntimeServiceServicer):
    """Sandboxes: "bare" has no Linux status, "gone" vanished, "stuck" fails to stop."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    def ListPodSandbox(self, request: Any, context: Any) -> api_pb2.ListPodSandboxResponse:
        assert request.filter.state.state == api_pb2.SANDBOX_READY  # only READY sandboxes are candidates
        return api_pb2.ListPodSandboxResponse(
            items=[_sandbox("1", "bare"), _sandbox("2", "gone"), _sandbox("3", "stuck")]
        )

    def PodSandboxStatus(self, request: Any, context: Any) -> api_pb2.PodSandboxStatusResponse:
        if request.pod_sandbox_id == "2":
            context.abort(grpc.StatusCode.NOT_FOUND, "an error occurred when try to find sandbox")
        status = api_pb2.PodSandboxStatus(id=request.pod_sandbox_id)
        if request.pod_sandbox_id == "3":
            status.linux.namespaces.options.network = api_pb2.POD
        return api_pb2.PodSandboxStatusResponse(status=status)

    def StopPodSandbox(self, request: Any, context: Any) -> api_pb2.StopPodSandboxResponse:
        self.stopped.append(request.pod_sandbox_id)
        context.abort(grpc.StatusCode.UNKNOWN, "failed to destroy network for sandbox: plugin type=calico failed")
        raise AssertionError("abort raises")


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[FakeRuntime, str]]:
    runtime = FakeRuntime()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    api_pb2_grpc.add_RuntimeServiceServicer_to_server(runtime, server)
    endpoint = f"unix://{tmp_path}/cri.sock"
    server.add_insecure_port(endpoint)
    server.start()
    try:
        yield runtime, endpoint
    finally:
        server.stop(None)


def test_unusual_sandboxes_are_reported_not_guessed(fake: tuple[FakeRuntime, str]) -> None:
    runtime, endpoint = fake

    with Sandboxes(endpoint) as sandboxes:
        outcomes = {o.pod: o for o in sandboxes.kill()}

    assert outcomes["bare"].result is Result.SKIPPED
    assert "no network namespace mode" in outcomes["bare"].detail
    assert outcomes["gone"].result is Result.ABSENT
    assert outcomes["stuck"].result is Result.FAILED
    assert "plugin type=calico failed" in outcomes["stuck"].detail
    assert runtime.stopped == ["3"]  # never a stop for a sandbox whose mode is unknown


def test_unreachable_runtime_names_the_endpoint(tmp_path: Path) -> None:
    endpoint = f"unix://{tmp_path}/absent.sock"

    with (
        Sandboxes(endpoint, timeout=5) as sandboxes,
        pytest.raises(CriError, match=f"ListPodSandbox failed at {endpoint}"),
    ):
        sandboxes.kill()
