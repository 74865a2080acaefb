"""Graph change notifications as Graph sends them: rich content encrypted to the service's key, in batches."""
from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

from integrations.teams.certificate import ServiceKey

TENANT_ID = "tenant-7f3a"


@functools.cache
def service_key() -> ServiceKey:
    """Return a service key pair for the tests (2048 bits, made once per run): Graph encrypts to its certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test service key")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return ServiceKey(key, certificate)


def service_key_file(directory: Path) -> str:
    """Write `service_key()` as the operator's PEM file (`[teams] encryption_key_file`) and return its path."""
    pair = service_key()
    path = directory / "teams-service-key.pem"
    path.write_bytes(
        pair.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + pair.certificate.public_bytes(serialization.Encoding.PEM)
    )
    return str(path)


def encrypt(payload: Any, key: ServiceKey) -> dict[str, str]:
    """Return `encryptedContent` for `payload` as Graph builds it: AES-256-CBC, HMAC-SHA256, the key RSA-OAEP-wrapped to `key`."""
    symmetric = os.urandom(32)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(payload).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(symmetric), modes.CBC(symmetric[:16])).encryptor()
    data = encryptor.update(plain) + encryptor.finalize()
    oaep = asymmetric.OAEP(mgf=asymmetric.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    return {
        "data": base64.b64encode(data).decode(),
        "dataKey": base64.b64encode(key.private_key.public_key().encrypt(symmetric, oaep)).decode(),
        "dataSignature": base64.b64encode(hmac.new(symmetric, data, hashlib.sha256).digest()).decode(),
        "encryptionCertificateId": key.certificate_id,
        "encryptionCertificateThumbprint": key.thumbprint,
    }


def call_event(join_url: str, event_type: str, at: str, notification_id: str, participants: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return a decrypted meetingCallEvents payload, shaped as Microsoft documents it."""
    resource = f"communications/onlineMeetings(joinWebUrl='{join_url}')/meetingCallEvents"
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.callevent",
        "@odata.id": resource,
        "id": notification_id,
        "eventType": event_type,
        "eventDateTime": at,
    }
    if participants is not None:
        body["participants@delta"] = participants
    return body


def participant(participant_id: str, user_id: str | None, name: str, lobby: bool = False, left: bool = False) -> dict[str, Any]:
    """Return one entry of `participants@delta`: a signed-in user (Entra id) or a guest (no id)."""
    identity: dict[str, Any] = {"user": {"id": user_id, "displayName": name, "tenantId": TENANT_ID}} if user_id else {"guest": {"id": participant_id, "displayName": name}}
    entry: dict[str, Any] = {"info": {"identity": identity}, "isInLobby": lobby, "id": participant_id}
    if left:
        entry["removedState"] = {"reason": "Participant has left the meeting call."}
    return entry


def notification(subscription_id: str, client_state: str, join_url: str, payload: dict[str, Any], key: ServiceKey) -> dict[str, Any]:
    """Return one rich change notification (one entry of the batch's `value`)."""
    resource = f"communications/onlineMeetings(joinWebUrl='{join_url}')/meetingCallEvents"
    return {
        "subscriptionId": subscription_id,
        "clientState": client_state,
        "changeType": "updated",
        "tenantId": TENANT_ID,
        "resource": resource,
        "subscriptionExpirationDateTime": "2026-11-23T00:00:00.0000000Z",
        "resourceData": {"@odata.id": resource, "@odata.type": "#microsoft.graph.callevent", "id": payload["id"]},
        "organizationId": TENANT_ID,
        "encryptedContent": encrypt(payload, key),
    }
