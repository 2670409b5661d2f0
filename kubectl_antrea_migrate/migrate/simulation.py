"""An in-memory cluster implementing the runner's ports, on a virtual clock. Not a real cluster.

Used by the unit tests (``tests/unit/test_migrate_*.py``) and the benchmark (``benchmarks/migrate.py``)
to exercise ``runner.py`` quickly and deterministically; the real end-to-end runs use the real
adapters against a real kube-apiserver, kubelet and containerd (``tests/e2e``).

The model follows what a real node does (``notes/kubelet.md``): the first CNI conf in lexical order
is in force (``00-multus`` < ``10-antrea`` < ``10-calico``, so installing Antrea beside Calico already
sends new sandboxes to Antrea); a stopped and removed sandbox is recreated in place by the kubelet on
the conf in force, has no address for a moment, and is Ready about 1.5 s after the kill; hostNetwork
pods are never touched. Latencies are charged on the ``VirtualClock`` per port call, so a run of 50
nodes takes milliseconds of real time and reports realistic simulated seconds.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from kubectl_antrea_migrate.errors import MigrateError
from kubectl_antrea_migrate.migrate.plan import Network, NodeSpec, PodSpec
from kubectl_antrea_migrate.migrate.runner import Budget, LivePod
from kubectl_antrea_migrate.migrate.state import (
    MigrationState,
    StateConflictError,
    from_configmap_data,
    to_configmap_data,
)

__all__ = [
    "Latency",
    "SimNode",
    "SimPod",
    "SimulatedCluster",
    "SimulatedStateStore",
    "VirtualClock",
]


class VirtualClock:
    """A clock that only moves when someone sleeps; parallel tasks each get their own time line."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._lock = threading.Lock()
        self._global = start
        self._local = threading.local()

    def now(self) -> float:
        local = getattr(self._local, "time", None)
        if local is not None:
            return float(local)
        with self._lock:
            return self._global

    def sleep(self, seconds: float) -> None:
        if getattr(self._local, "time", None) is not None:
            self._local.time += seconds
            return
        with self._lock:
            self._global += seconds

    def advance(self, seconds: float) -> None:
        """Let time pass outside any run (e.g. until a dead run's lock expires)."""
        with self._lock:
            self._global += seconds

    @contextlib.contextmanager
    def timeline(self, start: float) -> Iterator[None]:
        self._local.time = start
        try:
            yield
        finally:
            end = self._local.time
            self._local.time = None
            with self._lock:
                self._global = max(self._global, end)


@dataclass(frozen=True, slots=True)
class Latency:
    """Seconds charged per call; defaults from notes/kubelet.md and typical apiserver round trips."""

    api: float = 0.02  # one apiserver request
    state_write: float = 0.02  # one ConfigMap update
    install: float = 30.0  # a DaemonSet rollout (agents, Antrea)
    drain: float = 5.0
    set_cni: float = 0.05  # one agent RPC writing or removing a conf file
    restart: float = 0.3  # one KillSandboxes RPC for a node's pods (~0.3 s for 3 pods)
    sandbox_after: float = 0.5  # the recreated sandbox has its address
    ready_after: float = 1.5  # pods Ready 1.1-1.9 s after the kill
    cleanup: float = 0.5  # one CleanupCalico RPC
    policies: float = 1.0  # a server-side apply of the converted policies, a backup


@dataclass
class SimPod:
    """A pod in the simulated cluster; ``restarts`` lists (time, network before, network after)."""

    namespace: str
    name: str
    network: Network
    host_network: bool = False
    restart_policy: str = "Always"
    pdb: str | None = None
    daemonset: bool = False
    sandbox_at: float = 0.0
    ready_at: float = 0.0
    restarts: list[tuple[float, Network, Network]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class SimNode:
    """A simulated node: its CNI conf files, cordon flag, Calico residue and pods."""

    name: str
    control_plane: bool = False
    pod_cidr: str | None = "10.0.0.0/24"
    multus_conf: bool = False
    calico_override: bool = False  # rollback: Calico's conf put back in front
    cordoned: bool = False
    calico_residue: bool = True
    pods: dict[str, SimPod] = field(default_factory=dict)


class SimulatedCluster:
    """Implements ``ClusterPort`` and ``NodePort`` over in-memory nodes and pods."""

    def __init__(self, clock: VirtualClock, latency: Latency | None = None) -> None:
        self.clock = clock
        self.latency = latency or Latency()
        self.nodes: dict[str, SimNode] = {}
        self.pdb_max_unavailable: dict[str, int] = {}
        self.blockers: tuple[str, ...] = ()
        self.agents = False
        self.antrea_installed = False
        self.calico_installed = True
        self.antrea_policies = False
        self.calico_policies = 3
        self.backups = 0
        self.evicted: list[str] = []
        self.pdb_violations: list[str] = []
        self._lock = threading.RLock()

    # -- building

    def add_node(self, name: str, pods: Iterable[SimPod] = (), control_plane: bool = False,
                 pod_cidr: str | None = "10.0.0.0/24") -> SimNode:
        node = SimNode(name, control_plane, pod_cidr, pods={p.key: p for p in pods})
        self.nodes[name] = node
        return node

    def node_specs(self, overlapped: Iterable[str] = ()) -> tuple[NodeSpec, ...]:
        """What the cluster edge would hand ``build_plan``."""
        hit = set(overlapped)
        return tuple(
            NodeSpec(n.name, n.control_plane, n.pod_cidr, n.name in hit, False, tuple(
                PodSpec(p.namespace, p.name, p.host_network, p.restart_policy, p.pdb) for p in n.pods.values()))
            for n in self.nodes.values()
        )

    # -- ClusterPort

    def preflight_blockers(self) -> tuple[str, ...]:
        self.clock.sleep(self.latency.api)
        return self.blockers

    def ensure_agents(self) -> None:
        self.clock.sleep(self.latency.api if self.agents else self.latency.install)
        self.agents = True

    def ensure_antrea(self) -> None:
        self.clock.sleep(self.latency.api if self.antrea_installed else self.latency.install)
        self.antrea_installed = True

    def backup_calico_policies(self) -> str:
        self.clock.sleep(self.latency.policies)
        with self._lock:
            self.backups += 1
            return f"calico-policies-backup-{self.backups}.yaml"

    def ensure_antrea_policies(self) -> None:
        self.clock.sleep(self.latency.policies)
        self.antrea_policies = True

    def remove_antrea_policies(self) -> None:
        self.clock.sleep(self.latency.policies)
        self.antrea_policies = False

    def drain(self, node: str) -> None:
        self.clock.sleep(self.latency.drain)
        with self._lock:
            sim = self.nodes[node]
            sim.cordoned = True
            for key in [k for k, p in sim.pods.items() if not p.daemonset and not p.host_network]:
                del sim.pods[key]
                self.evicted.append(key)

    def uncordon(self, node: str) -> None:
        self.clock.sleep(self.latency.api)
        self.nodes[node].cordoned = False

    def pods(self, node: str) -> tuple[LivePod, ...]:
        self.clock.sleep(self.latency.api)
        now = self.clock.now()
        with self._lock:
            return tuple(
                LivePod(p.namespace, p.name, p.network if now >= p.sandbox_at else Network.NONE,
                        now >= p.ready_at, p.host_network, p.restart_policy, p.pdb)
                for p in self.nodes[node].pods.values()
            )

    def disruption_budgets(self, pdbs: frozenset[str]) -> Mapping[str, Budget]:
        self.clock.sleep(self.latency.api)
        now = self.clock.now()
        with self._lock:
            return {pdb: Budget(self._allowed(pdb, now), frozenset(
                p.key for p in self.all_pods() if p.pdb == pdb and now < p.ready_at)) for pdb in pdbs}

    def remove_calico(self) -> None:
        self.clock.sleep(self.latency.api)
        self.calico_installed = False

    def delete_calico_policies(self) -> None:
        self.clock.sleep(self.latency.api)
        if not self.backups:
            raise MigrateError("simulated cluster: Calico policies deleted without a backup")
        self.calico_policies = 0

    def final_check(self) -> tuple[str, ...]:
        self.clock.sleep(self.latency.api)
        problems: list[str] = []
        if self.calico_installed:
            problems.append("Calico workloads still installed")
        for node in self.nodes.values():
            if node.calico_residue:
                problems.append(f"node {node.name}: Calico residue")
            problems.extend(f"pod {p.key} on {p.network.value}" for p in node.pods.values()
                            if not p.host_network and p.restart_policy != "Never" and p.network is not Network.ANTREA)
        return tuple(problems)

    # -- NodePort

    def use_cni(self, node: str, network: Network) -> None:
        self.clock.sleep(self.latency.set_cni)
        if network in (Network.MULTUS, Network.ANTREA) and not self.antrea_installed:
            raise MigrateError(f"simulated agent on {node}: no Antrea CNI conf on the node")
        sim = self.nodes[node]
        sim.multus_conf = network is Network.MULTUS
        sim.calico_override = network is Network.CALICO

    def restart_pods(self, node: str, pods: tuple[str, ...]) -> tuple[str, ...]:
        self.clock.sleep(self.latency.restart)
        now = self.clock.now()
        done: list[str] = []
        with self._lock:
            sim = self.nodes[node]
            after = self.network_in_force(node)
            for key in pods:
                pod = sim.pods.get(key)
                if pod is None or pod.host_network or now < pod.sandbox_at:
                    continue
                if pod.pdb is not None and self._allowed(pod.pdb, now) <= 0:
                    self.pdb_violations.append(f"{key} ({pod.pdb})")
                pod.restarts.append((now, pod.network, after))
                pod.network = after
                pod.sandbox_at = now + self.latency.sandbox_after
                pod.ready_at = now + self.latency.ready_after
                done.append(key)
        return tuple(done)

    def cleanup_calico(self, node: str) -> None:
        self.clock.sleep(self.latency.cleanup)
        if self.calico_installed:
            raise MigrateError(f"simulated agent on {node}: calico-node still runs and would recreate its objects")
        self.nodes[node].calico_residue = False

    # -- facts for tests

    def network_in_force(self, node: str) -> Network:
        """The network the next sandbox on ``node`` gets: the lexically first conf file wins."""
        sim = self.nodes[node]
        if sim.multus_conf:
            return Network.MULTUS
        if sim.calico_override or not self.antrea_installed:
            return Network.CALICO
        return Network.ANTREA

    def all_pods(self) -> Iterator[SimPod]:
        for node in self.nodes.values():
            yield from node.pods.values()

    def snapshot(self) -> dict[str, object]:
        """The observable end state, for comparing two runs (timings left out)."""
        return {
            "nodes": {n.name: (n.multus_conf, n.calico_override, n.cordoned, n.calico_residue,
                               {k: (p.network, len(p.restarts)) for k, p in sorted(n.pods.items())})
                      for n in self.nodes.values()},
            "cluster": (self.agents, self.antrea_installed, self.calico_installed, self.antrea_policies,
                        self.calico_policies > 0),
        }

    def _allowed(self, pdb: str, now: float) -> int:
        down = sum(1 for p in self.all_pods() if p.pdb == pdb and now < p.ready_at)
        return self.pdb_max_unavailable.get(pdb, 0) - down


class SimulatedStateStore:
    """The state ConfigMap: ``data`` strings and a resourceVersion, with compare-and-swap on save."""

    def __init__(self, clock: VirtualClock, latency: Latency | None = None) -> None:
        self.clock = clock
        self.latency = latency or Latency()
        self.data: dict[str, str] | None = None
        self.version = 0
        self.writes = 0
        self._lock = threading.Lock()

    def load(self) -> MigrationState:
        self.clock.sleep(self.latency.api)
        with self._lock:
            if self.data is None:
                return MigrationState()
            return from_configmap_data(self.data, str(self.version))

    def save(self, state: MigrationState) -> MigrationState:
        self.clock.sleep(self.latency.state_write)
        with self._lock:
            current = "" if self.data is None else str(self.version)
            if state.resource_version != current:
                raise StateConflictError(
                    f"state ConfigMap changed: resourceVersion {current or 'none'}, "
                    f"expected {state.resource_version or 'none'}")
            self.data = to_configmap_data(state)
            self.version += 1
            self.writes += 1
            return replace(state, resource_version=str(self.version))
