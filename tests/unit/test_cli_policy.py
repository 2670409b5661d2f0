"""The policy commands as a user runs them: exit codes, outputs, and one-line errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubectl_antrea_migrate.cli.app import main

EXAMPLES = str(Path(__file__).resolve().parents[2] / "examples")

UNSUPPORTED = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: by-prefix
spec:
  selector: app starts with 'web'
  ingress:
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: plain
spec:
  order: 10
  selector: app == 'db'
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports: [5432]
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_examples_reports_every_object_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "-f", EXAMPLES, "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["blocked"] is False
    names = {o["name"] for o in doc["objects"]}
    assert {"security.block-threat-feed", "frontend", "backend", "postgres", "threat-feed", "partners"} <= names
    postgres = next(o for o in doc["objects"] if o["name"] == "postgres")
    assert postgres["fidelity"] == "exact-with-notes"  # the Log rule: logging is lost, verdicts are not


def test_convert_examples_prints_tiers_then_groups_then_policies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "convert", "-f", EXAMPLES)
    assert code == 0
    docs = list(yaml.safe_load_all(out))
    kinds = [d["kind"] for d in docs]
    rank = {"Tier": 0, "ClusterGroup": 1, "Group": 1, "ClusterNetworkPolicy": 2, "NetworkPolicy": 2}
    assert [rank[k] for k in kinds] == sorted(rank[k] for k in kinds)
    assert "Tier" in kinds and "NetworkPolicy" in kinds and "ClusterNetworkPolicy" in kinds
    assert all(d["apiVersion"] == "crd.antrea.io/v1beta1" for d in docs)


def test_convert_is_byte_identical_across_runs(capsys: pytest.CaptureFixture[str]) -> None:
    first = run(capsys, "convert", "-f", EXAMPLES)[1]
    second = run(capsys, "convert", "-f", EXAMPLES)[1]
    assert first == second and first


def test_convert_refuses_unsupported_with_field_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "mixed.yaml"
    src.write_text(UNSUPPORTED)
    code, out, err = run(capsys, "convert", "-f", str(src))
    assert code == 1
    assert out == ""
    assert "by-prefix" in err and "spec.selector" in err and "unsupported" in err


def test_convert_partial_emits_the_rest(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "mixed.yaml"
    src.write_text(UNSUPPORTED)
    report = tmp_path / "fidelity.json"
    code, out, err = run(capsys, "convert", "-f", str(src), "--partial", "--report", str(report))
    assert code == 1
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(out) if d]
    assert any("plain" in n for n in names) and not any("by-prefix" in n for n in names)
    assert "guarantee lost" in err
    doc = json.loads(report.read_text())
    assert {o["name"]: o["fidelity"] for o in doc["objects"]}["by-prefix"] == "unsupported"


def test_check_exits_1_on_blockers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "mixed.yaml"
    src.write_text(UNSUPPORTED)
    code, out, _ = run(capsys, "check", "-f", str(src))
    assert code == 1
    assert "unsupported" in out and "by-prefix" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [unclosed\n", "bad.yaml"),
        (
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\n"
            "spec:\n  ingress:\n  - action: Allow\n    source: {selector: \"a == 'b\"}\n",
            "spec.ingress[0].source.selector",
        ),
        (
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\n"
            "spec:\n  ingress:\n  - action: Permit\n",
            "spec.ingress[0].action",
        ),
        ("apiVersion: projectcalico.org/v9\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\nspec: {}\n", "apiVersion"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: x, creationTimestamp: 2023-02-30}\n", "document 1"),
    ],
)
def test_bad_input_is_one_clear_error_with_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, expected: str
) -> None:
    src = tmp_path / "bad.yaml"
    src.write_text(text)
    code, out, err = run(capsys, "convert", "-f", str(src))
    assert code == 2
    assert out == ""
    assert expected in err and "bad.yaml" in err
    assert "Traceback" not in err


def test_missing_file_is_an_input_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "check", "-f", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml" in err and "Traceback" not in err


def test_dry_run_other_than_server_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "convert", "-f", EXAMPLES, "--apply", "--dry-run=client")
    assert code == 2
    assert "--dry-run" in err


@pytest.mark.parametrize("argv", [["check", "-o", "bogus", "-f", EXAMPLES], ["convert", "--nope"], ["nosuch"]])
def test_bad_options_exit_2_without_traceback(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err and "internal error" not in err


def test_verify_examples_finds_no_difference(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "-f", EXAMPLES)
    assert code == 0
    assert "no differences" in out and "probes" in out


def test_verify_catches_a_tampered_antrea_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    converted = list(yaml.safe_load_all(run(capsys, "convert", "-f", EXAMPLES)[1]))
    postgres = next(d for d in converted if d["kind"] == "NetworkPolicy" and "postgres" in d["metadata"]["name"])
    for rule in postgres["spec"]["ingress"]:
        if rule["action"] == "Drop":
            rule["action"] = "Allow"  # the mistake a hand-edited migration makes
    tampered = tmp_path / "antrea.yaml"
    tampered.write_text(yaml.safe_dump_all(converted))
    code, out, _ = run(capsys, "verify", "-f", EXAMPLES, "--antrea", str(tampered), "-o", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["differences"]
    assert all("postgres" in json.dumps(d["dst"]) for d in doc["differences"])


def test_verify_antrea_without_calico_inputs_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "verify", "--antrea", EXAMPLES)
    assert code == 2 and "--antrea" in err
