"""A stand-in for the Multus thin plugin (``type: multus``), for test nodes only.

multus-cni cannot be fetched from the Go module proxy on the test machines (every module path of it
answers 403), so this small CNI plugin does what Multus does with the self-contained ``delegates``
conf that ``antrea-migrate-agent`` writes as ``00-multus.conf``:

- ADD: call every delegate in order, the first with the runtime's interface name (``eth0``, the
  cluster network), the others with ``net1``, ``net2`` ...; return the first delegate's result.
  A delegate that is a conflist runs its plugin chain with ``prevResult``, as libcni does.
- DEL: call the delegates in reverse order; errors of one delegate do not stop the others.
- CHECK: accepted; VERSION: the usual answer.

What it leaves out: the kubeconfig (Multus reads pod annotations and NetworkAttachmentDefinitions;
this conf has none to read) and the default route of secondary delegates (Multus users give
secondary networks no default gateway; two default routes would make the second ADD fail).
Plugins are looked up in ``CNI_PATH``, as the runtime passed it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]


def _find_plugin(plugin_type: str) -> str:
    for directory in os.environ.get("CNI_PATH", "").split(os.pathsep):
        candidate = os.path.join(directory, plugin_type)
        if directory and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"CNI plugin {plugin_type!r} not found in CNI_PATH")


def _exec(plugin: dict[str, Any], command: str, ifname: str, stdin: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, CNI_COMMAND=command, CNI_IFNAME=ifname)
    done = subprocess.run(
        [_find_plugin(plugin["type"])], input=json.dumps(stdin).encode(), env=env, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stdout.decode(errors="replace") or done.stderr.decode(errors="replace"))
    return json.loads(done.stdout) if done.stdout.strip() else {}


def _plugins(delegate: dict[str, Any], secondary: bool) -> list[dict[str, Any]]:
    plugins = delegate.get("plugins") or [delegate]
    result = []
    for plugin in plugins:
        conf = dict(plugin, name=delegate["name"], cniVersion=delegate.get("cniVersion", "0.4.0"))
        ipam = conf.get("ipam")
        if secondary and isinstance(ipam, dict) and "routes" in ipam:
            conf["ipam"] = dict(ipam, routes=[r for r in ipam["routes"] if r.get("dst") not in ("0.0.0.0/0", "::/0")])
        result.append(conf)
    return result


def _ifname(index: int) -> str:
    return os.environ.get("CNI_IFNAME", "eth0") if index == 0 else f"net{index}"


def _add(delegates: list[dict[str, Any]]) -> dict[str, Any]:
    first: dict[str, Any] = {}
    for index, delegate in enumerate(delegates):
        previous: dict[str, Any] | None = None
        for plugin in _plugins(delegate, secondary=index > 0):
            stdin = dict(plugin, prevResult=previous) if previous is not None else plugin
            previous = _exec(plugin, "ADD", _ifname(index), stdin)
        if index == 0 and previous is not None:
            first = previous
    return first


def _delete(delegates: list[dict[str, Any]]) -> None:
    errors = []
    for index in reversed(range(len(delegates))):
        for plugin in reversed(_plugins(delegates[index], secondary=index > 0)):
            try:
                _exec(plugin, "DEL", _ifname(index), plugin)
            except RuntimeError as exc:
                errors.append(str(exc))
    if errors:
        raise RuntimeError("; ".join(errors))


def main() -> int:
    """Run one CNI command (``CNI_COMMAND``) with the conf on stdin; the result goes to stdout."""
    command = os.environ.get("CNI_COMMAND", "")
    if command == "VERSION":
        print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": _VERSIONS}))
        return 0
    conf = json.load(sys.stdin)
    try:
        if command == "ADD":
            result = _add(conf.get("delegates") or [])
            result["cniVersion"] = conf.get("cniVersion", result.get("cniVersion", "0.4.0"))
            print(json.dumps(result))
        elif command == "DEL":
            _delete(conf.get("delegates") or [])
    except RuntimeError as exc:
        print(json.dumps({"cniVersion": conf.get("cniVersion", "0.4.0"), "code": 999, "msg": str(exc)}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
