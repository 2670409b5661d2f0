"""The Antrea evaluator on small, hand-computed cases (policy-mapping §3).

Expectations come from Antrea's documented order of enforcement, worked out by hand on the shared
world in ``verify_world.py``.
"""

from __future__ import annotations

import pytest

from kubectl_antrea_migrate.antrea.model import (
    AntreaAction,
    AntreaGroup,
    AntreaObjects,
    AntreaPolicy,
    AntreaRule,
    AntreaTier,
    AppliedTo,
    ICMPSpec,
    Peer,
    PolicyKind,
    PortSpec,
    ServiceAccountRef,
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
)
from kubectl_antrea_migrate.verify.antrea_eval import AntreaEvaluator
from kubectl_antrea_migrate.verify.endpoints import Traffic
from kubectl_antrea_migrate.verify.verdict import Verdict
from tests.unit.verify_world import BATCH, CLIENT, DB, POPULATION, WEB, addr, ep, tcp


def labels(**items: str) -> LabelSelector:
    return LabelSelector(LabelMap(items))


def acnp(
    name: str,
    priority: float,
    *,
    tier: str = "application",
    applied: dict[str, str] | None = None,
    ingress: tuple[AntreaRule, ...] = (),
    egress: tuple[AntreaRule, ...] = (),
    applied_to: tuple[AppliedTo, ...] | None = None,
) -> AntreaPolicy:
    if applied_to is None:
        applied_to = (AppliedTo(pod_selector=labels(**(applied or {}))),)
    return AntreaPolicy(PolicyKind.CLUSTER_NETWORK_POLICY, name, None, tier, priority, applied_to, ingress, egress)


def annp(
    name: str,
    namespace: str,
    priority: float,
    applied: dict[str, str],
    *,
    ingress: tuple[AntreaRule, ...] = (),
    tier: str = "application",
) -> AntreaPolicy:
    return AntreaPolicy(
        PolicyKind.NETWORK_POLICY,
        name,
        namespace,
        tier,
        priority,
        (AppliedTo(pod_selector=labels(**applied)),),
        ingress,
    )


def r(
    action: str,
    *peers: Peer,
    ports: tuple[PortSpec, ...] = (),
    protocols: tuple[ICMPSpec, ...] = (),
    applied_to: tuple[AppliedTo, ...] = (),
    name: str = "",
) -> AntreaRule:
    return AntreaRule(name, AntreaAction(action), peers, ports, protocols, applied_to)


def antrea(
    *policies: AntreaPolicy,
    groups: tuple[AntreaGroup, ...] = (),
    tiers: tuple[AntreaTier, ...] = (),
    knps: tuple[KubernetesNetworkPolicy, ...] = (),
) -> AntreaEvaluator:
    return AntreaEvaluator(AntreaObjects(tiers, groups, policies), POPULATION, knps)


FROM_CLIENT = Peer(pod_selector=labels(app="client"))


def test_nothing_applied_is_default_allow() -> None:
    decision = antrea().decide(ep(CLIENT), ep(DB), tcp(5432))
    assert decision.verdict is Verdict.ALLOW and decision.ingress.rule == "default allow"  # type: ignore[union-attr]


def test_lower_priority_number_wins_and_no_implicit_isolation() -> None:
    drop = acnp("drop", 1, applied={"app": "db"}, ingress=(r("Drop", FROM_CLIENT, name="no-client"),))
    allow = acnp("allow", 2, applied={"app": "db"}, ingress=(r("Allow"),))
    assert antrea(drop, allow).decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.DENY
    swapped = acnp("drop", 3, applied={"app": "db"}, ingress=(r("Drop", FROM_CLIENT),))
    assert antrea(swapped, allow).decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    # web is not client: no rule matches, and an ACNP selecting db does not isolate it.
    only_drop = antrea(drop)
    decision = only_drop.decide(ep(WEB), ep(DB), tcp(1))
    assert decision.verdict is Verdict.ALLOW and decision.ingress.rule == "default allow"  # type: ignore[union-attr]
    assert only_drop.decide(ep(CLIENT), ep(DB), tcp(1)).ingress.rule == "no-client"  # type: ignore[union-attr]


def test_tier_priority_beats_policy_priority() -> None:
    allow_app = acnp("allow", 1, applied={"app": "db"}, ingress=(r("Allow"),))
    drop_sec = acnp("drop", 9000, tier="securityops", applied={"app": "db"}, ingress=(r("Drop"),))
    decision = antrea(allow_app, drop_sec).decide(ep(WEB), ep(DB), tcp(1))
    assert decision.verdict is Verdict.DENY and decision.ingress.tier == "securityops"  # type: ignore[union-attr]
    custom = AntreaTier("early", 10)
    drop_custom = acnp("drop", 9000, tier="early", applied={"app": "db"}, ingress=(r("Allow"),))
    assert antrea(drop_sec, drop_custom, tiers=(custom,)).decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW


def test_acnp_and_annp_interleave_by_priority() -> None:
    ns_drop = annp("drop", "prod", 5, {"app": "db"}, ingress=(r("Drop"),))
    cluster_allow = acnp("allow", 4, applied={"app": "db"}, ingress=(r("Allow"),))
    assert antrea(ns_drop, cluster_allow).decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    cluster_allow_late = acnp("allow", 6, applied={"app": "db"}, ingress=(r("Allow"),))
    assert antrea(ns_drop, cluster_allow_late).decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.DENY


def _knp_db_from_web() -> KubernetesNetworkPolicy:
    from_web = NetworkPolicyRule((NetworkPolicyPeer(pod_selector=labels(app="web")),))
    return KubernetesNetworkPolicy("db", "prod", labels(app="db"), frozenset({"Ingress"}), (from_web,))


def test_pass_goes_to_kubernetes_policies_then_baseline() -> None:
    passing = acnp("pass", 1, tier="securityops", applied={}, ingress=(r("Pass"),))
    app_drop = acnp("app-drop", 1, applied={}, ingress=(r("Drop"),))
    base_drop = acnp("base", 1, tier="baseline", applied={}, ingress=(r("Drop", FROM_CLIENT),))
    evaluator = antrea(passing, app_drop, base_drop, knps=(_knp_db_from_web(),))
    # Pass skips the application tier's Drop. db is isolated by the K8s NP: web allowed, client not.
    assert evaluator.decide(ep(WEB), ep(DB), tcp(1)).ingress.policy == "KubernetesNetworkPolicy prod/db"  # type: ignore[union-attr]
    isolated = evaluator.decide(ep(CLIENT), ep(DB), tcp(1))
    assert isolated.verdict is Verdict.DENY and isolated.ingress.rule == "KubernetesNetworkPolicy isolation"  # type: ignore[union-attr]
    # web is not selected by any K8s NP: the baseline drops client, default allow admits batch.
    assert evaluator.decide(ep(CLIENT), ep(WEB), tcp(1)).ingress.tier == "baseline"  # type: ignore[union-attr]
    assert evaluator.decide(ep(BATCH), ep(WEB), tcp(1)).verdict is Verdict.ALLOW


def test_baseline_allow_cannot_reopen_an_isolated_pod() -> None:
    base_allow = acnp("base", 1, tier="baseline", applied={}, ingress=(r("Allow"),))
    evaluator = antrea(base_allow, knps=(_knp_db_from_web(),))
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.DENY


def test_annp_pod_selector_peer_is_its_own_namespace_acnp_is_every_namespace() -> None:
    namespaced = annp("from-client", "prod", 1, {"app": "db"}, ingress=(r("Drop", FROM_CLIENT),))
    clustered = acnp("from-client", 1, applied={"app": "db"}, ingress=(r("Drop", FROM_CLIENT),))
    assert antrea(namespaced).decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    assert antrea(clustered).decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.DENY


def test_annp_applies_only_in_its_namespace() -> None:
    drop_all = annp("drop", "dev", 1, {}, ingress=(r("Drop"),))
    evaluator = antrea(drop_all)
    assert evaluator.decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(CLIENT), tcp(1)).verdict is Verdict.DENY


def test_namespace_selector_and_self() -> None:
    from_dev = Peer(namespace_selector=labels(env="dev"))
    evaluator = antrea(acnp("p", 1, applied={}, ingress=(r("Allow", from_dev), r("Drop"))))
    assert evaluator.decide(ep(BATCH), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.DENY
    same_ns = Peer(namespaces_match="Self")
    evaluator = antrea(acnp("p", 1, applied={}, ingress=(r("Allow", same_ns), r("Drop"))))
    assert evaluator.decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.DENY
    assert evaluator.decide(ep(BATCH), ep(CLIENT), tcp(1)).verdict is Verdict.ALLOW


def test_ip_block_with_except_matches_pod_ips_too() -> None:
    block = Peer(ip_block=IPBlock("10.0.1.0/24", ("10.0.1.2/32",)))
    evaluator = antrea(acnp("p", 1, applied={"app": "db"}, ingress=(r("Drop", block),)))
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.DENY
    assert evaluator.decide(ep(BATCH), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(addr("10.0.1.77"), ep(DB), tcp(1)).verdict is Verdict.DENY
    # An IPv4 block never matches an IPv6 flow.
    assert evaluator.decide(ep(CLIENT, v6=True), ep(DB, v6=True), tcp(1)).verdict is Verdict.ALLOW


def test_cluster_groups_with_ip_blocks_selectors_and_children() -> None:
    corp = AntreaGroup("corp", None, ip_blocks=(IPBlock("192.168.0.0/24"),))
    dev = AntreaGroup("dev", None, namespace_selector=labels(env="dev"))
    parent = AntreaGroup("parent", None, child_groups=("corp", "dev"))
    evaluator = antrea(
        acnp("p", 1, applied={"app": "db"}, ingress=(r("Drop", Peer(group="parent")),)), groups=(corp, dev, parent)
    )
    assert evaluator.decide(addr("192.168.0.4"), ep(DB), tcp(1)).verdict is Verdict.DENY
    assert evaluator.decide(ep(BATCH), ep(DB), tcp(1)).verdict is Verdict.DENY
    assert evaluator.decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW


def test_group_in_annp_and_as_applied_to() -> None:
    webs = AntreaGroup("webs", "prod", pod_selector=labels(app="web"))
    policy = AntreaPolicy(
        PolicyKind.NETWORK_POLICY,
        "p",
        "prod",
        "application",
        1,
        (AppliedTo(group="webs"),),
        (r("Drop", Peer(group="webs")),),
    )
    evaluator = antrea(policy, groups=(webs,))
    # Only web is applied-to, and web is the only peer: the probe web -> web is never sent, db -> web is allowed.
    assert evaluator.decide(ep(DB), ep(WEB), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    with pytest.raises(InputError, match="Group 'missing' does not exist"):
        antrea(
            AntreaPolicy(
                PolicyKind.NETWORK_POLICY, "p", "prod", "application", 1, (AppliedTo(group="missing"),), (r("Drop"),)
            )
        )


def test_rule_level_applied_to() -> None:
    policy = acnp(
        "p",
        1,
        applied_to=(),
        ingress=(
            r("Drop", FROM_CLIENT, applied_to=(AppliedTo(pod_selector=labels(app="db")),)),
            r("Drop", Peer(pod_selector=labels(app="batch")), applied_to=(AppliedTo(pod_selector=labels(app="web")),)),
        ),
    )
    evaluator = antrea(policy)
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.DENY
    assert evaluator.decide(ep(BATCH), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(WEB), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(BATCH), ep(WEB), tcp(1)).verdict is Verdict.DENY


def test_service_account_applied_to_and_peer() -> None:
    web_sa = ServiceAccountRef("web", "prod")
    policy = acnp(
        "p",
        1,
        applied_to=(AppliedTo(service_account=ServiceAccountRef("default", "prod")),),
        ingress=(r("Allow", Peer(service_account=web_sa)), r("Drop")),
    )
    evaluator = antrea(policy)
    assert evaluator.decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.DENY


def test_ports_end_port_named_port_and_source_port() -> None:
    ranged = acnp("p", 1, applied={"app": "db"}, ingress=(r("Allow", ports=(PortSpec("TCP", 5000, 6000),)), r("Drop")))
    evaluator = antrea(ranged)
    assert [evaluator.decide(ep(WEB), ep(DB), tcp(p)).verdict for p in (4999, 5000, 6000, 6001)] == [
        Verdict.DENY,
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.DENY,
    ]
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(17, 5432, 40000)).verdict is Verdict.DENY
    named = acnp("p", 1, applied={"app": "web"}, ingress=(r("Allow", ports=(PortSpec("TCP", "http"),)), r("Drop")))
    evaluator = antrea(named)
    assert evaluator.decide(ep(CLIENT), ep(WEB), tcp(8080)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(WEB), tcp(80)).verdict is Verdict.DENY
    sourced = acnp(
        "p",
        1,
        applied={"app": "db"},
        ingress=(r("Allow", ports=(PortSpec("UDP", source_port=53, source_end_port=54),)), r("Drop")),
    )
    evaluator = antrea(sourced)
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(17, 9999, 54)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(17, 53, 40000)).verdict is Verdict.DENY


def test_icmp_matches_both_families() -> None:
    echo = acnp("p", 1, applied={"app": "db"}, ingress=(r("Allow", protocols=(ICMPSpec(8),)), r("Drop")))
    evaluator = antrea(echo)
    assert evaluator.decide(ep(CLIENT), ep(DB), Traffic(1, icmp_type=8, icmp_code=0)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(DB), Traffic(1, icmp_type=0, icmp_code=0)).verdict is Verdict.DENY
    v6 = evaluator.decide(ep(CLIENT, v6=True), ep(DB, v6=True), Traffic(58, icmp_type=8, icmp_code=0))
    assert v6.verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.DENY


def test_egress_rules_match_the_destination() -> None:
    no_db = acnp("p", 1, applied={"app": "client"}, egress=(r("Drop", Peer(pod_selector=labels(app="db"))),))
    evaluator = antrea(no_db)
    decision = evaluator.decide(ep(CLIENT), ep(DB), tcp(1))
    assert decision.verdict is Verdict.DENY and decision.egress is not None and decision.ingress is None
    assert evaluator.decide(ep(CLIENT), ep(WEB), tcp(1)).verdict is Verdict.ALLOW


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(InputError, match="tier 'nope' does not exist"):
        antrea(acnp("p", 1, tier="nope", applied={}, ingress=(r("Drop"),)))


def test_kubernetes_policy_ports_and_ip_blocks() -> None:
    rule = NetworkPolicyRule(
        (NetworkPolicyPeer(ip_block=IPBlock("10.0.1.0/24", ("10.0.1.2/32",))),), (NetworkPolicyPort("TCP", 5432),)
    )
    knp = KubernetesNetworkPolicy("db", "prod", labels(app="db"), frozenset({"Ingress"}), (rule,))
    evaluator = antrea(knps=(knp,))
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5433)).verdict is Verdict.DENY
    assert evaluator.decide(ep(BATCH), ep(DB), tcp(5432)).verdict is Verdict.DENY


def test_replicas_sharing_a_plan_resolve_named_ports_on_themselves() -> None:
    """Pods with the same labels share an evaluation plan; named ports must still resolve per pod."""
    from kubectl_antrea_migrate.kube.model import ContainerPort, Pod
    from kubectl_antrea_migrate.verify.endpoints import Population

    a = Pod("a", "prod", LabelMap({"app": "api"}), ips=("10.0.0.11",), ports=(ContainerPort(8080, "TCP", "http"),))
    b = Pod("b", "prod", LabelMap({"app": "api"}), ips=("10.0.0.12",), ports=(ContainerPort(9090, "TCP", "http"),))
    named = acnp("p", 1, applied={"app": "api"}, ingress=(r("Allow", ports=(PortSpec("TCP", "http"),)), r("Drop")))
    evaluator = AntreaEvaluator(
        AntreaObjects((), (), (named,)), Population((*POPULATION.pods, a, b), POPULATION.namespaces)
    )
    assert [evaluator.decide(ep(WEB), ep(a), tcp(p)).verdict for p in (8080, 9090)] == [Verdict.ALLOW, Verdict.DENY]
    assert [evaluator.decide(ep(WEB), ep(b), tcp(p)).verdict for p in (8080, 9090)] == [Verdict.DENY, Verdict.ALLOW]


def test_pass_in_baseline_is_ignored() -> None:
    base = acnp("base", 1, tier="baseline", applied={}, ingress=(r("Pass"), r("Drop")))
    decision = antrea(base).decide(ep(WEB), ep(DB), tcp(1))
    assert decision.verdict is Verdict.DENY and decision.ingress.tier == "baseline"  # type: ignore[union-attr]
