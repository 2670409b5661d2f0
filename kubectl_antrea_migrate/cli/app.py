"""The ``kubectl antrea-migrate`` Typer application: registers one module per command and maps errors
to exit codes in one place.

Exit codes: 0 ok, 1 blockers/differences/refusals found, 2 bad usage or input, 3 cluster or agent
failure. ``MigrateError`` subclasses carry their code; anything else is a bug, shown as one line with
a pointer to ``--debug`` (never a traceback with local variables).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

# typer (>= 0.29) vendors its own click: its exceptions are not the ``click`` package's.
from typer._click import exceptions as click_exceptions

from kubectl_antrea_migrate.errors import EXIT_FAILURE, EXIT_INPUT, MigrateError

__all__ = ["app", "main"]

app = typer.Typer(
    name="kubectl antrea-migrate",
    help="Move a live Kubernetes cluster from Calico to Antrea: check, convert, verify, migrate, clean up.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _register_commands() -> None:
    # Imported here so each command module stays independent and registration order is explicit.
    from kubectl_antrea_migrate.cli import commands

    for register in commands.REGISTRY:
        register(app)


_register_commands()


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns (and exits with) the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("ANTREA_MIGRATE_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    try:
        code = app(args=args, prog_name="kubectl antrea-migrate", standalone_mode=False)
    except MigrateError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except typer.Exit as exc:
        code = exc.exit_code
    except click_exceptions.NoArgsIsHelpError as exc:
        exc.show(file=sys.stdout)
        code = 0
    except click_exceptions.ClickException as exc:
        exc.show(file=sys.stderr)
        code = EXIT_INPUT if isinstance(exc, click_exceptions.UsageError) else exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        code = EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # a bug: one line, never locals
        if debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        code = EXIT_FAILURE
    code = int(code or 0)
    if argv is None:
        sys.exit(code)
    return code
