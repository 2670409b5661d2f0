"""Parse Calico selector text into the AST of ``ast.py``, accepting exactly what Calico accepts.

Design. The grammar (``grammar.lark``) transcribes libcalico-go's hand-written tokenizer and
recursive-descent parser (``lib/selector/tokenizer/tokenizer.go``, ``parser/parser.go``, v3.32.1).
Lark's LALR parser with the contextual lexer reproduces the tokenizer's context sensitivity: operator
words are only recognised right after a label, and ``has(``/``all(``/``global(`` only where an
expression starts. The AST is built by a Transformer running inline with the parser (no parse tree is
materialised), and results are cached by text, since policies repeat the same selectors.

What the parser normalises (all semantically neutral, and needed so that
``parse_selector(sel.render()) == sel`` holds for every parsed selector):

* runs of ``!`` collapse by parity, as Calico does for a prefix run; ``!(!x)`` also collapses;
* parentheses leave no node, and ``a && (b && c)`` flattens to one ``And`` (same for ``||``);
* ``in``/``not in`` value lists become frozensets (Calico sorts and de-duplicates them too).

Errors are :class:`SelectorSyntaxError` with a 1-based character column and a message naming the
mistake (``expected ')'``, ``unterminated string``, ``label 'a' has no operator``); the loader adds
the ``Location`` with ``with_location``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, cast

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from kubectl_antrea_migrate.calico.selector.ast import (
    ALL,
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
from kubectl_antrea_migrate.errors import SelectorSyntaxError

__all__ = ["MAX_LABEL_LENGTH", "parse_selector"]

# tokenizer.go MaxLabelLength: longer labels are rejected ("label too long").
MAX_LABEL_LENGTH = 512

_OPERATOR_TERMINALS = frozenset({"_EQ", "_NE", "CONTAINS", "STARTS_WITH", "ENDS_WITH", "IN", "NOT_IN"})
_PRIMARY_TERMINALS = frozenset({"LABEL", "HAS", "ALL", "GLOBAL", "LPAR", "BANG"})
_QUOTES = "'\""


class _LabelTooLong(Exception):
    """Raised inside the transformer; turned into a SelectorSyntaxError with the label's column."""

    def __init__(self, token: Token) -> None:
        super().__init__(token)
        self.token = token


def _label(token: Token) -> str:
    if len(token) > MAX_LABEL_LENGTH:
        raise _LabelTooLong(token)
    return str(token)


def _string(token: Token) -> str:
    return str(token)[1:-1]


def _flatten(cls: type[And] | type[Or], children: list[Selector]) -> Selector:
    if len(children) == 1:
        return children[0]
    operands: list[Selector] = []
    for child in children:
        if isinstance(child, cls):
            operands.extend(child.operands)
        else:
            operands.append(child)
    return cls(tuple(operands))


class _ToAst(Transformer[Token, Selector]):
    """One method per aliased grammar alternative; runs inline with the LALR parser."""

    def or_(self, children: list[Selector]) -> Selector:
        return _flatten(Or, children)

    def and_(self, children: list[Selector]) -> Selector:
        return _flatten(And, children)

    def not_(self, children: list[Selector]) -> Selector:
        (operand,) = children
        return operand.operand if isinstance(operand, Not) else Not(operand)

    def all_(self, _: list[Token]) -> Selector:
        return ALL

    def global_(self, _: list[Token]) -> Selector:
        return Global()

    def has(self, children: list[Token]) -> Selector:
        return Has(_label(children[1]))

    def eq(self, children: list[Token]) -> Selector:
        return Eq(_label(children[0]), _string(children[1]))

    def ne(self, children: list[Token]) -> Selector:
        return Ne(_label(children[0]), _string(children[1]))

    def contains(self, children: list[Token]) -> Selector:
        return Contains(_label(children[0]), _string(children[2]))

    def starts_with(self, children: list[Token]) -> Selector:
        return StartsWith(_label(children[0]), _string(children[2]))

    def ends_with(self, children: list[Token]) -> Selector:
        return EndsWith(_label(children[0]), _string(children[2]))

    def in_(self, children: list[Any]) -> Selector:
        return In(_label(children[0]), children[2])

    def not_in(self, children: list[Any]) -> Selector:
        return NotIn(_label(children[0]), children[2])

    def set(self, children: list[Token | None]) -> frozenset[str]:
        return frozenset(_string(c) for c in children if c is not None)


_PARSER = Lark(
    (Path(__file__).with_name("grammar.lark")).read_text(encoding="utf-8"),
    parser="lalr",
    lexer="contextual",
    transformer=_ToAst(),
    maybe_placeholders=True,
)


@functools.lru_cache(maxsize=16384)
def parse_selector(text: str) -> Selector:
    """Parse one Calico selector.

    Args:
        text: The selector as written in the policy. Empty or blank (spaces/tabs) text means
            ``all()``, as in Calico.

    Returns:
        The selector AST (normalised; see the module docstring). Results are cached by text.

    Raises:
        SelectorSyntaxError: For exactly the texts Calico rejects, with a 1-based column.
    """
    if not text.strip(" \t"):
        return ALL
    try:
        result = cast(Selector, _PARSER.parse(text))
    except _LabelTooLong as exc:
        raise SelectorSyntaxError(
            f"label too long ({len(exc.token)} characters, at most {MAX_LABEL_LENGTH})",
            text,
            (exc.token.start_pos or 0) + 1,
        ) from None
    except UnexpectedInput as exc:
        message, column = _describe(exc, text)
        raise SelectorSyntaxError(message, text, column) from None
    return result


def _describe(exc: UnexpectedInput, text: str) -> tuple[str, int]:
    """Turn lark's error into Calico-user vocabulary and a 1-based column."""
    if isinstance(exc, UnexpectedCharacters):
        return _describe_character(exc, text)
    if isinstance(exc, UnexpectedToken):
        return _describe_token(exc, text)
    return "invalid selector", 1  # pragma: no cover - lark raises only the two above for LALR


def _describe_character(exc: UnexpectedCharacters, text: str) -> tuple[str, int]:
    pos = exc.pos_in_stream or 0
    column = pos + 1
    char = text[pos]
    allowed = set(exc.allowed or ())
    if char in _QUOTES:
        return f"unterminated string (no closing {char})", column
    if char in "\n\r":
        return "a selector must be on one line (only spaces and tabs may separate tokens)", column
    if char == "=":
        return "expected '==' (a single '=' is not an operator)", column
    if char == "&":
        return "expected '&&'", column
    if char == "|":
        return "expected '||'", column
    if allowed and allowed <= _OPERATOR_TERMINALS:
        return _no_operator(text, pos), column
    return f"unexpected character {char!r}", column


def _describe_token(exc: UnexpectedToken, text: str) -> tuple[str, int]:
    token = exc.token
    expected = set(exc.expected)
    at_end = token.type == "$END"
    pos = len(text) if at_end else (token.start_pos or 0)
    column = pos + 1
    found = "end of selector" if at_end else repr(str(token))
    if expected and expected <= _OPERATOR_TERMINALS:
        if token.type == "LPAR":
            word = _word_before(text, pos)
            if word in ("has", "all", "global"):
                return f"no space allowed between '{word}' and '('", _end_of_word(text, pos) + 1
        return _no_operator(text, pos), column
    if expected == {"LABEL"}:
        return f"expected a label and ')' in has(...), found {found}", column
    # LALR merges lookaheads, so ')' is "expected" even outside parentheses: count them instead.
    if "RPAR" in expected and token.type != "RPAR" and _open_parens(text, pos) > 0:
        return f"expected ')', found {found}", column
    if "RBRACE" in expected and token.type != "RBRACE":
        if "STRING" in expected:
            return f"expected a quoted string or '}}' in the set, found {found}", column
        return f"expected ',' or '}}' in the set, found {found}", column
    if expected == {"LBRACE"}:
        return f"expected a set literal '{{...}}' after in/not in, found {found}", column
    if expected == {"STRING"}:
        return f"expected a quoted string, found {found}", column
    if expected & _PRIMARY_TERMINALS:
        if at_end:
            return "unexpected end of selector: expected an expression", column
        return f"expected an expression (label, has(), all(), '!' or '('), found {found}", column
    if at_end:
        return "unexpected end of selector", column
    closers = "'&&', '||' or ')'" if _open_parens(text, pos) > 0 else "'&&' or '||'"
    return f"unexpected {found} after a complete expression (expected {closers})", column


def _open_parens(text: str, pos: int) -> int:
    depth = 0
    quote = ""
    for char in text[:pos]:
        if quote:
            quote = "" if char == quote else quote
        elif char in _QUOTES:
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
    return depth


def _end_of_word(text: str, pos: int) -> int:
    end = pos
    while end > 0 and text[end - 1] in " \t":
        end -= 1
    return end


def _word_before(text: str, pos: int) -> str:
    end = _end_of_word(text, pos)
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_./-"):
        start -= 1
    return text[start:end]


def _no_operator(text: str, pos: int) -> str:
    label = _word_before(text, pos)
    return (
        f"label {label!r} has no operator (expected ==, !=, in, not in, contains, starts with or ends with;"
        f" use has({label}) to test for presence)"
    )
