"""Calico's own selector rewrites (policy-mapping §1.2, §1.4), done over the AST.

Calico compiles a v3 policy into the selector-only v1 model that Felix enforces
(libcalico-go ``updateprocessors/{networkpolicyprocessor,globalnetworkpolicyprocessor,rules,selectors}.go``).
It does so by string surgery: it prefixes labels with a visitor and renders the selector back to text
(``parseSelectorAttachPrefix``), glues fragments with ``(...) && (...)``, and then replaces the
substrings ``all()`` and ``global()`` in the resulting text with ``strings.Replace``. The converter
and the verify evaluator both need exactly those semantics, so this module reproduces them on the
AST:

* an ``All``/``Global`` node is replaced by the replacement expression;
* a label VALUE that contains the substring ``all()``/``global()`` is rewritten too, because Calico's
  textual replacement reaches inside quoted strings (``a == 'x all()'`` becomes
  ``a == 'x has(projectcalico.org/namespace)'``). Label keys cannot contain parentheses, so nodes
  and values are the only places where the substrings can occur in rendered text.

What still differs from the textual version: for a GlobalNetworkPolicy, Calico replaces inside the
user's *raw* ``spec.selector`` text (it is not re-rendered), so ``all( )`` written with a space
inside the parentheses escapes the replacement in Calico but not here. Policy selectors come from the
model already parsed (``Policy.selector`` is ``All()`` when the field was empty), so the raw spelling
is gone. The model also cannot tell an empty ``spec.selector`` from an explicit ``all()``: here both
are treated as empty (Calico's ``selector == ""`` branch). The two only differ for HostEndpoints and
GlobalNetworkSets, never for pods.
"""

from __future__ import annotations

from kubectl_antrea_migrate.calico.model import EntityRule, Policy
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
    Selector,
    StartsWith,
    transform,
)

__all__ = [
    "NAMESPACE_KEY",
    "NAMESPACE_PREFIX",
    "ORCHESTRATOR_KEY",
    "SERVICE_ACCOUNT_KEY",
    "SERVICE_ACCOUNT_PREFIX",
    "conjoin",
    "entity_selectors",
    "policy_endpoint_selector",
    "prefix_labels",
    "replace_all_and_global",
]

NAMESPACE_KEY = "projectcalico.org/namespace"  # apiv3.LabelNamespace
ORCHESTRATOR_KEY = "projectcalico.org/orchestrator"
SERVICE_ACCOUNT_KEY = "projectcalico.org/serviceaccount"  # apiv3.LabelServiceAccount
NAMESPACE_PREFIX = "pcns."  # conversion.NamespaceLabelPrefix
SERVICE_ACCOUNT_PREFIX = "pcsa."  # conversion.ServiceAccountLabelPrefix

_HAS_NAMESPACE = Has(NAMESPACE_KEY)
_HAS_SERVICE_ACCOUNT = Has(SERVICE_ACCOUNT_KEY)
_NON_NAMESPACED = Not(Has(NAMESPACE_KEY))


def prefix_labels(sel: Selector, prefix: str) -> Selector:
    """Prefix every label key in ``sel`` (Calico's ``PrefixVisitor``), e.g. ``k == 'v'`` → ``pcns.k == 'v'``.

    Args:
        sel: The selector.
        prefix: ``pcns.`` or ``pcsa.``.

    Returns:
        The same selector over prefixed keys; ``all()``/``global()`` are left alone, as Calico does.
    """

    def visit(node: Selector) -> Selector:
        if isinstance(node, (Has, Eq, Ne, In, NotIn, Contains, StartsWith, EndsWith)):
            return _with_key(node, prefix + node.key)
        return node

    return transform(sel, visit)


def replace_all_and_global(sel: Selector, all_with: Selector, global_with: Selector | None = None) -> Selector:
    """Reproduce ``strings.Replace(s, "all()", ...)`` (then ``"global()"``) on the rendered selector.

    Args:
        sel: The selector whose rendered text Calico rewrites.
        all_with: What ``all()`` becomes (``has(projectcalico.org/namespace)`` or
            ``has(projectcalico.org/serviceaccount)``).
        global_with: What ``global()`` becomes (rule namespaceSelector only:
            ``!has(projectcalico.org/namespace)``); None leaves ``global()`` alone.

    Returns:
        The rewritten selector. Values containing the substrings are rewritten too (see the module
        docstring).
    """
    all_text = all_with.render()
    global_text = global_with.render() if global_with is not None else None

    def text(value: str) -> str:
        value = value.replace("all()", all_text)
        return value.replace("global()", global_text) if global_text is not None else value

    def visit(node: Selector) -> Selector:
        if isinstance(node, Not) and isinstance(node.operand, Not):
            # "!global()" renders "!!has(...)", which Felix re-parses with the '!'s collapsed.
            return node.operand.operand
        if isinstance(node, All):
            return all_with
        if isinstance(node, Global):
            return global_with if global_with is not None else node
        if isinstance(node, (Eq, Ne, Contains, StartsWith, EndsWith)):
            new = text(node.value)
            return node if new == node.value else type(node)(node.key, new)
        if isinstance(node, (In, NotIn)):
            values = frozenset(text(v) for v in node.values)
            return node if values == node.values else type(node)(node.key, values)
        return node

    return transform(sel, visit)


def conjoin(*parts: Selector | None) -> Selector | None:
    """AND the given parts (None = not given), flattening nested ``And``s; None when nothing is given."""
    operands: list[Selector] = []
    for part in parts:
        if part is None:
            continue
        operands.extend(part.operands if isinstance(part, And) else (part,))
    if not operands:
        return None
    return operands[0] if len(operands) == 1 else And(tuple(operands))


def policy_endpoint_selector(policy: Policy) -> Selector:
    """The selector Felix matches endpoints against for ``policy`` (§1.2), with Calico's implicit parts.

    * NetworkPolicy: ``(selector) && projectcalico.org/namespace == '<ns>'``, then
      ``&& <serviceAccountSelector prefixed pcsa.>``. No ``all()`` replacement.
    * GlobalNetworkPolicy: ``(selector) && <namespaceSelector prefixed pcns.>`` with every ``all()``
      in the combined selector replaced by ``has(projectcalico.org/namespace)``; then
      ``&& <serviceAccountSelector prefixed pcsa.>`` with every ``all()`` replaced by
      ``has(projectcalico.org/serviceaccount)``.

    Args:
        policy: A loaded Calico NetworkPolicy or GlobalNetworkPolicy.

    Returns:
        The effective endpoint selector (Calico's v1 ``Policy.Selector``).
    """
    # An All() selector stands for an empty spec.selector (see the module docstring).
    selector: Selector | None = None if isinstance(policy.selector, All) else policy.selector
    if not policy.is_global:
        combined = conjoin(selector, Eq(NAMESPACE_KEY, policy.namespace or ""))
        if policy.service_account_selector is not None:
            combined = conjoin(combined, prefix_labels(policy.service_account_selector, SERVICE_ACCOUNT_PREFIX))
        return combined or All()
    if policy.namespace_selector is not None:
        selector = conjoin(selector, prefix_labels(policy.namespace_selector, NAMESPACE_PREFIX))
        selector = replace_all_and_global(selector, _HAS_NAMESPACE) if selector is not None else None
    if policy.service_account_selector is not None:
        selector = conjoin(selector, prefix_labels(policy.service_account_selector, SERVICE_ACCOUNT_PREFIX))
        selector = replace_all_and_global(selector, _HAS_SERVICE_ACCOUNT) if selector is not None else None
    return selector if selector is not None else All()


def entity_selectors(side: EntityRule, policy: Policy) -> tuple[Selector | None, Selector | None]:
    """Compile a rule side's identity fields exactly like Calico's ``getEndpointSelector`` (§1.4).

    Args:
        side: The rule's ``source`` or ``destination``.
        policy: The policy holding the rule (its namespace scopes the rule for a NetworkPolicy).

    Returns:
        ``(positive, negative)``: the endpoints the side must match and the ones it must not match;
        None where Calico leaves the selector empty (no constraint). ``negative`` is the raw
        ``notSelector``: not prefixed and not namespace-scoped.
    """
    ns_sel: Selector | None = None
    if side.namespace_selector is not None:
        ns_sel = replace_all_and_global(
            prefix_labels(side.namespace_selector, NAMESPACE_PREFIX), _HAS_NAMESPACE, _NON_NAMESPACED
        )
    elif policy.namespace:
        ns_sel = Eq(NAMESPACE_KEY, policy.namespace)

    sa_sel: Selector | None = None
    if side.service_accounts is not None:
        sa = side.service_accounts
        by_labels = prefix_labels(sa.selector, SERVICE_ACCOUNT_PREFIX) if sa.selector is not None else None
        by_names = In(SERVICE_ACCOUNT_KEY, frozenset(sa.names)) if sa.names else None
        sa_sel = conjoin(by_labels, by_names)

    positive = conjoin(sa_sel, side.selector)
    if ns_sel is not None and (
        positive is not None or side.not_selector is not None or side.namespace_selector is not None
    ):
        positive = conjoin(ns_sel, positive)
    return positive, side.not_selector


def _with_key(node: Has | Eq | Ne | In | NotIn | Contains | StartsWith | EndsWith, key: str) -> Selector:
    if isinstance(node, Has):
        return Has(key)
    if isinstance(node, (In, NotIn)):
        return type(node)(key, node.values)
    return type(node)(key, node.value)
