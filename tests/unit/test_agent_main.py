"""``antrea-migrate-agent serve`` flags: bad ones exit 2 with one message naming the flag; never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_antrea_migrate.agents.tls import generate, write_tls_dir
from node_agent.main import parse_args, serve


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    return write_tls_dir(generate(), tmp_path / "tls")


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


def test_good_flags_are_parsed(tls_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_NAME", "worker-3")

    options = parse_args(
        ["serve", "--listen", "[::]:9443", "--tls-dir", str(tls_dir), "--host-root", str(tmp_path), "--cri-endpoint",
         "/run/k3s/containerd/containerd.sock"]
    )  # fmt: skip

    assert options.listen == "[::]:9443"
    assert options.node_name == "worker-3"
    assert options.cri_endpoint == "unix:///run/k3s/containerd/containerd.sock"
    assert options.host_root == tmp_path


def test_node_name_flag_beats_the_environment(tls_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_NAME", "from-env")

    options = parse_args(["serve", "--listen", "0.0.0.0:1", "--tls-dir", str(tls_dir), "--node-name", "from-flag"])

    assert options.node_name == "from-flag"


@pytest.mark.parametrize(
    ("listen", "text"),
    [
        ("9443", "expected HOST:PORT"),
        ("0.0.0.0:99999", "expected HOST:PORT"),
        ("::1:9443", "write IPv6 addresses in brackets"),
        ("[fe80::zz]:9443", "is not an IPv6 address"),
    ],
)
def test_bad_listen_names_the_flag(listen: str, text: str, tls_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["serve", "--listen", listen, "--tls-dir", str(tls_dir)], capsys)

    assert "--listen" in err and text in err


def test_tls_dir_without_the_server_files_lists_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ca.crt").write_text("x")

    err = _error(["serve", "--listen", "0.0.0.0:9443", "--tls-dir", str(tmp_path)], capsys)

    assert f"--tls-dir {tmp_path}: missing tls.crt, tls.key" in err


def test_missing_host_root_and_relative_cri_endpoint_are_refused(
    tls_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["serve", "--listen", "0.0.0.0:9443", "--tls-dir", str(tls_dir)]

    assert f"--host-root {tmp_path / 'nope'}: not a directory" in _error(
        [*base, "--host-root", str(tmp_path / "nope")], capsys
    )
    assert "expected unix:///path/to.sock" in _error([*base, "--cri-endpoint", "run/containerd.sock"], capsys)


def test_plaintext_mode_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["serve", "--listen", "0.0.0.0:9443"], capsys)

    assert "--tls-dir" in err


def test_address_that_cannot_be_bound_exits_3(
    tls_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never a local address, so binding fails without touching the network.
    options = parse_args(
        ["serve", "--listen", "192.0.2.1:9443", "--tls-dir", str(tls_dir), "--host-root", str(tmp_path)]
    )

    assert serve(options) == 3
    assert "cannot listen on --listen 192.0.2.1:9443" in capsys.readouterr().err


def test_console_script_reports_bad_flags_without_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "node_agent.main", "serve", "--listen", "nope", "--tls-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )

    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "argument --listen: 'nope': expected HOST:PORT" in proc.stderr
