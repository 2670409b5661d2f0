"""The CNI conf dir under a temp host root: which conf wins, Multus on/off (atomic, backed up), Calico files out."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from kubectl_antrea_migrate.nodestate.model import Owner, Result
from node_agent.cni import MULTUS_KUBECONFIG, CniDir, WriteFile
from node_agent.node import Node
from tests.node.conftest import ANTREA_CONFLIST, CALICO_CONFLIST, write_cni

pytestmark = pytest.mark.node


@pytest.fixture
def host_root(tmp_path: Path) -> Path:
    """A host tree with Calico's and Antrea's confs and Calico's kubeconfig."""
    root = tmp_path / "host"
    write_cni(root)
    return root


def _conf_dir(root: Path) -> Path:
    return root / "etc/cni/net.d"


def _backup(root: Path) -> Path:
    return root / "var/lib/antrea-migrate/backup"


def test_lexically_first_valid_conf_wins_multus_then_antrea_then_calico(host_root: Path) -> None:
    conf_dir = _conf_dir(host_root)
    (conf_dir / "05-broken.conflist").write_text('{"name": "x", "plugins": [')  # sorts first, not JSON
    (conf_dir / "07-noplugins.conflist").write_text('{"name": "x", "cniVersion": "0.3.1"}')
    node = Node("node-a", host_root)

    report = CniDir(host_root).scan().report
    assert report.active == "10-antrea.conflist"
    assert [(c.file, c.valid) for c in report.confs] == [
        ("05-broken.conflist", False),
        ("07-noplugins.conflist", False),
        ("10-antrea.conflist", True),
        ("10-calico.conflist", True),
    ]
    assert report.confs[0].error.startswith("not JSON")
    assert report.confs[1].error == "conflist has no 'plugins'"

    node.set_multus(True, dry_run=False)
    report = CniDir(host_root).scan().report
    assert report.active == "00-multus.conf"
    assert {c.file: c.owner for c in report.confs if c.valid} == {
        "00-multus.conf": Owner.MULTUS,
        "10-antrea.conflist": Owner.ANTREA,
        "10-calico.conflist": Owner.CALICO,
    }

    (conf_dir / "10-antrea.conflist").unlink()
    node.set_multus(False, dry_run=False)
    assert CniDir(host_root).scan().report.active == "10-calico.conflist"


def test_multus_on_delegates_to_calico_first_then_antrea(host_root: Path) -> None:
    outcomes = Node("node-a", host_root).set_multus(True, dry_run=False)

    assert [(o.object, o.action, o.result) for o in outcomes] == [("file=00-multus.conf", "write", Result.DONE)]
    doc = json.loads((_conf_dir(host_root) / "00-multus.conf").read_text())
    assert doc["type"] == "multus" and doc["kubeconfig"] == MULTUS_KUBECONFIG
    assert doc["cniVersion"] == CALICO_CONFLIST["cniVersion"]
    assert doc["delegates"] == [CALICO_CONFLIST, ANTREA_CONFLIST]
    assert not list(_conf_dir(host_root).glob(".*")), "no temp file left behind"


def test_multus_on_twice_is_absent_and_dry_run_writes_nothing(host_root: Path) -> None:
    node = Node("node-a", host_root)
    planned = node.set_multus(True, dry_run=True)
    assert [o.result for o in planned] == [Result.PLANNED]
    assert not (_conf_dir(host_root) / "00-multus.conf").exists()

    node.set_multus(True, dry_run=False)
    again = node.set_multus(True, dry_run=False)

    assert [o.result for o in again] == [Result.ABSENT]
    assert not _backup(host_root).exists(), "an identical conf is not rewritten nor backed up"


def test_multus_on_backs_up_the_conf_it_replaces(host_root: Path) -> None:
    old = '{"cniVersion": "0.3.1", "name": "antrea-migrate-multus", "type": "multus", "delegates": []}\n'
    (_conf_dir(host_root) / "00-multus.conf").write_text(old)

    outcomes = Node("node-a", host_root).set_multus(True, dry_run=False)

    assert outcomes[0].result is Result.DONE and "backed up" in outcomes[0].detail
    assert (_backup(host_root) / "00-multus.conf").read_text() == old
    assert json.loads((_conf_dir(host_root) / "00-multus.conf").read_text())["delegates"][0] == CALICO_CONFLIST


def test_multus_off_moves_it_to_backup_and_is_idempotent(host_root: Path) -> None:
    node = Node("node-a", host_root)
    node.set_multus(True, dry_run=False)
    written = (_conf_dir(host_root) / "00-multus.conf").read_text()

    first = node.set_multus(False, dry_run=False)
    second = node.set_multus(False, dry_run=False)

    assert [o.result for o in first] == [Result.DONE]
    assert [o.result for o in second] == [Result.ABSENT]
    assert not (_conf_dir(host_root) / "00-multus.conf").exists()
    assert (_backup(host_root) / "00-multus.conf").read_text() == written


def test_multus_off_leaves_a_multus_conf_it_did_not_write(host_root: Path) -> None:
    theirs = '{"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus", "delegates": []}'
    (_conf_dir(host_root) / "00-multus.conf").write_text(theirs)

    outcomes = Node("node-a", host_root).set_multus(False, dry_run=False)

    assert [o.result for o in outcomes] == [Result.SKIPPED]
    assert "not written by antrea-migrate" in outcomes[0].detail
    assert (_conf_dir(host_root) / "00-multus.conf").read_text() == theirs


def test_multus_on_without_an_antrea_conf_fails_and_says_why(host_root: Path) -> None:
    (_conf_dir(host_root) / "10-antrea.conflist").unlink()

    outcomes = Node("node-a", host_root).set_multus(True, dry_run=False)

    assert [o.result for o in outcomes] == [Result.FAILED]
    assert "no valid Antrea conf" in outcomes[0].detail
    assert not (_conf_dir(host_root) / "00-multus.conf").exists()


def test_conf_write_is_atomic_for_a_concurrent_reader(host_root: Path) -> None:
    """A reader polling the file while it is rewritten never sees a partial or missing conf."""
    cni = CniDir(host_root)
    target = _conf_dir(host_root) / "00-multus.conf"
    contents = [
        json.dumps({"name": "antrea-migrate-multus", "type": "multus", "pad": "x" * 200_000, "n": n}) for n in range(2)
    ]
    cni.apply((WriteFile("00-multus.conf", contents[0]),))
    bad: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                json.loads(target.read_text())
            except (ValueError, FileNotFoundError) as exc:
                bad.append(repr(exc)[:80])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(60):
            cni.apply((WriteFile("00-multus.conf", contents[(n + 1) % 2]),))
    finally:
        stop.set()
        reader.join()
    assert bad == []


def test_remove_calico_moves_conf_and_kubeconfig_to_backup(host_root: Path) -> None:
    cni = CniDir(host_root)
    actions = CniDir.plan_remove_calico(cni.scan())

    outcomes = cni.apply(actions)

    assert [(o.object, o.result) for o in outcomes] == [
        ("file=10-calico.conflist", Result.DONE),
        ("file=calico-kubeconfig", Result.DONE),
    ]
    assert sorted(p.name for p in _conf_dir(host_root).iterdir()) == ["10-antrea.conflist"]
    assert json.loads((_backup(host_root) / "10-calico.conflist").read_text()) == CALICO_CONFLIST
    assert [o.result for o in cni.apply(actions)] == [Result.ABSENT, Result.ABSENT]
