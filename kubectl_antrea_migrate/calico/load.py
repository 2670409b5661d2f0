"""Load Calico and Kubernetes objects from files, directories, stdin or a live cluster into the core model.

Design. This module is the only reader of raw dicts (style.md "Parse, then trust"): it validates every
field the way Calico's own validator does (libcalico-go ``lib/validator/v3/validator.go``, the v3.32
CRD schemas), applies Calico's defaults once (policy-mapping §1.1) and returns an ``Inventory`` of
frozen models. Nothing after it re-checks a dict key.

Invariants and decisions:

* Every bad input is an ``InputError`` whose ``Location`` names the file, the 1-based document, the
  object (kind and name) and the field path (``spec.ingress[0].source.nets[1]``); selector errors
  keep their column and caret. No ``KeyError``/``TypeError`` can leak: each raw value is type-checked
  before use.
* Unknown fields are errors. A real cluster prunes them silently (structural CRD schema), so a typo
  such as ``sourc:`` would turn a restricted rule into an unrestricted one; we refuse instead.
* ``kind: NetworkPolicy`` exists in Calico (two API groups), Kubernetes and Antrea, so objects are
  dispatched on the API group first, then on the kind. A known kind under a wrong apiVersion is an
  error; an unknown kind is skipped with a note, as are staged policies, Calico's rendered
  ``knp.default.*`` copies of Kubernetes policies and Antrea objects.
* ``projectcalico.org/v3`` objects get the v3 rules (exact action enum, ``types`` defaulted from
  rule presence). Raw ``crd.projectcalico.org/v1`` objects bypass the API server, so they get
  Felix's rules: actions are case-insensitive, a missing ``types`` means Ingress and Egress (with a
  warning), the v3 name and labels come from the ``projectcalico.org/metadata`` annotation.
* Where Calico versions disagree, the loader accepts what some supported Calico enforces and the
  model carries the enforced meaning: bare IPs and CIDRs with host bits are masked (as Felix does),
  numeric protocols 1/58 count as ICMP/ICMPv6 (as the v3.32 CRD rules do), named ports need no
  protocol (as Felix renders them).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import ipaddress
import json
import math
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import yaml

from kubectl_antrea_migrate.calico.model import (
    DEFAULT_TIER,
    PROTOCOL_NUMBERS,
    Action,
    Direction,
    EntityRule,
    HostEndpoint,
    HTTPMatch,
    ICMPMatch,
    Inventory,
    NamedPort,
    Network,
    NetworkSet,
    Policy,
    PolicyKind,
    Port,
    PortRange,
    Rule,
    ServiceAccountMatch,
    ServiceMatch,
    Skipped,
    SourceFormat,
    Tier,
)
from kubectl_antrea_migrate.calico.selector.ast import ALL, Global, Selector
from kubectl_antrea_migrate.calico.selector.parse import parse_selector
from kubectl_antrea_migrate.errors import InputError, Location, SelectorSyntaxError
from kubectl_antrea_migrate.kube.model import (
    ContainerPort,
    IPBlock,
    KubernetesNetworkPolicy,
    LabelMap,
    LabelSelector,
    Namespace,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
    Operator,
    Pod,
    Requirement,
    ServiceAccount,
)

__all__ = ["STDIN", "load_objects", "load_paths", "read_documents"]

STDIN = "-"
"""The path that means "read standard input"."""

_SUFFIXES = (".yaml", ".yml", ".json")
_STDIN_NAME = "<stdin>"

# --------------------------------------------------------------------------------------------------
# Vocabularies (validator.go, the CRDs in shared/upstream/calico/crds/, k8s apimachinery validation)
# --------------------------------------------------------------------------------------------------

_CALICO_V3 = "projectcalico.org/v3"
_CALICO_V1 = "crd.projectcalico.org/v1"
_CALICO_GROUPS = frozenset({"projectcalico.org", "crd.projectcalico.org"})
_CALICO_KINDS = frozenset(
    {"NetworkPolicy", "GlobalNetworkPolicy", "NetworkSet", "GlobalNetworkSet", "Tier", "HostEndpoint"}
)
_STAGED_KINDS = frozenset(
    {"StagedNetworkPolicy", "StagedGlobalNetworkPolicy", "StagedKubernetesNetworkPolicy"}
)
# Kinds only Calico defines: seeing one under another group is a wrong apiVersion, not a foreign object.
_CALICO_ONLY_KINDS = (_CALICO_KINDS | _STAGED_KINDS) - {"NetworkPolicy"}
_POLICY_KINDS = frozenset({"NetworkPolicy", "GlobalNetworkPolicy"})
_KUBE_CORE_KINDS = frozenset({"Namespace", "ServiceAccount", "Pod"})

_LABEL_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = rf"{_LABEL_FMT}(\.{_LABEL_FMT})*"
_NAME_RE = re.compile(rf"^{_SUBDOMAIN_FMT}$")
_TIER_NAME_RE = re.compile(rf"^{_LABEL_FMT}$")
_NP_NAME_RE = re.compile(rf"^(({_LABEL_FMT})(\.{_LABEL_FMT})?|((?:knp|ossg)\.default\.({_SUBDOMAIN_FMT})))$")
_GNP_NAME_RE = re.compile(rf"^({_LABEL_FMT}\.)?{_LABEL_FMT}$")
_DNS_LABEL_MAX = 63
_DNS_SUBDOMAIN_MAX = 253

_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_DIGITS_RE = re.compile(r"^[0-9]+$")
_PORT_RANGE_RE = re.compile(r"^([0-9]+):([0-9]+)$")
_PORT_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
_IANA_SVC_NAME_RE = re.compile(r"^[-a-z0-9]+$")
_GLOBAL_ONLY_RE = re.compile(r"^[ \t]*global\([ \t]*\)[ \t]*$")

_ACTIONS = {a.value: a for a in Action}
_ACTIONS_CASEFOLD = {a.value.lower(): a for a in Action}
_ACTION_LIST = ", ".join(a.value for a in Action)
_DIRECTIONS = {d.value: d for d in Direction}
_PORT_PROTOCOLS = frozenset({6, 17, 132})
_ICMP, _ICMPV6 = PROTOCOL_NUMBERS["icmp"], PROTOCOL_NUMBERS["icmpv6"]
_PROTOCOL_NAMES = "TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite"
_TIER_DEFAULT_ACTIONS = {"Deny": Action.DENY, "Pass": Action.PASS}

# Tiers whose order and default action Calico fixes (policy-mapping §1.6).
_FIXED_TIERS: dict[str, tuple[float, Action]] = {
    DEFAULT_TIER: (1_000_000.0, Action.DENY),
    "kube-admin": (1_000.0, Action.PASS),
    "kube-baseline": (10_000_000.0, Action.PASS),
}

_METADATA_ANNOTATION = "projectcalico.org/metadata"
_NS_NAME_LABEL = "kubernetes.io/metadata.name"
_KNP_PREFIX = "knp.default."
_RENDERED_KNP = ("Calico's rendering of a Kubernetes NetworkPolicy (knp.default.*): the networking.k8s.io/v1 "
                 "object is converted instead")

# Field names per object, exactly the properties of the v3.32 CRD schemas (a test compares them).
_OBJECT_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec"})
_TIER_OBJECT_FIELDS = _OBJECT_FIELDS | {"status"}
_POLICY_SPEC_FIELDS = frozenset(
    {"tier", "order", "selector", "types", "ingress", "egress", "serviceAccountSelector", "performanceHints"}
)
_GLOBAL_POLICY_SPEC_FIELDS = _POLICY_SPEC_FIELDS | {"namespaceSelector", "doNotTrack", "preDNAT", "applyOnForward"}
_RULE_FIELDS = frozenset(
    {"action", "ipVersion", "protocol", "notProtocol", "icmp", "notICMP", "source", "destination", "http", "metadata"}
)
_ENTITY_FIELDS = frozenset(
    {"nets", "notNets", "selector", "notSelector", "namespaceSelector", "ports", "notPorts", "serviceAccounts",
     "services"}
)
_ICMP_FIELDS = frozenset({"type", "code"})
_SERVICE_ACCOUNT_FIELDS = frozenset({"names", "selector"})
_SERVICE_FIELDS = frozenset({"name", "namespace"})
_HTTP_FIELDS = frozenset({"methods", "paths"})
_HTTP_PATH_FIELDS = frozenset({"exact", "prefix"})
_RULE_METADATA_FIELDS = frozenset({"annotations"})
_TIER_SPEC_FIELDS = frozenset({"order", "defaultAction"})
_NETWORK_SET_SPEC_FIELDS = frozenset({"nets"})
_HOST_ENDPOINT_SPEC_FIELDS = frozenset({"node", "interfaceName", "expectedIPs", "ports", "profiles"})
_HOST_ENDPOINT_PORT_FIELDS = frozenset({"name", "port", "protocol"})
_PERFORMANCE_HINTS = frozenset({"AssumeNeededOnEveryNode"})

_KNP_OBJECT_FIELDS = _OBJECT_FIELDS | {"status"}
_KNP_SPEC_FIELDS = frozenset({"podSelector", "policyTypes", "ingress", "egress"})
_KNP_INGRESS_FIELDS = frozenset({"from", "ports"})
_KNP_EGRESS_FIELDS = frozenset({"to", "ports"})
_KNP_PEER_FIELDS = frozenset({"podSelector", "namespaceSelector", "ipBlock"})
_KNP_PORT_FIELDS = frozenset({"protocol", "port", "endPort"})
_IP_BLOCK_FIELDS = frozenset({"cidr", "except"})
_LABEL_SELECTOR_FIELDS = frozenset({"matchLabels", "matchExpressions"})
_REQUIREMENT_FIELDS = frozenset({"key", "operator", "values"})
_KNP_PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})
_OPERATORS = {o.value: o for o in Operator}


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def load_paths(paths: Sequence[str], stdin: TextIO | None = None) -> Inventory:
    """Load every object from files, directories (recursively) and standard input.

    Args:
        paths: File paths, directory paths (``*.yaml``, ``*.yml``, ``*.json`` found recursively, in
            sorted order, hidden entries skipped) or ``-`` for standard input. Each file may hold
            several YAML documents, a JSON object, or a ``kind: List`` (any ``*List`` kind).
        stdin: The stream ``-`` reads (default ``sys.stdin``); injectable for tests.

    Returns:
        The validated, defaulted inventory, objects in input order.

    Raises:
        InputError: A path is missing or unreadable, a document is malformed, or an object is
            invalid; the message names file, document, object and field path.
    """
    builder = _InventoryBuilder()
    for document, location in read_documents(paths, stdin):
        builder.add_document(document, location)
    return builder.build()


def read_documents(paths: Sequence[str], stdin: TextIO | None = None) -> Iterator[tuple[Any, Location]]:
    """Every non-empty YAML/JSON document of ``paths`` (as ``load_paths`` reads them) with its location.

    Used for inputs that are not Calico objects too (``verify --antrea FILE``), so every command
    reads files, directories and ``-`` the same way and reports errors the same way.
    """
    for name, text in _read_sources(paths, stdin):
        for index, document in _parse_documents(name, text):
            if document is not None:
                yield document, Location(file=name, document=index)


def load_objects(
    objs: Iterable[tuple[Mapping[str, Any], Location]], *, host_endpoints_known: bool | None = None
) -> Inventory:
    """Load objects that are already decoded, e.g. read from a live cluster.

    Args:
        objs: Pairs of a raw object (as the API returns it) and where it came from; the location's
            kind and name are filled in from the object when empty.
        host_endpoints_known: Whether the input is known to contain every HostEndpoint (True when the
            caller listed them from a cluster). Default: True when any HostEndpoint was loaded.

    Returns:
        The validated, defaulted inventory, objects in input order.

    Raises:
        InputError: An object is invalid (the message names it and the field path).
    """
    builder = _InventoryBuilder()
    for obj, location in objs:
        builder.add_document(obj, location)
    return builder.build(host_endpoints_known)


# --------------------------------------------------------------------------------------------------
# Reading files and documents
# --------------------------------------------------------------------------------------------------


_YamlBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null"))
_OTHER_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("timestamp", "binary"))


class _Unusual(Exception):
    """A document the fast constructor leaves to PyYAML's own (aliases, merge keys, tags, duplicates)."""


class _Loader(_YamlBase):
    """The fastest safe loader, refusing duplicate mapping keys as kubectl does (the last one would win).

    With the C parser, PyYAML still resolves and constructs every node in Python, which cost more
    than the whole validation. Shortcuts that keep the result identical to ``SafeLoader`` plus the
    duplicate-key check (``tests/unit/test_load_fast_paths.py`` compares the two):

    * tags are resolved once per distinct (kind, value, implicit) triple: ``resolve`` is a pure
      function of them when no path resolver is registered (none is, for the safe loaders);
    * ``construct_document`` builds plain trees (str-keyed maps, lists, scalars) in one recursive
      pass, each number/boolean/null text once. Anything else (an alias or anchor shared by two
      nodes, ``<<`` merges, ``=`` keys, non-string keys, explicit collection tags, duplicate keys,
      any error) makes it start the document over with PyYAML's constructor, so unusual input gets
      exactly PyYAML's answer and error.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[Any, Any, Any], str] = {}
        self._scalars: dict[tuple[str, str], Any] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        try:
            return self._tags[kind, value, implicit]
        except KeyError:
            tag: str = super().resolve(kind, value, implicit)
            if not self.yaml_path_resolvers:
                self._tags[kind, value, implicit] = tag
            return tag

    def construct_document(self, node: yaml.Node) -> Any:
        try:
            return self._build(node, set())
        except Exception:  # PyYAML's constructor below raises the error users see
            pass
        finally:
            # Scalars with other tags went through construct_object, which caches per document.
            self.constructed_objects: dict[yaml.Node, Any] = {}
            self.recursive_objects: dict[yaml.Node, None] = {}
            self.state_generators: list[Iterator[Any]] = []
            self.deep_construct = False
        return super().construct_document(node)

    def _build(self, node: yaml.Node, seen: set[yaml.Node]) -> Any:
        cls = node.__class__
        if cls is yaml.ScalarNode:
            tag = node.tag
            if tag == _STR_TAG:
                return node.value
            if tag not in _PLAIN_SCALAR_TAGS:
                if tag not in _OTHER_SCALAR_TAGS:
                    raise _Unusual  # e.g. !!map on a scalar: PyYAML's deferred constructors decide
                return self.construct_object(node)
            # Numbers, booleans and nulls repeat (orders, ports) and are immutable: built once per text.
            key = (tag, node.value)
            try:
                return self._scalars[key]
            except KeyError:
                value = self._scalars[key] = self.construct_object(node)
                return value
        if node in seen:
            raise _Unusual  # an alias: shared or recursive structure
        seen.add(node)
        if cls is yaml.MappingNode and node.tag == _MAP_TAG:
            pairs = node.value
            result: dict[str, Any] = {}
            for key_node, value_node in pairs:
                if key_node.__class__ is not yaml.ScalarNode or key_node.tag != _STR_TAG:
                    raise _Unusual
                if value_node.__class__ is yaml.ScalarNode and value_node.tag == _STR_TAG:
                    result[key_node.value] = value_node.value
                else:
                    result[key_node.value] = self._build(value_node, seen)
            if len(result) != len(pairs):
                raise _Unusual  # a duplicate key: construct_mapping reports it with its position
            return result
        if cls is yaml.SequenceNode and node.tag == _SEQ_TAG:
            return [
                child.value if child.__class__ is yaml.ScalarNode and child.tag == _STR_TAG
                else self._build(child, seen)
                for child in node.value
            ]
        raise _Unusual

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
        result: dict[Any, Any] = super().construct_mapping(node, deep)
        return result


def _read_sources(paths: Sequence[str], stdin: TextIO | None) -> Iterator[tuple[str, str]]:
    for raw in paths:
        if raw == STDIN:
            stream = stdin if stdin is not None else sys.stdin
            yield _STDIN_NAME, stream.read()
            continue
        path = Path(raw)
        if path.is_dir():
            files = _directory_files(path)
            if not files:
                raise InputError("no *.yaml, *.yml or *.json files in this directory", Location(file=raw))
            for file in files:
                yield str(file), _read_text(file, str(file))
        else:
            yield raw, _read_text(path, raw)


def _directory_files(root: Path) -> list[Path]:
    found = [
        p
        for p in root.rglob("*")
        if p.suffix in _SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.is_file()
    ]
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _read_text(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file or directory", Location(file=name)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", Location(file=name)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", Location(file=name)) from None


def _parse_documents(name: str, text: str) -> Iterator[tuple[int, Any]]:
    """Yield (1-based index, document); JSON files are one document, YAML streams one per ``---``."""
    if name.endswith(".json"):
        yield 1, _parse_json(name, text)
        return
    index = 0
    documents = yaml.load_all(text, Loader=_Loader)
    while True:
        try:
            document = next(documents)
        except StopIteration:
            return
        except yaml.YAMLError as exc:
            raise InputError(_yaml_problem(exc), Location(file=name, document=index + 1)) from None
        except (ValueError, TypeError) as exc:
            # PyYAML's constructors raise these for well-formed but impossible values, e.g.
            # ``creationTimestamp: 2023-02-30`` or ``!!map x``: still bad input, not a crash.
            raise InputError(f"invalid value: {exc}", Location(file=name, document=index + 1)) from None
        index += 1
        yield index, document


def _parse_json(name: str, text: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}", Location(file=name, document=1)
        ) from None
    except ValueError as exc:
        raise InputError(f"invalid JSON: {exc}", Location(file=name, document=1)) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {exc.problem}"
    return f"invalid YAML: {exc}"


# --------------------------------------------------------------------------------------------------
# Inventory assembly: dispatch on apiVersion/kind, lists, duplicates
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _InventoryBuilder:
    policies: list[Policy] = dataclasses.field(default_factory=list)
    tiers: list[Tier] = dataclasses.field(default_factory=list)
    network_sets: list[NetworkSet] = dataclasses.field(default_factory=list)
    host_endpoints: list[HostEndpoint] = dataclasses.field(default_factory=list)
    namespaces: list[Namespace] = dataclasses.field(default_factory=list)
    service_accounts: list[ServiceAccount] = dataclasses.field(default_factory=list)
    kubernetes_policies: list[KubernetesNetworkPolicy] = dataclasses.field(default_factory=list)
    pods: list[Pod] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    seen: dict[tuple[str, str, str], Location] = dataclasses.field(default_factory=dict)
    rules: _RuleMemo = dataclasses.field(default_factory=dict)

    def build(self, host_endpoints_known: bool | None = None) -> Inventory:
        known = bool(self.host_endpoints) if host_endpoints_known is None else host_endpoints_known
        return Inventory(
            policies=tuple(self.policies),
            tiers=tuple(self.tiers),
            network_sets=tuple(self.network_sets),
            host_endpoints=tuple(self.host_endpoints),
            namespaces=tuple(self.namespaces),
            service_accounts=tuple(self.service_accounts),
            kubernetes_policies=tuple(self.kubernetes_policies),
            pods=tuple(self.pods),
            skipped=tuple(self.skipped),
            host_endpoints_known=known,
        )

    def add_document(self, document: Any, location: Location) -> None:
        if not isinstance(document, dict):
            raise InputError(
                f"expected a Kubernetes object (a mapping with apiVersion and kind), got {_describe(document)}",
                location,
            )
        kind = document.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in document:
            items = _list(document["items"], location.child("items"))
            for i, item in enumerate(items):
                self.add_document(item, location.child(f"items[{i}]"))
            return
        self.add_object(document, location)

    def add_object(self, obj: dict[str, Any], base: Location) -> None:
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if not isinstance(kind, str) or not kind:
            _fail("kind is required (a string)" if kind is None else f"expected a string, got {_describe(kind)}",
                  base.child("kind"))
        if not isinstance(api_version, str) or not api_version:
            _fail("apiVersion is required (a string)", _named(base, obj, kind).child("apiVersion"))
        loc = _named(base, obj, kind)
        group = api_version.rpartition("/")[0]
        if group in _CALICO_GROUPS:
            self._add_calico(obj, loc, api_version, kind)
        elif kind in _CALICO_ONLY_KINDS:
            _fail(f"wrong apiVersion {api_version!r} for {kind}: expected {_CALICO_V3} or {_CALICO_V1}",
                  loc.child("apiVersion"))
        elif group == "crd.antrea.io":
            self._skip(obj, loc, kind, "an Antrea object, not Calico input: ignored")
        elif kind == "NetworkPolicy":
            if api_version != "networking.k8s.io/v1":
                _fail(f"wrong apiVersion {api_version!r} for NetworkPolicy: expected networking.k8s.io/v1, "
                      f"{_CALICO_V3} or {_CALICO_V1}", loc.child("apiVersion"))
            self._add_unique("networking.k8s.io/NetworkPolicy", _k8s_kube_policy(obj, loc), self.kubernetes_policies)
        elif kind in _KUBE_CORE_KINDS:
            if api_version != "v1":
                _fail(f"wrong apiVersion {api_version!r} for {kind}: expected v1", loc.child("apiVersion"))
            self._add_kube_core(obj, loc, kind)
        else:
            self._skip(obj, loc, kind, "not a policy kind: ignored")

    def _add_calico(self, obj: dict[str, Any], loc: Location, api_version: str, kind: str) -> None:
        if api_version == _CALICO_V3:
            fmt = SourceFormat.V3
        elif api_version == _CALICO_V1:
            fmt = SourceFormat.V1
        else:
            _fail(f"wrong apiVersion {api_version!r}: Calico objects are {_CALICO_V3} or {_CALICO_V1}",
                  loc.child("apiVersion"))
        if kind in _STAGED_KINDS:
            self._skip(obj, loc, kind, "staged policy: Calico does not enforce it, not converted")
        elif kind == "KubernetesNetworkPolicy" or (kind in _POLICY_KINDS and _raw_name(obj).startswith(_KNP_PREFIX)):
            # Checked before validation: a rendered copy is reported, never refused.
            self._skip(obj, loc, kind, _RENDERED_KNP)
        elif kind in _POLICY_KINDS:
            policy = _policy(obj, loc, kind, fmt, self.rules)
            if policy.name.startswith(_KNP_PREFIX):
                self._skip(obj, loc, kind, _RENDERED_KNP)
            else:
                self._add_unique(f"calico/{kind}", policy, self.policies)
        elif kind == "Tier":
            self._add_unique("calico/Tier", _tier(obj, loc), self.tiers)
        elif kind in ("NetworkSet", "GlobalNetworkSet"):
            self._add_unique(f"calico/{kind}", _network_set(obj, loc, kind, fmt), self.network_sets)
        elif kind == "HostEndpoint":
            self._add_unique("calico/HostEndpoint", _host_endpoint(obj, loc, fmt), self.host_endpoints)
        else:
            self._skip(obj, loc, kind, "not a policy kind: ignored")

    def _add_kube_core(self, obj: dict[str, Any], loc: Location, kind: str) -> None:
        if kind == "Namespace":
            self._add_unique("v1/Namespace", _namespace(obj, loc), self.namespaces)
        elif kind == "ServiceAccount":
            self._add_unique("v1/ServiceAccount", _service_account(obj, loc), self.service_accounts)
        else:
            self._add_unique("v1/Pod", _pod(obj, loc), self.pods)

    def _add_unique(self, kind_key: str, model: Any, into: list[Any]) -> None:
        namespace = getattr(model, "namespace", None) or ""
        key = (kind_key, namespace, model.name)
        location: Location = model.location
        first = self.seen.get(key)
        if first is not None:
            what = f"{namespace}/{model.name}" if namespace else model.name
            raise InputError(f"duplicate {kind_key.split('/')[-1]} {what!r}: also defined at {first.object_ref()}",
                             location)
        self.seen[key] = location
        into.append(model)

    def _skip(self, obj: dict[str, Any], loc: Location, kind: str, reason: str) -> None:
        metadata = obj.get("metadata")
        namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
        self.skipped.append(
            Skipped(kind=kind, name=_raw_name(obj), namespace=namespace if isinstance(namespace, str) else None,
                    reason=reason, location=loc)
        )


def _raw_name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _named(base: Location, obj: Mapping[str, Any], kind: str) -> Location:
    """The object location with kind and ``[namespace/]name`` filled in (kept when already set)."""
    metadata = obj.get("metadata")
    name = _raw_name(obj)
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if name and isinstance(namespace, str) and namespace:
        name = f"{namespace}/{name}"
    return dataclasses.replace(base, kind=base.kind or kind, name=base.name or name)


# --------------------------------------------------------------------------------------------------
# Raw value helpers: every access to user data goes through these, so types never surprise us
# --------------------------------------------------------------------------------------------------


class _Path:
    """A field path under an object, turned into a ``Location`` only when needed (errors, rule models).

    Building a ``Location`` for every field visited dominated the loader's profile; most paths are
    never shown, so they stay a parent pointer and a suffix.
    """

    __slots__ = ("parent", "suffix")

    def __init__(self, parent: _Where, suffix: str) -> None:
        self.parent = parent
        self.suffix = suffix

    def child(self, suffix: str) -> _Path:
        return _Path(self, suffix)


_Where = Location | _Path


def _resolve(where: _Where) -> Location:
    suffixes: list[str] = []
    node = where
    while isinstance(node, _Path):
        suffixes.append(node.suffix)
        node = node.parent
    for suffix in reversed(suffixes):
        node = node.child(suffix)
    return node


def _fail(message: str, location: _Where) -> NoReturn:
    raise InputError(message, _resolve(location))


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _map(value: Any, loc: _Where, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    """A mapping (null counts as empty, as Kubernetes decodes it); unknown keys are refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(f"expected a mapping, got {_describe(value)}", loc)
    if allowed is not None:
        for key in value:
            if key not in allowed:
                _unknown_field(key, allowed, loc)
    return value


def _unknown_field(key: Any, allowed: frozenset[str], loc: _Where) -> NoReturn:
    if not isinstance(key, str):
        _fail(f"unexpected key {key!r}: field names are strings", loc)
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f'; did you mean "{close[0]}"?' if close else f"; known fields: {', '.join(sorted(allowed))}"
    _fail(f'unknown field "{key}" (a cluster would silently drop it){hint}', loc.child(key))


def _list(value: Any, loc: _Where) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        _fail(f"expected a list, got {_describe(value)}", loc)
    return value


def _str(value: Any, loc: _Where, field: str | None = None) -> str:
    """A string; null counts as empty. ``field``: the key under ``loc`` (the path is built only on error)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        _fail(f"expected a string, got {_describe(value)}", loc if field is None else loc.child(field))
    return value


def _bool(value: Any, loc: _Where) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        _fail(f"expected true or false, got {_describe(value)}", loc)
    return value


def _int(value: Any, loc: _Where, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(f"expected an integer, got {_describe(value)}", loc)
    if not low <= value <= high:
        _fail(f"{value} is out of range {low}-{high}", loc)
    return value


def _number(value: Any, loc: _Where) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(f"expected a number, got {_describe(value)}", loc)
    if not math.isfinite(value):
        _fail(f"expected a finite number, got {value}", loc)
    return float(value)


def _str_list(value: Any, loc: _Where) -> list[str]:
    return [_str(item, loc.child(f"[{i}]")) for i, item in enumerate(_list(value, loc))]


def _selector(text: str, loc: _Where) -> Selector:
    try:
        return parse_selector(text)
    except SelectorSyntaxError as exc:
        raise exc.with_location(_resolve(loc)) from None


def _optional_selector(value: Any, loc: _Where) -> Selector | None:
    text = _str(value, loc)
    return _selector(text, loc) if text else None


def _network(value: Any, loc: _Where) -> Network:
    """A CIDR or a bare IP (``cnet.ParseCIDROrIP``); host bits are masked as Felix does."""
    text = _str(value, loc)
    network = _parse_network(text)
    if network is None:
        _fail(f"invalid CIDR {text!r}", loc)
    return network


@functools.lru_cache(maxsize=4096)
def _parse_network(text: str) -> Network | None:
    # Cached: policies repeat the same CIDRs, and ipaddress parsing is slow.
    _, slash, prefix = text.partition("/")
    if not text or "%" in text or (slash and not _DIGITS_RE.match(prefix)):
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _networks(value: Any, loc: _Where) -> tuple[Network, ...]:
    if value is None:
        return ()
    return tuple(_network(item, loc.child(f"[{i}]")) for i, item in enumerate(_list(value, loc)))


# --------------------------------------------------------------------------------------------------
# Metadata: names, namespaces, labels, the v1 metadata annotation
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Meta:
    name: str
    namespace: str | None
    labels: LabelMap
    annotation_name: str | None  # v1 only: the v3 name stored in projectcalico.org/metadata
    namespace_defaulted: bool = False


def _meta(obj: Mapping[str, Any], loc: Location, fmt: SourceFormat | None, namespaced: bool) -> _Meta:
    mloc = _Path(loc, "metadata")
    metadata = _map(obj.get("metadata"), mloc)
    name = _str(metadata.get("name"), mloc.child("name"))
    if not name:
        _fail("metadata.name is required", mloc.child("name"))
    if len(name) > _DNS_SUBDOMAIN_MAX:
        _fail(f"name is too long by {len(name) - _DNS_SUBDOMAIN_MAX} bytes", mloc.child("name"))
    namespace: str | None = None
    defaulted = False
    if namespaced:
        namespace = _str(metadata.get("namespace"), mloc.child("namespace"))
        if not namespace:
            # kubectl would use the context's namespace; offline, "default" is the only neutral choice.
            namespace, defaulted = "default", True
        elif not _TIER_NAME_RE.match(namespace) or len(namespace) > _DNS_LABEL_MAX:
            _fail(f"invalid namespace {namespace!r}: must be a DNS-1123 label", mloc.child("namespace"))
    labels = _labels(metadata.get("labels"), mloc.child("labels"))
    annotation_name = None
    if fmt is SourceFormat.V1:
        annotations = _map(metadata.get("annotations"), mloc.child("annotations"))
        raw = annotations.get(_METADATA_ANNOTATION)
        if raw is not None:
            stored, annotation_name = _stored_metadata(raw, mloc.child(f'annotations["{_METADATA_ANNOTATION}"]'))
            labels = labels.with_labels(stored)
    return _Meta(name, namespace, labels, annotation_name, defaulted)


def _stored_metadata(raw: Any, loc: _Where) -> tuple[LabelMap, str | None]:
    """Labels and name from the v3 ObjectMeta that Calico serialises into the v1 annotation (§1.1)."""
    text = _str(raw, loc)
    try:
        stored = json.loads(text)
    except ValueError as exc:
        _fail(f"not valid JSON: {exc}", loc)
    stored = _map(stored, loc)
    labels = _labels(stored.get("labels"), loc.child("labels"))
    name = _str(stored.get("name"), loc.child("name")) or None
    return labels, name


def _labels(value: Any, loc: _Where) -> LabelMap:
    raw = _map(value, loc)
    for key, val in raw.items():
        kloc = loc.child(f'["{key}"]')
        if not isinstance(key, str) or not _qualified_name(key):
            _fail(f"invalid label key {key!r}", kloc)
        if not isinstance(val, str):
            _fail(f"expected a string label value, got {_describe(val)}", kloc)
        if len(val) > _DNS_LABEL_MAX or not _LABEL_VALUE_RE.match(val):
            _fail(f"invalid label value {val!r}", kloc)
    return LabelMap(raw)


def _qualified_name(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > _DNS_SUBDOMAIN_MAX or not _NAME_RE.match(prefix)):
        return False
    return 0 < len(name) <= _DNS_LABEL_MAX and _QUALIFIED_NAME_RE.match(name) is not None


# --------------------------------------------------------------------------------------------------
# Calico policies
# --------------------------------------------------------------------------------------------------


def _policy(obj: dict[str, Any], loc: Location, kind: str, fmt: SourceFormat, rules: _RuleMemo) -> Policy:
    is_global = kind == "GlobalNetworkPolicy"
    _map(obj, loc, _OBJECT_FIELDS)
    meta = _meta(obj, loc, fmt, namespaced=not is_global)
    sloc = loc.child("spec")
    spec = _map(obj.get("spec"), sloc, _GLOBAL_POLICY_SPEC_FIELDS if is_global else _POLICY_SPEC_FIELDS)
    tier = _tier_ref(spec.get("tier"), _Path(sloc, "tier"))
    name = _policy_name(meta, tier, fmt, kind, _Path(loc, "metadata").child("name"))
    ingress_raw = _list(spec.get("ingress"), _Path(sloc, "ingress"))
    egress_raw = _list(spec.get("egress"), _Path(sloc, "egress"))
    warnings: list[str] = []
    types = _policy_types(spec, _Path(sloc, "types"), fmt, bool(ingress_raw), bool(egress_raw), warnings)
    if meta.namespace_defaulted:
        warnings.append("metadata.namespace missing: assumed 'default'")
    check_global = fmt is SourceFormat.V3
    for hint_i, hint in enumerate(_str_list(spec.get("performanceHints"), _Path(sloc, "performanceHints"))):
        if hint not in _PERFORMANCE_HINTS:
            _fail(f"unknown performance hint {hint!r}", sloc.child(f"performanceHints[{hint_i}]"))
    ctx = _RuleContext(fmt=fmt, is_global=is_global, memo=rules)
    ingress = tuple(_rule(r, sloc.child(f"ingress[{i}]"), ctx, Direction.INGRESS) for i, r in enumerate(ingress_raw))
    egress = tuple(_rule(r, sloc.child(f"egress[{i}]"), ctx, Direction.EGRESS) for i, r in enumerate(egress_raw))
    do_not_track = _bool(spec.get("doNotTrack"), _Path(sloc, "doNotTrack"))
    pre_dnat = _bool(spec.get("preDNAT"), _Path(sloc, "preDNAT"))
    apply_on_forward = _bool(spec.get("applyOnForward"), _Path(sloc, "applyOnForward"))
    _check_host_flags(do_not_track, pre_dnat, apply_on_forward, bool(egress_raw), types, sloc)
    return Policy(
        kind=PolicyKind(kind),
        name=name,
        namespace=meta.namespace,
        tier=tier,
        order=_number(spec.get("order"), _Path(sloc, "order")),
        selector=_policy_selector(spec.get("selector"), _Path(sloc, "selector"), check_global) or ALL,
        types=types,
        ingress=ingress,
        egress=egress,
        namespace_selector=_policy_selector(spec.get("namespaceSelector"), _Path(sloc, "namespaceSelector"),
                                            check_global),
        service_account_selector=_policy_selector(
            spec.get("serviceAccountSelector"), _Path(sloc, "serviceAccountSelector"), check_global
        ),
        do_not_track=do_not_track,
        pre_dnat=pre_dnat,
        apply_on_forward=apply_on_forward,
        labels=meta.labels,
        source_format=fmt,
        warnings=tuple(warnings),
        location=loc,
    )


def _policy_name(meta: _Meta, tier: str, fmt: SourceFormat, kind: str, loc: _Where) -> str:
    """The v3 name (§1.1): v1 objects take the annotation's name, else lose one ``default.`` in tier default."""
    name = meta.name
    if fmt is SourceFormat.V1:
        if not _NAME_RE.match(name):
            _fail(f"invalid name {name!r}: must be a DNS-1123 subdomain", loc)
        if meta.annotation_name:
            name = meta.annotation_name
        elif tier == DEFAULT_TIER and name.startswith("default."):
            name = name[len("default."):]
    pattern = _GNP_NAME_RE if kind == "GlobalNetworkPolicy" else _NP_NAME_RE
    if not pattern.match(name):
        _fail(f"invalid {kind} name {name!r}: must be lower case alphanumerics and '-', optionally "
              f"'<tier>.<name>'", loc)
    return name


def _tier_ref(value: Any, loc: _Where) -> str:
    tier = _str(value, loc) or DEFAULT_TIER
    if not _TIER_NAME_RE.match(tier) or len(tier) > _DNS_LABEL_MAX:
        _fail(f"invalid tier name {tier!r}: must be lower case alphanumerics and '-'", loc)
    return tier


def _policy_types(
    spec: Mapping[str, Any], loc: _Where, fmt: SourceFormat, has_ingress: bool, has_egress: bool,
    warnings: list[str],
) -> frozenset[Direction]:
    names = _str_list(spec.get("types"), loc)
    seen: list[Direction] = []
    for i, name in enumerate(names):
        direction = _DIRECTIONS.get(name)
        if direction is None:
            _fail(f"unknown policy type {name!r}: must be Ingress or Egress", loc.child(f"[{i}]"))
        if direction in seen:
            _fail(f"{name!r} type specified more than once", loc.child(f"[{i}]"))
        seen.append(direction)
    if seen:
        return frozenset(seen)
    if fmt is SourceFormat.V1:
        # Felix's back-compatibility rule for objects that never saw the API server's defaulting.
        warnings.append("spec.types missing on a crd.projectcalico.org/v1 object: Felix enforces it for "
                        "Ingress and Egress")
        return frozenset({Direction.INGRESS, Direction.EGRESS})
    # api/pkg/defaults: by rule presence (an explicit empty list counts as no rules).
    if has_egress and has_ingress:
        return frozenset({Direction.INGRESS, Direction.EGRESS})
    if has_egress:
        return frozenset({Direction.EGRESS})
    return frozenset({Direction.INGRESS})


def _policy_selector(value: Any, loc: _Where, check_global: bool) -> Selector | None:
    text = _str(value, loc)
    if check_global and "global()" in text:
        _fail("global() can only be used in an EntityRule namespaceSelector", loc)
    return _selector(text, loc) if text else None


def _check_host_flags(
    do_not_track: bool, pre_dnat: bool, apply_on_forward: bool, has_egress: bool, types: frozenset[Direction],
    loc: _Where,
) -> None:
    if do_not_track and pre_dnat:
        _fail("preDNAT and doNotTrack cannot both be true", loc.child("preDNAT"))
    if pre_dnat and has_egress:
        _fail("a preDNAT policy cannot have egress rules", loc.child("egress"))
    if pre_dnat and Direction.EGRESS in types:
        _fail("a preDNAT policy cannot have the 'Egress' type", loc.child("types"))
    if (do_not_track or pre_dnat) and not apply_on_forward:
        _fail("applyOnForward must be true if either preDNAT or doNotTrack is true", loc.child("applyOnForward"))


# Validated rules by (repr of the raw rule, format, global, direction). repr, unlike JSON, keeps every
# distinction validation makes (1 / 1.0 / True / "1", list / tuple, str / int keys).
_RuleMemo = dict[tuple[str, SourceFormat, bool, Direction], Rule]


@dataclasses.dataclass(frozen=True, slots=True)
class _RuleContext:
    fmt: SourceFormat
    is_global: bool
    memo: _RuleMemo


def _rule(raw: Any, loc: Location, ctx: _RuleContext, direction: Direction) -> Rule:
    """A validated rule; identical raw rules (they repeat across policies) are validated once.

    A rule's model depends only on its raw value, the format, whether the policy is global and the
    direction; only the locations differ, so a remembered rule is copied with this rule's locations.
    Invalid rules are never remembered: each occurrence raises its own error.
    """
    try:
        key = (repr(raw), ctx.fmt, ctx.is_global, direction)
    except RecursionError:  # an absurdly deep value: validate it without the memo
        return _new_rule(raw, loc, ctx, direction)
    known = ctx.memo.get(key)
    if known is None:
        known = ctx.memo[key] = _new_rule(raw, loc, ctx, direction)
        return known
    source, destination = known.source, known.destination
    # Every field spelled out: the fastest copy (dataclasses.replace inspects fields on each call).
    return Rule(
        action=known.action,
        protocol=known.protocol,
        not_protocol=known.not_protocol,
        icmp=known.icmp,
        not_icmp=known.not_icmp,
        ip_version=known.ip_version,
        source=source if source is _NO_ENTITY else _relocated_entity(source, loc.child("source")),
        destination=destination if destination is _NO_ENTITY else _relocated_entity(
            destination, loc.child("destination")),
        http=known.http,
        location=loc,
    )


def _relocated_entity(entity: EntityRule, loc: Location) -> EntityRule:
    return EntityRule(
        nets=entity.nets,
        not_nets=entity.not_nets,
        selector=entity.selector,
        not_selector=entity.not_selector,
        namespace_selector=entity.namespace_selector,
        ports=entity.ports,
        not_ports=entity.not_ports,
        service_accounts=entity.service_accounts,
        services=entity.services,
        location=loc,
    )


def _new_rule(raw: Any, loc: Location, ctx: _RuleContext, direction: Direction) -> Rule:
    spec = _map(raw, loc, _RULE_FIELDS)
    get = spec.get
    # Absent fields are the common case: paths are only built for fields that are present.
    action = _action(get("action"), _Path(loc, "action"), ctx.fmt)
    value = get("protocol")
    protocol = None if value is None else _optional_protocol(value, _Path(loc, "protocol"))
    value = get("notProtocol")
    not_protocol = None if value is None else _optional_protocol(value, _Path(loc, "notProtocol"))
    ip_version = get("ipVersion")
    if ip_version is not None and (isinstance(ip_version, bool) or ip_version not in (4, 6)):
        _fail(f"ipVersion must be 4 or 6, got {_describe(ip_version)}", _Path(loc, "ipVersion"))
    icmp_given = get("icmp")
    icmp = None if icmp_given is None else _icmp(icmp_given, _Path(loc, "icmp"))
    value = get("notICMP")
    not_icmp = None if value is None else _icmp(value, _Path(loc, "notICMP"))
    if icmp_given is not None and protocol not in (_ICMP, _ICMPV6):
        _fail("rules that specify ICMP fields must set protocol to ICMP or ICMPv6", _Path(loc, "icmp"))
    if ip_version is not None:
        _check_icmp_version(protocol, not_protocol, ip_version, loc)
    value = get("source")
    source = _NO_ENTITY if value is None else _entity(value, loc.child("source"), ctx)
    value = get("destination")
    destination = _NO_ENTITY if value is None else _entity(value, loc.child("destination"), ctx)
    if source.ports or source.not_ports:
        _check_ports_protocol(protocol, source, source.location)
    if destination.ports or destination.not_ports:
        _check_ports_protocol(protocol, destination, destination.location)
    if source.nets or source.not_nets or destination.nets or destination.not_nets:
        _check_nets_versions(ip_version, source, destination, loc)
    if source.services is not None or destination.services is not None:
        _check_services(direction, ctx, source, destination, loc)
    value = get("http")
    http = None if value is None else _http(value, _Path(loc, "http"))
    if http is not None:
        if action is not Action.ALLOW:
            _fail("HTTP match is only valid on Allow rules", _Path(loc, "http"))
        if protocol not in (None, PROTOCOL_NUMBERS["tcp"]):
            _fail("rules that specify HTTP fields must set protocol to TCP or leave it empty", _Path(loc, "protocol"))
        if direction is Direction.EGRESS:
            _fail("HTTP match is not allowed in egress rules", _Path(loc, "http"))
    value = get("metadata")
    if value is not None:
        rule_meta = _map(value, _Path(loc, "metadata"), _RULE_METADATA_FIELDS)
        _map(rule_meta.get("annotations"), _Path(loc, "metadata").child("annotations"))
    return Rule(
        action=action,
        protocol=protocol,
        not_protocol=not_protocol,
        icmp=icmp,
        not_icmp=not_icmp,
        ip_version=ip_version,
        source=source,
        destination=destination,
        http=http,
        location=loc,
    )


def _action(value: Any, loc: _Where, fmt: SourceFormat) -> Action:
    if value is None:
        _fail(f"action is required: one of {_ACTION_LIST}", loc)
    text = _str(value, loc)
    if fmt is SourceFormat.V1:
        # Felix lowercases v1 actions (ruleActionAPIV3ToBackend), so "allow" works on a v1 object.
        action = _ACTIONS_CASEFOLD.get(text.lower())
        if action is None:
            _fail(f"unknown action {text!r}: must be one of {_ACTION_LIST} (any case)", loc)
        return action
    action = _ACTIONS.get(text)
    if action is None:
        _fail(f"unknown action {text!r}: must be one of {_ACTION_LIST}", loc)
    return action


def _optional_protocol(value: Any, loc: _Where) -> int | None:
    """``numorstring.Protocol``: 1-255, a numeric string, or a name in any case."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        _fail(f"expected a protocol name or number, got {_describe(value)}", loc)
    if isinstance(value, str) and not _DIGITS_RE.match(value):
        number = PROTOCOL_NUMBERS.get(value.lower())
        if number is None:
            _fail(f"protocol name invalid: {value!r} (expected {_PROTOCOL_NAMES} or a number 1-255)", loc)
        return number
    number = int(value)
    if not 1 <= number <= 255:
        _fail(f"protocol number invalid: {value} (expected 1-255)", loc)
    return number


def _icmp(value: Any, loc: _Where) -> ICMPMatch | None:
    if value is None:
        return None
    spec = _map(value, loc, _ICMP_FIELDS)
    icmp_type = None if spec.get("type") is None else _int(spec["type"], loc.child("type"), 0, 254)
    code = None if spec.get("code") is None else _int(spec["code"], loc.child("code"), 0, 255)
    if code is not None and icmp_type is None:
        _fail("ICMP code specified without an ICMP type", loc.child("code"))
    # An empty match constrains nothing in Felix; None keeps "no constraint" a single representation.
    return None if icmp_type is None else ICMPMatch(type=icmp_type, code=code)


def _check_icmp_version(protocol: int | None, not_protocol: int | None, ip_version: int | None,
                        loc: _Where) -> None:
    if ip_version is None:
        return
    for proto in (protocol, not_protocol):
        if proto == _ICMP and ip_version != 4:
            _fail("must set ipVersion to 4 with protocol ICMP", loc.child("ipVersion"))
        if proto == _ICMPV6 and ip_version != 6:
            _fail("must set ipVersion to 6 with protocol ICMPv6", loc.child("ipVersion"))


def _check_ports_protocol(protocol: int | None, entity: EntityRule, loc: _Where) -> None:
    for field, ports in (("ports", entity.ports), ("notPorts", entity.not_ports)):
        for i, port in enumerate(ports):
            named = isinstance(port, NamedPort)
            # Felix resolves a named port to its own protocol, so only numeric ports need one here.
            if (protocol is None and not named) or (protocol is not None and protocol not in _PORT_PROTOCOLS):
                _fail("rules that specify ports must set protocol to TCP, UDP or SCTP", loc.child(f"{field}[{i}]"))


def _check_nets_versions(ip_version: int | None, source: EntityRule, destination: EntityRule,
                         loc: _Where) -> None:
    seen: set[int] = set()
    for side, entity in (("source", source), ("destination", destination)):
        for field, nets in (("nets", entity.nets), ("notNets", entity.not_nets)):
            versions = {n.version for n in nets}
            floc = loc.child(side).child(field)
            if ip_version is not None and versions - {ip_version}:
                _fail(f"rule ipVersion {ip_version} doesn't match the CIDR version", floc)
            seen |= versions
            if len(seen) > 1:
                _fail("rule contains both IPv4 and IPv6 CIDRs", floc)


def _check_services(direction: Direction, ctx: _RuleContext, source: EntityRule, destination: EntityRule,
                    loc: _Where) -> None:
    if direction is Direction.EGRESS and source.services is not None:
        _fail("services are not allowed in an egress rule source", loc.child("source").child("services"))
    if direction is Direction.INGRESS and destination.services is not None:
        _fail("services are not allowed in an ingress rule destination", loc.child("destination").child("services"))
    if destination.services is not None and (destination.ports or destination.not_ports):
        _fail("ports and notPorts cannot be specified with services", loc.child("destination").child("ports"))
    for side, entity in (("source", source), ("destination", destination)):
        if ctx.is_global and entity.services is not None and not entity.services.namespace:
            _fail("must specify a namespace", loc.child(side).child("services").child("namespace"))


# An absent source/destination: shared, since the model is immutable and it has no field to point at.
_NO_ENTITY = EntityRule()


def _entity(value: Any, loc: Location, ctx: _RuleContext) -> EntityRule:
    spec = _map(value, loc, _ENTITY_FIELDS)
    get = spec.get
    selector_text = _str(get("selector"), loc, "selector")
    if ctx.fmt is SourceFormat.V3 and "global(" in selector_text:
        _fail("global() can only be used in an EntityRule namespaceSelector", _Path(loc, "selector"))
    ns_text = _str(get("namespaceSelector"), loc, "namespaceSelector")
    namespace_selector = _selector(ns_text, _Path(loc, "namespaceSelector")) if ns_text else None
    if (ctx.fmt is SourceFormat.V3 and "global(" in ns_text and not _GLOBAL_ONLY_RE.match(ns_text)
            and not isinstance(namespace_selector, Global)):
        _fail("global() cannot be combined with other selectors", _Path(loc, "namespaceSelector"))
    not_text = _str(get("notSelector"), loc, "notSelector")
    nets, not_nets, ports, not_ports = get("nets"), get("notNets"), get("ports"), get("notPorts")
    accounts, services = get("serviceAccounts"), get("services")
    entity = EntityRule(
        nets=() if nets is None else _networks(nets, _Path(loc, "nets")),
        not_nets=() if not_nets is None else _networks(not_nets, _Path(loc, "notNets")),
        selector=_selector(selector_text, _Path(loc, "selector")) if selector_text else None,
        not_selector=_selector(not_text, _Path(loc, "notSelector")) if not_text else None,
        namespace_selector=namespace_selector,
        ports=() if ports is None else _ports(ports, _Path(loc, "ports")),
        not_ports=() if not_ports is None else _ports(not_ports, _Path(loc, "notPorts")),
        service_accounts=None if accounts is None else _service_accounts(accounts, _Path(loc, "serviceAccounts")),
        services=None if services is None else _services(services, _Path(loc, "services")),
        location=loc,
    )
    if entity.services is not None:
        _check_services_alone(spec, _Path(loc, "services"))
    return entity


def _check_services_alone(spec: Mapping[str, Any], loc: _Where) -> None:
    if spec.get("namespaceSelector"):
        _fail("cannot specify namespaceSelector and services on the same rule", loc)
    if spec.get("selector") or spec.get("notSelector"):
        _fail("cannot specify selector/notSelector and services on the same rule", loc)
    if spec.get("serviceAccounts") is not None:
        _fail("cannot specify serviceAccounts and services on the same rule", loc)
    if spec.get("nets") or spec.get("notNets"):
        _fail("cannot specify nets/notNets and services on the same rule", loc)


def _ports(value: Any, loc: _Where) -> tuple[Port, ...]:
    return tuple(_port(item, loc.child(f"[{i}]")) for i, item in enumerate(_list(value, loc)))


def _port(value: Any, loc: _Where) -> Port:
    """``numorstring.Port``: 1-65535, ``"min:max"``, or a named port that Kubernetes accepts."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        _fail(f"expected a port number, range or name, got {_describe(value)}", loc)
    if isinstance(value, int) or _DIGITS_RE.match(value):
        number = int(value)
        if not 1 <= number <= 65535:
            _fail(f"invalid port {value}: port number must be between 1 and 65535", loc)
        return PortRange(number, number)
    match = _PORT_RANGE_RE.match(value)
    if match:
        first, last = int(match.group(1)), int(match.group(2))
        if not (1 <= first <= 65535 and 1 <= last <= 65535):
            _fail(f"invalid port range {value!r}: port numbers must be between 1 and 65535", loc)
        if first > last:
            _fail(f"invalid port range {value!r}: minimum port number is greater than maximum", loc)
        return PortRange(first, last)
    if not _PORT_NAME_RE.match(value) or not _valid_port_name(value):
        _fail(f"invalid port {value!r}: expected a number, 'min:max', or a port name (at most 15 lower case "
              f"alphanumerics and '-', with a letter)", loc)
    return NamedPort(value)


def _valid_port_name(name: str) -> bool:
    """k8s ``IsValidPortName`` (IANA_SVC_NAME), which Calico's ``portName`` validator applies."""
    return (
        len(name) <= 15
        and _IANA_SVC_NAME_RE.match(name) is not None
        and any("a" <= c <= "z" for c in name)
        and "--" not in name
        and not name.startswith("-")
        and not name.endswith("-")
    )


def _service_accounts(value: Any, loc: _Where) -> ServiceAccountMatch | None:
    if value is None:
        return None
    spec = _map(value, loc, _SERVICE_ACCOUNT_FIELDS)
    names = _str_list(spec.get("names"), loc.child("names"))
    selector = _optional_selector(spec.get("selector"), loc.child("selector"))
    if not names and selector is None:
        return None  # rules.go adds nothing for an empty match
    return ServiceAccountMatch(names=tuple(names), selector=selector)


def _services(value: Any, loc: _Where) -> ServiceMatch | None:
    if value is None:
        return None
    spec = _map(value, loc, _SERVICE_FIELDS)
    name = _str(spec.get("name"), loc.child("name"))
    namespace = _str(spec.get("namespace"), loc.child("namespace"))
    if not name:
        _fail("services must specify a service name", loc.child("name"))
    for field, text in (("name", name), ("namespace", namespace)):
        if text and not _NAME_RE.match(text):
            _fail(f"invalid {field} {text!r}: must be a DNS-1123 subdomain", loc.child(field))
    return ServiceMatch(name=name, namespace=namespace)


def _http(value: Any, loc: _Where) -> HTTPMatch | None:
    if value is None:
        return None
    spec = _map(value, loc, _HTTP_FIELDS)
    methods = _str_list(spec.get("methods"), loc.child("methods"))
    if len(methods) > 20:
        _fail("at most 20 methods", loc.child("methods"))
    if len(set(methods)) != len(methods):
        _fail(f"invalid methods (duplicates): {methods}", loc.child("methods"))
    raw_paths = _list(spec.get("paths"), loc.child("paths"))
    if len(raw_paths) > 20:
        _fail("at most 20 paths", loc.child("paths"))
    paths = tuple(_http_path(p, loc.child(f"paths[{i}]")) for i, p in enumerate(raw_paths))
    return HTTPMatch(methods=tuple(methods), paths=paths)


def _http_path(value: Any, loc: _Where) -> tuple[str, str]:
    spec = _map(value, loc, _HTTP_PATH_FIELDS)
    exact = _str(spec.get("exact"), loc.child("exact"))
    prefix = _str(spec.get("prefix"), loc.child("prefix"))
    if exact and prefix:
        _fail("invalid path match: both 'exact' and 'prefix' are set", loc)
    if not exact and not prefix:
        _fail("invalid path match: either 'exact' or 'prefix' must be set", loc)
    kind, path = ("exact", exact) if exact else ("prefix", prefix)
    if len(path) > 1024 or not path.startswith("/") or any(c in path for c in "? #"):
        _fail(f"invalid path {path!r}: must start with '/' and not contain '?', '#' or spaces", loc.child(kind))
    return kind, path


# --------------------------------------------------------------------------------------------------
# Tiers, network sets, host endpoints
# --------------------------------------------------------------------------------------------------


def _tier(obj: dict[str, Any], loc: Location) -> Tier:
    _map(obj, loc, _TIER_OBJECT_FIELDS)
    meta = _meta(obj, loc, None, namespaced=False)
    nloc = _Path(loc, "metadata").child("name")
    if len(meta.name) > _DNS_LABEL_MAX:
        _fail(f"name is too long by {len(meta.name) - _DNS_LABEL_MAX} bytes", nloc)
    if not _TIER_NAME_RE.match(meta.name):
        _fail(f"invalid tier name {meta.name!r}: must be lower case alphanumerics and '-' (no dots)", nloc)
    sloc = _Path(loc, "spec")
    spec = _map(obj.get("spec"), sloc, _TIER_SPEC_FIELDS)
    order = _number(spec.get("order"), sloc.child("order"))
    action_text = _str(spec.get("defaultAction"), sloc.child("defaultAction")) or "Deny"
    default_action = _TIER_DEFAULT_ACTIONS.get(action_text)
    if default_action is None:
        _fail(f"invalid defaultAction {action_text!r}: must be Deny or Pass", sloc.child("defaultAction"))
    fixed = _FIXED_TIERS.get(meta.name)
    if fixed is not None:
        fixed_order, fixed_action = fixed
        if order is not None and order != fixed_order:
            _fail(f"the {meta.name!r} tier's order must be {fixed_order:g}", sloc.child("order"))
        if default_action is not fixed_action:
            _fail(f"the {meta.name!r} tier must have default action {fixed_action.value!r}",
                  sloc.child("defaultAction"))
        order = fixed_order
    return Tier(name=meta.name, order=order, default_action=default_action, location=loc)


def _network_set(obj: dict[str, Any], loc: Location, kind: str, fmt: SourceFormat) -> NetworkSet:
    _map(obj, loc, _OBJECT_FIELDS)
    is_global = kind == "GlobalNetworkSet"
    meta = _meta(obj, loc, fmt, namespaced=not is_global)
    nloc = _Path(loc, "metadata").child("name")
    if not _NAME_RE.match(meta.name):
        _fail(f"invalid name {meta.name!r}: must be a DNS-1123 subdomain", nloc)
    if "projectcalico.org/namespace" in meta.labels:
        _fail("projectcalico.org/namespace is not a valid label name", _Path(loc, "metadata").child("labels"))
    sloc = _Path(loc, "spec")
    spec = _map(obj.get("spec"), sloc, _NETWORK_SET_SPEC_FIELDS)
    return NetworkSet(
        name=meta.name,
        namespace=meta.namespace,
        nets=_networks(spec.get("nets"), sloc.child("nets")),
        labels=meta.labels,
        location=loc,
    )


def _host_endpoint(obj: dict[str, Any], loc: Location, fmt: SourceFormat) -> HostEndpoint:
    _map(obj, loc, _OBJECT_FIELDS)
    meta = _meta(obj, loc, fmt, namespaced=False)
    if not _NAME_RE.match(meta.name):
        _fail(f"invalid name {meta.name!r}: must be a DNS-1123 subdomain", _Path(loc, "metadata").child("name"))
    sloc = _Path(loc, "spec")
    spec = _map(obj.get("spec"), sloc, _HOST_ENDPOINT_SPEC_FIELDS)
    node = _str(spec.get("node"), sloc.child("node"))
    interface = _str(spec.get("interfaceName"), sloc.child("interfaceName"))
    expected = _str_list(spec.get("expectedIPs"), sloc.child("expectedIPs"))
    for i, ip in enumerate(expected):
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            _fail(f"invalid IP address {ip!r}", sloc.child(f"expectedIPs[{i}]"))
    if not node:
        _fail("no node has been specified", sloc.child("node"))
    if not interface and not expected:
        _fail("no interfaceName or expectedIPs have been specified", sloc.child("interfaceName"))
    for i, port in enumerate(_list(spec.get("ports"), sloc.child("ports"))):
        ploc = sloc.child(f"ports[{i}]")
        pspec = _map(port, ploc, _HOST_ENDPOINT_PORT_FIELDS)
        _int(pspec.get("port"), ploc.child("port"), 1, 65535)
        if _optional_protocol(pspec.get("protocol"), ploc.child("protocol")) not in _PORT_PROTOCOLS:
            _fail("protocol must be TCP, UDP or SCTP", ploc.child("protocol"))
    _str_list(spec.get("profiles"), sloc.child("profiles"))
    return HostEndpoint(
        name=meta.name,
        node=node,
        interface_name=interface,
        expected_ips=tuple(expected),
        labels=meta.labels,
        location=loc,
    )


# --------------------------------------------------------------------------------------------------
# Kubernetes objects (context for the conversion)
# --------------------------------------------------------------------------------------------------


def _namespace(obj: dict[str, Any], loc: Location) -> Namespace:
    meta = _meta(obj, loc, None, namespaced=False)
    if not _TIER_NAME_RE.match(meta.name) or len(meta.name) > _DNS_LABEL_MAX:
        _fail(f"invalid namespace name {meta.name!r}: must be a DNS-1123 label", _Path(loc, "metadata").child("name"))
    # Kubernetes >= 1.21 sets this label on every namespace, and selectors use it.
    return Namespace(name=meta.name, labels=meta.labels.with_labels({_NS_NAME_LABEL: meta.name}), location=loc)


def _service_account(obj: dict[str, Any], loc: Location) -> ServiceAccount:
    meta = _meta(obj, loc, None, namespaced=True)
    return ServiceAccount(name=meta.name, namespace=meta.namespace or "default", labels=meta.labels, location=loc)


def _pod(obj: dict[str, Any], loc: Location) -> Pod:
    meta = _meta(obj, loc, None, namespaced=True)
    sloc, stloc = _Path(loc, "spec"), _Path(loc, "status")
    spec = _map(obj.get("spec"), sloc)
    status = _map(obj.get("status"), stloc)
    metadata = _map(obj.get("metadata"), _Path(loc, "metadata"))
    service_account = (_str(spec.get("serviceAccountName"), sloc.child("serviceAccountName"))
                       or _str(spec.get("serviceAccount"), sloc.child("serviceAccount")) or "default")
    ips = [
        _str(_map(entry, stloc.child(f"podIPs[{i}]")).get("ip"), stloc.child(f"podIPs[{i}].ip"))
        for i, entry in enumerate(_list(status.get("podIPs"), stloc.child("podIPs")))
    ]
    pod_ip = _str(status.get("podIP"), stloc.child("podIP"))
    if not ips and pod_ip:
        ips = [pod_ip]
    return Pod(
        name=meta.name,
        namespace=meta.namespace or "default",
        labels=meta.labels,
        service_account=service_account,
        ips=tuple(ip for ip in ips if ip),
        ports=_container_ports(spec.get("containers"), sloc.child("containers")),
        host_network=_bool(spec.get("hostNetwork"), sloc.child("hostNetwork")),
        node_name=_str(spec.get("nodeName"), sloc.child("nodeName")),
        phase=_str(status.get("phase"), stloc.child("phase")),
        restart_policy=_str(spec.get("restartPolicy"), sloc.child("restartPolicy")) or "Always",
        uid=_str(metadata.get("uid"), _Path(loc, "metadata").child("uid")),
        location=loc,
    )


def _container_ports(value: Any, loc: _Where) -> tuple[ContainerPort, ...]:
    ports: list[ContainerPort] = []
    for i, container in enumerate(_list(value, loc)):
        cloc = loc.child(f"[{i}]")
        for j, port in enumerate(_list(_map(container, cloc).get("ports"), cloc.child("ports"))):
            ploc = cloc.child(f"ports[{j}]")
            spec = _map(port, ploc)
            ports.append(
                ContainerPort(
                    port=_int(spec.get("containerPort"), ploc.child("containerPort"), 1, 65535),
                    protocol=_str(spec.get("protocol"), ploc.child("protocol")) or "TCP",
                    name=_str(spec.get("name"), ploc.child("name")),
                )
            )
    return tuple(ports)


def _k8s_kube_policy(obj: dict[str, Any], loc: Location) -> KubernetesNetworkPolicy:
    _map(obj, loc, _KNP_OBJECT_FIELDS)
    meta = _meta(obj, loc, None, namespaced=True)
    if not _NAME_RE.match(meta.name):
        _fail(f"invalid name {meta.name!r}: must be a DNS-1123 subdomain", _Path(loc, "metadata").child("name"))
    sloc = _Path(loc, "spec")
    spec = _map(obj.get("spec"), sloc, _KNP_SPEC_FIELDS)
    ingress = tuple(
        _knp_rule(r, sloc.child(f"ingress[{i}]"), "from", _KNP_INGRESS_FIELDS)
        for i, r in enumerate(_list(spec.get("ingress"), sloc.child("ingress")))
    )
    egress = tuple(
        _knp_rule(r, sloc.child(f"egress[{i}]"), "to", _KNP_EGRESS_FIELDS)
        for i, r in enumerate(_list(spec.get("egress"), sloc.child("egress")))
    )
    types_loc = sloc.child("policyTypes")
    types = _str_list(spec.get("policyTypes"), types_loc)
    for i, name in enumerate(types):
        if name not in _DIRECTIONS:
            _fail(f"unknown policy type {name!r}: must be Ingress or Egress", types_loc.child(f"[{i}]"))
    if not types:
        # The apiserver's defaulting (SetDefaults_NetworkPolicySpec).
        types = ["Ingress", "Egress"] if egress else ["Ingress"]
    return KubernetesNetworkPolicy(
        name=meta.name,
        namespace=meta.namespace or "default",
        pod_selector=_label_selector(spec.get("podSelector"), sloc.child("podSelector")),
        policy_types=frozenset(types),
        ingress=ingress,
        egress=egress,
        location=loc,
    )


def _knp_rule(value: Any, loc: _Where, peers_field: str, allowed: frozenset[str]) -> NetworkPolicyRule:
    spec = _map(value, loc, allowed)
    peers = tuple(
        _knp_peer(p, loc.child(f"{peers_field}[{i}]"))
        for i, p in enumerate(_list(spec.get(peers_field), loc.child(peers_field)))
    )
    ports = tuple(
        _knp_port(p, loc.child(f"ports[{i}]")) for i, p in enumerate(_list(spec.get("ports"), loc.child("ports")))
    )
    return NetworkPolicyRule(peers=peers, ports=ports)


def _knp_peer(value: Any, loc: _Where) -> NetworkPolicyPeer:
    spec = _map(value, loc, _KNP_PEER_FIELDS)
    if not spec:
        _fail("must specify a peer (podSelector, namespaceSelector or ipBlock)", loc)
    ip_block = None
    if spec.get("ipBlock") is not None:
        if spec.get("podSelector") is not None or spec.get("namespaceSelector") is not None:
            _fail("may not specify both ipBlock and another peer", loc.child("ipBlock"))
        ip_block = _ip_block(spec["ipBlock"], loc.child("ipBlock"))
    pod = spec.get("podSelector")
    namespace = spec.get("namespaceSelector")
    return NetworkPolicyPeer(
        pod_selector=None if pod is None else _label_selector(pod, loc.child("podSelector")),
        namespace_selector=None if namespace is None else _label_selector(namespace, loc.child("namespaceSelector")),
        ip_block=ip_block,
    )


def _ip_block(value: Any, loc: _Where) -> IPBlock:
    spec = _map(value, loc, _IP_BLOCK_FIELDS)
    cidr_text = _str(spec.get("cidr"), loc.child("cidr"))
    if "/" not in cidr_text:
        _fail(f"invalid CIDR {cidr_text!r}: must be a CIDR such as 10.0.0.0/8", loc.child("cidr"))
    cidr = _network(cidr_text, loc.child("cidr"))
    excepts = []
    for i, text in enumerate(_str_list(spec.get("except"), loc.child("except"))):
        eloc = loc.child(f"except[{i}]")
        if "/" not in text:
            _fail(f"invalid CIDR {text!r}", eloc)
        network = _network(text, eloc)
        if network.version != cidr.version or not network.subnet_of(cidr):  # type: ignore[arg-type]
            _fail(f"must be a strict subset of cidr {cidr_text!r}", eloc)
        if network == cidr:
            _fail(f"must be a strict subset of cidr {cidr_text!r}", eloc)
        excepts.append(text)
    return IPBlock(cidr=cidr_text, except_=tuple(excepts))


def _knp_port(value: Any, loc: _Where) -> NetworkPolicyPort:
    spec = _map(value, loc, _KNP_PORT_FIELDS)
    protocol = _str(spec.get("protocol"), loc.child("protocol")) or "TCP"
    if protocol not in _KNP_PROTOCOLS:
        _fail(f"unsupported protocol {protocol!r}: must be TCP, UDP or SCTP", loc.child("protocol"))
    raw_port = spec.get("port")
    port: int | str | None = None
    if isinstance(raw_port, str) and not _DIGITS_RE.match(raw_port):
        if not _valid_port_name(raw_port):
            _fail(f"invalid port name {raw_port!r}", loc.child("port"))
        port = raw_port
    elif raw_port is not None:
        port = _int(int(raw_port) if isinstance(raw_port, str) else raw_port, loc.child("port"), 1, 65535)
    end_port = None
    if spec.get("endPort") is not None:
        end_port = _int(spec["endPort"], loc.child("endPort"), 1, 65535)
        if not isinstance(port, int):
            _fail("endPort requires a numeric port", loc.child("endPort"))
        if end_port < port:
            _fail("endPort must be greater than or equal to port", loc.child("endPort"))
    return NetworkPolicyPort(protocol=protocol, port=port, end_port=end_port)


def _label_selector(value: Any, loc: _Where) -> LabelSelector:
    spec = _map(value, loc, _LABEL_SELECTOR_FIELDS)
    match_labels = _labels(spec.get("matchLabels"), loc.child("matchLabels"))
    requirements = []
    for i, raw in enumerate(_list(spec.get("matchExpressions"), loc.child("matchExpressions"))):
        rloc = loc.child(f"matchExpressions[{i}]")
        expr = _map(raw, rloc, _REQUIREMENT_FIELDS)
        key = _str(expr.get("key"), rloc.child("key"))
        if not _qualified_name(key):
            _fail(f"invalid label key {key!r}", rloc.child("key"))
        op_text = _str(expr.get("operator"), rloc.child("operator"))
        operator = _OPERATORS.get(op_text)
        if operator is None:
            _fail(f"invalid operator {op_text!r}: must be In, NotIn, Exists or DoesNotExist", rloc.child("operator"))
        values = _str_list(expr.get("values"), rloc.child("values"))
        if operator in (Operator.IN, Operator.NOT_IN) and not values:
            _fail(f"values must be non-empty for operator {op_text}", rloc.child("values"))
        if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
            _fail(f"values must be empty for operator {op_text}", rloc.child("values"))
        requirements.append(Requirement(key=key, operator=operator, values=tuple(values)))
    return LabelSelector(match_labels=match_labels, match_expressions=tuple(requirements))
