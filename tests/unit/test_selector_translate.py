"""Calico selector → Kubernetes label selector terms (policy-mapping §4.2).

The property tests are the contract: on a pod's Calico endpoint labels (§1.2), the Calico selector
matches iff some translated term matches the pod's labels, namespace labels and ServiceAccount name,
whenever the translation reports no problem.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    walk,
)
from kubectl_antrea_migrate.calico.selector.parse import parse_selector
from kubectl_antrea_migrate.convert.selectors import (
    METADATA_NAME,
    Term,
    intersects,
    is_valid_label_key,
    is_valid_label_value,
    translate,
)
from kubectl_antrea_migrate.kube.model import LabelMap, LabelSelector, Operator, Requirement

# --- a small universe, so that random selectors and random pods actually meet -----------------------

POD_KEYS = ["a", "b", "x.io/y", "projectcalico.org/namespace"]  # the last one is overridden by Calico
SELECTOR_KEYS = [
    "a",
    "b",
    "x.io/y",
    "a/b/c",  # not a valid Kubernetes key: no pod carries it
    "projectcalico.org/namespace",
    "projectcalico.org/orchestrator",
    "projectcalico.org/serviceaccount",
    "pcns.team",
    "pcns.projectcalico.org/name",
    "pcns.kubernetes.io/metadata.name",
    "pcns.a/b/c",
    "pcsa.projectcalico.org/name",
    "pcsa.role",
]
VALUES = ["", "x", "y", "xa", "k8s", "ns1", "ns2", "sa1", "default", "a b", "UP"]
POD_VALUES = ["", "x", "y", "xa", "ns1", "UP"]
NAMESPACES = ["ns1", "ns2", "x"]
SERVICE_ACCOUNTS = ["default", "sa1", "x"]


@dataclass(frozen=True)
class PodCase:
    labels: dict[str, str]
    namespace: str
    namespace_labels: dict[str, str]  # includes kubernetes.io/metadata.name
    service_account: str
    service_account_labels: dict[str, str]

    def endpoint_labels(self) -> dict[str, str]:
        """The labels Calico matches a pod's workload endpoint against (§1.2)."""
        labels = dict(self.labels)
        labels["projectcalico.org/namespace"] = self.namespace
        labels["projectcalico.org/orchestrator"] = "k8s"
        labels["projectcalico.org/serviceaccount"] = self.service_account
        for key, value in self.namespace_labels.items():
            labels.setdefault("pcns." + key, value)
        labels["pcns.projectcalico.org/name"] = self.namespace
        for key, value in self.service_account_labels.items():
            labels.setdefault("pcsa." + key, value)
        labels["pcsa.projectcalico.org/name"] = self.service_account
        return labels

    def matched_by(self, terms: tuple[Term, ...]) -> bool:
        return any(t.matches(self.labels, self.namespace_labels, self.service_account) for t in terms)


def pods(sel: Selector, seed: int, count: int = 40) -> list[PodCase]:
    """Random pods whose label values are mostly the values ``sel`` mentions (so they meet it).

    Plain ``random`` seeded by hypothesis: drawing dozens of pods through hypothesis itself is slow.
    """
    rng = random.Random(seed)
    mentioned = sorted({v for node in walk(sel) for v in _values(node)})
    pod_values = sorted(set(POD_VALUES) | {v for v in mentioned if is_valid_label_value(v)})
    names = sorted(set(NAMESPACES) | {v for v in mentioned if v in NAME_LIKE})

    def some_labels(keys: list[str]) -> dict[str, str]:
        return {k: rng.choice(pod_values) for k in keys if rng.random() < 0.6}

    out = []
    for _ in range(count):
        namespace = rng.choice(names)
        ns_labels = some_labels(["team", "a"]) | {METADATA_NAME: namespace}
        out.append(PodCase(some_labels(POD_KEYS), namespace, ns_labels, rng.choice(names), some_labels(["role"])))
    return out


NAME_LIKE = frozenset({"x", "y", "xa", "k8s", "ns1", "ns2", "sa1", "default"})  # valid DNS-1123 labels


def _values(node: Selector) -> frozenset[str]:
    if isinstance(node, (In, NotIn)):
        return node.values
    value = getattr(node, "value", None)
    return frozenset({value}) if isinstance(value, str) else frozenset()


def _selectors(keys: st.SearchStrategy[str], values: st.SearchStrategy[str]) -> st.SearchStrategy[Selector]:
    value_sets = st.frozensets(values, max_size=3)
    atoms: st.SearchStrategy[Selector] = st.one_of(
        st.builds(Eq, keys, values),
        st.builds(Ne, keys, values),
        st.builds(In, keys, value_sets),
        st.builds(NotIn, keys, value_sets),
        st.builds(Has, keys),
        st.builds(Contains, keys, values),
        st.builds(StartsWith, keys, values),
        st.builds(EndsWith, keys, values),
        st.just(All()),
        st.just(Global()),
    )
    # Conjunctions of atoms (and ORs of them) straight away: hypothesis keeps recursive trees small,
    # and same-key merging inside one conjunct is where the subtle cases are.
    clauses = st.builds(lambda ops: And(tuple(ops)), st.lists(atoms, min_size=2, max_size=4))
    flat = st.one_of(clauses, st.builds(lambda ops: Or(tuple(ops)), st.lists(clauses, min_size=2, max_size=3)))
    return flat | st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.builds(Not, inner),
            st.builds(lambda ops: And(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
            st.builds(lambda ops: Or(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
        ),
        max_leaves=8,
    )


# Two alphabets: a wide one that covers every special key and invalid keys/values, and a dense one
# where conjuncts often constrain the same key several times (merging is where the subtle bugs are).
DENSE_KEYS = ["a", "projectcalico.org/namespace", "pcns.projectcalico.org/name", "projectcalico.org/serviceaccount",
              "pcsa.projectcalico.org/name", "pcns.team", "projectcalico.org/orchestrator"]
selectors: st.SearchStrategy[Selector] = st.one_of(
    _selectors(st.sampled_from(SELECTOR_KEYS), st.sampled_from(VALUES)),
    _selectors(st.sampled_from(DENSE_KEYS), st.sampled_from(["x", "y", "", "xa", "k8s"])),
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sel=selectors, seed=st.integers(0, 2**32))
def test_terms_match_exactly_the_pods_the_calico_selector_matches(sel: Selector, seed: int) -> None:
    result = translate(sel)
    if result.problems:
        return
    for pod in pods(sel, seed):
        assert sel.evaluate(pod.endpoint_labels()) == pod.matched_by(result.terms), (sel.render(), pod, result)


@settings(max_examples=400, deadline=None)
@given(a=selectors, b=selectors, seed=st.integers(0, 2**32))
def test_intersects_is_never_false_for_selectors_sharing_a_pod(a: Selector, b: Selector, seed: int) -> None:
    cases = pods(And((a, b)), seed)
    if any(a.evaluate(p.endpoint_labels()) and b.evaluate(p.endpoint_labels()) for p in cases):
        assert intersects(a, b)


@settings(max_examples=200, deadline=None)
@given(sel=selectors)
def test_translation_is_deterministic_and_sorted(sel: Selector) -> None:
    first = translate.__wrapped__(sel)  # bypass the cache: two independent computations
    assert first == translate.__wrapped__(sel)
    for term in first.terms:
        for selector in (term.pod, term.namespace):
            if selector is None:
                continue
            keys_in_order = [(r.key, r.operator.value) for r in selector.match_expressions]
            assert keys_in_order == sorted(keys_in_order)
            assert all(list(r.values) == sorted(r.values) for r in selector.match_expressions)


# --- the §4.2 tables, one row each -------------------------------------------------------------------


def _sel(match_labels: dict[str, str] | None = None, *reqs: Requirement) -> LabelSelector:
    return LabelSelector(LabelMap(match_labels or {}), tuple(reqs))


ANY = _sel()

TABLE = [
    ("app == 'db'", [Term(_sel({"app": "db"}), None, None)]),
    ("app != 'db'", [Term(_sel({}, Requirement("app", Operator.NOT_IN, ("db",))), None, None)]),
    ("app in {'b', 'a'}", [Term(_sel({}, Requirement("app", Operator.IN, ("a", "b"))), None, None)]),
    ("app in {}", []),
    ("app not in {}", [Term(ANY, None, None)]),
    ("has(app)", [Term(_sel({}, Requirement("app", Operator.EXISTS)), None, None)]),
    ("!has(app)", [Term(_sel({}, Requirement("app", Operator.DOES_NOT_EXIST)), None, None)]),
    ("all()", [Term(ANY, None, None)]),
    ("!all()", []),
    ("a == 'x' && a == 'y'", []),
    ("has(a) && !has(a)", []),
    ("app == 'has space'", []),  # no pod can carry an invalid label value
    ("app != 'has space'", [Term(ANY, None, None)]),
    ("a/b/c == 'x'", []),  # nor an invalid key
    ("!has(a/b/c)", [Term(ANY, None, None)]),
    (
        "projectcalico.org/namespace == 'prod'",
        [Term(ANY, _sel({METADATA_NAME: "prod"}), None)],
    ),
    ("has(projectcalico.org/namespace)", [Term(ANY, None, None)]),
    ("!has(projectcalico.org/namespace)", []),
    (
        "pcns.projectcalico.org/name in {'a', 'b'}",
        [Term(ANY, _sel({}, Requirement(METADATA_NAME, Operator.IN, ("a", "b"))), None)],
    ),
    ("pcns.team != 'x'", [Term(ANY, _sel({}, Requirement("team", Operator.NOT_IN, ("x",))), None)]),
    ("projectcalico.org/orchestrator == 'k8s'", [Term(ANY, None, None)]),
    ("projectcalico.org/orchestrator == 'kubernetes'", []),
    ("projectcalico.org/orchestrator != 'kubernetes'", [Term(ANY, None, None)]),
    ("projectcalico.org/serviceaccount in {'api', 'web'}", [Term(ANY, None, frozenset({"api", "web"}))]),
    ("pcsa.projectcalico.org/name == 'api'", [Term(ANY, None, frozenset({"api"}))]),
    (
        "role == 'db' || !(role in {'db', 'x'} || has(tier))",
        [
            Term(_sel({"role": "db"}), None, None),
            Term(
                _sel(
                    {}, Requirement("role", Operator.NOT_IN, ("db", "x")), Requirement("tier", Operator.DOES_NOT_EXIST)
                ),
                None,
                None,
            ),
        ],
    ),
    ("a in {'xa', 'b'} && a contains 'x'", [Term(_sel({"a": "xa"}), None, None)]),  # evaluated away
    ("a starts with ''", [Term(_sel({}, Requirement("a", Operator.EXISTS)), None, None)]),
]


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[t for t, _ in TABLE])
def test_translation_table(text: str, expected: list[Term]) -> None:
    result = translate(parse_selector(text))
    assert result.problems == ()
    assert list(result.terms) == expected


REFUSED = [
    ("a contains 'x'", "`a contains 'x'`"),
    ("!(a starts with 'x')", "`!(a starts with 'x')`"),
    ("b == 'c' && a ends with 'x'", "`a ends with 'x'`"),
    ("pcsa.role == 'db'", "`pcsa.role == 'db'`"),
    ("projectcalico.org/serviceaccount != 'api'", "`projectcalico.org/serviceaccount != 'api'`"),
    ("projectcalico.org/namespace starts with 'prod'", "`projectcalico.org/namespace starts with 'prod'`"),
]


@pytest.mark.parametrize(("text", "atom"), REFUSED, ids=[t for t, _ in REFUSED])
def test_unsupported_atoms_are_refused_by_name(text: str, atom: str) -> None:
    result = translate(parse_selector(text))
    assert len(result.problems) == 1
    assert result.problems[0].startswith(atom)


def test_contradicted_conjunct_raises_no_problem() -> None:
    assert translate(parse_selector("a contains 'x' && !has(a)")) == translate(parse_selector("!all()"))


def test_too_complex_selector_is_refused_not_expanded() -> None:
    text = " && ".join(f"(k{i} == 'a' || k{i} == 'b')" for i in range(12))  # 4096 conjuncts
    result = translate(parse_selector(text), max_terms=64)
    assert result.terms == ()
    assert result.problems and result.problems[0].startswith("selector too complex")


def test_intersects_proves_disjointness_per_key() -> None:
    assert not intersects(parse_selector("a == 'x'"), parse_selector("a == 'y' || !has(a)"))
    assert not intersects(
        parse_selector("projectcalico.org/namespace == 'n1'"), parse_selector("pcns.projectcalico.org/name == 'n2'")
    )
    assert intersects(parse_selector("a == 'x'"), parse_selector("b == 'y'"))
    assert intersects(parse_selector("a contains 'x'"), parse_selector("a contains 'y'"))


@pytest.mark.parametrize(
    ("key", "valid"),
    [("app", True), ("example.com/app", True), ("a/b/c", False), ("/app", False), ("-app", False),
     ("x" * 63, True), ("x" * 64, False), ("Example.com/app", False), ("pcns.projectcalico.org/name", True)],
)
def test_label_key_validation_follows_apimachinery(key: str, valid: bool) -> None:
    assert is_valid_label_key(key) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [("", True), ("a", True), ("a.b-c_d", True), ("a b", False), ("a/b", False), ("-a", False), ("a\n", False),
     ("x" * 63, True), ("x" * 64, False)],
)
def test_label_value_validation_follows_apimachinery(value: str, valid: bool) -> None:
    assert is_valid_label_value(value) is valid
