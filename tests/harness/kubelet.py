"""A real kubelet node for e2e tests: kubelet v1.36 + a private containerd in a network namespace.

Layout of one node (``start_kubelet_node``), everything under one temp dir, removed on stop:

- network namespace ``am-node-<pid>`` ("the node"), linked to the machine by a veth pair (host side
  ``amn<pid>``, a /30 derived from the pid). containerd, the kubelet, hostNetwork pods and the node
  agent all live there, so the CNI bridges, Calico's leftovers and the kubelet's ``KUBE-*`` chains
  (both iptables backends, IPv4 and IPv6) are the node's and vanish with the namespace.
- ``host/`` is the node's root for the agent (``--host-root``): ``host/etc/cni/net.d`` IS
  containerd's CNI conf dir.
- containerd (``tests/cri/_containerd.py``) runs in a private mount namespace; the kubelet is entered
  into the same one, where temp dirs are bind-mounted over ``/var/lib/kubelet`` (the kubelet writes
  ``device-plugins/kubelet.sock`` and ``plugins_registry`` there whatever its ``--root-dir``) and
  ``/var/log/containers`` (its log symlinks), and the node's conf dir over ``/etc/cni/net.d`` (so a
  DaemonSet's ``hostPath: /etc/cni/net.d`` is this node's, as on a real node). Its own bind mount
  of the root dir stays in that
  namespace too, and goes with it.
- The kubelet authenticates as ``system:node:<name>`` in ``system:nodes`` (certificate from the test
  control plane's CA), so the Node authorizer and NodeRestriction really apply.

KubeletConfiguration follows ../shared/notes/kubelet.md (cgroup v1 host without CAP_SYS_RESOURCE).
The kubelet sets ``vm.overcommit_memory``, ``kernel.panic`` and ``kernel.panic_on_oops`` at start; they
are machine-wide, so they are saved before and restored on stop.

Images: no registry is reachable. The pause image (the CRI sandbox image) and the probe's echo
server image are built locally and imported; pods must use ``imagePullPolicy: Never``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml

from node_agent._pb import api_pb2_grpc
from tests.cri._containerd import PAUSE_IMAGE, PrivateContainerd
from tests.harness.controlplane import ControlPlane, ControlPlaneError, binary_dir
from tests.harness.node_cni import calico_leftovers, install_calico_conf, make_bin_dir

__all__ = ["PAUSE_IMAGE", "SYSCTLS", "KubeletNode", "host_side_ip", "kubelet_config", "node_ip", "start_kubelet_node"]

# Machine-wide sysctls the kubelet sets at start (restored on stop).
SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")
_READY_TIMEOUT_S = 120.0


def _veth_pair_ips(index: int) -> tuple[str, str]:
    """(host side, node side) of a /30 in 10.252.0.0/16 derived from the pid and the node's index."""
    base = ((os.getpid() % 4000) * 4 + index % 4) * 4
    prefix = f"10.252.{base // 256}"
    return f"{prefix}.{base % 256 + 1}", f"{prefix}.{base % 256 + 2}"


def host_side_ip(index: int = 0) -> str:
    """The machine's address on node ``index``'s veth: the apiserver's serving cert must name it."""
    return _veth_pair_ips(index)[0]


def node_ip(index: int = 0) -> str:
    """Node ``index``'s InternalIP (its end of the veth): kubelet ``--node-ip``, the agent's address."""
    return _veth_pair_ips(index)[1]


@dataclass
class KubeletNode:
    """A running kubelet node; stop it with ``stop()`` (or use it as a context manager).

    Attributes:
        name: the Node name (``--hostname-override``).
        index: the node's number in its cluster (0-3): picks its addresses and pod subnets.
        ip: its InternalIP, inside ``netns``.
        netns: the node's network namespace (name under /run/netns).
        host_root: the node's root for the agent; ``host_root/etc/cni/net.d`` is the CNI conf dir.
        containerd: the node's container runtime.
        workdir: the temp dir holding everything.
    """

    name: str
    index: int
    ip: str
    netns: str
    host_root: Path
    containerd: PrivateContainerd
    workdir: Path
    _host_if: str
    _sysctls: dict[str, str]
    _kubelet: subprocess.Popen[bytes] | None = None
    _agent: subprocess.Popen[bytes] | None = None
    _stopped: bool = field(default=False)

    @property
    def conf_dir(self) -> Path:
        """The node's CNI conf dir (containerd reads it for every new sandbox)."""
        return self.host_root / "etc" / "cni" / "net.d"

    @property
    def kubelet_log(self) -> Path:
        """The kubelet's log file."""
        return self.workdir / "kubelet.log"

    def __enter__(self) -> KubeletNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def cri(self) -> Iterator[api_pb2_grpc.RuntimeServiceStub]:
        """A CRI client on the node's containerd."""
        with grpc.insecure_channel(self.containerd.endpoint) as channel:
            yield api_pb2_grpc.RuntimeServiceStub(channel)

    def in_netns(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the node's network namespace; output captured as text."""
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], check=check, capture_output=True, text=True)

    def sandboxes_created(self, namespace: str) -> dict[str, int]:
        """Pod name -> how many sandboxes containerd made for it, from containerd's own log.

        The CRI cannot tell: ``attempt`` restarts at 0 once the old sandboxes are removed, and
        ``restartCount`` is rebuilt from log files. containerd logs every RunPodSandbox it completes.
        """
        pattern = re.compile(
            r"RunPodSandbox for &PodSandboxMetadata\{Name:([^,]+),Uid:[^,]*,Namespace:([^,]+),"
            r"Attempt:\d+,\} returns sandbox id"
        )
        counts: dict[str, int] = {}
        log = (self.containerd.dir / "containerd.log").read_text(errors="replace")
        for name, pod_namespace in pattern.findall(log):
            if pod_namespace == namespace:
                counts[name] = counts.get(name, 0) + 1
        return counts

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the kubelet's and containerd's logs, for failure messages."""
        try:
            kubelet = "\n".join(self.kubelet_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            kubelet = ""
        return f"--- kubelet\n{kubelet}\n--- containerd\n{self.containerd.log()[-3000:]}"

    def stop(self) -> None:
        """Stop the kubelet, containerd (removing every sandbox), the netns; restore the sysctls."""
        if self._stopped:
            return
        self._stopped = True
        try:
            for proc in (self._agent, self._kubelet):
                _terminate(proc)
            self.containerd.stop()
        finally:
            _release_sysctls(self._sysctls)
            subprocess.run(["ip", "netns", "del", self.netns], check=False, capture_output=True)
            subprocess.run(["ip", "link", "del", self._host_if], check=False, capture_output=True)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def start_agent(self, tls_dir: Path, port: int) -> str:
        """Run ``antrea-migrate-agent serve`` on this node (its netns, ``--host-root``); return HOST:PORT.

        It runs as the DaemonSet's container would: in the node's network namespace, the node's
        root as ``--host-root``, the node's CRI socket. Stopped with the node.
        """
        endpoint = f"{self.ip}:{port}"
        agent = shutil.which("antrea-migrate-agent") or "antrea-migrate-agent"
        argv = ["ip", "netns", "exec", self.netns, agent, "serve", f"--listen={endpoint}", f"--tls-dir={tls_dir}",
                f"--host-root={self.host_root}", f"--cri-endpoint={self.containerd.endpoint}",
                f"--node-name={self.name}"]  # fmt: skip
        with (self.workdir / "agent.log").open("wb") as log:
            self._agent = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return endpoint

    def agent_log(self) -> str:
        """The agent's log (for failure messages)."""
        path = self.workdir / "agent.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _terminate(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# The values before any kubelet of this process started: a second node started while the first runs
# would otherwise save (and later "restore") the kubelet's values.
_machine_sysctls: dict[str, str] = {}
_running_nodes = 0


def _save_sysctls() -> dict[str, str]:
    global _running_nodes
    if _running_nodes == 0:
        _machine_sysctls.clear()
        _machine_sysctls.update({name: Path("/proc/sys", name).read_text().strip() for name in SYSCTLS})
    _running_nodes += 1
    return dict(_machine_sysctls)


def _release_sysctls(saved: dict[str, str]) -> None:
    global _running_nodes
    _running_nodes = max(0, _running_nodes - 1)
    _restore_sysctls(saved)


def _restore_sysctls(saved: dict[str, str]) -> None:
    for name, value in saved.items():
        with contextlib.suppress(OSError):
            Path("/proc/sys", name).write_text(value)


def _max_open_files() -> int:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1_000_000 if hard == resource.RLIM_INFINITY else min(hard, 1_000_000)


def kubelet_config(workdir: Path, node_address: str, ca_file: Path, endpoint: str) -> dict[str, Any]:
    """The KubeletConfiguration this machine needs (see ../shared/notes/kubelet.md)."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "failSwapOn": False,
        "oomScoreAdj": 0,
        "maxOpenFiles": _max_open_files(),
        # Images cannot be pulled again here: never garbage-collect them.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "podLogsDir": str(workdir / "pod-logs"),
        "containerRuntimeEndpoint": endpoint,
        "address": node_address,
        "healthzBindAddress": "127.0.0.1",
        "readOnlyPort": 0,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_file)},
        },
        # Only the apiserver (kubelet-client certificate from the same CA) can reach it, from the host.
        "authorization": {"mode": "AlwaysAllow"},
        "resolvConf": "",
        "serializeImagePulls": False,
        "nodeStatusUpdateFrequency": "2s",
    }


def _node_kubeconfig(cp: ControlPlane, name: str, server: str, path: Path) -> Path:
    cert, key = cp.issue_client_cert(f"system:node:{name}", ("system:nodes",))
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority": str(cp.ca_file)}}],
        "users": [{"name": "node", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "node"}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def _make_netns(netns: str, host_if: str, host_addr: str, node_addr: str) -> None:
    for cmd in (
        ["ip", "netns", "add", netns],
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", netns],
        ["ip", "addr", "add", f"{host_addr}/30", "dev", host_if],
        ["ip", "link", "set", host_if, "up"],
        ["ip", "-n", netns, "addr", "add", f"{node_addr}/30", "dev", "eth0"],
        ["ip", "-n", netns, "link", "set", "eth0", "up"],
        ["ip", "-n", netns, "link", "set", "lo", "up"],
    ):
        subprocess.run(cmd, check=True, capture_output=True)


def start_kubelet_node(cp: ControlPlane, name: str, index: int = 0, *, images: tuple[Path, ...] = ()) -> KubeletNode:
    """Start node ``name`` on the Calico stand-in, with Calico's leftovers; return it once Ready.

    The control plane must serve on an address the node can reach: start it with
    ``bind_address="0.0.0.0"`` and ``server_ips=(host_side_ip(0), host_side_ip(1), ...)``.

    Args:
        cp: the running control plane to register with.
        name: the Node name.
        index: the node's number (0-3), distinct among the nodes running at once.
        images: docker-save archives to import besides the pause image (workload images).

    Raises:
        ControlPlaneError: the kubelet binary is missing or the Node did not become Ready (with logs).
    """
    kubelet_bin = binary_dir() / "kubelet"
    if not os.access(kubelet_bin, os.X_OK):
        raise ControlPlaneError(f"missing kubelet in {binary_dir()}: run scripts/build-k8s.sh")
    workdir = Path(tempfile.mkdtemp(prefix="am-node-"))
    host_addr, node_addr = _veth_pair_ips(index)
    netns, host_if = f"am-node-{os.getpid()}-{index}", f"amn{os.getpid() % 100000}x{index}"
    host_root = workdir / "host"
    conf_dir = host_root / "etc" / "cni" / "net.d"
    install_calico_conf(conf_dir, index)
    binds = {
        Path("/var/lib/kubelet"): workdir / "var-lib-kubelet",
        Path("/var/log/containers"): workdir / "var-log-containers",
        # hostPath volumes naming /etc/cni/net.d (Antrea's install container) reach this node's dir.
        Path("/etc/cni/net.d"): conf_dir,
    }
    for source in binds.values():
        source.mkdir(exist_ok=True)
    containerd = PrivateContainerd(
        conf_dir=conf_dir, cni_bin_dir=make_bin_dir(workdir / "cni-bin"), netns=netns, binds=binds
    )
    node = KubeletNode(name, index, node_addr, netns, host_root, containerd, workdir, host_if, _save_sysctls())
    try:
        _make_netns(netns, host_if, host_addr, node_addr)
        calico_leftovers(netns, index)
        containerd.__enter__()
        for archive in images:
            containerd.import_image(archive)
        node._kubelet = _spawn_kubelet(cp, node, kubelet_bin)
        _wait_node_ready(cp, node)
    except BaseException:
        node.stop()
        raise
    return node


def _spawn_kubelet(cp: ControlPlane, node: KubeletNode, kubelet_bin: Path) -> subprocess.Popen[bytes]:
    workdir = node.workdir
    port = cp.server.rsplit(":", 1)[1]
    server = f"https://{host_side_ip(node.index)}:{port}"
    kubeconfig = _node_kubeconfig(cp, node.name, server, workdir / "kubelet.kubeconfig")
    config = kubelet_config(workdir, node.ip, cp.ca_file, node.containerd.endpoint)
    (workdir / "kubelet.yaml").write_text(yaml.safe_dump(config))
    argv = [
        *node.containerd.nsenter_prefix(),
        str(kubelet_bin),
        f"--config={workdir / 'kubelet.yaml'}",
        f"--kubeconfig={kubeconfig}",
        f"--hostname-override={node.name}",
        f"--node-ip={node.ip}",
        f"--root-dir={workdir / 'kubelet'}",
        f"--cert-dir={workdir / 'kubelet-pki'}",
        "--v=1",
    ]
    with node.kubelet_log.open("wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _wait_node_ready(cp: ControlPlane, node: KubeletNode) -> None:
    client = cp.client()
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if node._kubelet is not None and node._kubelet.poll() is not None:
            raise ControlPlaneError(f"kubelet exited with {node._kubelet.returncode}:\n{node.log_tail()}")
        found = client.get_optional(f"/api/v1/nodes/{node.name}")
        conditions = ((found or {}).get("status") or {}).get("conditions") or ()
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return
        time.sleep(0.5)
    raise ControlPlaneError(f"node {node.name} not Ready within {_READY_TIMEOUT_S:.0f}s:\n{node.log_tail()}")
