"""Server-side apply and backups against the real apiserver with the real Antrea and Calico CRDs."""

from __future__ import annotations

import copy
import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_antrea_migrate.cluster.apply import FIELD_MANAGER, Action, apply_objects, backup_objects
from kubectl_antrea_migrate.cluster.client import KubeClient
from kubectl_antrea_migrate.cluster.read import read_snapshot
from kubectl_antrea_migrate.errors import ClusterError
from tests.harness import objects as o
from tests.harness.controlplane import ControlPlane

ANTREA = "crd.antrea.io/v1beta1"


def tier(name: str = "calico-migrated", priority: int = 100) -> dict[str, Any]:
    return {"apiVersion": ANTREA, "kind": "Tier", "metadata": {"name": name}, "spec": {"priority": priority}}


def cluster_group(name: str = "web") -> dict[str, Any]:
    spec = {"podSelector": {"matchLabels": {"app": "web"}}}
    return {"apiVersion": ANTREA, "kind": "ClusterGroup", "metadata": {"name": name}, "spec": spec}


def acnp(name: str = "allow-https", tier_name: str = "calico-migrated", port: int = 443) -> dict[str, Any]:
    spec = {
        "priority": 5,
        "tier": tier_name,
        "appliedTo": [{"group": "web"}],
        "ingress": [{"action": "Allow", "ports": [{"protocol": "TCP", "port": port}]}],
    }
    return {"apiVersion": ANTREA, "kind": "ClusterNetworkPolicy", "metadata": {"name": name}, "spec": spec}


def test_clean_tier_group_and_acnp_apply_without_warning_and_a_second_apply_changes_nothing(
    clean_cluster: KubeClient,
) -> None:
    first = apply_objects(clean_cluster, [acnp(), cluster_group(), tier()])

    assert [(a.kind, a.action) for a in first.objects] == [
        ("Tier", Action.CREATED),
        ("ClusterGroup", Action.CREATED),
        ("ClusterNetworkPolicy", Action.CREATED),
    ]
    assert first.warnings == ()
    stored = clean_cluster.get("/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/allow-https")
    assert stored["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 443}]
    assert {m["manager"] for m in stored["metadata"]["managedFields"]} == {FIELD_MANAGER}

    second = apply_objects(clean_cluster, [tier(), cluster_group(), acnp()])
    assert [a.action for a in second.objects] == [Action.UNCHANGED] * 3
    assert not second.changed
    again = clean_cluster.get("/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/allow-https")
    assert again["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


def test_an_unknown_field_produces_a_captured_warning_naming_the_field(clean_cluster: KubeClient) -> None:
    bad = acnp()
    # The seed's mistake: a field the Antrea CRD does not have (Antrea's is `enableLogging`).
    bad["spec"]["ingress"][0]["logging"] = True

    result = apply_objects(clean_cluster, [tier(), bad], dry_run=True)

    by_kind = {a.kind: a for a in result.objects}
    assert (by_kind["Tier"].action, by_kind["Tier"].warnings) == (Action.CREATED, ())
    # Server-side apply refuses the object rather than silently pruning the field.
    assert by_kind["ClusterNetworkPolicy"].action is Action.FAILED
    assert by_kind["ClusterNetworkPolicy"].warnings == ('unknown field "spec.ingress[0].logging"',)
    assert result.warnings == ('ClusterNetworkPolicy allow-https: unknown field "spec.ingress[0].logging"',)


def test_an_unknown_field_in_an_existing_object_is_still_named(clean_cluster: KubeClient) -> None:
    apply_objects(clean_cluster, [tier()])
    bad = tier()
    bad["spec"]["rank"] = 3

    result = apply_objects(clean_cluster, [bad])

    assert result.objects[0].action is Action.FAILED
    assert result.objects[0].warnings == ('unknown field "spec.rank"',)
    assert clean_cluster.get("/apis/crd.antrea.io/v1beta1/tiers/calico-migrated")["spec"] == {"priority": 100}


def test_dry_run_server_validates_but_stores_nothing(clean_cluster: KubeClient) -> None:
    result = apply_objects(clean_cluster, [tier(), acnp()], dry_run=True)

    assert result.dry_run
    assert [a.action for a in result.objects] == [Action.CREATED, Action.CREATED]
    assert clean_cluster.get_optional("/apis/crd.antrea.io/v1beta1/tiers/calico-migrated") is None
    assert clean_cluster.get_optional("/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/allow-https") is None


def test_a_changed_object_is_configured_and_dry_run_reports_it_without_storing(clean_cluster: KubeClient) -> None:
    apply_objects(clean_cluster, [tier(), acnp(port=443)])

    preview = apply_objects(clean_cluster, [tier(), acnp(port=8443)], dry_run=True)
    assert [a.action for a in preview.objects] == [Action.UNCHANGED, Action.CONFIGURED]
    stored = clean_cluster.get("/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/allow-https")
    assert stored["spec"]["ingress"][0]["ports"][0]["port"] == 443

    applied = apply_objects(clean_cluster, [tier(), acnp(port=8443)])
    assert [a.action for a in applied.objects] == [Action.UNCHANGED, Action.CONFIGURED]
    stored = clean_cluster.get("/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/allow-https")
    assert stored["spec"]["ingress"][0]["ports"][0]["port"] == 8443


def test_an_invalid_object_fails_alone_and_the_others_are_applied(clean_cluster: KubeClient) -> None:
    broken = acnp("broken")
    broken["spec"]["priority"] = 0  # the CRD schema's minimum is 1: 422 Invalid

    result = apply_objects(clean_cluster, [tier(), broken, acnp("fine")])

    outcome = {a.name: a for a in result.objects}
    assert outcome["broken"].action is Action.FAILED
    assert "422" in outcome["broken"].error and "spec.priority" in outcome["broken"].error
    assert outcome["fine"].action is Action.CREATED
    assert [a.name for a in result.failed] == ["broken"]
    assert clean_cluster.get_optional("/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/fine") is not None


def test_a_field_owned_by_another_manager_is_a_conflict_unless_forced(clean_cluster: KubeClient) -> None:
    other = copy.deepcopy(tier(priority=50))
    clean_cluster.request(
        "PATCH",
        "/apis/crd.antrea.io/v1beta1/tiers/calico-migrated",
        query={"fieldManager": "someone-else"},
        body=other,
        content_type="application/apply-patch+yaml",
    )

    refused = apply_objects(clean_cluster, [tier(priority=100)])
    assert refused.objects[0].action is Action.FAILED and "409" in refused.objects[0].error

    forced = apply_objects(clean_cluster, [tier(priority=100)], force=True)
    assert forced.objects[0].action is Action.CONFIGURED
    assert clean_cluster.get("/apis/crd.antrea.io/v1beta1/tiers/calico-migrated")["spec"]["priority"] == 100


def test_namespaced_objects_land_in_their_namespace(clean_cluster: KubeClient, namespace: str) -> None:
    annp = {
        "apiVersion": ANTREA,
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-egress", "namespace": namespace},
        "spec": {
            "priority": 10,
            "tier": "calico-migrated",
            "appliedTo": [{"podSelector": {}}],
            "egress": [{"action": "Drop"}],
        },
    }
    result = apply_objects(clean_cluster, [annp, tier()])

    assert [(a.kind, a.namespace, a.action) for a in result.objects] == [
        ("Tier", "", Action.CREATED),
        ("NetworkPolicy", namespace, Action.CREATED),
    ]
    assert clean_cluster.get_optional(f"/apis/crd.antrea.io/v1beta1/namespaces/{namespace}/networkpolicies/deny-egress")


def test_a_kind_the_cluster_does_not_serve_is_a_cluster_error(clean_cluster: KubeClient) -> None:
    unknown = {"apiVersion": "crd.antrea.io/v1beta1", "kind": "NoSuchKind", "metadata": {"name": "x"}}
    with pytest.raises(ClusterError, match=r"does not serve NoSuchKind in crd\.antrea\.io/v1beta1"):
        apply_objects(clean_cluster, [unknown])


def test_backup_of_calico_policies_restores_them_with_kubectl(
    control_plane: ControlPlane, clean_cluster: KubeClient, namespace: str, tmp_path: Path
) -> None:
    o.create(clean_cluster, o.global_network_policy("allow-https", order=10))
    o.create(clean_cluster, o.calico_network_policy("deny-egress", namespace))
    policies = read_snapshot(clean_cluster).calico_objects
    mine = [p for p in policies if p["metadata"]["name"] in ("allow-https", "deny-egress")]
    when = datetime.datetime(2026, 11, 22, 21, 30, 5, tzinfo=datetime.UTC)

    path = backup_objects(mine, tmp_path / "backups", now=when)
    second = backup_objects(mine, tmp_path / "backups", now=when)

    assert path.name == "calico-backup-20261122T213005Z.yaml"
    assert second.name == "calico-backup-20261122T213005Z-2.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == [
        ("GlobalNetworkPolicy", "allow-https"),
        ("NetworkPolicy", "deny-egress"),
    ]
    assert all("resourceVersion" not in d["metadata"] and "managedFields" not in d["metadata"] for d in docs)

    clean_cluster.request("DELETE", "/apis/crd.projectcalico.org/v1/globalnetworkpolicies/allow-https")
    clean_cluster.request(
        "DELETE", f"/apis/crd.projectcalico.org/v1/namespaces/{namespace}/networkpolicies/deny-egress"
    )
    control_plane.kubectl("apply", "--server-side", "-f", str(path))

    restored = clean_cluster.get("/apis/crd.projectcalico.org/v1/globalnetworkpolicies/allow-https")
    backed_up = next(d for d in docs if d["kind"] == "GlobalNetworkPolicy")
    assert restored["spec"] == backed_up["spec"]
    assert restored["spec"]["ingress"] == o.global_network_policy("allow-https")["spec"]["ingress"]
    assert clean_cluster.get_optional(
        f"/apis/crd.projectcalico.org/v1/namespaces/{namespace}/networkpolicies/deny-egress"
    )


def test_backup_into_an_unwritable_place_is_a_cluster_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ClusterError, match="cannot write the backup"):
        backup_objects([tier()], blocker / "sub")
