"""Options shared by several commands, declared once (kubectl-style names)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kubectl_antrea_migrate.cluster.client import KubeClient

__all__ = [
    "ContextOpt",
    "FilesOpt",
    "KubeconfigOpt",
    "OutputFormat",
    "OutputOpt",
    "cluster_client",
]


class OutputFormat(StrEnum):
    """``-o``: human table (default), or machine-readable json/yaml."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def cluster_client(kubeconfig: Path | None, context: str | None) -> KubeClient:
    """The cluster client for ``--kubeconfig``/``--context`` (None: ``KUBECONFIG`` or ~/.kube/config).

    Imported late: commands that never touch a cluster (``convert -f``) stay fast to start.
    """
    from kubectl_antrea_migrate.cluster.client import load_client

    return load_client(str(kubeconfig) if kubeconfig else None, context)


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
