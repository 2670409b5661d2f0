"""One Calico policy → appliedTo and Antrea rules, or the exact reasons it cannot be converted (§4.3-§4.5).

Design. Calico compiles every EntityRule into a positive and a negative selector over endpoint
labels (``calico/selector/rewrite.py``); this module turns each side into Antrea terms:

* the **remote** side (ingress ``source``, egress ``destination``) becomes peers: one pod entry per
  DNF conjunct (``convert/selectors.py``), plus the NetworkSets whose labels the selector matches
  (ClusterGroup references), plus ``nets``/``notNets`` as ipBlocks with ``except``;
* the **local** side (ingress ``destination``, egress ``source``) narrows the policy's endpoints:
  a rule-level appliedTo = appliedTo(P) ∧ condition. Antrea allows appliedTo either on the policy or
  on every rule, so one such rule moves all rules to rule-level appliedTo.

Peers and appliedTo are built with ACNP meaning (a podSelector without namespaceSelector = every
namespace); ``annp.py`` rewrites them for an Antrea NetworkPolicy when that is exact.

Nothing is approximated: a construct without an exact Antrea form is a problem with its field path,
which makes the whole policy unsupported (all-or-nothing, §4.1). A rule whose match can never hold
(an empty selector DNF, ``protocol == notProtocol``, an IP family the cluster does not have) is
dropped, which is exact. ``Log`` rules never decide, so they are omitted with a note.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from kubectl_antrea_migrate.antrea.model import (
    AntreaAction,
    AntreaRule,
    AppliedTo,
    Peer,
    ServiceAccountRef,
)
from kubectl_antrea_migrate.calico.model import (
    Action,
    Direction,
    EntityRule,
    HostEndpoint,
    Network,
    Policy,
    Rule,
)
from kubectl_antrea_migrate.calico.selector.ast import And, Not, Selector
from kubectl_antrea_migrate.calico.selector.rewrite import entity_selectors, policy_endpoint_selector
from kubectl_antrea_migrate.convert.cidrs import everything, intersect, ip_blocks
from kubectl_antrea_migrate.convert.netsets import SetIndex, SetView, group_key
from kubectl_antrea_migrate.convert.ports import ICMP_FAMILIES, PORT_PROTOCOLS, Match, icmp_specs, port_specs
from kubectl_antrea_migrate.convert.result import ConvertOptions, DenyAction, Finding
from kubectl_antrea_migrate.convert.selectors import Term, translate
from kubectl_antrea_migrate.kube.model import LabelSelector, Operator

__all__ = ["PassSite", "PolicyConversion", "RuleContext", "convert_policy", "pinned_namespaces", "scope_of"]

_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What every policy conversion needs besides the policy itself."""

    options: ConvertOptions
    sets: SetIndex = field(default_factory=SetIndex)
    group_names: Mapping[str, str] = field(default_factory=dict)  # group_key -> ClusterGroup name
    host_endpoints: tuple[HostEndpoint, ...] = ()
    # Memos for one conversion: realistic inputs repeat peer selectors and whole rule sides
    # (the same DNS egress rule in every policy of a namespace).
    set_matches: dict[Selector, tuple[SetView, ...]] = field(default_factory=dict)
    peer_memo: dict[tuple[EntityRule, str | None, bool, str], _Peers | _Refusal] = field(default_factory=dict)

    scopes: dict[int, Selector] = field(default_factory=dict)  # id(policy) -> scope; inputs outlive the call

    def scope(self, policy: Policy) -> Selector:
        """The policy's endpoint selector (``scope_of``), computed once per policy."""
        found = self.scopes.get(id(policy))
        if found is None:
            found = self.scopes[id(policy)] = scope_of(policy)
        return found

    def sets_matching(self, selector: Selector) -> tuple[SetView, ...]:
        """The network sets whose labels ``selector`` matches."""
        found = self.set_matches.get(selector)
        if found is None:
            found = self.set_matches[selector] = self.sets.matching(selector)
        return found


@dataclass(frozen=True, slots=True)
class PassSite:
    """A converted Pass rule; the engine decides whether Antrea Pass is exact there (§4.5)."""

    direction: Direction
    index: int
    rule_name: str
    scope: Selector  # Calico selector of the endpoints the rule applies to
    catch_all: bool  # the rule matches all traffic of those endpoints
    last: bool  # the last rule of its direction
    path: str


@dataclass(frozen=True, slots=True)
class PolicyConversion:
    """The neutral (ACNP-meaning) conversion of one Calico policy."""

    scope: tuple[AppliedTo, ...]  # appliedTo(P): for the policy and the end-of-tier union
    scope_exact: bool
    selects_nothing: bool
    rule_level: bool  # rules carry their own appliedTo
    ingress: tuple[AntreaRule, ...] = ()
    egress: tuple[AntreaRule, ...] = ()
    problems: tuple[Finding, ...] = ()
    notes: tuple[Finding, ...] = ()
    passes: tuple[PassSite, ...] = ()
    group_blocks: Mapping[str, tuple[Network, ...]] = field(default_factory=dict)  # groups used -> CIDRs


@functools.lru_cache(maxsize=4096)
def pinned_namespaces(selector: LabelSelector | None) -> frozenset[str] | None:
    """The finite set of namespace names a namespaceSelector pins, or None when it is not a pure name pin."""
    if selector is None:
        return None
    names: frozenset[str] | None = None
    for key, value in selector.match_labels.as_dict().items():
        if key != _NAME_LABEL:
            return None
        names = frozenset({value}) if names is None else names & {value}
    for req in selector.match_expressions:
        if req.key != _NAME_LABEL or req.operator is not Operator.IN:
            return None
        names = frozenset(req.values) if names is None else names & frozenset(req.values)
    return names


def scope_of(policy: Policy) -> Selector:
    """The Calico selector of the endpoints the policy applies to (§1.2, rewrites included)."""
    return policy_endpoint_selector(policy)


class _Refusal(Exception):
    """Internal: one unsupported construct; carries the field path suffix and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _term_entries(terms: tuple[Term, ...], path: str) -> list[AppliedTo]:
    entries: list[AppliedTo] = []
    for term in terms:
        if term.service_accounts is None:
            entries.append(AppliedTo(pod_selector=term.pod, namespace_selector=term.namespace))
            continue
        namespaces = pinned_namespaces(term.namespace)
        if namespaces is None or not term.pod.is_empty:
            raise _Refusal(
                path,
                "service account names need a namespace pinned by name and no other label conditions "
                "(Antrea serviceAccount entries stand alone)",
            )
        for ns in sorted(namespaces):
            for sa in sorted(term.service_accounts):
                entries.append(AppliedTo(service_account=ServiceAccountRef(name=sa, namespace=ns)))
    return entries


def _translate(selector: Selector, path: str) -> tuple[Term, ...]:
    translation = translate(selector)
    if translation.problems:
        raise _Refusal(path, "; ".join(translation.problems))
    return translation.terms


def _hep_check(selector: Selector, ctx: RuleContext, path: str) -> None:
    for hep in ctx.host_endpoints:
        if selector.evaluate(hep.labels):
            raise _Refusal(path, f"matches HostEndpoint {hep.name}: host endpoint policy has no exact Antrea form")


def _and(*parts: Selector | None) -> Selector:
    present = tuple(p for p in parts if p is not None)
    return present[0] if len(present) == 1 else And(present)


@dataclass(frozen=True, slots=True)
class _Peers:
    peers: tuple[Peer, ...]
    never: bool = False
    families: frozenset[int] | None = None  # IP families of an address-only side; None = pods involved
    groups: Mapping[str, tuple[Network, ...]] = field(default_factory=dict)


def _families(nets: tuple[Network, ...], fallback: frozenset[int]) -> frozenset[int]:
    return frozenset(n.version for n in nets) or fallback


def _address_peers(include: tuple[Network, ...], exclude: tuple[Network, ...]) -> _Peers:
    blocks = ip_blocks(include, exclude)
    return _Peers(
        peers=tuple(Peer(ip_block=b) for b in blocks),
        never=not blocks,
        families=frozenset(n.version for n in include),
    )


def _remote_peers(side: EntityRule, policy: Policy, ctx: RuleContext, path: str) -> _Peers:
    if side.services is not None:
        raise _Refusal(f"{path}.services", "services match endpoint IP:port pairs after DNAT; Antrea cannot")
    pos, neg = entity_selectors(side, policy)
    fams = ctx.options.ip_families
    if pos is None and neg is None:
        if not side.nets and not side.not_nets:
            return _Peers(peers=())
        include = side.nets or tuple(everything(f) for f in sorted(_families(side.not_nets, fams)))
        return _address_peers(include, side.not_nets)
    if pos is None:
        assert neg is not None
        return _not_selector_only(side, neg, ctx, path)
    if neg is not None:
        if ctx.sets_matching(neg):
            raise _Refusal(
                f"{path}.notSelector",
                "notSelector matches NetworkSets whose CIDRs may cover pod IPs; not expressible",
            )
        _hep_check(neg, ctx, f"{path}.notSelector")
    selector = _and(pos, Not(neg) if neg is not None else None)
    _hep_check(selector, ctx, f"{path}.selector")
    terms = _translate(selector, f"{path}.selector")
    sets = tuple(v for v in ctx.sets_matching(selector) if v.netset.nets)
    if side.nets or side.not_nets:
        if terms:
            raise _Refusal(f"{path}.nets", "a selector matching pods cannot be intersected with nets in Antrea")
        set_nets = tuple(n for v in sets for n in v.netset.nets)
        if side.nets:
            include = intersect(set_nets, side.nets)
        else:
            # Felix skips the rule for a family that its notNets do not mention (FilterRuleToIPVersion).
            kept = _families(side.not_nets, fams)
            include = tuple(n for n in set_nets if n.version in kept)
        return _address_peers(include, side.not_nets)
    peers = [
        Peer(pod_selector=e.pod_selector, namespace_selector=e.namespace_selector, service_account=e.service_account)
        for e in _term_entries(terms, f"{path}.selector")
    ]
    groups: dict[str, tuple[Network, ...]] = {}
    for view in sets:
        name = ctx.group_names[group_key(view.netset)]
        groups[name] = view.netset.nets
    peers.extend(Peer(group=name) for name in sorted(groups))
    families = None if terms else frozenset(n.version for nets in groups.values() for n in nets)
    return _Peers(peers=tuple(peers), never=not peers, families=families, groups=groups)


def _memo_remote_peers(side: EntityRule, policy: Policy, ctx: RuleContext, path: str) -> _Peers:
    # The peers depend on the policy only through its namespace and kind (entity_selectors).
    key = (side, policy.namespace, policy.is_global, path)
    found = ctx.peer_memo.get(key)
    if found is None:
        try:
            found = _remote_peers(side, policy, ctx, path)
        except _Refusal as refusal:
            found = refusal
        ctx.peer_memo[key] = found
    if isinstance(found, _Refusal):
        raise found
    return found


def _not_selector_only(side: EntityRule, neg: Selector, ctx: RuleContext, path: str) -> _Peers:
    # Every IP except IPs(neg): expressible only when neg matches no pod, so that the excluded
    # addresses are exactly NetworkSet CIDRs.
    if _translate(neg, f"{path}.notSelector"):
        raise _Refusal(
            f"{path}.notSelector",
            "notSelector without a positive selector means every IP except matching pods; not expressible",
        )
    _hep_check(neg, ctx, f"{path}.notSelector")
    excluded = tuple(n for v in ctx.sets_matching(neg) for n in v.netset.nets)
    fams = ctx.options.ip_families
    include = side.nets or tuple(everything(f) for f in sorted(_families(side.not_nets, fams)))
    return _address_peers(include, side.not_nets + excluded)


def _local_condition(side: EntityRule, policy: Policy, ctx: RuleContext, path: str) -> Selector | None:
    if side.nets or side.not_nets:
        raise _Refusal(f"{path}.nets", "nets on the policy's own side cannot restrict appliedTo (not IP-based)")
    if side.services is not None:
        raise _Refusal(f"{path}.services", "services cannot be matched by Antrea")
    pos, neg = entity_selectors(side, policy)
    if pos is None and neg is None:
        return None
    # Calico matches this side by address (§1.4: IPs(S) includes NetworkSet CIDRs), so a set that
    # the selector matches can pull in, or push out, pods by their IP whatever their labels; a
    # rule-level appliedTo selects pods by labels only.
    for selector, field_name in ((pos, "selector"), (neg, "notSelector")):
        if selector is not None and any(view.netset.nets for view in ctx.sets_matching(selector)):
            raise _Refusal(
                f"{path}.{field_name}",
                "matches NetworkSets on the policy's own side: Calico matches it by address (the sets' CIDRs may "
                "hold pod IPs), Antrea's appliedTo by pod labels only",
            )
    return _and(ctx.scope(policy), pos, Not(neg) if neg is not None else None)


def _family_pinned(family: int, ctx: RuleContext, remote: _Peers) -> bool:
    return ctx.options.ip_families == {family} or remote.families == {family}


def _service_match(rule: Rule, ctx: RuleContext, remote: _Peers, direction: Direction) -> Match:
    protocol = rule.protocol
    if rule.not_protocol is not None:
        if protocol is None:
            raise _Refusal("notProtocol", "any protocol except one cannot be expressed")
        if protocol == rule.not_protocol:
            return Match(never=True)
    if rule.ip_version is not None:
        if rule.ip_version not in ctx.options.ip_families:
            return Match(never=True)
        if not _family_pinned(rule.ip_version, ctx, remote):
            raise _Refusal("ipVersion", "an IP-family restriction on a dual-stack cluster cannot be expressed")
    if protocol in ICMP_FAMILIES:
        family = ICMP_FAMILIES[protocol]
        if family not in ctx.options.ip_families:
            return Match(never=True)
        if not _family_pinned(family, ctx, remote):
            raise _Refusal("protocol", "Antrea icmp also matches the other IP family on a dual-stack cluster")
        return icmp_specs(rule.icmp, rule.not_icmp)
    if rule.not_icmp is not None:
        raise _Refusal("notICMP", "notICMP without protocol ICMP/ICMPv6 cannot be expressed")
    if protocol is not None and protocol not in PORT_PROTOCOLS:
        raise _Refusal("protocol", f"protocol {protocol} is not matched by Antrea (only TCP, UDP, SCTP, ICMP)")
    match = port_specs(rule, protocol)
    if match.problems:
        raise _Refusal(*match.problems[0])
    if match.has_named_dst and direction is Direction.EGRESS and remote.families is not None:
        raise _Refusal("destination.ports", "named ports towards addresses (nets/NetworkSets) cannot be resolved")
    return match


def _is_catch_all(rule: Rule) -> bool:
    return (
        rule.protocol is None
        and rule.not_protocol is None
        and rule.icmp is None
        and rule.not_icmp is None
        and rule.ip_version is None
        and rule.http is None
        and _empty_side(rule.source)
        and _empty_side(rule.destination)
    )


def _empty_side(side: EntityRule) -> bool:
    return not side.has_identity and not side.nets and not side.not_nets and not side.ports and not side.not_ports


@dataclass
class _Builder:
    policy: Policy
    ctx: RuleContext
    scope: tuple[AppliedTo, ...]
    problems: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    passes: list[PassSite] = field(default_factory=list)
    groups: dict[str, tuple[Network, ...]] = field(default_factory=dict)
    rule_level: bool = False

    def rules(self, direction: Direction) -> list[AntreaRule]:
        out: list[AntreaRule] = []
        key = direction.value.lower()
        rules = self.policy.rules(direction)
        for index, rule in enumerate(rules):
            path = f"spec.{key}[{index}]"
            try:
                converted = self._rule(rule, direction, index, path, last=index == len(rules) - 1)
            except _Refusal as refusal:
                self.problems.append(Finding(_join(path, refusal.path), refusal.reason))
                continue
            if converted is not None:
                out.append(converted)
        return out

    def _rule(self, rule: Rule, direction: Direction, index: int, path: str, last: bool) -> AntreaRule | None:
        if rule.action is Action.LOG:
            self.notes.append(Finding(f"{path}.action", "Log rule omitted: logging is lost (forwarding unchanged)"))
            return None
        if rule.http is not None:
            raise _Refusal("http", "HTTP match (application layer policy) has no exact Antrea form")
        remote_side, local_side, remote_key, local_key = (
            (rule.source, rule.destination, "source", "destination")
            if direction is Direction.INGRESS
            else (rule.destination, rule.source, "destination", "source")
        )
        remote = _memo_remote_peers(remote_side, self.policy, self.ctx, remote_key)
        local = _local_condition(local_side, self.policy, self.ctx, local_key)
        applied_to: tuple[AppliedTo, ...] = ()
        if local is not None:
            applied_to = tuple(_term_entries(_translate(local, f"{local_key}.selector"), f"{local_key}.selector"))
            self.rule_level = True
            if not applied_to:
                return None
        match = _service_match(rule, self.ctx, remote, direction)
        if remote.never or match.never:
            return None
        self.groups.update(remote.groups)
        name = f"{direction.value.lower()}-{index}-0"
        action = self._action(rule, path)
        if action is AntreaAction.PASS:
            self.passes.append(
                PassSite(direction, index, name, local or self.ctx.scope(self.policy), _is_catch_all(rule), last, path)
            )
        return AntreaRule(
            name=name,
            action=action,
            peers=remote.peers,
            ports=match.ports,
            protocols=match.protocols,
            applied_to=applied_to,
        )

    def _action(self, rule: Rule, path: str) -> AntreaAction:
        if rule.action is Action.ALLOW:
            return AntreaAction.ALLOW
        if rule.action is Action.PASS:
            return AntreaAction.PASS
        if self.ctx.options.deny_action is DenyAction.REJECT:
            self.notes.append(
                Finding(
                    f"{path}.action",
                    "Deny becomes Reject: the reject packet differs (TCP RST / ICMP admin-prohibited)",
                )
            )
            return AntreaAction.REJECT
        return AntreaAction.DROP


def _join(base: str, suffix: str) -> str:
    return f"{base}.{suffix}" if suffix else base


def convert_policy(policy: Policy, ctx: RuleContext) -> PolicyConversion:
    """Convert one policy's scope and rules with ACNP meaning; problems are collected, not raised."""
    try:
        selector = ctx.scope(policy)
        _hep_check(selector, ctx, "spec.selector")
        scope = tuple(_term_entries(_translate(selector, "spec.selector"), "spec.selector"))
    except _Refusal as refusal:
        return PolicyConversion(
            scope=(),
            scope_exact=False,
            selects_nothing=False,
            rule_level=False,
            problems=(Finding(refusal.path, refusal.reason),),
        )
    if not scope:
        return PolicyConversion(scope=(), scope_exact=True, selects_nothing=True, rule_level=False)
    builder = _Builder(policy, ctx, scope)
    ingress = builder.rules(Direction.INGRESS) if Direction.INGRESS in policy.types else []
    egress = builder.rules(Direction.EGRESS) if Direction.EGRESS in policy.types else []
    if builder.rule_level:
        ingress = [_with_scope(r, scope) for r in ingress]
        egress = [_with_scope(r, scope) for r in egress]
    return PolicyConversion(
        scope=scope,
        scope_exact=True,
        selects_nothing=False,
        rule_level=builder.rule_level,
        ingress=tuple(ingress),
        egress=tuple(egress),
        problems=tuple(builder.problems),
        notes=tuple(builder.notes),
        passes=tuple(builder.passes),
        group_blocks=dict(builder.groups),
    )


def _with_scope(rule: AntreaRule, scope: tuple[AppliedTo, ...]) -> AntreaRule:
    if rule.applied_to:
        return rule
    return AntreaRule(
        name=rule.name,
        action=rule.action,
        peers=rule.peers,
        ports=rule.ports,
        protocols=rule.protocols,
        applied_to=scope,
        enable_logging=rule.enable_logging,
    )
