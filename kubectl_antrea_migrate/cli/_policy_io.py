"""Helpers shared by the policy commands (check, convert, verify): reading inputs, conversion options,
and rendering the fidelity report. Parsing and printing only; decisions live in the core."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, TextIO

import typer

from kubectl_antrea_migrate.antrea.model import AntreaObjects
from kubectl_antrea_migrate.calico.model import Inventory
from kubectl_antrea_migrate.convert.result import (
    ConversionResult,
    ConvertOptions,
    DenyAction,
    Fidelity,
    NamespacedAs,
    ObjectReport,
)
from kubectl_antrea_migrate.errors import UsageError
from kubectl_antrea_migrate.output import console, table

__all__ = [
    "CalicoVersionOpt",
    "DenyActionChoice",
    "DenyActionOpt",
    "IPFamilyChoice",
    "IPFamilyOpt",
    "NamespacedAsChoice",
    "NamespacedAsOpt",
    "antrea_side",
    "conversion_options",
    "fidelity_document",
    "load_inputs",
    "print_fidelity",
]


class NamespacedAsChoice(StrEnum):
    """``--namespaced-as``: Antrea NetworkPolicy where exact (default), or always ClusterNetworkPolicy."""

    ANNP = "annp"
    ACNP = "acnp"


class DenyActionChoice(StrEnum):
    """Felix's deny action on the source cluster."""

    DROP = "drop"
    REJECT = "reject"


class IPFamilyChoice(StrEnum):
    """The cluster's IP families."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    DUAL = "dual"


NamespacedAsOpt = Annotated[
    NamespacedAsChoice,
    typer.Option("--namespaced-as", help="Namespaced Calico policies become annp (when exact) or acnp."),
]
CalicoVersionOpt = Annotated[
    str, typer.Option("--calico-version", help="Source Calico version (tie order and v1 naming), e.g. 3.28.")
]
DenyActionOpt = Annotated[
    DenyActionChoice, typer.Option("--deny-action", help="Felix deny action on the source cluster (drop|reject).")
]
IPFamilyOpt = Annotated[IPFamilyChoice, typer.Option("--ip-family", help="Cluster IP families: ipv4, ipv6, dual.")]

_FAMILIES = {
    IPFamilyChoice.IPV4: frozenset({4}),
    IPFamilyChoice.IPV6: frozenset({6}),
    IPFamilyChoice.DUAL: frozenset({4, 6}),
}


def load_inputs(files: Sequence[str] | None, stdin: TextIO | None = None) -> Inventory:
    """Load ``-f`` inputs (files, directories, ``-``) into an Inventory."""
    from kubectl_antrea_migrate.calico.load import load_paths

    if not files:
        raise UsageError("no input: give -f FILE|DIR|- (repeatable)")
    return load_paths(list(files), stdin=stdin if stdin is not None else sys.stdin)


def antrea_side(
    inventory: Inventory, options: ConvertOptions, antrea_files: Sequence[str] | None
) -> tuple[AntreaObjects, str]:
    """The Antrea objects to verify: from ``--antrea`` files, or this tool's conversion of ``inventory``."""
    from kubectl_antrea_migrate.antrea.load import load_antrea
    from kubectl_antrea_migrate.calico.load import read_documents
    from kubectl_antrea_migrate.convert import convert

    if antrea_files:
        return load_antrea(read_documents(list(antrea_files))), "objects from " + ", ".join(antrea_files)
    result = convert(inventory, options)
    left_out = sum(1 for r in result.reports if r.fidelity is Fidelity.UNSUPPORTED)
    note = f" ({left_out} unsupported objects left out: expect differences there)" if left_out else ""
    return result.objects, "this tool's conversion of the Calico inputs" + note


def conversion_options(
    namespaced_as: NamespacedAsChoice,
    calico_version: str,
    deny_action: DenyActionChoice,
    ip_family: IPFamilyChoice,
    partial: bool = False,
) -> ConvertOptions:
    """Command-line choices -> ConvertOptions (validated)."""
    parts = calico_version.lstrip("v").split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise UsageError(f"--calico-version {calico_version!r}: expected MAJOR.MINOR, e.g. 3.28")
    return ConvertOptions(
        namespaced_as=NamespacedAs.ACNP if namespaced_as is NamespacedAsChoice.ACNP else NamespacedAs.AUTO,
        calico_version=".".join(parts[:2]),
        deny_action=DenyAction.REJECT if deny_action is DenyActionChoice.REJECT else DenyAction.DROP,
        ip_families=_FAMILIES[ip_family],
        partial=partial,
    )


def _subject(report: ObjectReport) -> str:
    return f"{report.namespace}/{report.name}" if report.namespace else report.name


def _details(report: ObjectReport) -> str:
    findings = report.problems if report.fidelity is Fidelity.UNSUPPORTED else report.notes
    lines = [f"{f.path}: {f.message}" if f.path else f.message for f in findings]
    if report.outputs and report.fidelity is not Fidelity.UNSUPPORTED:
        lines.append("-> " + ", ".join(report.outputs))
    return "\n".join(lines)


def print_fidelity(result: ConversionResult, stream: TextIO | None = None) -> None:
    """The per-object fidelity table, then global notes and a one-line summary."""
    out = console(stream)
    rows = [(r.kind, _subject(r), r.fidelity.value, _details(r)) for r in result.reports]
    out.print(table("Calico objects", ("KIND", "NAME", "FIDELITY", "DETAILS"), rows))
    for note in result.notes:
        out.print(f"note: {note}")
    counts = {f: sum(1 for r in result.reports if r.fidelity is f) for f in Fidelity}
    summary = ", ".join(f"{n} {f.value}" for f, n in counts.items() if n)
    out.print(f"{len(result.reports)} objects: {summary or 'none'}")
    if result.blocked:
        out.print("blocked: the objects marked unsupported must be changed (or converted with --partial)")


def fidelity_document(result: ConversionResult) -> dict[str, object]:
    """The fidelity report as plain data (for -o json|yaml and --report)."""
    from kubectl_antrea_migrate.output import to_plain

    return {
        "blocked": result.blocked,
        "notes": list(result.notes),
        "lostGuarantees": list(result.lost_guarantees),
        "objects": [to_plain(r) for r in result.reports],
    }
