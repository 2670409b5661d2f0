"""The command modules, in the order ``--help`` lists them. Each exposes ``register(app)``."""

from __future__ import annotations

from collections.abc import Callable

import typer

from kubectl_antrea_migrate.cli import agent, check, convert, node, verify
from kubectl_antrea_migrate.cli import rollback as rollback_cmd
from kubectl_antrea_migrate.cli import run as run_cmd
from kubectl_antrea_migrate.cli import status as status_cmd

REGISTRY: tuple[Callable[[typer.Typer], None], ...] = (
    check.register,
    convert.register,
    verify.register,
    agent.register,
    node.register,
    run_cmd.register,
    status_cmd.register,
    rollback_cmd.register,
)
