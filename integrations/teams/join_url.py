"""Read what a calling bot needs to join a Teams meeting from its join URL: the chat thread, the organiser and the tenant."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.core.join_urls import fully_unquoted

_ID = re.compile(r"[A-Za-z0-9._@:-]{1,128}")


class JoinUrlError(ValueError):
    """The join URL does not name what the bot needs; the message says what is missing, never the URL (it admits anyone)."""


@dataclass(frozen=True)
class MeetingJoinInfo:
    """A meeting as Graph's `POST /communications/calls` names it: `chatInfo` and `organizerMeetingInfo`."""

    thread_id: str  # 19:meeting_...@thread.v2
    message_id: str  # "0" for a meeting's own thread
    tenant_id: str  # the organiser's tenant (the context's Tid)
    organizer_id: str  # the organiser's Entra object id (the context's Oid)


def _context(query: str) -> dict[str, Any]:
    """Return the join URL's `context` JSON (`{"Tid": ..., "Oid": ...}`), its keys lower-cased."""
    values = parse_qs(query, keep_blank_values=True).get("context") or []
    if not values:
        raise JoinUrlError("the join URL has no context (the organiser and tenant): use the meeting's full join link")
    try:
        context = json.loads(fully_unquoted(values[0]))
    except (ValueError, RecursionError):
        raise JoinUrlError("the join URL's context is not JSON") from None
    if not isinstance(context, dict):
        raise JoinUrlError("the join URL's context is not a JSON object")
    return {str(k).lower(): v for k, v in context.items()}


def _id(context: dict[str, Any], key: str, what: str) -> str:
    value = context.get(key.lower())
    if not isinstance(value, str) or not _ID.fullmatch(value.strip()):
        raise JoinUrlError(f"the join URL's context names no {what} ({key})")
    return value.strip()


def parse_join_url(url: str) -> MeetingJoinInfo:
    """Return the thread, message, tenant and organiser a meetup-join URL names, or raise JoinUrlError saying what is missing.

    `https://teams.microsoft.com/l/meetup-join/19%3ameeting_...%40thread.v2/0?context=%7b%22Tid%22%3a%22...%22%2c%22Oid%22%3a%22...%22%7d`
    """
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise JoinUrlError("the join URL is not an https link")
    segments = [fully_unquoted(s) for s in parts.path.split("/") if s]
    if len(segments) < 4 or segments[0] != "l" or segments[1] != "meetup-join":
        raise JoinUrlError("the join URL is not a meetup-join link (a short /meet/ link names no thread or organiser)")
    thread_id, message_id = segments[2], segments[3]
    if not thread_id.startswith("19:") or "@thread." not in thread_id or len(thread_id) > 255 or not thread_id.isprintable():
        raise JoinUrlError("the join URL names no meeting thread (19:...@thread.v2)")
    if not message_id.isascii() or not message_id.isdigit() or len(message_id) > 32:
        raise JoinUrlError("the join URL names no thread message (a number after the thread)")
    context = _context(parts.query)
    return MeetingJoinInfo(thread_id, message_id, _id(context, "Tid", "tenant"), _id(context, "Oid", "organiser"))


def join_body(meeting: MeetingJoinInfo, callback_uri: str) -> dict[str, Any]:
    """Return the body of `POST /communications/calls` that joins the meeting as a bot with service-hosted media."""
    return {
        "@odata.type": "#microsoft.graph.call",
        "direction": "outgoing",
        "callbackUri": callback_uri,
        "tenantId": meeting.tenant_id,
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
        "chatInfo": {"@odata.type": "#microsoft.graph.chatInfo", "threadId": meeting.thread_id, "messageId": meeting.message_id},
        "meetingInfo": {
            "@odata.type": "#microsoft.graph.organizerMeetingInfo",
            "organizer": {
                "@odata.type": "#microsoft.graph.identitySet",
                "user": {"@odata.type": "#microsoft.graph.identity", "id": meeting.organizer_id, "tenantId": meeting.tenant_id},
            },
        },
    }
