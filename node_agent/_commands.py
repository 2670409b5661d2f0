"""Run a node tool (iptables-*-save/-restore, ipset) inside the subsystem's network namespace.

Netfilter and ipset state is per network namespace. The child process is forked while the calling
thread sits in the target namespace (``_netlink.in_netns``), so it starts there: the same effect as
``ip netns exec NS``, without its extra mount namespace and without touching other threads.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from node_agent._netlink import in_netns

__all__ = ["CommandResult", "MissingBinaryError", "find_binary", "run"]


class MissingBinaryError(Exception):
    """A node tool the agent needs is not on PATH; ``str()`` names it."""

    def __init__(self, binary: str, purpose: str) -> None:
        self.binary = binary
        super().__init__(f"{binary} not found on PATH (needed to {purpose})")


@dataclass(frozen=True, slots=True)
class CommandResult:
    """Exit code and output of one tool run."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the tool exited 0."""
        return self.returncode == 0

    def error(self) -> str:
        """One line naming the tool, its exit code and its last stderr line."""
        lines = [line for line in self.stderr.splitlines() if line.strip() and not line.startswith("#")]
        tail = "; ".join(lines[:3]) if lines else "no error output"
        return f"{self.argv[0].rsplit('/', 1)[-1]} exited {self.returncode}: {tail}"


def find_binary(binary: str, purpose: str) -> str:
    """Absolute path of ``binary`` on PATH.

    Raises:
        MissingBinaryError: it is not there.
    """
    path = shutil.which(binary)
    if path is None:
        raise MissingBinaryError(binary, purpose)
    return path


def run(argv: Sequence[str], netns: str | None, stdin: str | None = None) -> CommandResult:
    """Run ``argv`` (argv[0] an absolute path) inside ``netns`` and capture its output.

    Raises:
        OSError: the namespace cannot be entered or the binary cannot be executed.
    """
    with in_netns(netns):
        done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=False)
    return CommandResult(tuple(argv), done.returncode, done.stdout, done.stderr)
