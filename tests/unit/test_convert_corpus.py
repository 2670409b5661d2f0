"""Every file of the public Calico corpus is classified; a table pins the fidelity of each object.

The corpus (``../shared/upstream/calico-policies/``, read in place) mixes valid policies, policies with
constructs Antrea cannot express, and documentation snippets that are invalid as published. Each file
maps either to ``INPUT_ERROR(substring)`` (the loader refuses it with one clear message) or to the
fidelity of every object in it: ``"exact"``, ``"exact-with-notes"``, ``"skipped"``, or
``("unsupported", reason substring)``. No file may crash, and whatever is emitted (``--partial``)
must validate against the Antrea CRD schema.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kubectl_antrea_migrate.antrea.render import render
from kubectl_antrea_migrate.calico.load import load_paths
from kubectl_antrea_migrate.convert import convert
from kubectl_antrea_migrate.convert.result import ConvertOptions, ObjectReport
from kubectl_antrea_migrate.errors import InputError
from tests._prereq import require
from tests.conftest import UPSTREAM
from tests.unit._antrea_crds import assert_valid

CORPUS = UPSTREAM / "calico-policies"


@dataclass(frozen=True)
class INPUT_ERROR:
    """The loader refuses the file; its message contains this text."""

    message: str


Expected = INPUT_ERROR | dict[str, str | tuple[str, str]]

CLASSIFICATION: dict[str, Expected] = {
    "ibm-network-config-analyzer/demo-sanity2-typo-selector-no-effect.yaml": {
        "GlobalNetworkPolicy/sanity2-selector-typo": "exact"
    },
    "ibm-network-config-analyzer/testcase11-allowFirstDefaultDeny.yaml": INPUT_ERROR("invalid NetworkPolicy name"),
    "ibm-network-config-analyzer/testcase12-kube-system-policies.yaml": INPUT_ERROR("invalid NetworkPolicy name"),
    "ibm-network-config-analyzer/testcase13-kube-system-match-not-protocol.yaml": {
        "NetworkPolicy/kube-system/kube-system-with-matching-protocols": (
            "unsupported",
            "any protocol except one cannot be expressed",
        )
    },
    "ibm-network-config-analyzer/testcase14-default-icmp-no-type.yaml": INPUT_ERROR("invalid NetworkPolicy name"),
    "ibm-network-config-analyzer/testcase14-kube-system-match-notICMP.yaml": INPUT_ERROR("invalid NetworkPolicy name"),
    "ibm-network-config-analyzer/testcase15-equiv-games1.yaml": INPUT_ERROR("invalid NetworkPolicy name"),
    "ibm-network-config-analyzer/testcase15-global-not-simple.yaml": {
        "GlobalNetworkPolicy/testcase15-global-ports-not-simple-match-ingress-egress": "exact",
        "GlobalNetworkPolicy/testcase15-global-ports-not-simple-mismatch-ingress-egress": (
            "unsupported",
            "port 0 alone cannot be expressed (Antrea encodes port 0 as a",
        ),
    },
    "ibm-network-config-analyzer/testcase15-named-ports.yaml": INPUT_ERROR("invalid port 'no-exist-named-port1"),
    "ibm-network-config-analyzer/testcase16-containment-games.yaml": INPUT_ERROR("invalid NetworkPolicy name"),
    "ibm-network-config-analyzer/testcase16-different-ranges-writing-equiv.yaml": INPUT_ERROR("rule contains both"),
    "ibm-network-config-analyzer/testcase18-pods-based-policies.yaml": INPUT_ERROR("invalid NetworkPolicy name"),
    "ibm-network-config-analyzer/testcase18-ports-based-policies.yaml": {
        "NetworkPolicy/kube-system/testcase18-different-ranges-writing-slightly-bigger": "exact",
        "NetworkPolicy/kube-system/testcase18-different-ranges-writing1": "exact",
        "NetworkPolicy/kube-system/testcase18-different-ranges-writing2": "exact",
    },
    "ibm-network-config-analyzer/testcase20-0-gnps.yaml": {
        "GlobalNetworkPolicy/allow-all-outbound": "exact",
        "GlobalNetworkPolicy/allow-bigfix-port": "exact",
        "GlobalNetworkPolicy/allow-icmp": "exact",
        "GlobalNetworkPolicy/allow-node-port-dnat": (
            "unsupported",
            "nets on the policy's own side cannot restrict appliedTo (not",
        ),
        "GlobalNetworkPolicy/allow-sys-mgmt": "exact",
        "GlobalNetworkPolicy/allow-vrrp": (
            "unsupported",
            "protocol 112 is not matched by Antrea (only TCP, UDP, SCTP, ",
        ),
    },
    "ibm-network-config-analyzer/testcase23-networkpolicy-globalnetworkset.yaml": {
        "NetworkPolicy/kube-system/testcase23-networkpolicy-networkset": "exact"
    },
    "ibm-network-config-analyzer/testcase23-networkpolicy-networkset.yaml": {
        "NetworkPolicy/kube-system/testcase23-networkpolicy-networkset": "exact"
    },
    "ibm-network-config-analyzer/testcase24-a.yaml": INPUT_ERROR("global() cannot be"),
    "ibm-network-config-analyzer/testcase24-b.yaml": INPUT_ERROR("global() cannot be"),
    "ibm-network-config-analyzer/testcase24-c.yaml": INPUT_ERROR("global() cannot be"),
    "ibm-network-config-analyzer/testcase25-networkpolicy-calico-k8s.yaml": {
        "NetworkPolicy/kube-system/testcase25-networkpolicy": "exact",
        "KubernetesNetworkPolicy/kube-system/testcase25-networkpolicy": "exact",
    },
    "projectcalico-calico/global-network-policy-override.yaml": {
        "GlobalNetworkPolicy/allow-all-calico-policy": "exact-with-notes"
    },
    "projectcalico-calico/seed-resources.yaml": {
        "Tier/security": ("unsupported", "the end-of-tier drop of tier 'security' (Egress) is inexact:"),
        "GlobalNetworkSet/test-external-ips": "exact",
        "NetworkSet/migration-test/test-trusted-ips": "exact",
        "GlobalNetworkPolicy/security.test-allow-dns": (
            "unsupported",
            "matches HostEndpoint test-hep: host endpoint policy has no e",
        ),
        "GlobalNetworkPolicy/test-deny-all": (
            "unsupported",
            "matches HostEndpoint test-hep: host endpoint policy has no e",
        ),
        "NetworkPolicy/migration-test/test-allow-web": "exact",
        "BGPPeer/test-peer": "skipped",
    },
    "projectcalico-calico/winfv-egress.yaml": {
        "KubernetesNetworkPolicy/demo/allow-dns": "exact",
        "KubernetesNetworkPolicy/demo/allow-nginx": "exact",
    },
    "projectcalico-calico/winfv-ingress.yaml": {"KubernetesNetworkPolicy/demo/allow-client": "exact"},
    "tigera-docs/about-network-policy--1.yaml": {"GlobalNetworkPolicy/default-app-policy": "exact"},
    "tigera-docs/adopt-zero-trust--1.yaml": {
        "NetworkPolicy/microblog/post-allow-list": (
            "unsupported",
            "service account names need a namespace pinned by name and no",
        )
    },
    "tigera-docs/adopt-zero-trust--2.yaml": {
        "NetworkPolicy/microblog/post-allow-list": (
            "unsupported",
            "`pcsa.svc-post == 'access'`: Antrea cannot select pods by th",
        )
    },
    "tigera-docs/calico-labels--1.yaml": INPUT_ERROR("rules that specify"),
    "tigera-docs/calico-labels--2.yaml": INPUT_ERROR("rules that specify"),
    "tigera-docs/calico-network-policy--1.yaml": {"NetworkPolicy/production/allow-tcp-6379": "exact"},
    "tigera-docs/calico-network-policy--2.yaml": {"NetworkPolicy/production/allow-tcp-6379": "exact"},
    "tigera-docs/calico-network-policy--3.yaml": {"GlobalNetworkPolicy/deny-blue": "exact"},
    "tigera-docs/calico-network-policy--4.yaml": {"GlobalNetworkPolicy/deny-circle-blue": "exact"},
    "tigera-docs/calico-network-policy--5.yaml": {"NetworkPolicy/production/allow-egress-external": "exact"},
    "tigera-docs/calico-network-policy--6.yaml": {"NetworkPolicy/production/allow-tcp-6379": "exact-with-notes"},
    "tigera-docs/create-ingress-gateway--1.yaml": INPUT_ERROR("invalid namespace '<gateway-namespace>"),
    "tigera-docs/defend-dos-attack--1.yaml": {"GlobalNetworkSet/dos-mitigation": "exact"},
    "tigera-docs/defend-dos-attack--2.yaml": {"GlobalNetworkPolicy/dos-mitigation": "exact-with-notes"},
    "tigera-docs/enforce-policy-istio--1.yaml": {
        "GlobalNetworkPolicy/customer": ("unsupported", "HTTP match (application layer policy) has no exact Antrea fo")
    },
    "tigera-docs/external-ips-policy--1.yaml": {"NetworkPolicy/production/allow-egress-external": "exact"},
    "tigera-docs/external-ips-policy--2.yaml": {"GlobalNetworkSet/ip-protect": "exact"},
    "tigera-docs/external-ips-policy--3.yaml": {
        "GlobalNetworkPolicy/forward-default-allow": "exact-with-notes",
        "GlobalNetworkPolicy/ip-protect": "exact-with-notes",
    },
    "tigera-docs/globalnetworkpolicy--1.yaml": {"GlobalNetworkPolicy/allow-tcp-6379": "exact"},
    "tigera-docs/globalnetworkset--1.yaml": {"GlobalNetworkSet/a-name-for-the-set": "exact"},
    "tigera-docs/high-connection-workloads--1.yaml": {
        "GlobalNetworkPolicy/memcached-server": (
            "unsupported",
            "matches HostEndpoint memcached-node-1-eth0: doNotTrack/preDN",
        )
    },
    "tigera-docs/host-forwarded-traffic--1.yaml": {"GlobalNetworkPolicy/allow-ssh-maintenance": "exact"},
    "tigera-docs/http-methods--1.yaml": {
        "GlobalNetworkPolicy/customer": ("unsupported", "HTTP match (application layer policy) has no exact Antrea fo")
    },
    "tigera-docs/icmp-ping--1.yaml": {"GlobalNetworkPolicy/block-icmp": "exact"},
    "tigera-docs/icmp-ping--2.yaml": INPUT_ERROR("expected an integer"),
    "tigera-docs/icmp-ping--3.yaml": INPUT_ERROR("expected an integer"),
    "tigera-docs/kubernetes-default-deny--1.yaml": {"NetworkPolicy/engineering/default-deny": "exact"},
    "tigera-docs/kubernetes-default-deny--2.yaml": {"GlobalNetworkPolicy/deny-app-policy": "exact"},
    "tigera-docs/kubernetes-default-deny--3.yaml": {"GlobalNetworkPolicy/default.default-deny": "exact"},
    "tigera-docs/kubernetes-node-ports--1.yaml": {
        "GlobalNetworkPolicy/allow-cluster-internal-ingress-only": "exact-with-notes"
    },
    "tigera-docs/kubernetes-node-ports--2.yaml": {"GlobalNetworkPolicy/allow-nodeport": "exact-with-notes"},
    "tigera-docs/limitations--1.yaml": {"GlobalNetworkPolicy/calico-dest-selector": "exact"},
    "tigera-docs/limitations--2.yaml": {"GlobalNetworkPolicy/calico-dest-selector": "exact"},
    "tigera-docs/log-rules--1.yaml": INPUT_ERROR("invalid GlobalNetworkPolicy name"),
    "tigera-docs/log-rules--2.yaml": INPUT_ERROR("invalid namespace '<namespace>"),
    "tigera-docs/namespace-policy--1.yaml": {"GlobalNetworkPolicy/restrict-development-access": "exact"},
    "tigera-docs/network-policy-openstack--1.yaml": {
        "GlobalNetworkPolicy/deny-lexluthor-to-superman": "exact",
        "GlobalNetworkPolicy/deny-superman-to-lexluthor": "exact",
    },
    "tigera-docs/network-policy-openstack--2.yaml": {"GlobalNetworkPolicy/allow-tcp-80": "exact"},
    "tigera-docs/networkpolicy--1.yaml": {"NetworkPolicy/production/allow-tcp-6379": "exact"},
    "tigera-docs/networkset--1.yaml": {"NetworkSet/staging/external-database": "exact"},
    "tigera-docs/node-local-dns-cache--1.yaml": {"NetworkPolicy/kube-system/default.local-dns-to-core-dns": "exact"},
    "tigera-docs/protect-hosts--1.yaml": INPUT_ERROR("invalid CIDR '<your"),
    "tigera-docs/secure-metrics--1.yaml": {
        "GlobalNetworkPolicy/restrict-calico-node-prometheus": (
            "unsupported",
            "notSelector without a positive selector means every IP excep",
        )
    },
    "tigera-docs/secure-metrics--2.yaml": {"GlobalNetworkSet/calico-prometheus-set": "exact"},
    "tigera-docs/secure-metrics--3.yaml": {"NetworkPolicy/calico-system/restrict-kube-controllers-prometheus": "exact"},
    "tigera-docs/secure-metrics--4.yaml": {"GlobalNetworkPolicy/restrict-calico-node-prometheus": "exact"},
    "tigera-docs/service-accounts--1.yaml": {"NetworkPolicy/prod-engineering/demo-calico": "exact-with-notes"},
    "tigera-docs/service-accounts--2.yaml": {
        "NetworkPolicy/prod-engineering/allow-web-frontend": (
            "unsupported",
            "`pcsa.app == 'web-frontend'`: Antrea cannot select pods by t",
        )
    },
    "tigera-docs/service-accounts--3.yaml": {
        "NetworkPolicy/prod-engineering/restrict-intern-access": (
            "unsupported",
            "`pcsa.role == 'intern'`: Antrea cannot select pods by the la",
        )
    },
    "tigera-docs/service-policy--1.yaml": {
        "NetworkPolicy/my-app/allow-api-access": (
            "unsupported",
            "services match endpoint IP:port pairs after DNAT; Antrea can",
        )
    },
    "tigera-docs/service-policy--2.yaml": {
        "GlobalNetworkPolicy/allow-kube-dns": (
            "unsupported",
            "services match endpoint IP:port pairs after DNAT; Antrea can",
        )
    },
    "tigera-docs/service-policy--3.yaml": {
        "NetworkPolicy/backend/allow-frontend-service-access": (
            "unsupported",
            "services match endpoint IP:port pairs after DNAT; Antrea can",
        )
    },
    "tigera-docs/service-policy--4.yaml": {
        "NetworkPolicy/backend/allow-frontend-service-access": (
            "unsupported",
            "services match endpoint IP:port pairs after DNAT; Antrea can",
        )
    },
    "tigera-docs/services-cluster-ips--1.yaml": INPUT_ERROR("invalid CIDR '10.20.30.40/32"),
    "tigera-docs/services-cluster-ips--2.yaml": INPUT_ERROR("invalid CIDR '192.168.0.0/16"),
    "tigera-docs/services-cluster-ips--3.yaml": INPUT_ERROR("expected a string"),
    "tigera-docs/services-cluster-ips--4.yaml": {"GlobalNetworkPolicy/allow-nodes-svc-a": "exact"},
    "tigera-docs/staged-network-policies--1.yaml": {"StagedGlobalNetworkPolicy/default.allow-tcp-6379": "skipped"},
    "tigera-docs/staged-network-policies--2.yaml": {"StagedNetworkPolicy/default/default.allow-tcp-6379": "skipped"},
    "tigera-docs/staged-network-policies--3.yaml": {
        "StagedKubernetesNetworkPolicy/default/test-network-policy": "skipped"
    },
    "tigera-docs/tier--1.yaml": {"Tier/internal-access": "exact"},
    "tigera-docs/tiered-policy--1.yaml": {"Tier/security": "exact"},
    "tigera-docs/tiered-policy--2.yaml": {
        "GlobalNetworkPolicy/devops.stage-env": (
            "unsupported",
            "tier 'devops' is not in the input: its order is unknown",
        )
    },
    "tigera-docs/tiered-policy--3.yaml": {"Tier/devops": "exact"},
    "tigera-docs-static/30-policy.yaml": {
        "GlobalNetworkPolicy/customer": ("unsupported", "HTTP match (application layer policy) has no exact Antrea fo"),
        "GlobalNetworkPolicy/database": ("unsupported", "service account names need a namespace pinned by name and no"),
        "GlobalNetworkPolicy/summary": ("unsupported", "service account names need a namespace pinned by name and no"),
    },
    "tigera-docs-static/allow-istio-pilot.yaml": {"NetworkPolicy/default/allow-istio-pilot": "exact-with-notes"},
    "tigera-docs-static/allow-ui-client.yaml": {"KubernetesNetworkPolicy/client/allow-ui": "exact"},
    "tigera-docs-static/allow-ui.yaml": {"KubernetesNetworkPolicy/stars/allow-ui": "exact"},
    "tigera-docs-static/backend-policy.yaml": {"KubernetesNetworkPolicy/stars/backend-policy": "exact"},
    "tigera-docs-static/default-deny.yaml": {"KubernetesNetworkPolicy/default/default-deny": "exact"},
    "tigera-docs-static/frontend-policy.yaml": {"KubernetesNetworkPolicy/stars/frontend-policy": "exact"},
}


def corpus_files() -> list[str]:
    """Every YAML/JSON file of the corpus, relative to its root."""
    require(CORPUS.is_dir(), f"needs the Calico policy corpus at {CORPUS}")
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})


def _key(report: ObjectReport) -> str:
    namespace = f"{report.namespace}/" if report.namespace else ""
    return f"{report.kind}/{namespace}{report.name}"


def test_every_corpus_file_is_classified() -> None:
    assert corpus_files() == sorted(CLASSIFICATION)


@pytest.mark.parametrize("name", sorted(CLASSIFICATION))
def test_corpus_file_classification(name: str) -> None:
    expected = CLASSIFICATION[name]
    path = CORPUS / name
    require(path.is_file(), f"needs the Calico policy corpus at {CORPUS}")
    if isinstance(expected, INPUT_ERROR):
        with pytest.raises(InputError) as info:
            load_paths([str(path)])
        message = str(info.value)
        assert expected.message in message
        assert str(path) in message and "document" in message
        return
    result = convert(load_paths([str(path)]), ConvertOptions(partial=True))
    got = {_key(r): r for r in result.reports}
    assert sorted(got) == sorted(expected)
    for key, want in expected.items():
        report = got[key]
        if isinstance(want, tuple):
            fidelity, reason = want
            assert report.fidelity.value == fidelity, key
            assert any(reason in p.message for p in report.problems), (key, report.problems)
        else:
            assert report.fidelity.value == want, (key, report.problems)
    assert_valid(render(result.objects))


def test_tiered_docs_example_converts_when_its_tier_is_given() -> None:
    """tiered-policy--2 needs tier devops (tiered-policy--3): together they convert exactly (§9(c))."""
    files = [str(CORPUS / "tigera-docs" / f"tiered-policy--{i}.yaml") for i in (2, 3)]
    result = convert(load_paths(files), ConvertOptions())
    assert {_key(r): r.fidelity.value for r in result.reports} == {
        "Tier/devops": "exact",
        "GlobalNetworkPolicy/devops.stage-env": "exact",
    }
    actions = [(p.name, r.action.value) for p in result.objects.policies for r in p.ingress]
    # The tier's defaultAction is Pass: no end-of-tier policy.
    assert actions == [("calico-gnp-devops-stage-env", "Drop"), ("calico-gnp-devops-stage-env", "Pass")]
