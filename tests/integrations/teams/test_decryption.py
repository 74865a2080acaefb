"""Rich notification content: Microsoft's own known-answer vector opens; anything altered is refused before decryption."""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from integrations.teams.decryption import DecryptionError, decrypt
from tests.conftest import load_fixture
from tests.fakes.graph_notifications import encrypt, service_key

SHARED_VECTOR = Path(__file__).parents[3] / ".." / "shared" / "reference-payloads" / "graph_rich_vector.json"


@pytest.fixture(scope="module")
def vector() -> dict:
    return load_fixture("teams/graph_rich_vector.json")


@pytest.fixture(scope="module")
def vector_key(vector):
    keystore = vector["keystore"]
    key, _, _ = pkcs12.load_key_and_certificates(base64.b64decode(keystore["pkcs12_base64"]), keystore["password"].encode())
    return key


def test_the_fixture_holds_the_shared_vector_unchanged(vector):
    if not SHARED_VECTOR.exists():
        pytest.skip("../shared/reference-payloads is not beside this checkout")
    shared = json.loads(SHARED_VECTOR.read_text(encoding="utf-8"))
    assert vector["encryptedContent"] == shared["encryptedContent"]
    assert vector["keystore"]["pkcs12_base64"] == shared["keystore"]["pkcs12_base64"]


def test_microsofts_known_answer_vector_decrypts(vector, vector_key):
    plaintext = decrypt(vector["encryptedContent"], vector_key)
    assert hashlib.sha256(plaintext).hexdigest() == vector["expected"]["plaintext_sha256"]
    assert json.loads(plaintext)["etag"] == vector["expected"]["etag"]


def _flip(text: str, at: int = 5) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[at] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("field", ["data", "dataSignature"])
def test_a_flipped_byte_in_the_data_or_its_signature_is_refused(vector, vector_key, field):
    content = {**vector["encryptedContent"], field: _flip(vector["encryptedContent"][field])}
    with pytest.raises(DecryptionError, match="dataSignature does not match"):
        decrypt(content, vector_key)


def test_a_key_wrapped_for_another_certificate_is_refused(vector):
    with pytest.raises(DecryptionError, match="dataKey"):
        decrypt(vector["encryptedContent"], service_key().private_key)


@pytest.mark.parametrize("change", [{"data": ""}, {"dataKey": None}, {"dataSignature": "not base64!"}, {"data": "A" * 600_000}])
def test_missing_or_malformed_fields_are_refused(vector, vector_key, change):
    with pytest.raises(DecryptionError):
        decrypt({**vector["encryptedContent"], **change}, vector_key)


def test_content_encrypted_as_graph_does_round_trips():
    content = encrypt({"eventType": "callStarted"}, service_key())
    assert json.loads(decrypt(content, service_key().private_key)) == {"eventType": "callStarted"}
