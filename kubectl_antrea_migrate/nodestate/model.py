"""Node facts and node-action outcomes as frozen dataclasses.

The agent (``node_agent/``) builds these from netlink, netfilter, the CNI conf dir and the CRI; the
plugin receives them over gRPC (``agents/`` converts protobuf <-> these) and the pre-flight checks
read them. Nothing here touches the system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "CALICO_PIN_FILE",
    "AddressConflict",
    "Backend",
    "CniConf",
    "CniNetwork",
    "CniScan",
    "LinkInfo",
    "NetfilterSummary",
    "NodeReport",
    "Outcome",
    "Owner",
    "Result",
    "RouteConflict",
    "RouteInfo",
    "SandboxOutcome",
    "TableSummary",
]


class Owner(Enum):
    """Which CNI a node object belongs to, judged by name/protocol/device."""

    CALICO = "calico"
    ANTREA = "antrea"
    MULTUS = "multus"
    OTHER = "other"


class CniNetwork(Enum):
    """Which network's CNI conf a node puts in force for its next pod sandboxes (``SetCni``)."""

    CALICO = "calico"  # Calico's conf, pinned in front by a copy named CALICO_PIN_FILE (rollback)
    MULTUS = "multus"  # 00-multus.conf: Calico's conf first, then Antrea's
    ANTREA = "antrea"  # neither file: whatever sorts first, Antrea's conf once it is installed


# The copy of Calico's conflist that ``SetCni CALICO`` writes: "00-a" sorts before "00-multus" and
# "10-antrea", so Calico's network stays in force even when antrea-agent rewrites its own conf. The
# pre-flight checks know it by this name (it is ours, not a foreign conf shadowing Antrea's).
CALICO_PIN_FILE = "00-antrea-migrate-calico.conflist"


class Backend(Enum):
    """The two netfilter backends a node can use; both are always checked."""

    LEGACY = "legacy"
    NFT = "nft"


class Result(Enum):
    """What happened to one object."""

    DONE = "done"  # changed now
    ABSENT = "absent"  # already in the wanted state (idempotent no-op)
    PLANNED = "planned"  # dry-run: would be changed
    SKIPPED = "skipped"  # deliberately left alone (reason in detail)
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CniConf:
    """One file in the CNI conf dir."""

    file: str  # base name, e.g. 10-calico.conflist
    network: str  # the conf's "name" ("" when unreadable)
    plugin_types: tuple[str, ...]  # "type" of each plugin, in order
    valid: bool
    error: str = ""
    owner: Owner = Owner.OTHER


@dataclass(frozen=True, slots=True)
class CniScan:
    """The CNI conf dir: every conf file and the one the runtime will use (lexically first valid)."""

    conf_dir: str
    confs: tuple[CniConf, ...]
    active: str | None  # file name of the conf in force, None when no valid conf exists
    other_files: tuple[str, ...] = ()  # e.g. calico-kubeconfig, backups


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """A network interface that matters to the migration."""

    name: str
    kind: str  # vxlan, ipip, veth, bridge, tun, dummy, ...
    owner: Owner
    addresses: tuple[str, ...] = ()  # CIDR strings, e.g. 10.10.4.1/24
    up: bool = True
    index: int = 0


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One route (main table unless ``table`` says otherwise)."""

    destination: str  # CIDR, e.g. 10.10.4.128/26
    device: str | None
    gateway: str | None
    protocol: str  # bird, kernel, boot, static, or a number
    type: str  # unicast, blackhole, ...
    owner: Owner
    table: int = 254
    onlink: bool = False


@dataclass(frozen=True, slots=True)
class RouteConflict:
    """A Calico route overlapping an Antrea route on another device: the longer prefix wins.

    ``shadowed`` is the address range whose traffic goes to the wrong side (the smaller of the
    two prefixes): e.g. Calico 10.10.4.128/26 via tunl0 inside Antrea 10.10.4.0/24 via antrea-gw0
    shadows 10.10.4.128/26 - Antrea pods given those IPs are unreachable.
    """

    calico_route: RouteInfo
    antrea_route: RouteInfo
    shadowed: str
    reason: str


@dataclass(frozen=True, slots=True)
class AddressConflict:
    """An address Antrea wants (antrea-gw0's .1 of the podCIDR) already held by a pod on the node."""

    address: str
    holder: str  # e.g. "route 10.10.4.1/32 dev cali1234 (a Calico pod)"
    reason: str


@dataclass(frozen=True, slots=True)
class TableSummary:
    """Calico objects in one netfilter table of one backend."""

    table: str  # filter, nat, mangle, raw (and ip6 tables as ip6:filter, ...)
    calico_chains: int
    calico_rules: int  # rules inside cali-* chains
    jump_rules: int  # rules in non-Calico chains that jump into cali-*
    total_rules: int


@dataclass(frozen=True, slots=True)
class NetfilterSummary:
    """One backend: whether its tool is present and what Calico holds there."""

    backend: Backend
    available: bool
    tables: tuple[TableSummary, ...] = ()
    error: str = ""

    @property
    def has_calico(self) -> bool:
        return any(t.calico_chains or t.jump_rules for t in self.tables)


@dataclass(frozen=True, slots=True)
class NodeReport:
    """Everything the agent sees on its node that the migration depends on."""

    node: str
    cni: CniScan
    links: tuple[LinkInfo, ...]
    routes: tuple[RouteInfo, ...]  # Calico- and Antrea-owned routes only
    other_route_count: int
    route_conflicts: tuple[RouteConflict, ...]
    address_conflicts: tuple[AddressConflict, ...]
    netfilter: tuple[NetfilterSummary, ...]
    calico_ipsets: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one mutating step did (or would do) to one object; every RPC replies with these."""

    subsystem: str  # cni, links, routes, netfilter, ipsets, files
    object: str  # human key=value description, e.g. "chain=cali-FORWARD table=filter backend=nft"
    action: str  # delete, write, move, flush, ...
    result: Result
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SandboxOutcome:
    """One pod sandbox handled by KillSandboxes."""

    pod: str
    namespace: str
    sandbox_id: str
    result: Result
    seconds: float = 0.0
    detail: str = ""
    host_network: bool = field(default=False)
