"""Calico's own selector rewrites (policy-mapping §1.2 and §1.4 ``getEndpointSelector``).

Each "Consequences" bullet of §1.4 that concerns selectors has a test, checked by evaluating the
compiled selectors on the labels Calico gives pods, namespaced NetworkSets and GlobalNetworkSets.
"""

from __future__ import annotations

import pytest

from kubectl_antrea_migrate.calico.model import Direction, EntityRule, Policy, PolicyKind, ServiceAccountMatch
from kubectl_antrea_migrate.calico.selector.ast import All, And, Eq, Has, In, Not, Selector
from kubectl_antrea_migrate.calico.selector.parse import parse_selector as p
from kubectl_antrea_migrate.calico.selector.rewrite import (
    entity_selectors,
    policy_endpoint_selector,
    prefix_labels,
    replace_all_and_global,
)


def np(namespace: str = "prod", selector: str = "", sa_selector: str | None = None) -> Policy:
    return Policy(
        kind=PolicyKind.NETWORK_POLICY, name="p", namespace=namespace, tier="default", order=None,
        selector=p(selector), types=frozenset({Direction.INGRESS}),
        service_account_selector=p(sa_selector) if sa_selector is not None else None,
    )


def gnp(selector: str = "", ns_selector: str | None = None, sa_selector: str | None = None) -> Policy:
    return Policy(
        kind=PolicyKind.GLOBAL_NETWORK_POLICY, name="g", namespace=None, tier="default", order=None,
        selector=p(selector), types=frozenset({Direction.INGRESS}),
        namespace_selector=p(ns_selector) if ns_selector is not None else None,
        service_account_selector=p(sa_selector) if sa_selector is not None else None,
    )


def pod(ns: str, labels: dict[str, str] | None = None, ns_labels: dict[str, str] | None = None,
        sa: str = "default") -> dict[str, str]:
    """A pod's endpoint labels (§1.2)."""
    out = dict(labels or {})
    out |= {"projectcalico.org/namespace": ns, "projectcalico.org/orchestrator": "k8s",
            "projectcalico.org/serviceaccount": sa, "pcns.projectcalico.org/name": ns,
            "pcsa.projectcalico.org/name": sa}
    out |= {f"pcns.{k}": v for k, v in (ns_labels or {}).items()}
    return out


def network_set(ns: str, labels: dict[str, str], ns_labels: dict[str, str] | None = None) -> dict[str, str]:
    """A namespaced NetworkSet's labels: its own, its namespace, inherited pcns.* (§1.2)."""
    out = dict(labels) | {"projectcalico.org/namespace": ns, "pcns.projectcalico.org/name": ns}
    return out | {f"pcns.{k}": v for k, v in (ns_labels or {}).items()}


def matches(sel: Selector | None, labels: dict[str, str]) -> bool:
    return sel is None or sel.evaluate(labels)


# --- prefixing and the textual all()/global() replacement -----------------------------------------


def test_prefix_labels_prefixes_every_key_and_leaves_all_alone() -> None:
    sel = p("a == 'x' && (has(b) || c not in {'y'}) && all() && d contains 'z'")
    assert prefix_labels(sel, "pcns.") == p(
        "pcns.a == 'x' && (has(pcns.b) || pcns.c not in {'y'}) && all() && pcns.d contains 'z'"
    )


def test_replacement_reaches_into_label_values_like_calicos_string_replace() -> None:
    sel = p("a == 'x all()' && b in {'global()', 'q'} && !all() && global()")
    replaced = replace_all_and_global(sel, Has("projectcalico.org/namespace"), Not(Has("projectcalico.org/namespace")))
    assert replaced == p(
        "a == 'x has(projectcalico.org/namespace)' && b in {'!has(projectcalico.org/namespace)', 'q'}"
        " && !has(projectcalico.org/namespace) && !has(projectcalico.org/namespace)"
    )


# --- policy selectors (§1.2) -------------------------------------------------------------------------


def test_network_policy_selects_only_its_own_namespace() -> None:
    sel = policy_endpoint_selector(np("prod", "app == 'db'"))
    assert sel.evaluate(pod("prod", {"app": "db"}))
    assert not sel.evaluate(pod("dev", {"app": "db"}))
    assert policy_endpoint_selector(np("prod")) == Eq("projectcalico.org/namespace", "prod")


def test_network_policy_service_account_selector_is_prefixed_without_all_replacement() -> None:
    sel = policy_endpoint_selector(np("prod", "", "role == 'api'"))
    assert sel == And((Eq("projectcalico.org/namespace", "prod"), Eq("pcsa.role", "api")))
    assert policy_endpoint_selector(np("prod", "", "all()")) == And(
        (Eq("projectcalico.org/namespace", "prod"), All())
    )


def test_global_policy_namespace_selector_all_means_namespaced_endpoints_only() -> None:
    sel = policy_endpoint_selector(gnp("app == 'db' || all()", "all()"))
    assert sel == p("(app == 'db' || has(projectcalico.org/namespace)) && has(projectcalico.org/namespace)")
    assert not sel.evaluate({"app": "db"})  # a host endpoint no longer matches


def test_global_policy_combines_namespace_and_service_account_selectors() -> None:
    sel = policy_endpoint_selector(gnp("app == 'db'", "team == 'a'", "all()"))
    assert sel == p("app == 'db' && pcns.team == 'a' && has(projectcalico.org/serviceaccount)")
    assert sel.evaluate(pod("prod", {"app": "db"}, {"team": "a"}))
    assert not sel.evaluate(pod("prod", {"app": "db"}, {"team": "b"}))


def test_global_policy_service_account_all_replaces_all_in_the_policy_selector() -> None:
    # Calico replaces all() in the whole combined string, the user's selector included.
    assert policy_endpoint_selector(gnp("all() || x == 'y'", None, "role == 'r'")) == p(
        "(has(projectcalico.org/serviceaccount) || x == 'y') && pcsa.role == 'r'"
    )


def test_global_policy_without_extra_selectors_is_its_selector() -> None:
    assert policy_endpoint_selector(gnp("app == 'db'")) == p("app == 'db'")
    assert policy_endpoint_selector(gnp("")) == All()


# --- rule entities: §1.4 "Consequences" ---------------------------------------------------------------


def test_np_rule_with_only_not_selector_is_still_scoped_to_the_policy_namespace() -> None:
    pos, neg = entity_selectors(EntityRule(not_selector=p("app == 'x'")), np("prod"))
    assert pos == Eq("projectcalico.org/namespace", "prod")
    assert neg == p("app == 'x'")  # raw: neither prefixed nor namespace-scoped


def test_gnp_rule_with_only_not_selector_has_no_positive_selector() -> None:
    assert entity_selectors(EntityRule(not_selector=p("app == 'x'")), gnp()) == (None, p("app == 'x'"))


def test_rule_with_only_nets_and_ports_has_no_selector_even_in_a_network_policy() -> None:
    assert entity_selectors(EntityRule(), np("prod")) == (None, None)


def test_namespace_selector_alone_matches_endpoints_and_network_sets_in_selected_namespaces() -> None:
    pos, neg = entity_selectors(EntityRule(namespace_selector=p("team == 'a'")), np("prod"))
    assert neg is None
    assert pos == Eq("pcns.team", "a")
    assert matches(pos, pod("dev", {}, {"team": "a"}))
    assert matches(pos, network_set("dev", {"kind": "db"}, {"team": "a"}))
    assert not matches(pos, pod("prod", {}, {"team": "b"}))


def test_namespace_selector_all_matches_every_namespaced_object_but_no_global_one() -> None:
    pos, _ = entity_selectors(EntityRule(namespace_selector=All()), gnp())
    assert pos == Has("projectcalico.org/namespace")
    assert matches(pos, network_set("dev", {}))
    assert not matches(pos, {"role": "gns"})  # a GlobalNetworkSet or HostEndpoint


@pytest.mark.parametrize("ns_selector", ["global()", "!all()"])
def test_global_or_not_all_namespace_selector_scopes_to_non_namespaced_objects(ns_selector: str) -> None:
    pos, _ = entity_selectors(EntityRule(selector=p("role == 'gns'"), namespace_selector=p(ns_selector)), np("prod"))
    assert matches(pos, {"role": "gns"})  # GlobalNetworkSet labels: no projectcalico.org/namespace
    assert not matches(pos, pod("prod", {"role": "gns"}))
    assert not matches(pos, network_set("prod", {"role": "gns"}))


def test_not_global_namespace_selector_means_namespaced_only() -> None:
    pos, _ = entity_selectors(EntityRule(namespace_selector=p("!global()")), gnp())
    assert pos == Has("projectcalico.org/namespace")  # "!!has(...)" as Felix re-parses it
    assert matches(pos, pod("any"))
    assert not matches(pos, {"role": "gns"})


def test_service_account_names_in_np_are_restricted_to_the_policy_namespace() -> None:
    side = EntityRule(service_accounts=ServiceAccountMatch(names=("api", "web")))
    pos, _ = entity_selectors(side, np("prod"))
    assert pos == And((Eq("projectcalico.org/namespace", "prod"),
                       In("projectcalico.org/serviceaccount", frozenset({"api", "web"}))))
    assert matches(pos, pod("prod", sa="api"))
    assert not matches(pos, pod("dev", sa="api"))


def test_service_account_names_in_gnp_match_that_name_in_every_namespace() -> None:
    pos, _ = entity_selectors(EntityRule(service_accounts=ServiceAccountMatch(names=("api",))), gnp())
    assert pos == In("projectcalico.org/serviceaccount", frozenset({"api"}))
    assert matches(pos, pod("dev", sa="api")) and matches(pos, pod("prod", sa="api"))


def test_service_account_selector_is_prefixed_and_anded_with_names_and_selector() -> None:
    side = EntityRule(
        selector=p("app == 'x'"),
        service_accounts=ServiceAccountMatch(names=("api",), selector=p("role == 'r'")),
    )
    pos, _ = entity_selectors(side, gnp())
    assert pos == p("pcsa.role == 'r' && projectcalico.org/serviceaccount in {'api'} && app == 'x'")


def test_service_account_selector_all_is_not_replaced_in_rules() -> None:
    pos, _ = entity_selectors(EntityRule(service_accounts=ServiceAccountMatch(selector=All())), gnp())
    assert pos == All()


def test_namespace_selector_replaces_the_np_namespace_and_scopes_the_selector() -> None:
    side = EntityRule(selector=p("app == 'x'"), namespace_selector=p("projectcalico.org/name == 'dev'"))
    pos, _ = entity_selectors(side, np("prod"))
    assert pos == p("pcns.projectcalico.org/name == 'dev' && app == 'x'")
    assert matches(pos, pod("dev", {"app": "x"}))
    assert not matches(pos, pod("prod", {"app": "x"}))
