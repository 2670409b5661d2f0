"""Server-side apply of object dicts, object by object, with the apiserver's warnings kept.

Why server-side apply: a second apply of the same objects is a no-op the apiserver itself detects,
conflicts with other field managers surface as 409s instead of silent overwrites, and
``--dry-run=server`` runs the real admission and schema validation (the seed's ``unknown field``
warnings only show up there).

Order: Namespaces, then Antrea Tiers, then (Cluster)Groups, then everything else (policies), because
policies name their Tier and groups and the apiserver's admission webhooks of a real Antrea reject a
policy whose Tier does not exist yet. Within a rank the caller's order is kept.

Each object's outcome is one of created / configured / unchanged / failed, with the apiserver's
``Warning`` headers. A field the CRD schema does not declare makes server-side apply fail the object
(it does not prune it silently as a create would); the outcome then carries the apiserver's
``unknown field "..."`` warnings, so the user sees which field.

"Unchanged" needs the object as it was before: the kinds involved are listed once up front
(O(kinds) requests, not one GET per object), and the apiserver's answer is compared with it, ignoring
bookkeeping fields. That works for dry runs too, where nothing is stored.

``backup_objects`` writes objects to a timestamped YAML file before anything changes, stripped of
server-managed fields so ``kubectl apply -f`` can restore them.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient, resource_path
from kubectl_antrea_migrate.errors import ClusterError

__all__ = [
    "FIELD_MANAGER",
    "Action",
    "AppliedObject",
    "ApplyResult",
    "apply_objects",
    "backup_objects",
    "strip_server_fields",
]

FIELD_MANAGER = "kubectl-antrea-migrate"
_RANK = {"Namespace": 0, "Tier": 1, "ClusterGroup": 2, "Group": 2}
_DEFAULT_RANK = 3
# Fields the server owns; two objects that differ only there are the same object to a user.
_SERVER_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")


class Action(Enum):
    """What applying one object did."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AppliedObject:
    """The outcome for one object.

    Attributes:
        kind, namespace, name: which object (``namespace`` is ``""`` for cluster-scoped kinds).
        action: created, configured, unchanged or failed.
        warnings: the apiserver's ``Warning`` headers for this request (e.g. ``unknown field ...``).
        error: why it failed (``""`` unless ``action`` is ``FAILED``).
    """

    api_version: str
    kind: str
    namespace: str
    name: str
    action: Action
    warnings: tuple[str, ...] = ()
    error: str = ""

    @property
    def ref(self) -> str:
        """``Kind namespace/name`` or ``Kind name``."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Every object's outcome, in apply order; ``dry_run`` says nothing was stored."""

    objects: tuple[AppliedObject, ...]
    dry_run: bool = False

    @property
    def warnings(self) -> tuple[str, ...]:
        """All warnings, each prefixed with its object."""
        return tuple(f"{o.ref}: {w}" for o in self.objects for w in o.warnings)

    @property
    def failed(self) -> tuple[AppliedObject, ...]:
        """The objects the apiserver refused."""
        return tuple(o for o in self.objects if o.action is Action.FAILED)

    @property
    def changed(self) -> bool:
        """True when any object was created or configured."""
        return any(o.action in (Action.CREATED, Action.CONFIGURED) for o in self.objects)


@dataclass(frozen=True, slots=True)
class _Resource:
    plural: str
    namespaced: bool


def apply_objects(
    client: KubeClient,
    objects: Iterable[Mapping[str, Any]],
    *,
    dry_run: bool = False,
    field_manager: str = FIELD_MANAGER,
    force: bool = False,
) -> ApplyResult:
    """Server-side apply ``objects`` in dependency order, one PATCH each.

    Args:
        client: the cluster client.
        objects: full object dicts (``apiVersion``, ``kind``, ``metadata.name``, and
            ``metadata.namespace`` for namespaced kinds).
        dry_run: ``--dry-run=server``: validated and admitted by the apiserver, not stored.
        field_manager: the SSA field manager (``kubectl-antrea-migrate``).
        force: take over fields owned by other managers instead of failing with a conflict.

    Returns:
        One outcome per object; refusals by the apiserver (invalid, conflict, forbidden) are
        outcomes, not exceptions, so the other objects still get applied.

    Raises:
        ClusterError: an object's kind is not served, or the apiserver cannot be reached.
    """
    ordered = sorted(objects, key=lambda o: _RANK.get(str(o.get("kind")), _DEFAULT_RANK))
    resources = _resolve(client, ordered)
    current = _current(client, ordered, resources)
    query: dict[str, str | int | bool] = {"fieldManager": field_manager, "force": force}
    if dry_run:
        query["dryRun"] = "All"
    outcomes = [_apply_one(client, obj, resources, current, query) for obj in ordered]
    return ApplyResult(tuple(outcomes), dry_run)


def _apply_one(
    client: KubeClient,
    obj: Mapping[str, Any],
    resources: Mapping[tuple[str, str], _Resource],
    current: Mapping[tuple[str, str, str, str], dict[str, Any]],
    query: Mapping[str, str | int | bool],
) -> AppliedObject:
    api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
    meta = obj.get("metadata") or {}
    resource = resources[(api_version, kind)]
    namespace = str(meta.get("namespace") or "") if resource.namespaced else ""
    name = str(meta.get("name") or "")
    group, _, version = api_version.rpartition("/")
    path = resource_path(group, version, resource.plural, namespace=namespace, name=name)
    try:
        # JSON is YAML, so the apply patch goes out as JSON with the apply content type.
        resp = client.request("PATCH", path, query=query, body=dict(obj), content_type="application/apply-patch+yaml")
    except ApiError as exc:
        warnings = exc.warnings or _field_warnings(client, obj, resource, namespace, exc)
        return AppliedObject(api_version, kind, namespace, name, Action.FAILED, warnings, str(exc))
    before = current.get((api_version, kind, namespace, name))
    if resp.status == 201 or before is None:
        action = Action.CREATED
    elif strip_server_fields(resp.body) == strip_server_fields(before):
        action = Action.UNCHANGED
    else:
        action = Action.CONFIGURED
    return AppliedObject(api_version, kind, namespace, name, action, resp.warnings)


def _field_warnings(
    client: KubeClient, obj: Mapping[str, Any], resource: _Resource, namespace: str, exc: ApiError
) -> tuple[str, ...]:
    """The apiserver's field warnings (``unknown field "spec.x"``) for an object apply refused.

    Server-side apply refuses a field the schema lacks outright (``field not declared in schema``,
    HTTP 500) and names it in its own words; a dry-run create with ``fieldValidation=Warn`` makes the
    apiserver's decoder list every such field as kubectl shows them. The create itself may fail
    (409 when the object exists): its warnings are what we want.
    """
    if exc.status not in (400, 422, 500):
        return ()
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    path = resource_path(group, version, resource.plural, namespace=namespace)
    query: dict[str, str | int | bool] = {"dryRun": "All", "fieldValidation": "Warn"}
    try:
        return client.request("POST", path, query=query, body=dict(obj)).warnings
    except ApiError as probe:
        return probe.warnings


def _resolve(client: KubeClient, objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], _Resource]:
    """Map (apiVersion, kind) to its plural and scope, one discovery GET per apiVersion."""
    wanted: dict[str, set[str]] = {}
    for obj in objects:
        if not obj.get("apiVersion") or not obj.get("kind") or not (obj.get("metadata") or {}).get("name"):
            raise ClusterError(f"cannot apply an object without apiVersion, kind and metadata.name: {dict(obj)!r:.200}")
        wanted.setdefault(str(obj["apiVersion"]), set()).add(str(obj["kind"]))
    resolved: dict[tuple[str, str], _Resource] = {}
    for api_version, kinds in wanted.items():
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        listing = client.get_optional(path) or {}
        for res in listing.get("resources", ()):
            if "/" not in res["name"] and res.get("kind") in kinds:
                resolved[(api_version, res["kind"])] = _Resource(res["name"], bool(res.get("namespaced")))
        missing = sorted(k for k in kinds if (api_version, k) not in resolved)
        if missing:
            raise ClusterError(
                f"the cluster does not serve {', '.join(missing)} in {api_version}: are the CRDs installed?"
            )
    return resolved


def _current(
    client: KubeClient, objects: Iterable[Mapping[str, Any]], resources: Mapping[tuple[str, str], _Resource]
) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """The live objects of the kinds being applied, keyed by (apiVersion, kind, namespace, name)."""
    kinds = sorted({(str(o["apiVersion"]), str(o["kind"])) for o in objects})
    live: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for api_version, kind in kinds:
        group, _, version = api_version.rpartition("/")
        for item in client.list_pages(resource_path(group, version, resources[(api_version, kind)].plural)):
            meta = item.get("metadata") or {}
            live[(api_version, kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = item
    return live


def strip_server_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without server-managed metadata and ``status`` (what a user would restore)."""
    clean = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_METADATA}
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    clean["metadata"] = meta
    return clean


def backup_objects(
    objects: Iterable[Mapping[str, Any]],
    directory: Path,
    *,
    prefix: str = "calico-backup",
    now: datetime.datetime | None = None,
) -> Path:
    """Write ``objects`` to ``<directory>/<prefix>-<UTC timestamp>.yaml`` and return the path.

    Objects are stripped of server-managed fields (``strip_server_fields``), so
    ``kubectl apply -f <file>`` restores them. An existing file is never overwritten: a second backup
    in the same second gets a ``-2``, ``-3``... suffix.

    Raises:
        ClusterError: the file cannot be written (the caller must not change anything then).
    """
    stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    docs = [strip_server_fields(o) for o in objects]
    text = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False) if docs else ""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 1000):
            suffix = "" if attempt == 1 else f"-{attempt}"
            path = directory / f"{prefix}-{stamp}{suffix}.yaml"
            try:
                with path.open("x", encoding="utf-8") as out:
                    out.write(text)
                    out.flush()
                    os.fsync(out.fileno())
                return path
            except FileExistsError:
                continue
    except OSError as exc:
        raise ClusterError(f"cannot write the backup in {directory}: {exc}") from exc
    raise ClusterError(f"cannot write the backup in {directory}: too many backups named {prefix}-{stamp}*")
