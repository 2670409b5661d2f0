"""Stand-ins for Calico, Antrea and Multus on a test node: CNI confs, plugins and Calico's leftovers.

The real Calico and Antrea dataplanes (felix + BIRD, OVS) cannot run here. What the migration acts on
can: which CNI conf is in force, the pod sandboxes' IPs, and the kernel objects Calico leaves on a
node. So each network is a real bridge + host-local conf, under the plugin type the agent recognises:

- ``10-calico.conflist`` — network ``k8s-pod-network``, plugin type ``calico``, bridge ``cali-br``,
  host-local subnet ``10.244.<1+i>.0/24`` on node ``i`` (Calico's range is ``10.244.0.0/17``).
  ``calico`` in the node's CNI bin dir is the upstream ``bridge`` plugin under Calico's name (the
  bridge plugin never reads ``type``), so the agent sees a Calico conf and pods get real veths and IPs.
- ``10-antrea.conflist`` — network ``antrea``, plugin type ``antrea`` (the bridge plugin again),
  bridge ``antrea-br``, subnet ``10.244.<129+i>.0/24``, the Node's podCIDR (Antrea's range is
  ``10.244.128.0/17``). Each conf routes its whole range via its own gateway, so a Multus pod
  reaches the other nodes' pods of either network over that network's interface. It sorts before
  ``10-calico``, so once it is written ("Antrea installed") new sandboxes use it.
- ``multus`` — a stand-in for the Multus thin plugin (``multus_standin.py``), because multus-cni
  cannot be fetched from the Go module proxy here (its module paths answer 403). It implements the
  ``delegates`` style the agent writes into ``00-multus.conf``: eth0 from the first delegate, net1
  from the second.
- Calico's leftovers, where the agent must find and remove them: a ``tunl0`` device (a tun device
  under that name when the ipip module is missing), ``proto bird`` block routes via tunl0 and a
  blackhole for the local block, ``cali-*`` chains with jumps from the built-in chains in both
  iptables backends (IPv4 and IPv6), ``cali40*`` ipsets, and ``calico-kubeconfig`` in the conf dir.

Nodes reach each other over an "underlay" veth pair (``underlay``); Calico's routes to the other
nodes' blocks are ``proto bird`` routes over it, Antrea's node routes plain static ones. Between the
two ranges nothing is forwarded (``cali-FORWARD`` drops Calico range <-> Antrea range): as in a real
cluster, where Calico's routes do not know Antrea's pods and the reverse, a pod only on Calico and a
pod only on Antrea cannot talk. That is what the Multus strategy bridges, and what the connectivity
probe measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "ANTREA_BRIDGE",
    "ANTREA_CONF",
    "ANTREA_RANGE",
    "CALICO_BRIDGE",
    "CALICO_CONF",
    "CALICO_IPSET",
    "CALICO_RANGE",
    "antrea_conflist",
    "antrea_subnet",
    "calico_leftovers",
    "calico_subnet",
    "install_antrea_conf",
    "install_calico_conf",
    "make_bin_dir",
    "underlay",
]

CALICO_CONF = "10-calico.conflist"
ANTREA_CONF = "10-antrea.conflist"
CALICO_BRIDGE = "cali-br"
ANTREA_BRIDGE = "antrea-br"
CALICO_RANGE = "10.244.0.0/17"
ANTREA_RANGE = "10.244.128.0/17"
CALICO_IPSET = "cali40all-ipam-pools"
# A block route BIRD keeps via tunl0 for a node gone from the underlay (IPIP mode leftovers).
_TUNL0_ROUTE = "10.244.99.0/26"
_TUNL0_PEER = "192.168.77.99"
_STANDIN = Path(__file__).with_name("multus_standin.py")

_IPTABLES_RULES = """*filter
:cali-FORWARD - [0:0]
:cali-INPUT - [0:0]
-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD
-A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT
-A cali-FORWARD -s {calico} -d {antrea} -m comment --comment "stand-in: no route between dataplanes" -j DROP
-A cali-FORWARD -s {antrea} -d {calico} -m comment --comment "stand-in: no route between dataplanes" -j DROP
COMMIT
*nat
:cali-POSTROUTING - [0:0]
-A POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING
COMMIT
"""
_IP6TABLES_RULES = """*filter
:cali-FORWARD - [0:0]
-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD
COMMIT
"""


def calico_subnet(index: int) -> str:
    """Node ``index``'s Calico block (its stand-in conf's host-local subnet)."""
    return f"10.244.{1 + index}.0/24"


def antrea_subnet(index: int) -> str:
    """Node ``index``'s Antrea subnet: its ``spec.podCIDR``."""
    return f"10.244.{129 + index}.0/24"


def _bridge_conflist(name: str, plugin_type: str, bridge: str, subnet: str, cluster_range: str) -> dict[str, Any]:
    gateway = subnet.rsplit(".", 1)[0] + ".1"
    return {
        "cniVersion": "0.4.0",
        "name": name,
        "plugins": [
            {
                "type": plugin_type,
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": subnet, "gateway": gateway}]],
                    "routes": [{"dst": "0.0.0.0/0"}, {"dst": cluster_range}],
                },
            }
        ],
    }


def make_bin_dir(bin_dir: Path, plugins: Path = Path("/usr/lib/cni")) -> Path:
    """Fill ``bin_dir`` with the upstream plugins, ``calico``/``antrea`` (bridge) and the Multus stand-in."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for plugin in plugins.iterdir():
        (bin_dir / plugin.name).symlink_to(plugin)
    for alias in ("calico", "antrea"):
        (bin_dir / alias).symlink_to(plugins / "bridge")
    multus = bin_dir / "multus"
    multus.write_text(f'#!/bin/sh\nexec {sys.executable} {_STANDIN} "$@"\n')
    multus.chmod(0o755)
    return bin_dir


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text(text)
    os.replace(partial, path)


def install_calico_conf(conf_dir: Path, index: int) -> None:
    """Write Calico's stand-in conflist and its ``calico-kubeconfig``, as calico-node's install does."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    conf = _bridge_conflist("k8s-pod-network", "calico", CALICO_BRIDGE, calico_subnet(index), CALICO_RANGE)
    _write_atomic(conf_dir / CALICO_CONF, json.dumps(conf, indent=2))
    (conf_dir / "calico-kubeconfig").write_text("# stand-in: calico-node writes its CNI kubeconfig here\n")


def antrea_conflist(index: int) -> str:
    """Antrea's stand-in conflist for node ``index`` (what antrea-agent's install container writes)."""
    return json.dumps(_bridge_conflist("antrea", "antrea", ANTREA_BRIDGE, antrea_subnet(index), ANTREA_RANGE), indent=2)


def install_antrea_conf(conf_dir: Path, index: int) -> None:
    """Write Antrea's stand-in conflist, as antrea-agent's install container does ("Antrea installed")."""
    _write_atomic(conf_dir / ANTREA_CONF, antrea_conflist(index))


def _ip(netns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", netns, *args], check=True, capture_output=True)


def _in_netns(netns: str, argv: list[str], stdin: str | None = None) -> None:
    subprocess.run(["ip", "netns", "exec", netns, *argv], check=True, capture_output=True, text=True, input=stdin)


def _add_tunl0(netns: str) -> None:
    exists = subprocess.run(["ip", "-n", netns, "link", "show", "tunl0"], check=False, capture_output=True)
    if exists.returncode == 0:  # the ipip module's fallback device, made with the namespace
        _ip(netns, "link", "set", "tunl0", "up")
        _ip(netns, "addr", "add", "10.244.1.0/32", "dev", "tunl0")
        return
    try:
        _ip(netns, "link", "add", "tunl0", "type", "ipip", "remote", "any")
    except subprocess.CalledProcessError:
        # No ipip module: a tun device under Calico's name, point-to-point like ipip.
        _ip(netns, "tuntap", "add", "dev", "tunl0", "mode", "tun")
    _ip(netns, "link", "set", "tunl0", "up")
    _ip(netns, "addr", "add", "10.244.1.0/32", "dev", "tunl0")


def calico_leftovers(netns: str, index: int) -> None:
    """Create in node ``index``'s ``netns`` the kernel objects calico-node leaves (see the module docstring).

    The ``cali-br`` bridge itself appears with the first Calico pod (the CNI plugin creates it).
    """
    _add_tunl0(netns)
    _ip(netns, "route", "add", _TUNL0_ROUTE, "via", _TUNL0_PEER, "dev", "tunl0", "onlink", "proto", "bird")
    # The blackhole BIRD keeps for an affine block: here an empty second block of this node (a
    # blackhole over the bridge's own subnet would swallow routed traffic to its pods).
    _ip(netns, "route", "add", "blackhole", f"10.244.{64 + index}.0/26", "proto", "bird")
    rules = _IPTABLES_RULES.format(calico=CALICO_RANGE, antrea=ANTREA_RANGE)
    for tool, text in (
        ("iptables-nft-restore", rules),
        ("iptables-legacy-restore", rules),
        ("ip6tables-nft-restore", _IP6TABLES_RULES),
        ("ip6tables-legacy-restore", _IP6TABLES_RULES),
    ):
        _in_netns(netns, [tool, "--noflush"], stdin=text)
    _in_netns(netns, ["ipset", "create", CALICO_IPSET, "hash:net"])
    _in_netns(netns, ["ipset", "add", CALICO_IPSET, CALICO_RANGE])


def underlay(netns_a: str, index_a: int, netns_b: str, index_b: int) -> None:
    """Link two nodes with a veth pair and route each network's pod subnets between them.

    Calico's routes are ``proto bird`` (BIRD programs them; the Calico cleanup removes them),
    Antrea's are static node routes (they stay).
    """
    ends = ((netns_a, index_a, "192.168.77.1"), (netns_b, index_b, "192.168.77.2"))
    subprocess.run(
        ["ip", "-n", netns_a, "link", "add", "underlay", "type", "veth", "peer", "name", "underlay", "netns", netns_b],
        check=True,
        capture_output=True,
    )
    for (netns, _, address), (_, peer_index, peer_address) in (ends, ends[::-1]):
        _ip(netns, "addr", "add", f"{address}/30", "dev", "underlay")
        _ip(netns, "link", "set", "underlay", "up")
        _ip(netns, "route", "add", calico_subnet(peer_index), "via", peer_address, "proto", "bird")
        _ip(netns, "route", "add", antrea_subnet(peer_index), "via", peer_address)
        _in_netns(netns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
