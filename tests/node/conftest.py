"""Real nodes for the agent's subsystems: a fresh network namespace per test, built like a Calico node.

``calico_node`` builds, inside its own namespace (always deleted, with its pod namespaces):
- links: ``eth0`` (veth, peer ``uplink0``), bridge ``docker0``, ``vxlan.calico`` and ``vxlan-v6.calico``
  (vxlan), ``tunl0`` (the ipip module's device where the kernel has it; otherwise a persistent tun
  device named ``tunl0`` stands in, point-to-point without ARP like ipip, and ``tunnel_kind`` says
  so), two pod veths ``cali*`` whose peers sit in their own pod namespaces, Antrea's ``antrea-gw0``
  (a bridge standing in for the OVS internal port) and ``antrea-tun0`` (tun stand-in for OVS's
  Geneve port);
- routes: Calico ``proto 12`` block routes via tunl0 ``onlink``, a VXLAN route, the local block's
  blackhole, /32 and /128 pod routes via ``cali*``; Antrea's podCIDR route and a node route via
  antrea-gw0; foreign routes (default, static, a foreign blackhole, a static route to the same
  prefix as a Calico one with another metric) that must survive;
- netfilter: ``data/node-iptables.rules`` and ``data/node-ip6tables.rules`` loaded into BOTH
  iptables-legacy and iptables-nft; Calico ipsets plus Antrea's ``ANTREA-POD-IP``;
- a host tree with ``/etc/cni/net.d`` holding Calico's conflist + kubeconfig and Antrea's conflist.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._prereq import require_binary, require_root

DATA = Path(__file__).parent / "data"
BINARIES = (
    "ip",
    "ipset",
    "iptables-legacy-save",
    "iptables-legacy-restore",
    "iptables-nft-save",
    "iptables-nft-restore",
    "ip6tables-legacy-save",
    "ip6tables-legacy-restore",
    "ip6tables-nft-save",
    "ip6tables-nft-restore",
)
SAVE_TOOLS = {
    ("legacy", 4): "iptables-legacy-save",
    ("legacy", 6): "ip6tables-legacy-save",
    ("nft", 4): "iptables-nft-save",
    ("nft", 6): "ip6tables-nft-save",
}
PODS = (("cali1a2b3c4d5e6", "10.10.7.1", "fd00:10:7::1"), ("cali7f8e9d0c1b2", "10.10.7.2", None))
CALICO_IPSETS = (
    ("cali40all-ipam-pools", "hash:net", "inet", "10.10.0.0/16"),
    ("cali40masq-ipam-pools", "hash:net", "inet", "10.10.0.0/16"),
    ("cali40all-hosts-net", "hash:net", "inet", "192.168.50.0/24"),
    ("cali40all-vxlan-net", "hash:net", "inet", "192.168.50.0/24"),
    ("cali40s:zVKJ8Lb4ldVpG-0v1bJ2tSz", "hash:ip", "inet", "10.10.7.2"),
    ("cali60all-ipam-pools", "hash:net", "inet6", "fd00:10::/48"),
    ("cali60masq-ipam-pools", "hash:net", "inet6", "fd00:10::/48"),
    ("cali60all-vxlan-net", "hash:net", "inet6", "fd00:50::/64"),
)
FOREIGN_IPSETS = (("ANTREA-POD-IP", "hash:net", "inet", "10.10.4.0/24"),)
CALICO_CONFLIST = {
    "name": "k8s-pod-network",
    "cniVersion": "0.3.1",
    "plugins": [
        {
            "type": "calico",
            "log_level": "info",
            "datastore_type": "kubernetes",
            "nodename": "node-a",
            "mtu": 1440,
            "ipam": {"type": "calico-ipam"},
            "policy": {"type": "k8s"},
            "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"},
        },
        {"type": "portmap", "snat": True, "capabilities": {"portMappings": True}},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}},
    ],
}
ANTREA_CONFLIST = {
    "cniVersion": "0.3.0",
    "name": "antrea",
    "plugins": [
        {"type": "antrea", "ipam": {"type": "host-local"}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}},
    ],
}
CALICO_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://10.96.0.1:443
users:
- name: calico
  user:
    token: not-a-real-token
contexts:
- name: calico-context
  context:
    cluster: local
    user: calico
current-context: calico-context
"""

_counter = itertools.count()


# The fixture's own commands keep the PATH the session started with, even where a test narrows it.
_PATH = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")


def sh(*argv: str, stdin: str | None = None) -> str:
    """Run a command; fail the test with its stderr if it fails."""
    env = {**os.environ, "PATH": _PATH}
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def in_ns(netns: str, *argv: str, stdin: str | None = None) -> str:
    """Run a command inside ``netns`` with ``ip netns exec``."""
    return sh("ip", "netns", "exec", netns, *argv, stdin=stdin)


_COUNTERS = re.compile(r" \[\d+:\d+\]$")


def save(netns: str, backend: str, family: int) -> list[str]:
    """A ``-save`` dump without comments and counters: lines to compare byte for byte."""
    text = in_ns(netns, SAVE_TOOLS[(backend, family)])
    return [_COUNTERS.sub("", line) for line in text.splitlines() if line and not line.startswith("#")]


def is_calico_line(line: str) -> bool:
    """The test's own, independent idea of a Calico line in a -save dump."""
    return (
        line.startswith((":cali-", "-A cali-"))
        or " -j cali-" in line
        or " -g cali-" in line
        or '--comment "cali:' in line
    )


def all_dumps(netns: str) -> dict[tuple[str, int], list[str]]:
    """The four dumps (legacy/nft x IPv4/IPv6)."""
    return {key: save(netns, *key) for key in SAVE_TOOLS}


def ipset_names(netns: str) -> list[str]:
    """Names of every ipset in ``netns``."""
    return sorted(in_ns(netns, "ipset", "list", "-n").split())


def routes(netns: str) -> list[str]:
    """``ip route show`` lines, IPv4 then IPv6 (main table)."""
    return (
        sh("ip", "-n", netns, "-4", "route", "show").splitlines()
        + sh("ip", "-n", netns, "-6", "route", "show").splitlines()
    )


def link_names(netns: str) -> list[str]:
    """Names of every link in ``netns``."""
    out = sh("ip", "-n", netns, "-o", "link", "show")
    return sorted(line.split(": ")[1].split("@")[0] for line in out.splitlines())


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh, empty network namespace, deleted after the test (with any ``NAME-pod*`` ones)."""
    require_root()
    require_binary("ip")
    name = f"amn{os.getpid()}x{next(_counter)}"
    sh("ip", "netns", "add", name)
    try:
        yield name
    finally:
        for other in sh("ip", "netns", "list").split("\n"):
            other_name = other.split(" ")[0]
            if other_name.startswith(f"{name}-pod"):
                subprocess.run(["ip", "netns", "del", other_name], check=False)
        subprocess.run(["ip", "netns", "del", name], check=False)


@dataclass(frozen=True)
class CalicoNode:
    """A built Calico node: its namespace, host tree, and how ``tunl0`` was made."""

    netns: str
    host_root: Path
    tunnel_kind: str  # "ipip" (the real fallback device) or "tun" (stand-in: no ipip module here)

    @property
    def conf_dir(self) -> Path:
        """``{host_root}/etc/cni/net.d``."""
        return self.host_root / "etc/cni/net.d"


def _make_tunl0(netns: str) -> str:
    if "tunl0" in link_names(netns):  # ipip module loaded: every namespace gets its fallback tunl0
        return "ipip"
    if (
        subprocess.run(
            ["ip", "-n", netns, "link", "add", "name", "tunl0", "type", "ipip"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return "ipip"
    if "tunl0" in link_names(netns):  # the module was auto-loaded and made the fallback device
        return "ipip"
    sh("ip", "-n", netns, "tuntap", "add", "mode", "tun", "name", "tunl0")
    return "tun"


def build_links_and_routes(netns: str) -> str:
    """Create the node's links and routes; return how ``tunl0`` was made."""
    batch = [
        "link set lo up",
        "link add eth0 type veth peer name uplink0",
        "link set eth0 up",
        "link set uplink0 up",
        "addr add 192.168.50.10/24 dev eth0",
        "addr add fd00:50::10/64 dev eth0 nodad",
        "link add docker0 type bridge",
        "addr add 172.17.0.1/16 dev docker0",
        "link set docker0 up",
        "link add vxlan.calico type vxlan id 4096 dstport 4789 local 192.168.50.10 dev eth0",
        "link set vxlan.calico up",
        "link add vxlan-v6.calico type vxlan id 4096 dstport 4789 local fd00:50::10 dev eth0",
        "link set vxlan-v6.calico up",
        "link add antrea-gw0 type bridge",
        "addr add 10.10.4.1/24 dev antrea-gw0",
        "addr add fd00:10:4::1/64 dev antrea-gw0 nodad",
        "link set antrea-gw0 up",
    ]
    sh("ip", "-n", netns, "-batch", "-", stdin="\n".join(batch) + "\n")
    tunnel_kind = _make_tunl0(netns)
    sh("ip", "-n", netns, "tuntap", "add", "mode", "tun", "name", "antrea-tun0")
    batch = ["link set tunl0 up", "addr add 10.10.7.0/32 dev tunl0", "link set antrea-tun0 up"]
    for number, (veth, ipv4, ipv6) in enumerate(PODS):
        pod_ns = f"{netns}-pod{number}"
        sh("ip", "netns", "add", pod_ns)
        batch += [f"link add {veth} type veth peer name eth0 netns {pod_ns}", f"link set {veth} up"]
        pod = ["link set lo up", "link set eth0 up", f"addr add {ipv4}/32 dev eth0"]
        pod += [f"addr add {ipv6}/128 dev eth0 nodad"] if ipv6 else []
        sh("ip", "-n", netns, "-batch", "-", stdin="\n".join(batch) + "\n")
        batch = []
        sh("ip", "-n", pod_ns, "-batch", "-", stdin="\n".join(pod) + "\n")
    batch = [
        # foreign routes: must survive the cleanup
        "route add default via 192.168.50.1 dev eth0 proto 4",
        "route add 10.200.0.0/16 via 192.168.50.1 dev eth0 proto 4",
        "route add blackhole 10.99.0.0/16 proto 4",
        "route add 10.10.5.0/26 via 192.168.50.1 dev eth0 proto 4 metric 500",
        # Calico: block routes to other nodes (IPIP via BIRD = proto 12, VXLAN via felix = proto 80),
        # the local block's blackhole. Protocols are numeric: `ip -batch` can reuse the previous
        # line's protocol when a name follows a number (seen with iproute2 6.1).
        "route add 10.10.4.128/26 via 192.168.50.11 dev tunl0 proto 12 onlink",
        "route add 10.10.5.0/26 via 192.168.50.12 dev tunl0 proto 12 onlink",
        "route add 10.10.6.0/26 via 10.10.6.0 dev vxlan.calico proto 80 onlink",
        "route add blackhole 10.10.7.0/26 proto 12",
        "route add 10.10.7.1/32 dev cali1a2b3c4d5e6 scope link",
        "route add 10.10.7.2/32 dev cali7f8e9d0c1b2 scope link",
        "route add fd00:10:6::/122 via fd00:10:6:: dev vxlan-v6.calico proto 80 onlink",
        "route add blackhole fd00:10:7::/122 proto 12",
        "route add fd00:10:7::1/128 dev cali1a2b3c4d5e6",
        # Antrea: a route to another node's podCIDR through the gateway
        "route add 10.10.8.0/24 via 10.10.8.1 dev antrea-gw0 onlink",
    ]
    sh("ip", "-n", netns, "-batch", "-", stdin="\n".join(batch) + "\n")
    return tunnel_kind


def load_netfilter(netns: str) -> None:
    """Create the ipsets, then load the rule files into both backends, IPv4 and IPv6."""
    lines = [
        f"create {name} {kind} family {family}\nadd {name} {member}"
        for name, kind, family, member in CALICO_IPSETS + FOREIGN_IPSETS
    ]
    in_ns(netns, "ipset", "restore", stdin="\n".join(lines) + "\n")
    v4 = (DATA / "node-iptables.rules").read_text()
    v6 = (DATA / "node-ip6tables.rules").read_text()
    for backend in ("legacy", "nft"):
        in_ns(netns, f"iptables-{backend}-restore", stdin=v4)
        in_ns(netns, f"ip6tables-{backend}-restore", stdin=v6)


def write_cni(host_root: Path) -> None:
    """Calico's conflist and kubeconfig and Antrea's conflist in ``{host_root}/etc/cni/net.d``."""
    conf_dir = host_root / "etc/cni/net.d"
    conf_dir.mkdir(parents=True)
    (conf_dir / "10-calico.conflist").write_text(json.dumps(CALICO_CONFLIST, indent=2))
    (conf_dir / "calico-kubeconfig").write_text(CALICO_KUBECONFIG)
    (conf_dir / "10-antrea.conflist").write_text(json.dumps(ANTREA_CONFLIST, indent=2))


@pytest.fixture
def calico_node(netns: str, tmp_path: Path) -> CalicoNode:
    """A realistic Calico node (see the module docstring) in a fresh namespace."""
    require_binary(*BINARIES)
    tunnel_kind = build_links_and_routes(netns)
    load_netfilter(netns)
    host_root = tmp_path / "host"
    write_cni(host_root)
    return CalicoNode(netns, host_root, tunnel_kind)
