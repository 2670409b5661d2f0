"""A connectivity probe between pod sandboxes: clients in one sandbox's netns, servers in another's.

The workload image (``ECHO_IMAGE``, built like the pause image: ``gcc -static``, one-layer docker-save
archive, imported with ``ctr``) holds ``/echo``, a tiny HTTP server answering ``ok <hostname>`` on port
8080 (its entrypoint), and ``/install-cni SRC_DIR DST``, which copies ``SRC_DIR/$NODE_NAME.conflist``
to ``DST`` atomically, as a CNI's install container does (the Antrea stand-in's init container).

``Probe`` runs one thread per (client pod, server pod) pair, so a pair that cannot talk is seen even
in a short window (a dropped connection attempt blocks its thread for ``connect_timeout``). Each round the thread
resolves, through the CRI, the client's and the server's *current* sandbox (a restarted pod gets a
new netns and new IPs), enters the client's netns (``setns`` on the calling thread only: Linux
switches network namespaces per thread, and a socket stays in the namespace it was made in) and
sends one HTTP request.

Which address a client dials: the server's address on a network (one of ``networks``, e.g. Calico's
and Antrea's pod ranges) the client is on itself, the client's ``eth0`` network first (a Multus pod
is on both), else the server's ``eth0`` address (what the cluster would route to).

A request is counted only when both ends are up: the client's sandbox is READY with an address, and
the server answers inside its own netns. A pod being restarted in place is down by design; those
rounds are counted as ``skipped``, not as failures; so is a request during which either end was
restarted (checked again after a failed request: same sandboxes, server still answering locally).
A failure is a request between two live pods, unchanged before and after, that got no connection
within ``connect_timeout`` or no answer within ``timeout``: the network did not carry it.

Bounded: ``rounds`` per pair at most, ``interval`` apart, each request ``connect_timeout + timeout``
at most.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import ipaddress
import json
import os
import socket
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from pyroute2 import IPRoute

from node_agent._pb import api_pb2, api_pb2_grpc
from tests.cri._containerd import CACHE

__all__ = ["ECHO_IMAGE", "ECHO_PORT", "Probe", "ProbePod", "ProbeResult", "echo_image_tar", "sandbox_addresses"]

ECHO_IMAGE = "localhost/antrea-migrate/echo:test"
ECHO_PORT = 8080
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

ECHO_C = r"""
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
int main(void) {
    char host[64] = {0}, buf[512], reply[160];
    struct sockaddr_in addr = {0};
    struct timeval tv = {1, 0};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    signal(SIGPIPE, SIG_IGN);
    gethostname(host, sizeof(host) - 1);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(8080);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 64)) return 1;
    for (;;) {
        int c = accept(fd, 0, 0);
        if (c < 0) continue;
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (read(c, buf, sizeof(buf)) > 0) {
            int n = snprintf(reply, sizeof(reply), "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\nok %s\n",
                             (int)strlen(host) + 4, host);
            (void)!write(c, reply, n);
        }
        close(c);
    }
}
"""

INSTALL_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    char src[512], tmp[512], buf[4096];
    const char *node = getenv("NODE_NAME");
    size_t n;
    FILE *in, *out;
    if (argc != 3 || !node) { fprintf(stderr, "usage: NODE_NAME=... install-cni SRC_DIR DST\n"); return 2; }
    snprintf(src, sizeof(src), "%s/%s.conflist", argv[1], node);
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
    if (!(in = fopen(src, "rb")) || !(out = fopen(tmp, "wb"))) { perror(src); return 1; }
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) fwrite(buf, 1, n, out);
    if (fclose(out) || rename(tmp, argv[2])) { perror(argv[2]); return 1; }
    printf("installed %s as %s\n", src, argv[2]);
    return 0;
}
"""


def _tar(members: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def echo_image_tar() -> Path:
    """A docker-save archive of ``ECHO_IMAGE`` (``/echo``), built once and cached outside the repo."""
    digest = hashlib.sha256((ECHO_C + INSTALL_C).encode()).hexdigest()[:12]
    cached = CACHE / f"echo-{digest}.tar"
    if cached.is_file():
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    members: dict[str, tuple[bytes, int]] = {}
    with tempfile.TemporaryDirectory(prefix="am-echo-") as tmp:
        for name, code in (("echo", ECHO_C), ("install-cni", INSTALL_C)):
            src, binary = Path(tmp, f"{name}.c"), Path(tmp, name)
            src.write_text(code)
            subprocess.run(["gcc", "-static", "-Os", "-o", str(binary), str(src)], check=True)
            members[name] = (binary.read_bytes(), 0o755)
    layer = _tar(members)
    diff_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/echo"], "ExposedPorts": {f"{ECHO_PORT}/tcp": {}}},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ECHO_IMAGE], "Layers": [f"{diff_id}/layer.tar"]}])
    archive = _tar(
        {
            "manifest.json": (manifest.encode(), 0o644),
            config_name: (config, 0o644),
            f"{diff_id}/layer.tar": (layer, 0o644),
        }
    )
    partial = cached.with_suffix(".tmp")
    partial.write_bytes(archive)
    partial.rename(cached)
    return cached


@contextlib.contextmanager
def _thread_in_netns(path: str) -> Iterator[None]:
    """Switch the calling thread (only it) into the netns at ``path``; back on exit."""
    own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    try:
        target = os.open(path, os.O_RDONLY)
        try:
            if _libc.setns(target, _CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns {path}: {os.strerror(err)}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if _libc.setns(own, _CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns back: {os.strerror(err)}")
    finally:
        os.close(own)


@dataclass(frozen=True, slots=True)
class _Sandbox:
    netns: str  # /proc/<pid>/ns/net of the pause process
    addresses: tuple[tuple[str, ipaddress.IPv4Interface], ...]  # (ifname, address/prefix), eth0 first


def sandbox_addresses(netns_path: str) -> tuple[tuple[str, ipaddress.IPv4Interface], ...]:
    """The IPv4 (interface, address) pairs of the pod interfaces in a sandbox's netns (``lo`` left out)."""
    with _thread_in_netns(netns_path), IPRoute() as ipr:  # its netlink socket opens in the sandbox's netns
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        pairs = [
            (
                names.get(addr["index"], "?"),
                ipaddress.IPv4Interface(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}"),
            )
            for addr in ipr.get_addr(family=socket.AF_INET)
            if names.get(addr["index"]) != "lo"
        ]
    return tuple(sorted(pairs, key=lambda p: (p[0] != "eth0", p[0])))


def _current_sandbox(cri: api_pb2_grpc.RuntimeServiceStub, pod: ProbePod) -> _Sandbox | None:
    flt = api_pb2.PodSandboxFilter(
        state=api_pb2.PodSandboxStateValue(state=api_pb2.SANDBOX_READY),
        label_selector={"io.kubernetes.pod.namespace": pod.namespace, "io.kubernetes.pod.name": pod.name},
    )
    items = cri.ListPodSandbox(api_pb2.ListPodSandboxRequest(filter=flt), timeout=10).items
    for item in sorted(items, key=lambda i: i.created_at, reverse=True):
        status = cri.PodSandboxStatus(api_pb2.PodSandboxStatusRequest(pod_sandbox_id=item.id, verbose=True), timeout=10)
        pid = json.loads(status.info.get("info", "{}")).get("pid")
        if not pid:
            continue
        path = f"/proc/{pid}/ns/net"
        try:
            return _Sandbox(path, sandbox_addresses(path))
        except OSError:
            return None  # the sandbox went away between the two calls
    return None


def _http_ok(address: str, timeout: float, connect_timeout: float) -> bool:
    try:
        # The handshake is the kernel's alone (no server scheduling needed): a short bound catches
        # dropped SYNs quickly; the answer needs the server process, so it gets the longer one.
        with socket.create_connection((address, ECHO_PORT), timeout=connect_timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return conn.recv(64).startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def _pick_target(client: _Sandbox, server: _Sandbox, networks: Sequence[ipaddress.IPv4Network]) -> str:
    for _, own in client.addresses:
        network = next((n for n in networks if own.ip in n), own.network)
        for _, theirs in server.addresses:
            if theirs.ip in network:
                return str(theirs.ip)
    return str(server.addresses[0][1].ip)


@dataclass(frozen=True, slots=True)
class ProbePod:
    """A pod the probe uses, found by its sandbox labels on the node whose CRI is ``endpoint``."""

    namespace: str
    name: str
    endpoint: str


@dataclass
class ProbeResult:
    """Counts of one probe run (all clients together).

    Attributes:
        ok: requests answered.
        failed: requests between two live pods that got no answer.
        skipped: rounds where the client or the server was down (being restarted in place).
        failures: (client, server, address) of the first failed requests, for messages.
    """

    ok: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)


class Probe:
    """Every client pod requesting every server pod, on a thread per pair.

    Args:
        clients: client pods (each needs a live sandbox; any image: only its netns is used).
        servers: server pods (running ``ECHO_IMAGE``).
        networks: the pod ranges, one per network (decides which server address a client dials).
        interval: seconds between rounds of one client.
        timeout: seconds a request may take to be answered once connected.
        connect_timeout: seconds the TCP handshake may take (a dropped SYN fails after this).
        rounds: most rounds per client (the probe stops earlier on ``stop()``).
    """

    def __init__(
        self,
        clients: Sequence[ProbePod],
        servers: Sequence[ProbePod],
        networks: Sequence[ipaddress.IPv4Network],
        *,
        interval: float = 0.2,
        timeout: float = 1.0,
        connect_timeout: float = 0.3,
        rounds: int = 3000,
    ) -> None:
        """Prepare the probe; ``start()`` launches it."""
        self._clients = tuple(clients)
        self._servers = tuple(servers)
        self._networks = tuple(networks)
        self._interval = interval
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._rounds = rounds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.result = ProbeResult()

    def __enter__(self) -> Probe:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start one thread per (client, server) pair."""
        for client in self._clients:
            for server in self._servers:
                name = f"probe-{client.name}-{server.name}"
                thread = threading.Thread(target=self._run, args=(client, server), name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self) -> ProbeResult:
        """Stop the clients, wait for them and return the counts."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return self.result

    def _count(self, kind: str, detail: tuple[str, str, str] | None = None) -> None:
        with self._lock:
            setattr(self.result, kind, getattr(self.result, kind) + 1)
            if detail is not None and len(self.result.failures) < 20:
                self.result.failures.append(detail)

    def _run(self, client: ProbePod, server: ProbePod) -> None:
        channels = {e: grpc.insecure_channel(e) for e in {client.endpoint, server.endpoint}}
        try:
            cris = {e: api_pb2_grpc.RuntimeServiceStub(c) for e, c in channels.items()}
            for _ in range(self._rounds):
                if self._stop.is_set():
                    return
                self._request(cris, client, server)
                self._stop.wait(self._interval)
        finally:
            for channel in channels.values():
                channel.close()

    def _request(
        self, cris: dict[str, api_pb2_grpc.RuntimeServiceStub], client_pod: ProbePod, server_pod: ProbePod
    ) -> None:
        client = _current_sandbox(cris[client_pod.endpoint], client_pod)
        server = _current_sandbox(cris[server_pod.endpoint], server_pod)
        if client is None or server is None or not client.addresses or not server.addresses:
            self._count("skipped")
            return
        # Live means answering inside its own netns; a server still starting is down by design.
        if not self._serving(server):
            self._count("skipped")
            return
        target = _pick_target(client, server, self._networks)
        try:
            with _thread_in_netns(client.netns):
                answered = _http_ok(target, self._timeout, self._connect_timeout)
        except OSError:
            answered = False
        if answered:
            self._count("ok")
        elif self._restarted(cris, client_pod, client, server_pod, server):
            self._count("skipped")  # an end was restarted during the request: down by design
        else:
            self._count("failed", (client_pod.name, server_pod.name, target))

    def _serving(self, server: _Sandbox) -> bool:
        try:
            with _thread_in_netns(server.netns):
                return _http_ok(str(server.addresses[0][1].ip), self._timeout, self._connect_timeout)
        except OSError:
            return False

    def _restarted(
        self,
        cris: dict[str, api_pb2_grpc.RuntimeServiceStub],
        client_pod: ProbePod,
        client: _Sandbox,
        server_pod: ProbePod,
        server: _Sandbox,
    ) -> bool:
        """True when either end is no longer the sandbox the request used, or the server stopped serving."""
        now_client = _current_sandbox(cris[client_pod.endpoint], client_pod)
        now_server = _current_sandbox(cris[server_pod.endpoint], server_pod)
        return now_client != client or now_server != server or not self._serving(server)
