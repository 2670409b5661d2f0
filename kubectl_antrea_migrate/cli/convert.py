"""`kubectl antrea-migrate convert` (placeholder until implemented)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `convert` command to `app`."""

    @app.command("convert")
    def convert() -> None:
        """Not implemented yet."""
        raise typer.Exit(3)
