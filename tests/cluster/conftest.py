"""Cluster tests own one real control plane per session and a fresh namespace per test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient
from tests._prereq import require
from tests.conftest import UPSTREAM
from tests.harness.controlplane import BUILD_SCRIPT, ControlPlane, binary_dir, missing_binaries, start_control_plane


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/cluster/ carries the ``cluster`` marker."""
    for item in items:
        if "tests/cluster/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd + kube-apiserver + kube-controller-manager with the Calico and Antrea CRDs, RBAC on."""
    missing = missing_binaries(("etcd", "kube-apiserver", "kube-controller-manager"))
    require(not missing, f"needs {', '.join(missing)} in {binary_dir()}: run {BUILD_SCRIPT}")
    require(UPSTREAM.is_dir(), f"needs the shared upstream data (CRDs) at {UPSTREAM}")
    cp = start_control_plane()
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture
def admin(control_plane: ControlPlane) -> Iterator[KubeClient]:
    """An admin client (``system:masters``) to set the cluster up."""
    client = control_plane.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def namespace(admin: KubeClient) -> Iterator[str]:
    """A fresh namespace with its ``default`` ServiceAccount, deleted after the test.

    Pods are force-deleted first: without a kubelet nobody would confirm their graceful deletion.
    """
    name = f"t-{uuid.uuid4().hex[:10]}"
    admin.request(
        "POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    try:
        _wait_for_default_service_account(admin, name)
        yield name
    finally:
        try:
            admin.request("DELETE", f"/api/v1/namespaces/{name}/pods", query={"gracePeriodSeconds": 0})
            admin.request("DELETE", f"/api/v1/namespaces/{name}")
        except ApiError as exc:
            if exc.status != 404:
                raise


# Cluster-scoped kinds tests create; namespaced ones go away with the test's namespace.
_CLUSTER_SCOPED = (
    "/api/v1/nodes",
    "/apis/crd.projectcalico.org/v1/ippools",
    "/apis/crd.projectcalico.org/v1/ipamblocks",
    "/apis/crd.projectcalico.org/v1/blockaffinities",
    "/apis/crd.projectcalico.org/v1/globalnetworkpolicies",
    "/apis/crd.projectcalico.org/v1/globalnetworksets",
    "/apis/crd.projectcalico.org/v1/tiers",
    "/apis/crd.antrea.io/v1beta1/clusternetworkpolicies",
    "/apis/crd.antrea.io/v1beta1/clustergroups",
    "/apis/crd.antrea.io/v1beta1/tiers",
)


@pytest.fixture
def clean_cluster(admin: KubeClient) -> Iterator[KubeClient]:
    """The admin client, with every test-made cluster-scoped object deleted before and after the test."""
    _delete_cluster_scoped(admin)
    try:
        yield admin
    finally:
        _delete_cluster_scoped(admin)


def _delete_cluster_scoped(admin: KubeClient) -> None:
    for path in _CLUSTER_SCOPED:
        admin.request("DELETE", path)


def _wait_for_default_service_account(admin: KubeClient, namespace: str) -> None:
    # The controller-manager creates it asynchronously; Pods are rejected until it exists.
    deadline = time.monotonic() + 60
    while admin.get_optional(f"/api/v1/namespaces/{namespace}/serviceaccounts/default") is None:
        if time.monotonic() > deadline:
            pytest.fail(f"no default ServiceAccount in {namespace} after 60s: is kube-controller-manager running?")
        time.sleep(0.1)
