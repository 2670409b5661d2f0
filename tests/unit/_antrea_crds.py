"""Strict validation of rendered manifests against the real Antrea CRD schemas.

The apiserver prunes or rejects unknown fields (the seed tool's ``unknown field "spec.ingress[0].to"``
warning); jsonschema ignores them unless told. So every object schema that lists ``properties`` and
does not carry ``x-kubernetes-preserve-unknown-fields`` gets ``additionalProperties: false``, and the
Kubernetes extensions (``x-kubernetes-int-or-string``, ``format: cidr``) get real checks.
"""

from __future__ import annotations

import ipaddress
from functools import cache
from typing import Any

import jsonschema
import yaml

from tests._prereq import require
from tests.conftest import UPSTREAM

CRD_DIR = UPSTREAM / "antrea" / "crds"
_FILES = {
    "ClusterNetworkPolicy": "clusternetworkpolicy.yaml",
    "NetworkPolicy": "networkpolicy.yaml",
    "Tier": "tier.yaml",
    "ClusterGroup": "clustergroup.yaml",
    "Group": "group.yaml",
}


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


def _is_cidr(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return True


_FORMATS = jsonschema.FormatChecker()
_FORMATS.checks("cidr")(_is_cidr)


@cache
def validator(kind: str) -> jsonschema.Draft7Validator:
    """A strict validator for one Antrea kind (crd.antrea.io/v1beta1)."""
    require(CRD_DIR.is_dir(), f"needs the Antrea CRDs at {CRD_DIR}")
    crd = yaml.safe_load((CRD_DIR / _FILES[kind]).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    schema = _strict(version["schema"]["openAPIV3Schema"])
    # metadata is validated by the apiserver itself; keep ours to name/namespace/labels/annotations.
    schema["properties"]["metadata"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"},
            "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    schema["properties"]["apiVersion"] = {"const": "crd.antrea.io/v1beta1"}
    schema["properties"]["kind"] = {"const": kind}
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return jsonschema.Draft7Validator(schema, format_checker=_FORMATS)


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    """Every schema violation of one manifest, as ``path: message`` lines (empty = valid)."""
    kind = manifest.get("kind")
    if kind not in _FILES:
        return [f"unknown kind {kind!r}"]
    errors = validator(kind).iter_errors(manifest)
    return [f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in errors]


def assert_valid(manifests: list[dict[str, Any]]) -> None:
    """Fail with every violation of every manifest."""
    problems = [
        f"{m.get('kind')}/{m.get('metadata', {}).get('name')}: {err}" for m in manifests for err in schema_errors(m)
    ]
    assert not problems, "\n".join(problems)
