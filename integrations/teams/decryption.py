"""Open a Graph rich notification's encryptedContent: unwrap its key, check its HMAC, then decrypt it."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, Mapping

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .const import MAX_ENCRYPTED_CHARS

KEY_BYTES = 32  # AES-256


class DecryptionError(Exception):
    """The content cannot be opened or was altered; the message names the check, never a value."""


def _bytes(content: Mapping[str, Any], name: str) -> bytes:
    value = content.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_ENCRYPTED_CHARS:
        raise DecryptionError(f"encryptedContent.{name} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError(f"encryptedContent.{name} is not base64") from None


def decrypt(content: Mapping[str, Any], private_key: RSAPrivateKey) -> bytes:
    """Return the plaintext of `encryptedContent`; raise DecryptionError unless its dataSignature verifies first."""
    data, wrapped, signature = _bytes(content, "data"), _bytes(content, "dataKey"), _bytes(content, "dataSignature")
    oaep = asymmetric.OAEP(mgf=asymmetric.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    try:
        key = private_key.decrypt(wrapped, oaep)
    except (ValueError, InvalidKey):
        raise DecryptionError("dataKey does not open with the service's key") from None
    if len(key) != KEY_BYTES:
        raise DecryptionError("dataKey is not an AES-256 key")
    if not hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), signature):
        raise DecryptionError("dataSignature does not match")
    if not data or len(data) % 16:
        raise DecryptionError("data is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        raise DecryptionError("data has no valid padding") from None
