"""The Calico evaluator on small, hand-computed cases (policy-mapping §1.4, §1.7).

Each expectation was worked out from the spec by hand, not by running another evaluator, so these
tests pin the evaluator to Calico's semantics on its own.
"""

from __future__ import annotations

import ipaddress

from kubectl_antrea_migrate.calico.model import (
    Action,
    EntityRule,
    ICMPMatch,
    NamedPort,
    NetworkSet,
    PortRange,
    ServiceAccountMatch,
    Tier,
)
from kubectl_antrea_migrate.kube.model import (
    IPBlock,
    KubernetesNetworkPolicy,
    LabelMap,
    LabelSelector,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
)
from kubectl_antrea_migrate.verify.calico_eval import CalicoEvaluator, tie_key
from kubectl_antrea_migrate.verify.endpoints import Traffic
from kubectl_antrea_migrate.verify.verdict import Verdict
from tests.unit.verify_world import (
    BATCH,
    CLIENT,
    DB,
    POPULATION,
    WEB,
    addr,
    ep,
    inventory,
    policy,
    rule,
    side,
    tcp,
)

SECURITY = Tier("security", 100.0)


def calico(*policies, tiers=(), knps=(), version="3.32") -> CalicoEvaluator:  # type: ignore[no-untyped-def]
    return CalicoEvaluator(inventory(*policies, tiers=tiers), POPULATION, knps, version)


def test_no_policy_allows_by_profile() -> None:
    decision = calico().decide(ep(CLIENT), ep(DB), tcp(5432))
    assert decision.verdict is Verdict.ALLOW
    assert decision.ingress is not None and decision.ingress.rule == "profile kns.prod"


def test_earlier_tier_deny_wins_over_later_allow() -> None:
    deny = policy(
        "deny-client", "all()", tier="security", order=1, ingress=(rule("Deny", source=side("app == 'client'")),)
    )
    allow = policy("allow-all", "all()", order=1, ingress=(rule("Allow"),))
    evaluator = calico(deny, allow, tiers=(SECURITY,))
    decision = evaluator.decide(ep(CLIENT), ep(DB), tcp(5432))
    assert decision.verdict is Verdict.DENY
    assert decision.ingress is not None
    assert (decision.ingress.tier, decision.ingress.policy, decision.ingress.rule) == (
        "security",
        "GlobalNetworkPolicy deny-client",
        "ingress[0]",
    )
    # web is not the client: the security tier has no matching rule, but it applies to db: end of tier.
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).ingress.rule == "end of tier"  # type: ignore[union-attr]


def test_pass_skips_to_next_tier_and_its_end_of_tier() -> None:
    passing = policy("pass", "app == 'db'", tier="security", order=1, ingress=(rule("Pass"),))
    only_web = policy(
        "db", "app == 'db'", namespace="prod", order=10, ingress=(rule("Allow", source=side("app == 'web'")),)
    )
    evaluator = calico(passing, only_web, tiers=(SECURITY,))
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    denied = evaluator.decide(ep(CLIENT), ep(DB), tcp(5432))
    assert denied.verdict is Verdict.DENY
    assert denied.ingress is not None and (denied.ingress.tier, denied.ingress.rule) == ("default", "end of tier")


def test_pass_tier_without_decision_falls_through() -> None:
    pass_tier = Tier("security", 100.0, Action.PASS)
    log_only = policy("log", "app == 'db'", tier="security", order=1, ingress=(rule("Log"),))
    decision = calico(log_only, tiers=(pass_tier,)).decide(ep(CLIENT), ep(DB), tcp(5432))
    assert decision.verdict is Verdict.ALLOW and decision.ingress.rule == "profile kns.prod"  # type: ignore[union-attr]


def test_end_of_tier_only_for_endpoints_a_policy_applies_to() -> None:
    only_db = policy(
        "db", "app == 'db'", tier="security", order=1, ingress=(rule("Allow", source=side("app == 'web'")),)
    )
    evaluator = calico(only_db, tiers=(SECURITY,))
    # batch is selected by nothing: the security tier is skipped entirely, profile allows.
    assert evaluator.decide(ep(CLIENT), ep(BATCH), tcp(80)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(80)).verdict is Verdict.DENY


def test_log_continues_to_the_next_rule() -> None:
    logged = policy(
        "log-then-deny",
        "app == 'db'",
        order=1,
        ingress=(rule("Log"), rule("Deny", source=side("app == 'client'")), rule("Allow")),
    )
    evaluator = calico(logged)
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5432)).ingress.rule == "ingress[1]"  # type: ignore[union-attr]
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).ingress.rule == "ingress[2]"  # type: ignore[union-attr]


def test_rules_of_a_direction_outside_types_are_ignored() -> None:
    egress_only = policy(
        "eg", "app == 'db'", order=1, types=("Egress",), ingress=(rule("Deny"),), egress=(rule("Allow"),)
    )
    evaluator = calico(egress_only)
    # Ingress at db: the policy does not apply in that direction, so the default tier is skipped.
    decision = evaluator.decide(ep(CLIENT), ep(DB), tcp(5432))
    assert decision.verdict is Verdict.ALLOW and decision.ingress.rule == "profile kns.prod"  # type: ignore[union-attr]


def test_type_without_rules_still_triggers_end_of_tier() -> None:
    isolate = policy("isolate", "app == 'db'", order=1, types=("Ingress", "Egress"))
    evaluator = calico(isolate)
    assert evaluator.decide(ep(DB), ep(WEB), tcp(8080)).egress.rule == "end of tier"  # type: ignore[union-attr]
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).ingress.rule == "end of tier"  # type: ignore[union-attr]


def test_network_policy_rule_selector_is_scoped_to_its_namespace() -> None:
    from_client = rule("Allow", source=side("app == 'client'"))
    namespaced = policy("np", "app == 'db'", namespace="prod", order=1, ingress=(from_client,))
    global_ = policy("gnp", "app == 'db'", order=1, ingress=(from_client,))
    # client lives in dev: the NP's implicit namespace excludes it, the GNP's rule does not.
    assert calico(namespaced).decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.DENY
    assert calico(global_).decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.ALLOW


def test_network_policy_applies_only_in_its_namespace() -> None:
    deny_all = policy("deny", "all()", namespace="dev", order=1, ingress=(rule("Deny"),))
    evaluator = calico(deny_all)
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(CLIENT), tcp(80)).verdict is Verdict.DENY


def test_not_selector_alone_in_network_policy_keeps_the_namespace() -> None:
    not_web = rule("Allow", source=side(not_selector="app == 'web'"))
    namespaced = calico(policy("np", "app == 'db'", namespace="prod", order=1, ingress=(not_web,)))
    global_ = calico(policy("gnp", "app == 'db'", order=1, ingress=(not_web,)))
    outside = addr("198.51.100.7")
    # NP: positive "namespace == prod" stays, so only prod pods other than web match.
    assert namespaced.decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.DENY
    assert namespaced.decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.DENY
    assert namespaced.decide(outside, ep(DB), tcp(5432)).verdict is Verdict.DENY
    # GNP: every address except web's matches, external ones included.
    assert global_.decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.DENY
    assert global_.decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    assert global_.decide(outside, ep(DB), tcp(5432)).verdict is Verdict.ALLOW


def test_nets_and_not_nets() -> None:
    carve = rule("Allow", source=side(nets=("192.168.0.0/16",), not_nets=("192.168.0.0/24",)))
    evaluator = calico(policy("nets", "app == 'db'", order=1, ingress=(carve,)))
    assert evaluator.decide(addr("192.168.1.5"), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    assert evaluator.decide(addr("192.168.0.5"), ep(DB), tcp(5432)).verdict is Verdict.DENY
    assert evaluator.decide(addr("10.9.9.9"), ep(DB), tcp(5432)).verdict is Verdict.DENY


def test_not_nets_of_one_family_never_match_the_other() -> None:
    not_corp = rule("Allow", source=side(not_nets=("192.168.0.0/24",)))
    evaluator = calico(policy("notnets", "app == 'db'", order=1, ingress=(not_corp,)))
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    # The rule is not rendered for IPv6 at all: the v6 probe hits the end of tier.
    assert evaluator.decide(ep(CLIENT, v6=True), ep(DB, v6=True), tcp(5432)).verdict is Verdict.DENY


def test_selector_matches_network_set_addresses() -> None:
    corp = rule("Allow", source=side("role == 'corp'"))
    namespaced = calico(policy("np", "app == 'db'", namespace="prod", order=1, ingress=(corp,)))
    assert namespaced.decide(addr("192.168.0.9"), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    assert namespaced.decide(addr("192.168.1.9"), ep(DB), tcp(5432)).verdict is Verdict.DENY
    # A GlobalNetworkSet is invisible to a namespaced policy's rule without global().
    ext = rule("Allow", source=side("role == 'ext'"))
    assert (
        calico(policy("np", "app == 'db'", namespace="prod", order=1, ingress=(ext,)))
        .decide(addr("203.0.113.4"), ep(DB), tcp(5432))
        .verdict
        is Verdict.DENY
    )
    global_ext = rule("Allow", source=side("role == 'ext'", namespace_selector="global()"))
    assert (
        calico(policy("np", "app == 'db'", namespace="prod", order=1, ingress=(global_ext,)))
        .decide(addr("203.0.113.4"), ep(DB), tcp(5432))
        .verdict
        is Verdict.ALLOW
    )


def test_namespace_selector_uses_namespace_labels() -> None:
    from_dev = rule("Allow", source=side(namespace_selector="env == 'dev'"))
    evaluator = calico(policy("np", "app == 'db'", namespace="prod", order=1, ingress=(from_dev,)))
    assert evaluator.decide(ep(BATCH), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.DENY


def test_named_port_resolves_on_the_destination_pod() -> None:
    http = rule("Allow", protocol=6, destination=side(ports=(NamedPort("http"),)))
    evaluator = calico(policy("web", "app == 'web'", namespace="prod", order=1, ingress=(http,)))
    assert evaluator.decide(ep(CLIENT), ep(WEB), tcp(8080)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(WEB), tcp(80)).verdict is Verdict.DENY
    assert evaluator.decide(ep(CLIENT), ep(WEB), Traffic(17, 8080, 40000)).verdict is Verdict.DENY


def test_egress_named_port_filtered_by_the_destination_selector() -> None:
    to_pg = rule("Allow", protocol=6, destination=side("app == 'web'", ports=(NamedPort("pg"),)))
    evaluator = calico(policy("eg", "app == 'client'", order=1, egress=(to_pg,)))
    # db defines pg but is not app=web; web is app=web but has no pg port.
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.DENY
    to_any_pg = rule("Allow", protocol=6, destination=side(ports=(NamedPort("pg"),)))
    evaluator = calico(policy("eg", "app == 'client'", order=1, egress=(to_any_pg,)))
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.ALLOW


def test_port_ranges_and_not_ports() -> None:
    ranged = rule("Allow", protocol=6, destination=side(ports=(PortRange(5000, 6000),)))
    not_ports = rule("Allow", protocol=6, destination=side(not_ports=(PortRange(5432, 5432),)))
    evaluator = calico(policy("p", "app == 'db'", order=1, ingress=(ranged,)))
    assert [evaluator.decide(ep(WEB), ep(DB), tcp(p)).verdict for p in (4999, 5000, 6000, 6001)] == [
        Verdict.DENY,
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.DENY,
    ]
    evaluator = calico(policy("p", "app == 'db'", order=1, ingress=(not_ports,)))
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.DENY
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5433)).verdict is Verdict.ALLOW


def test_source_ports() -> None:
    from_53 = rule("Allow", protocol=17, source=side(ports=(PortRange(53, 53),)))
    evaluator = calico(policy("p", "app == 'db'", order=1, ingress=(from_53,)))
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(17, 9999, 53)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(17, 53, 40000)).verdict is Verdict.DENY


def test_protocols_icmp_and_not_protocol() -> None:
    echo = rule("Allow", protocol=1, icmp=ICMPMatch(8, None))
    evaluator = calico(policy("p", "app == 'db'", order=1, ingress=(echo,)))
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(1, icmp_type=8, icmp_code=0)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(1, icmp_type=0, icmp_code=0)).verdict is Verdict.DENY
    not_echo = rule("Allow", protocol=1, not_icmp=ICMPMatch(8, 0))
    evaluator = calico(policy("p", "app == 'db'", order=1, ingress=(not_echo,)))
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(1, icmp_type=8, icmp_code=0)).verdict is Verdict.DENY
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(1, icmp_type=8, icmp_code=1)).verdict is Verdict.ALLOW
    no_tcp = rule("Allow", not_protocol=6)
    evaluator = calico(policy("p", "app == 'db'", order=1, ingress=(no_tcp,)))
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.DENY
    assert evaluator.decide(ep(WEB), ep(DB), Traffic(17, 53, 40000)).verdict is Verdict.ALLOW


def test_ip_version() -> None:
    v6_only = rule("Allow", ip_version=6)
    evaluator = calico(policy("p", "app == 'db'", order=1, ingress=(v6_only,)))
    assert evaluator.decide(ep(CLIENT, v6=True), ep(DB, v6=True), tcp(5432)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.DENY


def test_service_accounts_by_name() -> None:
    from_web_sa = rule("Allow", source=EntityRule(service_accounts=ServiceAccountMatch(names=("web",))))
    evaluator = calico(policy("p", "app == 'db'", namespace="prod", order=1, ingress=(from_web_sa,)))
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.DENY


def test_egress_deny_at_source_stops_before_ingress() -> None:
    no_egress = policy("no-egress", "app == 'client'", order=1, egress=(rule("Deny"),))
    decision = calico(no_egress).decide(ep(CLIENT), ep(DB), tcp(5432))
    assert decision.verdict is Verdict.DENY
    assert decision.egress is not None and decision.egress.rule == "egress[0]" and decision.ingress is None


def test_do_not_track_and_pre_dnat_policies_do_not_apply_to_pods() -> None:
    untracked = policy("raw", "all()", order=1, ingress=(rule("Deny"),), extra={"do_not_track": True})
    assert calico(untracked).decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.ALLOW


def test_order_then_nil_order_last() -> None:
    allow = policy("b-allow", "app == 'db'", order=None, ingress=(rule("Allow"),))
    deny = policy("a-deny", "app == 'db'", order=500, ingress=(rule("Deny"),))
    decision = calico(allow, deny).decide(ep(WEB), ep(DB), tcp(5432))
    assert decision.ingress is not None and decision.ingress.policy == "GlobalNetworkPolicy a-deny"


def test_order_ties_follow_the_calico_version() -> None:
    np_aa = policy("aa", "app == 'db'", namespace="prod", order=5, ingress=(rule("Allow"),))
    gnp_zz = policy("zz", "app == 'db'", order=5, ingress=(rule("Deny"),))
    # 3.32 compares "aa/prod/NetworkPolicy" < "zz//GlobalNetworkPolicy": the NP comes first.
    assert calico(np_aa, gnp_zz).decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    # <=3.31 compares "default.zz" < "prod/default.aa": the GNP comes first.
    assert calico(np_aa, gnp_zz, version="3.31").decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.DENY
    assert tie_key("KubernetesNetworkPolicy", "x", "prod", "default", "3.30") == "prod/knp.default.x"


def test_tiers_sort_by_order_then_name_with_nil_last() -> None:
    late = Tier("aaa", None)
    early = Tier("zzz", 10.0)
    deny_late = policy("d", "app == 'db'", tier="aaa", order=1, ingress=(rule("Deny"),))
    allow_early = policy("a", "app == 'db'", tier="zzz", order=1, ingress=(rule("Allow"),))
    decision = calico(deny_late, allow_early, tiers=(late, early)).decide(ep(WEB), ep(DB), tcp(5432))
    assert decision.verdict is Verdict.ALLOW and decision.ingress.tier == "zzz"  # type: ignore[union-attr]


def _knp(
    name: str,
    pod: dict[str, str],
    rules: tuple[NetworkPolicyRule, ...],
    types: tuple[str, ...] = ("Ingress",),
    egress: tuple[NetworkPolicyRule, ...] = (),
) -> KubernetesNetworkPolicy:
    return KubernetesNetworkPolicy(name, "prod", LabelSelector(LabelMap(pod)), frozenset(types), rules, egress)


def test_kubernetes_network_policy_isolates_in_the_default_tier() -> None:
    from_web = NetworkPolicyRule(
        (NetworkPolicyPeer(pod_selector=LabelSelector(LabelMap({"app": "web"}))),), (NetworkPolicyPort("TCP", 5432),)
    )
    evaluator = calico(knps=(_knp("db", {"app": "db"}, (from_web,)),))
    allowed = evaluator.decide(ep(WEB), ep(DB), tcp(5432))
    assert allowed.verdict is Verdict.ALLOW
    assert allowed.ingress is not None and allowed.ingress.policy == "KubernetesNetworkPolicy prod/db"
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5433)).verdict is Verdict.DENY
    # Kubernetes podSelector peers stay in the policy namespace: batch (dev) is not a peer.
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5432)).ingress.rule == "end of tier"  # type: ignore[union-attr]
    # web is not selected: not isolated.
    assert evaluator.decide(ep(CLIENT), ep(WEB), tcp(80)).verdict is Verdict.ALLOW


def test_kubernetes_network_policy_orders_at_1000_among_calico_policies() -> None:
    nothing_allowed = _knp("db", {"app": "db"}, ())
    early_allow = policy("early", "app == 'db'", namespace="prod", order=999, ingress=(rule("Allow"),))
    late_allow = policy("late", "app == 'db'", namespace="prod", order=1001, ingress=(rule("Allow"),))
    assert calico(early_allow, knps=(nothing_allowed,)).decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    # The K8s NP matches no rule but does not decide either: the later Calico allow still runs.
    assert calico(late_allow, knps=(nothing_allowed,)).decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    # Without any allow: end of tier.
    assert calico(knps=(nothing_allowed,)).decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.DENY


def test_kubernetes_ip_block_matches_by_address() -> None:
    block = NetworkPolicyRule((NetworkPolicyPeer(ip_block=IPBlock("10.0.1.0/24", ("10.0.1.2/32",))),))
    evaluator = calico(knps=(_knp("db", {"app": "db"}, (block,)),))
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(BATCH), ep(DB), tcp(1)).verdict is Verdict.DENY


def test_pod_ip_inside_a_network_set_matches_its_labels() -> None:
    # Calico matches addresses: a pod whose IP lies in a NetworkSet CIDR also carries the set's labels.
    wide = NetworkSet("pods", None, (ipaddress.ip_network("10.0.1.0/24"),), LabelMap({"zone": "pods"}))
    allow_zone = policy("z", "app == 'db'", order=1, ingress=(rule("Allow", source=side("zone == 'pods'")),))
    evaluator = CalicoEvaluator(inventory(allow_zone, network_sets=(wide,)), POPULATION)
    assert evaluator.decide(ep(CLIENT), ep(DB), tcp(5432)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(DB), tcp(5432)).verdict is Verdict.DENY


def test_replicas_sharing_a_plan_still_differ_on_their_own_address_and_ports() -> None:
    """Pods with the same labels share an evaluation plan; local-address rules must still tell them apart."""
    from kubectl_antrea_migrate.kube.model import ContainerPort, Pod
    from kubectl_antrea_migrate.verify.endpoints import Population

    a = Pod("a", "prod", LabelMap({"app": "api"}), ips=("10.0.0.11",), ports=(ContainerPort(8080, "TCP", "http"),))
    b = Pod("b", "prod", LabelMap({"app": "api"}), ips=("10.0.0.12",), ports=(ContainerPort(9090, "TCP", "http"),))
    population = Population((*POPULATION.pods, a, b), POPULATION.namespaces)
    only_a = rule("Allow", destination=side(nets=("10.0.0.11/32",)))
    named = rule("Allow", protocol=6, destination=side(ports=(NamedPort("http"),)))
    evaluator = CalicoEvaluator(inventory(policy("p", "app == 'api'", order=1, ingress=(only_a,))), population)
    assert evaluator.decide(ep(WEB), ep(a), tcp(1)).verdict is Verdict.ALLOW
    assert evaluator.decide(ep(WEB), ep(b), tcp(1)).verdict is Verdict.DENY
    evaluator = CalicoEvaluator(inventory(policy("p", "app == 'api'", order=1, ingress=(named,))), population)
    assert [evaluator.decide(ep(WEB), ep(a), tcp(p)).verdict for p in (8080, 9090)] == [Verdict.ALLOW, Verdict.DENY]
    assert [evaluator.decide(ep(WEB), ep(b), tcp(p)).verdict for p in (8080, 9090)] == [Verdict.DENY, Verdict.ALLOW]


def test_fixed_tiers_are_known_without_tier_objects() -> None:
    admin_deny = policy("admin", "app == 'db'", tier="kube-admin", order=1, ingress=(rule("Deny"),))
    default_allow = policy("allow", "app == 'db'", order=1, ingress=(rule("Allow"),))
    baseline_deny = policy("base", "app == 'db'", tier="kube-baseline", order=1, ingress=(rule("Deny"),))
    assert calico(admin_deny, default_allow).decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.DENY
    assert calico(baseline_deny, default_allow).decide(ep(WEB), ep(DB), tcp(1)).verdict is Verdict.ALLOW
