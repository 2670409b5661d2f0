"""A small cluster shared by the verify tests: two namespaces, four pods, two network sets.

    prod (env=prod):  web 10.0.0.1 (app=web, sa web, port http=8080/TCP)
                      db  10.0.0.2 (app=db,  port pg=5432/TCP), fd00::2 as well
    dev  (env=dev):   client 10.0.1.1 (app=client), fd00:1::1 as well
                      batch  10.0.1.2 (app=batch, role=worker)
    NetworkSet prod/corp 192.168.0.0/24 (role=corp); GlobalNetworkSet ext 203.0.113.0/24 (role=ext)
    outside: 198.51.100.7, 2001:db8::7

Policies are built with the helpers below so each test shows only what it is about.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from kubectl_antrea_migrate.calico.model import (
    Action,
    Direction,
    EntityRule,
    Inventory,
    NetworkSet,
    Policy,
    PolicyKind,
    Rule,
    Tier,
)
from kubectl_antrea_migrate.calico.selector.parse import parse_selector
from kubectl_antrea_migrate.kube.model import ContainerPort, LabelMap, Namespace, Pod
from kubectl_antrea_migrate.verify.endpoints import Endpoint, EndpointKind, Population, Traffic

NAMESPACES = (
    Namespace("prod", LabelMap({"env": "prod", "kubernetes.io/metadata.name": "prod"})),
    Namespace("dev", LabelMap({"env": "dev", "kubernetes.io/metadata.name": "dev"})),
)
WEB = Pod("web", "prod", LabelMap({"app": "web"}), "web", ("10.0.0.1",), (ContainerPort(8080, "TCP", "http"),))
DB = Pod("db", "prod", LabelMap({"app": "db"}), "default", ("10.0.0.2", "fd00::2"), (ContainerPort(5432, "TCP", "pg"),))
CLIENT = Pod("client", "dev", LabelMap({"app": "client"}), "default", ("10.0.1.1", "fd00:1::1"))
BATCH = Pod("batch", "dev", LabelMap({"app": "batch", "role": "worker"}), "default", ("10.0.1.2",))
PODS = (WEB, DB, CLIENT, BATCH)
POPULATION = Population(PODS, NAMESPACES)
NETWORK_SETS = (
    NetworkSet("corp", "prod", (ipaddress.ip_network("192.168.0.0/24"),), LabelMap({"role": "corp"})),
    NetworkSet("ext", None, (ipaddress.ip_network("203.0.113.0/24"),), LabelMap({"role": "ext"})),
)

TCP = 6
UDP = 17


def ep(pod: Pod, v6: bool = False) -> Endpoint:
    """The pod's endpoint of one family."""
    ip = next(ipaddress.ip_address(i) for i in pod.ips if (":" in i) == v6)
    return Endpoint(f"{pod.namespace}/{pod.name}", ip, EndpointKind.POD, pod)


def addr(text: str) -> Endpoint:
    """A non-pod address."""
    return Endpoint(f"address {text}", ipaddress.ip_address(text), EndpointKind.EXTERNAL)


def tcp(port: int, source_port: int = 40000) -> Traffic:
    """A TCP probe."""
    return Traffic(TCP, port, source_port)


def sel(text: str | None) -> object:
    """Parse a selector (None stays None)."""
    return None if text is None else parse_selector(text)


def side(
    selector: str | None = None,
    not_selector: str | None = None,
    namespace_selector: str | None = None,
    nets: tuple[str, ...] = (),
    not_nets: tuple[str, ...] = (),
    ports: tuple[object, ...] = (),
    not_ports: tuple[object, ...] = (),
) -> EntityRule:
    """An EntityRule from selector texts and CIDR texts."""
    return EntityRule(
        nets=tuple(ipaddress.ip_network(n) for n in nets),
        not_nets=tuple(ipaddress.ip_network(n) for n in not_nets),
        selector=parse_selector(selector) if selector is not None else None,
        not_selector=parse_selector(not_selector) if not_selector is not None else None,
        namespace_selector=parse_selector(namespace_selector) if namespace_selector is not None else None,
        ports=ports,  # type: ignore[arg-type]
        not_ports=not_ports,  # type: ignore[arg-type]
    )


def rule(action: str = "Allow", **fields: object) -> Rule:
    """A rule: ``rule("Deny", protocol=6, source=side(...))``."""
    return Rule(Action(action), **fields)  # type: ignore[arg-type]


def policy(
    name: str,
    selector: str = "all()",
    *,
    namespace: str | None = None,
    tier: str = "default",
    order: float | None = None,
    ingress: tuple[Rule, ...] = (),
    egress: tuple[Rule, ...] = (),
    types: tuple[str, ...] | None = None,
    extra: Mapping[str, object] | None = None,
) -> Policy:
    """A GlobalNetworkPolicy (no namespace) or NetworkPolicy, types defaulted as the v3 API does."""
    if types is None:
        types = ("Ingress", "Egress") if ingress and egress else ("Egress",) if egress else ("Ingress",)
    return Policy(
        kind=PolicyKind.NETWORK_POLICY if namespace else PolicyKind.GLOBAL_NETWORK_POLICY,
        name=name,
        namespace=namespace,
        tier=tier,
        order=order,
        selector=parse_selector(selector),
        types=frozenset(Direction(t) for t in types),
        ingress=ingress,
        egress=egress,
        **(extra or {}),  # type: ignore[arg-type]
    )


def inventory(*policies: Policy, tiers: tuple[Tier, ...] = (), **fields: object) -> Inventory:
    """The world's inventory with the given policies and tiers."""
    base: dict[str, object] = {
        "policies": policies,
        "tiers": tiers,
        "network_sets": NETWORK_SETS,
        "namespaces": NAMESPACES,
        "pods": PODS,
    }
    base.update(fields)
    return Inventory(**base)  # type: ignore[arg-type]
