"""SetCni on a temp host tree: Calico pinned in front of Antrea for rollback, back to Multus or Antrea, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubectl_antrea_migrate.nodestate.model import CALICO_PIN_FILE, CniNetwork, Outcome, Owner, Result
from node_agent.cni import CniDir
from node_agent.node import Node
from tests.node.conftest import ANTREA_CONFLIST, CALICO_CONFLIST, write_cni

pytestmark = pytest.mark.node

PIN = f"file={CALICO_PIN_FILE}"
MULTUS = "file=00-multus.conf"


@pytest.fixture
def host_root(tmp_path: Path) -> Path:
    """A node after "Antrea installed beside Calico": both confs, Antrea's in force."""
    root = tmp_path / "host"
    write_cni(root)
    assert CniDir(root).scan().report.active == "10-antrea.conflist"
    return root


def _conf_dir(root: Path) -> Path:
    return root / "etc/cni/net.d"


def _backup(root: Path) -> Path:
    return root / "var/lib/antrea-migrate/backup"


def _active(root: Path) -> tuple[str | None, Owner | None]:
    report = CniDir(root).scan().report
    owner = next((c.owner for c in report.confs if c.file == report.active), None)
    return report.active, owner


def _tree(root: Path) -> dict[str, str]:
    """Every file under the host root with its content: what a dry run must leave identical."""
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _results(outcomes: tuple[Outcome, ...]) -> list[tuple[str, str, Result]]:
    return [(o.object, o.action, o.result) for o in outcomes]


def test_calico_pins_a_copy_of_calicos_conf_in_front_of_antreas_and_antrea_removes_it(host_root: Path) -> None:
    node = Node("node-a", host_root)
    calico_bytes = (_conf_dir(host_root) / "10-calico.conflist").read_bytes()

    outcomes = node.set_cni(CniNetwork.CALICO, dry_run=False)

    assert _results(outcomes) == [(PIN, "write", Result.DONE), (MULTUS, "move-to-backup", Result.ABSENT)]
    assert "copy of 10-calico.conflist" in outcomes[0].detail
    assert _active(host_root) == (CALICO_PIN_FILE, Owner.CALICO)
    # Byte for byte: same network name, so Calico IPAM handles and CNI DEL keep working.
    assert (_conf_dir(host_root) / CALICO_PIN_FILE).read_bytes() == calico_bytes
    assert json.loads(calico_bytes)["name"] == "k8s-pod-network"
    assert not list(_conf_dir(host_root).glob(".*")), "no temp file left behind"

    # antrea-agent rewrites its conf whenever it restarts: the pin still wins.
    (_conf_dir(host_root) / "10-antrea.conflist").write_text(json.dumps(ANTREA_CONFLIST))
    assert _active(host_root) == (CALICO_PIN_FILE, Owner.CALICO)

    back = node.set_cni(CniNetwork.ANTREA, dry_run=False)

    assert _results(back) == [(MULTUS, "move-to-backup", Result.ABSENT), (PIN, "move-to-backup", Result.DONE)]
    assert _active(host_root) == ("10-antrea.conflist", Owner.ANTREA)
    assert (_backup(host_root) / CALICO_PIN_FILE).read_bytes() == calico_bytes
    assert sorted(p.name for p in _conf_dir(host_root).iterdir()) == [
        "10-antrea.conflist",
        "10-calico.conflist",
        "calico-kubeconfig",
    ]


def test_calico_from_multus_removes_multus_and_multus_again_delegates_to_calicos_original(host_root: Path) -> None:
    node = Node("node-a", host_root)
    node.set_cni(CniNetwork.MULTUS, dry_run=False)
    assert _active(host_root) == ("00-multus.conf", Owner.MULTUS)

    to_calico = node.set_cni(CniNetwork.CALICO, dry_run=False)

    assert _results(to_calico) == [(PIN, "write", Result.DONE), (MULTUS, "move-to-backup", Result.DONE)]
    assert _active(host_root) == (CALICO_PIN_FILE, Owner.CALICO)

    to_multus = node.set_cni(CniNetwork.MULTUS, dry_run=False)

    assert _results(to_multus) == [(MULTUS, "write", Result.DONE), (PIN, "move-to-backup", Result.DONE)]
    assert _active(host_root) == ("00-multus.conf", Owner.MULTUS)
    delegates = json.loads((_conf_dir(host_root) / "00-multus.conf").read_text())["delegates"]
    assert delegates == [CALICO_CONFLIST, ANTREA_CONFLIST]


def test_second_call_is_all_absent_and_dry_run_changes_nothing(host_root: Path) -> None:
    node = Node("node-a", host_root)
    (_conf_dir(host_root) / "00-multus.conf").write_text(
        json.dumps({"cniVersion": "0.3.1", "name": "antrea-migrate-multus", "type": "multus", "delegates": []})
    )
    before = _tree(host_root)

    planned = node.set_cni(CniNetwork.CALICO, dry_run=True)

    assert _results(planned) == [(PIN, "write", Result.PLANNED), (MULTUS, "move-to-backup", Result.PLANNED)]
    assert _tree(host_root) == before
    assert not _backup(host_root).exists()

    node.set_cni(CniNetwork.CALICO, dry_run=False)
    after_first = _tree(host_root)
    again = node.set_cni(CniNetwork.CALICO, dry_run=False)

    assert [o.result for o in again] == [Result.ABSENT, Result.ABSENT]
    assert _tree(host_root) == after_first, "an identical pin is neither rewritten nor backed up"
    assert [o.result for o in node.set_cni(CniNetwork.CALICO, dry_run=True)] == [Result.ABSENT, Result.ABSENT]


def test_calico_refreshes_a_stale_pin_and_backs_up_the_old_one(host_root: Path) -> None:
    node = Node("node-a", host_root)
    node.set_cni(CniNetwork.CALICO, dry_run=False)
    old_pin = (_conf_dir(host_root) / CALICO_PIN_FILE).read_text()
    upgraded = {**CALICO_CONFLIST, "cniVersion": "1.0.0"}  # Calico's install-cni rewrote its conf
    (_conf_dir(host_root) / "10-calico.conflist").write_text(json.dumps(upgraded))

    outcomes = node.set_cni(CniNetwork.CALICO, dry_run=False)

    assert _results(outcomes)[0] == (PIN, "write", Result.DONE) and "backed up" in outcomes[0].detail
    assert json.loads((_conf_dir(host_root) / CALICO_PIN_FILE).read_text()) == upgraded
    assert (_backup(host_root) / CALICO_PIN_FILE).read_text() == old_pin


def test_calico_is_refused_once_calicos_conf_is_gone_and_nothing_changes(host_root: Path) -> None:
    node = Node("node-a", host_root)
    node.set_cni(CniNetwork.CALICO, dry_run=False)
    cni = CniDir(host_root)
    removed = cni.apply(CniDir.plan_remove_calico(cni.scan()))  # what the Calico cleanup does with the files
    assert {o.object for o in removed} == {PIN, "file=10-calico.conflist", "file=calico-kubeconfig"}
    assert _active(host_root) == ("10-antrea.conflist", Owner.ANTREA), "the cleanup takes the pin too"
    before = _tree(host_root)

    for dry_run in (True, False):
        outcomes = node.set_cni(CniNetwork.CALICO, dry_run=dry_run)

        assert _results(outcomes) == [(PIN, "write", Result.FAILED)]
        assert outcomes[0].detail.startswith("Calico's CNI conf is gone: rollback is no longer possible")
        assert _tree(host_root) == before


def test_calico_is_refused_when_another_conf_sorts_before_the_pin(host_root: Path) -> None:
    foreign = {"cniVersion": "0.3.1", "name": "cilium", "plugins": [{"type": "cilium-cni"}]}
    (_conf_dir(host_root) / "00-aaa-cilium.conflist").write_text(json.dumps(foreign))
    before = _tree(host_root)

    outcomes = Node("node-a", host_root).set_cni(CniNetwork.CALICO, dry_run=False)

    assert _results(outcomes) == [(PIN, "write", Result.FAILED)]
    assert "00-aaa-cilium.conflist sorts before" in outcomes[0].detail
    assert _tree(host_root) == before


def test_calico_single_plugin_conf_is_pinned_as_a_conflist_like_libcni(host_root: Path) -> None:
    conf_dir = _conf_dir(host_root)
    (conf_dir / "10-calico.conflist").unlink()
    plugin = {"cniVersion": "0.3.1", "name": "k8s-pod-network", "type": "calico", "ipam": {"type": "calico-ipam"}}
    (conf_dir / "10-calico.conf").write_text(json.dumps(plugin))

    outcomes = Node("node-a", host_root).set_cni(CniNetwork.CALICO, dry_run=False)

    assert [o.result for o in outcomes] == [Result.DONE, Result.ABSENT]
    assert json.loads((conf_dir / CALICO_PIN_FILE).read_text()) == {
        "name": "k8s-pod-network",
        "cniVersion": "0.3.1",
        "plugins": [plugin],
    }
    assert _active(host_root) == (CALICO_PIN_FILE, Owner.CALICO)


def test_a_failed_write_stops_before_the_next_file(host_root: Path) -> None:
    """The pin cannot be written (a directory holds its name): Multus stays, so Antrea never takes over."""
    node = Node("node-a", host_root)
    node.set_cni(CniNetwork.MULTUS, dry_run=False)
    (_conf_dir(host_root) / CALICO_PIN_FILE).mkdir()

    outcomes = node.set_cni(CniNetwork.CALICO, dry_run=False)

    assert _results(outcomes) == [(PIN, "write", Result.FAILED), (MULTUS, "move-to-backup", Result.SKIPPED)]
    assert outcomes[1].detail == "not attempted: an earlier change failed"
    assert _active(host_root) == ("00-multus.conf", Owner.MULTUS)


def test_antrea_and_calico_leave_a_multus_conf_someone_else_wrote(host_root: Path) -> None:
    theirs = '{"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus", "delegates": []}'
    (_conf_dir(host_root) / "00-multus.conf").write_text(theirs)
    node = Node("node-a", host_root)

    to_calico = node.set_cni(CniNetwork.CALICO, dry_run=False)
    to_antrea = node.set_cni(CniNetwork.ANTREA, dry_run=False)

    assert _results(to_calico) == [(PIN, "write", Result.DONE), (MULTUS, "move-to-backup", Result.SKIPPED)]
    assert _results(to_antrea) == [(MULTUS, "move-to-backup", Result.SKIPPED), (PIN, "move-to-backup", Result.DONE)]
    assert (_conf_dir(host_root) / "00-multus.conf").read_text() == theirs
