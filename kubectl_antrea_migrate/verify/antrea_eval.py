"""What Antrea decides for one probe, computed from the Antrea model alone (policy-mapping §3).

Design. Antrea's order of enforcement, per pod and direction:

1. Every Antrea-native tier except ``baseline``, by tier priority; inside a tier, ACNPs and ANNPs
   interleaved by policy priority; rules in order, first match wins. Allow accepts, Drop/Reject deny,
   Pass skips every remaining non-baseline rule. There is no implicit isolation.
2. Kubernetes NetworkPolicies: a pod selected by one for the direction is isolated: allowed when any
   of their rules matches, denied otherwise (a baseline Allow cannot reopen it).
3. The ``baseline`` tier (Pass is invalid there and falls through), then default allow.

Equal priorities are nondeterministic in Antrea; this module breaks ties by (kind, namespace, name)
so its answers are reproducible, and the converter must never emit such ties.

Peers match the **address** (Antrea resolves selectors to the pods' IPs): a pod selector matches an
IP held by a selected pod; an ipBlock matches any IP in it, pod IPs included. appliedTo matches the
local pod by its labels. Named ports are resolved on the destination pod. ``icmp`` matches ICMP on
IPv4 flows and ICMPv6 on IPv6 flows.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from kubectl_antrea_migrate.antrea.model import (
    BASELINE_TIER,
    STATIC_TIERS,
    AntreaAction,
    AntreaGroup,
    AntreaObjects,
    AntreaPolicy,
    AntreaRule,
    AppliedTo,
    ICMPSpec,
    Peer,
    PolicyKind,
    PortSpec,
)
from kubectl_antrea_migrate.errors import InputError
from kubectl_antrea_migrate.kube.model import (
    IPBlock,
    KubernetesNetworkPolicy,
    LabelMap,
    LabelSelector,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
    Pod,
)
from kubectl_antrea_migrate.verify._speed import Memo, TrafficLists, bits
from kubectl_antrea_migrate.verify.endpoints import PORT_PROTOCOLS, Endpoint, IPAddress, Population, Traffic
from kubectl_antrea_migrate.verify.verdict import Decision, DirectionSteps, PairDecisions, Step, Verdict

__all__ = ["AntreaEvaluator"]

_KIND_ORDER = {PolicyKind.CLUSTER_NETWORK_POLICY: 0, PolicyKind.NETWORK_POLICY: 1}


@dataclass(frozen=True, slots=True)
class _Entry:
    tier: str
    policy: AntreaPolicy
    rule: AntreaRule
    label: str


# A pod's rules for one direction: non-baseline entries, the K8s NetworkPolicies selecting it, baseline entries.
_Plan = tuple[tuple[_Entry, ...], tuple[KubernetesNetworkPolicy, ...], tuple[_Entry, ...]]


class AntreaEvaluator:
    """Antrea's verdict for probes over one population; build once, ask many times.

    Args:
        antrea: tiers, groups and policies (ACNP/ANNP).
        population: the pods (with IPs) and namespaces to evaluate against.
        kubernetes_policies: the K8s NetworkPolicies present in the cluster (Antrea enforces them natively).

    Raises:
        InputError: a policy names a tier or group that does not exist (Antrea's API rejects it).
    """

    def __init__(
        self,
        antrea: AntreaObjects,
        population: Population,
        kubernetes_policies: Sequence[KubernetesNetworkPolicy] = (),
    ) -> None:
        self._ns_labels = population.namespace_labels()
        self._pods_at: dict[IPAddress, list[Pod]] = {}
        for pod in population.pods:
            for ip in pod.ips:
                self._pods_at.setdefault(ipaddress.ip_address(ip), []).append(pod)
        self._groups = {(g.namespace, g.name): g for g in antrea.groups}
        tier_priority = dict(STATIC_TIERS)
        tier_priority.update({t.name: t.priority for t in antrea.tiers})
        ordered: list[tuple[tuple[int, float, int, str, str], AntreaPolicy]] = []
        for policy in antrea.policies:
            tier = policy.tier or "application"
            if tier not in tier_priority:
                raise InputError(f"tier {tier!r} does not exist", policy.location.at("spec.tier"))
            key = (tier_priority[tier], policy.priority, _KIND_ORDER[policy.kind], policy.namespace or "", policy.name)
            ordered.append((key, policy))
            self._check_groups(policy)
        ordered.sort(key=lambda item: item[0])
        self._main = [(p.tier or "application", p) for _, p in ordered if (p.tier or "application") != BASELINE_TIER]
        self._baseline = [(BASELINE_TIER, p) for _, p in ordered if p.tier == BASELINE_TIER]
        self._knps = tuple(kubernetes_policies)
        self._plans: dict[tuple[int, str], _Plan] = {}
        self._peer_cache: dict[tuple[int, IPAddress, str], bool] = {}
        self._traffic_lists = TrafficLists()
        self._pods_alive: list[Pod] = []
        self._interned: dict[tuple[object, ...], _Plan] = {}
        self._local_dependent: dict[int, bool] = {}
        self._memo: Memo[DirectionSteps] = Memo()
        self._masks: dict[tuple[int, int, IPAddress | None], int] = {}
        self._keep_alive = antrea  # peer ids key the cache: the objects must outlive it
        self._net_cache: dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network] = {}

    def _check_groups(self, policy: AntreaPolicy) -> None:
        scope = policy.namespace
        entries: list[AppliedTo | Peer] = list(policy.applied_to)
        for rule in (*policy.ingress, *policy.egress):
            entries.extend(rule.applied_to)
            entries.extend(rule.peers)
        for entry in entries:
            if entry.group is not None and (scope, entry.group) not in self._groups:
                kind = "Group" if scope else "ClusterGroup"
                raise InputError(f"{kind} {entry.group!r} does not exist", policy.location)

    # --- public --------------------------------------------------------------------------------

    def decide(self, src: Endpoint, dst: Endpoint, traffic: Traffic) -> Decision:
        """Egress at ``src`` (when a pod) then ingress at ``dst`` (when a pod)."""
        return self.decide_many(src, dst, (traffic,))[0]

    def decide_many(self, src: Endpoint, dst: Endpoint, traffics: Sequence[Traffic]) -> PairDecisions:
        """``decide`` for every traffic between one pair; peer matching is done once per pair."""
        egress = self._steps(src.pod, "egress", src.ip, dst.ip, traffics) if src.pod is not None else None
        ingress = self._steps(dst.pod, "ingress", src.ip, dst.ip, traffics) if dst.pod is not None else None
        return PairDecisions(egress, ingress, len(traffics))

    def step(self, pod: Pod, direction: str, src: IPAddress, dst: IPAddress, traffic: Traffic) -> Step:
        """The verdict of ``direction`` (``ingress``/``egress``) at ``pod`` for ``src`` → ``dst``."""
        return self._steps(pod, direction, src, dst, (traffic,)).steps[0]

    def _steps(
        self, pod: Pod, direction: str, src: IPAddress, dst: IPAddress, traffics: Sequence[Traffic]
    ) -> DirectionSteps:
        plan = self._plan(pod, direction)
        local, remote = (dst, src) if direction == "ingress" else (src, dst)
        # Pods with the same plan get the same answer unless a named port resolves on the local pod;
        # the namespace matters to namespaces.match Self.
        local_key = local if self._local_dependent[id(plan)] else None
        memo_key = (id(plan), direction, remote, local_key, pod.namespace, self._traffic_lists.key(traffics))
        steps = self._memo.get(memo_key)
        if steps is None:
            steps = self._memo.put(memo_key, DirectionSteps.of(self._walk(plan, pod, direction, src, dst, traffics)))
        return steps

    def _walk(
        self,
        plan: _Plan,
        pod: Pod,
        direction: str,
        src: IPAddress,
        dst: IPAddress,
        traffics: Sequence[Traffic],
    ) -> tuple[Step, ...]:
        """Walk the stages once for all ``traffics``, carrying the undecided ones as a bit mask."""
        main, knps, baseline = plan
        remote = src if direction == "ingress" else dst
        tkey = self._traffic_lists.key(traffics)
        result: list[Step | None] = [None] * len(traffics)
        undecided = (1 << len(traffics)) - 1
        passed = 0
        for entry in main:
            if not undecided:
                break
            if not self._peers_match(entry, pod, remote):
                continue
            hits = self._mask(entry.rule, dst, traffics, tkey) & undecided
            if hits:
                undecided &= ~hits
                if entry.rule.action is AntreaAction.PASS:
                    passed |= hits
                else:
                    _assign(result, hits, self._step(direction, entry))
        undecided |= passed
        if knps and undecided:
            for knp in knps:
                for i, krule in enumerate(knp.ingress if direction == "ingress" else knp.egress):
                    if krule.peers and not any(self._kube_peer_matches(knp.namespace, p, remote) for p in krule.peers):
                        continue
                    hits = self._kube_mask(krule, dst, traffics, tkey) & undecided
                    if hits:
                        label = f"KubernetesNetworkPolicy {knp.namespace}/{knp.name}"
                        _assign(result, hits, Step(direction, Verdict.ALLOW, None, label, f"{direction}[{i}]"))
                        undecided &= ~hits
            _assign(result, undecided, Step(direction, Verdict.DENY, None, None, "KubernetesNetworkPolicy isolation"))
            undecided = 0
        for entry in baseline:
            if not undecided:
                break
            if entry.rule.action is AntreaAction.PASS or not self._peers_match(entry, pod, remote):
                continue
            hits = self._mask(entry.rule, dst, traffics, tkey) & undecided
            if hits:
                _assign(result, hits, self._step(direction, entry))
                undecided &= ~hits
        _assign(result, undecided, Step(direction, Verdict.ALLOW, None, None, "default allow"))
        return tuple(result)  # type: ignore[arg-type]  # every index is assigned above

    def _mask(self, rule: AntreaRule, dst: IPAddress, traffics: Sequence[Traffic], tkey: int) -> int:
        # Named ports resolve on the destination pod: only those masks depend on the address.
        named = any(isinstance(spec.port, str) for spec in rule.ports)
        key = (id(rule), tkey, dst if named else None)
        mask = self._masks.get(key)
        if mask is None:
            mask = 0
            for i, traffic in enumerate(traffics):
                if self._services_match(rule, dst, traffic):
                    mask |= 1 << i
            self._masks[key] = mask
        return mask

    def _kube_mask(self, rule: NetworkPolicyRule, dst: IPAddress, traffics: Sequence[Traffic], tkey: int) -> int:
        named = any(isinstance(p.port, str) for p in rule.ports)
        key = (id(rule), tkey, dst if named else None)
        mask = self._masks.get(key)
        if mask is None:
            mask = 0
            for i, traffic in enumerate(traffics):
                if not rule.ports or any(self._port_matches(_kube_port(p), dst, traffic) for p in rule.ports):
                    mask |= 1 << i
            self._masks[key] = mask
        return mask

    @staticmethod
    def _step(direction: str, entry: _Entry) -> Step:
        allowed = entry.rule.action is AntreaAction.ALLOW
        kind = "ClusterNetworkPolicy" if entry.policy.namespace is None else "NetworkPolicy"
        name = f"{entry.policy.namespace}/{entry.policy.name}" if entry.policy.namespace else entry.policy.name
        return Step(direction, Verdict.ALLOW if allowed else Verdict.DENY, entry.tier, f"{kind} {name}", entry.label)

    # --- per-pod plan --------------------------------------------------------------------------

    def _plan(self, pod: Pod, direction: str) -> _Plan:
        key = (id(pod), direction)
        plan = self._plans.get(key)
        if plan is None:
            self._pods_alive.append(pod)  # plans are keyed by id(pod): keep the pod from being freed
            knps = tuple(
                k
                for k in self._knps
                if direction.capitalize() in k.policy_types
                and k.namespace == pod.namespace
                and k.pod_selector.matches(pod.labels)
            )
            built = (
                self._entries(self._main, pod, direction),
                knps,
                self._entries(self._baseline, pod, direction),
            )
            shape = (
                direction,
                tuple((id(e.policy), id(e.rule)) for e in built[0]),
                tuple(id(k) for k in knps),
                tuple((id(e.policy), id(e.rule)) for e in built[2]),
            )
            plan = self._plans[key] = self._interned.setdefault(shape, built)
            if plan is built:
                rules = [e.rule for e in (*built[0], *built[2])]
                named = any(isinstance(spec.port, str) for r in rules for spec in r.ports) or any(
                    isinstance(p.port, str)
                    for k in knps
                    for r in (k.ingress if direction == "ingress" else k.egress)
                    for p in r.ports
                )
                self._local_dependent[id(plan)] = named and direction == "ingress"
        return plan

    def _entries(self, policies: list[tuple[str, AntreaPolicy]], pod: Pod, direction: str) -> tuple[_Entry, ...]:
        out: list[_Entry] = []
        for tier, policy in policies:
            policy_applies = bool(policy.applied_to) and self._applied(policy, policy.applied_to, pod)
            rules = policy.ingress if direction == "ingress" else policy.egress
            for i, rule in enumerate(rules):
                applies = self._applied(policy, rule.applied_to, pod) if rule.applied_to else policy_applies
                if applies:
                    out.append(_Entry(tier, policy, rule, rule.name or f"{direction}[{i}]"))
        return tuple(out)

    def _applied(self, policy: AntreaPolicy, entries: tuple[AppliedTo, ...], pod: Pod) -> bool:
        if policy.namespace is not None and pod.namespace != policy.namespace:
            return False
        return any(self._applied_entry(policy.namespace, entry, pod) for entry in entries)

    def _applied_entry(self, scope: str | None, entry: AppliedTo, pod: Pod) -> bool:
        if entry.group is not None:
            return self._group_has_pod(self._groups[(scope, entry.group)], pod)
        if entry.service_account is not None:
            sa = entry.service_account
            return pod.namespace == sa.namespace and pod.service_account == sa.name
        if entry.pod_selector is None and entry.namespace_selector is None:
            return False
        return self._selects(scope, entry.pod_selector, entry.namespace_selector, pod)

    def _selects(
        self, scope: str | None, pod_sel: LabelSelector | None, ns_sel: LabelSelector | None, pod: Pod
    ) -> bool:
        """podSelector/namespaceSelector semantics: podSelector alone = own namespace for namespaced objects."""
        if ns_sel is not None:
            if not ns_sel.matches(self._ns_labels.get(pod.namespace, LabelMap())):
                return False
        elif scope is not None and pod.namespace != scope:
            return False
        return pod_sel is None or pod_sel.matches(pod.labels)

    def _group_has_pod(self, group: AntreaGroup, pod: Pod) -> bool:
        if group.child_groups:
            return any(
                self._group_has_pod(self._groups[(group.namespace, child)], pod)
                for child in group.child_groups
                if (group.namespace, child) in self._groups
            )
        if group.pod_selector is None and group.namespace_selector is None:
            return False
        return self._selects(group.namespace, group.pod_selector, group.namespace_selector, pod)

    def _group_has_ip(self, group: AntreaGroup, ip: IPAddress) -> bool:
        if group.child_groups:
            return any(
                self._group_has_ip(self._groups[(group.namespace, child)], ip)
                for child in group.child_groups
                if (group.namespace, child) in self._groups
            )
        if group.ip_blocks:
            return any(self._in_block(block, ip) for block in group.ip_blocks)
        return any(self._group_has_pod(group, pod) for pod in self._pods_at.get(ip, ()))

    # --- matching ------------------------------------------------------------------------------

    def _services_match(self, rule: AntreaRule, dst: IPAddress, traffic: Traffic) -> bool:
        if not rule.ports and not rule.protocols:
            return True
        return any(self._port_matches(spec, dst, traffic) for spec in rule.ports) or any(
            _icmp_matches(spec, traffic) for spec in rule.protocols
        )

    def _peers_match(self, entry: _Entry, pod: Pod, remote: IPAddress) -> bool:
        return not entry.rule.peers or any(self._peer_matches(entry.policy, p, pod, remote) for p in entry.rule.peers)

    def _peer_matches(self, policy: AntreaPolicy, peer: Peer, pod: Pod, ip: IPAddress) -> bool:
        # Only namespaces.match Self depends on the local pod, and only through its namespace.
        key = (id(peer), ip, f"{policy.namespace}|{pod.namespace if peer.namespaces_match else ''}")
        hit = self._peer_cache.get(key)
        if hit is None:
            hit = self._peer_cache[key] = self._peer_matches_uncached(policy, peer, pod, ip)
        return hit

    def _peer_matches_uncached(self, policy: AntreaPolicy, peer: Peer, pod: Pod, ip: IPAddress) -> bool:
        if peer.ip_block is not None:
            return self._in_block(peer.ip_block, ip)
        if peer.group is not None:
            return self._group_has_ip(self._groups[(policy.namespace, peer.group)], ip)
        remotes = self._pods_at.get(ip, ())
        if peer.service_account is not None:
            sa = peer.service_account
            return any(p.namespace == sa.namespace and p.service_account == sa.name for p in remotes)
        if peer.namespaces_match is not None:
            # namespaces.match Self: the peer must be in the appliedTo pod's own namespace.
            return any(
                p.namespace == pod.namespace and (peer.pod_selector is None or peer.pod_selector.matches(p.labels))
                for p in remotes
            )
        if peer.pod_selector is None and peer.namespace_selector is None:
            return False
        return any(self._selects(policy.namespace, peer.pod_selector, peer.namespace_selector, p) for p in remotes)

    def _port_matches(self, spec: PortSpec, dst: IPAddress, traffic: Traffic) -> bool:
        protocol = PORT_PROTOCOLS.get(spec.protocol.upper())
        if protocol != traffic.protocol or traffic.port is None:
            return False
        if spec.source_port is not None:
            sport = traffic.source_port
            if sport is None or not spec.source_port <= sport <= (spec.source_end_port or spec.source_port):
                return False
        if spec.port is None:
            return True
        if isinstance(spec.port, str):
            return any(
                cp.name == spec.port and cp.port == traffic.port and PORT_PROTOCOLS.get(cp.protocol.upper()) == protocol
                for p in self._pods_at.get(dst, ())
                for cp in p.ports
            )
        return spec.port <= traffic.port <= (spec.end_port or spec.port)

    def _in_block(self, block: IPBlock, ip: IPAddress) -> bool:
        net = self._net(block.cidr)
        if net.version != ip.version or ip not in net:
            return False
        return not any(ip in self._net(e) for e in block.except_)

    def _net(self, cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        net = self._net_cache.get(cidr)
        if net is None:
            net = self._net_cache[cidr] = ipaddress.ip_network(cidr, strict=False)
        return net

    def _kube_peer_matches(self, namespace: str, peer: NetworkPolicyPeer, ip: IPAddress) -> bool:
        if peer.ip_block is not None:
            return self._in_block(peer.ip_block, ip)
        if peer.pod_selector is None and peer.namespace_selector is None:
            return False
        return any(
            self._selects(namespace, peer.pod_selector, peer.namespace_selector, p) for p in self._pods_at.get(ip, ())
        )


def _assign(result: list[Step | None], mask: int, step: Step) -> None:
    for i in bits(mask):
        result[i] = step


def _kube_port(port: NetworkPolicyPort) -> PortSpec:
    return PortSpec(port.protocol, port.port, port.end_port)


def _icmp_matches(spec: ICMPSpec, traffic: Traffic) -> bool:
    if not traffic.is_icmp:
        return False
    if spec.icmp_type is not None and spec.icmp_type != traffic.icmp_type:
        return False
    return spec.icmp_code is None or spec.icmp_code == traffic.icmp_code
