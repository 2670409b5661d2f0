"""Benchmark: ``verify`` on 300 pods x 1,000 Calico policies, and its growth from 100 to 300 pods.

Builds a synthetic cluster in memory (10 namespaces, 3 tiers, NetworkPolicy/GlobalNetworkPolicy mix:
label selectors across namespaces, nets, TCP/UDP ports, named ports, Deny/Allow/Log), converts it with
``kubectl_antrea_migrate.convert.convert`` (the Antrea side is what the converter emits), then times:

- building the probe universe;
- the Calico evaluator alone and the Antrea evaluator alone over every probe (the cost split);
- ``verify()`` end to end (both evaluators plus the diff), in probes per second;

first with 100 pods, then with 300, in the same run. Times are CPU seconds of this process
(``time.process_time``): the machine is shared, so wall time says more about the neighbours. Differences
must be zero (the converter is exact on this input); the count is printed as a sanity check.

    python benchmarks/verify.py [--pods 100,300] [--policies 1000] [--results]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import ipaddress
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kubectl_antrea_migrate.calico.model import (  # noqa: E402
    Action,
    Direction,
    EntityRule,
    Inventory,
    NamedPort,
    Policy,
    PolicyKind,
    PortRange,
    Rule,
    Tier,
)
from kubectl_antrea_migrate.calico.selector.parse import parse_selector  # noqa: E402
from kubectl_antrea_migrate.convert import convert  # noqa: E402
from kubectl_antrea_migrate.convert.result import ConvertOptions  # noqa: E402
from kubectl_antrea_migrate.kube.model import ContainerPort, LabelMap, Namespace, Pod  # noqa: E402
from kubectl_antrea_migrate.verify.antrea_eval import AntreaEvaluator  # noqa: E402
from kubectl_antrea_migrate.verify.calico_eval import CalicoEvaluator  # noqa: E402
from kubectl_antrea_migrate.verify.diff import verify_universe  # noqa: E402
from kubectl_antrea_migrate.verify.endpoints import build_universe  # noqa: E402

NAMESPACES = 10
APPS = 30
TIERS = (Tier("security", 100.0), Tier("platform", 200.0, Action.PASS))


def cluster(pods: int, policies: int) -> Inventory:
    """A deterministic cluster: ``pods`` pods over 10 namespaces and ``policies`` Calico policies."""
    namespaces = tuple(
        Namespace(f"ns-{i}", LabelMap({"team": f"t{i % 3}", "kubernetes.io/metadata.name": f"ns-{i}"}))
        for i in range(NAMESPACES)
    )
    pod_list = tuple(
        Pod(
            f"pod-{i}",
            f"ns-{i % NAMESPACES}",
            LabelMap({"app": f"app-{i % APPS}", "tier": ("front", "back", "data")[i % 3]}),
            ips=(str(ipaddress.IPv4Address("10.1.0.10") + i),),
            ports=(ContainerPort(8080, "TCP", "http"),) if i % 3 == 0 else (),
        )
        for i in range(pods)
    )
    return Inventory(
        policies=tuple(_policy(k) for k in range(policies)),
        tiers=TIERS,
        namespaces=namespaces,
        pods=pod_list,
    )


def _policy(k: int) -> Policy:
    app = f"app-{k % APPS}"
    peer = f"app-{(k * 7 + 1) % APPS}"
    if k % 10 == 0:  # security tier: deny a /24 to one app everywhere
        rule = Rule(Action.DENY, source=EntityRule(nets=(ipaddress.ip_network(f"172.16.{k % 256}.0/24"),)))
        return _gnp(f"sec-{k}", f"app == '{app}'", "security", k, ingress=(rule,))
    if k % 10 == 1:  # platform tier (Pass default): DNS egress for a team's namespaces
        dns = Rule(Action.ALLOW, protocol=17, destination=EntityRule(ports=(PortRange(53, 53),)))
        gnp = _gnp(f"dns-{k}", "tier == 'data'", "platform", k, egress=(dns,))
        return dataclasses.replace(gnp, namespace_selector=parse_selector(f"team == 't{k % 3}'"))
    ns = f"ns-{k % NAMESPACES}"
    port = PortRange(8000 + k % 5, 8000 + k % 5) if k % 4 else NamedPort("http")
    allow = Rule(
        Action.ALLOW,
        protocol=6,
        source=EntityRule(selector=parse_selector(f"app == '{peer}'")),
        destination=EntityRule(ports=(port,)),
    )
    rules = (Rule(Action.LOG), allow) if k % 7 == 0 else (allow,)
    return Policy(
        kind=PolicyKind.NETWORK_POLICY,
        name=f"np-{k}",
        namespace=ns,
        tier="default",
        order=float(k),
        selector=parse_selector(f"app == '{app}'"),
        types=frozenset({Direction.INGRESS}),
        ingress=rules,
    )


def _gnp(
    name: str, selector: str, tier: str, order: int, ingress: tuple[Rule, ...] = (), egress: tuple[Rule, ...] = ()
) -> Policy:
    types = {Direction.INGRESS} if ingress else set()
    types |= {Direction.EGRESS} if egress else set()
    return Policy(
        kind=PolicyKind.GLOBAL_NETWORK_POLICY,
        name=name,
        namespace=None,
        tier=tier,
        order=float(order),
        selector=parse_selector(selector),
        types=frozenset(types),
        ingress=ingress,
        egress=egress,
    )


def run(pods: int, policies: int) -> dict[str, float]:
    """Time one size; returns the measurements."""
    inventory = cluster(pods, policies)
    started = time.process_time()
    result = convert(inventory, ConvertOptions())
    convert_s = time.process_time() - started
    if result.blocked:
        problems = [p for r in result.reports for p in r.problems][:5]
        raise SystemExit(f"the converter refused the benchmark input: {problems}")
    antrea = result.objects

    started = time.process_time()
    universe = build_universe(inventory, antrea)
    universe_s = time.process_time() - started
    probes = universe.probe_count()

    timings: dict[str, float] = {}
    for name, evaluator in (
        ("calico", lambda: CalicoEvaluator(inventory, universe.population)),
        ("antrea", lambda: AntreaEvaluator(antrea, universe.population)),
    ):
        started = time.process_time()
        ev = evaluator()
        for src, dst in universe.pairs():
            ev.decide_many(src, dst, universe.traffic(src.ip.version))
        timings[name] = time.process_time() - started

    started = time.process_time()
    report = verify_universe(inventory, antrea, universe)
    verify_s = time.process_time() - started
    return {
        "pods": pods,
        "policies": policies,
        "antrea_policies": len(antrea.policies),
        "endpoints": len(universe.endpoints),
        "probes": probes,
        "differences": len(report.differences),
        "convert_s": convert_s,
        "universe_s": universe_s,
        "calico_s": timings["calico"],
        "antrea_s": timings["antrea"],
        "verify_s": verify_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", default="100,300", help="comma-separated pod counts, run in order")
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--results", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows = [run(int(n), args.policies) for n in args.pods.split(",")]
    lines = [
        "| pods | policies (Antrea) | endpoints | probes | verify CPU s | probes/s | Calico eval s | Antrea eval s |"
        " universe s | convert s | differences |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['pods']} | {r['policies']} ({r['antrea_policies']}) | {r['endpoints']} | {r['probes']:,} "
            f"| {r['verify_s']:.1f} | {r['probes'] / r['verify_s']:,.0f} | {r['calico_s']:.1f} | {r['antrea_s']:.1f} "
            f"| {r['universe_s']:.2f} | {r['convert_s']:.1f} | {r['differences']} |"
        )
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        lines.append("")
        lines.append(
            f"Growth {first['pods']} → {last['pods']} pods: probes x{last['probes'] / first['probes']:.1f}, "
            f"verify time x{last['verify_s'] / first['verify_s']:.1f} "
            f"(Calico x{last['calico_s'] / first['calico_s']:.1f}, Antrea x{last['antrea_s'] / first['antrea_s']:.1f})."
        )
    print("\n".join(lines))
    if args.results:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        with (REPO / "benchmarks" / "RESULTS.md").open("a") as out:
            out.write(
                f"\n## verify (issue 6)\n\n{stamp}, Python {platform.python_version()}, {platform.machine()}, "
                "one process on a shared 2-core machine. `python benchmarks/verify.py --results`\n\n"
            )
            out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
