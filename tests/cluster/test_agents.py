"""The plugin and its agents against a real kube-apiserver: ``agent install|uninstall``, ``node NAME``, RBAC.

The nodes are network namespaces: each is registered as a Node whose InternalIP is the namespace's
veth address. No kubelet runs, so the test plays one: the real DaemonSet controller (in the test
control plane) creates the agent pod on each Node, and the test patches that pod's status through
the status subresource (Running, Ready, hostIP) as a kubelet would; the controller then counts it
Ready, which is what ``agent install`` waits for. The agent itself runs as a real process inside the
namespace, with the TLS material ``agent install`` generated (read back from the Secret).

Node ``NODE_A`` holds the seed's conflict: Calico's block route 10.10.4.128/26 via a ``tunl0``
(the ipip fallback device when the module is loaded, else a bridge stand-in) inside Antrea's
10.10.4.0/24 via ``antrea-gw0``. Node ``NODE_B``'s pod claims host 127.0.0.2, where no agent listens.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_antrea_migrate.agents.client import AgentClient, AgentIdentity
from kubectl_antrea_migrate.agents.discovery import (
    call_agent,
    fan_out,
    find_agents,
    load_client_tls,
    read_node_facts,
)
from kubectl_antrea_migrate.agents.tls import CA_FILE, CERT_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE, KEY_FILE
from kubectl_antrea_migrate.cli.app import main
from kubectl_antrea_migrate.cluster.agent_install import AGENT_LABEL, SECRET_NAME, daemon_pod_node
from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient
from kubectl_antrea_migrate.cluster.read import read_snapshot
from kubectl_antrea_migrate.errors import AgentError
from tests._prereq import require_binary, require_root
from tests.conftest import REPO
from tests.harness import objects
from tests.harness.controlplane import ControlPlane
from tests.node.test_agent_mtls import CALICO_CONF, PORT, _wait_until_serving

NODE_A, NODE_B, NODE_C = "am-agents-node-a", "am-agents-node-b", "am-agents-node-c"
DEAD_HOST = "127.0.0.2"  # loopback: reachable, nobody listens on the agent port
IMAGE = "registry.local/antrea-migrate-agent:test"
PLUGIN_USER = "am-plugin-user"
_WAIT_S = 120.0


@dataclass(frozen=True)
class Installed:
    """The agent installed in ``namespace``, answering for NODE_A at ``agent_ip``."""

    namespace: str
    kubeconfig: Path
    agent_ip: str
    tls_dir: Path
    netns: str


def _veth_subnet() -> tuple[str, str]:
    """A /30 apart from the node tests' 10.253/16, derived from the pid."""
    n = os.getpid() % 16000
    third, fourth = n // 64, (n % 64) * 4
    return f"10.252.{third}.{fourth + 1}", f"10.252.{third}.{fourth + 2}"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _build_seed_node(netns: str, host_if: str, host_ip: str, agent_ip: str) -> None:
    """The netns "node": a veth to here, antrea-gw0 10.10.4.1/24, and 10.10.4.128/26 proto bird via tunl0."""
    _ip("netns", "add", netns)
    _ip("link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", netns)
    _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
    _ip("link", "set", host_if, "up")
    _ip("-n", netns, "addr", "add", f"{agent_ip}/30", "dev", "eth0")
    for link in ("eth0", "lo"):
        _ip("-n", netns, "link", "set", link, "up")
    # Bridges: the dummy module is not always there; any device kind carries the routes alike.
    _ip("-n", netns, "link", "add", "antrea-gw0", "type", "bridge")
    _ip("-n", netns, "addr", "add", "10.10.4.1/24", "dev", "antrea-gw0")
    _ip("-n", netns, "link", "set", "antrea-gw0", "up")
    # With the ipip module loaded every namespace already has tunl0; otherwise a bridge stands in.
    has_tunl0 = subprocess.run(["ip", "-n", netns, "link", "show", "tunl0"], capture_output=True).returncode == 0
    if not has_tunl0:
        _ip("-n", netns, "link", "add", "tunl0", "type", "bridge")
    _ip("-n", netns, "link", "set", "tunl0", "up")
    _ip("-n", netns, "route", "add", "10.10.4.128/26", "dev", "tunl0", "proto", "bird")


def _wait_for_agent_pod(admin: KubeClient, namespace: str, node: str) -> dict[str, Any]:
    """The pod the DaemonSet controller creates for ``node``, bound to it as the scheduler would.

    The controller leaves binding to kube-scheduler (a nodeAffinity naming the node); none runs here.
    """
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        for pod in _agent_pods(admin, namespace):
            bound = pod["spec"].get("nodeName")
            if bound == node:
                return pod
            if not bound and daemon_pod_node(pod) == node:
                binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod["metadata"]["name"]},
                           "target": {"apiVersion": "v1", "kind": "Node", "name": node}}  # fmt: skip
                admin.request("POST", f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}/binding",
                              body=binding)  # fmt: skip
        time.sleep(0.2)
    pytest.fail(f"the DaemonSet controller created no agent pod for {node} in {_WAIT_S:.0f}s")


def _agent_pods(admin: KubeClient, namespace: str, node: str | None = None) -> list[dict[str, Any]]:
    query = {"labelSelector": AGENT_LABEL}
    if node:
        query["fieldSelector"] = f"spec.nodeName={node}"
    return list(admin.get(f"/api/v1/namespaces/{namespace}/pods", query=query).get("items") or ())


def _kubelet_reports_running(admin: KubeClient, pod: dict[str, Any], host_ip: str) -> None:
    """What a kubelet writes once the agent container runs and its readiness probe passes."""
    meta = pod["metadata"]
    ready = [{"type": t, "status": "True"} for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]
    status = {
        "phase": "Running",
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": host_ip,
        "podIPs": [{"ip": host_ip}],
        "conditions": ready,
        "containerStatuses": [
            {
                "name": "agent",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "image": IMAGE,
                "imageID": "",
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }
        ],
    }
    admin.request(
        "PATCH",
        f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
        body={"status": status},
        content_type="application/merge-patch+json",
    )


def _secret_data(admin: KubeClient, namespace: str) -> dict[str, bytes]:
    secret = admin.get(f"/api/v1/namespaces/{namespace}/secrets/{SECRET_NAME}")
    return {k: base64.b64decode(v) for k, v in secret["data"].items()}


def _force_delete_agent_pods(admin: KubeClient, namespace: str) -> None:
    # No kubelet confirms graceful deletion: the test does, as for the namespace fixture's pods.
    for pod in _agent_pods(admin, namespace):
        with contextlib.suppress(ApiError):
            admin.request(
                "DELETE",
                f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}",
                query={"gracePeriodSeconds": 0},
            )


def _delete_quietly(admin: KubeClient, path: str) -> None:
    with contextlib.suppress(ApiError):
        admin.request("DELETE", path)


@pytest.fixture(scope="module")
def installed(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """``agent install --no-wait`` in a fresh namespace; NODE_A's agent runs in a netns, NODE_B's is silent."""
    require_root()
    require_binary("ip", "antrea-migrate-agent")
    admin = control_plane.client()
    kubeconfig = control_plane.admin_kubeconfig
    namespace = f"am-agents-{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("agents")
    netns, host_if = f"am-cl-{os.getpid()}", f"amcl{os.getpid() % 100000}"
    host_ip, agent_ip = _veth_subnet()
    host_root = tmp / "host"
    (host_root / "etc" / "cni" / "net.d").mkdir(parents=True)
    (host_root / "etc" / "cni" / "net.d" / "10-calico.conflist").write_text(CALICO_CONF)
    log = tmp / "agent.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        _build_seed_node(netns, host_if, host_ip, agent_ip)
        objects.create_node(admin, NODE_A, ["10.10.4.0/24"], agent_ip)
        objects.create_node(admin, NODE_B, ["10.10.5.0/24"], DEAD_HOST)
        code = main(
            ["agent", "install", "-n", namespace, "--image", IMAGE, "--no-wait", "--kubeconfig", str(kubeconfig)]
        )
        assert code == 0
        for node, ip in ((NODE_A, agent_ip), (NODE_B, DEAD_HOST)):
            _kubelet_reports_running(admin, _wait_for_agent_pod(admin, namespace, node), ip)
        tls_dir = tmp / "tls"
        tls_dir.mkdir()
        data = _secret_data(admin, namespace)
        for name in (CA_FILE, CERT_FILE, KEY_FILE):
            (tls_dir / name).write_bytes(data[name])
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", netns, shutil.which("antrea-migrate-agent") or "antrea-migrate-agent",
                 "serve", f"--listen={agent_ip}:{PORT}", f"--tls-dir={tls_dir}", f"--host-root={host_root}",
                 f"--node-name={NODE_A}"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        tls = load_client_tls(admin, namespace)
        with AgentClient(f"{agent_ip}:{PORT}", tls, NODE_A, timeout=10) as client:
            _wait_until_serving(proc, client, log)
        yield Installed(namespace, kubeconfig, agent_ip, tls_dir, netns)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        main(["agent", "uninstall", "-n", namespace, "--kubeconfig", str(kubeconfig)])
        _force_delete_agent_pods(admin, namespace)
        for node in (NODE_A, NODE_B, NODE_C):
            _delete_quietly(admin, f"/api/v1/nodes/{node}")
        _delete_quietly(admin, f"/api/v1/namespaces/{namespace}")
        subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True)
        admin.close()


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as their content: the assertions read whole cells."""
    monkeypatch.setenv("COLUMNS", "400")


def test_reinstall_keeps_the_secret_and_waits_until_every_agent_is_ready(
    installed: Installed, admin: KubeClient, capsys: pytest.CaptureFixture[str], wide: None
) -> None:
    before = _secret_data(admin, installed.namespace)
    args = ["agent", "install", "-n", installed.namespace, "--image", IMAGE, "--timeout", str(_WAIT_S)]

    code = main([*args, "--kubeconfig", str(installed.kubeconfig)])

    out = capsys.readouterr().out
    assert code == 0, out
    assert _secret_data(admin, installed.namespace) == before
    assert _rows(out, "Secret", f"{installed.namespace}/{SECRET_NAME}", "kept")
    assert _rows(out, "DaemonSet", "unchanged") and "created" not in out and "configured" not in out
    assert "agents ready: 2/2 nodes" in out
    # The running agent still accepts the plugin: the material it loaded at start-up is unchanged.
    target = find_agents(admin, installed.namespace)[NODE_A]
    assert not isinstance(target, AgentError)
    identity = call_agent(target, load_client_tls(admin, installed.namespace), lambda a: a.ping(), timeout=10)
    assert identity.node == NODE_A


def test_node_report_shows_the_seed_route_conflict(
    installed: Installed, capsys: pytest.CaptureFixture[str], wide: None
) -> None:
    args = ["node", NODE_A, "--report", "--agent-namespace", installed.namespace]

    code = main([*args, "--kubeconfig", str(installed.kubeconfig)])

    out = capsys.readouterr().out
    assert code == 1, out  # a blocker
    assert f"node {NODE_A} (agent {installed.agent_ip}:{PORT})" in out
    assert _rows(out, "10.10.4.128/26", "tunl0", "10.10.4.0/24", "antrea-gw0"), out
    assert _rows(out, "*", "10-calico.conflist", "calico")  # the conf in use
    assert "node-route-conflict" in out and "blocker" in out


def test_node_report_json_names_the_shadowed_range(installed: Installed, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["node", NODE_A, "-o", "json", "--agent-namespace", installed.namespace]

    code = main([*args, "--kubeconfig", str(installed.kubeconfig)])

    document = json.loads(capsys.readouterr().out)
    assert code == 1
    (conflict,) = document["report"]["route_conflicts"]
    assert conflict["shadowed"] == "10.10.4.128/26"
    assert conflict["calico_route"]["device"] == "tunl0" and conflict["antrea_route"]["device"] == "antrea-gw0"
    assert document["blocked"] is True and document["failed"] is False
    assert [f["code"] for f in document["findings"] if f["severity"] == "blocker"] == ["node-route-conflict"]


def test_agent_that_does_not_answer_exits_3_naming_the_node(
    installed: Installed, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["node", NODE_B, "--report", "--agent-namespace", installed.namespace]

    code = main([*args, "--kubeconfig", str(installed.kubeconfig)])

    err = capsys.readouterr().err
    assert code == 3
    assert f"node={NODE_B}" in err and f"endpoint={DEAD_HOST}:{PORT}" in err and "UNAVAILABLE" in err


def test_fan_out_reports_the_silent_node_and_answers_for_the_rest(installed: Installed, admin: KubeClient) -> None:
    targets = find_agents(admin, installed.namespace)
    tls = load_client_tls(admin, installed.namespace)

    def ping(node: str) -> AgentIdentity:
        target = targets[node]
        if isinstance(target, AgentError):
            raise target
        return call_agent(target, tls, lambda agent: agent.ping(), timeout=10)

    outcomes = fan_out([NODE_B, NODE_A], ping)

    assert [o.node for o in outcomes] == [NODE_B, NODE_A]
    assert isinstance(outcomes[0].error, AgentError) and outcomes[0].error.node == NODE_B
    assert outcomes[1].ok and outcomes[1].value is not None and outcomes[1].value.node == NODE_A


def test_agent_endpoint_and_tls_dir_bypass_discovery_and_dry_run_changes_nothing(
    installed: Installed, admin: KubeClient, capsys: pytest.CaptureFixture[str], wide: None
) -> None:
    args = ["node", NODE_A, "--cleanup-calico", "--dry-run", "--agent-endpoint", f"{installed.agent_ip}:{PORT}"]
    client_tls = installed.tls_dir.parent / "client-tls"
    client_tls.mkdir(exist_ok=True)
    data = _secret_data(admin, installed.namespace)
    for name in (CA_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE):
        (client_tls / name).write_bytes(data[name])

    code = main([*args, "--tls-dir", str(client_tls), "--kubeconfig", str(installed.kubeconfig)])

    out = capsys.readouterr().out
    assert code == 0, out
    planned = _rows(out, "route=10.10.4.128/26")
    assert planned and all("planned" in line for line in planned), out
    routes = subprocess.run(
        ["ip", "-n", installed.netns, "route", "show", "10.10.4.128/26"], capture_output=True, text=True
    )
    assert "tunl0" in routes.stdout


def test_node_facts_list_the_pods_that_never_restart(installed: Installed, admin: KubeClient, namespace: str) -> None:
    never = objects.pod("one-shot", namespace, NODE_A, ip="10.10.4.7", host_ip=installed.agent_ip)
    never["spec"]["restartPolicy"] = "Never"
    objects.create(admin, never)
    objects.create_pod(admin, "server", namespace, NODE_A, ip="10.10.4.8", host_ip=installed.agent_ip)

    facts = read_node_facts(admin, NODE_A)

    assert facts.pod_cidrs == ("10.10.4.0/24",)
    assert (namespace, "one-shot") in facts.never_restart
    assert (namespace, "server") not in facts.never_restart


def test_install_wait_times_out_naming_the_node_without_a_ready_agent(
    installed: Installed, admin: KubeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    objects.create_node(admin, NODE_C, ["10.10.6.0/24"], "127.0.0.3")
    try:
        _wait_for_agent_pod(admin, installed.namespace, NODE_C)  # Pending: no kubelet starts it
        args = ["agent", "install", "-n", installed.namespace, "--image", IMAGE, "--timeout", "2"]

        code = main([*args, "--kubeconfig", str(installed.kubeconfig)])

        err = capsys.readouterr().err
        assert code == 3
        assert "not ready after 2s" in err and f"{NODE_C}: pod " in err and "Pending" in err
        assert NODE_A not in err and NODE_B not in err
    finally:
        _delete_quietly(admin, f"/api/v1/nodes/{NODE_C}")
        for pod in _agent_pods(admin, installed.namespace, NODE_C):
            _delete_quietly(admin, f"/api/v1/namespaces/{installed.namespace}/pods/{pod['metadata']['name']}")


# --- install/uninstall in kube-system, and RBAC ---------------------------------------------------------------

_AGENT_OBJECTS = (
    "/api/v1/namespaces/{ns}/serviceaccounts/antrea-migrate-agent",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/antrea-migrate-agent",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/antrea-migrate-agent",
    "/apis/apps/v1/namespaces/{ns}/daemonsets/antrea-migrate-agent",
    "/api/v1/namespaces/{ns}/secrets/antrea-migrate-agent-tls",
)


def test_install_then_uninstall_leaves_nothing_and_keeps_kube_system(
    control_plane: ControlPlane, admin: KubeClient, capsys: pytest.CaptureFixture[str], wide: None
) -> None:
    kubeconfig = str(control_plane.admin_kubeconfig)
    try:
        assert main(["agent", "install", "--no-wait", "--image", IMAGE, "--kubeconfig", kubeconfig]) == 0
        assert all(admin.get_optional(p.format(ns="kube-system")) is not None for p in _AGENT_OBJECTS)
        capsys.readouterr()

        code = main(["agent", "uninstall", "--kubeconfig", kubeconfig])

        out = capsys.readouterr().out
        assert code == 0, out
        assert [p for p in _AGENT_OBJECTS if admin.get_optional(p.format(ns="kube-system")) is not None] == []
        assert admin.get_optional("/api/v1/namespaces/kube-system") is not None
        assert _rows(out, "Namespace", "kube-system", "kept")
        assert len(_rows(out, "deleted")) == 5
        # A second uninstall finds everything already gone.
        assert main(["agent", "uninstall", "--kubeconfig", kubeconfig]) == 0
        assert len(_rows(capsys.readouterr().out, "already absent")) == 5
    finally:
        main(["agent", "uninstall", "--kubeconfig", kubeconfig])
        _force_delete_agent_pods(admin, "kube-system")


def _rows(out: str, *cells: str) -> list[str]:
    """The printed table rows containing every one of ``cells``."""
    return [line for line in out.splitlines() if all(cell in line for cell in cells)]


def _can(
    client: KubeClient,
    verb: str,
    resource: str,
    *,
    group: str = "",
    namespace: str = "",
    name: str = "",
    subresource: str = "",
) -> bool:
    """A SelfSubjectAccessReview, as ``kubectl auth can-i`` sends it."""
    attrs = {
        "verb": verb,
        "resource": resource,
        "group": group,
        "namespace": namespace,
        "name": name,
        "subresource": subresource,
    }
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {k: v for k, v in attrs.items() if v}},
    }
    answer = client.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review).body
    return bool(answer["status"].get("allowed"))


def test_agent_service_account_can_do_nothing(control_plane: ControlPlane, installed: Installed) -> None:
    ns = installed.namespace
    agent = control_plane.impersonating_client(f"system:serviceaccount:{ns}:antrea-migrate-agent")

    assert not _can(agent, "list", "secrets", namespace=ns)
    assert not _can(agent, "get", "secrets", namespace=ns, name=SECRET_NAME)
    assert not _can(agent, "list", "pods")
    assert not _can(agent, "get", "nodes", name=NODE_A)
    assert not _can(agent, "patch", "nodes", name=NODE_A)
    assert not _can(agent, "create", "pods", namespace=ns)
    with pytest.raises(ApiError) as denied:
        agent.get(f"/api/v1/namespaces/{ns}/secrets")
    assert denied.value.status == 403


@pytest.fixture
def plugin_user(control_plane: ControlPlane, admin: KubeClient) -> Iterator[Path]:
    """``manifests/plugin-rbac.yaml`` applied and bound to PLUGIN_USER; a kubeconfig authenticating as that user."""
    (role,) = [d for d in yaml.safe_load_all((REPO / "manifests" / "plugin-rbac.yaml").read_text()) if d]
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "am-test-plugin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": PLUGIN_USER}],
    }
    paths = (
        f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{role['metadata']['name']}",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/am-test-plugin",
    )
    for obj, path in zip((role, binding), paths, strict=True):
        admin.request(
            "PATCH", path, query={"fieldManager": "test"}, body=obj, content_type="application/apply-patch+yaml"
        )
    try:
        yield control_plane.user_kubeconfig(PLUGIN_USER)
    finally:
        for path in paths:
            _delete_quietly(admin, path)


def test_plugin_role_runs_the_plugin_and_nothing_more(
    control_plane: ControlPlane,
    installed: Installed,
    admin: KubeClient,
    plugin_user: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace = f"am-plugin-{uuid.uuid4().hex[:8]}"
    kubeconfig = str(plugin_user)
    user = control_plane.client(plugin_user)
    try:
        # Real calls as the user: install, the live reads of check, node --report, uninstall.
        assert (
            main(["agent", "install", "-n", namespace, "--image", IMAGE, "--no-wait", "--kubeconfig", kubeconfig]) == 0
        )
        assert "failed" not in capsys.readouterr().out
        snapshot = read_snapshot(user)
        assert {NODE_A, NODE_B} <= {n.name for n in snapshot.nodes}
        code = main(["node", NODE_A, "--report", "--agent-namespace", installed.namespace, "--kubeconfig", kubeconfig])
        assert code == 1, capsys.readouterr()
        assert main(["agent", "uninstall", "-n", namespace, "--kubeconfig", kubeconfig]) == 0
        assert "failed" not in capsys.readouterr().out

        # What the role allows, by name where the plugin writes...
        assert _can(user, "patch", "tiers", group="crd.antrea.io", name="securityops")
        assert _can(user, "create", "pods", namespace="default", subresource="eviction")
        assert _can(user, "list", "ipamblocks", group="crd.projectcalico.org")
        assert _can(user, "get", "secrets", namespace="kube-system", name=SECRET_NAME)
        # ...and nothing more.
        assert not _can(user, "get", "secrets", namespace="kube-system", name="bootstrap-token-abcdef")
        assert not _can(user, "list", "secrets", namespace="kube-system")
        assert not _can(user, "create", "pods", namespace="default")
        assert not _can(user, "delete", "nodes", name=NODE_A)
        assert not _can(user, "patch", "daemonsets", group="apps", namespace="kube-system", name="kube-proxy")
        assert not _can(user, "patch", "clusterroles", group="rbac.authorization.k8s.io", name="cluster-admin")
        assert not _can(user, "delete", "namespaces", name="kube-system")
        with pytest.raises(ApiError) as denied:
            user.get("/api/v1/namespaces/kube-system/secrets")
        assert denied.value.status == 403
    finally:
        user.close()
        main(["agent", "uninstall", "-n", namespace, "--kubeconfig", str(control_plane.admin_kubeconfig)])
        _force_delete_agent_pods(admin, namespace)
        _delete_quietly(admin, f"/api/v1/namespaces/{namespace}")
