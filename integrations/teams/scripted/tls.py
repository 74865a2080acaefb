"""A throwaway certificate for 127.0.0.1, so scripted servers can serve HTTPS where a client insists on it (msal)."""
from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import ssl
from pathlib import Path
from typing import Iterator

import aiohttp.connector
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_BUNDLE_VARIABLE = "REQUESTS_CA_BUNDLE"  # requests (hence msal) reads it at each call


def loopback_certificate(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """Return a server TLS context for 127.0.0.1 and the path of the certificate to trust (valid for a day)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "loopback.pem", directory / "loopback.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


@contextlib.contextmanager
def trusting(cafile: Path) -> Iterator[None]:
    """Have this process's HTTPS clients trust only `cafile` while inside: requests (msal) and aiohttp's default context.

    For a process that talks to loopback only (the demo): both are put back as they were on the way out.
    """
    before = os.environ.get(CA_BUNDLE_VARIABLE)
    # aiohttp verifies with one default context, made when it is imported: one that trusts `cafile` stands in for it.
    verified = aiohttp.connector._SSL_CONTEXT_VERIFIED
    os.environ[CA_BUNDLE_VARIABLE] = str(cafile)
    aiohttp.connector._SSL_CONTEXT_VERIFIED = ssl.create_default_context(cafile=str(cafile))
    try:
        yield
    finally:
        aiohttp.connector._SSL_CONTEXT_VERIFIED = verified
        if before is None:
            os.environ.pop(CA_BUNDLE_VARIABLE, None)
        else:
            os.environ[CA_BUNDLE_VARIABLE] = before
