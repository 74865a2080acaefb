"""The service's encryption key: generated once with mode 0600 and kept across restarts, or the operator's PEM or PKCS#12."""
from __future__ import annotations

import base64
import datetime
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from integrations.teams.certificate import ServiceKeyError, generated_key_path, load_service_key

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # what Graph wraps keys with


def certificate_for(key, days: int = 30) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "operator")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
    return builder.sign(key, hashes.SHA256())


@pytest.fixture(scope="module")
def operator_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def with_teams(make_settings, **teams):
    return make_settings(teams=teams)


def test_a_key_pair_is_generated_beside_the_database_with_mode_0600_and_kept_across_restarts(make_settings, tmp_path):
    settings = make_settings()
    path = generated_key_path(settings)
    assert path == tmp_path / "companion-teams-key.pem"
    first = load_service_key(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.private_key.key_size >= 2048
    again = load_service_key(settings)  # a restart
    assert again.certificate_id == first.certificate_id and again.thumbprint == first.thumbprint
    certificate = x509.load_der_x509_certificate(base64.b64decode(first.encryption_certificate))
    wrapped = certificate.public_key().encrypt(b"k" * 32, OAEP)  # as Graph wraps each notification's key
    assert again.private_key.decrypt(wrapped, OAEP) == b"k" * 32
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".companion-teams-key")]  # no partial file left


def test_the_generated_key_file_can_be_placed_and_a_loose_mode_is_tightened(make_settings, tmp_path):
    path = tmp_path / "keys" / "teams.pem"
    settings = with_teams(make_settings, generated_key_file=str(path))
    first = load_service_key(settings)
    path.chmod(0o644)
    assert load_service_key(settings).certificate_id == first.certificate_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_postgresql_keeps_the_generated_key_in_the_working_directory(make_settings, monkeypatch, tmp_path):
    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    assert str(generated_key_path(settings)) == "companion-teams-key.pem"


def test_the_operators_pem_with_a_password(make_settings, tmp_path, operator_key):
    path = tmp_path / "operator.pem"
    encrypted = serialization.BestAvailableEncryption(b"s3cret")
    path.write_bytes(
        operator_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encrypted)
        + certificate_for(operator_key).public_bytes(serialization.Encoding.PEM)
    )
    key = load_service_key(with_teams(make_settings, encryption_key_file=str(path), encryption_key_password="s3cret"))
    assert key.private_key.private_numbers() == operator_key.private_numbers()
    assert not (tmp_path / "companion-teams-key.pem").exists()  # nothing generated
    with pytest.raises(ServiceKeyError, match="password is wrong"):
        load_service_key(with_teams(make_settings, encryption_key_file=str(path), encryption_key_password="wrong"))


def test_the_operators_pkcs12_picks_the_certificate_of_its_key(make_settings, tmp_path, operator_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "operator.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"op", operator_key, certificate_for(operator_key), [certificate_for(other)], serialization.BestAvailableEncryption(b"pw")
    ))
    key = load_service_key(with_teams(make_settings, encryption_key_file=str(path), encryption_key_password="pw"))
    assert key.certificate.public_key().public_numbers() == operator_key.public_key().public_numbers()


@pytest.mark.parametrize("problem", ["no certificate", "elliptic curve", "short", "missing", "garbage"])
def test_an_unusable_operator_key_stops_start_up_with_a_reason(make_settings, tmp_path, operator_key, problem):
    path = tmp_path / "operator.pem"
    pem = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    if problem == "no certificate":
        path.write_bytes(operator_key.private_bytes(*pem))
    elif problem in ("elliptic curve", "short"):
        key = ec.generate_private_key(ec.SECP256R1()) if problem == "elliptic curve" else rsa.generate_private_key(65537, 1024)
        path.write_bytes(key.private_bytes(*pem) + certificate_for(key).public_bytes(serialization.Encoding.PEM))
    elif problem == "garbage":
        path.write_bytes(b"\x00not a key")
    with pytest.raises(ServiceKeyError) as refused:
        load_service_key(with_teams(make_settings, encryption_key_file=str(path)))
    assert str(path) in str(refused.value)
