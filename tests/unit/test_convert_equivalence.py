"""A conversion reported exact must decide every probe the way Calico does.

The verdicts come from the two independent evaluators in ``verify/`` (Calico's tiers, order, Pass,
end-of-tier and profiles; Antrea's tiers, priorities, Pass, K8s NP stage and baseline) over a
universe of synthetic endpoints and traffic derived from the policies. This checks the converter's
claims, not its text: golden cases and random policies alike.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings

from kubectl_antrea_migrate.calico.load import load_objects
from kubectl_antrea_migrate.calico.model import DEFAULT_TIER, Inventory
from kubectl_antrea_migrate.convert import convert
from kubectl_antrea_migrate.convert.result import ConversionResult, ConvertOptions
from kubectl_antrea_migrate.errors import InputError, Location
from kubectl_antrea_migrate.verify.diff import verify
from tests.unit.test_antrea_schema import documents
from tests.unit.test_convert_golden import CASES, options_from


def _differences(inventory: Inventory, result: ConversionResult) -> list[str]:
    # Layout B translates the K8s NetworkPolicies and tells the user to delete the originals.
    layout_b = any(p.tier == DEFAULT_TIER for p in inventory.policies)
    report = verify(inventory, result.objects, pods=(), kubernetes_policies=() if layout_b else None)
    return [str(d) for d in report.differences[:5]]


def _load(docs: list[dict[str, Any]]) -> Inventory:
    return load_objects([(d, Location(file="case.yaml", document=i + 1)) for i, d in enumerate(docs)])


def test_exact_golden_conversions_agree_with_calico_on_every_probe() -> None:
    checked = 0
    for path in CASES:
        case = yaml.safe_load(path.read_text())
        inventory = _load(case["input"])
        result = convert(inventory, options_from(case.get("options")))
        if result.blocked:
            continue  # refused: nothing is claimed
        assert _differences(inventory, result) == [], path.stem
        checked += 1
    assert checked >= 20


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=documents())
def test_exact_random_conversions_agree_with_calico_on_every_probe(docs: list[dict[str, Any]]) -> None:
    try:
        inventory = _load(docs)
    except InputError:
        return
    result = convert(inventory, ConvertOptions())
    if not result.blocked:
        assert _differences(inventory, result) == []
