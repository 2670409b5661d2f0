"""``antrea-migrate-agent serve``: parse and check the flags, build the servicer, serve over mutual TLS.

  antrea-migrate-agent serve --listen HOST:PORT --tls-dir DIR [--host-root PATH] [--cri-endpoint URI]
                             [--node-name NAME]

mTLS only: ``ca.crt``, ``tls.crt`` and ``tls.key`` in ``--tls-dir`` (the mounted Secret
``antrea-migrate-agent-tls``); a client must present a certificate signed by that CA. There is no
plaintext mode. Bad flags exit with code 2 and one message naming the flag.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import grpc

from node_agent.node import Node
from node_agent.sandboxes import Sandboxes, find_endpoint
from node_agent.server import AgentServicer, SandboxPort, agent_version, register

__all__ = ["ServeOptions", "main", "parse_args", "serve"]

log = logging.getLogger("node_agent")

TLS_FILES = ("ca.crt", "tls.crt", "tls.key")
_GRACE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Checked ``serve`` flags."""

    listen: str
    tls_dir: Path
    host_root: Path
    cri_endpoint: str | None
    node_name: str


def _listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r}: expected HOST:PORT, e.g. 0.0.0.0:9443 or [::]:9443")
    bare = host.strip("[]")
    if ":" in bare:  # an IPv6 literal must be valid and bracketed
        try:
            ipaddress.IPv6Address(bare)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: {bare!r} is not an IPv6 address") from None
        if not host.startswith("["):
            raise argparse.ArgumentTypeError(f"{value!r}: write IPv6 addresses in brackets, e.g. [::]:9443")
    return value


def _cri_endpoint(value: str) -> str:
    path = value.removeprefix("unix://")
    if not path.startswith("/"):
        raise argparse.ArgumentTypeError(f"{value!r}: expected unix:///path/to.sock or an absolute socket path")
    return f"unix://{path}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="antrea-migrate-agent", description="kubectl antrea-migrate node agent")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="serve the agent API over mutual TLS")
    serve_cmd.add_argument("--listen", required=True, type=_listen, help="HOST:PORT to listen on")
    serve_cmd.add_argument("--tls-dir", required=True, type=Path, help="directory with ca.crt, tls.crt, tls.key")
    serve_cmd.add_argument("--host-root", type=Path, default=Path("/"), help="prefix of host paths (default /)")
    serve_cmd.add_argument("--cri-endpoint", type=_cri_endpoint, help="CRI socket (default: auto-detect)")
    serve_cmd.add_argument("--node-name", help="node name (default: $NODE_NAME, else the hostname)")
    return parser


def parse_args(argv: Sequence[str]) -> ServeOptions:
    """Parse and check the flags; exits with code 2 and a message naming the bad flag.

    Args:
        argv: arguments without the program name.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    missing = [name for name in TLS_FILES if not (args.tls_dir / name).is_file()]
    if not args.tls_dir.is_dir():
        parser.error(f"--tls-dir {args.tls_dir}: not a directory")
    if missing:
        parser.error(f"--tls-dir {args.tls_dir}: missing {', '.join(missing)} (needs {', '.join(TLS_FILES)})")
    if not args.host_root.is_dir():
        parser.error(f"--host-root {args.host_root}: not a directory")
    node_name = args.node_name or os.environ.get("NODE_NAME") or socket.gethostname()
    return ServeOptions(args.listen, args.tls_dir, args.host_root, args.cri_endpoint, node_name)


def _credentials(tls_dir: Path) -> grpc.ServerCredentials:
    ca, cert, key = ((tls_dir / name).read_bytes() for name in TLS_FILES)
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)


def serve(options: ServeOptions, stop: threading.Event | None = None) -> int:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set); returns the exit code.

    Args:
        options: checked flags.
        stop: set it to stop serving (tests, embedding); signals set it too.
    """
    stop = stop or threading.Event()

    def sandboxes() -> SandboxPort:
        return Sandboxes(find_endpoint(options.host_root, options.cri_endpoint))

    servicer = AgentServicer(options.node_name, Node(options.node_name, options.host_root), sandboxes)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    register(server, servicer)
    try:
        credentials = _credentials(options.tls_dir)
    except OSError as exc:
        print(f"antrea-migrate-agent: --tls-dir {options.tls_dir}: {exc}", file=sys.stderr)
        return 2
    try:
        port = server.add_secure_port(options.listen, credentials)
    except RuntimeError as exc:
        port, reason = 0, str(exc)
    else:
        reason = "address unavailable or in use"
    if port == 0:
        print(f"antrea-migrate-agent: cannot listen on --listen {options.listen}: {reason}", file=sys.stderr)
        return 3

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    server.start()
    log.info(
        "serving version=%s node=%s listen=%s host_root=%s",
        agent_version(),
        options.node_name,
        options.listen,
        options.host_root,
    )
    stop.wait()
    server.stop(_GRACE_SECONDS).wait()
    log.info("stopped node=%s", options.node_name)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    options = parse_args(sys.argv[1:] if argv is None else argv)
    return serve(options)


if __name__ == "__main__":
    sys.exit(main())
