"""The node façade the gRPC servicer calls: one report, the CNI conf in force, Multus on/off, Calico cleanup.

It wires the subsystems (``links``, ``netfilter`` x2 backends, ``ipsets``, ``cni``) to one node
(``host_root`` for files, ``netns`` for kernel state) and fixes the order of the cleanup:
jump rules and ``cali-*`` chains (legacy then nft; IPv4 and IPv6), ipsets (the kernel refuses to
destroy a set a rule still uses), routes, links (deleting a link would silently take its routes,
so routes go first and each is reported), CNI files last (until then the node can still start
Calico pods).

Every mutation is plan-then-apply; ``dry_run`` returns the plan as PLANNED outcomes and changes
nothing. A category with nothing to do yields one ABSENT outcome, so a second cleanup answers
"all absent" object class by object class instead of an empty reply.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from kubectl_antrea_migrate.errors import InputError, Location
from kubectl_antrea_migrate.nodestate.conflicts import find_address_conflicts, find_route_conflicts, gateway_address
from kubectl_antrea_migrate.nodestate.model import Backend, CniNetwork, NodeReport, Outcome, Result
from node_agent.cni import CniDir, CniPlanError, CniState, CniStep, Unchanged
from node_agent.ipsets import Ipsets
from node_agent.links import DeleteRoute, Links
from node_agent.netfilter import Netfilter

__all__ = ["Node"]


class _Action(Protocol):
    def describe(self) -> tuple[str, str, str]: ...


class Node:
    """One node: its CNI conf dir under ``host_root`` and its kernel state in ``netns``.

    Args:
        node_name: the Kubernetes node name, echoed in reports.
        host_root: prefix for host paths (``/etc/cni/net.d``, ``/var/lib/antrea-migrate``).
        netns: network namespace to act in (name under /run/netns or a path); ``None`` is the
            agent's own, which is the node's with ``hostNetwork``.
    """

    def __init__(self, node_name: str, host_root: Path = Path("/"), netns: str | None = None) -> None:
        """Wire the subsystems to this node."""
        self.node_name = node_name
        self.links = Links(netns)
        self.netfilters = (Netfilter(Backend.LEGACY, netns), Netfilter(Backend.NFT, netns))
        self.ipsets = Ipsets(netns)
        self.cni = CniDir(host_root)

    def report(self, pod_cidrs: tuple[str, ...] = ()) -> NodeReport:
        """Read everything the migration depends on. Changes nothing.

        Args:
            pod_cidrs: the node's ``spec.podCIDRs``; their first host is where Antrea puts
                ``antrea-gw0``, checked for an existing holder.

        Raises:
            InputError: a pod CIDR is not a CIDR.
            OSError: the namespace cannot be entered or netlink refused to list.
        """
        gateways = self._gateways(pod_cidrs)
        net = self.links.scan()
        netfilter = tuple(Netfilter.summary(nf.scan()) for nf in self.netfilters)
        ipsets = self.ipsets.scan()
        routes = net.route_infos
        warnings = [f"ipsets not checked: {ipsets.error}"] if not ipsets.available else []
        warnings += [f"{s.backend.value} backend: {s.error}" for s in netfilter if s.error]
        return NodeReport(
            node=self.node_name,
            cni=self.cni.scan().report,
            links=net.links,
            routes=routes,
            other_route_count=net.other_route_count,
            route_conflicts=find_route_conflicts(routes),
            address_conflicts=find_address_conflicts(gateways, net.links, routes),
            netfilter=netfilter,
            calico_ipsets=ipsets.calico_sets,
            warnings=tuple(warnings),
        )

    def set_multus(self, enabled: bool, dry_run: bool) -> tuple[Outcome, ...]:
        """Write (on) or move to the backup dir (off) ``00-multus.conf``, atomically.

        Idempotent: a conf already as wanted is ABSENT. "On" without both a Calico and an Antrea
        conf is FAILED; "off" leaves a Multus conf this tool did not write (SKIPPED).
        """
        return self._set_confs(lambda state: (CniDir.multus_step(state, enabled),), dry_run)

    def set_cni(self, network: CniNetwork, dry_run: bool) -> tuple[Outcome, ...]:
        """Put ``network``'s CNI conf in force for the next pod sandboxes; one outcome per file.

        CALICO writes ``00-antrea-migrate-calico.conflist`` (a copy of Calico's conflist that sorts
        first) and moves our ``00-multus.conf`` away; MULTUS writes ``00-multus.conf`` and moves the
        copy away; ANTREA moves both away (see ``node_agent/cni.py``). Writes are atomic and back up
        what they replace. Idempotent: files already as wanted are ABSENT. ``dry_run`` plans only.
        Nothing changes and the outcome is FAILED when the change cannot be planned: CALICO once no
        Calico conf is left ("rollback is no longer possible") or with another conf sorting before
        the copy; MULTUS without both a Calico and an Antrea conf.
        """
        return self._set_confs(lambda state: CniDir.plan_cni(state, network), dry_run)

    def cleanup_calico(self, dry_run: bool) -> tuple[Outcome, ...]:
        """Remove every Calico object from the node; nothing else is touched.

        Order: jump rules and ``cali-*`` chains (legacy, then nft; IPv4 and IPv6), Calico ipsets,
        Calico routes, Calico links, Calico CNI conf and ``calico-kubeconfig`` (moved to the backup
        dir). Idempotent: objects already gone are ABSENT. ``dry_run`` plans only (PLANNED).

        Raises:
            OSError: the namespace cannot be entered or netlink refused to list.
        """
        outcomes: list[Outcome] = []
        for netfilter in self.netfilters:
            scan = netfilter.scan(counts=False)  # cali-* chains go whole: their rules need no reading
            backend = f"backend={scan.backend.value}"
            if not scan.available:
                outcomes.append(Outcome("netfilter", f"{backend} chains=cali-*", "delete", Result.SKIPPED, scan.error))
                continue
            outcomes += _run(
                netfilter.apply,
                Netfilter.plan(scan),
                dry_run,
                ("netfilter", f"{backend} chains=cali-* and jumps to them", "delete"),
            )
        ipsets = self.ipsets.scan()
        if ipsets.available:
            outcomes += _run(
                self.ipsets.apply, Ipsets.plan(ipsets), dry_run, ("ipsets", "ipsets=cali40*,cali60*", "destroy")
            )
        else:
            outcomes.append(Outcome("ipsets", "ipsets=cali40*,cali60*", "destroy", Result.SKIPPED, ipsets.error))
        link_actions = Links.plan(self.links.scan())
        route_actions = tuple(a for a in link_actions if isinstance(a, DeleteRoute))
        device_actions = tuple(a for a in link_actions if not isinstance(a, DeleteRoute))
        outcomes += _run(self.links.apply, route_actions, dry_run, ("routes", "routes owner=calico", "delete"))
        outcomes += _run(
            self.links.apply,
            device_actions,
            dry_run,
            ("links", "links=tunl0,vxlan.calico,vxlan-v6.calico,cali*", "delete"),
        )
        outcomes += _run(
            self.cni.apply,
            CniDir.plan_remove_calico(self.cni.scan()),
            dry_run,
            ("cni", "files=10-calico.conflist,calico-kubeconfig", "move-to-backup"),
        )
        return tuple(outcomes)

    def _set_confs(self, plan: Callable[[CniState], tuple[CniStep, ...]], dry_run: bool) -> tuple[Outcome, ...]:
        try:
            steps = plan(self.cni.scan())
        except CniPlanError as exc:
            return (Outcome("cni", f"file={exc.file}", exc.verb, Result.FAILED, str(exc)),)
        if dry_run:
            return tuple(
                s.outcome() if isinstance(s, Unchanged) else Outcome(*s.describe(), Result.PLANNED) for s in steps
            )
        return self.cni.apply_steps(steps)

    def _gateways(self, pod_cidrs: Sequence[str]) -> tuple[str, ...]:
        gateways: list[str] = []
        for position, cidr in enumerate(pod_cidrs):
            try:
                ipaddress.ip_network(cidr, strict=True)
                gateways.append(gateway_address(cidr))
            except ValueError as exc:
                where = Location(kind="Node", name=self.node_name, path=f"spec.podCIDRs[{position}]")
                raise InputError(f"{cidr!r} is not a network CIDR: {exc}", where) from exc
        return tuple(gateways)


def _run(
    apply: Callable[[Any], tuple[Outcome, ...]],
    actions: tuple[_Action, ...],
    dry_run: bool,
    nothing: tuple[str, str, str],
) -> tuple[Outcome, ...]:
    if not actions:
        return (Outcome(*nothing, Result.ABSENT, "none found"),)
    return _execute(apply, actions, dry_run)


def _execute(
    apply: Callable[[Any], tuple[Outcome, ...]], actions: tuple[_Action, ...], dry_run: bool
) -> tuple[Outcome, ...]:
    if dry_run:
        return tuple(Outcome(*action.describe(), Result.PLANNED) for action in actions)
    return apply(actions)
