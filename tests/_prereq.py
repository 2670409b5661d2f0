"""Prerequisites for tests that need real parts (root, kernel modules, containerd, an apiserver).

Locally a missing prerequisite skips with its reason; under ``.ci/run`` (``ANTREA_MIGRATE_STRICT=1``)
it fails, so CI can never go green by skipping the real tests.
"""

from __future__ import annotations

import os
import shutil

import pytest

STRICT = os.environ.get("ANTREA_MIGRATE_STRICT") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI) unless ``condition`` holds."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"prerequisite missing under ANTREA_MIGRATE_STRICT=1: {reason}")
    pytest.skip(reason)


def require_root() -> None:
    require(os.geteuid() == 0, "needs root")


def require_binary(*names: str) -> None:
    for name in names:
        require(shutil.which(name) is not None, f"needs {name} on PATH")
