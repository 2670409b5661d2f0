"""Calico selector → Kubernetes label selectors, exactly or not at all (policy-mapping §4.2).

Design. A Calico selector is a boolean formula over label atoms; an Antrea peer/appliedTo entry is a
conjunction of Kubernetes label requirements, and a list of entries is an OR. So the translation is:

1. push ``!`` down to the atoms (De Morgan; ``==``↔``!=``, ``in``↔``not in``, ``has``↔``!has``,
   ``all()``↔false);
2. expand to disjunctive normal form, simplifying every conjunct *per key* while expanding, so that
   contradictions (``a == 'x' && a == 'y'``, ``a in {}``) vanish early and tautologies (``a not in {}``)
   drop out; the number of conjuncts is capped (``selector too complex``) so no input can blow up;
3. map each conjunct's keys to what a pod is: its own labels, its namespace's labels, its service
   account name, or a constant (``projectcalico.org/orchestrator`` is ``k8s`` for every pod).

Per key, a conjunct's literals collapse into one :class:`_Constraint`: "absent allowed?" plus a value
set that is either finite or co-finite, plus substring tests that are only kept while the set is
co-finite (against a finite set they are evaluated away, which is exact). The semantics are those of
a pod's Calico *endpoint labels* (§1.2): the pod's labels, ``projectcalico.org/namespace``,
``projectcalico.org/orchestrator=k8s``, ``projectcalico.org/serviceaccount``, the namespace labels as
``pcns.<k>`` plus ``pcns.projectcalico.org/name``, and the service account's as ``pcsa.<k>`` plus
``pcsa.projectcalico.org/name``. Label keys and values that Kubernetes would reject cannot occur on
any pod, so atoms on them simplify exactly (validation mirrors apimachinery).

Refusals are collected, never raised: every problem names the atom and why Antrea cannot express it.
Assumption (documented, not modelled): pods do not carry their own labels named ``pcns.*``/``pcsa.*``
(Calico would let such a label shadow the inherited one).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kubectl_antrea_migrate.calico.selector.ast import (
    All,
    And,
    Contains,
    EndsWith,
    Eq,
    Global,
    Has,
    In,
    Ne,
    Not,
    NotIn,
    Or,
    Selector,
    StartsWith,
)
from kubectl_antrea_migrate.calico.selector.rewrite import (
    NAMESPACE_KEY,
    NAMESPACE_PREFIX,
    ORCHESTRATOR_KEY,
    SERVICE_ACCOUNT_KEY,
    SERVICE_ACCOUNT_PREFIX,
)
from kubectl_antrea_migrate.kube.model import LabelMap, LabelSelector, Operator, Requirement

__all__ = [
    "METADATA_NAME",
    "Term",
    "Translation",
    "intersects",
    "is_valid_label_key",
    "is_valid_label_value",
    "translate",
]

METADATA_NAME = "kubernetes.io/metadata.name"  # set on every namespace by the apiserver (K8s >= 1.21)
_NS_NAME_KEYS = frozenset(
    {NAMESPACE_KEY, NAMESPACE_PREFIX + "projectcalico.org/name", NAMESPACE_PREFIX + METADATA_NAME}
)
_SA_NAME_KEYS = frozenset({SERVICE_ACCOUNT_KEY, SERVICE_ACCOUNT_PREFIX + "projectcalico.org/name"})
_POD_ORCHESTRATOR = "k8s"

# k8s.io/apimachinery/pkg/util/validation: IsQualifiedName, IsValidLabelValue, IsDNS1123Label/Subdomain.
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def is_valid_label_key(key: str) -> bool:
    """Whether Kubernetes accepts ``key`` as a label key (``IsQualifiedName``)."""
    prefix, slash, name = key.rpartition("/")
    if slash and ("/" in prefix or not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_QUALIFIED_NAME.fullmatch(name))


def is_valid_label_value(value: str) -> bool:
    """Whether Kubernetes accepts ``value`` as a label value (``IsValidLabelValue``; empty is valid)."""
    return value == "" or (len(value) <= 63 and bool(_QUALIFIED_NAME.fullmatch(value)))


def _is_namespace_name(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1123_LABEL.fullmatch(value))


def _is_service_account_name(value: str) -> bool:
    return len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.fullmatch(value))


@dataclass(frozen=True, slots=True)
class Term:
    """One DNF conjunct, split by what Antrea can select on.

    Attributes:
        pod: Requirements on the pod's labels (empty = any pod).
        namespace: Requirements on the namespace's labels; None = any namespace.
        service_accounts: The pod's service account must be one of these names; None = any.
    """

    pod: LabelSelector
    namespace: LabelSelector | None
    service_accounts: frozenset[str] | None

    def matches(self, pod_labels: Mapping[str, str], namespace_labels: Mapping[str, str], service_account: str) -> bool:
        """Whether a pod with these labels, namespace labels and SA name is selected (Antrea semantics)."""
        return (
            self.pod.matches(pod_labels)
            and (self.namespace is None or self.namespace.matches(namespace_labels))
            and (self.service_accounts is None or service_account in self.service_accounts)
        )


@dataclass(frozen=True, slots=True)
class Translation:
    """The translation of one selector: an OR of terms, or the reasons it cannot be exact.

    Attributes:
        terms: OR of terms; ``()`` selects no pod.
        problems: Non-empty = unsupported; each a precise reason naming the atom.
    """

    terms: tuple[Term, ...]
    problems: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------------
# Per-key constraints


_Pred = tuple[str, str, bool]  # (operator word, operand, positive)


@dataclass(frozen=True, slots=True)
class _Constraint:
    """What a conjunct requires of one key: absent allowed?, and the allowed values.

    ``finite`` set: the value must be one of them. ``finite`` None: any value except ``excluded`` that
    passes every substring test in ``preds``.
    """

    absent_ok: bool
    finite: frozenset[str] | None
    excluded: frozenset[str] = frozenset()
    preds: tuple[_Pred, ...] = ()

    @property
    def is_false(self) -> bool:
        return not self.absent_ok and self.finite is not None and not self.finite

    @property
    def is_true(self) -> bool:
        return self.absent_ok and self.finite is None and not self.excluded and not self.preds

    def allows(self, value: str | None) -> bool:
        if value is None:
            return self.absent_ok
        if self.finite is not None:
            return value in self.finite
        return value not in self.excluded and all(_pred_holds(p, value) for p in self.preds)

    def meet(self, other: _Constraint) -> _Constraint:
        absent_ok = self.absent_ok and other.absent_ok
        if self.finite is not None and other.finite is not None:
            return _Constraint(absent_ok, self.finite & other.finite)
        if self.finite is not None or other.finite is not None:
            fin, co = (self, other) if self.finite is not None else (other, self)
            assert fin.finite is not None
            return _Constraint(absent_ok, frozenset(v for v in fin.finite if co.allows(v)))
        return _Constraint(absent_ok, None, self.excluded | other.excluded, _merge_preds(self.preds, other.preds))

    def only_values(self, keep: Callable[[str], bool]) -> _Constraint:
        """Drop the values no object can carry: they can neither be required nor need excluding."""
        if self.finite is not None:
            return _Constraint(self.absent_ok, frozenset(v for v in self.finite if keep(v)))
        return _Constraint(self.absent_ok, None, frozenset(v for v in self.excluded if keep(v)), self.preds)


def _merge_preds(a: tuple[_Pred, ...], b: tuple[_Pred, ...]) -> tuple[_Pred, ...]:
    return a + tuple(p for p in b if p not in a)


def _pred_holds(pred: _Pred, value: str) -> bool:
    word, operand, positive = pred
    if word == "contains":
        hit = operand in value
    elif word == "starts with":
        hit = value.startswith(operand)
    else:
        hit = value.endswith(operand)
    return hit == positive


def _literal(node: Selector, negated: bool) -> tuple[str, _Constraint]:
    """The (key, constraint) of an atom, or of its negation."""
    if isinstance(node, Eq):
        return node.key, (_Constraint(True, None, frozenset({node.value})) if negated
                          else _Constraint(False, frozenset({node.value})))
    if isinstance(node, Ne):
        return _literal(Eq(node.key, node.value), not negated)
    if isinstance(node, In):
        return node.key, (_Constraint(True, None, node.values) if negated else _Constraint(False, node.values))
    if isinstance(node, NotIn):
        return _literal(In(node.key, node.values), not negated)
    if isinstance(node, Has):
        return node.key, (_Constraint(True, frozenset()) if negated else _Constraint(False, None))
    assert isinstance(node, (Contains, StartsWith, EndsWith))
    word = {Contains: "contains", StartsWith: "starts with", EndsWith: "ends with"}[type(node)]
    if node.value == "":  # every string contains/starts/ends with "": the test is has(key)
        return _literal(Has(node.key), negated)
    if negated:
        return node.key, _Constraint(True, None, preds=((word, node.value, False),))
    return node.key, _Constraint(False, None, preds=((word, node.value, True),))


# ---------------------------------------------------------------------------------------------------
# NNF + DNF with per-key simplification

_Conjunct = tuple[tuple[str, _Constraint], ...]  # sorted by key; () = true
_Dnf = tuple[_Conjunct, ...]  # () = false


class _TooComplex(Exception):
    pass


def _dnf(node: Selector, negated: bool, cap: int) -> _Dnf:
    if isinstance(node, (All, Global)):
        return () if negated else ((),)
    if isinstance(node, Not):
        return _dnf(node.operand, not negated, cap)
    if isinstance(node, (And, Or)):
        conjunctive = isinstance(node, And) != negated
        parts = [_dnf(op, negated, cap) for op in node.operands]
        return _product(parts, cap) if conjunctive else _union(parts, cap)
    key, constraint = _literal(node, negated)
    if constraint.is_false:
        return ()
    if constraint.is_true:
        return ((),)
    return (((key, constraint),),)


def _union(parts: list[_Dnf], cap: int) -> _Dnf:
    seen: dict[_Conjunct, None] = {}
    for part in parts:
        for conj in part:
            if not conj:
                return ((),)
            seen.setdefault(conj, None)
    if len(seen) > cap:
        raise _TooComplex
    return tuple(seen)


def _product(parts: list[_Dnf], cap: int) -> _Dnf:
    acc: _Dnf = ((),)
    for part in sorted(parts, key=len):
        out: dict[_Conjunct, None] = {}
        for left in acc:
            for right in part:
                merged = _meet(left, right)
                if merged is not None:
                    out.setdefault(merged, None)
        if len(out) > cap:
            raise _TooComplex
        acc = tuple(out)
        if not acc:
            return ()
    return acc


def _meet(left: _Conjunct, right: _Conjunct) -> _Conjunct | None:
    if not left:
        return right
    if not right:
        return left
    merged = dict(left)
    for key, constraint in right:
        if key in merged:
            constraint = merged[key].meet(constraint)
            if constraint.is_false:
                return None
            if constraint.is_true:
                del merged[key]
                continue
        merged[key] = constraint
    return tuple(sorted(merged.items()))


# ---------------------------------------------------------------------------------------------------
# Mapping one conjunct onto a pod


@dataclass(slots=True)
class _PodView:
    """One conjunct split by target; ``false`` when no pod can satisfy it."""

    pod: dict[str, _Constraint]
    namespace: dict[str, _Constraint]
    service_account: _Constraint | None
    problems: list[str]
    false: bool = False

    def add(self, target: dict[str, _Constraint], key: str, constraint: _Constraint) -> None:
        if key in target:
            constraint = target[key].meet(constraint)
        if constraint.is_false:
            self.false = True
        target[key] = constraint


def _pod_view(conj: _Conjunct) -> _PodView:
    view = _PodView({}, {}, None, [])
    for key, c in conj:
        if key in _NS_NAME_KEYS:
            # Always present on a pod's endpoint (and the namespace always has metadata.name).
            view.add(view.namespace, METADATA_NAME, _present(c).only_values(_is_namespace_name))
        elif key.startswith(NAMESPACE_PREFIX):
            ns_key = key[len(NAMESPACE_PREFIX):]
            if is_valid_label_key(ns_key):
                view.add(view.namespace, ns_key, c.only_values(is_valid_label_value))
            elif not c.allows(None):
                view.false = True
        elif key == ORCHESTRATOR_KEY:
            if not c.allows(_POD_ORCHESTRATOR):
                view.false = True
        elif key in _SA_NAME_KEYS:
            sa = _present(c).only_values(_is_service_account_name)
            view.service_account = sa if view.service_account is None else view.service_account.meet(sa)
            if view.service_account.is_false:
                view.false = True
        elif key.startswith(SERVICE_ACCOUNT_PREFIX):
            if not is_valid_label_key(key[len(SERVICE_ACCOUNT_PREFIX):]):
                if not c.allows(None):
                    view.false = True
            else:
                view.problems.append(
                    f"{_describe(key, c)}: Antrea cannot select pods by the labels of their ServiceAccount"
                )
        elif is_valid_label_key(key):
            view.add(view.pod, key, c.only_values(is_valid_label_value))
        elif not c.allows(None):
            view.false = True
    return view


def _present(c: _Constraint) -> _Constraint:
    """The constraint on a key every pod carries: absence is impossible, so only values matter."""
    return _Constraint(False, c.finite, c.excluded, c.preds)


def _requirements(
    key: str, c: _Constraint, problems: list[str], *, always_present: bool, shown_as: str
) -> list[Requirement]:
    if c.preds:
        problems.append(f"{_describe(shown_as, c)}: Kubernetes label selectors have no substring operator")
        return []
    if c.finite is not None:
        if c.absent_ok and not always_present:
            assert not c.finite, "absent-or-in-set cannot come out of a conjunction of Calico atoms"
            return [Requirement(key, Operator.DOES_NOT_EXIST)]
        return [Requirement(key, Operator.IN, tuple(sorted(c.finite)))]
    out: list[Requirement] = []
    if not c.absent_ok and not always_present:
        out.append(Requirement(key, Operator.EXISTS))
    if c.excluded:
        out.append(Requirement(key, Operator.NOT_IN, tuple(sorted(c.excluded))))
    return out


def _label_selector(constraints: dict[str, _Constraint], problems: list[str], *, namespace: bool) -> LabelSelector:
    match_labels: dict[str, str] = {}
    expressions: list[Requirement] = []
    for key in sorted(constraints):
        is_name = namespace and key == METADATA_NAME
        shown_as = NAMESPACE_KEY if is_name else (NAMESPACE_PREFIX + key if namespace else key)
        for req in _requirements(key, constraints[key], problems, always_present=is_name, shown_as=shown_as):
            if req.operator is Operator.IN and len(req.values) == 1 and key not in match_labels:
                match_labels[key] = req.values[0]
            else:
                expressions.append(req)
    return LabelSelector(LabelMap(match_labels), tuple(expressions))


def _describe(key: str, c: _Constraint) -> str:
    atoms: list[str] = []
    for word, operand, positive in c.preds:
        atom = f"{key} {word} {_quote(operand)}"
        atoms.append(atom if positive else f"!({atom})")
    if c.finite is not None and len(c.finite) == 1:
        atoms.append(f"{key} == {_quote(next(iter(c.finite)))}")
    elif c.finite is not None:
        atoms.append(f"{key} in {{{', '.join(_quote(v) for v in sorted(c.finite))}}}")
    elif len(c.excluded) == 1:
        atoms.append(f"{key} != {_quote(next(iter(c.excluded)))}")
    elif c.excluded:
        atoms.append(f"{key} not in {{{', '.join(_quote(v) for v in sorted(c.excluded))}}}")
    elif not c.absent_ok and not any(positive for _, _, positive in c.preds):
        atoms.append(f"has({key})")
    elif not atoms:
        atoms.append(f"!has({key})")
    return "`" + " && ".join(atoms) + "`"


def _quote(value: str) -> str:
    return f'"{value}"' if "'" in value else f"'{value}'"


def _term(view: _PodView, problems: list[str]) -> Term:
    pod = _label_selector(view.pod, problems, namespace=False)
    namespace = _label_selector(view.namespace, problems, namespace=True) if view.namespace else None
    if namespace is not None and namespace.is_empty:
        namespace = None
    sa_names: frozenset[str] | None = None
    sa = view.service_account
    if sa is not None:
        if sa.finite is not None:
            sa_names = sa.finite
        elif sa.excluded or sa.preds:
            problems.append(f"{_describe(SERVICE_ACCOUNT_KEY, sa)}: Antrea selects ServiceAccounts only by name")
    return Term(pod, namespace, sa_names)


# ---------------------------------------------------------------------------------------------------
# Public API


@functools.lru_cache(maxsize=16384)
def translate(sel: Selector, *, max_terms: int = 64) -> Translation:
    """Translate a Calico selector (already rewritten for its context) into pod-selecting terms.

    Args:
        sel: The selector, after ``calico.selector.rewrite`` (namespace conjuncts, prefixes, ``all()``).
        max_terms: Cap on DNF conjuncts; beyond it the selector is reported as too complex.

    Returns:
        The terms (an OR; ``()`` selects no pod) and, when the translation cannot be exact, the
        problems. A pod satisfies ``sel`` (on its Calico endpoint labels) iff some term matches it,
        whenever ``problems`` is empty. Cached by value.
    """
    try:
        dnf = _dnf(sel, False, max_terms)
    except _TooComplex:
        return Translation((), (f"selector too complex: more than {max_terms} alternatives once expanded "
                                f"to OR-of-AND form: {sel.render()}",))
    terms: dict[Term, None] = {}
    problems: list[str] = []
    for conj in dnf:
        view = _pod_view(conj)
        if view.false:
            continue
        term_problems = list(view.problems)
        term = _term(view, term_problems)
        if not term_problems and term.pod.is_empty and term.namespace is None and term.service_accounts is None:
            # Selects every pod: the other alternatives (and their problems) no longer matter.
            return Translation((term,), ())
        problems.extend(term_problems)
        terms.setdefault(term, None)
    return Translation(tuple(terms), tuple(dict.fromkeys(problems)))


@functools.lru_cache(maxsize=16384)
def intersects(a: Selector, b: Selector) -> bool:
    """Whether some pod may match both selectors.

    Returns False only when the two are provably disjoint for pods: every pair of conjuncts contradicts
    on some key (after the same pod mapping as :func:`translate`). Too-complex inputs and atoms that
    cannot be reasoned about (substring tests on open value sets, ServiceAccount labels) count as
    possibly overlapping.
    """
    try:
        dnf = _dnf(And((a, b)), False, 256)
    except _TooComplex:
        return True
    return any(not _pod_view(conj).false for conj in dnf)
