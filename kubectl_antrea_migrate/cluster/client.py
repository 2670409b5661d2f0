"""The one door to the kube-apiserver: kubeconfig loading and raw JSON requests.

Design: ``kubernetes`` is used for what it does well and what we must not reimplement — reading a
kubeconfig like kubectl does (contexts, merged ``KUBECONFIG`` paths, inline certificates, exec and
token plugins). Requests themselves go through ``urllib3`` with plain JSON bodies, because the
migration needs what the generated API classes hide or slow down:

- raw dicts, not generated models (Calico objects are handed to ``calico/load.py`` as dicts; building
  and then undoing 5,000 model objects would dominate ``check``'s wall time);
- the ``Warning`` response headers (the seed's ``unknown field`` warnings must be caught);
- exact control of pagination and a count of requests, so ``check`` can prove O(kinds) requests;
- server-side apply (``application/apply-patch+yaml``) without per-kind API classes.

Every failure leaves this module as a ``ClusterError`` (``ApiError`` when the server answered), with
the cause chained. The client is safe to share between threads (urllib3's pool is).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import Configuration
from kubernetes.config.config_exception import ConfigException

from kubectl_antrea_migrate.errors import ClusterError

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "ApiError",
    "ApiResponse",
    "KubeClient",
    "load_client",
    "resource_path",
]

# kubectl's own chunk size: the benchmark compares like with like.
DEFAULT_PAGE_SIZE = 500
_DEFAULT_TIMEOUT_S = 60.0
_USER_AGENT = "kubectl-antrea-migrate"


class ApiError(ClusterError):
    """The apiserver answered with an error status.

    Attributes:
        status: HTTP status code (404, 409, 422, ...).
        reason: the Status ``reason`` (``NotFound``, ``Conflict``, ``Invalid``) or the HTTP reason.
        method: HTTP method of the failed request.
        path: request path (no query string).
        body: the decoded ``Status`` object when the server sent one, else ``{}``.
        warnings: the ``Warning`` headers of the failed answer.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        reason: str,
        message: str,
        body: dict[str, Any],
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.method = method
        self.warnings = warnings
        self.path = path
        self.status = status
        self.reason = reason
        self.body = body
        head = f"{method} {path}: {status} {reason}"
        super().__init__(f"{head}: {message}" if message else head)


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A successful answer: HTTP status, decoded JSON body, and the server's ``Warning`` headers."""

    status: int
    body: dict[str, Any]
    warnings: tuple[str, ...] = ()


def load_client(kubeconfig: str | None = None, context: str | None = None) -> KubeClient:
    """Build a client the way kubectl resolves its configuration.

    ``kubeconfig`` (``--kubeconfig``) wins; otherwise ``KUBECONFIG`` (a list of paths joined by ``:``,
    merged like kubectl does); otherwise ``~/.kube/config``. ``context`` (``--context``) overrides the
    file's current context.

    Raises:
        ClusterError: the kubeconfig is missing, unreadable, or names an unknown context.
    """
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    configuration = Configuration()
    try:
        kube_config.load_kube_config(
            config_file=path, context=context, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        where = f" (context {context})" if context else ""
        raise ClusterError(f"cannot load kubeconfig {path}{where}: {exc}") from exc
    return KubeClient(configuration)


class KubeClient:
    """Raw-JSON access to one kube-apiserver.

    Args:
        configuration: a loaded ``kubernetes.client.Configuration`` (see ``load_client``).
        timeout_s: per-request timeout.
        extra_headers: sent with every request (e.g. ``Impersonate-User`` in tests of RBAC); a tuple
            value sends the header once per element (``Impersonate-Group``).
    """

    def __init__(
        self,
        configuration: Configuration,
        *,
        timeout_s: float = _DEFAULT_TIMEOUT_S,
        extra_headers: Mapping[str, str | tuple[str, ...]] | None = None,
    ) -> None:
        self._configuration = configuration
        self.host = str(configuration.host).rstrip("/")
        self._timeout_s = timeout_s
        self._timeout = urllib3.Timeout(total=timeout_s)
        self._extra_headers = dict(extra_headers or {})
        self._lock = threading.Lock()
        self._request_count = 0
        pool_args: dict[str, Any] = {"maxsize": 16, "block": False, "retries": False}
        if configuration.verify_ssl:
            pool_args["cert_reqs"] = "CERT_REQUIRED"
            if configuration.ssl_ca_cert:
                pool_args["ca_certs"] = configuration.ssl_ca_cert
            server_name = getattr(configuration, "tls_server_name", None)
            if server_name:
                pool_args["server_hostname"] = server_name
        else:
            pool_args["cert_reqs"] = "CERT_NONE"
        if configuration.cert_file:
            pool_args["cert_file"] = configuration.cert_file
        if configuration.key_file:
            pool_args["key_file"] = configuration.key_file
        if configuration.proxy:
            self._pool: urllib3.PoolManager = urllib3.ProxyManager(configuration.proxy, **pool_args)
        else:
            self._pool = urllib3.PoolManager(**pool_args)

    @property
    def request_count(self) -> int:
        """How many HTTP requests this client has sent (the benchmark reports it)."""
        with self._lock:
            return self._request_count

    def with_headers(self, headers: Mapping[str, str | tuple[str, ...]]) -> KubeClient:
        """A client for the same server and credentials that also sends ``headers``."""
        return KubeClient(
            self._configuration, timeout_s=self._timeout_s, extra_headers={**self._extra_headers, **headers}
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._pool.clear()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int | bool] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> ApiResponse:
        """Send one request; return the decoded answer or raise.

        Args:
            method: HTTP method.
            path: absolute API path, e.g. ``/api/v1/nodes``.
            query: query parameters (booleans become ``true``/``false``).
            body: a JSON-serialisable body (apply patches are JSON too: JSON is YAML).
            content_type: ``application/json``, ``application/merge-patch+json``,
                ``application/apply-patch+yaml``, ...

        Raises:
            ApiError: the server answered with a status >= 400.
            ClusterError: the server could not be reached or sent something that is not JSON.
        """
        url = self.host + path
        if query:
            url += "?" + urlencode({k: _query_value(v) for k, v in query.items()})
        headers = urllib3.HTTPHeaderDict({"Accept": "application/json", "User-Agent": _USER_AGENT})
        headers.update(self._auth_headers())
        for key, value in self._extra_headers.items():
            for one in (value,) if isinstance(value, str) else value:
                headers.add(key, one)
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        with self._lock:
            self._request_count += 1
        try:
            resp = self._pool.request(method, url, body=data, headers=headers, timeout=self._timeout, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(f"{method} {path}: cannot reach the apiserver at {self.host}: {exc}") from exc
        warnings = tuple(_warning_text(w) for w in resp.headers.getlist("Warning"))
        decoded = _decode(resp.data)
        if resp.status >= 400:
            reason = str(decoded.get("reason") or resp.reason or "")
            message = str(decoded.get("message") or resp.data[:200].decode(errors="replace").strip())
            raise ApiError(method, path, resp.status, reason, message, decoded, warnings)
        return ApiResponse(resp.status, decoded, warnings)

    def get(self, path: str, *, query: Mapping[str, str | int | bool] | None = None) -> dict[str, Any]:
        """GET ``path`` and return the decoded body."""
        return self.request("GET", path, query=query).body

    def get_optional(self, path: str) -> dict[str, Any] | None:
        """GET ``path``; ``None`` when it does not exist (404)."""
        try:
            return self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list_pages(self, path: str, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Yield every item of a collection, fetched ``page_size`` at a time (limit/continue).

        A continue token that expired mid-way (410) restarts the list from the start once, as kubectl
        does not, because a partial snapshot would mislead ``check``.

        Raises:
            ApiError: the list failed (403 when RBAC forbids it).
        """
        for attempt in (1, 2):
            token = ""
            items: list[dict[str, Any]] = []
            try:
                while True:
                    query: dict[str, str | int | bool] = {"limit": page_size}
                    if token:
                        query["continue"] = token
                    page = self.get(path, query=query)
                    items.extend(page.get("items") or ())
                    token = (page.get("metadata") or {}).get("continue") or ""
                    if not token:
                        break
            except ApiError as exc:
                if exc.status == 410 and attempt == 1:
                    continue
                raise
            yield from items
            return

    def _auth_headers(self) -> dict[str, str]:
        # auth_settings() runs the configuration's refresh hook, so exec/OIDC tokens stay fresh.
        headers: dict[str, str] = {}
        settings: Mapping[str, Any] = self._configuration.auth_settings()
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[str(setting["key"])] = str(setting["value"])
        return headers


def resource_path(group: str, version: str, plural: str, *, namespace: str = "", name: str = "") -> str:
    """The REST path of a collection or object: core group when ``group`` is empty."""
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    if namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{plural}"
    if name:
        base += f"/{quote(name, safe='')}"
    return base


def _query_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode(data: bytes) -> dict[str, Any]:
    if not data:
        return {}
    try:
        decoded = json.loads(data)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {"items": decoded}


def _warning_text(header: str) -> str:
    # RFC 7234 warning: `299 - "text"`; keep only the text, unescaped.
    code, _, rest = header.partition(" ")
    agent, _, text = rest.partition(" ")
    if code.isdigit() and agent and text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return header
