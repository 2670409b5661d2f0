"""TLS material for the agent's mutual TLS: one private CA, one server certificate, one client certificate.

``agent install`` generates a bundle, stores it in Secret ``antrea-migrate-agent-tls`` (keys as in
``SECRET_KEYS``) and the agent mounts that Secret as its ``--tls-dir``. The agent reads only ``ca.crt``,
``tls.crt`` and ``tls.key``; the plugin reads ``ca.crt``, ``client.crt`` and ``client.key``.

The CA exists only for this tool, so trusting it says nothing beyond "this is our agent". Agents are
reached at a node's IP, which is not known when the certificate is made: the server certificate always
carries the DNS name ``SERVER_NAME`` and the client checks that name (``grpc.ssl_target_name_override``),
plus any IPs and names the caller adds.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubectl_antrea_migrate.errors import InputError, Location

__all__ = [
    "CA_FILE",
    "CERT_FILE",
    "CLIENT_CERT_FILE",
    "CLIENT_KEY_FILE",
    "KEY_FILE",
    "SECRET_KEYS",
    "SERVER_NAME",
    "ClientTls",
    "TlsBundle",
    "generate",
    "write_tls_dir",
]

SERVER_NAME = "antrea-migrate-agent"
CA_FILE, CERT_FILE, KEY_FILE = "ca.crt", "tls.crt", "tls.key"
CLIENT_CERT_FILE, CLIENT_KEY_FILE = "client.crt", "client.key"
SECRET_KEYS = (CA_FILE, CERT_FILE, KEY_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE)

_VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True, slots=True)
class ClientTls:
    """What the plugin needs to call an agent: the CA to trust and its own certificate (all PEM)."""

    ca_cert: bytes
    cert: bytes
    key: bytes
    server_name: str = SERVER_NAME

    @classmethod
    def from_dir(cls, tls_dir: Path) -> ClientTls:
        """Read ``ca.crt``, ``client.crt``, ``client.key`` from a directory written by ``write_tls_dir``.

        Raises:
            InputError: a file is missing or unreadable (names the file).
        """
        return cls(_read(tls_dir / CA_FILE), _read(tls_dir / CLIENT_CERT_FILE), _read(tls_dir / CLIENT_KEY_FILE))

    @classmethod
    def from_secret_data(cls, data: dict[str, bytes]) -> ClientTls:
        """Build from the decoded data of Secret ``antrea-migrate-agent-tls``.

        Raises:
            InputError: a key is missing (names the Secret key).
        """
        missing = [k for k in (CA_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE) if k not in data]
        if missing:
            where = Location(kind="Secret", name="antrea-migrate-agent-tls", path=f"data.{missing[0]}")
            raise InputError("missing; reinstall the agent (agent install) to regenerate its TLS material", where)
        return cls(data[CA_FILE], data[CLIENT_CERT_FILE], data[CLIENT_KEY_FILE])


@dataclass(frozen=True, slots=True)
class TlsBundle:
    """A CA with one server and one client certificate, all PEM (keys unencrypted PKCS#8)."""

    ca_cert: bytes
    ca_key: bytes
    server_cert: bytes
    server_key: bytes
    client_cert: bytes
    client_key: bytes

    def secret_data(self) -> dict[str, bytes]:
        """The Secret's data: server files for the agent, client files for the plugin (no CA key)."""
        return {
            CA_FILE: self.ca_cert,
            CERT_FILE: self.server_cert,
            KEY_FILE: self.server_key,
            CLIENT_CERT_FILE: self.client_cert,
            CLIENT_KEY_FILE: self.client_key,
        }

    def client(self) -> ClientTls:
        """The client side of this bundle."""
        return ClientTls(self.ca_cert, self.client_cert, self.client_key)


def generate(
    ips: Iterable[str] = (),
    names: Iterable[str] = (),
    now: datetime.datetime | None = None,
    validity: datetime.timedelta = _VALIDITY,
) -> TlsBundle:
    """Generate a fresh CA, a server certificate and a client certificate.

    Args:
        ips: IP addresses the server certificate names (SAN), e.g. a test's veth address.
        names: DNS names the server certificate names besides ``SERVER_NAME``.
        now: start of validity (default: now, UTC); certificates are valid from one hour before.
        validity: how long the certificates are valid.

    Raises:
        InputError: an entry of ``ips`` is not an IP address.
    """
    start = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "antrea-migrate-agent-ca")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), start, validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys((SERVER_NAME, *names))]
    sans += [x509.IPAddress(_ip(ip)) for ip in ips]
    server_key, server_cert = _leaf(
        ca_cert, ca_key, SERVER_NAME, ExtendedKeyUsageOID.SERVER_AUTH, sans, start, validity
    )
    client_key, client_cert = _leaf(
        ca_cert, ca_key, "kubectl-antrea-migrate", ExtendedKeyUsageOID.CLIENT_AUTH, [], start, validity
    )
    return TlsBundle(
        ca_cert=_pem_cert(ca_cert),
        ca_key=_pem_key(ca_key),
        server_cert=_pem_cert(server_cert),
        server_key=_pem_key(server_key),
        client_cert=_pem_cert(client_cert),
        client_key=_pem_key(client_key),
    )


def write_tls_dir(bundle: TlsBundle, tls_dir: Path) -> Path:
    """Write the Secret's files into ``tls_dir`` (created if missing); keys are mode 0600.

    Returns:
        ``tls_dir``, usable as the agent's ``--tls-dir`` and with ``ClientTls.from_dir``.
    """
    tls_dir.mkdir(parents=True, exist_ok=True)
    for name, data in bundle.secret_data().items():
        path = tls_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if name.endswith(".key") else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    return tls_dir


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    start: datetime.datetime,
    validity: datetime.timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
    )


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
    start: datetime.datetime,
    validity: datetime.timedelta,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        _builder(subject, ca_cert.subject, key.public_key(), start, validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise InputError(f"{text!r} is not an IP address", Location(path="server IPs")) from exc


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read TLS file: {exc.strerror}", Location(file=str(path))) from exc
