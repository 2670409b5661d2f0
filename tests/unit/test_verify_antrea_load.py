"""``antrea/load.py``: Antrea manifests become the model; bad input is one message with its field path."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from kubectl_antrea_migrate.antrea.load import is_antrea_document, load_antrea
from kubectl_antrea_migrate.antrea.model import AntreaAction, PolicyKind, PortSpec
from kubectl_antrea_migrate.errors import InputError, Location
from kubectl_antrea_migrate.kube.model import IPBlock, Operator

MANIFESTS = """
apiVersion: crd.antrea.io/v1beta1
kind: Tier
metadata: {name: calico-security}
spec: {priority: 10, description: from Calico tier security}
---
apiVersion: crd.antrea.io/v1beta1
kind: ClusterGroup
metadata: {name: corp}
spec:
  ipBlocks: [{cidr: 192.168.0.0/24}]
---
apiVersion: crd.antrea.io/v1beta1
kind: Group
metadata: {name: webs, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
---
apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: guard}
spec:
  tier: calico-security
  priority: 1.5
  appliedTo:
  - podSelector:
      matchExpressions: [{key: app, operator: In, values: [web]}]
    namespaceSelector: {}
  ingress:
  - name: ingress-0
    action: Drop
    from:
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    - group: corp
    - serviceAccount: {name: web, namespace: prod}
    - namespaces: {match: Self}
    ports:
    - {protocol: TCP, port: 8000, endPort: 9000}
    - {port: http}
    - {protocol: UDP, sourcePort: 53, sourceEndPort: 54}
    protocols:
    - icmp: {icmpType: 8, icmpCode: 0}
    - igmp: {igmpType: 17}
  egress:
  - name: egress-0
    action: Pass
---
apiVersion: crd.antrea.io/v1beta1
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  priority: 3
  ingress:
  - action: Allow
    appliedTo: [{group: webs}]
    from: [{podSelector: {}}]
---
apiVersion: crd.antrea.io/v1beta1
kind: Egress
metadata: {name: not-a-policy}
spec: {}
"""


def docs(text: str) -> list[tuple[Any, Location]]:
    return [(d, Location("antrea.yaml", i)) for i, d in enumerate(yaml.safe_load_all(text), start=1)]


def test_manifests_load_into_the_model() -> None:
    objects = load_antrea(docs(MANIFESTS))
    assert [(t.name, t.priority) for t in objects.tiers] == [("calico-security", 10)]
    corp, webs = objects.groups
    assert corp.namespace is None and corp.ip_blocks == (IPBlock("192.168.0.0/24"),)
    assert webs.namespace == "prod" and webs.pod_selector is not None
    guard, db = objects.policies
    assert guard.kind is PolicyKind.CLUSTER_NETWORK_POLICY and guard.priority == 1.5
    assert guard.applied_to[0].pod_selector.match_expressions[0].operator is Operator.IN  # type: ignore[union-attr]
    rule = guard.ingress[0]
    assert rule.action is AntreaAction.DROP
    assert rule.peers[0].ip_block == IPBlock("10.0.0.0/8", ("10.1.0.0/16",))
    assert rule.peers[1].group == "corp"
    assert rule.peers[2].service_account is not None and rule.peers[2].service_account.name == "web"
    assert rule.peers[3].namespaces_match == "Self"
    assert rule.ports == (
        PortSpec("TCP", 8000, 9000),
        PortSpec("TCP", "http"),
        PortSpec("UDP", None, None, 53, 54),
    )
    assert [(p.icmp_type, p.icmp_code) for p in rule.protocols] == [(8, 0)]  # igmp is not unicast traffic
    assert guard.egress[0].action is AntreaAction.PASS
    assert db.kind is PolicyKind.NETWORK_POLICY and db.namespace == "prod" and db.tier == "application"
    assert db.applied_to == () and db.ingress[0].applied_to[0].group == "webs"
    assert guard.location.name == "guard" and guard.location.document == 4


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"spec": {"priority": "high", "appliedTo": [{"podSelector": {}}]}},
            "antrea.yaml: document 1 (ClusterNetworkPolicy p): spec.priority: expected a number, got str",
        ),
        (
            {"spec": {"priority": 1, "appliedTo": [{"podSelector": {}}], "ingress": [{"action": "Deny"}]}},
            "spec.ingress[0].action: action must be one of Allow, Drop, Reject, Pass (got 'Deny')",
        ),
        (
            {
                "spec": {
                    "priority": 1,
                    "appliedTo": [{"podSelector": {}}],
                    "ingress": [{"action": "Allow", "from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}],
                }
            },
            "spec.ingress[0].from[0].ipBlock.cidr: not a CIDR: '10.0.0.0/33'",
        ),
        (
            {"spec": {"priority": 1, "ingress": [{"action": "Allow"}]}},
            "spec: appliedTo must be set at policy level or in every rule",
        ),
        (
            {
                "spec": {
                    "priority": 1,
                    "appliedTo": [{"podSelector": {}}],
                    "egress": [{"action": "Allow", "appliedTo": [{"podSelector": {}}]}],
                }
            },
            "spec.egress[0].appliedTo: appliedTo is set both on the policy and on this rule",
        ),
        (
            {
                "spec": {
                    "priority": 1,
                    "appliedTo": [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}}],
                }
            },
            "spec.appliedTo[0].podSelector.matchExpressions[0].operator: operator must be In, NotIn, Exists or",
        ),
        (
            {
                "spec": {
                    "priority": 1,
                    "appliedTo": [{"podSelector": {}}],
                    "ingress": [{"action": "Allow", "ports": [{"port": 80, "endPort": 79}]}],
                }
            },
            "spec.ingress[0].ports[0].endPort: endPort needs a numeric port not above it",
        ),
    ],
)
def test_bad_fields_name_document_and_path(patch: dict[str, Any], message: str) -> None:
    doc = {"apiVersion": "crd.antrea.io/v1beta1", "kind": "ClusterNetworkPolicy", "metadata": {"name": "p"}}
    doc.update(patch)
    with pytest.raises(InputError) as caught:
        load_antrea([(doc, Location("antrea.yaml", 1))])
    assert message in str(caught.value)


def test_non_antrea_documents_are_refused_and_recognised() -> None:
    calico = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "x"}}
    assert not is_antrea_document(calico) and not is_antrea_document("text")
    assert is_antrea_document({"apiVersion": "crd.antrea.io/v1beta1"})
    with pytest.raises(InputError, match=re.escape("antrea.yaml: document 2: apiVersion: not an Antrea object")):
        load_antrea([(calico, Location("antrea.yaml", 2))])


def test_tier_priority_range_and_missing_namespace() -> None:
    tier = {"apiVersion": "crd.antrea.io/v1beta1", "kind": "Tier", "metadata": {"name": "t"}, "spec": {"priority": 300}}
    with pytest.raises(InputError, match=r"spec.priority: must be between 0 and 255 \(got 300\)"):
        load_antrea([(tier, Location("f", 1))])
    group = {"apiVersion": "crd.antrea.io/v1beta1", "kind": "Group", "metadata": {"name": "g"}, "spec": {}}
    with pytest.raises(InputError, match=re.escape("metadata.namespace: required field is missing")):
        load_antrea([(group, Location("f", 1))])


def test_rendered_objects_load_back_unchanged() -> None:
    from kubectl_antrea_migrate.antrea.render import render
    from tests.unit.test_verify_diff import ANTREA

    manifests = render(ANTREA)
    assert load_antrea([(m, Location("rendered.yaml", i)) for i, m in enumerate(manifests, start=1)]) == ANTREA


def test_kubectl_list_output_is_expanded() -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": [d for d, _ in docs(MANIFESTS)]}
    objects = load_antrea([(listing, Location("kubectl-get.yaml", 1))])
    assert [p.name for p in objects.policies] == ["guard", "db"] and len(objects.groups) == 2
    with pytest.raises(
        InputError, match=re.escape("kubectl-get.yaml: document 1: items[0].apiVersion: not an Antrea object")
    ):
        load_antrea(
            [({"kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod"}]}, Location("kubectl-get.yaml", 1))]
        )
