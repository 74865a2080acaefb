"""What Graph sends: meeting call events as rich notifications encrypted to a certificate, and calling-bot callbacks."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..const import MEETING_EVENTS_RESOURCE

ON, OFF = "sendReceive", "receiveOnly"  # a video stream's direction: the camera is sending, or only watching


def encrypted_content(payload: Any, certificate: x509.Certificate, certificate_id: str) -> dict[str, str]:
    """Return `encryptedContent` for `payload` as Graph builds it: AES-256-CBC, HMAC-SHA256, the key RSA-OAEP-wrapped to `certificate`."""
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("Graph encrypts only to an RSA certificate")
    symmetric = os.urandom(32)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(payload).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(symmetric), modes.CBC(symmetric[:16])).encryptor()
    data = encryptor.update(plain) + encryptor.finalize()
    oaep = asymmetric.OAEP(mgf=asymmetric.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    return {
        "data": base64.b64encode(data).decode(),
        "dataKey": base64.b64encode(public_key.encrypt(symmetric, oaep)).decode(),
        "dataSignature": base64.b64encode(hmac.new(symmetric, data, hashlib.sha256).digest()).decode(),
        "encryptionCertificateId": certificate_id,
        "encryptionCertificateThumbprint": certificate.fingerprint(hashes.SHA1()).hex().upper(),
    }


def call_event(join_url: str, event_type: str, at: str, notification_id: str, participants: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return a decrypted meetingCallEvents payload, shaped as Microsoft documents it."""
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.callevent",
        "@odata.id": MEETING_EVENTS_RESOURCE.format(join_url=join_url),
        "id": notification_id,
        "eventType": event_type,
        "eventDateTime": at,
    }
    if participants is not None:
        body["participants@delta"] = participants
    return body


def identity(user_id: str | None, name: str, tenant_id: str, guest_id: str = "") -> dict[str, Any]:
    """Return an identitySet: a signed-in user of the tenant (Entra object id), or a guest (no user id)."""
    if user_id:
        return {"user": {"id": user_id, "displayName": name, "tenantId": tenant_id}}
    return {"guest": {"id": guest_id, "displayName": name}}


def roster_entry(participant_id: str, user_id: str | None, name: str, tenant_id: str, lobby: bool = False, left: bool = False) -> dict[str, Any]:
    """Return one entry of `participants@delta`; a leaver carries `removedState`."""
    entry: dict[str, Any] = {"info": {"identity": identity(user_id, name, tenant_id, participant_id)}, "isInLobby": lobby, "id": participant_id}
    if left:
        entry["removedState"] = {"reason": "Participant has left the meeting call."}
    return entry


def rich_notification(subscription: dict[str, Any], payload: dict[str, Any], content: dict[str, str], tenant_id: str) -> dict[str, Any]:
    """Return one rich change notification (one entry of a batch's `value`) for a subscription as Graph holds it."""
    resource = str(subscription["resource"])
    return {
        "subscriptionId": subscription["id"],
        "clientState": subscription.get("clientState"),
        "changeType": "updated",
        "tenantId": tenant_id,
        "resource": resource,
        "subscriptionExpirationDateTime": subscription.get("expirationDateTime"),
        "resourceData": {"@odata.id": resource, "@odata.type": "#microsoft.graph.callevent", "id": payload["id"]},
        "organizationId": tenant_id,
        "encryptedContent": content,
    }


def call_participant(participant_id: str, who: dict[str, Any], video: str | None, lobby: bool = False) -> dict[str, Any]:
    """Return a participant of a bot's call: audio, and a camera stream in direction `video` (None: no video streams at all)."""
    streams = [_stream("audio", "1", ON)]
    if video is not None:  # a video participant also receives shared screens
        streams += [_stream("video", "2", video), _stream("videoBasedScreenSharing", "8", OFF)]
    return {
        "@odata.type": "#microsoft.graph.participant",
        "info": {"@odata.type": "#microsoft.graph.participantInfo", "identity": {"@odata.type": "#microsoft.graph.identitySet", **who}, "languageId": "en-GB"},
        "mediaStreams": streams,
        "isMuted": False,
        "isInLobby": lobby,
        "id": participant_id,
    }


def _stream(kind: str, source: str, direction: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.mediaStream", "mediaType": kind, "sourceId": source, "direction": direction, "serverMuted": False}


def comms_notification(resource_url: str, data: Any, change: str = "updated") -> dict[str, Any]:
    """Return one commsNotification about `resource_url` (a call: its state; or its participants)."""
    return {"@odata.type": "#microsoft.graph.commsNotification", "changeType": change, "resourceUrl": resource_url, "resourceData": data}


def comms_notifications(*notifications: dict[str, Any]) -> dict[str, Any]:
    """Return a calling-bot callback body holding `notifications`."""
    return {"@odata.type": "#microsoft.graph.commsNotifications", "value": list(notifications)}
