"""The probe universe: which endpoints talk to which, over which protocols and ports.

Design. ``verify`` cannot try every address and port, so it picks the ones where a verdict can change:

* **Endpoints**: every pod with an IP (host-network pods excluded: neither CNI polices them), one
  representative address per NetworkSet/GlobalNetworkSet CIDR, the edge addresses of every CIDR any
  policy mentions (first, last, and the neighbours just outside), and one outside address per family.
  A dual-stack pod is two endpoints, one per family; probes never mix families.
* **Traffic**: every port any policy mentions (range edges and their neighbours), the pods' container
  ports (what named ports resolve to), a few common and one unmentioned port, every protocol number a
  rule mentions, and ICMP type/code probes when an ICMP rule exists.
* **Offline without pods** (``-f`` files with no Pod objects) the universe is synthetic: one pod per
  conjunct of every selector's DNF (so each selector is satisfied at least once, with the namespace
  and service account labels it asks for) plus one unlabeled pod per namespace. Each such pod is also
  copied into ``verify-elsewhere`` (a namespace no policy names) and into the namespaces a selector
  excludes by name, where a lost or wrong namespace restriction shows. Pods without IPs get
  addresses from 100.64.0.0/10 (and fd00:7e57::/64) outside every CIDR the policies mention.

Nothing here evaluates a policy; the universe only decides what to ask both evaluators.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from kubectl_antrea_migrate.antrea.model import AntreaObjects, AppliedTo, Peer
from kubectl_antrea_migrate.calico.model import Inventory, NamedPort, Network, PortRange, Rule
from kubectl_antrea_migrate.calico.selector.ast import (
    All,
    And,
    Contains,
    EndsWith,
    Eq,
    Global,
    Has,
    In,
    Ne,
    Not,
    NotIn,
    Or,
    Selector,
    StartsWith,
)
from kubectl_antrea_migrate.calico.selector.rewrite import entity_selectors, policy_endpoint_selector
from kubectl_antrea_migrate.kube.model import (
    ContainerPort,
    KubernetesNetworkPolicy,
    LabelMap,
    LabelSelector,
    Namespace,
    Operator,
    Pod,
    ServiceAccount,
)

__all__ = [
    "EPHEMERAL_PORT",
    "Endpoint",
    "EndpointKind",
    "IPAddress",
    "Population",
    "Traffic",
    "Universe",
    "build_universe",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

EPHEMERAL_PORT = 40000  # the source port of every probe unless a policy mentions source ports
TCP, UDP, SCTP, ICMP, ICMPV6 = 6, 17, 132, 1, 58
PORT_PROTOCOLS = {"TCP": TCP, "UDP": UDP, "SCTP": SCTP}
PROTOCOL_NAMES = {TCP: "TCP", UDP: "UDP", SCTP: "SCTP", ICMP: "ICMP", ICMPV6: "ICMPv6", 136: "UDPLite"}
# Ports probed even when no policy mentions them: the usual suspects plus one nobody asks for.
DEFAULT_PORTS = ((TCP, 80), (TCP, 443), (TCP, 8080), (UDP, 53), (TCP, 31337), (UDP, 31337))
OUTSIDE_V4 = ipaddress.IPv4Address("198.51.100.7")
OUTSIDE_V6 = ipaddress.IPv6Address("2001:db8::7")
SYNTHETIC_V4 = ipaddress.IPv4Network("100.64.0.0/10")
SYNTHETIC_V6 = ipaddress.IPv6Network("fd00:7e57::/64")
_DNF_CAP = 64  # conjuncts per selector beyond which no synthetic pods are derived from it
_NAMESPACE_KEY = "projectcalico.org/namespace"
_SA_KEY = "projectcalico.org/serviceaccount"
_NAME_KEY = "projectcalico.org/name"
_K8S_NAME_KEY = "kubernetes.io/metadata.name"
_ELSEWHERE = "verify-elsewhere"  # a namespace no policy names
_EXCLUDED_CAP = 8  # excluded namespaces that get copies of every synthetic pod


class EndpointKind(Enum):
    """What an endpoint address stands for."""

    POD = "pod"
    NETWORK_SET = "network-set"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address that sends or receives probes.

    Attributes:
        name: what users recognise: ``prod/web-1``, ``NetworkSet prod/corp``, ``address 10.0.0.255``.
        ip: the address used for this endpoint (one family).
        kind: pod, NetworkSet representative, or any other address.
        pod: the pod, for pod endpoints.
    """

    name: str
    ip: IPAddress
    kind: EndpointKind
    pod: Pod | None = None

    def describe(self) -> str:
        """``prod/web-1 (10.0.0.5)``."""
        return f"{self.name} ({self.ip})"


@dataclass(frozen=True, slots=True)
class Traffic:
    """What a probe sends: protocol number, destination and source port, or ICMP type/code."""

    protocol: int
    port: int | None = None
    source_port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None

    @property
    def is_icmp(self) -> bool:
        """True for ICMP and ICMPv6 probes."""
        return self.protocol in (ICMP, ICMPV6)

    def describe(self) -> str:
        """``TCP/80``, ``UDP/53 from port 5353``, ``ICMP 8/0``, ``protocol 47``."""
        name = PROTOCOL_NAMES.get(self.protocol, f"protocol {self.protocol}")
        if self.is_icmp and self.icmp_type is not None:
            return f"{name} {self.icmp_type}/{self.icmp_code if self.icmp_code is not None else 0}"
        if self.port is None:
            return name
        text = f"{name}/{self.port}"
        if self.source_port is not None and self.source_port != EPHEMERAL_PORT:
            text += f" from port {self.source_port}"
        return text


@dataclass(frozen=True, slots=True)
class Population:
    """The pods (with IPs), namespaces and service accounts both evaluators see."""

    pods: tuple[Pod, ...]
    namespaces: tuple[Namespace, ...]
    service_accounts: tuple[ServiceAccount, ...] = ()

    def namespace_labels(self) -> dict[str, LabelMap]:
        """Namespace name -> labels, always including ``kubernetes.io/metadata.name`` (Kubernetes ≥ 1.21)."""
        out = {ns.name: ns.labels.with_labels({_K8S_NAME_KEY: ns.name}) for ns in self.namespaces}
        for pod in self.pods:
            out.setdefault(pod.namespace, LabelMap({_K8S_NAME_KEY: pod.namespace}))
        return out


@dataclass(frozen=True, slots=True)
class Universe:
    """Endpoints, traffic per IP family and the population behind them.

    Attributes:
        endpoints: every probe source/destination.
        traffic_v4: what is sent between IPv4 endpoints (ICMP probes use protocol 1).
        traffic_v6: what is sent between IPv6 endpoints (ICMP probes use protocol 58).
        population: pods (real or synthetic), namespaces and service accounts.
        synthetic: True when the pods were derived from the selectors (no pods given).
    """

    endpoints: tuple[Endpoint, ...]
    traffic_v4: tuple[Traffic, ...]
    traffic_v6: tuple[Traffic, ...]
    population: Population
    synthetic: bool = False

    def pairs(self) -> Iterator[tuple[Endpoint, Endpoint]]:
        """Every (source, destination) of one family with at least one pod, a pod never to itself."""
        for src in self.endpoints:
            for dst in self.endpoints:
                if src.ip.version != dst.ip.version or (src.pod is None and dst.pod is None):
                    continue
                if src.pod is not None and src.pod is dst.pod:
                    continue
                yield src, dst

    def traffic(self, version: int) -> tuple[Traffic, ...]:
        """The traffic list for IP ``version`` 4 or 6."""
        return self.traffic_v4 if version == 4 else self.traffic_v6

    def probe_count(self) -> int:
        """How many probes ``pairs() x traffic()`` yields."""
        return sum(len(self.traffic(src.ip.version)) for src, _ in self.pairs())


def build_universe(
    calico: Inventory,
    antrea: AntreaObjects,
    pods: Sequence[Pod] | None = None,
    kubernetes_policies: Sequence[KubernetesNetworkPolicy] | None = None,
) -> Universe:
    """Pick the endpoints and traffic that exercise every policy in ``calico`` and ``antrea``.

    Args:
        calico: the Calico inventory (policies, tiers, NetworkSets, namespaces, service accounts).
        antrea: the Antrea objects to compare against.
        pods: the pods to probe between; None = ``calico.pods``; empty = synthesize from the selectors.
        kubernetes_policies: K8s NetworkPolicies; None = ``calico.kubernetes_policies``.

    Returns:
        The universe; deterministic for the same input.
    """
    knps = tuple(calico.kubernetes_policies if kubernetes_policies is None else kubernetes_policies)
    given = tuple(calico.pods if pods is None else pods)
    cidrs = _mentioned_cidrs(calico, antrea, knps)
    namespaces = list(calico.namespaces)
    service_accounts = list(calico.service_accounts)
    synthetic = not given
    if synthetic:
        given = _synthetic_pods(calico, antrea, knps, namespaces, service_accounts)
    want_v6 = any(net.version == 6 for net in cidrs) or any(":" in ip for p in given for ip in p.ips)
    population = Population(_with_ips(given, cidrs, want_v6), tuple(namespaces), tuple(service_accounts))
    endpoints = _endpoints(population.pods, calico, cidrs)
    v4, v6 = _traffic(calico, antrea, knps, population.pods)
    return Universe(endpoints, v4, v6, population, synthetic)


# --- addresses -------------------------------------------------------------------------------------


def _mentioned_cidrs(
    calico: Inventory, antrea: AntreaObjects, knps: Sequence[KubernetesNetworkPolicy]
) -> tuple[Network, ...]:
    nets: list[Network] = [n for s in calico.network_sets for n in s.nets]
    for policy in calico.policies:
        for rule in (*policy.ingress, *policy.egress):
            for side in (rule.source, rule.destination):
                nets.extend(side.nets)
                nets.extend(side.not_nets)
    blocks = [peer.ip_block for knp in knps for r in (*knp.ingress, *knp.egress) for peer in r.peers if peer.ip_block]
    blocks += [
        p.ip_block for pol in antrea.policies for r in (*pol.ingress, *pol.egress) for p in r.peers if p.ip_block
    ]
    blocks += [b for g in antrea.groups for b in g.ip_blocks]
    for block in blocks:
        for text in (block.cidr, *block.except_):
            try:
                nets.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                continue  # the loaders reject bad CIDRs; a stray one only costs probes here
    return tuple(dict.fromkeys(nets))


def _with_ips(pods: Iterable[Pod], cidrs: Sequence[Network], want_v6: bool) -> tuple[Pod, ...]:
    v4 = _free_addresses(SYNTHETIC_V4, cidrs)
    v6 = _free_addresses(SYNTHETIC_V6, cidrs)
    out: list[Pod] = []
    for pod in pods:
        if pod.host_network:
            continue
        if not pod.ips:
            ips = (str(next(v4)), str(next(v6))) if want_v6 else (str(next(v4)),)
            pod = dataclasses.replace(pod, ips=ips)
        out.append(pod)
    return tuple(out)


def _free_addresses(pool: Network, cidrs: Sequence[Network]) -> Iterator[IPAddress]:
    same_family = [c for c in cidrs if c.version == pool.version and c.prefixlen > 0]
    for address in pool.hosts():
        if not any(address in c for c in same_family):
            yield address


def _endpoints(pods: Sequence[Pod], calico: Inventory, cidrs: Sequence[Network]) -> tuple[Endpoint, ...]:
    out: dict[IPAddress, Endpoint] = {}
    for pod in pods:
        for text in pod.ips:
            ip = ipaddress.ip_address(text)
            out.setdefault(ip, Endpoint(f"{pod.namespace}/{pod.name}", ip, EndpointKind.POD, pod))
    for netset in calico.network_sets:
        label = f"{'GlobalNetworkSet' if netset.is_global else 'NetworkSet'} {_key(netset.namespace, netset.name)}"
        for net in netset.nets:
            ip = net[net.num_addresses // 2]
            out.setdefault(ip, Endpoint(label, ip, EndpointKind.NETWORK_SET))
    for net in cidrs:
        for ip in _edges(net):
            out.setdefault(ip, Endpoint(f"address {ip}", ip, EndpointKind.EXTERNAL))
    families = {ip.version for ip in out}
    for outside in (OUTSIDE_V4, OUTSIDE_V6):
        if outside.version in families or outside.version == 4:
            out.setdefault(outside, Endpoint("outside", outside, EndpointKind.EXTERNAL))
    return tuple(out.values())


def _edges(net: Network) -> Iterator[IPAddress]:
    first, last = net[0], net[-1]
    candidates: list[IPAddress] = [first, last]
    if int(first) > 0:
        candidates.append(first - 1)
    if int(last) < (2**32 - 1 if net.version == 4 else 2**128 - 1):
        candidates.append(last + 1)
    for ip in candidates:
        # The unspecified and all-ones addresses never source or receive pod traffic.
        if not ip.is_unspecified and int(ip) != (2**32 - 1 if ip.version == 4 else 2**128 - 1):
            yield ip


def _key(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


# --- traffic ---------------------------------------------------------------------------------------


def _traffic(
    calico: Inventory, antrea: AntreaObjects, knps: Sequence[KubernetesNetworkPolicy], pods: Sequence[Pod]
) -> tuple[tuple[Traffic, ...], tuple[Traffic, ...]]:
    ports: set[tuple[int, int]] = set(DEFAULT_PORTS)
    source_ports: set[tuple[int, int]] = set()
    other_protocols: set[int] = set()
    icmp: set[tuple[int | None, int | None]] = set()
    any_icmp = False
    for policy in calico.policies:
        for rule in (*policy.ingress, *policy.egress):
            any_icmp |= _collect_calico_rule(rule, ports, source_ports, other_protocols, icmp)
    for knp in knps:
        for krule in (*knp.ingress, *knp.egress):
            for kp in krule.ports:
                proto = PORT_PROTOCOLS.get(kp.protocol.upper(), TCP)
                if isinstance(kp.port, int):
                    _add_range(ports, proto, kp.port, kp.end_port or kp.port)
    for apolicy in antrea.policies:
        for arule in (*apolicy.ingress, *apolicy.egress):
            for spec in arule.ports:
                proto = PORT_PROTOCOLS.get(spec.protocol.upper(), TCP)
                if isinstance(spec.port, int):
                    _add_range(ports, proto, spec.port, spec.end_port or spec.port)
                if spec.source_port is not None:
                    _add_range(source_ports, proto, spec.source_port, spec.source_end_port or spec.source_port)
            for icmp_spec in arule.protocols:
                any_icmp = True
                icmp.add((icmp_spec.icmp_type, icmp_spec.icmp_code))
    for pod in pods:
        for cp in pod.ports:
            ports.add((PORT_PROTOCOLS.get(cp.protocol.upper(), TCP), cp.port))
    return _traffic_for(4, ports, source_ports, other_protocols, icmp, any_icmp), _traffic_for(
        6, ports, source_ports, other_protocols, icmp, any_icmp
    )


def _collect_calico_rule(
    rule: Rule,
    ports: set[tuple[int, int]],
    source_ports: set[tuple[int, int]],
    other_protocols: set[int],
    icmp: set[tuple[int | None, int | None]],
) -> bool:
    protos = [rule.protocol] if rule.protocol in (TCP, UDP, SCTP) else [TCP, UDP, SCTP]
    for proto in protos:
        for port in (*rule.destination.ports, *rule.destination.not_ports):
            if isinstance(port, PortRange):
                _add_range(ports, proto, port.first, port.last)
        for port in (*rule.source.ports, *rule.source.not_ports):
            if isinstance(port, PortRange):
                _add_range(source_ports, proto, port.first, port.last)
    for number in (rule.protocol, rule.not_protocol):
        if number is not None and number not in (TCP, UDP, SCTP, ICMP, ICMPV6):
            other_protocols.add(number)
    is_icmp = rule.protocol in (ICMP, ICMPV6) or rule.not_protocol in (ICMP, ICMPV6)
    for match in (rule.icmp, rule.not_icmp):
        if match is not None:
            is_icmp = True
            icmp.add((match.type, match.code))
    return is_icmp


def _add_range(ports: set[tuple[int, int]], proto: int, first: int, last: int) -> None:
    # The edges and their outside neighbours are where a range translation goes wrong.
    for port in (first, last, first - 1, last + 1):
        if 1 <= port <= 65535:
            ports.add((proto, port))


def _traffic_for(
    version: int,
    ports: set[tuple[int, int]],
    source_ports: set[tuple[int, int]],
    other_protocols: set[int],
    icmp: set[tuple[int | None, int | None]],
    any_icmp: bool,
) -> tuple[Traffic, ...]:
    out = [Traffic(proto, port, EPHEMERAL_PORT) for proto, port in sorted(ports)]
    for proto, sport in sorted(source_ports):
        dport = min((p for pr, p in ports if pr == proto), default=80)
        out.append(Traffic(proto, dport, sport))
    out.extend(Traffic(number) for number in sorted(other_protocols))
    if any_icmp:
        icmp_proto = ICMP if version == 4 else ICMPV6
        types: set[tuple[int, int]] = {(8, 0) if version == 4 else (128, 0), (3, 1)}
        for t, c in icmp:
            if t is None:
                continue
            types.update({(t, c or 0), (t, (c or 0) + 1), ((t + 1) % 256, 0)})
        out.extend(Traffic(icmp_proto, icmp_type=t, icmp_code=c) for t, c in sorted(types))
    return tuple(out)


# --- synthetic pods --------------------------------------------------------------------------------


@dataclass
class _Want:
    """What one selector conjunct asks of a pod, split by where Calico keeps each label."""

    pod: dict[str, str]
    namespace: str | None
    ns_labels: dict[str, str]
    service_account: str | None
    sa_labels: dict[str, str]


def _synthetic_pods(
    calico: Inventory,
    antrea: AntreaObjects,
    knps: Sequence[KubernetesNetworkPolicy],
    namespaces: list[Namespace],
    service_accounts: list[ServiceAccount],
) -> tuple[Pod, ...]:
    wants: list[_Want] = []
    excluded: dict[str, None] = {}  # namespaces some selector rules out by name: probe from there too
    for selector in _calico_selectors(calico):
        for conjunct in _conjuncts(selector):
            excluded.update(dict.fromkeys(_excluded_namespaces(conjunct)))
            want = _satisfy(conjunct)
            if want is not None:
                wants.append(want)
    for ns, pod_sel, ns_sel in _kube_selectors(antrea, knps):
        excluded.update(
            dict.fromkeys(
                v
                for r in ns_sel.match_expressions
                if r.key == _K8S_NAME_KEY and r.operator is Operator.NOT_IN
                for v in r.values
            )
        )
        wants.append(_Want(_satisfy_k8s(pod_sel), ns, _satisfy_k8s(ns_sel), None, {}))
    elsewhere = [_ELSEWHERE, *list(excluded)[:_EXCLUDED_CAP]]
    named = _named_ports(calico, antrea, knps)
    pods: list[Pod] = []
    known = {ns.name: ns for ns in namespaces}
    seen: set[tuple[str, LabelMap, str]] = set()

    def add(namespace: str, pod_labels: LabelMap, sa: str) -> None:
        if (namespace, pod_labels, sa) not in seen:
            seen.add((namespace, pod_labels, sa))
            pods.append(Pod(f"verify-pod-{len(pods)}", namespace, pod_labels, sa, ports=named))

    for want in wants:
        ns_name = _place(want, known, namespaces)
        sa = want.service_account or "default"
        if want.sa_labels:
            sa = want.service_account or f"verify-sa-{len(service_accounts)}"
            service_accounts.append(ServiceAccount(sa, ns_name, LabelMap(want.sa_labels)))
        add(ns_name, LabelMap(want.pod), sa)
        if not want.ns_labels:
            # The same pod in a namespace nobody selects, or one a selector excludes by name,
            # exposes a lost or wrong namespace restriction.
            for other in elsewhere:
                if other != ns_name:
                    _place(_Want({}, other, {}, None, {}), known, namespaces)
                    add(other, LabelMap(want.pod), want.service_account or "default")
    referenced = {p.namespace for p in calico.policies if p.namespace} | {k.namespace for k in knps}
    referenced |= {p.namespace for p in antrea.policies if p.namespace}
    for name in sorted(referenced - set(known)):
        known[name] = Namespace(name, LabelMap({_K8S_NAME_KEY: name}))
        namespaces.append(known[name])
    for name in sorted(known):
        pods.append(Pod(f"verify-unlabeled-{len(pods)}", name, ports=named))
    return tuple(pods)


def _excluded_namespaces(conjunct: list[Literal]) -> Iterator[str]:
    """Namespace names a conjunct excludes (``projectcalico.org/namespace != 'x'``, ``... not in {...}``)."""
    keys = (_NAMESPACE_KEY, f"pcns.{_NAME_KEY}", f"pcns.{_K8S_NAME_KEY}")
    for positive, atom in conjunct:
        if isinstance(atom, (Eq, In)) and not positive and atom.key in keys:
            yield from ([atom.value] if isinstance(atom, Eq) else sorted(atom.values))
        elif isinstance(atom, (Ne, NotIn)) and positive and atom.key in keys:
            yield from ([atom.value] if isinstance(atom, Ne) else sorted(atom.values))


def _place(want: _Want, known: dict[str, Namespace], namespaces: list[Namespace]) -> str:
    """The namespace a synthetic pod goes in: pinned, or any namespace with the wanted labels, or a new one."""
    if want.namespace is not None:
        name = want.namespace
    else:
        match = next(
            (ns for ns in namespaces if all(ns.labels.get(k) == v for k, v in want.ns_labels.items())),
            None,
        )
        if match is not None and (want.ns_labels or match.name == "default"):
            return match.name
        name = "default" if not want.ns_labels else f"verify-ns-{len(namespaces)}"
    if name not in known:
        labels = {**want.ns_labels, _K8S_NAME_KEY: name}
        known[name] = Namespace(name, LabelMap(labels))
        namespaces.append(known[name])
    return name


def _calico_selectors(calico: Inventory) -> Iterator[Selector]:
    for policy in calico.policies:
        yield policy_endpoint_selector(policy)
        for rule in (*policy.ingress, *policy.egress):
            for side in (rule.source, rule.destination):
                for selector in entity_selectors(side, policy):
                    if selector is not None:
                        yield selector


def _kube_selectors(
    antrea: AntreaObjects, knps: Sequence[KubernetesNetworkPolicy]
) -> Iterator[tuple[str | None, LabelSelector, LabelSelector]]:
    empty = LabelSelector()
    for knp in knps:
        yield knp.namespace, knp.pod_selector, empty
        for krule in (*knp.ingress, *knp.egress):
            for peer in krule.peers:
                if peer.pod_selector is not None or peer.namespace_selector is not None:
                    ns = knp.namespace if peer.namespace_selector is None else None
                    yield ns, peer.pod_selector or empty, peer.namespace_selector or empty
    for policy in antrea.policies:
        entries: list[AppliedTo | Peer] = [*policy.applied_to]
        for arule in (*policy.ingress, *policy.egress):
            entries.extend(arule.applied_to)
            entries.extend(arule.peers)
        for entry in entries:
            if entry.pod_selector is not None or entry.namespace_selector is not None:
                ns = policy.namespace if entry.namespace_selector is None else None
                yield ns, entry.pod_selector or empty, entry.namespace_selector or empty
    for group in antrea.groups:
        if group.pod_selector is not None or group.namespace_selector is not None:
            ns = group.namespace if group.namespace_selector is None else None
            yield ns, group.pod_selector or empty, group.namespace_selector or empty


def _named_ports(
    calico: Inventory, antrea: AntreaObjects, knps: Sequence[KubernetesNetworkPolicy]
) -> tuple[ContainerPort, ...]:
    names: dict[tuple[str, str], None] = {}
    for policy in calico.policies:
        for rule in (*policy.ingress, *policy.egress):
            protocol = PROTOCOL_NAMES.get(rule.protocol or TCP, "TCP")
            for port in (*rule.destination.ports, *rule.destination.not_ports):
                if isinstance(port, NamedPort) and protocol in PORT_PROTOCOLS:
                    names[(port.name, protocol)] = None
    for knp in knps:
        for krule in (*knp.ingress, *knp.egress):
            for kp in krule.ports:
                if isinstance(kp.port, str):
                    names[(kp.port, kp.protocol.upper())] = None
    for apolicy in antrea.policies:
        for arule in (*apolicy.ingress, *apolicy.egress):
            for spec in arule.ports:
                if isinstance(spec.port, str):
                    names[(spec.port, spec.protocol.upper())] = None
    return tuple(ContainerPort(30000 + i, proto, name) for i, (name, proto) in enumerate(names))


def _satisfy_k8s(selector: LabelSelector) -> dict[str, str]:
    labels = dict(selector.match_labels.items())
    for req in selector.match_expressions:
        if req.operator is Operator.IN and req.values:
            labels.setdefault(req.key, req.values[0])
        elif req.operator is Operator.EXISTS:
            labels.setdefault(req.key, "verify")
    return labels if selector.matches(labels) else {}


Literal = tuple[bool, Selector]  # (positive?, atom)


def _conjuncts(selector: Selector) -> list[list[Literal]]:
    """The DNF of ``selector`` as lists of literals; [] when it exceeds the cap (then it is not probed)."""
    try:
        return _dnf(selector, True)
    except OverflowError:
        return []


def _dnf(node: Selector, positive: bool) -> list[list[Literal]]:
    if isinstance(node, Not):
        return _dnf(node.operand, not positive)
    if isinstance(node, (And, Or)):
        conjunctive = isinstance(node, And) == positive
        parts = [_dnf(op, positive) for op in node.operands]
        if not conjunctive:
            return [c for part in parts for c in part]
        out: list[list[Literal]] = [[]]
        for part in parts:
            out = [a + b for a in out for b in part]
            if len(out) > _DNF_CAP:
                raise OverflowError
        return out
    return [[(positive, node)]]


def _satisfy(conjunct: list[Literal]) -> _Want | None:
    labels: dict[str, str] = {}
    for positive, atom in conjunct:
        if not positive:
            if isinstance(atom, (All, Global)):
                return None
            continue  # absent keys satisfy every negated atom; checked below
        value = _value_for(atom)
        if value is not None:
            key, text = value
            if labels.setdefault(key, text) != text:
                return None
    if not all(atom.evaluate(labels) == positive for positive, atom in conjunct):
        return None
    return _split(labels)


def _value_for(atom: Selector) -> tuple[str, str] | None:
    if isinstance(atom, (Eq, Contains, StartsWith, EndsWith)):
        return atom.key, atom.value
    if isinstance(atom, In):
        return (atom.key, min(atom.values)) if atom.values else ("", "")
    if isinstance(atom, Has):
        return atom.key, "verify"
    if isinstance(atom, (Ne, NotIn)):
        return None
    return None


def _split(labels: dict[str, str]) -> _Want:
    want = _Want({}, None, {}, None, {})
    for key, value in labels.items():
        if key == _NAMESPACE_KEY or key == f"pcns.{_NAME_KEY}":
            want.namespace = value
        elif key.startswith("pcns."):
            want.ns_labels[key[5:]] = value
        elif key == _SA_KEY or key == f"pcsa.{_NAME_KEY}":
            want.service_account = value
        elif key.startswith("pcsa."):
            want.sa_labels[key[5:]] = value
        elif key != "projectcalico.org/orchestrator":
            want.pod[key] = value
    if want.ns_labels.get(_K8S_NAME_KEY) and want.namespace is None:
        want.namespace = want.ns_labels[_K8S_NAME_KEY]
    return want
