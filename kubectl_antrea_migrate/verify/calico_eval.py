"""What Calico decides for one probe, computed from the Calico model alone (policy-mapping §1).

Design. Felix renders, per workload endpoint and direction, a chain of tiers; this module walks the
same chain in Python (§1.7):

1. Tiers sorted by (order, nil last, name). In each tier, the normal (not doNotTrack/preDNAT)
   policies whose compiled selector matches the endpoint and whose ``types`` include the direction,
   sorted by order (nil last) and then the version's tie key. A tier with no such policy is skipped,
   end-of-tier action included.
2. Rules in order: Allow accepts, Deny drops, Log continues, Pass leaves the tier. No decision and a
   Deny tier → end-of-tier drop; a Pass tier → next tier. After the last tier the namespace profile
   allows everything.
3. Kubernetes NetworkPolicies sit in tier ``default`` at order 1000 with Allow-only rules and
   Kubernetes selector semantics.

Rule sides match the **address**: a selector matches an IP when any labelled object holding that IP
(a pod's workload endpoint, a HostEndpoint, a NetworkSet CIDR containing it) matches (§1.4). Named
ports are resolved on the pods at the address, filtered by the side's positive selector. A connection
is allowed when egress at the source pod and ingress at the destination pod both allow it.

Deliberately ignored, because Felix's iptables dataplane does not decide them either: ``http`` matches
(enforced by an Istio sidecar, never by Felix). ``services`` matches need EndpointSlices, which the
model does not carry: a rule with them never matches (the converter refuses them anyway).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

from kubectl_antrea_migrate.calico.model import (
    DEFAULT_TIER,
    Action,
    Direction,
    EntityRule,
    Inventory,
    NamedPort,
    Network,
    Policy,
    Rule,
    Tier,
)
from kubectl_antrea_migrate.calico.selector.ast import Selector
from kubectl_antrea_migrate.calico.selector.rewrite import entity_selectors, policy_endpoint_selector
from kubectl_antrea_migrate.kube.model import (
    KubernetesNetworkPolicy,
    LabelMap,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    Pod,
)
from kubectl_antrea_migrate.verify._speed import Memo, TrafficLists, bits
from kubectl_antrea_migrate.verify.endpoints import PORT_PROTOCOLS, Endpoint, IPAddress, Population, Traffic
from kubectl_antrea_migrate.verify.verdict import Decision, DirectionSteps, PairDecisions, Step, Verdict

__all__ = ["DEFAULT_CALICO_VERSION", "KNP_ORDER", "CalicoEvaluator", "tie_key", "workload_labels"]

DEFAULT_CALICO_VERSION = "3.32"
KNP_ORDER = 1000.0  # Calico renders K8s NetworkPolicies into tier default at this order
DEFAULT_TIER_ORDER = 1_000_000.0  # used when the input does not carry the default Tier object
# Calico's fixed tiers (§1.6), used when a policy names one the input does not carry.
FIXED_TIERS = (
    Tier(DEFAULT_TIER, DEFAULT_TIER_ORDER, Action.DENY),
    Tier("kube-admin", 1_000.0, Action.PASS),
    Tier("kube-baseline", 10_000_000.0, Action.PASS),
    Tier("adminnetworkpolicy", 1_000.0, Action.PASS),
    Tier("baselineadminnetworkpolicy", 10_000_000.0, Action.PASS),
)
_PROTOCOL_BY_NAME = PORT_PROTOCOLS


def workload_labels(pod: Pod, namespace_labels: LabelMap, sa_labels: LabelMap) -> LabelMap:
    """The labels of a pod's workload endpoint, as Calico's selectors see them (§1.2)."""
    labels: dict[str, str] = {f"pcns.{k}": v for k, v in namespace_labels.items()}
    labels["pcns.projectcalico.org/name"] = pod.namespace
    labels.update({f"pcsa.{k}": v for k, v in sa_labels.items()})
    if pod.service_account:
        labels["pcsa.projectcalico.org/name"] = pod.service_account
    labels.update(pod.labels)
    labels["projectcalico.org/namespace"] = pod.namespace
    labels["projectcalico.org/orchestrator"] = "k8s"
    if pod.service_account:
        labels["projectcalico.org/serviceaccount"] = pod.service_account
    return LabelMap(labels)


def tie_key(kind: str, name: str, namespace: str | None, tier: str, version: str) -> str:
    """The string Felix compares when two policies share an order (``PolKVLess``, §1.7).

    Args:
        kind: ``GlobalNetworkPolicy``, ``NetworkPolicy`` or ``KubernetesNetworkPolicy``.
        name: the v3 name.
        namespace: the namespace, None for global policies.
        tier: the policy's tier.
        version: the source Calico version, e.g. ``3.32`` or ``3.31``.
    """
    if _version(version) >= (3, 32):
        return f"{name}/{namespace or ''}/{kind}"
    if kind == "KubernetesNetworkPolicy":
        crd_name = f"knp.default.{name}"
    elif tier == DEFAULT_TIER and not name.startswith("default."):
        crd_name = f"default.{name}"
    else:
        crd_name = name
    return f"{namespace}/{crd_name}" if namespace else crd_name


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.lstrip("v").split(".")[:2] if part.isdigit())


# --- compiled policy -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Side:
    pos: Selector | None
    neg: Selector | None
    nets: tuple[Network, ...]
    not_nets: tuple[Network, ...]
    ports: tuple[object, ...]
    not_ports: tuple[object, ...]
    services: bool


@dataclass(frozen=True, slots=True)
class _Rule:
    label: str
    action: Action
    rule: Rule
    source: _Side
    destination: _Side
    named: bool  # a named port on either side: the traffic mask depends on the addresses


@dataclass(frozen=True, slots=True)
class _KubeRule:
    label: str
    ingress: bool
    peers: tuple[NetworkPolicyPeer, ...]
    ports: tuple[NetworkPolicyPort, ...]
    namespace: str
    named: bool


@dataclass(frozen=True, slots=True)
class _Policy:
    display: str
    sort_key: tuple[float, str]
    rules: tuple[_Rule | _KubeRule, ...]


@dataclass(frozen=True, slots=True)
class _TierPlan:
    name: str
    default_action: Action
    policies: tuple[_Policy, ...]


def _side(side: EntityRule, policy: Policy) -> _Side:
    pos, neg = entity_selectors(side, policy)
    return _Side(pos, neg, side.nets, side.not_nets, side.ports, side.not_ports, side.services is not None)


def _compile(policy: Policy, direction: Direction) -> tuple[_Rule, ...]:
    prefix = direction.value.lower()
    return tuple(
        _Rule(
            f"{prefix}[{i}]",
            rule.action,
            rule,
            _side(rule.source, policy),
            _side(rule.destination, policy),
            any(isinstance(p, NamedPort) for e in (rule.source, rule.destination) for p in (*e.ports, *e.not_ports)),
        )
        for i, rule in enumerate(policy.rules(direction))
    )


class CalicoEvaluator:
    """Calico's verdict for probes over one population; build once, ask many times.

    Args:
        inventory: the Calico policies, tiers, NetworkSets and HostEndpoints.
        population: the pods (with IPs), namespaces and service accounts to evaluate against.
        kubernetes_policies: the K8s NetworkPolicies Calico enforces in tier ``default``.
        calico_version: picks the order tie-break rule (§1.7); ``3.32`` by default.
    """

    def __init__(
        self,
        inventory: Inventory,
        population: Population,
        kubernetes_policies: Sequence[KubernetesNetworkPolicy] = (),
        calico_version: str = DEFAULT_CALICO_VERSION,
    ) -> None:
        self._version = calico_version
        self._ns_labels = population.namespace_labels()
        sa_labels = {(sa.namespace, sa.name): sa.labels for sa in population.service_accounts}
        self._wep: dict[int, LabelMap] = {
            id(pod): workload_labels(
                pod,
                self._ns_labels.get(pod.namespace, LabelMap()),
                sa_labels.get((pod.namespace, pod.service_account), LabelMap()),
            )
            for pod in population.pods
        }
        self._pods_at: dict[IPAddress, list[Pod]] = {}
        for pod in population.pods:
            for ip in pod.ips:
                self._pods_at.setdefault(ipaddress.ip_address(ip), []).append(pod)
        self._labelled_hosts: dict[IPAddress, list[LabelMap]] = {}
        for hep in inventory.host_endpoints:
            for ip in hep.expected_ips:
                self._labelled_hosts.setdefault(ipaddress.ip_address(ip), []).append(hep.labels)
        self._netsets = [
            (
                net,
                s.labels.with_labels({"projectcalico.org/namespace": s.namespace, **self._pcns(s.namespace)})
                if s.namespace
                else s.labels,
            )
            for s in inventory.network_sets
            for net in s.nets
        ]
        self._labels_cache: dict[IPAddress, tuple[LabelMap, ...]] = {}
        self._match_cache: dict[tuple[int, IPAddress], bool] = {}
        self._tiers = self._tier_objects(inventory)
        self._policies = [p for p in inventory.policies if not p.do_not_track and not p.pre_dnat]
        self._compiled = {(id(p), d): _compile(p, d) for p in self._policies for d in Direction}
        self._selectors = {id(p): policy_endpoint_selector(p) for p in self._policies}
        self._knps = tuple(kubernetes_policies)
        self._plans: dict[tuple[int, Direction], tuple[_TierPlan, ...]] = {}
        self._traffic_lists = TrafficLists()
        self._pods_alive: list[Pod] = []
        self._interned: dict[tuple[Direction, object], tuple[_TierPlan, ...]] = {}
        self._local_dependent: dict[int, bool] = {}
        self._memo: Memo[DirectionSteps] = Memo()
        self._kube_compiled: dict[tuple[int, Direction], _Policy] = {}
        self._masks: dict[tuple[int, int, IPAddress | None, IPAddress | None], int] = {}

    def _pcns(self, namespace: str) -> dict[str, str]:
        labels = {
            f"pcns.{k}": v
            for k, v in self._ns_labels.get(namespace, LabelMap({"kubernetes.io/metadata.name": namespace})).items()
        }
        labels["pcns.projectcalico.org/name"] = namespace
        return labels

    @staticmethod
    def _tier_objects(inventory: Inventory) -> dict[str, Tier]:
        tiers = {t.name: t for t in inventory.tiers}
        for fixed in FIXED_TIERS:
            tiers.setdefault(fixed.name, fixed)
        for policy in inventory.policies:
            tiers.setdefault(policy.tier, Tier(policy.tier, None, Action.DENY))
        return tiers

    # --- public --------------------------------------------------------------------------------

    def decide(self, src: Endpoint, dst: Endpoint, traffic: Traffic) -> Decision:
        """Egress at ``src`` (when a pod) then ingress at ``dst`` (when a pod)."""
        return self.decide_many(src, dst, (traffic,))[0]

    def decide_many(self, src: Endpoint, dst: Endpoint, traffics: Sequence[Traffic]) -> PairDecisions:
        """``decide`` for every traffic between one pair; address matching is done once per pair."""
        egress = self._steps(src.pod, Direction.EGRESS, src.ip, dst.ip, traffics) if src.pod is not None else None
        ingress = self._steps(dst.pod, Direction.INGRESS, src.ip, dst.ip, traffics) if dst.pod is not None else None
        return PairDecisions(egress, ingress, len(traffics))

    def step(self, pod: Pod, direction: Direction, src: IPAddress, dst: IPAddress, traffic: Traffic) -> Step:
        """The verdict of ``direction`` at ``pod`` for a packet ``src`` → ``dst`` carrying ``traffic``."""
        return self._steps(pod, direction, src, dst, (traffic,)).steps[0]

    def _steps(
        self, pod: Pod, direction: Direction, src: IPAddress, dst: IPAddress, traffics: Sequence[Traffic]
    ) -> DirectionSteps:
        plan = self._plan(pod, direction)
        local, remote = (dst, src) if direction is Direction.INGRESS else (src, dst)
        # Pods with the same plan get the same answer unless a rule looks at the local address.
        key = (id(plan), direction, remote, local if self._local_dependent[id(plan)] else None, pod.namespace)
        memo_key = (key, self._traffic_lists.key(traffics))
        steps = self._memo.get(memo_key)
        if steps is None:
            steps = self._memo.put(memo_key, DirectionSteps.of(self._walk(plan, pod, direction, src, dst, traffics)))
        return steps

    def _walk(
        self,
        plan: tuple[_TierPlan, ...],
        pod: Pod,
        direction: Direction,
        src: IPAddress,
        dst: IPAddress,
        traffics: Sequence[Traffic],
    ) -> tuple[Step, ...]:
        """Walk the tiers once for all ``traffics``, carrying the undecided ones as a bit mask."""
        name = direction.value.lower()
        tkey = self._traffic_lists.key(traffics)
        result: list[Step | None] = [None] * len(traffics)
        undecided = (1 << len(traffics)) - 1
        for tier in plan:
            in_tier = undecided  # leaves by a decision or by a Pass
            for policy in tier.policies:
                for rule in policy.rules:
                    if not in_tier:
                        break
                    if not self._address_matches(rule, src, dst):
                        continue
                    hits = self._traffic_mask(rule, src, dst, traffics, tkey) & in_tier
                    if not hits:
                        continue
                    in_tier &= ~hits
                    if isinstance(rule, _KubeRule) or rule.action is not Action.PASS:
                        verdict = (
                            Verdict.DENY if isinstance(rule, _Rule) and rule.action is Action.DENY else Verdict.ALLOW
                        )
                        _assign(result, hits, Step(name, verdict, tier.name, policy.display, rule.label))
                        undecided &= ~hits
            if in_tier and tier.default_action is not Action.PASS:
                _assign(result, in_tier, Step(name, Verdict.DENY, tier.name, None, "end of tier"))
                undecided &= ~in_tier
            if not undecided:
                break
        if undecided:
            _assign(result, undecided, Step(name, Verdict.ALLOW, None, None, f"profile kns.{pod.namespace}"))
        return tuple(result)  # type: ignore[arg-type]  # every index is assigned above

    def _traffic_mask(
        self, rule: _Rule | _KubeRule, src: IPAddress, dst: IPAddress, traffics: Sequence[Traffic], tkey: int
    ) -> int:
        # Named ports resolve on the pods at the addresses: only those masks depend on the pair.
        key = (id(rule), tkey, src, dst) if rule.named else (id(rule), tkey, None, None)
        mask = self._masks.get(key)
        if mask is None:
            mask = 0
            for i, traffic in enumerate(traffics):
                if self._traffic_matches(rule, src, dst, traffic):
                    mask |= 1 << i
            self._masks[key] = mask
        return mask

    # --- per-endpoint plan ---------------------------------------------------------------------

    def _plan(self, pod: Pod, direction: Direction) -> tuple[_TierPlan, ...]:
        key = (id(pod), direction)
        plan = self._plans.get(key)
        if plan is None:
            self._pods_alive.append(pod)  # plans are keyed by id(pod): keep the pod from being freed
            built = self._build_plan(pod, direction)
            shape = tuple((t.name, tuple(p.display for p in t.policies)) for t in built)
            plan = self._plans[key] = self._interned.setdefault((direction, shape), built)
            if plan is built:
                self._local_dependent[id(plan)] = any(
                    _looks_at_local(rule, direction) for tier in plan for p in tier.policies for rule in p.rules
                )
        return plan

    def _build_plan(self, pod: Pod, direction: Direction) -> tuple[_TierPlan, ...]:
        labels = self._wep.get(id(pod)) or workload_labels(
            pod, self._ns_labels.get(pod.namespace, LabelMap()), LabelMap()
        )
        by_tier: dict[str, list[_Policy]] = {}
        for p in self._policies:
            if direction in p.types and self._selectors[id(p)].evaluate(labels):
                kind = p.kind.value
                by_tier.setdefault(p.tier, []).append(
                    _Policy(
                        f"{kind} {p.key}",
                        (
                            math.inf if p.order is None else p.order,
                            tie_key(kind, p.name, p.namespace, p.tier, self._version),
                        ),
                        self._compiled[(id(p), direction)],
                    )
                )
        for knp in self._knps:
            if (
                direction.value in knp.policy_types
                and knp.namespace == pod.namespace
                and knp.pod_selector.matches(pod.labels)
            ):
                key = (id(knp), direction)
                if key not in self._kube_compiled:
                    self._kube_compiled[key] = self._kube_policy(knp, direction)
                by_tier.setdefault(DEFAULT_TIER, []).append(self._kube_compiled[key])
        plans = []
        for name, policies in by_tier.items():
            tier = self._tiers[name]
            policies.sort(key=lambda p: p.sort_key)
            plans.append(
                (
                    (math.inf if tier.order is None else tier.order, name),
                    _TierPlan(name, tier.default_action, tuple(policies)),
                )
            )
        plans.sort(key=lambda item: item[0])
        return tuple(plan for _, plan in plans)

    def _kube_policy(self, knp: KubernetesNetworkPolicy, direction: Direction) -> _Policy:
        prefix = direction.value.lower()
        rules = knp.ingress if direction is Direction.INGRESS else knp.egress
        kind = "KubernetesNetworkPolicy"
        return _Policy(
            f"{kind} {knp.namespace}/{knp.name}",
            (KNP_ORDER, tie_key(kind, knp.name, knp.namespace, DEFAULT_TIER, self._version)),
            tuple(
                _KubeRule(
                    f"{prefix}[{i}]",
                    direction is Direction.INGRESS,
                    r.peers,
                    r.ports,
                    knp.namespace,
                    any(isinstance(p.port, str) for p in r.ports),
                )
                for i, r in enumerate(rules)
            ),
        )

    # --- matching ------------------------------------------------------------------------------

    def _address_matches(self, rule: _Rule | _KubeRule, src: IPAddress, dst: IPAddress) -> bool:
        """The parts of a rule that depend only on the two addresses (cached per selector and IP)."""
        if isinstance(rule, _KubeRule):
            remote = src if rule.ingress else dst
            return not rule.peers or any(self._kube_peer_matches(p, rule.namespace, remote) for p in rule.peers)
        if rule.action is Action.LOG:
            return False
        if rule.rule.ip_version is not None and rule.rule.ip_version != src.version:
            return False
        return self._side_address_matches(rule.source, src) and self._side_address_matches(rule.destination, dst)

    def _side_address_matches(self, side: _Side, ip: IPAddress) -> bool:
        if side.services or not _nets_match(side.nets, side.not_nets, ip):
            return False
        if side.pos is not None and not self._ip_matches(side.pos, ip):
            return False
        return side.neg is None or not self._ip_matches(side.neg, ip)

    def _traffic_matches(self, rule: _Rule | _KubeRule, src: IPAddress, dst: IPAddress, traffic: Traffic) -> bool:
        """The parts of a rule that depend on protocol, ports and ICMP (named ports also on the address)."""
        if isinstance(rule, _KubeRule):
            return not rule.ports or any(self._kube_port_matches(port, dst, traffic) for port in rule.ports)
        r = rule.rule
        if r.protocol is not None and r.protocol != traffic.protocol:
            return False
        if r.not_protocol is not None and r.not_protocol == traffic.protocol:
            return False
        if r.icmp is not None and not _icmp_matches(r.icmp.type, r.icmp.code, traffic):
            return False
        if r.not_icmp is not None and _icmp_matches(r.not_icmp.type, r.not_icmp.code, traffic):
            return False
        return self._side_ports_match(rule.source, src, traffic.source_port, traffic) and self._side_ports_match(
            rule.destination, dst, traffic.port, traffic
        )

    def _side_ports_match(self, side: _Side, ip: IPAddress, port: int | None, traffic: Traffic) -> bool:
        if side.ports and not self._ports_match(side.ports, side.pos, ip, port, traffic):
            return False
        return not (side.not_ports and (port is None or self._ports_match(side.not_ports, side.pos, ip, port, traffic)))

    def _ports_match(
        self, ports: tuple[object, ...], pos: Selector | None, ip: IPAddress, port: int | None, traffic: Traffic
    ) -> bool:
        if port is None:
            return False
        for entry in ports:
            if isinstance(entry, NamedPort):
                if self._named_port_at(entry.name, pos, ip, port, traffic.protocol):
                    return True
            elif entry.first <= port <= entry.last:  # type: ignore[attr-defined]
                return True
        return False

    def _named_port_at(self, name: str, pos: Selector | None, ip: IPAddress, port: int, protocol: int) -> bool:
        # Felix's named-port IP set: (IP, protocol, port) of the endpoints defining that port name,
        # filtered by the side's positive selector on the endpoint's own labels.
        for pod in self._pods_at.get(ip, ()):
            if pos is not None and not pos.evaluate(self._wep[id(pod)]):
                continue
            for cp in pod.ports:
                if cp.name == name and cp.port == port and _PROTOCOL_BY_NAME.get(cp.protocol.upper()) == protocol:
                    return True
        return False

    def _ip_matches(self, selector: Selector, ip: IPAddress) -> bool:
        key = (id(selector), ip)
        hit = self._match_cache.get(key)
        if hit is None:
            hit = self._match_cache[key] = any(selector.evaluate(labels) for labels in self._labels_at(ip))
        return hit

    def _labels_at(self, ip: IPAddress) -> tuple[LabelMap, ...]:
        labels = self._labels_cache.get(ip)
        if labels is None:
            found = [self._wep[id(p)] for p in self._pods_at.get(ip, ())]
            found.extend(self._labelled_hosts.get(ip, ()))
            found.extend(set_labels for net, set_labels in self._netsets if ip in net)
            labels = self._labels_cache[ip] = tuple(found)
        return labels

    def _kube_peer_matches(self, peer: NetworkPolicyPeer, namespace: str, ip: IPAddress) -> bool:
        if peer.ip_block is not None:
            return _ip_block_contains(peer.ip_block.cidr, peer.ip_block.except_, ip)
        for pod in self._pods_at.get(ip, ()):
            if peer.namespace_selector is None:
                in_scope = pod.namespace == namespace
            else:
                in_scope = peer.namespace_selector.matches(self._ns_labels.get(pod.namespace, LabelMap()))
            if in_scope and (peer.pod_selector is None or peer.pod_selector.matches(pod.labels)):
                return True
        return False

    def _kube_port_matches(self, port: NetworkPolicyPort, dst: IPAddress, traffic: Traffic) -> bool:
        protocol = _PROTOCOL_BY_NAME.get(port.protocol.upper())
        if protocol != traffic.protocol or traffic.port is None:
            return False
        if port.port is None:
            return True
        if isinstance(port.port, str):
            return any(
                cp.name == port.port
                and cp.port == traffic.port
                and _PROTOCOL_BY_NAME.get(cp.protocol.upper()) == protocol
                for pod in self._pods_at.get(dst, ())
                for cp in pod.ports
            )
        return port.port <= traffic.port <= (port.end_port or port.port)


def _looks_at_local(rule: _Rule | _KubeRule, direction: Direction) -> bool:
    """True when the rule's outcome depends on the local endpoint's own address or ports."""
    if isinstance(rule, _KubeRule):
        return rule.ingress and rule.named  # named ports resolve on the destination
    side = rule.destination if direction is Direction.INGRESS else rule.source
    return bool(
        side.pos is not None
        or side.neg is not None
        or side.nets
        or side.not_nets
        or side.services
        or any(isinstance(p, NamedPort) for p in (*side.ports, *side.not_ports))
    )


def _assign(result: list[Step | None], mask: int, step: Step) -> None:
    for i in bits(mask):
        result[i] = step


def _icmp_matches(icmp_type: int | None, icmp_code: int | None, traffic: Traffic) -> bool:
    if not traffic.is_icmp:
        return False
    if icmp_type is not None and icmp_type != traffic.icmp_type:
        return False
    return icmp_code is None or icmp_code == traffic.icmp_code


def _nets_match(nets: tuple[Network, ...], not_nets: tuple[Network, ...], ip: IPAddress) -> bool:
    # Felix renders each rule once per family and skips it for a family where a non-empty
    # nets/notNets list has no entry (§1.3): notNets [10.0.0.0/8] matches no IPv6 traffic.
    if nets:
        family = [n for n in nets if n.version == ip.version]
        if not family or not any(ip in n for n in family):
            return False
    if not_nets:
        family = [n for n in not_nets if n.version == ip.version]
        if not family or any(ip in n for n in family):
            return False
    return True


def _ip_block_contains(cidr: str, excepts: tuple[str, ...], ip: IPAddress) -> bool:
    net = ipaddress.ip_network(cidr, strict=False)
    if net.version != ip.version or ip not in net:
        return False
    return not any(ip in ipaddress.ip_network(e, strict=False) for e in excepts)
