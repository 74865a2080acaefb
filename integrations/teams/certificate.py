"""The service's key for Graph's encrypted meeting events: the operator's (PEM or PKCS#12), or a pair made at first start."""
from __future__ import annotations

import base64
import datetime
import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import make_url

from bot.core.settings import Settings

_LOGGER = logging.getLogger(__name__)
KEY_BITS = 3072
MIN_KEY_BITS = 2048  # Graph wraps each notification's key with RSA-OAEP; less is refused
CERTIFICATE_DAYS = 730
GENERATED_NAME = "companion-teams-key.pem"
SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Session Companion meeting events")])


class ServiceKeyError(Exception):
    """The key cannot be read or used; the message names the file and why, never a secret."""


@dataclass(frozen=True)
class ServiceKey:
    """A private key and its certificate: Graph encrypts to the certificate, the webhook decrypts with the key."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def certificate_id(self) -> str:
        """Return the id Graph echoes in each encrypted notification (`encryptionCertificateId`): a digest of the certificate."""
        return hashlib.sha256(self.certificate.public_bytes(serialization.Encoding.DER)).hexdigest()[:32]

    @property
    def thumbprint(self) -> str:
        """Return the certificate's SHA-1 thumbprint, as Graph's `encryptionCertificateThumbprint` spells it."""
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()  # an identifier, not a signature

    @property
    def encryption_certificate(self) -> str:
        """Return the certificate as a subscription's `encryptionCertificate`: base64 of its DER."""
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()


def generated_key_path(settings: Settings) -> Path:
    """Return where a generated key pair is kept: the setting, else beside the SQLite database, else the working directory."""
    if settings.teams.generated_key_file:
        return Path(settings.teams.generated_key_file)
    url = make_url(settings.storage.url)
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        database = Path(url.database)
        return database.with_name(f"{database.stem}-teams-key.pem")
    return Path(GENERATED_NAME)


def load_service_key(settings: Settings) -> ServiceKey:
    """Return the operator's key if `[teams] encryption_key_file` names one, else the generated pair (made now if missing).

    Blocking (files, and RSA key generation): call it from a thread.
    """
    teams = settings.teams
    if teams.encryption_key_file:
        return read_key_file(Path(teams.encryption_key_file), teams.encryption_key_password)
    path = generated_key_path(settings)
    if not path.exists():
        _create(path, _generate())
        _LOGGER.info("generated the Teams encryption key pair at %s", path)
    elif stat.S_IMODE(path.stat().st_mode) & 0o077:
        _LOGGER.warning("the Teams encryption key %s was readable by others: mode set to 0600", path)
        path.chmod(0o600)
    return read_key_file(path, "")


def read_key_file(path: Path, password: str) -> ServiceKey:
    """Read a PEM file (private key and certificate) or a PKCS#12 file; check it is an RSA key its certificate matches."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ServiceKeyError(f"Teams encryption key {path} cannot be read: {err.__class__.__name__}") from None
    secret = password.encode() if password else None
    try:
        if b"-----BEGIN" in data:
            key = _pem_key(data, secret)
            certificates = x509.load_pem_x509_certificates(data) if b"CERTIFICATE-----" in data else []
        else:
            key, first, extra = pkcs12.load_key_and_certificates(data, secret)
            certificates = [c for c in (first, *extra) if c is not None]
    except (ValueError, TypeError):
        raise ServiceKeyError(f"Teams encryption key {path} is not a PEM or PKCS#12 key, or its password is wrong") from None
    return _checked(path, key, certificates)


def _pem_key(data: bytes, password: bytes | None) -> object:
    try:
        return serialization.load_pem_private_key(data, password)
    except TypeError:  # a password given for a key that has none
        return serialization.load_pem_private_key(data, None)


def _checked(path: Path, key: object, certificates: list[x509.Certificate]) -> ServiceKey:
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_KEY_BITS:
        raise ServiceKeyError(f"Teams encryption key {path} must hold an RSA private key of {MIN_KEY_BITS} bits or more")
    public = key.public_key().public_numbers()
    match = next((c for c in certificates if isinstance(theirs := c.public_key(), rsa.RSAPublicKey) and theirs.public_numbers() == public), None)
    if match is None:
        raise ServiceKeyError(f"Teams encryption key {path} holds no certificate for its private key")
    return ServiceKey(key, match)


def _generate() -> ServiceKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(SUBJECT)
        .issuer_name(SUBJECT)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .sign(key, hashes.SHA256())
    )
    return ServiceKey(key, certificate)


def _create(path: Path, pair: ServiceKey) -> None:
    """Write the pair with mode 0600, all at once: a second instance starting at the same moment keeps the first file."""
    pem = pair.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + pair.certificate.public_bytes(serialization.Encoding.PEM)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.link(partial, path)  # fails if another process made the file first: theirs is kept
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)
