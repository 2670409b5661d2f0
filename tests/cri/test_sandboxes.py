"""KillSandboxes against a real containerd: only pod-network sandboxes go, hostNetwork ones stay READY."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubectl_antrea_migrate.nodestate.model import Result, SandboxOutcome
from node_agent._pb import api_pb2, api_pb2_grpc
from node_agent.sandboxes import CRI_SOCKETS, CriSocketNotFound, PodRef, Sandboxes, find_endpoint
from tests.cri._containerd import PrivateContainerd
from tests.cri.conftest import RunSandbox

pytestmark = pytest.mark.cri


def _states(cri: api_pb2_grpc.RuntimeServiceStub) -> dict[str, str]:
    """Sandbox id -> state name, for every sandbox the runtime still knows."""
    items = cri.ListPodSandbox(api_pb2.ListPodSandboxRequest(), timeout=30).items
    return {sb.id: api_pb2.PodSandboxState.Name(sb.state) for sb in items}


def _by_pod(outcomes: tuple[SandboxOutcome, ...]) -> dict[str, SandboxOutcome]:
    return {f"{o.namespace}/{o.pod}": o for o in outcomes}


@pytest.fixture
def node(run_sandbox: RunSandbox) -> dict[str, str]:
    """Three pod-network sandboxes in two namespaces and one hostNetwork sandbox (kube-proxy)."""
    return {
        "ns1/a": run_sandbox("ns1", "a"),
        "ns1/b": run_sandbox("ns1", "b"),
        "ns2/c": run_sandbox("ns2", "c"),
        "kube-system/kube-proxy": run_sandbox("kube-system", "kube-proxy", host_network=True),
    }


@pytest.fixture
def sandboxes(containerd: PrivateContainerd) -> Iterator[Sandboxes]:
    with Sandboxes(find_endpoint(endpoint=containerd.endpoint)) as client:
        yield client


def test_kill_removes_pod_network_sandboxes_and_keeps_host_network(
    node: dict[str, str], sandboxes: Sandboxes, cri: api_pb2_grpc.RuntimeServiceStub
) -> None:
    outcomes = _by_pod(sandboxes.kill())

    assert {k: o.result for k, o in outcomes.items()} == {
        "ns1/a": Result.DONE,
        "ns1/b": Result.DONE,
        "ns2/c": Result.DONE,
        "kube-system/kube-proxy": Result.SKIPPED,
    }
    assert outcomes["kube-system/kube-proxy"].host_network
    assert all(outcomes[k].seconds > 0 for k in ("ns1/a", "ns1/b", "ns2/c"))
    assert {o.sandbox_id for o in outcomes.values()} == set(node.values())
    assert _states(cri) == {node["kube-system/kube-proxy"]: "SANDBOX_READY"}


def test_dry_run_plans_and_changes_nothing(
    node: dict[str, str], sandboxes: Sandboxes, cri: api_pb2_grpc.RuntimeServiceStub
) -> None:
    outcomes = _by_pod(sandboxes.kill(dry_run=True))

    assert [k for k, o in outcomes.items() if o.result is Result.PLANNED] == ["ns1/a", "ns1/b", "ns2/c"]
    assert outcomes["kube-system/kube-proxy"].result is Result.SKIPPED
    assert _states(cri) == {sid: "SANDBOX_READY" for sid in node.values()}


def test_second_kill_only_reports_the_host_network_sandbox(node: dict[str, str], sandboxes: Sandboxes) -> None:
    sandboxes.kill()

    again = sandboxes.kill()

    assert [(o.pod, o.result) for o in again] == [("kube-proxy", Result.SKIPPED)]


@pytest.mark.parametrize(
    ("namespaces", "pods", "killed"),
    [
        (("ns1",), (), {"ns1/a", "ns1/b"}),
        ((), ("ns2/c",), {"ns2/c"}),
        ((), ("b",), {"ns1/b"}),
        (("ns2",), ("a",), set()),
    ],
)
def test_filters_select_by_namespace_and_pod(
    node: dict[str, str],
    sandboxes: Sandboxes,
    cri: api_pb2_grpc.RuntimeServiceStub,
    namespaces: tuple[str, ...],
    pods: tuple[str, ...],
    killed: set[str],
) -> None:
    outcomes = _by_pod(sandboxes.kill(namespaces=namespaces, pods=pods))

    assert set(outcomes) == killed
    assert all(o.result is Result.DONE for o in outcomes.values())
    assert set(_states(cri)) == {sid for pod, sid in node.items() if pod not in killed}


def test_restart_policy_never_is_skipped_unless_forced(node: dict[str, str], sandboxes: Sandboxes) -> None:
    never = (PodRef("ns1", "a"),)

    first = _by_pod(sandboxes.kill(namespaces=("ns1",), never_restart=never))
    forced = _by_pod(sandboxes.kill(namespaces=("ns1",), never_restart=never, force=True))

    assert first["ns1/a"].result is Result.SKIPPED
    assert "restartPolicy Never" in first["ns1/a"].detail
    assert first["ns1/b"].result is Result.DONE
    assert set(forced) == {"ns1/a"}
    assert forced["ns1/a"].result is Result.DONE


def test_created_before_leaves_newer_sandboxes(run_sandbox: RunSandbox, sandboxes: Sandboxes) -> None:
    old = run_sandbox("ns1", "old")
    cutoff = time.time_ns()
    new = run_sandbox("ns1", "new")

    outcomes = sandboxes.kill(created_before_ns=cutoff)

    assert [(o.sandbox_id, o.result) for o in outcomes] == [(old, Result.DONE)]
    assert new not in {o.sandbox_id for o in outcomes}


def test_version_names_the_runtime(sandboxes: Sandboxes) -> None:
    assert sandboxes.version().startswith("containerd ")


def test_missing_socket_lists_every_path_tried(tmp_path: Path) -> None:
    with pytest.raises(CriSocketNotFound) as info:
        find_endpoint(host_root=tmp_path)

    for rel in CRI_SOCKETS:
        assert str(tmp_path / rel) in str(info.value)
    assert "--cri-endpoint" in str(info.value)


def test_socket_found_under_host_root(containerd: PrivateContainerd, tmp_path: Path) -> None:
    (tmp_path / "run" / "crio").mkdir(parents=True)
    (tmp_path / "run" / "crio" / "crio.sock").symlink_to(containerd.socket)

    assert find_endpoint(host_root=tmp_path) == f"unix://{tmp_path}/run/crio/crio.sock"


def test_explicit_endpoint_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sock"

    with pytest.raises(CriSocketNotFound, match=str(missing)):
        find_endpoint(host_root=Path("/"), endpoint=f"unix://{missing}")
