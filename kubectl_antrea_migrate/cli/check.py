"""`kubectl antrea-migrate check` (placeholder until implemented)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `check` command to `app`."""

    @app.command("check")
    def check() -> None:
        """Not implemented yet."""
        raise typer.Exit(3)
