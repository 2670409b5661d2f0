"""``node NAME`` orchestration, agent discovery and ``agent install``'s Secret handling, without a cluster.

The apiserver and the agent are stand-ins here (``_Api``, ``_Agent``): they record the calls so the
tests can assert exactly what the plugin asks. The same paths run against a real kube-apiserver and a
real agent process in ``tests/cluster/test_agents.py``.
"""

from __future__ import annotations

import base64
import datetime
import io
import threading
from collections.abc import Iterable, Mapping
from typing import Any, cast

import pytest
import typer

from kubectl_antrea_migrate.agents import tls
from kubectl_antrea_migrate.agents.client import AgentClient
from kubectl_antrea_migrate.agents.discovery import AgentTarget, NodeFacts, fan_out, find_agent, parse_endpoint
from kubectl_antrea_migrate.agents.operations import NodeConnection, NodeRequest, run_on_node
from kubectl_antrea_migrate.cli import agent as agent_cli
from kubectl_antrea_migrate.cluster import agent_install
from kubectl_antrea_migrate.cluster.agent_install import ObjectAction, install, render, wait_for_rollout
from kubectl_antrea_migrate.cluster.client import ApiResponse, KubeClient
from kubectl_antrea_migrate.errors import AgentError, ClusterError, InputError, UsageError
from kubectl_antrea_migrate.nodestate.model import CniNetwork, CniScan, NodeReport, Outcome, Result, SandboxOutcome

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
_TLS = tls.ClientTls(b"ca", b"cert", b"key")


class _Agent:
    """Records each RPC and answers with fixed outcomes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def set_multus(self, enabled: bool, dry_run: bool = False) -> tuple[Outcome, ...]:
        self.calls.append(("SetMultus", {"enabled": enabled, "dry_run": dry_run}))
        return (Outcome("cni", "file=00-multus.conf", "write", Result.PLANNED),)

    def set_cni(self, network: CniNetwork, dry_run: bool = False) -> tuple[Outcome, ...]:
        self.calls.append(("SetCni", {"network": network, "dry_run": dry_run}))
        gone = "Calico's CNI conf is gone: rollback is no longer possible"
        return (Outcome("cni", "file=00-antrea-migrate-calico.conflist", "write", Result.FAILED, gone),)

    def kill_sandboxes(self, **kwargs: Any) -> tuple[SandboxOutcome, ...]:
        self.calls.append(("KillSandboxes", kwargs))
        return (SandboxOutcome("web-1", "shop", "abc", Result.FAILED, detail="StopPodSandbox: deadline"),)

    def cleanup_calico(self, dry_run: bool = False) -> tuple[Outcome, ...]:
        self.calls.append(("CleanupCalico", {"dry_run": dry_run}))
        return ()

    def report(self, pod_cidrs: Iterable[str] = ()) -> NodeReport:
        self.calls.append(("Report", {"pod_cidrs": tuple(pod_cidrs)}))
        return NodeReport("w1", CniScan("/etc/cni/net.d", (), None), (), (), 0, (), (), (), ())


def _connection(notes: tuple[str, ...] = ()) -> NodeConnection:
    facts = NodeFacts("w1", ("10.10.4.0/24",), (("batch", "job-x"),))
    return NodeConnection(AgentTarget("w1", "10.0.0.5:10361"), _TLS, facts, notes)


def _run(request: NodeRequest, notes: tuple[str, ...] = ()) -> tuple[_Agent, Any]:
    agent = _Agent()
    return agent, run_on_node(cast(AgentClient, agent), _connection(notes), request)


def test_actions_run_in_migration_order_and_the_report_comes_last() -> None:
    request = NodeRequest(report=True, kill_sandbox=True, multus=True, cleanup_calico=True, dry_run=True)

    agent, result = _run(request)

    assert [name for name, _ in agent.calls] == ["SetMultus", "KillSandboxes", "CleanupCalico", "Report"]
    assert all(kwargs.get("dry_run", True) for _, kwargs in agent.calls)
    assert agent.calls[-1][1] == {"pod_cidrs": ("10.10.4.0/24",)}
    assert result.failed  # the sandbox outcome failed: exit 3


def test_kill_sandbox_hands_the_never_restart_pods_and_filters_to_the_agent() -> None:
    request = NodeRequest(kill_sandbox=True, namespaces=("shop",), pods=("web-1",))

    agent, result = _run(request)

    ((name, kwargs),) = agent.calls  # a mutation alone: no report
    assert name == "KillSandboxes"
    assert kwargs == {
        "namespaces": ("shop",),
        "pods": ("web-1",),
        "dry_run": False,
        "force": False,
        "never_restart": (("batch", "job-x"),),
    }
    assert result.report is None and result.findings == ()


def test_cni_runs_before_the_report_and_its_failed_file_fails_the_run() -> None:
    from kubectl_antrea_migrate.cli.node import print_run

    agent, result = _run(NodeRequest(cni=CniNetwork.CALICO, report=True, dry_run=True))

    assert agent.calls[0] == ("SetCni", {"network": CniNetwork.CALICO, "dry_run": True})
    assert [name for name, _ in agent.calls] == ["SetCni", "Report"]
    assert result.failed  # exit 3
    out = io.StringIO()
    print_run(result, out)
    assert "\nCNI conf\n" in out.getvalue() and "failed" in out.getvalue()  # cells wrap: the title and result


def test_no_action_means_report() -> None:
    agent, result = _run(NodeRequest())

    assert [name for name, _ in agent.calls] == ["Report"]
    assert result.report is not None and not result.failed


def test_kill_sandbox_without_the_clusters_pod_list_needs_force() -> None:
    with pytest.raises(UsageError, match="--force"):
        _run(NodeRequest(kill_sandbox=True), notes=("cluster not read",))

    agent, _ = _run(NodeRequest(kill_sandbox=True, force=True), notes=("cluster not read",))
    assert agent.calls[0][1]["force"] is True


class _Api:
    """A stand-in apiserver: GETs from ``objects`` by path, records PATCHes (server-side apply)."""

    def __init__(self, objects: Mapping[str, dict[str, Any]] | None = None) -> None:
        self.objects = dict(objects or {})
        self.patched: list[str] = []
        self.queries: list[Mapping[str, Any]] = []

    def get(self, path: str, *, query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self.queries.append(dict(query or {}))
        return self.objects.get(path, {"items": []})

    def get_optional(self, path: str) -> dict[str, Any] | None:
        return self.objects.get(path)

    def list_pages(self, path: str) -> Iterable[dict[str, Any]]:
        return list(self.objects.get(path, {"items": []})["items"])

    def request(self, method: str, path: str, **kwargs: Any) -> ApiResponse:
        assert method == "PATCH"
        self.patched.append(path)
        created = path not in self.objects
        self.objects[path] = dict(kwargs["body"])
        return ApiResponse(201 if created else 200, self.objects[path])


def _pod(name: str, created: str, phase: str = "Running", host_ip: str = "10.0.0.5", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": created, **meta},
        "spec": {
            "nodeName": "w1",
            "containers": [{"name": "agent", "ports": [{"name": "grpc", "containerPort": 10361}]}],
        },
        "status": {"phase": phase, "hostIP": host_ip},
    }


PODS_PATH = "/api/v1/namespaces/kube-system/pods"


def test_discovery_prefers_the_running_pod_over_a_newer_terminating_one() -> None:
    old = _pod("agent-old", "2026-01-01T00:00:00Z")
    new = _pod("agent-new", "2026-01-02T00:00:00Z", deletionTimestamp="2026-01-02T00:01:00Z")
    api = _Api({PODS_PATH: {"items": [old, new]}})

    target = find_agent(cast(KubeClient, api), "w1")

    assert target == AgentTarget("w1", "10.0.0.5:10361", "kube-system/agent-old")
    assert api.queries[-1] == {
        "labelSelector": "app.kubernetes.io/name=antrea-migrate-agent",
        "fieldSelector": "spec.nodeName=w1",
    }


def test_discovery_brackets_ipv6_hosts() -> None:
    api = _Api({PODS_PATH: {"items": [_pod("agent", "2026-01-01T00:00:00Z", host_ip="fd00::5")]}})

    assert find_agent(cast(KubeClient, api), "w1").endpoint == "[fd00::5]:10361"


def test_discovery_says_why_no_agent_can_be_reached() -> None:
    pending = _pod("agent-p", "2026-01-01T00:00:00Z", phase="Pending")
    api = _Api({PODS_PATH: {"items": [pending]}})

    with pytest.raises(AgentError) as info:
        find_agent(cast(KubeClient, api), "w1")
    assert "kube-system/agent-p is Pending" in str(info.value) and "node=w1" in str(info.value)

    with pytest.raises(AgentError, match="agent install"):
        find_agent(cast(KubeClient, _Api()), "w1")


@pytest.mark.parametrize("text", ["10.0.0.5", "10.0.0.5:0", "10.0.0.5:http", ":10361", "fd00::5:10361"])
def test_bad_agent_endpoints_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--agent-endpoint"):
        parse_endpoint(text)


def test_fan_out_keeps_the_node_order_and_reports_each_failure() -> None:
    seen: set[str] = set()
    lock = threading.Lock()

    def call(node: str) -> str:
        with lock:
            seen.add(node)
        if node == "b":
            raise AgentError("agent call failed: UNAVAILABLE", node="b")
        return node.upper()

    outcomes = fan_out(["c", "b", "a", "c"], call)

    assert [(o.node, o.value, o.ok) for o in outcomes] == [("c", "C", True), ("b", None, False), ("a", "A", True)]
    assert "node=b" in str(outcomes[1].error) and seen == {"a", "b", "c"}


def test_fan_out_lets_bugs_through() -> None:
    def call(node: str) -> str:
        raise KeyError(node)

    with pytest.raises(KeyError):
        fan_out(["a"], call)


SECRET_PATH = "/api/v1/namespaces/kube-system/secrets/antrea-migrate-agent-tls"


def _secret(bundle: tls.TlsBundle) -> dict[str, Any]:
    return {"data": {k: base64.b64encode(v).decode() for k, v in bundle.secret_data().items()}}


def _secret_outcome(api: _Api) -> ObjectAction:
    result = install(cast(KubeClient, api), now=NOW)
    (outcome,) = [o for o in result.objects if o.kind == "Secret"]
    return outcome.action


def test_install_keeps_a_valid_secret_so_running_agents_keep_working() -> None:
    api = _Api({SECRET_PATH: _secret(tls.generate(now=NOW))})
    before = dict(api.objects[SECRET_PATH])

    assert _secret_outcome(api) is ObjectAction.KEPT
    assert SECRET_PATH not in api.patched and api.objects[SECRET_PATH] == before


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(_secret(tls.generate(now=NOW, validity=datetime.timedelta(days=10))), id="expires-soon"),
        pytest.param({"data": {"ca.crt": base64.b64encode(b"x").decode()}}, id="incomplete"),
        pytest.param(
            {
                "data": {
                    **_secret(tls.generate(now=NOW))["data"],
                    "ca.crt": _secret(tls.generate(now=NOW))["data"]["ca.crt"],
                }
            },
            id="signed-by-another-ca",
        ),
    ],
)
def test_install_replaces_a_secret_that_would_not_work(secret: dict[str, Any]) -> None:
    api = _Api({SECRET_PATH: secret})

    assert _secret_outcome(api) is ObjectAction.CONFIGURED
    data = {k: base64.b64decode(v) for k, v in api.objects[SECRET_PATH]["data"].items()}
    assert set(data) == set(tls.SECRET_KEYS)


def test_a_kept_secret_keeps_the_daemonset_and_a_new_one_rolls_it() -> None:
    api = _Api()
    ds_path = "/apis/apps/v1/namespaces/kube-system/daemonsets/antrea-migrate-agent"

    def checksum() -> str:
        template = api.objects[ds_path]["spec"]["template"]
        return str(template["metadata"]["annotations"][agent_install.TLS_CHECKSUM_ANNOTATION])

    install(cast(KubeClient, api), now=NOW)
    first = checksum()
    again = install(cast(KubeClient, api), now=NOW)
    kept = checksum()
    del api.objects[SECRET_PATH]["data"]["client.key"]
    install(cast(KubeClient, api), now=NOW)

    assert kept == first and {o.kind: o.action for o in again.objects}["DaemonSet"] is ObjectAction.UNCHANGED
    assert checksum() != first


@pytest.mark.parametrize(("namespace", "image"), [("Kube_System", "img:1"), ("kube-system", ""), ("ns", "a b")])
def test_bad_namespace_or_image_is_input_error(namespace: str, image: str) -> None:
    with pytest.raises(InputError):
        render(namespace, image)


def test_cli_defaults_are_the_installers() -> None:
    app = typer.Typer()
    agent_cli.register(app)
    command = typer.main.get_command(app).commands["agent"].commands["install"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in command.params}

    assert defaults["namespace"] == agent_install.DEFAULT_NAMESPACE
    assert defaults["image"] == agent_install.DEFAULT_IMAGE


DS_PATH = "/apis/apps/v1/namespaces/kube-system/daemonsets/antrea-migrate-agent"


def _daemonset(desired: int, ready: int, generation: int = 2, observed: int = 2) -> dict[str, Any]:
    status = {"observedGeneration": observed, "desiredNumberScheduled": desired, "numberReady": ready,
              "updatedNumberScheduled": desired}  # fmt: skip
    return {"metadata": {"generation": generation}, "status": status}


def test_rollout_is_done_when_every_wanted_pod_is_updated_and_ready() -> None:
    api = _Api({DS_PATH: _daemonset(3, 3)})

    rollout = wait_for_rollout(cast(KubeClient, api), timeout_s=0)

    assert (rollout.desired, rollout.ready) == (3, 3)


def test_rollout_timeout_names_each_lagging_node_and_why() -> None:
    unscheduled = {
        "metadata": {"name": "agent-x"},
        "spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w3"]}]}]}}}},
        "status": {"phase": "Pending"},
    }  # fmt: skip
    crashing = _pod("agent-y", "2026-01-01T00:00:00Z", phase="Pending")
    crashing["status"]["containerStatuses"] = [{"name": "agent", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]
    ready = _pod("agent-z", "2026-01-01T00:00:00Z")
    ready["spec"]["nodeName"] = "w2"
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    nodes = {"items": [{"metadata": {"name": n}} for n in ("w1", "w2", "w3", "w4")]}
    api = _Api(
        {DS_PATH: _daemonset(4, 1), PODS_PATH: {"items": [unscheduled, crashing, ready]}, "/api/v1/nodes": nodes}
    )
    ticks = iter([0.0, 5.0, 11.0])
    sleeps: list[float] = []

    with pytest.raises(ClusterError) as info:
        wait_for_rollout(cast(KubeClient, api), timeout_s=10, clock=lambda: next(ticks), sleep=sleeps.append)

    message = str(info.value)
    assert "not ready after 10s (1/4 ready)" in message
    assert "w1: pod agent-y Pending, container agent: ImagePullBackOff" in message
    assert "w3: pod agent-x not scheduled yet" in message and "w4: no agent pod" in message
    assert "w2" not in message and sleeps == [1.0]


def test_rollout_waits_for_the_controller_to_see_the_new_spec() -> None:
    api = _Api({DS_PATH: _daemonset(2, 2, generation=3, observed=2), "/api/v1/nodes": {"items": []}})
    ticks = iter([0.0, 1.0])

    with pytest.raises(ClusterError, match="not yet observed by the controller"):
        wait_for_rollout(cast(KubeClient, api), timeout_s=1, clock=lambda: next(ticks), sleep=lambda _: None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pod", "web-1"], "go with --kill-sandbox"),
        (["--agent-endpoint", "10.0.0.5"], "--agent-endpoint '10.0.0.5': expected HOST:PORT"),
        (["--cni", "calico", "--multus", "off"], "--cni and --multus both set the CNI conf"),
    ],
)
def test_node_usage_errors_exit_2_before_touching_the_cluster(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from kubectl_antrea_migrate.cli.app import main

    code = main(["node", "w1", *args, "--kubeconfig", "/nonexistent/kubeconfig"])

    assert code == 2
    assert message in capsys.readouterr().err
