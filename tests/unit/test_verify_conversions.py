"""Every conversion this tool accepts is proven by ``verify``: the public corpus, the examples, and a
pod population that is not derived from the selectors (real-looking pods with arbitrary labels).

A difference here is a converter bug (or an evaluator bug): the test names the file and the probe.
"""

from __future__ import annotations

from pathlib import Path

from kubectl_antrea_migrate.calico.load import load_paths
from kubectl_antrea_migrate.calico.model import DEFAULT_TIER, Inventory
from kubectl_antrea_migrate.convert import convert
from kubectl_antrea_migrate.convert.result import ConversionResult, ConvertOptions
from kubectl_antrea_migrate.errors import InputError
from kubectl_antrea_migrate.kube.model import ContainerPort, LabelMap, Pod
from kubectl_antrea_migrate.verify.diff import verify
from tests.unit.test_convert_corpus import CORPUS, corpus_files

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _differences(inventory: Inventory, result: ConversionResult, pods: tuple[Pod, ...] | None = ()) -> list[str]:
    layout_b = any(p.tier == DEFAULT_TIER for p in inventory.policies)
    report = verify(inventory, result.objects, pods=pods, kubernetes_policies=() if layout_b else None)
    return [d.describe() for d in report.differences[:5]]


def test_every_accepted_corpus_conversion_verifies() -> None:
    verified, failures = 0, {}
    for name in corpus_files():
        try:
            inventory = load_paths([str(CORPUS / name)])
        except InputError:
            continue  # broken as published: pinned in test_corpus_load
        result = convert(inventory, ConvertOptions())
        if result.blocked:
            continue  # refused: pinned in test_convert_corpus
        differences = _differences(inventory, result)
        if differences:
            failures[name] = differences
        verified += 1
    assert failures == {}
    assert verified >= 50  # today 56 of the 97 files convert; a drop means the converter refuses more


def test_examples_verify_with_synthetic_pods() -> None:
    inventory = load_paths([str(EXAMPLES)])
    result = convert(inventory, ConvertOptions())
    assert not result.blocked
    assert _differences(inventory, result) == []


def _shop_pods() -> tuple[Pod, ...]:
    """A hand-made population for the examples: labels the selectors mention and labels they do not."""
    specs = [
        ("shop", "frontend-1", {"app": "frontend", "metrics": "true"}, [("http", 8443)]),
        ("shop", "backend-1", {"app": "backend"}, [("http", 8080)]),
        ("shop", "backend-canary", {"app": "backend", "tier": "canary"}, [("http", 8080)]),
        ("shop", "partner-lookalike", {"role": "partner"}, []),
        ("payments", "postgres-0", {"app": "postgres", "metrics": "true"}, [("metrics", 9187)]),
        ("payments", "batch", {"job": "reconcile"}, []),
        ("monitoring", "prometheus-0", {"app": "prometheus"}, []),
        ("kube-system", "coredns-1", {"k8s-app": "kube-dns"}, [("dns", 53)]),
        ("kube-system", "bad-actor", {"threat-feed": "known-bad"}, []),
    ]
    pods = []
    for i, (ns, name, labels, ports) in enumerate(specs):
        pods.append(
            Pod(name=name, namespace=ns, labels=LabelMap(labels), ips=(f"10.244.{i}.10",),
                ports=tuple(ContainerPort(port=p, name=n) for n, p in ports), phase="Running")
        )
    return tuple(pods)


def test_examples_verify_with_real_looking_pods() -> None:
    inventory = load_paths([str(EXAMPLES)])
    result = convert(inventory, ConvertOptions())
    assert _differences(inventory, result, _shop_pods()) == []
