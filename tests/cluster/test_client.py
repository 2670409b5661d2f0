"""The cluster edge's client and the test control plane: kubeconfig resolution, errors, RBAC, teardown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient, load_client
from kubectl_antrea_migrate.cluster.read import read_snapshot
from kubectl_antrea_migrate.errors import EXIT_FAILURE, ClusterError
from tests.harness.controlplane import ControlPlane, start_control_plane


def two_context_kubeconfig(control_plane: ControlPlane, tmp_path: Path) -> Path:
    """The admin kubeconfig plus a context ``dead`` pointing at a port nobody listens on."""
    config = yaml.safe_load(control_plane.admin_kubeconfig.read_text())
    dead = dict(config["clusters"][0], name="dead")
    dead["cluster"] = dict(dead["cluster"], server="https://127.0.0.1:9")
    config["clusters"].append(dead)
    config["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": "user"}})
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    return path


def test_context_option_selects_the_context(control_plane: ControlPlane, tmp_path: Path) -> None:
    path = two_context_kubeconfig(control_plane, tmp_path)

    assert load_client(str(path)).get("/version")["gitVersion"].startswith("v1.36.")
    with pytest.raises(ClusterError, match=r"cannot reach the apiserver at https://127\.0\.0\.1:9") as info:
        load_client(str(path), context="dead").get("/version")
    assert info.value.exit_code == EXIT_FAILURE
    assert info.value.__cause__ is not None  # the transport error stays chained for --debug


def test_kubeconfig_env_is_used_and_the_option_wins_over_it(
    control_plane: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "absent"), str(control_plane.admin_kubeconfig)]))
    assert load_client().get("/version")["gitVersion"].startswith("v1.36.")

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    assert load_client(str(control_plane.admin_kubeconfig)).get("/version")


def test_unknown_context_and_missing_file_are_cluster_errors(control_plane: ControlPlane, tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="context nope"):
        load_client(str(control_plane.admin_kubeconfig), context="nope")
    with pytest.raises(ClusterError, match="cannot load kubeconfig"):
        load_client(str(tmp_path / "none"))


def test_api_errors_carry_status_and_reason(admin: KubeClient) -> None:
    with pytest.raises(ApiError) as info:
        admin.get("/api/v1/nodes/no-such-node")
    assert (info.value.status, info.value.reason) == (404, "NotFound")
    assert str(info.value) == 'GET /api/v1/nodes/no-such-node: 404 NotFound: nodes "no-such-node" not found'
    assert isinstance(info.value, ClusterError)


def test_rbac_is_enforced_and_impersonation_sees_it(control_plane: ControlPlane, admin: KubeClient) -> None:
    """A ServiceAccount with no binding cannot read the cluster; bound to a read-only role, it can."""
    user = "system:serviceaccount:kube-system:reader-under-test"
    reader = control_plane.impersonating_client(user)
    with pytest.raises(ApiError) as info:
        read_snapshot(reader)
    assert (info.value.status, info.value.reason) == (403, "Forbidden")

    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader-under-test"},
        "rules": [
            {"apiGroups": [""], "resources": ["nodes", "namespaces", "serviceaccounts", "pods"], "verbs": ["list"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["list"]},
            {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["list"]},
            {"apiGroups": ["crd.projectcalico.org", "projectcalico.org"], "resources": ["*"], "verbs": ["list"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "reader-under-test"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader-under-test"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader-under-test", "namespace": "kube-system"}],
    }
    admin.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", body=role)
    admin.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body=binding)
    try:
        assert read_snapshot(reader).namespaces
        with pytest.raises(ApiError) as write:
            reader.request("DELETE", "/api/v1/namespaces/default")
        assert write.value.status == 403
        # kubectl honours the impersonation kubeconfig the harness writes too.
        done = control_plane.kubectl(
            "get", "nodes", kubeconfig=control_plane.impersonation_kubeconfig(user), check=False
        )
        assert done.returncode == 0, done.stderr
        denied = control_plane.kubectl(
            "get", "secrets", "-A", kubeconfig=control_plane.impersonation_kubeconfig(user), check=False
        )
        assert denied.returncode != 0 and "forbidden" in denied.stderr
    finally:
        admin.request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/reader-under-test")
        admin.request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/reader-under-test")


def test_certificate_users_and_groups_are_authenticated(control_plane: ControlPlane) -> None:
    client = control_plane.client(control_plane.user_kubeconfig("alice", ["dev-team"]))
    review = client.request(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    ).body
    info = review["status"]["userInfo"]
    assert info["username"] == "alice"
    assert "dev-team" in info["groups"]


def test_stop_kills_every_component_and_removes_the_temp_dir(control_plane: ControlPlane) -> None:
    """A second control plane (no controller-manager, no CRDs) started and stopped."""
    cp = start_control_plane(controller_manager=False, crds=())
    pids = [p.popen.pid for p in cp._processes]
    assert cp.client().get("/version")["gitVersion"].startswith("v1.36.")
    cp.stop()
    assert not cp.workdir.exists()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
