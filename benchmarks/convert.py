"""Benchmark: converting 10,000 Calico policies, next to merely parsing the same YAML (issue 2).

Figure: policies/s of load + convert (what ``check -f`` does) and its ratio to
``yaml.load_all(..., Loader=yaml.CSafeLoader)`` of the same file, measured in the same run (the
machines are shared and noisy: the ratio is the figure that travels). Also printed: rendering and
YAML output (what ``convert -f`` adds on top). Target: >= 2,000 policies/s and <= 3x the parse time.

The input is a realistic mix, generated deterministically: 200 namespaces; per namespace app
policies (equality/set/negated selectors, ports, port ranges, named ports, DNS egress, Log+Deny),
GlobalNetworkPolicies in four tiers (namespaceSelectors, nets/notNets, Pass, Deny), NetworkSets.

    python benchmarks/convert.py [--policies 10000] [--repeat 3] [--results]
"""

from __future__ import annotations

import argparse
import datetime
import io
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kubectl_antrea_migrate.antrea.render import render  # noqa: E402
from kubectl_antrea_migrate.calico.load import load_paths  # noqa: E402
from kubectl_antrea_migrate.convert import convert  # noqa: E402
from kubectl_antrea_migrate.convert.result import ConvertOptions, Fidelity  # noqa: E402
from kubectl_antrea_migrate.output import dump_manifests  # noqa: E402

V3 = "projectcalico.org/v3"
APPS = ("web", "api", "db", "cache", "worker", "queue", "auth", "search")
TIERS = (("security", 100, "Pass"), ("platform", 200, "Pass"), ("compliance", 300, "Deny"))


def _namespaced_policy(rng: random.Random, ns: str, index: int) -> dict[str, Any]:
    app = rng.choice(APPS)
    peer = rng.choice([a for a in APPS if a != app])
    selector = rng.choice(
        [
            f"app == '{app}'",
            f"app == '{app}' && tier != 'canary'",
            f"app in {{'{app}', '{peer}'}} && has(version)",
            f"app == '{app}' || role == '{app}-admin'",
        ]
    )
    ingress: list[dict[str, Any]] = [
        {
            "action": "Allow",
            "protocol": "TCP",
            "source": {"selector": f"app == '{peer}'"},
            "destination": {"ports": rng.choice([[8080], [8443, "9000:9100"], ["http"], [5432]])},
        }
    ]
    if rng.random() < 0.3:
        ingress.append({"action": "Allow", "protocol": "TCP", "source": {"namespaceSelector": "team == 'ops'",
                        "selector": "app == 'prometheus'"}, "destination": {"ports": ["metrics"]}})
    if rng.random() < 0.1:
        ingress += [{"action": "Log"}, {"action": "Deny"}]
    spec: dict[str, Any] = {"order": float(100 + index % 50), "selector": selector, "ingress": ingress}
    if rng.random() < 0.5:
        spec["egress"] = [
            {"action": "Allow", "protocol": "UDP", "destination": {
                "namespaceSelector": "projectcalico.org/name == 'kube-system'",
                "selector": "k8s-app == 'kube-dns'", "ports": [53]}},
            {"action": "Allow", "protocol": "TCP", "destination": {"selector": f"app == '{peer}'"}},
        ]
        spec["types"] = ["Ingress", "Egress"]
    return {"apiVersion": V3, "kind": "NetworkPolicy",
            "metadata": {"name": f"{app}-{index}", "namespace": ns}, "spec": spec}


def _global_policy(rng: random.Random, index: int) -> dict[str, Any]:
    tier, _, _ = rng.choice(TIERS)
    team = rng.choice(("shop", "payments", "ops", "data"))
    rule = rng.choice(
        [
            {"action": "Deny", "source": {"nets": [f"198.51.{index % 250}.0/24"]}},
            {"action": "Allow", "protocol": "TCP", "source": {"nets": ["0.0.0.0/0"], "notNets": ["10.0.0.0/8"]},
             "destination": {"ports": [443]}},
            {"action": "Deny",
             "source": {"namespaceSelector": f"team == '{team}'", "selector": "quarantine == 'true'"}},
            {"action": "Deny", "protocol": "UDP", "destination": {"ports": ["1024:65535"], "notPorts": [4789, 8472]}},
        ]
    )
    spec = {"tier": tier, "order": float(index), "namespaceSelector": f"team == '{team}'",
            "selector": f"app == '{rng.choice(APPS)}'", "types": ["Ingress"], "ingress": [rule]}
    return {"apiVersion": V3, "kind": "GlobalNetworkPolicy", "metadata": {"name": f"{tier}.g{index}"}, "spec": spec}


def generate(policies: int, seed: int = 7) -> list[dict[str, Any]]:
    """The benchmark's input objects: namespaces, tiers, network sets, then policies."""
    rng = random.Random(seed)
    namespaces = [f"ns-{i:03d}" for i in range(200)]
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
            "team": rng.choice(("shop", "payments", "ops", "data"))}}}
        for ns in [*namespaces, "kube-system"]
    ]
    docs += [{"apiVersion": V3, "kind": "Tier", "metadata": {"name": n}, "spec": {"order": o, "defaultAction": a}}
             for n, o, a in TIERS]
    docs += [{"apiVersion": V3, "kind": "NetworkSet", "metadata": {"name": f"partners-{i}", "namespace": ns,
              "labels": {"role": "partner"}}, "spec": {"nets": [f"192.0.2.{i % 250}/32"]}}
             for i, ns in enumerate(namespaces[:100])]
    globals_ = policies // 5
    docs += [_global_policy(rng, i) for i in range(globals_)]
    docs += [_namespaced_policy(rng, namespaces[i % len(namespaces)], i) for i in range(policies - globals_)]
    return docs


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _replace_section(path: Path, heading: str, body: str) -> None:
    """Put ``body`` (starting with ``heading``) in place of that section, or at the end."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find(heading)
    if start == -1:
        path.write_text(text.rstrip("\n") + "\n\n" + body)
        return
    end = text.find("\n## ", start + len(heading))
    rest = text[end + 1:] if end != -1 else ""
    path.write_text(text[:start] + body + ("\n" + rest if rest else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--results", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policies.yaml"
        path.write_text(yaml.dump_all(generate(args.policies), Dumper=yaml.CSafeDumper, sort_keys=False))
        text = path.read_text()
        t_parse, _ = _best(lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)), args.repeat)
        t_load, inventory = _best(lambda: load_paths([str(path)]), args.repeat)
        # partial: the mix deliberately holds a few refusals; the rest is still rendered and timed.
        t_convert, result = _best(lambda: convert(inventory, ConvertOptions(partial=True)), args.repeat)
        t_render, manifests = _best(lambda: render(result.objects), args.repeat)
        t_dump, _ = _best(lambda: dump_manifests(manifests, "yaml", io.StringIO()), args.repeat)

    n = len(inventory.policies)
    check_time = t_load + t_convert
    fidelity = {f.value: sum(1 for r in result.reports if r.fidelity is f) for f in Fidelity}
    rows = [
        ("yaml.load_all (CSafeLoader), baseline", t_parse, 1.0),
        ("load (validate + model)", t_load, t_load / t_parse),
        ("convert", t_convert, t_convert / t_parse),
        ("load + convert (= check -f)", check_time, check_time / t_parse),
        ("render + YAML output (convert -f adds)", t_render + t_dump, (t_render + t_dump) / t_parse),
    ]
    print(f"{n} policies, {len(manifests)} Antrea objects, fidelity {fidelity}")
    for label, seconds, ratio in rows:
        print(f"  {label:42s} {seconds:7.3f} s  {ratio:5.2f}x parse")
    rate = n / check_time
    print(f"load + convert: {rate:,.0f} policies/s (target >= 2,000); {check_time / t_parse:.2f}x parse (target <= 3x)")
    if args.results:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            "",
            "## convert (issue 2)",
            "",
            f"`python benchmarks/convert.py --results` on {stamp}, {platform.machine()}, Python "
            f"{platform.python_version()} (2 shared cores); median of {args.repeat}.",
            "",
            f"{n} policies (realistic mix), {len(manifests)} Antrea objects out; fidelity {fidelity}",
            "",
            "| step | seconds | x parse |",
            "| --- | ---: | ---: |",
            *[f"| {label} | {seconds:.3f} | {ratio:.2f} |" for label, seconds, ratio in rows],
            "",
            f"load + convert: **{rate:,.0f} policies/s** (target >= 2,000), **{check_time / t_parse:.2f}x** the "
            "CSafeLoader parse of the same YAML (target <= 3x).",
        ]
        _replace_section(REPO / "benchmarks" / "RESULTS.md", "## convert (issue 2)", "\n".join(lines[1:]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
