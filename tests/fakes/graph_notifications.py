"""Graph change notifications as Graph sends them: rich content encrypted to the service's key, in batches."""
from __future__ import annotations

import datetime
import functools
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from integrations.teams.certificate import ServiceKey
from integrations.teams.const import MEETING_EVENTS_RESOURCE
from integrations.teams.scripted.notifications import (
    call_event,
    encrypted_content,
    rich_notification,
    roster_entry,
)

__all__ = ["call_event", "encrypt", "notification", "participant", "service_key", "service_key_file"]

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
    """Return `encryptedContent` for `payload` as Graph builds it, to the service key's certificate."""
    return encrypted_content(payload, key.certificate, key.certificate_id)


def participant(participant_id: str, user_id: str | None, name: str, lobby: bool = False, left: bool = False) -> dict[str, Any]:
    """Return one entry of `participants@delta`: a signed-in user of the test tenant (Entra id) or a guest (no id)."""
    return roster_entry(participant_id, user_id, name, TENANT_ID, lobby, left)


def notification(subscription_id: str, client_state: str, join_url: str, payload: dict[str, Any], key: ServiceKey) -> dict[str, Any]:
    """Return one rich change notification (one entry of the batch's `value`)."""
    subscription = {
        "id": subscription_id, "clientState": client_state, "resource": MEETING_EVENTS_RESOURCE.format(join_url=join_url),
        "expirationDateTime": "2026-11-23T00:00:00.0000000Z",
    }
    return rich_notification(subscription, payload, encrypt(payload, key), TENANT_ID)
