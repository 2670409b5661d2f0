"""``verify``: a hand-written equivalent Antrea translation shows no difference; broken ones are caught.

The Calico side (shared world in ``verify_world.py``):

* tier ``security`` (order 100): GNP ``guard`` on ``app == 'web'``: Deny from ``app == 'client'``, then Pass.
* tier ``default``: NP ``prod/db`` (order 100): Allow TCP 5432 from ``app == 'web'``;
  K8s NP ``prod/web``: ingress only from ``app=db``.

The Antrea side is what the mapping spec prescribes (Layout B: the default tier emulated by the
custom tier ``calico-default`` with an end-of-tier policy; the native K8s NP stays in the cluster and
is reached through the Pass). Hand-computed verdicts: web accepts only db; db accepts only web on
TCP 5432; everything else is allowed.
"""

from __future__ import annotations

import dataclasses

from kubectl_antrea_migrate.antrea.model import (
    AntreaAction,
    AntreaObjects,
    AntreaPolicy,
    AntreaRule,
    AntreaTier,
    AppliedTo,
    Peer,
    PolicyKind,
    PortSpec,
)
from kubectl_antrea_migrate.calico.model import PortRange, Tier
from kubectl_antrea_migrate.kube.model import (
    KubernetesNetworkPolicy,
    LabelMap,
    LabelSelector,
    NetworkPolicyPeer,
    NetworkPolicyRule,
    Pod,
)
from kubectl_antrea_migrate.verify.diff import VerifyReport, verify
from kubectl_antrea_migrate.verify.verdict import Verdict
from tests.unit.verify_world import inventory, policy, rule, side


def labels(**items: str) -> LabelSelector:
    return LabelSelector(LabelMap(items))


PROD = labels(**{"kubernetes.io/metadata.name": "prod"})
ALL_NS = LabelSelector()

KNP_WEB = KubernetesNetworkPolicy(
    "web",
    "prod",
    labels(app="web"),
    frozenset({"Ingress"}),
    (NetworkPolicyRule((NetworkPolicyPeer(pod_selector=labels(app="db")),)),),
)
CALICO = inventory(
    policy(
        "guard",
        "app == 'web'",
        tier="security",
        order=10,
        ingress=(rule("Deny", source=side("app == 'client'")), rule("Pass")),
    ),
    policy(
        "db",
        "app == 'db'",
        namespace="prod",
        order=100,
        ingress=(
            rule("Allow", protocol=6, source=side("app == 'web'"), destination=side(ports=(PortRange(5432, 5432),))),
        ),
    ),
    tiers=(Tier("security", 100.0),),
    kubernetes_policies=(KNP_WEB,),
)

DB_IN_PROD = AppliedTo(pod_selector=labels(app="db"), namespace_selector=PROD)
WEB_IN_PROD = AppliedTo(pod_selector=labels(app="web"), namespace_selector=PROD)


def _rule(
    name: str, action: str, *peers: Peer, ports: tuple[PortSpec, ...] = (), applied_to: tuple[AppliedTo, ...] = ()
) -> AntreaRule:
    return AntreaRule(name, AntreaAction(action), peers, ports, (), applied_to)


def _acnp(
    name: str, tier: str, priority: float, applied_to: tuple[AppliedTo, ...], ingress: tuple[AntreaRule, ...]
) -> AntreaPolicy:
    return AntreaPolicy(PolicyKind.CLUSTER_NETWORK_POLICY, name, None, tier, priority, applied_to, ingress)


GUARD = _acnp(
    "guard",
    "security",
    1,
    (AppliedTo(pod_selector=labels(app="web")),),
    (
        _rule("ingress-0", "Drop", Peer(pod_selector=labels(app="client"))),
        _rule("ingress-1", "Pass"),
    ),
)
DB = _acnp(
    "db",
    "calico-default",
    1,
    (DB_IN_PROD,),
    (
        _rule(
            "ingress-0",
            "Allow",
            Peer(pod_selector=labels(app="web"), namespace_selector=PROD),
            ports=(PortSpec("TCP", 5432),),
        ),
    ),
)
KNP_AS_ACNP = _acnp(
    "knp-web",
    "calico-default",
    2,
    (WEB_IN_PROD,),
    (_rule("ingress-0", "Allow", Peer(pod_selector=labels(app="db"), namespace_selector=PROD)),),
)
END_OF_TIER = _acnp(
    "end-of-tier", "calico-default", 3, (), (_rule("ingress", "Drop", applied_to=(DB_IN_PROD, WEB_IN_PROD)),)
)
TIERS = (AntreaTier("security", 10), AntreaTier("calico-default", 20))
ANTREA = AntreaObjects(TIERS, (), (GUARD, DB, KNP_AS_ACNP, END_OF_TIER))


def _with(*policies: AntreaPolicy) -> AntreaObjects:
    return dataclasses.replace(ANTREA, policies=policies)


def _probes(report: VerifyReport) -> set[tuple[str, str, str]]:
    return {(d.src.name, d.dst.name, d.traffic.describe()) for d in report.differences}


def test_equivalent_translation_has_no_difference() -> None:
    report = verify(CALICO, ANTREA)
    assert report.probes > 100
    assert report.differences == ()
    assert report.exit_code == 0


def test_dropped_rule_is_caught() -> None:
    broken = dataclasses.replace(DB, ingress=())
    report = verify(CALICO, _with(GUARD, broken, KNP_AS_ACNP, END_OF_TIER))
    assert report.exit_code == 1
    assert ("prod/web", "prod/db", "TCP/5432") in _probes(report)
    diff = next(d for d in report.differences if d.dst.name == "prod/db")
    assert diff.calico.verdict is Verdict.ALLOW and diff.antrea.verdict is Verdict.DENY
    assert diff.calico.ingress is not None and diff.calico.ingress.policy == "NetworkPolicy prod/db"
    assert diff.antrea.ingress is not None and diff.antrea.ingress.policy == "ClusterNetworkPolicy end-of-tier"


def test_swapped_priorities_are_caught() -> None:
    report = verify(
        CALICO,
        _with(GUARD, dataclasses.replace(DB, priority=3), KNP_AS_ACNP, dataclasses.replace(END_OF_TIER, priority=1)),
    )
    assert ("prod/web", "prod/db", "TCP/5432") in _probes(report)


def test_pass_turned_into_allow_is_caught() -> None:
    allow = dataclasses.replace(GUARD, ingress=(GUARD.ingress[0], _rule("ingress-1", "Allow")))
    report = verify(CALICO, _with(allow, DB, KNP_AS_ACNP, END_OF_TIER))
    assert ("dev/batch", "prod/web", "TCP/80") in _probes(report)
    diff = next(d for d in report.differences if d.src.name == "dev/batch" and d.dst.name == "prod/web")
    assert diff.calico.ingress is not None and diff.calico.ingress.rule == "end of tier"
    assert diff.antrea.ingress is not None and diff.antrea.ingress.rule == "ingress-1"
    assert "Calico deny" in diff.describe() and "Antrea allow" in diff.describe()


def test_missing_kubernetes_policy_on_the_antrea_side_is_caught() -> None:
    # The K8s NP was deleted before its Antrea stand-in covered the Pass landing point.
    report = verify(CALICO, ANTREA, kubernetes_policies=())
    assert ("dev/batch", "prod/web", "TCP/80") in _probes(report)


def test_matrix_lists_allowed_traffic_per_pair() -> None:
    report = verify(CALICO, ANTREA, matrix=True)
    cells = {(c.src.name, c.dst.name): c for c in report.matrix}
    web_to_db = cells[("prod/web", "prod/db")]
    assert [t.describe() for t in web_to_db.calico_allowed] == ["TCP/5432"]
    assert web_to_db.antrea_allowed == web_to_db.calico_allowed
    assert cells[("prod/db", "prod/web")].calico_allowed  # db reaches web on every port
    assert not verify(CALICO, ANTREA).matrix


def test_offline_without_pods_uses_synthetic_pods_and_still_catches_errors() -> None:
    offline = dataclasses.replace(CALICO, pods=())
    report = verify(offline, ANTREA)
    assert report.synthetic_pods and report.differences == ()
    broken = verify(offline, _with(GUARD, dataclasses.replace(DB, ingress=()), KNP_AS_ACNP, END_OF_TIER))
    assert broken.differences


def test_host_network_pods_are_not_endpoints() -> None:
    host = Pod("node-exporter", "prod", LabelMap({"app": "db"}), ips=("172.18.0.2",), host_network=True)
    report = verify(CALICO, ANTREA, pods=(*CALICO.pods, host), matrix=True)
    assert all("node-exporter" not in c.src.name for c in report.matrix)


def test_shared_antrea_priorities_are_noted() -> None:
    assert verify(CALICO, ANTREA).notes == ()
    tied = verify(CALICO, _with(GUARD, DB, dataclasses.replace(KNP_AS_ACNP, priority=1), END_OF_TIER))
    assert tied.notes == (
        "tier calico-default: ClusterNetworkPolicy db, ClusterNetworkPolicy knp-web share priority 1; Antrea's order "
        "between them is undefined (verify assumed ClusterNetworkPolicy first, then namespace and name)",
    )
