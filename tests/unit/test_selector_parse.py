"""The Calico selector parser accepts exactly what Calico accepts and evaluates as Calico does.

Tables in the style of libcalico-go ``lib/selector/parser/parser_test.go`` (v3.32.1): the match table
and the bad-selector list are Calico's own cases; the rest pins tokenizer details (whitespace, word
boundaries, ``has (x)``, label length, quotes, sets) read from ``tokenizer.go``/``parser.go``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
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
)
from kubectl_antrea_migrate.calico.selector.parse import parse_selector
from kubectl_antrea_migrate.errors import EXIT_INPUT, Location, SelectorSyntaxError

# (selector, label maps that match, label maps that don't): parser_test.go selectorTests.
MATCHES: list[tuple[str, list[dict[str, str]], list[dict[str, str]]]] = [
    ('a == "b"', [{"a": "b"}, {"a": "b", "c": "d"}], [{}, {"a": "c"}, {"c": "d"}]),
    ('a == "b" && c == "d"', [{"a": "b", "c": "d"}], [{}, {"a": "b", "c": "e"}, {"a": "c", "c": "d"}, {"c": "d"}]),
    ('a == "b" || c == "d"', [{"a": "b", "c": "d"}, {"a": "b"}, {"c": "d"}], [{}, {"a": "e", "c": "e"}, {"c": "e"}]),
    ("a in {\"'\", '\"', \"c\"}", [{"a": "c"}, {"a": '"'}, {"a": "'"}], [{}, {"a": "e"}]),
    ("a not in {\"'\", '\"', \"c\"}", [{}, {"a": "e"}], [{"a": "c"}, {"a": '"'}, {"a": "'"}]),
    ("a == 'a'", [{"a": "a"}], [{"a": "b"}, {}]),
    ('a != "b"', [{"a": "a"}], []),
    ('a != "a"', [{}], [{"a": "a"}]),
    ('a contains "a"', [{"a": "a"}, {"a": "bab"}, {"a": "aaa", "b": "c"}], [{}, {"a": "b"}, {"b": "aaa"}]),
    ('a starts with "a"', [{"a": "a"}, {"a": "abb"}], [{}, {"a": "b"}, {"a": "baa"}, {"b": "aaa"}]),
    ('a ends with "a"', [{"a": "a"}, {"a": "bba"}], [{}, {"a": "b"}, {"a": "aab"}, {"b": "aaa"}]),
    ('a in {"a"}', [{"a": "a"}], [{"a": "b"}]),
    ('!a in {"a"}', [{"a": "b"}], []),
    ('a in {"a", "b"}', [{"a": "a"}, {"a": "b"}], [{"a": "c"}]),
    ('a not in {"d", "e"}', [{"a": "a"}], []),
    ('a not in {"a"}', [], [{"a": "a"}]),
    ("has(a)", [{"a": "b"}], []),
    ("has(b)", [], [{"a": "b"}]),
    ("!has(a)", [{"b": "b"}], [{"a": "b"}]),
    ("!!has(b)", [], [{"a": "b"}]),
    ("! has(a)", [], [{"a": "b"}]),
    ("!!! has(a)", [], [{"a": "b"}]),
    ("!! ! has(a)", [], [{"a": "b"}]),
    ("! !!has(a)", [], [{"a": "b"}]),
    ("", [{}, {"a": "b"}], []),
    (" ", [{}], []),
    ("all()", [{}], []),
    (" all()", [{"a": "b"}], []),
    ("global()", [{}], []),
    (" global()", [{"a": "b"}], []),
    ("a == 'a1' && b == 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a == 'a1' && b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("a != 'a1' && !b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("!a == 'a1' && b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("has(a) && !has(b)", [{"a": "a"}], []),
    ("!(!has(a) || has(b))", [{"a": "a"}], []),
    ("!(has(b) || !has(a))", [{"a": "a"}], []),
    ("a == 'a1' || b != 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a != 'a1' || b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("! a == 'a1' || ! b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    # Tokenizer details (tokenizer.go).
    ("a in {}", [], [{}, {"a": ""}]),
    ("a not in {}", [{}, {"a": "x"}], []),
    ("a in {'x',}", [{"a": "x"}], [{}]),
    ("a in{'x'}", [{"a": "x"}], []),
    ("a notin {'x'}", [{}], [{"a": "x"}]),
    ("a not \t in {'x'}", [{}], [{"a": "x"}]),
    ("a startswith 'x'", [{"a": "xy"}], [{"a": "yx"}]),
    ("a endswith 'x'", [{"a": "yx"}], [{"a": "xy"}]),
    ("a contains'x'", [{"a": "yxy"}], [{"a": "y"}]),
    ("has( a\t)", [{"a": ""}], [{}]),
    ("all(\t)", [{}], []),
    ("\ta=='b'&&c!=\"d\"", [{"a": "b"}], [{"a": "b", "c": "d"}]),
    ("a == 'x\ny'", [{"a": "x\ny"}], [{"a": "x"}]),  # a newline inside a string is just a character
    (
        "in == 'x' && has == 'y' && not == 'z' && contains == 'w'",
        [{"in": "x", "has": "y", "not": "z", "contains": "w"}],
        [],
    ),
    ("a.b/c-D_9 == ''", [{"a.b/c-D_9": ""}], [{}]),
    ("(a == 'x')", [{"a": "x"}], [{}]),
    ("!(a == 'x' && (b == 'y' || !has(c)))", [{"a": "x", "b": "n", "c": ""}], [{"a": "x"}]),
    ("x" * 512 + " == 'v'", [{"x" * 512: "v"}], []),
]


@pytest.mark.parametrize(("text", "matching", "not_matching"), MATCHES, ids=[repr(m[0])[:60] for m in MATCHES])
def test_selector_matches_exactly_the_label_maps_calico_matches(
    text: str, matching: list[dict[str, str]], not_matching: list[dict[str, str]]
) -> None:
    sel = parse_selector(text)
    again = parse_selector(sel.render())  # canonical text means the same
    for labels in matching:
        assert sel.evaluate(labels) and again.evaluate(labels), labels
    for labels in not_matching:
        assert not sel.evaluate(labels) and not again.evaluate(labels), labels


# (text Calico rejects, 1-based column we report, words the message must contain)
REJECTED: list[tuple[str, int, str]] = [
    # parser_test.go badSelectors
    ("b == b", 6, "expected a quoted string"),
    ("b contains b", 12, "expected a quoted string"),
    ("b starts with b", 15, "expected a quoted string"),
    ("b ends with b", 13, "expected a quoted string"),
    ("'b1' == b", 1, "expected an expression"),
    ("b", 2, "label 'b' has no operator"),
    ("a b", 3, "label 'a' has no operator"),
    ("!", 2, "unexpected end of selector"),
    ('foo == "bar" &', 14, "expected '&&'"),
    ('foo == "bar" |', 14, "expected '||'"),
    ("foo != ||", 8, "expected a quoted string"),
    ('foo in {"", ||', 13, "expected a quoted string or '}'"),
    ('foo in ""', 8, "expected a set literal"),
    ('"FOO', 1, "unterminated string"),
    ("\"FOO'", 1, "unterminated string"),
    ("'FOO", 1, "unterminated string"),
    ("(", 2, "unexpected end of selector"),
    ('(a == "foo"', 12, "expected ')'"),
    (")", 1, "expected an expression"),
    ("()", 2, "expected an expression"),
    ("%", 1, "unexpected character '%'"),
    ('a == "b" && %', 13, "unexpected character '%'"),
    ('a == "b" || %', 13, "unexpected character '%'"),
    ("a ", 3, "label 'a' has no operator"),
    ("has(foo) &&", 12, "unexpected end of selector"),
    # tokenizer.go details
    ("has (a)", 4, "no space allowed between 'has' and '('"),
    ("all ()", 4, "no space allowed between 'all' and '('"),
    ("global\t()", 7, "no space allowed between 'global' and '('"),
    ("has()", 5, "expected a label and ')'"),
    ("has(a b)", 7, "expected ')'"),
    ("a inx {}", 3, "label 'a' has no operator"),
    ("a containsx 'y'", 3, "label 'a' has no operator"),
    ("a starts withx 'y'", 3, "label 'a' has no operator"),
    ("a not inx {}", 3, "label 'a' has no operator"),
    ("a = 'x'", 3, "expected '=='"),
    ("a in {,}", 7, "expected a quoted string or '}'"),
    ("a in {'x',,}", 11, "expected a quoted string or '}'"),
    ("a in {'x' 'y'}", 11, "expected ',' or '}'"),
    ("a == 'x'\n", 9, "on one line"),
    ("a ==\n'x'", 5, "on one line"),
    ("\n", 1, "on one line"),
    ("a == 'x' b == 'y'", 10, "after a complete expression"),
    ("a == 'x')", 9, "unexpected ')'"),
    ("(a == 'x' b", 11, "expected ')', found 'b'"),
    ("(has(a) && (b == 'x')) c", 24, "after a complete expression (expected '&&' or '||')"),
    ("a == 'x' && has(a) has(b)", 20, "after a complete expression"),
    ("x" * 513 + " == 'v'", 1, "label too long"),
    ("has(" + "x" * 513 + ")", 5, "label too long"),
    ("é == 'x'", 1, "unexpected character 'é'"),
    ("a == 'x' && ||", 13, "expected an expression"),
    ("a in {'x'", 10, "expected ',' or '}'"),
]


@pytest.mark.parametrize(("text", "column", "words"), REJECTED, ids=[repr(r[0])[:40] for r in REJECTED])
def test_selector_calico_rejects_is_rejected_at_the_column(text: str, column: int, words: str) -> None:
    with pytest.raises(SelectorSyntaxError) as info:
        parse_selector(text)
    assert info.value.column == column
    assert info.value.text == text
    assert words in info.value.message


def test_syntax_error_is_an_input_error_with_caret_and_location() -> None:
    with pytest.raises(SelectorSyntaxError) as info:
        parse_selector("app == 'db' && (role == 'x'")
    err = info.value
    assert err.exit_code == EXIT_INPUT
    located = err.with_location(Location("prod.yaml", 3, "GlobalNetworkPolicy", "deny", "spec.selector"))
    assert str(located) == (
        "prod.yaml: document 3 (GlobalNetworkPolicy deny): spec.selector, column 28: expected ')', found end of"
        " selector\n  app == 'db' && (role == 'x'\n                             ^"
    )


PARSED: list[tuple[str, Selector]] = [
    ("", All()),
    ("\t ", All()),
    ("!!a == 'x'", Eq("a", "x")),
    ("!(!a == 'x')", Eq("a", "x")),
    ("!a == 'x'", Not(Eq("a", "x"))),  # precedence: the match binds tighter than '!'
    ("a == 'x' || b == 'y' && c == 'z'", Or((Eq("a", "x"), And((Eq("b", "y"), Eq("c", "z")))))),
    ("a == 'x' && (b == 'y' && c == 'z')", And((Eq("a", "x"), Eq("b", "y"), Eq("c", "z")))),
    ("(a == 'x' || b == 'y') || c == 'z'", Or((Eq("a", "x"), Eq("b", "y"), Eq("c", "z")))),
    ("a in {'z', 'x', 'z'}", In("a", frozenset({"x", "z"}))),
    ("a not in {}", NotIn("a", frozenset())),
    ("!global()", Not(Global())),
    (
        "k starts with '' && k ends with \"'\" && k contains 'a\"'",
        And((StartsWith("k", ""), EndsWith("k", "'"), Contains("k", 'a"'))),
    ),
    ("has(x) || !has(y)", Or((Has("x"), Not(Has("y"))))),
    ("a != 'x'", Ne("a", "x")),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[repr(p[0]) for p in PARSED])
def test_selector_parses_to_the_normalised_ast(text: str, expected: Selector) -> None:
    assert parse_selector(text) == expected
    assert parse_selector(expected.render()) == expected


def test_parse_is_cached_by_text() -> None:
    text = "app == 'cached' && tier in {'a', 'b'}"
    assert parse_selector(text) is parse_selector(text)


# --- round trip on generated ASTs ------------------------------------------------------------------

label_keys = st.sampled_from(["a", "b", "x.io/y", "in", "has", "not", "pcns.team", "projectcalico.org/namespace"])
label_values = st.one_of(
    st.sampled_from(["", "x", "all()", "a b", "it's", 'say "hi"']),
    st.text(st.characters(exclude_characters="'\"", exclude_categories=["Cs"]), max_size=5),
)
value_sets = st.frozensets(label_values, max_size=3)
atoms: st.SearchStrategy[Selector] = st.one_of(
    st.builds(Eq, label_keys, label_values),
    st.builds(Ne, label_keys, label_values),
    st.builds(In, label_keys, value_sets),
    st.builds(NotIn, label_keys, value_sets),
    st.builds(Has, label_keys),
    st.builds(Contains, label_keys, label_values),
    st.builds(StartsWith, label_keys, label_values),
    st.builds(EndsWith, label_keys, label_values),
    st.just(All()),
    st.just(Global()),
)
trees: st.SearchStrategy[Selector] = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(lambda ops: And(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda ops: Or(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
    ),
    max_leaves=10,
)
label_maps = st.dictionaries(label_keys, label_values, max_size=4)


@settings(max_examples=300, deadline=None)
@given(tree=trees, maps=st.lists(label_maps, min_size=1, max_size=8))
def test_rendered_selector_parses_back_to_the_same_meaning(tree: Selector, maps: list[dict[str, str]]) -> None:
    parsed = parse_selector(tree.render())
    assert parse_selector(parsed.render()) == parsed  # a parsed selector round-trips exactly
    for labels in maps:
        assert parsed.evaluate(labels) == tree.evaluate(labels)
