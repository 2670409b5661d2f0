"""The CNI conf dir (``{host_root}/etc/cni/net.d``): which conf the runtime uses, which network is put in force
(Calico, Multus, Antrea), Calico files out.

Design:
- The runtime loads the lexically first VALID file ending in ``.conf``, ``.conflist`` or ``.json``
  (libcni ``ConfFiles`` + sort, as CRI-O/ocicni and kubelet do). Validity follows libcni: JSON
  object; a ``.conflist`` needs ``name`` and a non-empty ``plugins`` list whose entries have a
  ``type``; a ``.conf``/``.json`` needs a ``type``.
- Ownership comes from plugin types: ``multus``/``multus-shim`` -> Multus, ``calico`` -> Calico,
  ``antrea`` -> Antrea.
- ``00-multus.conf`` (it sorts before ``10-antrea``/``10-calico``, so it wins) is a Multus *thin
  plugin* conf in the self-contained ``delegates`` style: no NetworkAttachmentDefinition needed.
  Multus calls every delegate for every pod, the first one giving ``eth0`` (the cluster network)::

      {"cniVersion": <Calico conf's>, "name": "antrea-migrate-multus", "type": "multus",
       "kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig",
       "delegates": [<Calico conflist, inline>, <Antrea conflist, inline>]}

  The name ``antrea-migrate-multus`` marks the file as ours: "off" never removes a Multus conf
  someone else wrote.
- Rollback cannot just move ``10-antrea.conflist`` aside: antrea-agent rewrites it. So Calico is
  *pinned* in front instead: ``00-antrea-migrate-calico.conflist`` (``CALICO_PIN_FILE``; "00-a" sorts
  before "00-multus" and "10-antrea") is a copy of Calico's own conflist, byte for byte. Same network
  name (``k8s-pod-network``) and plugins, so Calico IPAM handles (``<network>.<container id>``) and
  CNI DEL of pods made before or after the pin keep working. A Calico ``.conf``/``.json`` is wrapped
  into a one-plugin conflist the way libcni's ``ConfListFromConf`` does. Removing the pin (and our
  Multus conf) returns the node to "whatever sorts first". The pin is Calico-owned, so the Calico
  cleanup moves it away with Calico's files, and the Multus conf delegates to Calico's original.
- ``plan_cni`` orders its steps so that the file taking over is written before the one it replaces
  goes (pin before Multus off; Multus on before unpin): a run killed between two steps never leaves
  the node on a network nobody asked for. A step after a failed one is not attempted.
- Every write is atomic (temp file in the same dir, fsync, rename): the runtime never reads half a
  conf. Nothing is deleted: a replaced or removed file is moved (or copied, for a replacement) to
  ``{host_root}/var/lib/antrea-migrate/backup/``, never overwriting an earlier backup.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_antrea_migrate.nodestate.model import CALICO_PIN_FILE, CniConf, CniNetwork, CniScan, Outcome, Owner, Result

__all__ = [
    "BACKUP_DIR",
    "CALICO_KUBECONFIG",
    "CALICO_PIN_FILE",
    "CONF_DIR",
    "MULTUS_FILE",
    "MULTUS_KUBECONFIG",
    "MULTUS_NETWORK",
    "CniAction",
    "CniDir",
    "CniPlanError",
    "CniState",
    "CniStep",
    "MoveToBackup",
    "Unchanged",
    "WriteFile",
    "calico_pin_conf",
    "multus_conf",
    "parse_conf",
]

CONF_DIR = Path("etc/cni/net.d")
BACKUP_DIR = Path("var/lib/antrea-migrate/backup")
MULTUS_FILE = "00-multus.conf"
MULTUS_NETWORK = "antrea-migrate-multus"
MULTUS_KUBECONFIG = "/etc/cni/net.d/multus.d/multus.kubeconfig"
CALICO_KUBECONFIG = "calico-kubeconfig"
_CONF_EXTENSIONS = (".conf", ".conflist", ".json")


class CniPlanError(Exception):
    """The wanted CNI change cannot be planned on this node; ``str()`` says why and what is missing.

    ``refused`` is True when the tool deliberately leaves a file alone (not an error of the node);
    ``file`` and ``verb`` name the object and the change that could not be planned.
    """

    def __init__(self, message: str, refused: bool = False, *, file: str = MULTUS_FILE, verb: str = "write") -> None:
        self.refused = refused
        self.file = file
        self.verb = verb
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class CniState:
    """The conf dir as read: the report plus the text of every valid conf (for Multus delegates)."""

    report: CniScan
    texts: tuple[tuple[str, str], ...]  # (file name, content) of valid confs

    def text(self, name: str) -> str | None:
        """Content of the valid conf ``name``, or None."""
        return dict(self.texts).get(name)


@dataclass(frozen=True, slots=True)
class WriteFile:
    """Write ``content`` to ``name`` in the conf dir atomically, backing up what it replaces.

    ``note`` (e.g. what the content is a copy of) leads the outcome's detail.
    """

    name: str
    content: str
    note: str = ""

    def describe(self) -> tuple[str, str, str]:
        """(subsystem, object, action) for the outcome."""
        return "cni", f"file={self.name}", "write"


@dataclass(frozen=True, slots=True)
class MoveToBackup:
    """Move ``name`` out of the conf dir into the backup dir."""

    name: str

    def describe(self) -> tuple[str, str, str]:
        """(subsystem, object, action) for the outcome."""
        return "cni", f"file={self.name}", "move-to-backup"


@dataclass(frozen=True, slots=True)
class Unchanged:
    """Nothing to do for ``name``: already as wanted (ABSENT) or deliberately left alone (SKIPPED)."""

    name: str
    verb: str
    result: Result
    detail: str

    def describe(self) -> tuple[str, str, str]:
        """(subsystem, object, action) for the outcome."""
        return "cni", f"file={self.name}", self.verb

    def outcome(self) -> Outcome:
        """The outcome, the same in a dry run and a real one."""
        return Outcome(*self.describe(), self.result, self.detail)


CniAction = WriteFile | MoveToBackup
CniStep = WriteFile | MoveToBackup | Unchanged  # one per file ``plan_cni`` is about


def _owner(types: tuple[str, ...]) -> Owner:
    if any(t in ("multus", "multus-shim") for t in types):
        return Owner.MULTUS
    if "calico" in types:
        return Owner.CALICO
    if "antrea" in types:
        return Owner.ANTREA
    return Owner.OTHER


def parse_conf(name: str, text: str) -> CniConf:
    """Pure: judge one conf file the way libcni would load it."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return CniConf(name, "", (), False, f"not JSON: {exc}")
    if not isinstance(doc, dict):
        return CniConf(name, "", (), False, "not a JSON object")
    name_field = doc.get("name")
    network = name_field if isinstance(name_field, str) else ""
    if name.endswith(".conflist"):
        plugins = doc.get("plugins")
        if not network:
            return CniConf(name, "", (), False, "conflist has no 'name'")
        if not isinstance(plugins, list) or not plugins:
            return CniConf(name, network, (), False, "conflist has no 'plugins'")
        types = tuple(p.get("type", "") if isinstance(p, dict) else "" for p in plugins)
        if not all(types):
            return CniConf(name, network, types, False, "a plugin in 'plugins' has no 'type'", _owner(types))
        return CniConf(name, network, types, True, "", _owner(types))
    plugin_type = doc.get("type")
    if not isinstance(plugin_type, str) or not plugin_type:
        hint = "; perhaps this is a .conflist?" if "plugins" in doc else ""
        return CniConf(name, network, (), False, f"conf has no 'type'{hint}")
    return CniConf(name, network, (plugin_type,), True, "", _owner((plugin_type,)))


def calico_pin_conf(name: str, text: str) -> str:
    """Pure: the pin's content for Calico's conf ``name``: a conflist byte for byte, a conf wrapped as a conflist.

    The wrapping is libcni's ``ConfListFromConf``: ``{"name", "cniVersion", "plugins": [<the conf>]}``.
    """
    if name.endswith(".conflist"):
        return text
    doc: dict[str, Any] = json.loads(text)
    wrapped = {"name": doc.get("name", ""), "cniVersion": doc.get("cniVersion", ""), "plugins": [doc]}
    return json.dumps(wrapped, indent=2) + "\n"


def multus_conf(calico_text: str, antrea_text: str) -> str:
    """Pure: the ``00-multus.conf`` delegating first to Calico's conf, then to Antrea's."""
    calico: dict[str, Any] = json.loads(calico_text)
    antrea: dict[str, Any] = json.loads(antrea_text)
    doc = {
        "cniVersion": calico.get("cniVersion", "0.3.1"),
        "name": MULTUS_NETWORK,
        "type": "multus",
        "kubeconfig": MULTUS_KUBECONFIG,
        "delegates": [calico, antrea],
    }
    return json.dumps(doc, indent=2) + "\n"


class CniDir:
    """The CNI conf dir under ``host_root`` and the agent's backup dir."""

    def __init__(self, host_root: Path = Path("/")) -> None:
        """Aim at ``host_root`` (``/`` on a node, a temp tree in tests)."""
        self.conf_dir = host_root / CONF_DIR
        self.backup_dir = host_root / BACKUP_DIR

    def scan(self) -> CniState:
        """Read every conf (an absent dir is an empty one). Unreadable files are reported invalid."""
        confs: list[CniConf] = []
        texts: list[tuple[str, str]] = []
        others: list[str] = []
        entries = sorted(os.listdir(self.conf_dir)) if self.conf_dir.is_dir() else []
        for name in entries:
            path = self.conf_dir / name
            if not name.endswith(_CONF_EXTENSIONS) or not path.is_file():
                others.append(name + "/" if path.is_dir() else name)
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                confs.append(CniConf(name, "", (), False, f"unreadable: {exc}"))
                continue
            conf = parse_conf(name, text)
            confs.append(conf)
            if conf.valid:
                texts.append((name, text))
        active = next((c.file for c in confs if c.valid), None)
        return CniState(CniScan(str(self.conf_dir), tuple(confs), active, tuple(others)), tuple(texts))

    @staticmethod
    def plan_multus(state: CniState, enabled: bool) -> tuple[CniAction, ...]:
        """Pure: write (on) or move away (off) ``00-multus.conf``; () when already so.

        Raises:
            CniPlanError: "on" without a valid Calico and Antrea conf to delegate to; "off" when the
                Multus conf present was not written by this tool.
        """
        present = next((c for c in state.report.confs if c.file == MULTUS_FILE), None)
        if not enabled:
            if present is None:
                return ()
            if present.network != MULTUS_NETWORK:
                raise CniPlanError(
                    f"{MULTUS_FILE} was not written by antrea-migrate (name={present.network!r}): left in place",
                    refused=True,
                    verb="move-to-backup",
                )
            return (MoveToBackup(MULTUS_FILE),)
        calico = _first(state, Owner.CALICO)
        antrea = _first(state, Owner.ANTREA)
        missing = [who for who, conf in (("Calico", calico), ("Antrea", antrea)) if conf is None]
        if calico is None or antrea is None:
            raise CniPlanError(
                f"no valid {' or '.join(missing)} conf in {state.report.conf_dir}: Multus needs both to delegate to"
            )
        content = multus_conf(state.text(calico) or "", state.text(antrea) or "")
        if state.text(MULTUS_FILE) == content:
            return ()
        return (WriteFile(MULTUS_FILE, content),)

    @staticmethod
    def multus_step(state: CniState, enabled: bool) -> CniStep:
        """Pure: ``plan_multus`` as one step; "already so" is ABSENT, a foreign Multus conf SKIPPED.

        Raises:
            CniPlanError: "on" without a valid Calico and Antrea conf to delegate to.
        """
        verb = "write" if enabled else "move-to-backup"
        try:
            actions = CniDir.plan_multus(state, enabled)
        except CniPlanError as exc:
            if exc.refused:
                return Unchanged(MULTUS_FILE, verb, Result.SKIPPED, str(exc))
            raise
        if not actions:
            return Unchanged(MULTUS_FILE, verb, Result.ABSENT, "already written" if enabled else "no such file")
        return actions[0]

    @staticmethod
    def plan_cni(state: CniState, network: CniNetwork) -> tuple[CniStep, ...]:
        """Pure: put ``network``'s conf in force; one step per file (the pin, ``00-multus.conf``), in a safe order.

        CALICO: write the pin, then move our Multus conf away. MULTUS: write the Multus conf, then move
        the pin away. ANTREA: move both away. Files already as wanted are ABSENT steps.

        Raises:
            CniPlanError: CALICO with no Calico conf left to copy ("rollback is no longer possible"),
                or with another conf sorting before the pin; MULTUS without a Calico and an Antrea conf.
        """
        if network is CniNetwork.CALICO:
            steps = (_pin(state), CniDir.multus_step(state, enabled=False))
            _require_owner_in_force(state, steps, Owner.CALICO)
            return steps
        if network is CniNetwork.MULTUS:
            return (CniDir.multus_step(state, enabled=True), _unpin(state))
        return (CniDir.multus_step(state, enabled=False), _unpin(state))

    @staticmethod
    def plan_remove_calico(state: CniState) -> tuple[CniAction, ...]:
        """Pure: move every Calico conf (the pin too) and ``calico-kubeconfig`` to the backup dir."""
        names = [c.file for c in state.report.confs if c.owner is Owner.CALICO]
        if CALICO_KUBECONFIG in state.report.other_files:
            names.append(CALICO_KUBECONFIG)
        return tuple(MoveToBackup(name) for name in names)

    def apply(self, actions: tuple[CniAction, ...]) -> tuple[Outcome, ...]:
        """Run ``actions``; one outcome each. Idempotent: a file already moved away is ABSENT."""
        outcomes: list[Outcome] = []
        for action in actions:
            try:
                result, detail = self._write(action) if isinstance(action, WriteFile) else self._move(action)
            except OSError as exc:
                result, detail = Result.FAILED, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
            outcomes.append(Outcome(*action.describe(), result, detail))
        return tuple(outcomes)

    def apply_steps(self, steps: tuple[CniStep, ...]) -> tuple[Outcome, ...]:
        """Run ``steps`` in order; one outcome each. After a FAILED one the rest are SKIPPED, not attempted."""
        outcomes: list[Outcome] = []
        for step in steps:
            if any(o.result is Result.FAILED for o in outcomes):
                outcomes.append(Outcome(*step.describe(), Result.SKIPPED, "not attempted: an earlier change failed"))
            elif isinstance(step, Unchanged):
                outcomes.append(step.outcome())
            else:
                outcomes += self.apply((step,))
        return tuple(outcomes)

    def _write(self, action: WriteFile) -> tuple[Result, str]:
        target = self.conf_dir / action.name
        details = [action.note] if action.note else []
        if target.exists():
            if target.read_text(encoding="utf-8") == action.content:
                return Result.ABSENT, "; ".join(["already written", *details])
            backup = self._backup_path(action.name)
            shutil.copy2(target, backup)
            details.append(f"previous content backed up to {backup}")
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.conf_dir, prefix=f".{action.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(action.content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.conf_dir)
        return Result.DONE, "; ".join(details)

    def _move(self, action: MoveToBackup) -> tuple[Result, str]:
        source = self.conf_dir / action.name
        if not source.exists():
            return Result.ABSENT, "no such file"
        backup = self._backup_path(action.name)
        shutil.move(source, backup)
        _fsync_dir(self.conf_dir)
        return Result.DONE, f"moved to {backup}"

    def _backup_path(self, name: str) -> Path:
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        candidate = self.backup_dir / name
        counter = 1
        while candidate.exists():
            candidate = self.backup_dir / f"{name}.{counter}"
            counter += 1
        return candidate


def _first(state: CniState, owner: Owner) -> str | None:
    """The first valid conf of ``owner``, never the pin (Multus delegates to Calico's original)."""
    return next(
        (c.file for c in state.report.confs if c.valid and c.owner is owner and c.file != CALICO_PIN_FILE), None
    )


def _pin(state: CniState) -> CniStep:
    source = _first(state, Owner.CALICO)
    if source is None:
        raise CniPlanError(
            f"Calico's CNI conf is gone: rollback is no longer possible (no valid Calico conf in "
            f"{state.report.conf_dir}; the Calico cleanup moves it to /{BACKUP_DIR})",
            file=CALICO_PIN_FILE,
        )
    content = calico_pin_conf(source, state.text(source) or "")
    pinned = parse_conf(CALICO_PIN_FILE, content)
    if not pinned.valid:
        raise CniPlanError(f"cannot pin Calico's {source}: the copy is not a valid conflist ({pinned.error})",
                           file=CALICO_PIN_FILE)  # fmt: skip
    note = f"copy of {source}"
    if state.text(CALICO_PIN_FILE) == content:
        return Unchanged(CALICO_PIN_FILE, "write", Result.ABSENT, f"already written; {note}")
    return WriteFile(CALICO_PIN_FILE, content, note)


def _unpin(state: CniState) -> CniStep:
    if any(c.file == CALICO_PIN_FILE for c in state.report.confs):
        return MoveToBackup(CALICO_PIN_FILE)
    return Unchanged(CALICO_PIN_FILE, "move-to-backup", Result.ABSENT, "no such file")


def _require_owner_in_force(state: CniState, steps: tuple[CniStep, ...], owner: Owner) -> None:
    """Raise unless, after ``steps``, the lexically first valid conf belongs to ``owner``."""
    valid = {c.file: c.owner for c in state.report.confs if c.valid}
    for step in steps:
        if isinstance(step, MoveToBackup):
            valid.pop(step.name, None)
        elif isinstance(step, WriteFile):
            written = parse_conf(step.name, step.content)
            if written.valid:
                valid[step.name] = written.owner
            else:
                valid.pop(step.name, None)
    active = min(valid, default=None)
    if active is None or valid[active] is not owner:
        raise CniPlanError(
            f"{active} sorts before {CALICO_PIN_FILE} and would stay in force: rename or remove it, then retry",
            file=CALICO_PIN_FILE,
        )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
