"""Benchmark: reading a large cluster for ``check`` against ``kubectl get`` of the same kinds, same run.

Starts the real control plane of the tests (``scripts/build-k8s.sh`` builds it), creates 1,000 Nodes
(/24 podCIDRs, InternalIP, Ready), 5,000 Calico policies (GlobalNetworkPolicy/NetworkPolicy mix over
50 namespaces) and 2,000 Calico IPAM blocks (a few planted inside node podCIDRs), then times:

- ``check``'s cluster part: ``read_snapshot`` (one paginated list per kind) + the Pod CIDR analysis;
- ``kubectl get <the same 15 kinds> -A -o json`` with the ``kubectl`` built alongside the apiserver,
  with a fresh discovery cache each run (as a first ``kubectl`` on a machine has).

Both are run ``--repeat`` times alternately; the medians and the HTTP request counts are printed (and,
with ``--results``, appended to benchmarks/RESULTS.md). Target: ``check`` <= 2x kubectl, O(kinds)
requests.

    python benchmarks/check.py [--nodes 1000 --policies 5000 --blocks 2000 --repeat 5] [--results]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kubectl_antrea_migrate.cluster.client import KubeClient  # noqa: E402
from kubectl_antrea_migrate.cluster.read import read_snapshot  # noqa: E402
from kubectl_antrea_migrate.preflight.podcidr import analyse_snapshot  # noqa: E402
from tests.harness import objects as o  # noqa: E402
from tests.harness.controlplane import ControlPlane, k8s_version, start_control_plane  # noqa: E402

KINDS = (
    "nodes",
    "namespaces",
    "serviceaccounts",
    "pods",
    "networkpolicies.networking.k8s.io",
    "daemonsets.apps",
    "tiers.crd.projectcalico.org",
    "globalnetworkpolicies.crd.projectcalico.org",
    "networkpolicies.crd.projectcalico.org",
    "globalnetworksets.crd.projectcalico.org",
    "networksets.crd.projectcalico.org",
    "hostendpoints.crd.projectcalico.org",
    "ippools.crd.projectcalico.org",
    "ipamblocks.crd.projectcalico.org",
    "blockaffinities.crd.projectcalico.org",
)
_NAMESPACES = 50
# kubectl -v=6 logs one line per HTTP response.
_KUBECTL_REQUEST = re.compile(r'"Response" verb=|\] (GET|POST|PUT|PATCH|DELETE) https?://')


def populate(client: KubeClient, nodes: int, policies: int, blocks: int) -> float:
    """Create the objects on 16 threads; return the seconds it took."""
    start = time.perf_counter()
    o.create_many(client, [o.node(f"node-{i:04d}", [_pod_cidr(i)], _node_ip(i)) for i in range(nodes)])
    namespaces = [f"team-{i:02d}" for i in range(_NAMESPACES)]
    o.create_many(client, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces])
    o.create(client, o.ip_pool("default-ipv4-ippool", "10.0.0.0/8", ipip="Always"))
    calico: list[dict[str, object]] = []
    for i in range(policies):
        if i % 2:
            calico.append(o.calico_network_policy(f"np-{i:05d}", namespaces[i % _NAMESPACES], f"app == 'a{i}'"))
        else:
            calico.append(o.global_network_policy(f"gnp-{i:05d}", f"role == 'r{i}'", order=float(i)))
    o.create_many(client, calico)
    ipam = [o.ipam_block(_block_cidr(i), f"node-{i % max(nodes, 1):04d}", allocated=i % 8) for i in range(blocks)]
    # The seed's case, a few times: a block held by one node inside another node's /24 podCIDR.
    planted = [
        o.ipam_block(f"10.{100 + n // 256}.{n % 256}.128/26", "node-0000", 3) for n in (7, 300, 901) if n < nodes
    ]
    o.create_many(client, ipam + planted)
    return time.perf_counter() - start


def _pod_cidr(i: int) -> str:
    return f"10.{100 + i // 256}.{i % 256}.0/24"


def _node_ip(i: int) -> str:
    return f"192.168.{i // 250}.{i % 250 + 1}"


def _block_cidr(i: int) -> str:
    return f"10.{20 + i // 1024}.{(i % 1024) // 4}.{(i % 4) * 64}/26"


def time_check(client: KubeClient) -> tuple[float, int, int]:
    """Seconds, API requests and overlapped nodes of one read + Pod CIDR analysis."""
    start = time.perf_counter()
    snapshot = read_snapshot(client)
    analysis = analyse_snapshot(snapshot)
    return time.perf_counter() - start, snapshot.requests, len(analysis.overlapped)


def time_kubectl(cp: ControlPlane) -> tuple[float, int, int]:
    """Seconds, HTTP requests and output bytes of ``kubectl get <kinds> -A -o json`` (cold discovery cache)."""
    with tempfile.TemporaryDirectory(prefix="kubectl-cache-") as cache:
        cmd = [
            str(cp.bin_dir / "kubectl"),
            "--kubeconfig",
            str(cp.admin_kubeconfig),
            "--cache-dir",
            cache,
            "-v=6",
            "get",
            ",".join(KINDS),
            "-A",
            "-o",
            "json",
        ]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, check=True)
        elapsed = time.perf_counter() - start
    requests = sum(1 for line in done.stderr.decode(errors="replace").splitlines() if _KUBECTL_REQUEST.search(line))
    return elapsed, requests, len(done.stdout)


def main() -> int:
    """Run the benchmark and print (and optionally record) the result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--policies", type=int, default=5000)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--results", action="store_true", help="append the result to benchmarks/RESULTS.md")
    args = parser.parse_args()

    with start_control_plane(controller_manager=False) as cp:
        client = cp.client()
        populate_s = populate(client, args.nodes, args.policies, args.blocks)
        print(f"created {args.nodes} nodes, {args.policies} policies, {args.blocks} blocks in {populate_s:.1f}s")
        time_check(client)  # warm the apiserver's watch caches and the client's connection pool alike
        time_kubectl(cp)
        checks, kubectls = [], []
        for _ in range(args.repeat):
            checks.append(time_check(client))
            kubectls.append(time_kubectl(cp))
    check_s = statistics.median(c[0] for c in checks)
    kubectl_s = statistics.median(k[0] for k in kubectls)
    check_requests, overlapped = checks[-1][1], checks[-1][2]
    kubectl_requests = kubectls[-1][1]
    ratio = check_s / kubectl_s
    lines = [
        f"objects: {args.nodes} Nodes, {args.policies} Calico policies, {args.blocks} IPAM blocks "
        f"(+ {_NAMESPACES} namespaces); Kubernetes {k8s_version()}; {args.repeat} runs each, median",
        "",
        "| what | wall time (median) | API requests |",
        "| --- | --- | --- |",
        f"| check: read_snapshot + Pod CIDR analysis | {check_s:.2f} s | {check_requests} |",
        f"| kubectl get {len(KINDS)} kinds -A -o json (cold discovery cache) "
        f"| {kubectl_s:.2f} s | {kubectl_requests} |",
        "",
        f"ratio check/kubectl: {ratio:.2f} (target <= 2.00); check found {overlapped} overlapped nodes; "
        f"all runs check: {', '.join(f'{c[0]:.2f}' for c in checks)} s; "
        f"kubectl: {', '.join(f'{k[0]:.2f}' for k in kubectls)} s",
    ]
    print("\n".join(lines))
    if args.results:
        _record(lines)
    return 0 if ratio <= 2.0 else 1


def _record(lines: list[str]) -> None:
    path = REPO / "benchmarks" / "RESULTS.md"
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = "" if path.exists() else "# Benchmark results\n"
    body = [
        "",
        "## check (issue 4)",
        "",
        f"`python benchmarks/check.py --results` on {stamp}, {platform.machine()}, Python {platform.python_version()}"
        " (2 shared cores).",
        "",
        *lines,
        "",
    ]
    with path.open("a", encoding="utf-8") as out:
        out.write(header + "\n".join(body))


if __name__ == "__main__":
    raise SystemExit(main())
