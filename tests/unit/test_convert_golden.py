"""Golden conversions: Calico objects in, Antrea manifests and fidelity reports out (sqlglot ``validate_all`` style).

Each file in ``convert_golden/`` holds a ``description``, optional ``options`` (ConvertOptions fields),
the ``input`` objects exactly as a user writes them, and the ``expect``ed result: the fidelity of
every input object, every problem and note with its field path, the global notes, the lost
guarantees (partial mode) and the rendered manifests (``apiVersion`` and the source annotation
left out for brevity). Every expected manifest also validates against the real CRD schema.

The expectations were reviewed by hand against policy-mapping §4/§5/§9. To regenerate after an
intended change: ``ANTREA_MIGRATE_UPDATE_GOLDEN=1 pytest tests/unit/test_convert_golden.py`` and
review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_antrea_migrate.antrea.render import render
from kubectl_antrea_migrate.calico.load import load_objects
from kubectl_antrea_migrate.convert import convert
from kubectl_antrea_migrate.convert.result import (
    ConversionResult,
    ConvertOptions,
    DenyAction,
    Fidelity,
    NamespacedAs,
)
from kubectl_antrea_migrate.errors import Location
from tests.unit._antrea_crds import assert_valid

GOLDEN_DIR = Path(__file__).parent / "convert_golden"
CASES = sorted(GOLDEN_DIR.glob("*.yaml"))
UPDATE = os.environ.get("ANTREA_MIGRATE_UPDATE_GOLDEN") == "1"


def options_from(raw: dict[str, Any] | None) -> ConvertOptions:
    """ConvertOptions from a golden file's ``options`` mapping."""
    raw = dict(raw or {})
    kwargs: dict[str, Any] = {}
    if "namespaced_as" in raw:
        kwargs["namespaced_as"] = NamespacedAs(raw.pop("namespaced_as"))
    if "deny_action" in raw:
        kwargs["deny_action"] = DenyAction(raw.pop("deny_action"))
    if "ip_families" in raw:
        kwargs["ip_families"] = frozenset(raw.pop("ip_families"))
    kwargs.update(raw)
    return ConvertOptions(**kwargs)


def run_case(case: dict[str, Any]) -> ConversionResult:
    """Load a golden case's input objects and convert them."""
    objs = [(obj, Location(file="golden.yaml", document=i + 1)) for i, obj in enumerate(case["input"])]
    return convert(load_objects(objs), options_from(case.get("options")))


def _key(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def _slim(manifest: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in manifest.items() if k != "apiVersion"}
    meta = {k: v for k, v in out["metadata"].items() if k != "annotations"}
    out["metadata"] = meta
    return out


def _finding(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


def observed(result: ConversionResult) -> dict[str, Any]:
    """The comparable view of a result (what a golden file's ``expect`` holds)."""
    reports = {_key(r.kind, r.namespace, r.name): r.fidelity.value for r in result.reports}
    problems = {
        _key(r.kind, r.namespace, r.name): [_finding(f.path, f.message) for f in r.problems]
        for r in result.reports
        if r.problems
    }
    # A skipped object's reason is the loader's wording; only its fidelity is pinned here.
    notes = {
        _key(r.kind, r.namespace, r.name): [_finding(f.path, f.message) for f in r.notes]
        for r in result.reports
        if r.notes and r.fidelity is not Fidelity.SKIPPED
    }
    out: dict[str, Any] = {"reports": reports}
    if problems:
        out["problems"] = problems
    if notes:
        out["notes"] = notes
    out["global_notes"] = list(result.notes)
    if result.lost_guarantees:
        out["lost_guarantees"] = list(result.lost_guarantees)
    out["objects"] = [_slim(m) for m in render(result.objects)]
    return out


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_conversion(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    result = run_case(case)
    got = observed(result)
    if UPDATE:
        case["expect"] = got
        path.write_text(yaml.safe_dump(case, sort_keys=False, width=110, allow_unicode=True))
    assert got == case["expect"], case["description"]
    assert_valid(render(result.objects))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_input_object_gets_exactly_one_report(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    result = run_case(case)
    context_kinds = {"Namespace", "HostEndpoint", "ServiceAccount", "Pod"}
    expected = sorted(
        o["kind"] if o["apiVersion"] != "networking.k8s.io/v1" else "KubernetesNetworkPolicy"
        for o in case["input"]
        if o["kind"] not in context_kinds
    )
    assert sorted(r.kind for r in result.reports) == expected


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_refusal_emits_nothing_unless_partial(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    result = run_case(case)
    partial = bool((case.get("options") or {}).get("partial"))
    blocked = any(r.fidelity is Fidelity.UNSUPPORTED for r in result.reports)
    assert result.blocked == blocked
    if blocked and not partial:
        assert not render(result.objects)
    if not partial:
        assert not result.lost_guarantees
    elif blocked:
        assert result.lost_guarantees


def test_input_order_does_not_change_the_output() -> None:
    for path in CASES:
        case = yaml.safe_load(path.read_text())
        forward = run_case(case)
        case["input"] = list(reversed(case["input"]))
        backward = run_case(case)
        assert render(forward.objects) == render(backward.objects), path.stem
        assert forward.reports == backward.reports, path.stem
        assert forward.notes == backward.notes, path.stem
