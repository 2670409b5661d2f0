"""A private containerd for the CRI tests: own root, state, sockets, CNI conf, mount and network namespace.

Layout (everything under one temp dir, removed at the end):
  config.toml, containerd.sock, root/, state/, runc/, opt/, net.d/10-amcri.conflist, ipam/, containerd.log
  run-containerd/ and var-lib-cni/ are bind-mounted over /run/containerd and /var/lib/cni inside
  containerd's private mount namespace: containerd 1.6 writes shim sockets to /run/containerd/s and CNI
  results to /var/lib/cni/results whatever its config says, and this keeps them out of the machine's.
containerd runs inside a fresh network namespace, so the CNI bridge and the hostNetwork sandbox live
there, never in the machine's own network namespace. Settings follow ../shared/notes/containerd.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import grpc

from node_agent._pb import api_pb2, api_pb2_grpc

PAUSE_IMAGE = "localhost/antrea-migrate/pause:test"
CACHE = Path(os.environ.get("ANTREA_MIGRATE_CACHE", "/var/cache/antrea-migrate"))

# Sleeps until SIGTERM/SIGINT and reaps children, like the real pause container.
PAUSE_C = r"""
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    struct sigaction term = {0}, chld = {0};
    term.sa_handler = stop;
    chld.sa_handler = reap;
    chld.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGTERM, &term, 0);
    sigaction(SIGINT, &term, 0);
    sigaction(SIGCHLD, &chld, 0);
    for (;;) pause();
}
"""

CONFIG = """version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{d}/containerd.sock"

[ttrpc]
  address = "{d}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{image}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{d}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin_dir}"
    conf_dir = "{conf_dir}"
"""


def _conflist(network: str, ipam_dir: Path) -> str:
    return json.dumps(
        {
            "cniVersion": "0.4.0",
            "name": network,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "amcri0",
                    "isGateway": True,
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": "10.231.0.0/24"}]],
                        "dataDir": str(ipam_dir),
                    },
                }
            ],
        }
    )


def pause_image_tar() -> Path:
    """Return a docker-save archive of the pause image, built once and cached outside the repository."""
    digest = hashlib.sha256(PAUSE_C.encode()).hexdigest()[:12]
    cached = CACHE / f"pause-{digest}.tar"
    if cached.is_file():
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="am-pause-") as tmp:
        src, binary = Path(tmp, "pause.c"), Path(tmp, "pause")
        src.write_text(PAUSE_C)
        subprocess.run(["gcc", "-static", "-Os", "-o", str(binary), str(src)], check=True)
        archive = _docker_archive(binary.read_bytes())
    partial = cached.with_suffix(".tmp")
    partial.write_bytes(archive)
    partial.rename(cached)
    return cached


def _tar_bytes(members: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _docker_archive(pause: bytes) -> bytes:
    layer = _tar_bytes({"pause": (pause, 0o755)})
    diff_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/pause"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [PAUSE_IMAGE], "Layers": [f"{diff_id}/layer.tar"]}])
    return _tar_bytes(
        {
            "manifest.json": (manifest.encode(), 0o644),
            config_name: (config, 0o644),
            f"{diff_id}/layer.tar": (layer, 0o644),
        }
    )


class PrivateContainerd:
    """One containerd process with everything of its own; use as a context manager."""

    def __init__(
        self,
        *,
        conf_dir: Path | None = None,
        cni_bin_dir: Path = Path("/usr/lib/cni"),
        netns: str | None = None,
        binds: Mapping[Path, Path] | None = None,
    ) -> None:
        """Prepare (not start) a containerd.

        Args:
            conf_dir: CNI conf dir to use as it is (the caller writes the confs); default: its own
                ``net.d`` with a bridge conflist ``10-amcri.conflist``.
            cni_bin_dir: where containerd looks for CNI plugins.
            netns: an existing network namespace (name under /run/netns) to run in, left in place on
                stop; default: a fresh one, deleted on stop.
            binds: more bind mounts inside containerd's private mount namespace, mount point ->
                source dir (missing mount points are created, and removed again when still empty).
                Processes entered into that namespace (``nsenter_prefix``) see them too.
        """
        self.dir = Path(tempfile.mkdtemp(prefix="am-cri-"))
        self.netns = netns or f"am-cri-{os.getpid()}"
        self._own_netns = netns is None
        self.conf_dir = conf_dir or self.dir / "net.d"
        self._default_conf = conf_dir is None
        self.cni_bin_dir = cni_bin_dir
        self._binds = dict(binds or {})
        self.socket = self.dir / "containerd.sock"
        self.endpoint = f"unix://{self.socket}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._made_dirs: list[Path] = []

    def __enter__(self) -> PrivateContainerd:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        """containerd's own log, for failure messages."""
        path = self.dir / "containerd.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    @property
    def pid(self) -> int:
        """containerd's pid (the exec chain unshare -> sh -> nsenter -> containerd keeps it)."""
        if self._proc is None:
            raise RuntimeError("containerd is not started")
        return self._proc.pid

    def nsenter_prefix(self) -> list[str]:
        """Argv prefix running a command in containerd's mount and network namespaces."""
        return ["nsenter", f"--target={self.pid}", "--mount", "--net", "--"]

    def import_image(self, archive: Path) -> None:
        """Import a docker-save archive into the CRI's ``k8s.io`` namespace."""
        subprocess.run(
            ["ctr", "--address", str(self.socket), "-n", "k8s.io", "images", "import", str(archive)],
            check=True,
            capture_output=True,
        )

    def _start(self) -> None:
        d = self.dir
        for sub in ("root", "state", "runc", "opt", "net.d", "ipam", "run-containerd", "var-lib-cni"):
            (d / sub).mkdir()
        (d / "config.toml").write_text(
            CONFIG.format(d=d, image=PAUSE_IMAGE, cni_bin_dir=self.cni_bin_dir, conf_dir=self.conf_dir)
        )
        if self._default_conf:
            (d / "net.d" / "10-amcri.conflist").write_text(_conflist("amcri", d / "ipam"))
        mounts = {Path("/run/containerd"): d / "run-containerd", Path("/var/lib/cni"): d / "var-lib-cni"}
        mounts.update(self._binds)
        for mount_point in mounts:
            if not mount_point.exists():
                missing = [p for p in (mount_point, *mount_point.parents) if not p.exists()]
                mount_point.mkdir(parents=True)
                self._made_dirs.extend(reversed(missing))
        if self._own_netns:
            subprocess.run(["ip", "netns", "add", self.netns], check=True)
            subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        # Positional args: $1 netns, $2 config, then (mount point, source) pairs.
        script = (
            'ns="$1"; cfg="$2"; shift 2; '
            'while [ "$#" -gt 0 ]; do mount --bind "$2" "$1" || exit 1; shift 2; done; '
            'exec nsenter --net="$ns" -- containerd --config "$cfg"'
        )
        pairs = [str(x) for mount_point, source in mounts.items() for x in (mount_point, source)]
        with open(d / "containerd.log", "wb") as log:
            self._proc = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "slave",
                    "--",
                    "sh",
                    "-c",
                    script,
                    "sh",
                    f"/run/netns/{self.netns}",
                    str(d / "config.toml"),
                    *pairs,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_for_socket()
        self.import_image(pause_image_tar())

    def _wait_for_socket(self) -> None:
        # Startup is a few hundred ms; the loop ends early if containerd dies (its log tells why).
        for _ in range(300):
            if self.socket.is_socket():
                return
            if self._proc is not None and self._proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"containerd did not start; log:\n{self.log()}")

    def stop(self) -> None:
        """Remove every sandbox, stop containerd, delete the netns and the temp dir."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(Exception):
                self._remove_all_sandboxes()
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._own_netns:
            subprocess.run(["ip", "netns", "del", self.netns], check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        for made in reversed(self._made_dirs):
            with contextlib.suppress(OSError):
                made.rmdir()  # only if still empty: another user may have started using it

    def _remove_all_sandboxes(self) -> None:
        # Shims outlive containerd; removing the sandboxes first ends them and their mounts.
        with grpc.insecure_channel(self.endpoint) as channel:
            cri = api_pb2_grpc.RuntimeServiceStub(channel)
            for sb in cri.ListPodSandbox(api_pb2.ListPodSandboxRequest(), timeout=30).items:
                cri.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)
                cri.RemovePodSandbox(api_pb2.RemovePodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)


@contextlib.contextmanager
def private_containerd() -> Iterator[PrivateContainerd]:
    """Yield a started ``PrivateContainerd``; always stopped and cleaned afterwards."""
    with PrivateContainerd() as cd:
        yield cd
