"""``check`` and ``convert --apply`` against a real kube-apiserver with the Calico and Antrea CRDs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from kubectl_antrea_migrate.cli.app import main
from kubectl_antrea_migrate.cluster.client import KubeClient
from tests.harness import objects
from tests.harness.controlplane import ControlPlane

ANTREA = "/apis/crd.antrea.io/v1beta1"


def _cli(capsys: pytest.CaptureFixture[str], cp: ControlPlane, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--kubeconfig", str(cp.admin_kubeconfig)])
    out, err = capsys.readouterr()
    return code, out, err


def _wait_for_terminating_namespaces(client: KubeClient) -> None:
    """Earlier tests' namespaces may still be terminating; live commands read every namespace."""
    deadline = time.monotonic() + 120
    while any(ns.get("status", {}).get("phase") == "Terminating" for ns in client.list_pages("/api/v1/namespaces")):
        if time.monotonic() > deadline:
            pytest.fail("namespaces of earlier tests still terminating after 120 s")
        time.sleep(0.5)


def _seed_cluster(client: KubeClient) -> None:
    """The seed's example: /24 node podCIDRs, Calico /26 blocks; node-b's range holds node-a's block."""
    objects.create(client, objects.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    objects.create(client, objects.node("node-b", ["10.10.4.0/24"], "192.168.0.12"))
    objects.create(client, objects.node("node-c", ["10.10.7.0/24"], "192.168.0.13"))
    objects.create(client, objects.node("node-d", ["10.10.9.0/24"], "192.168.0.14"))
    objects.create(client, objects.ip_pool("default-ipv4-ippool", "10.10.0.0/16"))
    objects.create(client, objects.ipam_block("10.10.4.128/26", "node-a", allocated=5))
    objects.create(client, objects.ipam_block("10.10.20.0/26", "node-b", allocated=3))


def test_check_names_the_overlapped_node_and_what_to_drain(
    capsys: pytest.CaptureFixture[str], control_plane: ControlPlane, clean_cluster: KubeClient
) -> None:
    _seed_cluster(clean_cluster)
    code, out, _ = _cli(capsys, control_plane, "check", "-o", "yaml")
    doc = yaml.safe_load(out)
    assert code == 1
    status = {n["node"]: n["status"] for n in doc["nodes"]}
    assert status == {"node-a": "ok", "node-b": "overlapped", "node-c": "ok", "node-d": "ok"}
    assert doc["scenario"] == "drain-nodes"
    assert set(doc["drainFirst"]) == {"node-a", "node-b"}
    codes = {f["code"] for f in doc["findings"]}
    assert "agents-absent" in codes


def test_check_reports_a_rejected_calico_object_and_goes_on(
    capsys: pytest.CaptureFixture[str], control_plane: ControlPlane, clean_cluster: KubeClient, namespace: str
) -> None:
    objects.create(clean_cluster, objects.node("node-a", ["10.10.1.0/24"], "192.168.0.11"))
    broken = objects.global_network_policy("broken", selector="app == 'web")  # the CRD accepts any string
    objects.create(clean_cluster, broken)
    objects.create(clean_cluster, objects.global_network_policy("fine", selector="app == 'web'"))
    code, out, _ = _cli(capsys, control_plane, "check", "-o", "json")
    assert code == 1
    import json

    doc = json.loads(out)
    rejected = [f for f in doc["findings"] if f["code"] == "object-rejected"]
    assert len(rejected) == 1 and "broken" in rejected[0]["message"] and "spec.selector" in rejected[0]["message"]
    converted = {o["name"]: o["fidelity"] for o in doc["policies"]["objects"]}
    assert converted["fine"] == "exact"


def test_convert_apply_is_accepted_without_warnings_backs_up_and_is_idempotent(
    capsys: pytest.CaptureFixture[str],
    control_plane: ControlPlane,
    clean_cluster: KubeClient,
    namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    _wait_for_terminating_namespaces(clean_cluster)
    objects.create(clean_cluster, objects.global_network_policy("web", selector="app == 'web'"))
    objects.create(clean_cluster, objects.calico_network_policy("no-egress", namespace, selector="app == 'db'"))

    code, out, err = _cli(capsys, control_plane, "convert", "--apply", "--dry-run=server")
    assert code == 0, err + out
    assert "(server dry run)" in out
    assert clean_cluster.get_optional(f"{ANTREA}/clusternetworkpolicies") is not None
    assert clean_cluster.request("GET", f"{ANTREA}/clusternetworkpolicies").body["items"] == []

    code, out, err = _cli(capsys, control_plane, "convert", "--apply")
    assert code == 0, err + out
    assert "warning" not in err
    backups = list(tmp_path.glob("calico-backup-*.yaml"))
    assert len(backups) == 1
    saved = {d["metadata"]["name"] for d in yaml.safe_load_all(backups[0].read_text()) if d}
    assert {"web", "no-egress"} <= saved
    acnps = clean_cluster.request("GET", f"{ANTREA}/clusternetworkpolicies").body["items"]
    annps = clean_cluster.request("GET", f"{ANTREA}/namespaces/{namespace}/networkpolicies").body["items"]
    assert len(acnps) >= 1 and len(annps) >= 1
    assert all(" created" in line for line in out.splitlines())

    code, out, err = _cli(capsys, control_plane, "convert", "--apply")
    assert code == 0, err + out
    assert out.strip() and all(line.endswith("unchanged") for line in out.splitlines())
    clean_cluster.request("DELETE", f"{ANTREA}/namespaces/{namespace}/networkpolicies")
