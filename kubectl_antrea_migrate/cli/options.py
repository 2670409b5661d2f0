"""Options shared by several commands, declared once (kubectl-style names)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "ClusterOptions",
    "ContextOpt",
    "FilesOpt",
    "KubeconfigOpt",
    "OutputFormat",
    "OutputOpt",
]


class OutputFormat(StrEnum):
    """``-o``: human table (default), or machine-readable json/yaml."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """How to reach the cluster: kubeconfig path (None = KUBECONFIG or ~/.kube/config) and context."""

    kubeconfig: Path | None = None
    context: str | None = None


KubeconfigOpt = Annotated[
    Path | None,
    typer.Option("--kubeconfig", envvar="KUBECONFIG", help="Path to the kubeconfig file (like kubectl)."),
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="The kubeconfig context to use.")]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format: table, json or yaml.")]
FilesOpt = Annotated[
    list[str] | None,
    typer.Option("--filename", "-f", help="File, directory or - (stdin) with exported objects; repeatable."),
]
