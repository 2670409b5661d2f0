"""Benchmark: the node agent's report and netfilter cleanup against the plain tools, same run.

Builds a network namespace acting as a big Calico node (root needed):
- 100,000 routes: ``--calico-routes`` Calico routes (``proto bird`` /26 block routes via tunl0
  onlink, plus /32 pod routes via 200 ``cali*`` veths) and the rest foreign (``proto static`` /32s
  via eth0, e.g. a BGP-fed table), created with ``ip -batch``;
- 20,000 iptables rules in the nft backend (the default ``iptables`` here), mostly Calico: per
  workload ``cali-fw-*``/``cali-tw-*`` chains, dispatch rules, policy chains ``cali-pi-*``/``cali-po-*``,
  next to kube-proxy's ``KUBE-SVC-*``/``KUBE-SEP-*`` chains; created with ``iptables-nft-restore``.

Then times, ``--repeat`` times each (medians printed):
- report: ``Node.report()`` (links, addresses, routes, both backends x both families, ipsets,
  CNI dir, conflicts) next to ``ip route show`` + ``iptables-save`` (the brief's baseline) and
  next to every tool read the report replaces (ip -4/-6 route, ip link, ip addr, the four -save
  tools, ipset list);
- cleanup: the nft backend's ``Netfilter.plan`` + ``apply`` (re-read, jumps by spec, flush+delete
  chains) next to ``iptables-restore`` of the dump with Calico's lines filtered out (the seed's
  ``iptables-save | grep -v cali | iptables-restore``, restore part only), and next to that whole
  seed pipeline. The rules are reloaded before each timed cleanup (not timed);
- once, the full ``Node.cleanup_calico()`` (rules, routes, veths, tunl0), for information.

    sudo python benchmarks/agent.py [--routes 100000 --rules 20000 --calico-routes 20000 --repeat 3] [--results]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kubectl_antrea_migrate.nodestate.model import Backend, Result  # noqa: E402
from node_agent.netfilter import Netfilter  # noqa: E402
from node_agent.node import Node  # noqa: E402

_PODS = 200
_SECTION = "## agent (issue 3)"


def sh(*argv: str, stdin: str | None = None) -> str:
    """Run a command, raise with its stderr on failure."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def build_links_and_routes(netns: str, total: int, calico: int) -> None:
    """eth0, tunl0 (tun stand-in unless ipip exists), cali veths, then ``total`` routes via ip -batch."""
    lines = [
        "link set lo up",
        "link add eth0 type veth peer name uplink0",
        "link set eth0 up",
        "link set uplink0 up",
        "addr add 192.168.50.10/24 dev eth0",
    ]
    sh("ip", "-n", netns, "-batch", "-", stdin="\n".join(lines) + "\n")
    if subprocess.run(
        ["ip", "-n", netns, "link", "add", "tunl0", "type", "ipip"], capture_output=True, check=False
    ).returncode != 0 and "tunl0" not in sh("ip", "-n", netns, "link"):
        sh("ip", "-n", netns, "tuntap", "add", "mode", "tun", "name", "tunl0")
    lines = ["link set tunl0 up"]
    for pod in range(_PODS):
        lines += [f"link add cali{pod:011x} type veth peer name pod{pod}", f"link set cali{pod:011x} up"]
    pod_routes = min(_PODS, calico)
    for pod in range(pod_routes):
        lines.append(f"route add 10.10.0.{pod}/32 dev cali{pod:011x} scope link")
    for block in range(calico - pod_routes):  # /26 blocks of 10.64.0.0/10, to other nodes via tunl0
        base = (10 << 24) | (64 << 16) | (block << 6)
        lines.append(f"route add {_ip(base)}/26 via 192.168.50.{11 + block % 200} dev tunl0 proto 12 onlink")
    for n in range(total - calico):  # foreign /32s of 100.64.0.0/10 via eth0
        lines.append(f"route add {_ip((100 << 24) | (64 << 16) | n)}/32 via 192.168.50.1 dev eth0 proto 4")
    sh("ip", "-n", netns, "-batch", "-", stdin="\n".join(lines) + "\n")


def _ip(value: int) -> str:
    return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))


def ruleset(rules: int) -> str:
    """An iptables-save text with about ``rules`` rules: 90% Calico, 10% kube-proxy."""
    filter_chains = [
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":cali-INPUT - [0:0]",
        ":cali-FORWARD - [0:0]",
        ":cali-OUTPUT - [0:0]",
        ":cali-from-wl-dispatch - [0:0]",
        ":cali-to-wl-dispatch - [0:0]",
        ":KUBE-FORWARD - [0:0]",
    ]
    filter_rules = [
        '-A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT',
        '-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD',
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-A OUTPUT -m comment --comment "cali:tVnHkvAo15HuiPy0" -j cali-OUTPUT',
        '-A cali-FORWARD -i cali+ -m comment --comment "cali:8ZoYfO5HKXWbB3pk" -j cali-from-wl-dispatch',
        '-A cali-FORWARD -o cali+ -m comment --comment "cali:jdEuaPBe14V2hutn" -j cali-to-wl-dispatch',
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
    ]
    nat_chains = [
        ":PREROUTING ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        ":KUBE-SERVICES - [0:0]",
        ":KUBE-MARK-MASQ - [0:0]",
    ]
    nat_rules = [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
    ]
    services = rules // 10 // 4
    for svc in range(services):
        chain, sep = f"KUBE-SVC-{svc:016X}", f"KUBE-SEP-{svc:016X}"
        nat_chains += [f":{chain} - [0:0]", f":{sep} - [0:0]"]
        ip = f"10.96.{svc // 256}.{svc % 256}"
        nat_rules += [
            f'-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment "ns/svc{svc} cluster IP" -m tcp --dport 80 '
            f"-j {chain}",
            f'-A {chain} -m comment --comment "ns/svc{svc} -> 10.10.1.{svc % 250}:8080" -j {sep}',
            f"-A {sep} -s 10.10.1.{svc % 250}/32 -j KUBE-MARK-MASQ",
            f"-A {sep} -p tcp -m tcp -j DNAT --to-destination 10.10.1.{svc % 250}:8080",
        ]
    per_workload = 20
    workloads = max(1, (rules - len(nat_rules) - len(filter_rules)) // per_workload)
    for w in range(workloads):
        iface = f"cali{w:011x}"
        fw, tw, pi, po = f"cali-fw-{iface}", f"cali-tw-{iface}", f"cali-pi-_{w:019d}", f"cali-po-_{w:019d}"
        filter_chains += [f":{fw} - [0:0]", f":{tw} - [0:0]", f":{pi} - [0:0]", f":{po} - [0:0]"]
        filter_rules += [
            f'-A cali-from-wl-dispatch -i {iface} -m comment --comment "cali:d{w:015d}" -g {fw}',
            f'-A cali-to-wl-dispatch -o {iface} -m comment --comment "cali:e{w:015d}" -g {tw}',
        ]
        for chain, policy in ((fw, po), (tw, pi)):
            filter_rules += [
                f'-A {chain} -m comment --comment "cali:a{w:015d}" -m conntrack --ctstate RELATED,ESTABLISHED '
                "-j ACCEPT",
                f'-A {chain} -m comment --comment "cali:b{w:015d}" -m conntrack --ctstate INVALID -j DROP',
                f'-A {chain} -m comment --comment "cali:c{w:015d}" -j MARK --set-xmark 0x0/0x10000',
                f'-A {chain} -m comment --comment "cali:f{w:015d}" -j {policy}',
                f'-A {chain} -m comment --comment "cali:g{w:015d}" -m mark --mark 0x10000/0x10000 -j RETURN',
                f'-A {chain} -m comment --comment "cali:h{w:015d}" -j DROP',
            ]
        for chain, port in ((pi, 8080), (po, 53)):
            filter_rules += [
                f'-A {chain} -p tcp -m comment --comment "cali:i{w:015d}" -m tcp --dport {port} '
                "-j MARK --set-xmark 0x10000/0x10000",
                f'-A {chain} -s 10.10.{w % 256}.0/24 -m comment --comment "cali:j{w:015d}" -j MARK --set-xmark '
                "0x10000/0x10000",
                f'-A {chain} -m comment --comment "cali:k{w:015d}" -m mark --mark 0x10000/0x10000 -j RETURN',
            ]
    return "\n".join(
        ["*filter", *filter_chains, *filter_rules, "COMMIT", "*nat", *nat_chains, *nat_rules, "COMMIT", ""]
    )


def is_calico_line(line: str) -> bool:
    """The seed's filter, made exact: drop cali-* chains, their rules and rules into them."""
    return line.startswith((":cali-", "-A cali-")) or " -j cali-" in line or " -g cali-" in line or '"cali:' in line


def median_time(run: Callable[[], object], repeat: int, before: Callable[[], object] | None = None) -> float:
    """Median wall time of ``run`` over ``repeat`` runs (``before`` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    """Build the namespace, time both pairs, print (and optionally record) the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", type=int, default=100_000)
    parser.add_argument("--calico-routes", type=int, default=20_000)
    parser.add_argument("--rules", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--results", action="store_true", help="write (replace) this script's section of RESULTS.md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks/agent.py needs root (network namespaces, iptables)", file=sys.stderr)
        return 2
    netns = f"ambench{os.getpid()}"
    sh("ip", "netns", "add", netns)
    try:
        return _run(netns, args)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


def _run(netns: str, args: argparse.Namespace) -> int:
    exec_ns = ("ip", "netns", "exec", netns)
    started = time.perf_counter()
    build_links_and_routes(netns, args.routes, args.calico_routes)
    rules_text = ruleset(args.rules)
    filtered = "\n".join(line for line in rules_text.splitlines() if not is_calico_line(line)) + "\n"
    total_rules = sum(line.startswith("-A ") for line in rules_text.splitlines())
    calico_rules = sum(line.startswith("-A ") and is_calico_line(line) for line in rules_text.splitlines())

    def load() -> None:
        sh(*exec_ns, "iptables-nft-restore", stdin=rules_text)

    load()
    print(
        f"fixture: {args.routes} routes ({args.calico_routes} Calico), {total_rules} rules ({calico_rules} "
        f"Calico) in {time.perf_counter() - started:.1f}s"
    )
    with tempfile.TemporaryDirectory() as host_root:
        node = Node("bench", Path(host_root), netns)
        report = node.report()
        routes_seen = len(report.routes) + report.other_route_count
        nft = next(s for s in report.netfilter if s.backend is Backend.NFT)
        assert sum(t.total_rules for t in nft.tables) == total_rules, "report saw every rule"
        print(
            f"report sees {routes_seen} routes ({len(report.routes)} Calico/Antrea), "
            f"{sum(t.calico_rules + t.jump_rules for t in nft.tables)} Calico rules"
        )

        report_s = median_time(node.report, args.repeat)
        brief_s = median_time(
            lambda: (sh("ip", "-n", netns, "route", "show"), sh(*exec_ns, "iptables-save")), args.repeat
        )
        tools = [
            ("ip", "-n", netns, "-4", "route", "show"),
            ("ip", "-n", netns, "-6", "route", "show"),
            ("ip", "-n", netns, "link", "show"),
            ("ip", "-n", netns, "addr", "show"),
            (*exec_ns, "iptables-legacy-save"),
            (*exec_ns, "ip6tables-legacy-save"),
            (*exec_ns, "iptables-nft-save"),
            (*exec_ns, "ip6tables-nft-save"),
            (*exec_ns, "ipset", "list", "-n"),
        ]
        all_tools_s = median_time(lambda: [sh(*argv) for argv in tools], args.repeat)

        netfilter = Netfilter(Backend.NFT, netns)

        def cleanup() -> None:
            # Exactly Node.cleanup_calico's netfilter part: the cleanup scan skips rules inside cali-* chains.
            outcomes = netfilter.apply(Netfilter.plan(netfilter.scan(counts=False)))
            assert all(o.result is Result.DONE for o in outcomes)

        cleanup_s = median_time(cleanup, args.repeat, before=load)
        left = [line for line in sh(*exec_ns, "iptables-nft-save").splitlines() if is_calico_line(line)]
        assert left == [], left[:3]
        restore_s = median_time(lambda: sh(*exec_ns, "iptables-nft-restore", stdin=filtered), args.repeat, before=load)

        def seed_pipeline() -> None:
            dump = sh(*exec_ns, "iptables-nft-save")
            kept = "\n".join(line for line in dump.splitlines() if not is_calico_line(line)) + "\n"
            sh(*exec_ns, "iptables-nft-restore", stdin=kept)

        seed_s = median_time(seed_pipeline, args.repeat, before=load)
        load()
        scan_s = median_time(netfilter.scan, args.repeat)
        save_s = median_time(lambda: sh(*exec_ns, "iptables-nft-save"), args.repeat)
        started = time.perf_counter()
        outcomes = node.cleanup_calico(dry_run=False)
        full_s = time.perf_counter() - started
        done = sum(o.result is Result.DONE for o in outcomes)
        print(
            f"full Node.cleanup_calico (rules, {args.calico_routes} routes, {_PODS} veths, tunl0): "
            f"{full_s:.2f}s, {done} objects removed"
        )

    rows = [
        ("Node.report()", report_s, "ip route show + iptables-save", brief_s),
        ("Node.report()", report_s, "all tools the report reads (9 commands)", all_tools_s),
        ("Netfilter(nft) scan+plan+apply", cleanup_s, "iptables-restore of the filtered dump", restore_s),
        ("Netfilter(nft) scan+plan+apply", cleanup_s, "iptables-save, filter, iptables-restore (seed)", seed_s),
        ("Netfilter(nft) scan (both families)", scan_s, "iptables-nft-save (IPv4 only)", save_s),
    ]
    table = ["| operation | agent (s) | baseline | baseline (s) | ratio |", "|---|---|---|---|---|"]
    table += [f"| {a} | {a_s:.3f} | {b} | {b_s:.3f} | {a_s / b_s:.2f}x |" for a, a_s, b, b_s in rows]
    print("\n".join(table))
    if args.results:
        notes = [
            "",
            f"Full `Node.cleanup_calico()` (rules of both backends, {args.calico_routes} routes, {_PODS} veths, tunl0, "
            f"CNI files), one run: {full_s:.2f} s (veth deletion dominates: ~18 ms each in the kernel).",
            "",
            f"The rules cleanup is {cleanup_s / restore_s:.2f}x `iptables-restore` of the filtered dump in this run "
            f"({'within' if cleanup_s <= 2 * restore_s else 'OVER'} the 2x target; it was 3.2-4.8x with "
            "`iptables-nft-save` and `nft -f`, and runs on this shared 2-core machine scatter widely). The nft "
            "backend is read over "
            "netlink (rule handles per chain, `iptables-nft -S` only for the few non-Calico chains holding a Calico "
            "rule) instead of `iptables-nft-save`, and the plan runs as ONE nf_tables transaction (jump rules by "
            "handle, then flush and delete the cali-* chains) guarded by the scan's ruleset generation id. The "
            "cleanup row times exactly what `Node.cleanup_calico` runs: `scan(counts=False)`, which does not dump "
            "the rules inside cali-* chains (they are flushed and deleted whole, so only their names are needed; "
            'outcomes say "flushed and deleted" without a rule count), so the kernel dump shrinks to the '
            "non-Calico chains. The report's full scan (every chain's rule count) is the last row "
            f"({scan_s:.3f} s). What is left is deleting Calico's rules and chains, which the baseline does too; "
            "the baseline restores a dump read beforehand and replaces whole tables (racing kube-proxy). "
            f"Against the whole seed pipeline (save, filter, restore) it is {cleanup_s / seed_s:.2f}x.",
        ]
        _record(args, [*table, *notes], total_rules, calico_rules)
    return 0


def _record(args: argparse.Namespace, table: list[str], total_rules: int, calico_rules: int) -> None:
    path = REPO / "benchmarks" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    head = (
        f"{_SECTION}\n\n`sudo python benchmarks/agent.py --results` on {datetime.date.today()}, "
        f"{platform.machine()} ({os.cpu_count()} cores, shared), Linux {platform.release()}: a network "
        f"namespace with {args.routes} routes ({args.calico_routes} Calico) and {total_rules} iptables-nft "
        f"rules ({calico_rules} Calico); medians of {args.repeat} runs, same run for both columns. "
        "Target: ratio <= 2x.\n\n"
    )
    section = head + "\n".join(table) + "\n"
    start = text.find(_SECTION)
    if start >= 0:  # replace our own section, keep everyone else's
        end = text.find("\n## ", start + len(_SECTION))
        text = text[:start] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
