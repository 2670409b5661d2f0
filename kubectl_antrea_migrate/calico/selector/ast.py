"""Calico selector AST: one frozen dataclass per construct, each able to ``evaluate(labels)``.

Semantics follow libcalico-go ``lib/selector/parser/ast.go`` exactly (see policy-mapping §2):
``k != 'v'`` and ``k not in {...}`` are true when ``k`` is absent; ``k in {}`` is always false;
``global()`` evaluates to true (its special meaning is a textual rewrite done by the converter).

``render()`` produces Calico's canonical text (what ``String()`` prints), so a rewritten AST can be
shown to users and re-parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "ALL",
    "All",
    "And",
    "Contains",
    "EndsWith",
    "Eq",
    "Global",
    "Has",
    "In",
    "Ne",
    "Not",
    "NotIn",
    "Or",
    "Selector",
    "StartsWith",
    "transform",
    "walk",
]

Labels = Mapping[str, str]


def _quote(value: str) -> str:
    # Calico strings have no escapes: pick the quote style the value does not contain.
    return f'"{value}"' if "'" in value else f"'{value}'"


@dataclass(frozen=True, slots=True)
class All:
    """``all()``: matches everything."""

    def evaluate(self, labels: Labels) -> bool:
        return True

    def render(self) -> str:
        return "all()"


@dataclass(frozen=True, slots=True)
class Global:
    """``global()``: true when evaluated; rewritten textually inside a rule namespaceSelector."""

    def evaluate(self, labels: Labels) -> bool:
        return True

    def render(self) -> str:
        return "global()"


@dataclass(frozen=True, slots=True)
class Has:
    """``has(key)``."""

    key: str

    def evaluate(self, labels: Labels) -> bool:
        return self.key in labels

    def render(self) -> str:
        return f"has({self.key})"


@dataclass(frozen=True, slots=True)
class Eq:
    """``key == 'value'``: the key is present and equal."""

    key: str
    value: str

    def evaluate(self, labels: Labels) -> bool:
        return labels.get(self.key) == self.value

    def render(self) -> str:
        return f"{self.key} == {_quote(self.value)}"


@dataclass(frozen=True, slots=True)
class Ne:
    """``key != 'value'``: true when the key is absent or differs."""

    key: str
    value: str

    def evaluate(self, labels: Labels) -> bool:
        return labels.get(self.key) != self.value

    def render(self) -> str:
        return f"{self.key} != {_quote(self.value)}"


@dataclass(frozen=True, slots=True)
class In:
    """``key in {...}``: present and a member; the empty set is always false."""

    key: str
    values: frozenset[str]

    def evaluate(self, labels: Labels) -> bool:
        value = labels.get(self.key)
        return value is not None and value in self.values

    def render(self) -> str:
        return f"{self.key} in {{{', '.join(_quote(v) for v in sorted(self.values))}}}"


@dataclass(frozen=True, slots=True)
class NotIn:
    """``key not in {...}``: absent or not a member; the empty set is always true."""

    key: str
    values: frozenset[str]

    def evaluate(self, labels: Labels) -> bool:
        value = labels.get(self.key)
        return value is None or value not in self.values

    def render(self) -> str:
        return f"{self.key} not in {{{', '.join(_quote(v) for v in sorted(self.values))}}}"


@dataclass(frozen=True, slots=True)
class Contains:
    """``key contains 's'``: present and the value contains ``s``."""

    key: str
    value: str

    def evaluate(self, labels: Labels) -> bool:
        actual = labels.get(self.key)
        return actual is not None and self.value in actual

    def render(self) -> str:
        return f"{self.key} contains {_quote(self.value)}"


@dataclass(frozen=True, slots=True)
class StartsWith:
    """``key starts with 's'``."""

    key: str
    value: str

    def evaluate(self, labels: Labels) -> bool:
        actual = labels.get(self.key)
        return actual is not None and actual.startswith(self.value)

    def render(self) -> str:
        return f"{self.key} starts with {_quote(self.value)}"


@dataclass(frozen=True, slots=True)
class EndsWith:
    """``key ends with 's'``."""

    key: str
    value: str

    def evaluate(self, labels: Labels) -> bool:
        actual = labels.get(self.key)
        return actual is not None and actual.endswith(self.value)

    def render(self) -> str:
        return f"{self.key} ends with {_quote(self.value)}"


@dataclass(frozen=True, slots=True)
class Not:
    """``!expr``."""

    operand: Selector

    def evaluate(self, labels: Labels) -> bool:
        return not self.operand.evaluate(labels)

    def render(self) -> str:
        inner = self.operand.render()
        if isinstance(self.operand, (And, Or)):
            inner = f"({inner})"
        return f"!{inner}"


@dataclass(frozen=True, slots=True)
class And:
    """``a && b && ...`` (two or more operands)."""

    operands: tuple[Selector, ...]

    def evaluate(self, labels: Labels) -> bool:
        return all(op.evaluate(labels) for op in self.operands)

    def render(self) -> str:
        return " && ".join(f"({o.render()})" if isinstance(o, Or) else o.render() for o in self.operands)


@dataclass(frozen=True, slots=True)
class Or:
    """``a || b || ...`` (two or more operands)."""

    operands: tuple[Selector, ...]

    def evaluate(self, labels: Labels) -> bool:
        return any(op.evaluate(labels) for op in self.operands)

    def render(self) -> str:
        return " || ".join(o.render() for o in self.operands)


Selector = All | Global | Has | Eq | Ne | In | NotIn | Contains | StartsWith | EndsWith | Not | And | Or

ALL = All()


def transform(node: Selector, fn: Callable[[Selector], Selector]) -> Selector:
    """Rebuild ``node`` bottom-up, applying ``fn`` to every node after its children."""
    if isinstance(node, Not):
        return fn(Not(transform(node.operand, fn)))
    if isinstance(node, And):
        return fn(And(tuple(transform(o, fn) for o in node.operands)))
    if isinstance(node, Or):
        return fn(Or(tuple(transform(o, fn) for o in node.operands)))
    return fn(node)


def walk(node: Selector) -> list[Selector]:
    """Every node of the tree, parents before children."""
    out: list[Selector] = [node]
    if isinstance(node, Not):
        out.extend(walk(node.operand))
    elif isinstance(node, (And, Or)):
        for op in node.operands:
            out.extend(walk(op))
    return out
