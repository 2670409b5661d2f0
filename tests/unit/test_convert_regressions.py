"""Minimal cases found by the convert → verify property test (``test_convert_verify_property.py``).

Each case is the smallest input (Calico documents plus the pods that expose it) on which an accepted
conversion made Antrea decide differently from Calico. The assertion is the correct behaviour: the
conversion is either refused at the named field, or it verifies with zero differences against those
pods. Cases still open in the converter are marked ``xfail(strict=True)``: they turn red the moment
the converter is fixed, so the marker is removed together with the bug.
"""

from __future__ import annotations

from typing import Any

from kubectl_antrea_migrate.calico.load import load_objects
from kubectl_antrea_migrate.calico.model import DEFAULT_TIER
from kubectl_antrea_migrate.convert import convert
from kubectl_antrea_migrate.convert.result import ConvertOptions, Fidelity, NamespacedAs
from kubectl_antrea_migrate.errors import Location
from kubectl_antrea_migrate.kube.model import LabelMap, Pod
from kubectl_antrea_migrate.verify.diff import verify


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _calico(kind: str, name: str, spec: dict[str, Any], namespace: str | None = None, **meta: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **meta}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": metadata, "spec": spec}


def _refused_at_or_verified(
    docs: list[dict[str, Any]], pods: tuple[Pod, ...], field: str, options: ConvertOptions = ConvertOptions()
) -> None:
    """Assert the correct outcome: refused with a problem under ``field``, or zero differences."""
    inventory = load_objects([(d, Location(file="case.yaml", document=i + 1)) for i, d in enumerate(docs)])
    result = convert(inventory, options)
    if result.blocked:
        problems = [p.path for r in result.reports if r.fidelity is Fidelity.UNSUPPORTED for p in r.problems]
        assert any(path.startswith(field) for path in problems), problems
        return
    layout_b = any(p.tier == DEFAULT_TIER for p in inventory.policies)
    report = verify(inventory, result.objects, pods=pods, kubernetes_policies=() if layout_b else None)
    assert [d.describe() for d in report.differences[:3]] == []


# --- local-side selectors are address matches: NetworkSets covering pod IPs take part --------------


def test_local_side_selector_matching_a_network_set_that_covers_the_pod() -> None:
    """Calico matches ``destination.selector`` against the destination IP (§1.4: IPs(S) includes
    NetworkSet CIDRs). The unlabelled NetworkSet prod/set0 satisfies ``!has(role)`` and holds the pod's
    IP 10.244.1.13, so Calico allows SCTP/53 into pod3 although pod3 has ``role=a``. The bug: the
    converter accepted it with an appliedTo that selects by pod labels only, so pod3 fell to the
    end-of-tier Drop. An appliedTo cannot be IP-based, so the exact answer is a refusal.
    """
    docs = [
        _namespace("prod"),
        _calico("NetworkSet", "set0", {"nets": ["10.244.1.0/24"]}, "prod"),
        _calico(
            "NetworkPolicy",
            "p3",
            {
                "ingress": [
                    {"action": "Allow", "protocol": "SCTP", "destination": {"selector": "!has(role)", "ports": [53]}}
                ]
            },
            "prod",
        ),
    ]
    pods = (Pod("pod3", "prod", LabelMap({"role": "a"}), ips=("10.244.1.13",)),)
    _refused_at_or_verified(docs, pods, "spec.ingress[0].destination", ConvertOptions(namespaced_as=NamespacedAs.ACNP))


def test_local_side_not_selector_matching_a_network_set_that_covers_the_pod() -> None:
    """The local side must hold an IP outside IPs(notSelector) (§1.4), and the notSelector is raw (not
    namespace-scoped). NetworkSet prod/set0 (``app=web``) matches it and holds pod5's IP, so Calico's
    rule does not match pod5 and the end-of-tier Drop denies. The bug: the converter's appliedTo
    ``NOT (app in {a, web} AND role absent)`` selected the unlabelled pod5 and allowed.
    """
    docs = [
        _namespace("prod"),
        _namespace("dev"),
        _calico("NetworkSet", "set0", {"nets": ["10.244.1.0/24"]}, "prod", labels={"app": "web"}),
        _calico(
            "NetworkPolicy",
            "p1",
            {"ingress": [{"action": "Allow", "destination": {"notSelector": "app in {'a', 'web'} && !has(role)"}}]},
            "dev",
        ),
    ]
    pods = (Pod("pod5", "dev", ips=("10.244.1.15",)), Pod("client", "prod", ips=("10.244.0.20",)))
    _refused_at_or_verified(docs, pods, "spec.ingress[0].destination", ConvertOptions(namespaced_as=NamespacedAs.ACNP))


def test_local_side_non_namespaced_selector_matching_a_global_set_that_covers_the_pod() -> None:
    """``namespaceSelector: '!all()'`` becomes ``!has(projectcalico.org/namespace)`` (§1.4): no pod
    matches it, but GlobalNetworkSet set1 does, and its CIDR 10.244.0.0/24 holds the pod's IP. Calico
    therefore allows every ingress to pod4. The bug: the converter dropped the rule as "selects no pod".
    """
    docs = [
        _namespace("dev"),
        _calico("GlobalNetworkSet", "set1", {"nets": ["10.244.0.0/24"]}),
        _calico(
            "NetworkPolicy",
            "p0",
            {"ingress": [{"action": "Allow", "destination": {"namespaceSelector": "!all()"}}]},
            "dev",
        ),
    ]
    pods = (Pod("pod4", "dev", ips=("10.244.0.14",)),)
    _refused_at_or_verified(docs, pods, "spec.ingress[0].destination")
