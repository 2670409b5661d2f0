"""The agent's TLS material: a private CA, a server certificate for the agent, a client one for the plugin."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

from kubectl_antrea_migrate.agents.tls import SECRET_KEYS, SERVER_NAME, ClientTls, generate, write_tls_dir
from kubectl_antrea_migrate.errors import InputError


def test_server_certificate_names_the_agent_and_the_given_ips_and_names() -> None:
    bundle = generate(ips=["10.0.0.5", "fd00::5"], names=["agent.example"])
    cert = x509.load_pem_x509_certificate(bundle.server_cert)

    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [SERVER_NAME, "agent.example"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("fd00::5"),
    ]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_both_leaves_are_issued_by_the_ca_and_only_the_ca_can_sign() -> None:
    bundle = generate()
    ca = x509.load_pem_x509_certificate(bundle.ca_cert)
    server = x509.load_pem_x509_certificate(bundle.server_cert)
    client = x509.load_pem_x509_certificate(bundle.client_cert)

    server.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not client.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]


def test_another_bundle_has_another_ca() -> None:
    first, second = generate(), generate()
    other_ca = x509.load_pem_x509_certificate(second.ca_cert)

    with pytest.raises(InvalidSignature):  # the agent must refuse such a client
        x509.load_pem_x509_certificate(first.client_cert).verify_directly_issued_by(other_ca)


def test_tls_dir_holds_the_secret_keys_with_private_keys_unreadable_to_others(tmp_path: Path) -> None:
    bundle = generate()

    write_tls_dir(bundle, tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SECRET_KEYS)
    for key in ("tls.key", "client.key"):
        assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o600
    assert bundle.ca_key not in bundle.secret_data().values()  # nobody holding the Secret can mint certs
    assert ClientTls.from_dir(tmp_path) == bundle.client()


def test_missing_client_file_names_the_file(tmp_path: Path) -> None:
    write_tls_dir(generate(), tmp_path)
    (tmp_path / "client.key").unlink()

    with pytest.raises(InputError, match=r"client\.key: cannot read TLS file"):
        ClientTls.from_dir(tmp_path)


def test_secret_without_client_certificate_names_the_key() -> None:
    data = generate().secret_data()
    del data["client.crt"]

    with pytest.raises(InputError, match=r"Secret antrea-migrate-agent-tls: data\.client\.crt: missing"):
        ClientTls.from_secret_data(data)


def test_bad_server_ip_is_input_error() -> None:
    with pytest.raises(InputError, match=r"'10\.0\.0\.300' is not an IP address"):
        generate(ips=["10.0.0.300"])
