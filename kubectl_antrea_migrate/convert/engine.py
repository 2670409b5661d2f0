"""The conversion engine: a Calico ``Inventory`` → Antrea objects plus one fidelity report per input object.

Design (policy-mapping §4). The engine is a pure function of its inputs, in four passes:

1. Per policy, ``rules.convert_policy`` builds the appliedTo and rules with ACNP meaning, collecting
   every unsupported construct with its field path (never approximating).
2. Tiers are laid out (``tiers.plan_tiers``: Layout A or B) and each tier's policies are sorted by
   Calico's total order, including the version-specific tie key.
3. Cross-policy checks: each ``Pass`` is exact only if no tier it skips can select the same endpoints
   (§4.5); a post-default Pass becomes fall-through only when nothing later in its tier can match.
4. Emission: strictly increasing priorities per Antrea tier, each Calico Deny-tier followed by its
   end-of-tier Drop policy whose rule-level appliedTo is the union of its policies' appliedTo.

All-or-nothing: an unsupported construct makes its policy unsupported, and with it every later
decision for the endpoints it selects. By default the result then carries the reports and **no**
objects; ``options.partial`` emits the rest and lists the (tier, direction, selector) triples whose
guarantees are lost. Output order is deterministic: same input, identical objects.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubectl_antrea_migrate.antrea.model import (
    AntreaAction,
    AntreaObjects,
    AntreaPolicy,
    AntreaRule,
    AntreaTier,
    AppliedTo,
    Peer,
    PortSpec,
)
from kubectl_antrea_migrate.antrea.model import (
    PolicyKind as AntreaKind,
)
from kubectl_antrea_migrate.calico.model import (
    DEFAULT_TIER,
    Action,
    Direction,
    Inventory,
    Policy,
    Tier,
)
from kubectl_antrea_migrate.calico.selector.ast import And, Eq, Has, In, Not, NotIn, Selector
from kubectl_antrea_migrate.convert.annp import to_annp
from kubectl_antrea_migrate.convert.cidrs import ip_blocks
from kubectl_antrea_migrate.convert.names import allocate_names, candidate_name
from kubectl_antrea_migrate.convert.netsets import SetIndex, group_candidate, group_for, group_key, set_views
from kubectl_antrea_migrate.convert.result import (
    ConversionResult,
    ConvertOptions,
    DenyAction,
    Fidelity,
    Finding,
    NamespacedAs,
    ObjectReport,
)
from kubectl_antrea_migrate.convert.rules import PassSite, PolicyConversion, RuleContext, convert_policy, scope_of
from kubectl_antrea_migrate.convert.selectors import intersects
from kubectl_antrea_migrate.convert.tiers import (
    FIXED_TIERS,
    TierSlot,
    knp_order_key,
    plan_tiers,
    policy_order_key,
)
from kubectl_antrea_migrate.errors import Location
from kubectl_antrea_migrate.kube.model import (
    IPBlock,
    KubernetesNetworkPolicy,
    LabelMap,
    LabelSelector,
    NetworkPolicyPeer,
    NetworkPolicyRule,
    Operator,
)

__all__ = ["SOURCE_ANNOTATION", "convert", "knp_selector"]

_DIRECTIONS = (Direction.INGRESS, Direction.EGRESS)
_NAME_LABEL = "kubernetes.io/metadata.name"
SOURCE_ANNOTATION = "antrea-migrate.antrea.io/source"


@dataclass(frozen=True, slots=True)
class _Member:
    """One policy of a Calico tier: a Calico policy, or (Layout B) a translated K8s NetworkPolicy."""

    key: str  # report key
    order_key: tuple[float, str]
    types: frozenset[Direction]
    scope_selector: Selector
    conversion: PolicyConversion
    policy: Policy | None = None
    knp: KubernetesNetworkPolicy | None = None


@dataclass
class _State:
    """Mutable bookkeeping while the result is assembled (local to one ``convert`` call)."""

    problems: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    notes: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    outputs: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    dropped_rules: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    global_notes: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    names: dict[tuple[str, str], str] = field(default_factory=dict)  # (scope, report key) -> object name


def _policy_report_key(policy: Policy) -> str:
    return f"{policy.kind.value}/{policy.key}"


def _knp_report_key(knp: KubernetesNetworkPolicy) -> str:
    return f"KubernetesNetworkPolicy/{knp.namespace}/{knp.name}"


def _tiers(inventory: Inventory) -> dict[str, Tier]:
    known = dict(FIXED_TIERS)
    known.update({t.name: t for t in inventory.tiers})
    return known


# ---------------------------------------------------------------- K8s NetworkPolicies (Layout B)


def _requirement_selector(key: str, op: Operator, values: tuple[str, ...]) -> Selector:
    if op is Operator.IN:
        return In(key, frozenset(values))
    if op is Operator.NOT_IN:
        return NotIn(key, frozenset(values))
    if op is Operator.EXISTS:
        return Has(key)
    return Not(Has(key))


def knp_selector(knp: KubernetesNetworkPolicy) -> Selector:
    """The Calico selector of a K8s NetworkPolicy (``K8sNetworkPolicyToCalico``), for intersection checks."""
    parts: list[Selector] = [
        Eq("projectcalico.org/namespace", knp.namespace),
        Eq("projectcalico.org/orchestrator", "k8s"),
    ]
    parts.extend(Eq(k, v) for k, v in knp.pod_selector.match_labels.items())
    parts.extend(_requirement_selector(r.key, r.operator, r.values) for r in knp.pod_selector.match_expressions)
    return And(tuple(parts))


def _ns_pin(namespace: str) -> LabelSelector:
    return LabelSelector(match_labels=LabelMap({_NAME_LABEL: namespace}))


def _knp_peer(peer: NetworkPolicyPeer, namespace: str) -> Peer:
    if peer.ip_block is not None:
        # Kubernetes accepts host bits in ipBlock CIDRs; Antrea's schema wants the network address.
        block = ip_blocks((ipaddress.ip_network(peer.ip_block.cidr, strict=False),), ())[0]
        excepts = tuple(str(ipaddress.ip_network(e, strict=False)) for e in peer.ip_block.except_)
        return Peer(ip_block=IPBlock(cidr=block.cidr, except_=excepts))
    if peer.namespace_selector is None:
        return Peer(pod_selector=peer.pod_selector or LabelSelector(), namespace_selector=_ns_pin(namespace))
    return Peer(pod_selector=peer.pod_selector, namespace_selector=peer.namespace_selector)


def _knp_rules(rules: tuple[NetworkPolicyRule, ...], direction: Direction, namespace: str) -> tuple[AntreaRule, ...]:
    prefix = direction.value.lower()
    return tuple(
        AntreaRule(
            name=f"{prefix}-{i}-0",
            action=AntreaAction.ALLOW,
            peers=tuple(_knp_peer(p, namespace) for p in rule.peers),
            ports=tuple(PortSpec(protocol=p.protocol, port=p.port, end_port=p.end_port) for p in rule.ports),
        )
        for i, rule in enumerate(rules)
    )


def _knp_conversion(knp: KubernetesNetworkPolicy) -> PolicyConversion:
    scope = (AppliedTo(pod_selector=knp.pod_selector, namespace_selector=_ns_pin(knp.namespace)),)
    return PolicyConversion(
        scope=scope,
        scope_exact=True,
        selects_nothing=False,
        rule_level=False,
        ingress=_knp_rules(knp.ingress, Direction.INGRESS, knp.namespace) if "Ingress" in knp.policy_types else (),
        egress=_knp_rules(knp.egress, Direction.EGRESS, knp.namespace) if "Egress" in knp.policy_types else (),
    )


# ---------------------------------------------------------------- members and Pass checks


def _host_only(policy: Policy) -> bool:
    return policy.do_not_track or policy.pre_dnat


def _members(
    inventory: Inventory,
    options: ConvertOptions,
    ctx: RuleContext,
    known_tiers: dict[str, Tier],
    state: _State,
    layout_b: bool,
) -> dict[str, list[_Member]]:
    by_tier: dict[str, list[_Member]] = defaultdict(list)
    for policy in inventory.policies:
        key = _policy_report_key(policy)
        for warning in policy.warnings:
            state.notes[key].append(Finding("spec", warning))
        if policy.tier not in known_tiers:
            state.problems[key].append(
                Finding("spec.tier", f"tier {policy.tier!r} is not in the input: its order is unknown")
            )
            continue
        if _host_only(policy):
            conversion = _host_only_conversion(policy, ctx)
        else:
            conversion = convert_policy(policy, ctx)
        state.problems[key].extend(conversion.problems)
        state.notes[key].extend(conversion.notes)
        by_tier[policy.tier].append(
            _Member(
                key=key,
                order_key=policy_order_key(policy, options.calico_version),
                types=policy.types,
                scope_selector=ctx.scope(policy),
                conversion=conversion,
                policy=policy,
            )
        )
    if layout_b:
        for knp in inventory.kubernetes_policies:
            types = frozenset(Direction(t) for t in knp.policy_types)
            by_tier[DEFAULT_TIER].append(
                _Member(
                    key=_knp_report_key(knp),
                    order_key=knp_order_key(knp, options.calico_version),
                    types=types,
                    scope_selector=knp_selector(knp),
                    conversion=_knp_conversion(knp),
                    knp=knp,
                )
            )
    for members in by_tier.values():
        members.sort(key=lambda m: m.order_key)
    return by_tier


def _host_only_conversion(policy: Policy, ctx: RuleContext) -> PolicyConversion:
    # doNotTrack / preDNAT policies never apply to workloads (Felix renders them for host
    # endpoints only): nothing for pods, and they stay out of the end-of-tier union.
    selector = ctx.scope(policy)
    problems = tuple(
        Finding("spec.selector", f"matches HostEndpoint {hep.name}: doNotTrack/preDNAT host policy is unsupported")
        for hep in ctx.host_endpoints
        if selector.evaluate(hep.labels)
    )
    notes = (Finding("spec", "doNotTrack/preDNAT policy applies only to host endpoints: nothing to emit for pods"),)
    return PolicyConversion(
        scope=(), scope_exact=True, selects_nothing=True, rule_level=False, problems=problems, notes=notes
    )


def _applies(member: _Member, direction: Direction) -> bool:
    return direction in member.types and not member.conversion.selects_nothing


def _check_passes(slots: tuple[TierSlot, ...], by_tier: dict[str, list[_Member]], state: _State) -> None:
    for position, slot in enumerate(slots):
        members = by_tier.get(slot.calico.name, [])
        if not any(m.conversion.passes for m in members):
            continue
        # Antrea Pass skips every later non-baseline tier: those are the Calico tiers up to the
        # landing point (the K8s NP stage in Layout A; after the emulated default tier in Layout B).
        skipped = [
            (later.calico.name, m)
            for later in slots[position + 1 :]
            if not later.post_default and not later.native
            for m in by_tier.get(later.calico.name, [])
        ]
        for index, member in enumerate(members):
            for site in member.conversion.passes:
                if slot.post_default:
                    _post_default_pass(slot, members[index + 1 :], member, site, state)
                    continue
                _pre_default_pass(slot, members, skipped, member, site, state)


def _pre_default_pass(
    slot: TierSlot,
    members: list[_Member],
    skipped: list[tuple[str, _Member]],
    member: _Member,
    site: PassSite,
    state: _State,
) -> None:
    for tier, other in skipped:
        if _applies(other, site.direction) and intersects(site.scope, other.scope_selector):
            state.problems[member.key].append(
                Finding(
                    f"{site.path}.action",
                    f"Pass would skip tier {tier!r}, whose {other.key} can select the same endpoints "
                    "(Antrea Pass skips every later non-baseline tier)",
                )
            )
            return
    if slot.calico.name != DEFAULT_TIER:
        return
    # Layout B: after a Pass in the emulated default tier Antrea evaluates the original K8s NPs.
    for other in members:
        if other.knp is not None and _applies(other, site.direction) and intersects(site.scope, other.scope_selector):
            state.notes[member.key].append(
                Finding(
                    f"{site.path}.action",
                    f"exact once the original {other.key} is deleted (Antrea evaluates it after this Pass)",
                )
            )


def _post_default_pass(slot: TierSlot, later: list[_Member], member: _Member, site: PassSite, state: _State) -> None:
    falls_through = (
        site.catch_all
        and site.last
        and slot.calico.default_action is Action.PASS
        and not any(_applies(m, site.direction) and intersects(site.scope, m.scope_selector) for m in later)
    )
    if falls_through:
        state.dropped_rules[member.key].add(site.rule_name)
        state.notes[member.key].append(
            Finding(f"{site.path}.action", "Pass at the end of a post-default tier becomes fall-through (exact)")
        )
        return
    state.problems[member.key].append(
        Finding(
            f"{site.path}.action",
            "Pass in a tier after 'default' lands in Antrea's baseline tier, where Pass is not allowed, "
            "and later rules of the tier could still match",
        )
    )


_TIE_PAIRWISE_LIMIT = 64  # above this many policies sharing one order, pairwise overlap checks cost too much


def _tie_notes(members: list[_Member], tier: str, state: _State) -> None:
    groups: dict[float, list[_Member]] = defaultdict(list)
    for member in members:
        groups[member.order_key[0]].append(member)
    for order, group in groups.items():
        if len(group) > _TIE_PAIRWISE_LIMIT:
            state.global_notes.append(
                f"tier {tier}: {len(group)} policies share order {order:g}; their relative order follows "
                "Calico's name tie-break for the given version (not checked pairwise for overlap)"
            )
            continue
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if _maybe_overlap(a, b):
                    state.global_notes.append(
                        f"tier {tier}: {a.key} and {b.key} have the same order; {a.key} goes first by "
                        "Calico's name tie-break for the given version"
                    )


def _namespace_of(member: _Member) -> str | None:
    if member.policy is not None:
        return member.policy.namespace
    return member.knp.namespace if member.knp is not None else None


def _maybe_overlap(a: _Member, b: _Member) -> bool:
    # Policies of two different namespaces never select the same endpoint: skip the symbolic check.
    ns_a, ns_b = _namespace_of(a), _namespace_of(b)
    if ns_a is not None and ns_b is not None and ns_a != ns_b:
        return False
    return intersects(a.scope_selector, b.scope_selector)


# ---------------------------------------------------------------- emission


def _policy_name(member: _Member, annp: bool) -> str:
    if member.knp is not None:
        return candidate_name("calico-knp", member.knp.namespace, member.knp.name)
    assert member.policy is not None
    if member.policy.namespace is None:
        return candidate_name("calico-gnp", member.policy.name)
    if annp:
        return candidate_name("calico-np", member.policy.name)
    return candidate_name("calico-np", member.policy.namespace, member.policy.name)


def _allocate_names(slots: tuple[TierSlot, ...], by_tier: dict[str, list[_Member]], state: _State) -> None:
    # Every candidate is allocated, used or not, so a name never depends on another policy's
    # ANNP/ACNP outcome. ACNPs share one cluster scope; ANNPs one scope per namespace.
    cluster: dict[str, str] = {}
    per_namespace: dict[str, dict[str, str]] = defaultdict(dict)
    for members in by_tier.values():
        for member in members:
            cluster[member.key] = _policy_name(member, annp=False)
            if member.policy is not None and member.policy.namespace is not None:
                per_namespace[member.policy.namespace][member.key] = _policy_name(member, annp=True)
    for slot in slots:
        cluster[f"Tier/{slot.calico.name}"] = candidate_name("calico-end-of-tier", slot.calico.name)
    state.names.update({("", key): name for key, name in allocate_names(cluster).items()})
    for namespace, wanted in per_namespace.items():
        state.names.update({(namespace, key): name for key, name in allocate_names(wanted).items()})


def _without(rules: tuple[AntreaRule, ...], dropped: set[str]) -> tuple[AntreaRule, ...]:
    return tuple(r for r in rules if r.name not in dropped)


def _emit_member(
    member: _Member, tier: str, priority: float, options: ConvertOptions, state: _State
) -> AntreaPolicy | None:
    conv = member.conversion
    dropped = state.dropped_rules.get(member.key, set())
    ingress = _without(conv.ingress, dropped)
    egress = _without(conv.egress, dropped)
    if not ingress and not egress:
        return None
    applied_to = () if conv.rule_level else conv.scope
    namespace = member.policy.namespace if member.policy is not None else None
    annotations = LabelMap({SOURCE_ANNOTATION: member.key})
    if namespace is not None and options.namespaced_as is NamespacedAs.AUTO:
        form = to_annp(applied_to, ingress, egress, namespace, conv.group_blocks)
        if not form.reason:
            return AntreaPolicy(
                kind=AntreaKind.NETWORK_POLICY,
                name=state.names[(namespace, member.key)],
                namespace=namespace,
                tier=tier,
                priority=priority,
                applied_to=form.applied_to,
                ingress=form.ingress,
                egress=form.egress,
                annotations=annotations,
                location=_location(member),
            )
        state.notes[member.key].append(
            Finding("spec", f"converted to a ClusterNetworkPolicy pinned to namespace {namespace}: {form.reason}")
        )
    return AntreaPolicy(
        kind=AntreaKind.CLUSTER_NETWORK_POLICY,
        name=state.names[("", member.key)],
        namespace=None,
        tier=tier,
        priority=priority,
        applied_to=applied_to,
        ingress=ingress,
        egress=egress,
        annotations=annotations,
        location=_location(member),
    )


def _location(member: _Member) -> Location:
    if member.policy is not None:
        return member.policy.location
    return member.knp.location if member.knp is not None else Location()


MAX_PRIORITY = 10000  # Antrea policy priorities are 1.0-10000.0
BASELINE_RULE_LIMIT = 150  # rule-level priorities available in Antrea's baseline tier
_EVERY_POD = AppliedTo(pod_selector=LabelSelector())


def _union(entries: Iterable[AppliedTo]) -> tuple[AppliedTo, ...]:
    seen: dict[AppliedTo, None] = {}
    for entry in entries:
        if entry == _EVERY_POD:
            return (_EVERY_POD,)  # every pod in every namespace: the other entries add nothing
        seen.setdefault(entry, None)
    return tuple(seen)


def _end_of_tier(
    slot: TierSlot, members: list[_Member], tier: str, priority: float, options: ConvertOptions, state: _State
) -> AntreaPolicy | None:
    if slot.calico.default_action is not Action.DENY:
        return None
    action = AntreaAction.REJECT if options.deny_action is DenyAction.REJECT else AntreaAction.DROP
    rules: dict[Direction, tuple[AntreaRule, ...]] = {}
    for direction in _DIRECTIONS:
        applying = [m for m in members if direction in m.types and not m.conversion.selects_nothing]
        inexact = [m for m in applying if not m.conversion.scope_exact]
        if inexact:
            message = (
                f"the end-of-tier drop of tier {slot.calico.name!r} ({direction.value}) is inexact: "
                f"{', '.join(m.key for m in inexact)} has an inexpressible selector"
            )
            state.problems[f"Tier/{slot.calico.name}"].append(Finding("spec.defaultAction", message))
            state.lost.append(f"tier {slot.calico.name}, {direction.value}: end-of-tier drop")
        union = _union(e for m in applying if m.conversion.scope_exact for e in m.conversion.scope)
        if union:
            name = f"{direction.value.lower()}-end-of-tier"
            rules[direction] = (AntreaRule(name=name, action=action, applied_to=union),)
    if not rules:
        return None
    return AntreaPolicy(
        kind=AntreaKind.CLUSTER_NETWORK_POLICY,
        name=state.names[("", f"Tier/{slot.calico.name}")],
        namespace=None,
        tier=tier,
        priority=priority,
        ingress=rules.get(Direction.INGRESS, ()),
        egress=rules.get(Direction.EGRESS, ()),
        annotations=LabelMap({SOURCE_ANNOTATION: f"Tier/{slot.calico.name}"}),
    )


def _emit(
    slots: tuple[TierSlot, ...], by_tier: dict[str, list[_Member]], options: ConvertOptions, state: _State
) -> tuple[list[AntreaTier], list[AntreaPolicy]]:
    tiers: list[AntreaTier] = []
    policies: list[AntreaPolicy] = []
    counters: dict[str, int] = defaultdict(int)
    baseline_rules = [0]  # shared by every post-default tier flattened into baseline
    for slot in slots:
        if slot.native:
            continue
        members = by_tier.get(slot.calico.name, [])
        if slot.priority is not None:
            tiers.append(
                AntreaTier(
                    name=slot.antrea_tier,
                    priority=slot.priority,
                    description=f"Calico tier {slot.calico.name}",
                    location=slot.calico.location,
                )
            )
            state.outputs[f"Tier/{slot.calico.name}"].append(f"Tier/{slot.antrea_tier}")
        for member in members:
            if state.problems.get(member.key):
                continue
            if counters[slot.antrea_tier] + 1 >= MAX_PRIORITY:  # the last one is kept for the end-of-tier policy
                state.problems[member.key].append(
                    Finding(
                        "spec.order", f"Antrea tier {slot.antrea_tier} would need more than {MAX_PRIORITY} priorities"
                    )
                )
                continue
            counters[slot.antrea_tier] += 1
            emitted = _emit_member(member, slot.antrea_tier, float(counters[slot.antrea_tier]), options, state)
            if emitted is None or not _fits_baseline(slot, emitted, member.key, baseline_rules, state):
                counters[slot.antrea_tier] -= 1
                continue
            policies.append(emitted)
            state.outputs[member.key].append(_ref(emitted))
        counters[slot.antrea_tier] += 1
        eot = _end_of_tier(slot, members, slot.antrea_tier, float(counters[slot.antrea_tier]), options, state)
        if eot is not None and not _fits_baseline(slot, eot, f"Tier/{slot.calico.name}", baseline_rules, state):
            eot = None
        if eot is None:
            counters[slot.antrea_tier] -= 1
            continue
        policies.append(eot)
        state.outputs[f"Tier/{slot.calico.name}"].append(_ref(eot))
        for member in members:
            if not state.outputs.get(member.key) and not member.conversion.selects_nothing:
                state.outputs[member.key].append(_ref(eot))
    return tiers, policies


def _fits_baseline(slot: TierSlot, policy: AntreaPolicy, key: str, used: list[int], state: _State) -> bool:
    if not slot.post_default:
        return True
    rules = len(policy.ingress) + len(policy.egress)
    if used[0] + rules > BASELINE_RULE_LIMIT:
        state.problems[key].append(
            Finding("spec", f"Antrea's baseline tier holds at most {BASELINE_RULE_LIMIT} rules across all policies")
        )
        if key.startswith("Tier/"):
            state.lost.append(f"tier {slot.calico.name}: end-of-tier drop (baseline rule limit)")
        return False
    used[0] += rules
    return True


def _ref(policy: AntreaPolicy) -> str:
    if policy.namespace:
        return f"{policy.kind.value}/{policy.namespace}/{policy.name}"
    return f"{policy.kind.value}/{policy.name}"


# ---------------------------------------------------------------- reports


def _report(kind: str, name: str, namespace: str | None, key: str, state: _State, location: Location) -> ObjectReport:
    problems = tuple(state.problems.get(key, ()))
    notes = tuple(state.notes.get(key, ()))
    if problems:
        fidelity = Fidelity.UNSUPPORTED
    elif notes:
        fidelity = Fidelity.EXACT_WITH_NOTES
    else:
        fidelity = Fidelity.EXACT
    return ObjectReport(
        kind=kind,
        name=name,
        namespace=namespace,
        fidelity=fidelity,
        notes=notes,
        problems=problems,
        outputs=tuple(sorted(set(state.outputs.get(key, ())))),
        location=location,
    )


def _lost_for(policy: Policy, state: _State) -> None:
    for direction in _DIRECTIONS:
        if direction in policy.types:
            state.lost.append(
                f"tier {policy.tier}, {direction.value}: endpoints matching `{scope_of(policy).render()}` "
                f"({policy.kind.value} {policy.key} and every later decision for them)"
            )


def convert(inventory: Inventory, options: ConvertOptions) -> ConversionResult:
    """Convert a Calico inventory to Antrea objects with a fidelity report per input object.

    Args:
        inventory: the loaded Calico objects and Kubernetes context.
        options: output kind for namespaced policies, source Calico version, Felix deny action,
            cluster IP families, and whether to emit a partial result.

    Returns:
        The Antrea objects (empty when anything is unsupported and ``options.partial`` is off),
        one ``ObjectReport`` per policy, tier, network set, Kubernetes NetworkPolicy and skipped
        object, global notes, and (partial mode) the guarantees that no longer hold.
    """
    state = _State()
    views = set_views(inventory.network_sets, inventory.namespaces)
    group_names = allocate_names({group_key(s): group_candidate(s) for s in inventory.network_sets})
    ctx = RuleContext(options, SetIndex(views), group_names, inventory.host_endpoints)
    known_tiers = _tiers(inventory)
    layout_b = any(p.tier == DEFAULT_TIER for p in inventory.policies)
    by_tier = _members(inventory, options, ctx, known_tiers, state, layout_b)
    used = {name for name, members in by_tier.items() if members} | {DEFAULT_TIER}
    slots, tier_problem = plan_tiers(tuple(known_tiers[n] for n in sorted(used)), layout_b)
    if tier_problem:
        for slot in slots:
            if slot.priority is not None:
                state.problems[f"Tier/{slot.calico.name}"].append(Finding("spec.order", tier_problem))
    for slot in slots:
        _tie_notes(by_tier.get(slot.calico.name, []), slot.calico.name, state)
        if slot.post_default:
            state.notes[f"Tier/{slot.calico.name}"].append(
                Finding("spec.order", "ordered after 'default': flattened into Antrea's baseline tier")
            )
        elif slot.native:
            state.notes[f"Tier/{slot.calico.name}"].append(
                Finding("spec", "holds only Kubernetes NetworkPolicies: left to Antrea's native enforcement")
            )
    _check_passes(slots, by_tier, state)
    _allocate_names(slots, by_tier, state)
    tiers, policies = _emit(slots, by_tier, options, state)
    groups = sorted((group_for(s, group_names[group_key(s)]) for s in inventory.network_sets), key=lambda g: g.name)
    for netset in inventory.network_sets:
        kind = "GlobalNetworkSet" if netset.is_global else "NetworkSet"
        state.outputs[f"{kind}/{group_key(netset)}"].append(f"ClusterGroup/{group_names[group_key(netset)]}")
    reports = _reports(inventory, state, layout_b)
    for policy in inventory.policies:
        if state.problems.get(_policy_report_key(policy)):
            _lost_for(policy, state)
    _global_notes(inventory, state, layout_b)
    blocked = any(r.fidelity is Fidelity.UNSUPPORTED for r in reports)
    objects = AntreaObjects(
        tiers=tuple(sorted(tiers, key=lambda t: t.priority)),
        groups=tuple(groups),
        policies=tuple(policies),
    )
    if blocked and not options.partial:
        objects = AntreaObjects()
    return ConversionResult(
        objects=objects,
        reports=reports,
        notes=tuple(dict.fromkeys(state.global_notes)),
        lost_guarantees=tuple(dict.fromkeys(state.lost)) if options.partial else (),
    )


def _reports(inventory: Inventory, state: _State, layout_b: bool) -> tuple[ObjectReport, ...]:
    reports: list[ObjectReport] = []
    for tier in sorted(inventory.tiers, key=lambda t: t.name):
        reports.append(_report("Tier", tier.name, None, f"Tier/{tier.name}", state, tier.location))
    for netset in sorted(inventory.network_sets, key=lambda s: (s.namespace or "", s.name)):
        kind = "GlobalNetworkSet" if netset.is_global else "NetworkSet"
        key = f"{kind}/{group_key(netset)}"
        reports.append(_report(kind, netset.name, netset.namespace, key, state, netset.location))
    for policy in sorted(inventory.policies, key=lambda p: (p.kind.value, p.namespace or "", p.name)):
        key = _policy_report_key(policy)
        reports.append(_report(policy.kind.value, policy.name, policy.namespace, key, state, policy.location))
    for knp in sorted(inventory.kubernetes_policies, key=lambda k: (k.namespace, k.name)):
        key = _knp_report_key(knp)
        if not layout_b:
            state.outputs[key].append(f"NetworkPolicy.networking.k8s.io/{knp.namespace}/{knp.name} (kept)")
        reports.append(_report("KubernetesNetworkPolicy", knp.name, knp.namespace, key, state, knp.location))
    for skipped in sorted(inventory.skipped, key=lambda s: (s.kind, s.namespace or "", s.name)):
        reports.append(
            ObjectReport(
                kind=skipped.kind,
                name=skipped.name,
                namespace=skipped.namespace,
                fidelity=Fidelity.SKIPPED,
                notes=(Finding("", skipped.reason),),
                location=skipped.location,
            )
        )
    return tuple(reports)


def _global_notes(inventory: Inventory, state: _State, layout_b: bool) -> None:
    known = {ns.name for ns in inventory.namespaces}
    for netset in inventory.network_sets:
        if netset.namespace is not None and netset.namespace not in known:
            state.global_notes.append(
                f"namespace {netset.namespace} (of NetworkSet {netset.name}) is not in the input: only its name "
                "labels are known when matching namespace selectors against the set"
            )
    if not inventory.host_endpoints_known:
        state.global_notes.append("no HostEndpoints in the input: assumed no HostEndpoints")
    if inventory.kubernetes_policies:
        if layout_b:
            state.global_notes.append(
                "the Calico default tier holds Calico policies: Kubernetes NetworkPolicies are translated into "
                "tier calico-default; delete the originals after applying"
            )
        else:
            state.global_notes.append("Kubernetes NetworkPolicies stay in place: Antrea enforces them natively")
