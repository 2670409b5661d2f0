"""Calico tiers and policy order → Antrea tiers and unique policy priorities (§4.1, §1.7).

Calico evaluates tiers by (order, nil last, name) and, inside a tier, policies by (order, nil last,
version-specific name key). Antrea evaluates tiers by priority (all except baseline, then K8s
NetworkPolicies, then baseline) and policies by priority, with equal priorities nondeterministic.

Layout A (the Calico ``default`` tier holds only K8s NetworkPolicies): the tiers before ``default``
become custom Antrea tiers with increasing priorities in [1, 249] minus the static/reserved values;
``default`` stays native (Antrea enforces K8s NPs with their isolation, exactly Calico's knp policies
plus the default tier's end-of-tier drop); the tiers after it are flattened, in order, into Antrea's
``baseline`` tier. Layout B (``default`` holds Calico policies): ``default`` is emulated by an Antrea
tier too, with the K8s NPs translated into it at order 1000.

Priorities inside one Antrea tier are 1, 2, 3... in Calico's total order, each tier's end-of-tier
policy right after its own policies, so no two policies ever share a priority.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kubectl_antrea_migrate.antrea.model import BASELINE_TIER
from kubectl_antrea_migrate.calico.model import DEFAULT_TIER, Action, Policy, PolicyKind, Tier
from kubectl_antrea_migrate.convert.names import candidate_name
from kubectl_antrea_migrate.kube.model import KubernetesNetworkPolicy

__all__ = [
    "FIXED_TIERS",
    "MAX_CUSTOM_TIERS",
    "TierSlot",
    "knp_order_key",
    "plan_tiers",
    "policy_order_key",
    "tier_sort_key",
    "version_tuple",
]

# Tiers Calico always has (v3.29+), with their forced orders and default actions.
FIXED_TIERS: dict[str, Tier] = {
    "kube-admin": Tier("kube-admin", 1000.0, Action.PASS),
    DEFAULT_TIER: Tier(DEFAULT_TIER, 1_000_000.0, Action.DENY),
    "kube-baseline": Tier("kube-baseline", 10_000_000.0, Action.PASS),
}
# 20 tiers in total is Antrea's soft limit and 6 are static.
MAX_CUSTOM_TIERS = 14
_RESERVED = {50, 100, 150, 200, 220}
_FREE_PRIORITIES = tuple(p for p in range(1, 250) if p not in _RESERVED)
K8S_NP_ORDER = 1000.0


def version_tuple(version: str) -> tuple[int, int]:
    """``"3.32"`` / ``"v3.31.2"`` -> (3, 32); unparsable → the newest rules."""
    parts = version.lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return (99, 0)


def tier_sort_key(tier: Tier) -> tuple[float, str]:
    """Calico's tier order: order ascending, nil last, then name."""
    return (math.inf if tier.order is None else tier.order, tier.name)


def _crd_name(policy: Policy) -> str:
    # ≤3.31 stored Calico policies as "<tier>.<name>" (default tier included).
    prefix = f"{policy.tier}."
    return policy.name if policy.name.startswith(prefix) else prefix + policy.name


def policy_order_key(policy: Policy, calico_version: str) -> tuple[float, str]:
    """Calico's total order inside a tier (``PolKVLess``), for the given source version."""
    order = math.inf if policy.order is None else policy.order
    if version_tuple(calico_version) >= (3, 32):
        return order, f"{policy.name}/{policy.namespace or ''}/{policy.kind.value}"
    crd = _crd_name(policy)
    return order, crd if policy.kind is PolicyKind.GLOBAL_NETWORK_POLICY else f"{policy.namespace}/{crd}"


def knp_order_key(knp: KubernetesNetworkPolicy, calico_version: str) -> tuple[float, str]:
    """A K8s NetworkPolicy's place in the ``default`` tier (order 1000)."""
    if version_tuple(calico_version) >= (3, 32):
        return K8S_NP_ORDER, f"{knp.name}/{knp.namespace}/KubernetesNetworkPolicy"
    return K8S_NP_ORDER, f"{knp.namespace}/knp.default.{knp.name}"


@dataclass(frozen=True, slots=True)
class TierSlot:
    """Where one Calico tier lands in Antrea."""

    calico: Tier
    antrea_tier: str  # Antrea tier name (``baseline`` for post-default tiers)
    priority: int | None  # the custom tier's priority; None for baseline / native default
    post_default: bool
    native: bool  # Layout A ``default``: left to Kubernetes NetworkPolicies


def plan_tiers(tiers: tuple[Tier, ...], layout_b: bool) -> tuple[tuple[TierSlot, ...], str]:
    """Map Calico tiers (already including the fixed ones) to Antrea tiers.

    Returns:
        The slots in Calico order, and a problem text (empty when the layout fits Antrea's limits).
    """
    ordered = sorted(tiers, key=tier_sort_key)
    default_index = next(i for i, t in enumerate(ordered) if t.name == DEFAULT_TIER)
    custom = ordered[: default_index + 1] if layout_b else ordered[:default_index]
    problem = ""
    if len(custom) > MAX_CUSTOM_TIERS:
        problem = (
            f"{len(custom)} tiers before the end of the default tier exceed Antrea's "
            f"{MAX_CUSTOM_TIERS} custom tiers (flattening is not implemented)"
        )
    step = len(_FREE_PRIORITIES) // (len(custom) + 1)
    slots: list[TierSlot] = []
    for i, tier in enumerate(ordered):
        if i < len(custom):
            priority = _FREE_PRIORITIES[min((i + 1) * step, len(_FREE_PRIORITIES) - 1)]
            slots.append(TierSlot(tier, candidate_name("calico", tier.name), priority, False, False))
        elif i == default_index:
            slots.append(TierSlot(tier, "", None, False, True))
        else:
            slots.append(TierSlot(tier, BASELINE_TIER, None, True, False))
    return tuple(slots), problem
