"""The exception hierarchy every layer raises, and ``Location``, which points back into user input.

Each exception knows its exit code; ``cli/app.py`` alone catches ``MigrateError``, prints ``str(e)``
and exits with ``e.exit_code``. ``str(e)`` is the whole user-facing message: file, document, field
path, and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXIT_FAILURE",
    "EXIT_FINDINGS",
    "EXIT_INPUT",
    "EXIT_OK",
    "AgentError",
    "ClusterError",
    "InputError",
    "Location",
    "MigrateError",
    "SelectorSyntaxError",
    "UsageError",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2
EXIT_FAILURE = 3


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value came from: ``prod.yaml: document 3 (GlobalNetworkPolicy deny-all): spec.ingress[0]``.

    ``document`` is 1-based (as a user counts documents); ``None`` when unknown (e.g. live cluster
    objects, where ``file`` names the cluster object instead).
    """

    file: str = ""
    document: int | None = None
    kind: str = ""
    name: str = ""
    path: str = ""

    def at(self, path: str) -> Location:
        """Return the same object location with a field path (absolute, e.g. ``spec.ingress[0]``)."""
        return Location(self.file, self.document, self.kind, self.name, path)

    def child(self, suffix: str) -> Location:
        """Extend the field path: ``spec`` + ``.ingress[0]`` or ``[0]``."""
        if not self.path:
            return self.at(suffix.lstrip("."))
        sep = "" if suffix.startswith("[") or suffix.startswith(".") else "."
        return self.at(f"{self.path}{sep}{suffix}")

    def object_ref(self) -> str:
        """The file/document/object part, without the field path."""
        parts: list[str] = []
        if self.file:
            parts.append(self.file)
        if self.document is not None:
            obj = f"document {self.document}"
            if self.kind or self.name:
                obj += f" ({' '.join(p for p in (self.kind, self.name) if p)})"
            parts.append(obj)
        elif self.kind or self.name:
            parts.append(" ".join(p for p in (self.kind, self.name) if p))
        return ": ".join(parts)

    def __str__(self) -> str:
        ref = self.object_ref()
        if self.path:
            return f"{ref}: {self.path}" if ref else self.path
        return ref


class MigrateError(Exception):
    """Root of every error the tool raises on purpose; ``str()`` is the complete user message."""

    exit_code: int = EXIT_FAILURE


class InputError(MigrateError):
    """Bad user input: YAML, schema, field values. Carries the ``Location`` of the offending field."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location or Location()
        super().__init__(self._render())

    def _render(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message

    def with_location(self, location: Location) -> InputError:
        """Return a copy placed at ``location`` (used by the layer that knows the context)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.location = location
        Exception.__init__(clone, clone._render())
        return clone


class SelectorSyntaxError(InputError):
    """A Calico selector that Calico itself would reject; shows the text with a caret under ``column``."""

    def __init__(self, message: str, text: str, column: int, location: Location | None = None) -> None:
        self.text = text
        self.column = column  # 1-based
        super().__init__(message, location)

    def _render(self) -> str:
        where = str(self.location)
        head = f"{where}, column {self.column}: {self.message}" if where else f"column {self.column}: {self.message}"
        caret = " " * (self.column - 1) + "^"
        return f"{head}\n  {self.text}\n  {caret}"


class UsageError(MigrateError):
    """Option combinations the command-line parser cannot reject itself."""

    exit_code = EXIT_INPUT


class ClusterError(MigrateError):
    """The kube-apiserver refused or failed; raised only in ``cluster/`` (wraps ApiException)."""

    exit_code = EXIT_FAILURE


class AgentError(MigrateError):
    """A node agent could not be reached or failed an RPC; raised only in ``agents/``."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, node: str = "", endpoint: str = "", rpc: str = "") -> None:
        self.node = node
        self.endpoint = endpoint
        self.rpc = rpc
        ctx = " ".join(f"{k}={v}" for k, v in (("node", node), ("endpoint", endpoint), ("rpc", rpc)) if v)
        super().__init__(f"{message} ({ctx})" if ctx else message)
