"""Shared test configuration: paths to the upstream data kept beside the project (never copied in)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(__import__("os").environ.get("ANTREA_MIGRATE_SHARED", REPO.parent / "shared"))
UPSTREAM = SHARED / "upstream"


@pytest.fixture(scope="session")
def upstream() -> Path:
    """``../shared/upstream``: real Calico/Antrea CRDs and public Calico policies."""
    from tests._prereq import require

    require(UPSTREAM.is_dir(), f"needs the shared upstream data at {UPSTREAM}")
    return UPSTREAM
