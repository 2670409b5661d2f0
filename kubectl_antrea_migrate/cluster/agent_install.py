"""Install and uninstall the node agent: ``manifests/agent.yaml``, its TLS Secret, and the rollout wait.

Design:
- The manifest is a template with two placeholders (``${NAMESPACE}``, ``${IMAGE}``); ``render`` fills
  them in and returns plain dicts, so install and uninstall agree on exactly which objects exist.
- TLS material (``agents/tls.py``) goes into Secret ``antrea-migrate-agent-tls``. A reinstall keeps a
  Secret that is still complete and valid: the running agents loaded it at start-up, and a new CA
  would lock the plugin out of them until they restart. When the Secret is (re)generated, the pod
  template's ``kubectl-antrea-migrate/tls-checksum`` annotation changes with it, so the DaemonSet
  rolls its pods onto the new material; a kept Secret keeps the checksum and the DaemonSet unchanged.
- Everything is server-side applied, object by object and by name (so the plugin's role needs no
  cluster-wide list of Secrets): a second install of the same inputs reports every object
  ``unchanged``.
- ``wait_for_rollout`` is bounded; on timeout it names the nodes whose agent is not ready and why.
- Uninstall deletes exactly the objects of the rendered manifest plus the Secret, never a document
  annotated ``kubectl-antrea-migrate/keep-on-uninstall: "true"`` (the Namespace, usually
  ``kube-system``). "Already absent" is success. The DaemonSet goes first so no new pod starts
  while its ServiceAccount and Secret disappear; its pods are removed by the garbage collector.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from string import Template
from typing import Any

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from kubectl_antrea_migrate.agents import tls
from kubectl_antrea_migrate.cluster.apply import FIELD_MANAGER, strip_server_fields
from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient, resource_path
from kubectl_antrea_migrate.errors import ClusterError, InputError, Location, UsageError

__all__ = [
    "AGENT_LABEL",
    "AGENT_NAME",
    "DEFAULT_IMAGE",
    "DEFAULT_NAMESPACE",
    "KEEP_ANNOTATION",
    "MANIFEST",
    "SECRET_NAME",
    "TLS_CHECKSUM_ANNOTATION",
    "InstallResult",
    "ObjectAction",
    "ObjectOutcome",
    "Rollout",
    "daemon_pod_node",
    "install",
    "render",
    "uninstall",
    "wait_for_rollout",
]

def _manifest_path(name: str) -> Path:
    # A source checkout keeps manifests/ beside the package; an installed wheel ships them as data
    # files under <prefix>/share/kubectl-antrea-migrate/manifests (pyproject's data-files).
    checkout = Path(__file__).resolve().parents[2] / "manifests" / name
    if checkout.is_file():
        return checkout
    return Path(sys.prefix) / "share" / "kubectl-antrea-migrate" / "manifests" / name


MANIFEST = _manifest_path("agent.yaml")
DEFAULT_NAMESPACE = "kube-system"
DEFAULT_IMAGE = "antrea-migrate-agent:0.1.0"
AGENT_NAME = "antrea-migrate-agent"
AGENT_LABEL = "app.kubernetes.io/name=antrea-migrate-agent"
SECRET_NAME = "antrea-migrate-agent-tls"
KEEP_ANNOTATION = "kubectl-antrea-migrate/keep-on-uninstall"
TLS_CHECKSUM_ANNOTATION = "kubectl-antrea-migrate/tls-checksum"

# A Secret whose certificates expire sooner than this is regenerated on install.
_RENEW_BEFORE = datetime.timedelta(days=30)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# (group, version, plural, namespaced) of the kinds the manifest and the Secret use.
_KINDS: dict[str, tuple[str, str, str, bool]] = {
    "Namespace": ("", "v1", "namespaces", False),
    "Secret": ("", "v1", "secrets", True),
    "ServiceAccount": ("", "v1", "serviceaccounts", True),
    "Role": ("rbac.authorization.k8s.io", "v1", "roles", True),
    "RoleBinding": ("rbac.authorization.k8s.io", "v1", "rolebindings", True),
    "DaemonSet": ("apps", "v1", "daemonsets", True),
}
_MAX_NODES_NAMED = 20


class ObjectAction(Enum):
    """What install or uninstall did to one object."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    KEPT = "kept"  # deliberately left as it is (a valid TLS Secret, a keep-on-uninstall Namespace)
    DELETED = "deleted"
    ABSENT = "absent"  # already gone: uninstall's idempotent no-op
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ObjectOutcome:
    """One object's outcome; ``namespace`` is ``""`` for cluster-scoped kinds."""

    kind: str
    namespace: str
    name: str
    action: ObjectAction
    detail: str = ""

    @property
    def ref(self) -> str:
        """``Kind namespace/name`` or ``Kind name``."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class InstallResult:
    """Every object's outcome, in apply order, and the DaemonSet to wait for."""

    namespace: str
    objects: tuple[ObjectOutcome, ...]

    @property
    def failed(self) -> tuple[ObjectOutcome, ...]:
        """The objects the apiserver refused."""
        return tuple(o for o in self.objects if o.action is ObjectAction.FAILED)


@dataclass(frozen=True, slots=True)
class Rollout:
    """The DaemonSet's state when the wait ended: ``ready`` of ``desired`` pods up to date and Ready."""

    desired: int
    ready: int
    updated: int


def render(
    namespace: str = DEFAULT_NAMESPACE, image: str = DEFAULT_IMAGE, manifest: Path = MANIFEST
) -> list[dict[str, Any]]:
    """The agent's objects from the manifest template, in file order.

    Raises:
        InputError: ``namespace`` is not a valid namespace name or ``image`` is empty or has spaces.
        UsageError: the manifest file cannot be read (an installation without ``manifests/``).
    """
    if not _DNS_LABEL.match(namespace):
        raise InputError(f"{namespace!r} is not a valid namespace name (RFC 1123 label)", Location(path="--namespace"))
    if not image or any(c.isspace() for c in image):
        raise InputError(f"{image!r} is not an image reference", Location(path="--image"))
    try:
        text = manifest.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the agent manifest {manifest}: {exc.strerror}") from exc
    rendered = Template(text).substitute(NAMESPACE=namespace, IMAGE=image)
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def install(
    client: KubeClient,
    namespace: str = DEFAULT_NAMESPACE,
    image: str = DEFAULT_IMAGE,
    *,
    manifest: Path = MANIFEST,
    now: datetime.datetime | None = None,
) -> InstallResult:
    """Server-side apply the agent's objects and its TLS Secret.

    An existing Secret that is complete and valid for at least 30 more days is kept (``KEPT``);
    otherwise new material is generated and applied.

    Raises:
        InputError: bad ``namespace`` or ``image``.
        ClusterError: the apiserver cannot be reached (refusals are per-object ``FAILED`` outcomes).
    """
    objects = render(namespace, image, manifest)
    now = now or datetime.datetime.now(datetime.UTC)
    existing = _valid_secret_data(client, namespace, now)
    data = existing if existing is not None else tls.generate(now=now).secret_data()
    _annotate_template(objects, _checksum(data))
    namespaces = [o for o in objects if o.get("kind") == "Namespace"]
    others = [o for o in objects if o.get("kind") != "Namespace"]
    outcomes = [_apply(client, obj) for obj in namespaces]
    if existing is not None:
        outcomes.append(ObjectOutcome("Secret", namespace, SECRET_NAME, ObjectAction.KEPT, "complete and valid"))
    else:
        # Before the DaemonSet: its pods mount the Secret.
        outcomes.append(_apply(client, _secret(namespace, data)))
    outcomes += [_apply(client, obj) for obj in others]
    return InstallResult(namespace, tuple(outcomes))


def wait_for_rollout(
    client: KubeClient,
    namespace: str = DEFAULT_NAMESPACE,
    timeout_s: float = 300.0,
    *,
    poll_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Rollout:
    """Wait until every pod the DaemonSet wants is up to date and Ready.

    Done when the controller has seen the current spec (``observedGeneration``) and
    ``desiredNumberScheduled == updatedNumberScheduled == numberReady``.

    Raises:
        ClusterError: not done within ``timeout_s``; names the nodes whose agent is not ready (up to
            20) and why, or the DaemonSet is missing.
    """
    path = resource_path("apps", "v1", "daemonsets", namespace=namespace, name=AGENT_NAME)
    deadline = clock() + timeout_s
    while True:
        ds = client.get_optional(path)
        if ds is None:
            raise ClusterError(
                f"DaemonSet {namespace}/{AGENT_NAME} not found: run `kubectl antrea-migrate agent install`"
            )
        rollout = _rollout(ds)
        if rollout is not None and rollout.desired == rollout.updated == rollout.ready:
            return rollout
        if clock() >= deadline:
            break
        sleep(poll_s)
    lagging = _not_ready_nodes(client, namespace)
    named = "; ".join(f"{node}: {why}" for node, why in lagging[:_MAX_NODES_NAMED])
    more = f" (and {len(lagging) - _MAX_NODES_NAMED} more)" if len(lagging) > _MAX_NODES_NAMED else ""
    state = f"{rollout.ready}/{rollout.desired} ready" if rollout is not None else "not yet observed by the controller"
    raise ClusterError(
        f"DaemonSet {namespace}/{AGENT_NAME} not ready after {timeout_s:g}s ({state}); "
        f"agent not ready on: {named or 'no node named by the controller'}{more}"
    )


def uninstall(
    client: KubeClient, namespace: str = DEFAULT_NAMESPACE, *, manifest: Path = MANIFEST
) -> tuple[ObjectOutcome, ...]:
    """Delete what ``install`` created: the manifest's objects (reverse order) and the TLS Secret.

    Documents annotated ``kubectl-antrea-migrate/keep-on-uninstall: "true"`` are ``KEPT``; objects
    already gone are ``ABSENT``; refusals (403, ...) are ``FAILED`` and the rest goes on.

    Raises:
        InputError: bad ``namespace``.
        ClusterError: the apiserver cannot be reached.
    """
    objects = render(namespace, DEFAULT_IMAGE, manifest)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SECRET_NAME, "namespace": namespace}}
    namespaces = [o for o in objects if o.get("kind") == "Namespace"]
    # Reverse manifest order: the DaemonSet first, the Secret after its users, the Namespace last.
    ordered = [*reversed([o for o in objects if o.get("kind") != "Namespace"]), secret, *namespaces]
    return tuple(_delete(client, obj) for obj in ordered)


def _apply(client: KubeClient, obj: Mapping[str, Any]) -> ObjectOutcome:
    """Server-side apply one object; one GET before, so the outcome can say created/unchanged.

    One object at a time, by name, rather than ``apply_objects``' list per kind: the plugin's role then
    needs no cluster-wide list of Secrets, Roles or DaemonSets (manifests/plugin-rbac.yaml).
    """
    kind, path = str(obj["kind"]), _path(obj)
    meta = obj.get("metadata") or {}
    name, ns = str(meta["name"]), str(meta.get("namespace") or "")
    query: dict[str, str | int | bool] = {"fieldManager": FIELD_MANAGER, "force": True}
    try:
        before = client.get_optional(path)
        resp = client.request("PATCH", path, query=query, body=dict(obj), content_type="application/apply-patch+yaml")
    except ApiError as exc:
        return ObjectOutcome(kind, ns, name, ObjectAction.FAILED, str(exc))
    if before is None:
        action = ObjectAction.CREATED
    elif strip_server_fields(resp.body) == strip_server_fields(before):
        action = ObjectAction.UNCHANGED
    else:
        action = ObjectAction.CONFIGURED
    return ObjectOutcome(kind, ns, name, action, "; ".join(resp.warnings))


def _path(obj: Mapping[str, Any]) -> str:
    kind = str(obj["kind"])
    meta = obj.get("metadata") or {}
    try:
        group, version, plural, namespaced = _KINDS[kind]
    except KeyError:
        raise ClusterError(f"agent manifest: kind {kind} ({meta.get('name')}) is not one install knows") from None
    return resource_path(
        group, version, plural, namespace=str(meta.get("namespace") or "") if namespaced else "", name=str(meta["name"])
    )


def _delete(client: KubeClient, obj: Mapping[str, Any]) -> ObjectOutcome:
    kind = str(obj["kind"])
    meta = obj.get("metadata") or {}
    name, ns = str(meta["name"]), str(meta.get("namespace") or "")
    if (meta.get("annotations") or {}).get(KEEP_ANNOTATION) == "true":
        return ObjectOutcome(kind, ns, name, ObjectAction.KEPT, f"annotated {KEEP_ANNOTATION}")
    path = _path(obj)
    try:
        client.request(
            "DELETE", path, body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        )
    except ApiError as exc:
        if exc.status == 404:
            return ObjectOutcome(kind, ns, name, ObjectAction.ABSENT, "already absent")
        return ObjectOutcome(kind, ns, name, ObjectAction.FAILED, str(exc))
    return ObjectOutcome(kind, ns, name, ObjectAction.DELETED)


def _secret(namespace: str, data: Mapping[str, bytes]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": AGENT_NAME, "app.kubernetes.io/part-of": "kubectl-antrea-migrate"},
        },
        "type": "Opaque",
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


def _valid_secret_data(client: KubeClient, namespace: str, now: datetime.datetime) -> dict[str, bytes] | None:
    """The existing Secret's decoded data when it is complete and valid long enough, else None."""
    secret = client.get_optional(resource_path("", "v1", "secrets", namespace=namespace, name=SECRET_NAME))
    if secret is None:
        return None
    try:
        data = {k: base64.b64decode(v, validate=True) for k, v in (secret.get("data") or {}).items()}
    except (binascii.Error, ValueError):
        return None
    if any(key not in data for key in tls.SECRET_KEYS):
        return None
    try:
        certs = [
            x509.load_pem_x509_certificate(data[key]) for key in (tls.CA_FILE, tls.CERT_FILE, tls.CLIENT_CERT_FILE)
        ]
        ca = certs[0]
        for leaf in certs[1:]:
            leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return None
    if any(c.not_valid_after_utc - now < _RENEW_BEFORE or c.not_valid_before_utc > now for c in certs):
        return None
    return data


def _checksum(data: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for key in sorted(data):
        digest.update(key.encode() + b"\0" + data[key] + b"\0")
    return digest.hexdigest()[:16]


def _annotate_template(objects: Sequence[dict[str, Any]], checksum: str) -> None:
    for obj in objects:
        if obj.get("kind") == "DaemonSet":
            meta = obj["spec"]["template"].setdefault("metadata", {})
            meta.setdefault("annotations", {})[TLS_CHECKSUM_ANNOTATION] = checksum


def _rollout(ds: Mapping[str, Any]) -> Rollout | None:
    """The DaemonSet's counters, or None while the controller has not seen its current spec."""
    status = ds.get("status") or {}
    generation = int((ds.get("metadata") or {}).get("generation") or 0)
    if int(status.get("observedGeneration") or 0) < generation:
        return None
    return Rollout(
        desired=int(status.get("desiredNumberScheduled") or 0),
        ready=int(status.get("numberReady") or 0),
        updated=int(status.get("updatedNumberScheduled") or 0),
    )


def _not_ready_nodes(client: KubeClient, namespace: str) -> list[tuple[str, str]]:
    """(node, reason) for each Node without a Ready, running agent pod."""
    pods = client.get(resource_path("", "v1", "pods", namespace=namespace), query={"labelSelector": AGENT_LABEL})
    best: dict[str, str] = {}
    for pod in pods.get("items") or ():
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        why = _pod_not_ready_reason(pod)
        if not node:
            # Not bound yet: the DaemonSet controller names its node in a nodeAffinity for the scheduler.
            node = daemon_pod_node(pod)
            why = f"pod {(pod.get('metadata') or {}).get('name')} not scheduled yet"
        if not node:
            continue
        if why is None:
            best[node] = ""
        elif best.get(node) != "":
            best[node] = why
    lagging: list[tuple[str, str]] = []
    for item in client.list_pages("/api/v1/nodes"):
        name = str((item.get("metadata") or {}).get("name") or "")
        reason = best.get(name, "no agent pod")
        if reason:
            lagging.append((name, reason))
    return sorted(lagging)


def daemon_pod_node(pod: Mapping[str, Any]) -> str:
    """The node a DaemonSet pod is meant for (``matchFields metadata.name In [node]``), or ``""``."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or ():
        for field in term.get("matchFields") or ():
            values: list[Any] = field.get("values") or []
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return ""


def _pod_not_ready_reason(pod: Mapping[str, Any]) -> str | None:
    """None when the pod is Running and Ready, else a short reason naming the pod."""
    name = str((pod.get("metadata") or {}).get("name") or "")
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return f"pod {name} is terminating"
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
    if phase == "Running" and ready:
        return None
    for container in status.get("containerStatuses") or ():
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return f"pod {name} {phase}, container {container.get('name')}: {waiting['reason']}"
    return f"pod {name} {phase}, not Ready"
