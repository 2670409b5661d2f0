"""Rewrite a neutral (ACNP-meaning) conversion as an Antrea NetworkPolicy when that is exact.

The product decision: a namespaced Calico NetworkPolicy becomes an ANNP whenever that is exact,
otherwise an ACNP pinned to the namespace, with the reason. ANNP differs from ACNP in three ways
that matter here: its appliedTo cannot carry a namespaceSelector (the namespace is the policy's
own), a podSelector-only peer means the policy's namespace (so "every namespace" needs an explicit
empty namespaceSelector), and it has no serviceAccount peers and can only reference Groups in its
own namespace (NetworkSet peers are inlined as ipBlocks, which is exact).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kubectl_antrea_migrate.antrea.model import AntreaRule, AppliedTo, Peer
from kubectl_antrea_migrate.calico.model import Network
from kubectl_antrea_migrate.convert.cidrs import ip_blocks
from kubectl_antrea_migrate.convert.rules import pinned_namespaces
from kubectl_antrea_migrate.kube.model import LabelSelector

__all__ = ["AnnpForm", "to_annp"]


@dataclass(frozen=True, slots=True)
class AnnpForm:
    """The ANNP form of a policy, or why there is none (``reason`` set)."""

    applied_to: tuple[AppliedTo, ...] = ()
    ingress: tuple[AntreaRule, ...] = ()
    egress: tuple[AntreaRule, ...] = ()
    reason: str = ""


class _NotAnnp(Exception):
    pass


def _applied_to(entries: tuple[AppliedTo, ...], namespace: str) -> tuple[AppliedTo, ...]:
    out: list[AppliedTo] = []
    for entry in entries:
        if entry.service_account is not None:
            raise _NotAnnp("it selects by service account, which ANNP appliedTo cannot")
        if pinned_namespaces(entry.namespace_selector) != {namespace}:
            raise _NotAnnp("it selects endpoints by namespace labels, which ANNP appliedTo cannot")
        out.append(AppliedTo(pod_selector=entry.pod_selector or LabelSelector()))
    return tuple(out)


def _peers(peers: tuple[Peer, ...], namespace: str, groups: Mapping[str, tuple[Network, ...]]) -> tuple[Peer, ...]:
    out: list[Peer] = []
    for peer in peers:
        if peer.service_account is not None:
            raise _NotAnnp("a rule matches service accounts by name, which ANNP peers cannot")
        if peer.group is not None:
            out.extend(Peer(ip_block=b) for b in ip_blocks(groups[peer.group], ()))
        elif peer.ip_block is not None:
            out.append(peer)
        elif peer.namespace_selector is None:
            out.append(Peer(pod_selector=peer.pod_selector, namespace_selector=LabelSelector()))
        elif pinned_namespaces(peer.namespace_selector) == {namespace}:
            out.append(Peer(pod_selector=peer.pod_selector or LabelSelector()))
        else:
            out.append(peer)
    return tuple(out)


def _rules(
    rules: tuple[AntreaRule, ...], namespace: str, groups: Mapping[str, tuple[Network, ...]]
) -> tuple[AntreaRule, ...]:
    return tuple(
        AntreaRule(
            name=r.name,
            action=r.action,
            peers=_peers(r.peers, namespace, groups),
            ports=r.ports,
            protocols=r.protocols,
            applied_to=_applied_to(r.applied_to, namespace),
            enable_logging=r.enable_logging,
        )
        for r in rules
    )


def to_annp(
    applied_to: tuple[AppliedTo, ...],
    ingress: tuple[AntreaRule, ...],
    egress: tuple[AntreaRule, ...],
    namespace: str,
    groups: Mapping[str, tuple[Network, ...]],
) -> AnnpForm:
    """The ANNP form of a policy in ``namespace``, or the reason an ACNP is needed.

    Args:
        applied_to: policy-level appliedTo with ACNP meaning (empty when rules carry their own).
        ingress: converted ingress rules (ACNP meaning).
        egress: converted egress rules.
        namespace: the Calico policy's namespace.
        groups: ClusterGroup name -> CIDRs, for inlining NetworkSet peers.
    """
    try:
        return AnnpForm(
            applied_to=_applied_to(applied_to, namespace),
            ingress=_rules(ingress, namespace, groups),
            egress=_rules(egress, namespace, groups),
        )
    except _NotAnnp as exc:
        return AnnpForm(reason=str(exc))
