"""``verify``: ask both evaluators about every probe and report where their verdicts differ.

Pure: takes models, returns a ``VerifyReport``. The CLI prints it and exits with
``report.exit_code`` (1 on any difference). Every difference names both deciding rules, so a user can
see which Calico rule and which Antrea rule disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubectl_antrea_migrate.antrea.model import BASELINE_TIER, AntreaAction, AntreaObjects
from kubectl_antrea_migrate.calico.model import Inventory
from kubectl_antrea_migrate.errors import EXIT_FINDINGS, EXIT_OK
from kubectl_antrea_migrate.kube.model import KubernetesNetworkPolicy, Pod
from kubectl_antrea_migrate.verify.antrea_eval import AntreaEvaluator
from kubectl_antrea_migrate.verify.calico_eval import DEFAULT_CALICO_VERSION, CalicoEvaluator
from kubectl_antrea_migrate.verify.endpoints import Endpoint, Traffic, Universe, build_universe
from kubectl_antrea_migrate.verify.verdict import Decision, Verdict

__all__ = ["Difference", "MatrixCell", "VerifyReport", "verify", "verify_universe"]


@dataclass(frozen=True, slots=True)
class Difference:
    """One probe on which Calico and Antrea disagree, with the rules that decided each side."""

    src: Endpoint
    dst: Endpoint
    traffic: Traffic
    calico: Decision
    antrea: Decision

    def describe(self) -> str:
        """``prod/web (10.0.0.5) -> prod/db (10.0.0.6) TCP/5432: Calico allow (...), Antrea deny (...)``."""
        return (
            f"{self.src.describe()} -> {self.dst.describe()} {self.traffic.describe()}: "
            f"Calico {self.calico.describe()}, Antrea {self.antrea.describe()}"
        )


@dataclass(frozen=True, slots=True)
class MatrixCell:
    """What one (source, destination) pair may send, by Calico's and by Antrea's verdicts."""

    src: Endpoint
    dst: Endpoint
    calico_allowed: tuple[Traffic, ...]
    antrea_allowed: tuple[Traffic, ...]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of ``verify``.

    Attributes:
        probes: how many (source, destination, traffic) triples were evaluated.
        endpoints: how many endpoints took part.
        differences: every probe whose verdicts differ, in probe order.
        matrix: per endpoint pair, the allowed traffic (only when requested, else empty).
        synthetic_pods: True when no pods were given and they were derived from the selectors.
        notes: assumptions the verdicts rest on, e.g. Antrea policies sharing a priority (Antrea's
            order between them is undefined; the evaluator assumed kind, namespace, name).
    """

    probes: int
    endpoints: int
    differences: tuple[Difference, ...]
    matrix: tuple[MatrixCell, ...] = ()
    synthetic_pods: bool = False
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """1 when any difference was found, else 0."""
        return EXIT_FINDINGS if self.differences else EXIT_OK


def verify(
    calico: Inventory,
    antrea: AntreaObjects,
    pods: Sequence[Pod] | None = None,
    *,
    kubernetes_policies: Sequence[KubernetesNetworkPolicy] | None = None,
    calico_version: str = DEFAULT_CALICO_VERSION,
    matrix: bool = False,
) -> VerifyReport:
    """Compare what Calico allows with what Antrea allows, on every probe of the universe.

    Args:
        calico: the Calico inventory (policies, tiers, NetworkSets, namespaces, service accounts).
        antrea: the Antrea objects that replace the Calico policies.
        pods: the endpoints' pods; None = ``calico.pods``; empty (none anywhere) = synthetic pods
            derived from the selectors, so offline verification still exercises every policy.
        kubernetes_policies: the K8s NetworkPolicies in the cluster; both CNIs enforce them.
            None = ``calico.kubernetes_policies``. Pass ``()`` when they were converted into the
            Antrea objects and will be deleted (then pass them in ``calico`` only).
        calico_version: the source Calico version (picks the order tie-break rule).
        matrix: also return the allowed-connection matrix.

    Returns:
        The report; ``report.exit_code`` is 1 when any difference was found.

    Raises:
        InputError: an Antrea policy names a missing tier or group.
    """
    knps = calico.kubernetes_policies if kubernetes_policies is None else tuple(kubernetes_policies)
    universe = build_universe(calico, antrea, pods, calico.kubernetes_policies)
    return verify_universe(
        calico,
        antrea,
        universe,
        calico_kubernetes_policies=calico.kubernetes_policies,
        antrea_kubernetes_policies=knps,
        calico_version=calico_version,
        matrix=matrix,
    )


def verify_universe(
    calico: Inventory,
    antrea: AntreaObjects,
    universe: Universe,
    *,
    calico_kubernetes_policies: Sequence[KubernetesNetworkPolicy] = (),
    antrea_kubernetes_policies: Sequence[KubernetesNetworkPolicy] = (),
    calico_version: str = DEFAULT_CALICO_VERSION,
    matrix: bool = False,
) -> VerifyReport:
    """``verify`` over an explicit universe (tests and benchmarks pick their own endpoints)."""
    calico_eval = CalicoEvaluator(calico, universe.population, calico_kubernetes_policies, calico_version)
    antrea_eval = AntreaEvaluator(antrea, universe.population, antrea_kubernetes_policies)
    differences: list[Difference] = []
    cells: list[MatrixCell] = []
    probes = 0
    for src, dst in universe.pairs():
        traffics = universe.traffic(src.ip.version)
        calico_decisions = calico_eval.decide_many(src, dst, traffics)
        antrea_decisions = antrea_eval.decide_many(src, dst, traffics)
        probes += len(traffics)
        if calico_decisions.allowed_mask != antrea_decisions.allowed_mask:
            for traffic, c, a in zip(traffics, calico_decisions, antrea_decisions, strict=True):
                if c.verdict is not a.verdict:
                    differences.append(Difference(src, dst, traffic, c, a))
        if matrix:
            cells.append(
                MatrixCell(
                    src,
                    dst,
                    tuple(t for t, c in zip(traffics, calico_decisions, strict=True) if c.verdict is Verdict.ALLOW),
                    tuple(t for t, a in zip(traffics, antrea_decisions, strict=True) if a.verdict is Verdict.ALLOW),
                )
            )
    return VerifyReport(
        probes, len(universe.endpoints), tuple(differences), tuple(cells), universe.synthetic, _notes(antrea)
    )


def _notes(antrea: AntreaObjects) -> tuple[str, ...]:
    notes: list[str] = []
    by_slot: dict[tuple[str, float], list[str]] = {}
    for policy in antrea.policies:
        kind = "ClusterNetworkPolicy" if policy.namespace is None else "NetworkPolicy"
        name = f"{policy.namespace}/{policy.name}" if policy.namespace else policy.name
        by_slot.setdefault((policy.tier or "application", policy.priority), []).append(f"{kind} {name}")
        if policy.tier == BASELINE_TIER and any(
            r.action is AntreaAction.PASS for r in (*policy.ingress, *policy.egress)
        ):
            notes.append(f"{kind} {name}: Pass is invalid in the baseline tier (Antrea rejects it); ignored")
    for (tier, priority), names in by_slot.items():
        if len(names) > 1:
            notes.append(
                f"tier {tier}: {', '.join(sorted(names))} share priority {priority:g}; Antrea's order between "
                "them is undefined (verify assumed ClusterNetworkPolicy first, then namespace and name)"
            )
    return tuple(notes)
