"""Stable, readable Antrea object names derived from Calico object keys.

Names must be valid DNS-1123 labels (lowercase alphanumerics and ``-``, at most 63 characters) so
they work as object names and as label values. A name is ``<prefix>-<sanitized key>``; a short hash
of the original key is appended only when sanitizing lost information (truncation) or when two keys
sanitize to the same name. The hash depends only on the key, so names are stable across runs.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping

__all__ = ["MAX_NAME", "allocate_names", "candidate_name", "dns_label"]

MAX_NAME = 63
_HASH_LEN = 6
_INVALID = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")


def dns_label(text: str) -> str:
    """Lowercase ``text`` and replace every run of invalid characters (dots, slashes...) by ``-``."""
    cleaned = _DASHES.sub("-", _INVALID.sub("-", text.lower())).strip("-")
    return cleaned or "x"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:_HASH_LEN]


def _with_hash(base: str, key: str) -> str:
    room = MAX_NAME - _HASH_LEN - 1
    return f"{base[:room].rstrip('-')}-{_hash(key)}"


def candidate_name(prefix: str, *parts: str) -> str:
    """The readable name for an object key; hashed only when it would exceed 63 characters."""
    base = dns_label("-".join((prefix, *parts)))
    if len(base) <= MAX_NAME:
        return base
    return _with_hash(base, "/".join((prefix, *parts)))


def allocate_names(wanted: Mapping[str, str]) -> dict[str, str]:
    """Resolve collisions: ``wanted`` maps a unique key to its candidate name.

    Every key whose candidate is shared with another key gets a hash suffix of its own key, so the
    result is injective and independent of iteration order.

    Args:
        wanted: key (e.g. ``np/prod/web``) -> candidate name.

    Returns:
        key -> final unique name.
    """
    by_name: dict[str, list[str]] = defaultdict(list)
    for key, name in wanted.items():
        by_name[name].append(key)
    result: dict[str, str] = {}
    for name, keys in by_name.items():
        if len(keys) == 1:
            result[keys[0]] = name
            continue
        for key in keys:
            result[key] = _with_hash(name, key)
    return result
