"""Live-cluster glue for ``check`` and ``convert``: read, load, convert, ask the agents, print.

I/O only; every decision is made by the core (``calico/load.py``, ``convert``, ``preflight/``).
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubectl_antrea_migrate.antrea.model import AntreaObjects
from kubectl_antrea_migrate.calico.model import Inventory
from kubectl_antrea_migrate.cli import _policy_io as pio
from kubectl_antrea_migrate.cli.options import OutputFormat, cluster_client
from kubectl_antrea_migrate.cluster.client import KubeClient
from kubectl_antrea_migrate.convert import convert
from kubectl_antrea_migrate.convert.result import ConvertOptions
from kubectl_antrea_migrate.errors import EXIT_FINDINGS, EXIT_OK, ClusterError, InputError, Location
from kubectl_antrea_migrate.kube.snapshot import ClusterSnapshot
from kubectl_antrea_migrate.nodestate.model import NodeReport
from kubectl_antrea_migrate.output import console, dump, table, to_plain
from kubectl_antrea_migrate.preflight.podcidr import analyse_snapshot
from kubectl_antrea_migrate.preflight.report import CheckReport, assess_cluster

__all__ = ["apply_converted", "inventory_from_snapshot", "live_check", "live_inventory"]


def _raw_objects(snapshot: ClusterSnapshot) -> list[tuple[Mapping[str, Any], Location]]:
    objects = list(snapshot.calico_objects) + list(snapshot.network_policies)
    pairs: list[tuple[Mapping[str, Any], Location]] = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        name = f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else str(meta.get("name", ""))
        pairs.append((obj, Location(file="cluster", kind=str(obj.get("kind", "")), name=name)))
    return pairs


def inventory_from_snapshot(snapshot: ClusterSnapshot) -> tuple[Inventory, tuple[str, ...]]:
    """Load the snapshot's Calico and Kubernetes policy objects; a rejected object is set aside.

    Returns the inventory of the loadable objects and one message per rejected object: a bad object
    in the cluster must not hide the verdict on all the others.
    """
    from kubectl_antrea_migrate.calico.load import load_objects

    pending = _raw_objects(snapshot)
    rejected: list[str] = []
    while True:
        try:
            inventory = load_objects(pending, host_endpoints_known=True)
            break
        except InputError as exc:
            culprit = (exc.location.kind, exc.location.name)
            bad = {i for i, (_, loc) in enumerate(pending) if (loc.kind, loc.name) == culprit}
            if not bad:  # cannot attribute the error to one object: nothing sensible to retry
                raise
            rejected.append(str(exc))
            pending = [p for i, p in enumerate(pending) if i not in bad]
    context = replace(
        inventory,
        namespaces=snapshot.namespaces,
        service_accounts=snapshot.service_accounts,
        pods=snapshot.pods,
    )
    return context, tuple(rejected)


def live_inventory(kubeconfig: Path | None, context: str | None) -> Inventory:
    """The cluster's policies as an Inventory; a rejected object is an input error (exit 2)."""
    from kubectl_antrea_migrate.cluster.read import read_snapshot

    inventory, rejected = inventory_from_snapshot(read_snapshot(cluster_client(kubeconfig, context)))
    if rejected:
        raise InputError("the cluster holds Calico objects that cannot be read:\n  " + "\n  ".join(rejected))
    return inventory


def _node_reports(client: KubeClient, snapshot: ClusterSnapshot) -> tuple[list[NodeReport], dict[str, str], bool]:
    from kubectl_antrea_migrate.agents import discovery

    agents = discovery.find_agents(client)
    if not agents:
        return [], {}, False
    errors = {node: str(t) for node, t in agents.items() if not isinstance(t, discovery.AgentTarget)}
    targets = {node: t for node, t in agents.items() if isinstance(t, discovery.AgentTarget)}
    try:
        tls = discovery.load_client_tls(client)
    except ClusterError as exc:
        return [], {node: str(exc) for node in agents}, True
    cidrs = {n.name: tuple(str(c) for c in n.pod_cidrs) for n in snapshot.nodes}

    def report(node: str) -> NodeReport:
        return discovery.call_agent(targets[node], tls, lambda agent: agent.report(pod_cidrs=cidrs.get(node, ())))

    reports: list[NodeReport] = []
    for outcome in discovery.fan_out(sorted(targets), report):
        if outcome.value is not None:
            reports.append(outcome.value)
        else:
            errors[outcome.node] = str(outcome.error)
    return reports, errors, True


def live_check(kubeconfig: Path | None, context: str | None, options: ConvertOptions, output: OutputFormat) -> int:
    """``check`` without ``-f``: read the cluster, assess it, print; returns the exit code."""
    from kubectl_antrea_migrate.cluster.read import read_snapshot

    client = cluster_client(kubeconfig, context)
    snapshot = read_snapshot(client)
    inventory, rejected = inventory_from_snapshot(snapshot)
    conversion = convert(inventory, options)
    reports, errors, installed = _node_reports(client, snapshot)
    result = assess_cluster(
        snapshot,
        conversion,
        analyse_snapshot(snapshot),
        reports,
        rejected_objects=rejected,
        agent_errors=errors,
        agents_installed=installed,
    )
    if output is OutputFormat.TABLE:
        _print_check(result)
    else:
        dump(_check_document(result), output.value)
    return EXIT_FINDINGS if result.blocked else EXIT_OK


def _check_document(result: CheckReport) -> dict[str, Any]:
    return {
        "blocked": result.blocked,
        "findings": [to_plain(f) for f in result.findings],
        "nodes": [to_plain(n) for n in result.pod_cidrs.nodes],
        "scenario": result.pod_cidrs.scenario.value,
        "drainFirst": list(result.pod_cidrs.drain_first),
        "policies": pio.fidelity_document(result.conversion),
        "nodeReports": [to_plain(r) for r in result.node_reports],
    }


def _print_check(result: CheckReport) -> None:
    out = console()
    rows = [(f.severity.value, f.code, f.subject, f.message, f.fix) for f in result.findings]
    out.print(table("Pre-flight findings", ("SEVERITY", "CHECK", "SUBJECT", "FINDING", "FIX"), rows))
    node_rows = [
        (n.node, n.status.value, ", ".join(str(c) for c in n.pod_cidrs) or "-",
         ", ".join(f"{o.block} {o.cidr}" for o in n.overlaps) or "-")
        for n in result.pod_cidrs.nodes
    ]
    out.print(table("Nodes", ("NODE", "PODCIDR", "CIDRS", "CALICO BLOCKS INSIDE"), node_rows))
    pio.print_fidelity(result.conversion)
    out.print("blocked: fix the blockers above before `run`" if result.blocked else "no blockers")


def apply_converted(
    kubeconfig: Path | None,
    context: str | None,
    inventory: Inventory,
    manifests: Sequence[Mapping[str, Any]],
    *,
    server_dry_run: bool,
    backup_dir: Path | None = None,
) -> None:
    """Back up every Calico policy object, then server-side apply the Antrea objects; print per object."""
    from kubectl_antrea_migrate.cluster.apply import apply_objects, backup_objects
    from kubectl_antrea_migrate.cluster.read import read_snapshot

    client = cluster_client(kubeconfig, context)
    if not server_dry_run:
        snapshot = read_snapshot(client)
        calico = [o for o in snapshot.calico_objects if o.get("kind") not in ("HostEndpoint",)]
        stamp = datetime.datetime.now(datetime.UTC)
        path = backup_objects(calico, backup_dir or Path.cwd(), now=stamp)
        print(f"backup: {len(calico)} Calico objects saved to {path}", file=sys.stderr)
    result = apply_objects(client, manifests, dry_run=server_dry_run)
    suffix = " (server dry run)" if result.dry_run else ""
    for obj in result.objects:
        line = f"{obj.ref} {obj.action.value}{suffix}"
        if obj.error:
            line += f": {obj.error}"
        print(line)
        for warning in obj.warnings:
            print(f"warning: {obj.ref}: {warning}", file=sys.stderr)
    if result.failed:
        raise ClusterError(f"{len(result.failed)} of {len(result.objects)} objects were refused by the apiserver")


def live_verify_inputs(
    kubeconfig: Path | None, context: str | None, options: ConvertOptions
) -> tuple[Inventory, AntreaObjects, str]:
    """The cluster's Calico side (with its real pods) and the Antrea side to verify against it.

    The Antrea side is what the cluster holds when any Antrea policy exists there, otherwise the
    conversion of the cluster's Calico policies (verify before ``convert --apply``).
    """
    from kubectl_antrea_migrate.antrea.load import load_antrea
    from kubectl_antrea_migrate.cluster.read import read_antrea_objects, read_snapshot

    client = cluster_client(kubeconfig, context)
    inventory, rejected = inventory_from_snapshot(read_snapshot(client))
    if rejected:
        raise InputError("the cluster holds Calico objects that cannot be read:\n  " + "\n  ".join(rejected))
    applied = read_antrea_objects(client)
    if any(o["kind"] in ("ClusterNetworkPolicy", "NetworkPolicy") for o in applied):
        pairs = [(o, Location(file="cluster", kind=o["kind"], name=str(o["metadata"].get("name", ""))))
                 for o in applied]
        return inventory, load_antrea(pairs), "the Antrea objects in the cluster"
    objects, source = pio.antrea_side(inventory, options, None)
    return inventory, objects, source + " (no Antrea policy in the cluster yet)"
