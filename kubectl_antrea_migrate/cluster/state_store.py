"""The migration state in the cluster: ConfigMap ``antrea-migrate-state`` in the agent namespace.

Design: this is the ``StateStore`` port of ``migrate/runner.py`` over the kube-apiserver. The
ConfigMap's ``metadata.resourceVersion`` is the compare-and-swap token: ``save`` sends a PUT carrying
the version the state was read with, so the apiserver itself refuses (409 Conflict) a write based on
a stale read; a state never stored (version ``""``) is created with POST, and a concurrent create
loses with 409 AlreadyExists. Both 409s become the core's ``StateConflictError``; the runner then
reloads and, when another holder owns the lock, reports ``ConcurrentRunError`` naming it. Nothing
here decides anything about the lock: it only makes the apiserver the arbiter of who wrote first.

Because the state lives in the cluster, it survives the plugin process, the machine it ran on and
any crash: a new invocation (new client, other host) reads exactly what the last one wrote.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kubectl_antrea_migrate.cluster.agent_install import DEFAULT_NAMESPACE
from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient, resource_path
from kubectl_antrea_migrate.errors import ClusterError
from kubectl_antrea_migrate.migrate.state import (
    STATE_CONFIGMAP,
    MigrationState,
    StateConflictError,
    from_configmap_data,
    to_configmap_data,
)

__all__ = ["ConfigMapStateStore"]

_MANAGED_BY = "app.kubernetes.io/managed-by"


class ConfigMapStateStore:
    """``StateStore`` on a ConfigMap, with optimistic concurrency on ``resourceVersion``.

    Args:
        client: the cluster client.
        namespace: the agent namespace (the state sits beside the agents).
        name: the ConfigMap's name.
    """

    def __init__(self, client: KubeClient, namespace: str = DEFAULT_NAMESPACE, name: str = STATE_CONFIGMAP) -> None:
        self._client = client
        self.namespace = namespace
        self.name = name
        self._path = resource_path("", "v1", "configmaps", namespace=namespace, name=name)
        self._collection = resource_path("", "v1", "configmaps", namespace=namespace)

    @property
    def ref(self) -> str:
        """``ConfigMap namespace/name``, for messages."""
        return f"ConfigMap {self.namespace}/{self.name}"

    def load(self) -> MigrationState:
        """The stored state with its ``resource_version``; an empty state (version "") when none exists.

        Raises:
            InputError: the ConfigMap exists but its data is malformed (the message names the key).
            ClusterError: the apiserver refused or cannot be reached.
        """
        try:
            obj = self._client.get_optional(self._path)
        except ApiError as exc:
            raise ClusterError(f"cannot read the migration state {self.ref}: {exc}") from exc
        if obj is None:
            return MigrationState()
        meta = obj.get("metadata") or {}
        return from_configmap_data(obj.get("data") or {}, str(meta.get("resourceVersion") or ""), self.name)

    def save(self, state: MigrationState) -> MigrationState:
        """Write ``state`` if the stored version still equals ``state.resource_version`` ("" = create).

        Returns:
            ``state`` with the new ``resource_version``.

        Raises:
            StateConflictError: someone else wrote (or created the ConfigMap) since ``state`` was read.
            ClusterError: any other refusal, or the apiserver cannot be reached.
        """
        body = self._body(state)
        try:
            if state.resource_version:
                resp = self._client.request("PUT", self._path, body=body)
            else:
                resp = self._client.request("POST", self._collection, body=body)
        except ApiError as exc:
            if exc.status == 409:
                expected = state.resource_version or "none (create)"
                raise StateConflictError(
                    f"{self.ref} changed since it was read (expected resourceVersion {expected}): {exc.reason}"
                ) from exc
            if exc.status == 404 and state.resource_version:
                # Deleted under us: a stale writer must not silently recreate it.
                raise StateConflictError(f"{self.ref} was deleted since it was read") from exc
            raise ClusterError(f"cannot write the migration state {self.ref}: {exc}") from exc
        version = str((resp.body.get("metadata") or {}).get("resourceVersion") or "")
        return replace(state, resource_version=version)

    def _body(self, state: MigrationState) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {_MANAGED_BY: "kubectl-antrea-migrate"},
        }
        if state.resource_version:
            meta["resourceVersion"] = state.resource_version
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": to_configmap_data(state)}
