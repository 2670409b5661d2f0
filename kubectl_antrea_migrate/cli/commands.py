"""The command modules, in the order ``--help`` lists them. Each exposes ``register(app)``."""

from __future__ import annotations

from collections.abc import Callable

import typer

from kubectl_antrea_migrate.cli import check, convert, verify

REGISTRY: tuple[Callable[[typer.Typer], None], ...] = (
    check.register,
    convert.register,
    verify.register,
)
