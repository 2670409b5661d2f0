"""Benchmark: ``run`` on 50 simulated nodes x 20 pods, batched, next to one node at a time.

The baseline is what the seed's per-node Jobs do: one node after the other. Both runs use the same
runner (``kubectl_antrea_migrate.migrate.runner.run``) over the same in-memory ports
(``kubectl_antrea_migrate.migrate.simulation``) with a per-call latency model taken from
``notes/kubelet.md`` (KillSandboxes ~0.3 s per node, pods Ready ~1.5 s after the kill, a sandbox
address after ~0.5 s; 20 ms per apiserver request and state write; 30 s per DaemonSet rollout; 5 s
per drain). Time is virtual: the numbers are the simulated wall time of the migration, computed in
a second or two of real time (also printed: the runner's own CPU cost). Nodes inside a batch
really run in parallel threads; the virtual clock gives each its own time line.

Cluster: 47 workers + 3 control-plane nodes (50 nodes); each node runs 20 pods: 2 hostNetwork (never
restarted), 1 in a cluster-wide PodDisruptionBudget (maxUnavailable 5), 17 others. Two nodes are
overlapped by Calico blocks (drained first).

    python benchmarks/migrate.py [--nodes 50] [--pods 20] [--batch-size N] [--results]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kubectl_antrea_migrate.migrate.plan import Network, Plan, PlanOptions, Strategy, build_plan  # noqa: E402
from kubectl_antrea_migrate.migrate.runner import NullProgress, Ports, RunOptions, run  # noqa: E402
from kubectl_antrea_migrate.migrate.simulation import (  # noqa: E402
    SimPod,
    SimulatedCluster,
    SimulatedStateStore,
    VirtualClock,
)

CONTROL_PLANE = 3
OVERLAPPED = ("node-007", "node-023")


def build_cluster(node_count: int, pods: int) -> SimulatedCluster:
    """The simulated cluster, every pod on Calico."""
    cluster = SimulatedCluster(VirtualClock())
    for i in range(node_count):
        name = f"node-{i:03d}"
        members = [SimPod("kube-system", f"proxy-{i}", Network.CALICO, host_network=True, daemonset=True),
                   SimPod("kube-system", f"agent-{i}", Network.CALICO, host_network=True, daemonset=True),
                   SimPod("default", f"web-{i}", Network.CALICO, pdb="default/web", daemonset=True)]
        members += [SimPod(f"ns-{j % 5}", f"app-{i}-{j}", Network.CALICO, daemonset=True)
                    for j in range(pods - len(members))]
        cluster.add_node(name, members, control_plane=i >= node_count - CONTROL_PLANE,
                         pod_cidr=f"10.244.{i}.0/24")
    cluster.pdb_max_unavailable["default/web"] = 5
    return cluster


def measure(node_count: int, pods: int, strategy: Strategy, batch_size: int | None) -> dict[str, float]:
    """One whole migration; returns simulated seconds, real seconds and counts."""
    cluster = build_cluster(node_count, pods)
    plan: Plan = build_plan(cluster.node_specs(overlapped=OVERLAPPED),
                            PlanOptions(strategy=strategy, batch_size=batch_size, antrea_manifest="antrea.yml"))
    store = SimulatedStateStore(cluster.clock)
    clock = cluster.clock
    begin_virtual = clock.now()
    begin_cpu = time.process_time()
    begin_real = time.perf_counter()
    result = run(plan, Ports(cluster, cluster, clock), store, NullProgress(),
                 RunOptions(holder="benchmark", poll_interval=0.25, heartbeat=None))
    real = time.perf_counter() - begin_real
    cpu = time.process_time() - begin_cpu
    if cluster.final_check() or cluster.pdb_violations:
        raise SystemExit(f"benchmark run did not end clean: {cluster.final_check()[:3]} {cluster.pdb_violations[:3]}")
    node_steps = [r for r in result.state.steps if r.phase in ("bridge", "switch", "cleanup")]
    node_phases = max(r.finished or r.started for r in node_steps) - min(r.started for r in node_steps)
    return {
        "batch_size": plan.batch_size,
        "virtual_s": clock.now() - begin_virtual,
        "node_phases_s": node_phases,
        "real_s": real,
        "cpu_s": cpu,
        "restarts": sum(len(p.restarts) for p in cluster.all_pods()),
        "state_writes": store.writes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the plan's default (10%% of workers)")
    parser.add_argument("--results", action="store_true", help="append the result to benchmarks/RESULTS.md")
    args = parser.parse_args()
    lines = [
        f"{args.nodes} simulated nodes x {args.pods} pods ({CONTROL_PLANE} control plane, "
        f"{len(OVERLAPPED)} drained for overlap); simulated wall time of `run`, latency model from notes/kubelet.md",
        "",
        "| strategy | batch size | `run` s, batched | `run` s, one node at a time | speed-up "
        "| node phases s (batched / one at a time) | pod restarts | state writes | real s (batched / baseline) "
        "| runner CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for strategy in (Strategy.MULTUS, Strategy.DIRECT):
        batched = measure(args.nodes, args.pods, strategy, args.batch_size)
        baseline = measure(args.nodes, args.pods, strategy, 1)
        ratio = baseline["virtual_s"] / batched["virtual_s"]
        lines.append(
            f"| {strategy.value} | {batched['batch_size']:.0f} | {batched['virtual_s']:.1f} "
            f"| {baseline['virtual_s']:.1f} "
            f"| {ratio:.1f}x | {batched['node_phases_s']:.1f} / {baseline['node_phases_s']:.1f} "
            f"| {batched['restarts']:.0f} | {batched['state_writes']:.0f} "
            f"| {batched['real_s']:.2f} / {baseline['real_s']:.2f} | {batched['cpu_s']:.2f} |"
        )
    print("\n".join(lines))
    if args.results:
        record(lines)
    return 0


def record(lines: list[str]) -> None:
    """Append to benchmarks/RESULTS.md."""
    path = REPO / "benchmarks" / "RESULTS.md"
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = "" if path.exists() else "# Benchmark results\n"
    body = [
        "",
        "## migrate (issue 5)",
        "",
        f"`python benchmarks/migrate.py --results` on {stamp}, {platform.machine()}, Python "
        f"{platform.python_version()} (2 shared cores). In-memory ports on a virtual clock: the times are the "
        "simulated duration of the migration, the same runner and latency model for both columns; the baseline "
        "is one node at a time, as the seed's per-node Jobs do.",
        "",
        *lines,
        "",
    ]
    with path.open("a", encoding="utf-8") as out:
        out.write(header + "\n".join(body))


if __name__ == "__main__":
    raise SystemExit(main())
