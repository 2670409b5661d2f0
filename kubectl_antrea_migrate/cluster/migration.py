"""The migration's cluster edge: ``ClusterPort`` (``migrate/runner.py``) over the kube-apiserver.

Design
------
``ClusterMigration`` turns each runner call into apiserver requests and back into core values
(``LivePod``, ``Budget``, messages). It decides nothing the runner or the planner decides; the few
judgements that belong to the edge are pure functions here, so tests can pin them down:

- ``pod_network``: which network a pod is on now. An IP inside the node's Antrea range (its
  ``spec.podCIDRs``, or ``--antrea-subnet`` when Antrea's IPAM uses another range) is Antrea. Any
  other IP is Calico, or Multus when the pod also has an Antrea interface: either Multus's own
  ``k8s.v1.cni.cncf.io/network-status`` annotation lists an Antrea-range address, or the pod's
  sandbox is newer than the moment this tool put Multus in force on the node (the node annotation
  ``kubectl-antrea-migrate/cni``, written by the node adapter after the switch; the sandbox time is
  the ``PodReadyToStartContainers`` condition, the kubelet's "sandbox has its network" signal).
- ``antrea_missing_nodes``: the Antrea rollout wait condition. Done when the controller has observed
  the DaemonSet's current generation and every node has an ``antrea-agent`` pod that is Running,
  Ready and not terminating; otherwise the lagging nodes with the reason for each.
- ``evictable``: what ``drain`` evicts: pods bound to the node that are not DaemonSet-owned, not
  mirror (static) pods, not hostNetwork (they hold no Calico address), not finished.

Drain goes through the Eviction API, so the apiserver enforces PodDisruptionBudgets: a 429 means
the budget allows no disruption now, and the drain waits and retries until ``drain_timeout``, then
stops naming the pods and the apiserver's reason. Like ``kubectl drain`` it evicts the pods found
when it starts and waits until those (by uid) are gone; a pod created on the node meanwhile (a
template with ``nodeName`` ignores the cordon) is not chased. Draining leaves the node cordoned; uncordoning is
the runner's step (after the node's switch) or the rollback's.

Calico removal deletes workloads only (DaemonSets, Deployments, ...) from ``--calico-manifest`` or,
without it, the ``calico-node``/``calico-typha``/``calico-kube-controllers`` found: never CRDs (that
would delete every Calico policy with them) and never policies, which only
``delete_calico_policies`` touches, and only when the user asked.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubectl_antrea_migrate.cluster import agent_install
from kubectl_antrea_migrate.cluster.apply import FIELD_MANAGER, apply_objects, backup_objects
from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient, resource_path
from kubectl_antrea_migrate.cluster.read import CALICO_POLICY_KINDS, read_snapshot
from kubectl_antrea_migrate.errors import ClusterError, InputError, Location
from kubectl_antrea_migrate.kube.snapshot import ClusterSnapshot
from kubectl_antrea_migrate.migrate.plan import Network, NodeSpec, PodSpec
from kubectl_antrea_migrate.migrate.runner import Budget, LivePod
from kubectl_antrea_migrate.migrate.state import MigrationState
from kubectl_antrea_migrate.preflight.findings import Finding, Severity
from kubectl_antrea_migrate.preflight.podcidr import NodeStatus, Scenario, analyse_snapshot

__all__ = [
    "CALICO_WORKLOAD_NAMES",
    "CNI_ANNOTATION",
    "MULTUS_STATUS_ANNOTATION",
    "ClusterMigration",
    "MigrationConfig",
    "PlanFacts",
    "antrea_missing_nodes",
    "cni_mark",
    "evictable",
    "format_cni_mark",
    "pod_network",
    "read_plan_facts",
    "selector_matches",
]

CNI_ANNOTATION = "kubectl-antrea-migrate/cni"
MULTUS_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CALICO_WORKLOAD_NAMES = ("calico-node", "calico-typha", "calico-kube-controllers")
_WORKLOAD_KINDS = {  # kind -> (group, version, plural); namespaced all
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
}
_TERMINAL_PHASES = ("Succeeded", "Failed")
_ANTREA_GROUP, _ANTREA_VERSION = "crd.antrea.io", "v1beta1"
# Deleted in this order: policies before the groups and tiers they name.
_ANTREA_POLICY_PLURALS = ("clusternetworkpolicies", "networkpolicies", "clustergroups", "groups", "tiers")
_CALICO_BUILTIN_TIERS = ("default", "adminnetworkpolicy", "baselineadminnetworkpolicy")  # Calico recreates them
_CALICO_DELETE_ORDER = ("GlobalNetworkPolicy", "NetworkPolicy", "GlobalNetworkSet", "NetworkSet", "Tier")
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class MigrationConfig:
    """What the cluster edge needs besides the client (the ``run`` options that concern the cluster).

    Attributes:
        namespace: the agent namespace (agents, their TLS Secret, the state ConfigMap).
        antrea_manifest: ``--antrea-manifest``: server-side applied by ``ensure_antrea``.
        calico_manifest: ``--calico-manifest``: its workloads are what ``remove_calico`` deletes.
        antrea_subnets: Antrea's pod range when it is not the Nodes' podCIDRs (``--antrea-subnet``).
        backup_dir: where Calico policy backups are written.
        policy_manifests: the converted Antrea objects ``ensure_antrea_policies`` applies.
        policy_blockers: why some Calico policies cannot be converted (pre-flight blockers).
        install_agents: install the agent DaemonSet (False when the agents are reached by endpoint).
        agent_image: the agent image for the install.
        antrea_daemonset: ``namespace/name`` of Antrea's agent DaemonSet when the manifest has none.
        antrea_timeout: seconds ``ensure_antrea`` waits for the rollout.
        agents_timeout: seconds ``ensure_agents`` waits for the agent rollout.
        drain_timeout: seconds ``drain`` waits for evictions a PodDisruptionBudget refuses and for
            the evicted pods to be gone.
        eviction_grace_seconds: ``deleteOptions.gracePeriodSeconds`` of each eviction (None: the pod's).
        poll_interval: seconds between polls.
    """

    namespace: str = agent_install.DEFAULT_NAMESPACE
    antrea_manifest: Path | None = None
    calico_manifest: Path | None = None
    antrea_subnets: tuple[_IPNetwork, ...] = ()
    backup_dir: Path = Path("antrea-migrate-backups")
    policy_manifests: tuple[Mapping[str, Any], ...] = ()
    policy_blockers: tuple[str, ...] = ()
    install_agents: bool = True
    agent_image: str = agent_install.DEFAULT_IMAGE
    antrea_daemonset: str = "kube-system/antrea-agent"
    antrea_timeout: float = 600.0
    agents_timeout: float = 300.0
    drain_timeout: float = 600.0
    eviction_grace_seconds: int | None = None
    poll_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """What ``build_plan`` needs from the cluster, read once.

    Attributes:
        nodes: every node with its pods (PodDisruptionBudget membership resolved).
        antrea_installed: an Antrea agent DaemonSet runs already.
        calico_policies: ``Kind namespace/name`` of every Calico policy object.
        calico_workloads: ``Kind namespace/name`` of what Calico removal deletes.
        snapshot: the snapshot read (for the caller's own checks).
    """

    nodes: tuple[NodeSpec, ...]
    antrea_installed: bool
    calico_policies: tuple[str, ...]
    calico_workloads: tuple[str, ...]
    snapshot: ClusterSnapshot = field(compare=False, repr=False)


# --- pure judgements -------------------------------------------------------------------------------

def format_cni_mark(network: Network, since: float) -> str:
    """The value of the node annotation ``kubectl-antrea-migrate/cni``: ``<network>@<epoch seconds>``."""
    return f"{network.value}@{since:.3f}"


def cni_mark(annotations: Mapping[str, str]) -> tuple[Network, float] | None:
    """Parse the node annotation written after a CNI switch; None when absent or unreadable."""
    raw = annotations.get(CNI_ANNOTATION)
    if not raw or "@" not in raw:
        return None
    name, _, since = raw.partition("@")
    try:
        return Network(name), float(since)
    except ValueError:
        return None


def pod_network(pod: Mapping[str, Any], antrea: Sequence[_IPNetwork], mark: tuple[Network, float] | None) -> Network:
    """Which network ``pod`` (a Pod object) is on now; see the module docstring for the rules.

    Args:
        pod: the Pod as the apiserver returns it.
        antrea: the node's Antrea pod range(s).
        mark: the node's CNI switch mark (``cni_mark``), if any.
    """
    ips = _pod_ips(pod)
    if not ips:
        return Network.NONE
    if any(_inside(ip, antrea) for ip in ips):
        return Network.ANTREA
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if any(_inside(ip, antrea) for ip in _network_status_ips(annotations.get(MULTUS_STATUS_ANNOTATION))):
        return Network.MULTUS
    if mark is not None and mark[0] is Network.MULTUS:
        sandbox = _sandbox_time(pod)
        # Kubernetes times have whole seconds: a sandbox made in the mark's second counts as after it.
        if sandbox is not None and sandbox >= int(mark[1]):
            return Network.MULTUS
    return Network.CALICO


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes ``LabelSelector`` semantics; a null selector matches nothing, ``{}`` everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or ()
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def evictable(pod: Mapping[str, Any]) -> bool:
    """True for the pods ``drain`` evicts (see the module docstring)."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return False
    if any(ref.get("kind") == "DaemonSet" and ref.get("controller") for ref in meta.get("ownerReferences") or ()):
        return False
    if spec.get("hostNetwork"):
        return False
    return status.get("phase") not in _TERMINAL_PHASES


def antrea_missing_nodes(daemonset: Mapping[str, Any] | None, pods: Iterable[Mapping[str, Any]],
                         nodes: Iterable[str]) -> tuple[str, ...]:
    """The Antrea rollout wait condition: ``node: reason`` for each node not served yet; () when done.

    Args:
        daemonset: the antrea-agent DaemonSet (None when it does not exist).
        pods: the DaemonSet's pods.
        nodes: the nodes that must each run a Ready antrea-agent pod.
    """
    names = sorted(nodes)
    if daemonset is None:
        return tuple(f"{n}: the antrea-agent DaemonSet does not exist" for n in names)
    generation = int((daemonset.get("metadata") or {}).get("generation") or 0)
    observed = int((daemonset.get("status") or {}).get("observedGeneration") or 0)
    if observed < generation:
        return tuple(f"{n}: the DaemonSet controller has not seen generation {generation} yet" for n in names)
    why: dict[str, str] = {}
    for pod in pods:
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        reason = _not_ready(pod)
        if reason is None:
            why[node] = ""
        elif why.get(node) != "":
            why[node] = reason
    return tuple(f"{n}: {why.get(n, 'no antrea-agent pod')}" for n in names if why.get(n, "x"))


# --- reading the facts for the plan ----------------------------------------------------------------

def read_plan_facts(client: KubeClient, config: MigrationConfig, state: MigrationState | None = None) -> PlanFacts:
    """Read what ``build_plan`` needs: nodes with their pods, overlap verdicts, Antrea, Calico objects.

    ``state``: the stored migration state. Nodes it already drained stay in the drain set even when
    the overlap has gone since (their Calico blocks were emptied by the drain), so a resumed run
    computes the same plan (same step ids, same plan id) as the run that drained them.

    Raises:
        ClusterError: a list failed.
    """
    snapshot = read_snapshot(client)
    analysis = analyse_snapshot(snapshot)
    drain = set(analysis.drain_first) if analysis.scenario is Scenario.DRAIN_NODES else set()
    if state is not None:
        drain.update(r.node for r in state.steps if r.kind == "drain" and r.node)
        drain.update(state.cordoned)
    pdbs = _list_pdbs(client)
    pods_by_node: dict[str, list[PodSpec]] = {}
    for pod in client.list_pages("/api/v1/pods"):
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        node = str(spec.get("nodeName") or "")
        if not node or status.get("phase") in _TERMINAL_PHASES:
            continue
        meta = pod.get("metadata") or {}
        pods_by_node.setdefault(node, []).append(PodSpec(
            namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
            host_network=bool(spec.get("hostNetwork")),
            restart_policy=str(spec.get("restartPolicy") or "Always"), pdb=_pdb_of(pod, pdbs)))
    nodes = []
    for info in snapshot.nodes:
        verdict = analysis.node(info.name)
        overlapped = verdict.status is NodeStatus.OVERLAPPED
        nodes.append(NodeSpec(
            name=info.name, control_plane=info.control_plane,
            pod_cidr=str(info.pod_cidrs[0]) if info.pod_cidrs else None,
            overlapped=overlapped, holds_overlapping_block=info.name in drain and not overlapped,
            pods=tuple(sorted(pods_by_node.get(info.name, ()), key=lambda p: p.key))))
    calico = tuple(_ref(o) for o in snapshot.calico_objects if o.get("kind") != "HostEndpoint")
    return PlanFacts(
        nodes=tuple(nodes),
        # With a manifest the install phase always stays in the plan (re-applying is a no-op), so the
        # plan of a resumed run does not change once the first run has installed Antrea.
        antrea_installed=snapshot.components.antrea and config.antrea_manifest is None,
        calico_policies=calico,
        calico_workloads=tuple(_ref(o) for o in _calico_workloads(client, config)),
        snapshot=snapshot,
    )


# --- the port --------------------------------------------------------------------------------------

class ClusterMigration:
    """``ClusterPort`` over the kube-apiserver; every mutating method is idempotent.

    Args:
        client: the cluster client.
        config: the run's cluster options.
        agents_ready: called by ``ensure_agents`` once the agents are installed: must raise unless every
            node's agent answers (the node adapter pings them).
        node_findings: the agents' findings about their nodes for the pre-flight check; raising
            ``MigrateError`` there (no agents yet) means "not available" and is not a blocker.
        clock: time source for the waits (``time.monotonic`` and ``time.sleep`` by default).
    """

    def __init__(self, client: KubeClient, config: MigrationConfig, *,
                 agents_ready: Callable[[], None] | None = None,
                 node_findings: Callable[[], Sequence[Finding]] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._config = config
        self._agents_ready = agents_ready
        self._node_findings = node_findings
        self._clock = clock
        self._sleep = sleep

    # -- pre-flight

    def preflight_blockers(self) -> tuple[str, ...]:
        """Pod CIDR blockers the plan does not resolve, conversion blockers, node blockers."""
        snapshot = read_snapshot(self._client)
        analysis = analyse_snapshot(snapshot)
        drained = set(analysis.drain_first) if analysis.scenario is Scenario.DRAIN_NODES else set()
        # A few overlapped nodes are resolved by the plan's drain phase.
        resolved = {"podcidr-overlap", "podcidr-drain-nodes"} if drained else set()
        findings = [f for f in analysis.findings if f.severity is Severity.BLOCKER and f.code not in resolved]
        blockers = [_finding_text(f) for f in findings]
        blockers += list(self._config.policy_blockers)
        blockers += [_finding_text(f) for f in self._node_blockers(drained)]
        return tuple(blockers)

    def _node_blockers(self, drained: set[str]) -> list[Finding]:
        from kubectl_antrea_migrate.errors import MigrateError

        if self._node_findings is None:
            return []
        try:
            findings = self._node_findings()
        except MigrateError:
            return []  # agents not installed yet: `check` reports on nodes, the agents phase follows
        conflicts = ("node-route-conflict", "node-address-conflict")
        return [f for f in findings if f.severity is Severity.BLOCKER
                and not (f.code in conflicts and f.subject.removeprefix("node/") in drained)]

    # -- installs

    def ensure_agents(self) -> None:
        """Install the agents (unless reached by endpoint), wait for the rollout, then ping them all."""
        cfg = self._config
        if cfg.install_agents:
            result = agent_install.install(self._client, cfg.namespace, cfg.agent_image)
            if result.failed:
                raise ClusterError("agent install refused: " + "; ".join(f"{o.ref}: {o.detail}" for o in result.failed))
            agent_install.wait_for_rollout(self._client, cfg.namespace, cfg.agents_timeout,
                                           poll_s=cfg.poll_interval, clock=self._clock, sleep=self._sleep)
        if self._agents_ready is not None:
            self._agents_ready()

    def ensure_antrea(self) -> None:
        """Server-side apply ``--antrea-manifest`` (CRDs first), then wait for ``antrea_missing_nodes`` ()."""
        manifest = self._config.antrea_manifest
        if manifest is None:
            raise ClusterError("Antrea is not installed and no --antrea-manifest was given")
        docs = _load_manifest(manifest)
        crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
        rest = [d for d in docs if d.get("kind") != "CustomResourceDefinition"]
        if crds:
            _apply_or_raise(self._client, crds, manifest)
            self._wait_established([str(d["metadata"]["name"]) for d in crds])
        if rest:
            _apply_or_raise(self._client, rest, manifest)
        namespace, name = _antrea_daemonset(docs, self._config.antrea_daemonset)
        self.wait_for_antrea(namespace, name)

    def wait_for_antrea(self, namespace: str, name: str) -> None:
        """Wait until ``antrea_missing_nodes`` is empty for every node, or fail naming the nodes.

        Raises:
            ClusterError: not done within ``antrea_timeout``.
        """
        deadline = self._clock() + self._config.antrea_timeout
        path = resource_path("apps", "v1", "daemonsets", namespace=namespace, name=name)
        while True:
            daemonset = self._client.get_optional(path)
            pods: list[dict[str, Any]] = []
            if daemonset is not None:
                labels = ((daemonset.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
                query = {"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))}
                pods = self._client.get(resource_path("", "v1", "pods", namespace=namespace), query=query).get(
                    "items") or []
            missing = antrea_missing_nodes(daemonset, pods, self._node_names())
            if not missing:
                return
            if self._clock() >= deadline:
                raise ClusterError(f"Antrea ({namespace}/{name}) not ready after {self._config.antrea_timeout:g}s "
                                   f"on: {'; '.join(missing[:20])}")
            self._sleep(self._config.poll_interval)

    def _wait_established(self, names: Sequence[str]) -> None:
        deadline = self._clock() + self._config.antrea_timeout
        for name in names:
            path = resource_path("apiextensions.k8s.io", "v1", "customresourcedefinitions", name=name)
            while not _established(self._client.get_optional(path)):
                if self._clock() >= deadline:
                    raise ClusterError(f"CustomResourceDefinition {name} not Established")
                self._sleep(min(self._config.poll_interval, 0.2))

    # -- policies

    def backup_calico_policies(self) -> str:
        """Write every Calico policy object (and network sets, tiers, host endpoints) to a new file."""
        snapshot = read_snapshot(self._client)
        path = backup_objects(snapshot.calico_objects, self._config.backup_dir, prefix="calico-policies")
        return str(path.resolve())

    def ensure_antrea_policies(self) -> None:
        """Server-side apply the converted Antrea objects (Tiers and groups first)."""
        if self._config.policy_manifests:
            _apply_or_raise(self._client, self._config.policy_manifests, None)

    def remove_antrea_policies(self) -> None:
        """Delete the Antrea policies, groups and tiers whose fields this tool applied."""
        for plural in _ANTREA_POLICY_PLURALS:
            path = resource_path(_ANTREA_GROUP, _ANTREA_VERSION, plural)
            try:
                items = list(self._client.list_pages(path))
            except ApiError as exc:
                if exc.status == 404:
                    continue  # Antrea's CRDs are gone: nothing of ours can remain
                raise
            for item in items:
                if _applied_by_us(item):
                    meta = item["metadata"]
                    self._delete(resource_path(_ANTREA_GROUP, _ANTREA_VERSION, plural,
                                               namespace=str(meta.get("namespace") or ""), name=meta["name"]))

    def delete_calico_policies(self) -> None:
        """Delete Calico policies, network sets and tiers (not host endpoints); absent is success."""
        snapshot = read_snapshot(self._client)
        plurals = dict(CALICO_POLICY_KINDS)
        for kind in _CALICO_DELETE_ORDER:
            for obj in snapshot.calico_objects_of(kind):
                meta = obj.get("metadata") or {}
                if kind == "Tier" and meta.get("name") in _CALICO_BUILTIN_TIERS:
                    continue
                group, _, version = str(obj["apiVersion"]).rpartition("/")
                self._delete(resource_path(group, version, plurals[kind], namespace=str(meta.get("namespace") or ""),
                                           name=str(meta.get("name"))))

    # -- nodes

    def drain(self, node: str) -> None:
        """Cordon ``node`` and evict its evictable pods through the Eviction API; wait until they are gone.

        Raises:
            ClusterError: a PodDisruptionBudget kept refusing, or pods were not gone, within
                ``drain_timeout`` (the node stays cordoned; the message names pods and reasons).
        """
        self._set_unschedulable(node, True)
        deadline = self._clock() + self._config.drain_timeout
        # Like kubectl drain: the pods found now are evicted and waited for (by uid). A pod created
        # on the node afterwards (a template with nodeName ignores the cordon) is not chased.
        targets = {_uid(p) for p in self._node_pods(node) if evictable(p)}
        while True:
            pods = [p for p in self._node_pods(node) if _uid(p) in targets]
            if not pods:
                return
            refused = {}
            for pod in pods:
                if not (pod.get("metadata") or {}).get("deletionTimestamp"):
                    reason = self._evict(pod)
                    if reason:
                        refused[_key(pod)] = reason
            if self._clock() >= deadline:
                waiting = ", ".join(sorted(_key(p) for p in pods if _key(p) not in refused))
                detail = "; ".join(f"{k}: {r}" for k, r in sorted(refused.items()))
                raise ClusterError(
                    f"node {node}: drain not finished after {self._config.drain_timeout:g}s"
                    + (f"; evictions refused ({detail})" if detail else "")
                    + (f"; still terminating: {waiting}" if waiting else "")
                    + f"; node {node} stays cordoned")
            self._sleep(self._config.poll_interval)

    def uncordon(self, node: str) -> None:
        """Mark ``node`` schedulable."""
        self._set_unschedulable(node, False)

    def pods(self, node: str) -> tuple[LivePod, ...]:
        """The node's live pods (not finished, not being deleted) with network, readiness and budget."""
        obj = self._get_node(node)
        antrea = self._antrea_ranges(obj)
        mark = cni_mark((obj.get("metadata") or {}).get("annotations") or {})
        pdbs = _list_pdbs(self._client)
        live = []
        for pod in self._node_pods(node):
            meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
            if meta.get("deletionTimestamp") or status.get("phase") in _TERMINAL_PHASES:
                continue
            host = bool(spec.get("hostNetwork"))
            live.append(LivePod(
                namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
                network=Network.NONE if host else pod_network(pod, antrea, mark),
                ready=_condition(pod, "Ready"), host_network=host,
                restart_policy=str(spec.get("restartPolicy") or "Always"), pdb=_pdb_of(pod, pdbs)))
        return tuple(sorted(live, key=lambda p: p.key))

    def disruption_budgets(self, pdbs: frozenset[str]) -> Mapping[str, Budget]:
        """Each PodDisruptionBudget's ``disruptionsAllowed`` and the pods its status already counts down.

        ``unhealthy`` lists the selected pods not Ready only when the budget's ``currentHealthy``
        agrees with the Ready pods seen now; while the controller lags, nothing is counted twice.
        """
        budgets: dict[str, Budget] = {}
        for ref in sorted(pdbs):
            namespace, _, name = ref.partition("/")
            obj = self._client.get_optional(
                resource_path("policy", "v1", "poddisruptionbudgets", namespace=namespace, name=name))
            if obj is None:
                budgets[ref] = Budget(0)
                continue
            status = obj.get("status") or {}
            selector = (obj.get("spec") or {}).get("selector")
            members = [p for p in self._client.list_pages(resource_path("", "v1", "pods", namespace=namespace))
                       if selector_matches(selector, (p.get("metadata") or {}).get("labels") or {})]
            not_ready = frozenset(_key(p) for p in members if not _condition(p, "Ready"))
            current = int(status.get("currentHealthy") or 0)
            caught_up = current == len(members) - len(not_ready)
            budgets[ref] = Budget(int(status.get("disruptionsAllowed") or 0), not_ready if caught_up else frozenset())
        return budgets

    # -- Calico removal and the end

    def remove_calico(self) -> None:
        """Delete the Calico workloads (never CRDs, never policies); absent ones are success."""
        for obj in _calico_workloads(self._client, self._config):
            group, version, plural = _WORKLOAD_KINDS[str(obj["kind"])]
            meta = obj["metadata"]
            self._delete(resource_path(group, version, plural, namespace=str(meta.get("namespace") or "kube-system"),
                                       name=str(meta["name"])))

    def final_check(self) -> tuple[str, ...]:
        """Calico workloads still present, and pods (restartable, pod network) not on Antrea."""
        problems = [f"Calico workload still present: {_ref(o)}"
                    for o in _calico_workloads(self._client, self._config) if self._exists(o)]
        for name in self._node_names():
            for pod in self.pods(name):
                if not pod.host_network and pod.restart_policy != "Never" and pod.network is not Network.ANTREA:
                    problems.append(f"pod {pod.key} on node {name} is on {pod.network.value}, not antrea")
        return tuple(problems)

    # -- helpers

    def _evict(self, pod: Mapping[str, Any]) -> str:
        """Ask for one eviction; '' when accepted or the pod is gone, else the apiserver's reason."""
        meta = pod["metadata"]
        body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                                "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
        delete_options: dict[str, Any] = {"preconditions": {"uid": meta.get("uid")}}
        if self._config.eviction_grace_seconds is not None:
            delete_options["gracePeriodSeconds"] = self._config.eviction_grace_seconds
        body["deleteOptions"] = delete_options
        path = resource_path("", "v1", "pods", namespace=meta["namespace"], name=meta["name"]) + "/eviction"
        try:
            self._client.request("POST", path, body=body)
        except ApiError as exc:
            if exc.status in (404, 409):  # gone, or replaced by a pod with another uid
                return ""
            if exc.status == 429:  # a PodDisruptionBudget allows no disruption now
                return str(exc.body.get("message") or exc.reason)
            raise
        return ""

    def _set_unschedulable(self, node: str, value: bool) -> None:
        patch = {"spec": {"unschedulable": True if value else None}}
        try:
            self._client.request("PATCH", resource_path("", "v1", "nodes", name=node), body=patch,
                                 content_type="application/merge-patch+json")
        except ApiError as exc:
            raise ClusterError(f"cannot {'cordon' if value else 'uncordon'} node {node}: {exc}") from exc

    def _get_node(self, node: str) -> dict[str, Any]:
        obj = self._client.get_optional(resource_path("", "v1", "nodes", name=node))
        if obj is None:
            raise ClusterError(f"node {node} not found")
        return obj

    def _antrea_ranges(self, node: Mapping[str, Any]) -> tuple[_IPNetwork, ...]:
        if self._config.antrea_subnets:
            return self._config.antrea_subnets
        spec = node.get("spec") or {}
        cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
        return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)

    def _node_pods(self, node: str) -> list[dict[str, Any]]:
        listing = self._client.get("/api/v1/pods", query={"fieldSelector": f"spec.nodeName={node}"})
        return list(listing.get("items") or ())

    def _node_names(self) -> list[str]:
        return sorted(str(n["metadata"]["name"]) for n in self._client.list_pages("/api/v1/nodes"))

    def _delete(self, path: str) -> None:
        try:
            self._client.request("DELETE", path, query={"propagationPolicy": "Background"})
        except ApiError as exc:
            if exc.status != 404:
                raise

    def _exists(self, obj: Mapping[str, Any]) -> bool:
        group, version, plural = _WORKLOAD_KINDS[str(obj["kind"])]
        meta = obj["metadata"]
        path = resource_path(group, version, plural, namespace=str(meta.get("namespace") or "kube-system"),
                             name=str(meta["name"]))
        return self._client.get_optional(path) is not None


# --- internals -------------------------------------------------------------------------------------

def _pod_ips(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    ips = [str(p["ip"]) for p in status.get("podIPs") or () if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    return ips


def _inside(ip: str, networks: Sequence[_IPNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address.version == n.version and address in n for n in networks)


def _network_status_ips(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        entries = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [str(ip) for e in entries if isinstance(e, dict) for ip in e.get("ips") or ()]


def _parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _sandbox_time(pod: Mapping[str, Any]) -> float | None:
    """When the pod's current sandbox was made, as far as its status tells.

    ``PodReadyToStartContainers`` turns True when the sandbox has its network; a kubelet that did not
    sync between a kill and the new sandbox may keep the old transition time, but the containers of a
    new sandbox all start again: the later of the two signals is the sandbox's age.
    """
    status = pod.get("status") or {}
    signals: list[float] = []
    for cond in status.get("conditions") or ():
        if cond.get("type") == "PodReadyToStartContainers" and cond.get("status") == "True":
            when = _parse_time(cond.get("lastTransitionTime"))
            signals += [when] if when is not None else []
    started = [_parse_time(((c.get("state") or {}).get("running") or {}).get("startedAt"))
               for c in status.get("containerStatuses") or ()]
    known = [s for s in started if s is not None]
    if known and len(known) == len(status.get("containerStatuses") or ()):
        signals.append(min(known))
    return max(signals) if signals else None


def _condition(pod: Mapping[str, Any], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


def _not_ready(pod: Mapping[str, Any]) -> str | None:
    name = str((pod.get("metadata") or {}).get("name") or "")
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return f"pod {name} is terminating"
    phase = str((pod.get("status") or {}).get("phase") or "Pending")
    if phase == "Running" and _condition(pod, "Ready"):
        return None
    return f"pod {name} is {phase}, not Ready"


def _uid(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


def _key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _ref(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    name = f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else str(meta.get("name", ""))
    return f"{obj.get('kind', '')} {name}"


def _list_pdbs(client: KubeClient) -> list[dict[str, Any]]:
    return list(client.list_pages(resource_path("policy", "v1", "poddisruptionbudgets")))


def _pdb_of(pod: Mapping[str, Any], pdbs: Sequence[Mapping[str, Any]]) -> str | None:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    for pdb in pdbs:
        pmeta = pdb.get("metadata") or {}
        if pmeta.get("namespace") == meta.get("namespace") and selector_matches(
                (pdb.get("spec") or {}).get("selector"), labels):
            return f"{pmeta.get('namespace')}/{pmeta.get('name')}"
    return None


def _finding_text(finding: Finding) -> str:
    return f"{finding.subject}: {finding.message}" + (f" (fix: {finding.fix})" if finding.fix else "")


def _load_manifest(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", Location(file=str(path))) from exc
    docs: list[dict[str, Any]] = []
    try:
        for index, doc in enumerate(yaml.safe_load_all(text), start=1):
            if doc is None:
                continue
            where = Location(file=str(path), document=index)
            if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
                raise InputError("expected a Kubernetes object with apiVersion and kind", where)
            if doc["kind"].endswith("List"):
                docs.extend(i for i in doc.get("items") or () if isinstance(i, dict))
            else:
                docs.append(doc)
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", Location(file=str(path))) from exc
    return docs


def _apply_or_raise(client: KubeClient, objects: Sequence[Mapping[str, Any]], source: Path | None) -> None:
    result = apply_objects(client, objects)
    if result.failed:
        where = f" from {source}" if source else ""
        raise ClusterError(f"server-side apply{where} refused {len(result.failed)} objects: "
                           + "; ".join(f"{o.ref}: {o.error}" for o in result.failed[:10]))


def _established(crd: Mapping[str, Any] | None) -> bool:
    if crd is None:
        return False
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or ())


def _antrea_daemonset(docs: Sequence[Mapping[str, Any]], default: str) -> tuple[str, str]:
    for doc in docs:
        meta = doc.get("metadata") or {}
        if doc.get("kind") == "DaemonSet" and "antrea-agent" in str(meta.get("name") or ""):
            return str(meta.get("namespace") or "kube-system"), str(meta["name"])
    namespace, sep, name = default.partition("/")
    return (namespace, name) if sep else (agent_install.DEFAULT_NAMESPACE, default)


def _applied_by_us(obj: Mapping[str, Any]) -> bool:
    return any(m.get("manager") == FIELD_MANAGER and m.get("operation") == "Apply"
               for m in (obj.get("metadata") or {}).get("managedFields") or ())


def _calico_workloads(client: KubeClient, config: MigrationConfig) -> list[dict[str, Any]]:
    """The workloads Calico removal deletes: from the Calico manifest, or found by their usual names."""
    if config.calico_manifest is not None:
        return [d for d in _load_manifest(config.calico_manifest) if d.get("kind") in _WORKLOAD_KINDS]
    found: list[dict[str, Any]] = []
    for kind in ("DaemonSet", "Deployment"):
        group, version, plural = _WORKLOAD_KINDS[kind]
        for obj in client.list_pages(resource_path(group, version, plural)):
            if (obj.get("metadata") or {}).get("name") in CALICO_WORKLOAD_NAMES:
                found.append({"kind": kind, "metadata": obj["metadata"]})
    return found
