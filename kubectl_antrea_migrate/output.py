"""Rendering of results for people (rich tables) and machines (json/yaml).

Commands hand their result here; nothing in this module decides anything about policies or nodes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any, TextIO

import yaml
from rich.console import Console
from rich.table import Table

__all__ = [
    "console",
    "dump",
    "dump_manifests",
    "table",
    "to_plain",
]

try:  # the C dumper is ~10x faster on large outputs; fall back where libyaml is absent
    _Dumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _Dumper = yaml.SafeDumper


def to_plain(value: Any) -> Any:
    """Dataclasses, enums, tuples and mappings -> JSON-compatible data (dataclass field order kept)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name.rstrip("_"): to_plain(getattr(value, f.name))
            for f in fields(value)
            if f.name != "location" and getattr(value, f.name) not in (None, (), "")
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # addresses, networks, paths: their text form is what users read


def dump(data: Any, fmt: str, stream: TextIO | None = None) -> None:
    """Write ``data`` as ``json`` or ``yaml``."""
    out = stream or sys.stdout
    plain = to_plain(data)
    if fmt == "json":
        json.dump(plain, out, indent=2, sort_keys=False)
        out.write("\n")
    else:
        out.write(yaml.dump(plain, Dumper=_Dumper, sort_keys=False, default_flow_style=False))


def dump_manifests(manifests: Sequence[Mapping[str, Any]], fmt: str, stream: TextIO | None = None) -> None:
    """Write Kubernetes objects: a multi-document YAML stream, or a JSON ``List``."""
    out = stream or sys.stdout
    if fmt == "json":
        json.dump({"apiVersion": "v1", "kind": "List", "items": list(manifests)}, out, indent=2)
        out.write("\n")
        return
    out.write(yaml.dump_all(list(manifests), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                            explicit_start=True))


def console(stream: TextIO | None = None) -> Console:
    """A rich console on ``stream`` (stdout by default); no colour when not a terminal."""
    return Console(file=stream or sys.stdout, soft_wrap=True, highlight=False)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """A plain table: the same look for every command."""
    tbl = Table(title=title, title_justify="left", show_lines=False, expand=False)
    for col in columns:
        tbl.add_column(col, overflow="fold")
    for row in rows:
        tbl.add_row(*row)
    return tbl
