"""manifests/agent.yaml keeps the discovery contract the plugin relies on (architecture.md "Agent contract")."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "agent.yaml"


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    text = Template(MANIFEST.read_text()).substitute(NAMESPACE="kube-system", IMAGE="registry.local/agent:1")
    return {d["kind"]: d for d in yaml.safe_load_all(text)}


@pytest.fixture(scope="module")
def pod(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = docs["DaemonSet"]["spec"]["template"]["spec"]
    return spec


def test_only_the_documented_placeholders_are_used() -> None:
    assert set(re.findall(r"\$\{(\w+)\}", MANIFEST.read_text())) == {"NAMESPACE", "IMAGE"}


def test_every_object_lives_in_the_agent_namespace(docs: dict[str, dict[str, Any]]) -> None:
    assert docs["Namespace"]["metadata"]["name"] == "kube-system"
    assert docs["Namespace"]["metadata"]["annotations"]["kubectl-antrea-migrate/keep-on-uninstall"] == "true"
    for kind in ("ServiceAccount", "Role", "RoleBinding", "DaemonSet"):
        assert docs[kind]["metadata"]["namespace"] == "kube-system", kind


def test_pods_are_discoverable_by_label_and_grpc_port(docs: dict[str, dict[str, Any]], pod: dict[str, Any]) -> None:
    template = docs["DaemonSet"]["spec"]["template"]
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "antrea-migrate-agent"
    (container,) = pod["containers"]
    (port,) = container["ports"]
    assert port["name"] == "grpc"
    assert f"--listen=0.0.0.0:{port['containerPort']}" in container["command"]


def test_agent_runs_privileged_on_the_node_network_on_every_node(pod: dict[str, Any]) -> None:
    assert pod["hostNetwork"] is True and pod["hostPID"] is True
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["containers"][0]["securityContext"]["privileged"] is True
    assert pod["containers"][0]["image"] == "registry.local/agent:1"


def test_node_name_and_tls_secret_reach_the_agent(pod: dict[str, Any]) -> None:
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert volumes["tls"]["secret"]["secretName"] == "antrea-migrate-agent-tls"
    assert f"--tls-dir={mounts['tls']}" in container["command"]


def test_host_paths_are_mounted_under_the_host_root(pod: dict[str, Any]) -> None:
    container = pod["containers"][0]
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert "--host-root=/host" in container["command"]
    for path in ("/etc/cni/net.d", "/var/lib/cni", "/run/containerd", "/run/crio", "/var/run"):
        (name,) = [n for n, p in host_paths.items() if p == path]
        assert mounts[name]["mountPath"] == f"/host{path}"
    # Shared with the node's own iptables users at the real path; modules only read.
    xtables = next(n for n, p in host_paths.items() if p == "/run/xtables.lock")
    modules = next(n for n, p in host_paths.items() if p == "/lib/modules")
    assert mounts[xtables]["mountPath"] == "/run/xtables.lock"
    assert mounts[modules] == {"name": modules, "mountPath": "/lib/modules", "readOnly": True}


def test_service_account_gets_no_token_and_no_permissions(docs: dict[str, dict[str, Any]], pod: dict[str, Any]) -> None:
    assert docs["ServiceAccount"]["automountServiceAccountToken"] is False
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    assert docs["Role"]["rules"] == []
    assert docs["RoleBinding"]["subjects"][0]["name"] == docs["ServiceAccount"]["metadata"]["name"]
