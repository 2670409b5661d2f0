"""A real Kubernetes control plane on loopback, for cluster tests, e2e tests and benchmarks.

Starts etcd, kube-apiserver and (optionally) kube-controller-manager built by
``scripts/build-k8s.sh``, each in its own process group, on free 127.0.0.1 ports, with every file
(certificates, keys, etcd data, logs, kubeconfigs) in one temp dir. RBAC is on
(``--authorization-mode=Node,RBAC``), so least-privilege roles are really tested; the Calico and
Antrea CRDs from ``../shared/upstream`` are installed and Established before ``start`` returns.

``start_control_plane`` always cleans up what it started when it fails half-way; ``ControlPlane.stop``
kills the process groups and removes the temp dir. Use it as a context manager::

    with start_control_plane() as cp:
        client = cp.client()

No kubelet runs here: tests create Node objects and patch Pod status through the status subresource,
as a kubelet would. The node lifecycle controller is off so such Nodes are never marked NotReady nor
their pods evicted.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubectl_antrea_migrate.cluster.client import ApiError, KubeClient, load_client
from tests.conftest import REPO, UPSTREAM

__all__ = [
    "BUILD_SCRIPT",
    "ControlPlane",
    "ControlPlaneError",
    "binary_dir",
    "crd_files",
    "missing_binaries",
    "start_control_plane",
]

BUILD_SCRIPT = REPO / "scripts" / "build-k8s.sh"
_GO_MOD = REPO / "scripts" / "k8s-build" / "go.mod"
_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubelet", "kubectl")
_SERVICE_CIDR = "10.96.0.0/12"
_READY_TIMEOUT_S = 90.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be started; the message carries the failing component's log tail."""


def k8s_version() -> str:
    """The pinned ``k8s.io/kubernetes`` version (``v1.36.3``), read from ``scripts/k8s-build/go.mod``."""
    for line in _GO_MOD.read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["k8s.io/kubernetes"] or parts[:2] == ["require", "k8s.io/kubernetes"]:
            return parts[-1]
    raise ControlPlaneError(f"no k8s.io/kubernetes requirement in {_GO_MOD}")


def binary_dir() -> Path:
    """Where ``scripts/build-k8s.sh`` puts the binaries (honours ``ANTREA_MIGRATE_CACHE``)."""
    cache = Path(os.environ.get("ANTREA_MIGRATE_CACHE", "/var/cache/antrea-migrate"))
    return cache / f"k8s-{k8s_version()}"


def missing_binaries(names: Iterable[str] = _BINARIES) -> list[str]:
    """The binaries among ``names`` that are not built yet (empty when all are there)."""
    bins = binary_dir()
    return [n for n in names if not os.access(bins / n, os.X_OK)]


def crd_files(upstream: Path = UPSTREAM) -> list[Path]:
    """The CRD manifests a test cluster gets: Calico ``crd.projectcalico.org`` and Antrea.

    The Calico ``projectcalico.org-v3`` CRDs are left out on purpose: a cluster served by the Calico API
    server (or by v3 CRDs) is a separate case tests set up themselves.
    """
    calico = sorted((upstream / "calico" / "crds").glob("*.yaml"))
    antrea = sorted((upstream / "antrea" / "crds").glob("*.yaml"))
    return calico + antrea


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        # Each component runs in its own session: signal the whole group, children included.
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue


@dataclass
class _CA:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def issue(
        self,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        server_names: Sequence[str] = (),
        server_ips: Sequence[str] = (),
        client: bool = True,
        server: bool = False,
    ) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        usages = ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else []) + (
            [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
        )
        builder = _cert_builder(x509.Name(attrs), self.cert.subject, key.public_key())
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return _pem_cert(cert), _pem_key(key)


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver (+ kube-controller-manager); stop it with ``stop()``.

    Attributes:
        workdir: temp dir holding every file of this control plane (removed by ``stop``).
        server: the apiserver URL, ``https://127.0.0.1:<port>``.
        ca_file: the cluster CA certificate (signs serving and client certificates).
        admin_kubeconfig: a kubeconfig for ``kubernetes-admin`` in ``system:masters``.
        bin_dir: where the binaries came from (``kubectl`` is there too).
    """

    workdir: Path
    server: str
    ca_file: Path
    admin_kubeconfig: Path
    bin_dir: Path
    _ca: _CA
    _processes: list[_Process] = field(default_factory=list)
    _keep_workdir: bool = False

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Kill every component (process groups) in reverse start order and remove the temp dir."""
        for proc in reversed(self._processes):
            proc.stop()
        self._processes.clear()
        if not self._keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def client(self, kubeconfig: Path | None = None) -> KubeClient:
        """A plugin ``KubeClient`` for ``kubeconfig`` (default: the admin kubeconfig)."""
        return load_client(str(kubeconfig or self.admin_kubeconfig))

    def issue_client_cert(self, user: str, groups: Sequence[str] = ()) -> tuple[Path, Path]:
        """Write a client certificate and key for ``user`` in ``groups`` (signed by the cluster CA).

        Kubelets need ``system:node:<name>`` in ``system:nodes`` (the Node authorizer checks it).
        Returns the certificate and key paths.
        """
        cert, key = self._ca.issue(user, organizations=groups)
        stem = _safe_name(user)
        cert_path, key_path = self.workdir / "pki" / f"{stem}.crt", self.workdir / "pki" / f"{stem}.key"
        cert_path.write_bytes(cert)
        key_path.write_bytes(key)
        key_path.chmod(0o600)
        return cert_path, key_path

    def user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig authenticating as ``user`` in ``groups`` with a client certificate."""
        cert, key = self.issue_client_cert(user, groups)
        path = self.workdir / "kubeconfigs" / f"{_safe_name(user)}.kubeconfig"
        _write_kubeconfig(path, self.server, self.ca_file, {"client-certificate": str(cert), "client-key": str(key)})
        return path

    def impersonation_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig with admin credentials that impersonates ``user`` (kubectl's ``--as``).

        kubectl honours ``as``/``as-groups``; the plugin's client does not read them: use
        ``impersonating_client`` (or ``user_kubeconfig``) for the plugin's code paths.
        """
        admin = yaml.safe_load(self.admin_kubeconfig.read_text())
        creds = dict(admin["users"][0]["user"])
        creds["as"] = user
        if groups:
            creds["as-groups"] = list(groups)
        path = self.workdir / "kubeconfigs" / f"as-{_safe_name(user)}.kubeconfig"
        _write_kubeconfig(path, self.server, self.ca_file, creds)
        return path

    def impersonating_client(self, user: str, groups: Sequence[str] = ()) -> KubeClient:
        """An admin client whose every request impersonates ``user`` (and ``groups``).

        For ``system:serviceaccount:<ns>:<name>`` without groups, the apiserver adds the service
        account groups itself, as for a real token.
        """
        headers: dict[str, str | tuple[str, ...]] = {"Impersonate-User": user}
        if groups:
            headers["Impersonate-Group"] = tuple(groups)
        return self.client().with_headers(headers)

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the built ``kubectl`` against this cluster; output captured as text."""
        cmd = [str(self.bin_dir / "kubectl"), "--kubeconfig", str(kubeconfig or self.admin_kubeconfig), *args]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=300)

    def component_logs(self) -> dict[str, Path]:
        """The log file of each running component (for debugging a failed test)."""
        return {p.name: p.log for p in self._processes}


def start_control_plane(
    *,
    controller_manager: bool = True,
    allocate_node_cidrs: str | None = None,
    crds: Iterable[Path] | None = None,
    bind_address: str = "127.0.0.1",
    server_ips: Sequence[str] = (),
    keep_workdir: bool = False,
) -> ControlPlane:
    """Start a control plane and return it once ``/readyz`` is ok and the CRDs are Established.

    Args:
        controller_manager: also run kube-controller-manager (DaemonSets, ServiceAccount tokens,
            garbage collection), every controller but the node lifecycle one.
        allocate_node_cidrs: a cluster CIDR (e.g. ``10.244.0.0/16``) to have the controller-manager
            assign ``Node.spec.podCIDR`` as kubeadm does; ``None`` leaves podCIDRs to the test.
        crds: CRD manifest files to install; default ``crd_files()``.
        bind_address: where the apiserver listens (``0.0.0.0`` lets network namespaces reach it).
        server_ips: more IP addresses for the serving certificate (the host's address as seen from a
            network namespace), besides 127.0.0.1 and the ``kubernetes`` Service IP.
        keep_workdir: leave the temp dir (logs, certificates) behind on ``stop`` for debugging.

    Raises:
        ControlPlaneError: a binary is missing or a component did not come up (with its log tail).
    """
    missing = missing_binaries(
        ("etcd", "kube-apiserver") + (("kube-controller-manager",) if controller_manager else ())
    )
    if missing:
        raise ControlPlaneError(f"missing {', '.join(missing)} in {binary_dir()}: run {BUILD_SCRIPT}")
    workdir = Path(tempfile.mkdtemp(prefix="antrea-migrate-cp-"))
    for sub in ("pki", "kubeconfigs", "logs"):
        (workdir / sub).mkdir()
    bins = binary_dir()
    ca = _new_ca()
    port = _free_port()
    host = "127.0.0.1"
    cp = ControlPlane(
        workdir=workdir,
        server=f"https://{host}:{port}",
        ca_file=workdir / "pki" / "ca.crt",
        admin_kubeconfig=workdir / "kubeconfigs" / "admin.kubeconfig",
        bin_dir=bins,
        _ca=ca,
        _keep_workdir=keep_workdir,
    )
    try:
        _write_pki(cp, ca, server_ips)
        etcd_url = _start_etcd(cp)
        _start_apiserver(cp, port, etcd_url, bind_address)
        client = cp.client()
        _wait_ready(cp, client)
        if controller_manager:
            _start_controller_manager(cp, allocate_node_cidrs)
        install_crds(client, crd_files() if crds is None else list(crds))
    except BaseException:
        cp.stop()
        raise
    return cp


def install_crds(client: KubeClient, files: Iterable[Path], timeout_s: float = 60.0) -> list[str]:
    """Create the CRDs in ``files`` (existing ones are left as they are) and wait until Established.

    Returns the CRD names.
    """
    names: list[str] = []
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            names.append(doc["metadata"]["name"])
            try:
                client.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=doc)
            except ApiError as exc:
                if exc.status != 409:
                    raise
    deadline = time.monotonic() + timeout_s
    pending = set(names)
    while pending:
        listing = client.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        for crd in listing.get("items", ()):
            conditions = (crd.get("status") or {}).get("conditions") or ()
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                pending.discard(crd["metadata"]["name"])
        if not pending:
            break
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"CRDs not Established after {timeout_s:.0f}s: {sorted(pending)}")
        time.sleep(0.2)
    return names


def _start_etcd(cp: ControlPlane) -> str:
    client_port, peer_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{client_port}"
    _spawn(
        cp,
        "etcd",
        [
            str(cp.bin_dir / "etcd"),
            f"--data-dir={cp.workdir / 'etcd'}",
            f"--listen-client-urls={url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
        ],
    )
    _wait_port(cp, "etcd", client_port)
    return url


def _start_apiserver(cp: ControlPlane, port: int, etcd_url: str, bind_address: str) -> None:
    pki = cp.workdir / "pki"
    _spawn(
        cp,
        "kube-apiserver",
        [
            str(cp.bin_dir / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            f"--bind-address={bind_address}",
            f"--secure-port={port}",
            "--advertise-address=127.0.0.1",
            # The loopback advertise address is not a valid Endpoints IP: no kubernetes Service endpoints.
            "--endpoint-reconciler-type=none",
            f"--service-cluster-ip-range={_SERVICE_CIDR}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--api-audiences=https://kubernetes.default.svc",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            "--profiling=false",
            "--v=1",
        ],
    )


def _start_controller_manager(cp: ControlPlane, cluster_cidr: str | None) -> None:
    pki = cp.workdir / "pki"
    kubeconfig = cp.user_kubeconfig("system:kube-controller-manager")
    args = [
        str(cp.bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={_free_port()}",
        "--leader-elect=false",
        # Without kubelets, the lifecycle controller would mark test Nodes NotReady and evict pods.
        "--controllers=*,-node-lifecycle-controller",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--service-cluster-ip-range={_SERVICE_CIDR}",
        # Its default, /usr/libexec/kubernetes/..., would be created on the host.
        f"--flex-volume-plugin-dir={cp.workdir / 'flexvolume'}",
        "--v=1",
    ]
    if cluster_cidr:
        args += ["--allocate-node-cidrs=true", f"--cluster-cidr={cluster_cidr}"]
    _spawn(cp, "kube-controller-manager", args)


def _spawn(cp: ControlPlane, name: str, argv: list[str]) -> None:
    log = cp.workdir / "logs" / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=cp.workdir
        )
    cp._processes.append(_Process(name, popen, log))


def _check_alive(cp: ControlPlane, name: str) -> None:
    for proc in cp._processes:
        if proc.name == name and proc.popen.poll() is not None:
            raise ControlPlaneError(f"{name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")


def _wait_port(cp: ControlPlane, name: str, port: int) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        _check_alive(cp, name)
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ControlPlaneError(f"{name} did not listen on 127.0.0.1:{port} within {_READY_TIMEOUT_S:.0f}s")


def _wait_ready(cp: ControlPlane, client: KubeClient) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        _check_alive(cp, "kube-apiserver")
        try:
            client.request("GET", "/readyz")
            return
        except Exception as exc:  # any failure before readiness means "not yet"
            last = str(exc)
        time.sleep(0.25)
    proc = next(p for p in cp._processes if p.name == "kube-apiserver")
    raise ControlPlaneError(f"kube-apiserver not ready within {_READY_TIMEOUT_S:.0f}s ({last}):\n{proc.log_tail()}")


def _write_pki(cp: ControlPlane, ca: _CA, server_ips: Sequence[str]) -> None:
    pki = cp.workdir / "pki"
    (pki / "ca.crt").write_bytes(_pem_cert(ca.cert))
    (pki / "ca.key").write_bytes(_pem_key(ca.key))
    cert, key = ca.issue(
        "kube-apiserver",
        server=True,
        client=False,
        server_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
        server_ips=("127.0.0.1", "10.96.0.1", *server_ips),
    )
    (pki / "apiserver.crt").write_bytes(cert)
    (pki / "apiserver.key").write_bytes(key)
    cert, key = ca.issue("kube-apiserver-kubelet-client", organizations=("system:masters",))
    (pki / "apiserver-kubelet-client.crt").write_bytes(cert)
    (pki / "apiserver-kubelet-client.key").write_bytes(key)
    sa_key = ec.generate_private_key(ec.SECP256R1())
    (pki / "sa.key").write_bytes(_pem_key(sa_key))
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    cert_path, key_path = cp.issue_client_cert("kubernetes-admin", ("system:masters",))
    _write_kubeconfig(
        cp.admin_kubeconfig, cp.server, cp.ca_file, {"client-certificate": str(cert_path), "client-key": str(key_path)}
    )


def _write_kubeconfig(path: Path, server: str, ca_file: Path, user: dict[str, Any]) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "user"}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def _new_ca() -> _CA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "antrea-migrate-test-ca")])
    builder = _cert_builder(name, name, key.public_key())
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            key_cert_sign=True,
            crl_sign=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    return _CA(builder.sign(key, hashes.SHA256()), key)


def _cert_builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _safe_name(user: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in user)
