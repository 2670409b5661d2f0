"""A node whose PATH lacks one backend's tools: that backend is reported unavailable, by binary name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kubectl_antrea_migrate.nodestate.model import Backend, Result
from node_agent.node import Node
from tests.node.conftest import BINARIES, CalicoNode, all_dumps

pytestmark = pytest.mark.node


@pytest.fixture
def path_without_legacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH = one dir with every tool the agent uses except the iptables-legacy ones."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in BINARIES:
        if "legacy" in name:
            continue
        found = shutil.which(name)
        assert found is not None
        # xtables-*-multi pick their personality from argv[0]: a same-named symlink keeps it.
        (bin_dir / name).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_missing_legacy_tools_make_the_backend_unavailable_with_the_binary_named(
    calico_node: CalicoNode, path_without_legacy: None
) -> None:
    report = Node("node-a", calico_node.host_root, calico_node.netns).report()

    legacy, nft = report.netfilter
    assert legacy.backend is Backend.LEGACY and not legacy.available and legacy.tables == ()
    assert legacy.error == "iptables-legacy-save not found on PATH (needed to read the legacy netfilter backend)"
    assert nft.available and nft.has_calico
    assert any("iptables-legacy-save not found" in warning for warning in report.warnings)


def test_cleanup_skips_the_missing_backend_and_cleans_the_other(
    calico_node: CalicoNode, path_without_legacy: None
) -> None:
    outcomes = Node("node-a", calico_node.host_root, calico_node.netns).cleanup_calico(dry_run=False)

    skipped = [o for o in outcomes if o.result is Result.SKIPPED]
    assert [(o.subsystem, o.object) for o in skipped] == [("netfilter", "backend=legacy chains=cali-*")]
    assert "iptables-legacy-save not found on PATH" in skipped[0].detail
    assert all(o.result is Result.DONE for o in outcomes if "backend=nft" in o.object)
    dumps = all_dumps(calico_node.netns)  # the test itself still reaches the legacy tools by full PATH
    assert not any("cali-" in line for line in dumps[("nft", 4)] + dumps[("nft", 6)])
    assert any("cali-" in line for line in dumps[("legacy", 4)])
