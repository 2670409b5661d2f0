"""`kubectl antrea-migrate verify` (placeholder until implemented)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `verify` command to `app`."""

    @app.command("verify")
    def verify() -> None:
        """Not implemented yet."""
        raise typer.Exit(3)
