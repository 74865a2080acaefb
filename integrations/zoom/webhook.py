"""The Zoom webhook route: verify on the raw bytes, answer the handshake, store, then acknowledge."""
from __future__ import annotations

import json
import logging
import re

from aiohttp import web

from bot.core.events import SchedulingEvent
from bot.core.validity import EventRejected, accepted
from bot.services import Services

from .const import MAX_WEBHOOK_BYTES, URL_VALIDATION_EVENT
from .event_keys import event_key
from .events import WebhookFormatError, event_name, parse_event
from .signature import SignatureError, SignatureVerifier
from .sync import MeetingSync

_LOGGER = logging.getLogger(__name__)
_EVENT_NAME = re.compile(r"[a-z0-9_.]{1,64}")  # what Zoom's event names look like: anything else is not written to the log


def _shown(name: str) -> str:
    """Return the event's name for the log, or a placeholder for a name no Zoom event has (any text, control characters included)."""
    return name if _EVENT_NAME.fullmatch(name) else "(not a Zoom event name)"


def _acknowledged(status: str) -> web.Response:
    # The answers' bytes and header made once (not encoded, nor the type's header composed, each time): a webhook's answer is one of these few.
    return web.Response(body=_ANSWERS[status], headers=_JSON)


_ANSWERS = {status: json.dumps({"status": status}).encode() for status in ("stored", "ignored", "planned")}
_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _bad_request(reason: str) -> web.Response:
    return web.json_response({"error": "bad_request", "reason": reason}, status=400)


class ZoomWebhook:
    """`POST /webhooks/zoom`: verified events are stored for the tracker, plan changes go to the meeting sync."""

    sync: MeetingSync  # set as the platform starts, before the first request

    def __init__(self, verifier: SignatureVerifier, services: Services) -> None:
        self.verifier = verifier
        self.services = services

    async def handle(self, request: web.Request) -> web.Response:
        """Verify on the raw bytes, answer the handshake, store, then acknowledge."""
        raw = await request.read()  # over the app's client_max_size: aiohttp answers 413 before we see it
        if len(raw) > MAX_WEBHOOK_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_WEBHOOK_BYTES, actual_size=len(raw))
        try:
            self.verifier.verify(request.headers, raw)
        except SignatureError as err:
            _LOGGER.warning("rejected Zoom webhook: %s", err)  # the log says which check failed; the caller is not told
            return web.json_response({"error": "unauthorized", "reason": "the Zoom signature does not verify"}, status=401)
        try:
            body = json.loads(raw)
            name = event_name(body)
        except WebhookFormatError as err:
            return _bad_request(str(err))
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested deeper than any Zoom event
            return _bad_request("the body is not JSON")
        if name == URL_VALIDATION_EVENT:
            token = body["payload"].get("plainToken")
            if not isinstance(token, str) or not token:
                return _bad_request("payload.plainToken is missing")
            return web.json_response(self.verifier.url_validation(token))
        try:
            parsed = parse_event(body)
        except WebhookFormatError as err:
            _LOGGER.warning("malformed Zoom %s webhook: %s", _shown(name), err)
            return _bad_request(str(err))
        if parsed is None:
            _LOGGER.debug("Zoom event %s not used", _shown(name))
            return _acknowledged("ignored")
        try:
            plans = [event for event in parsed.events if isinstance(event, SchedulingEvent)]
            if len(plans) == len(parsed.events):
                now = self.services.clock()
                await self.sync.apply([accepted(event, now) for event in plans])
                return _acknowledged("planned")
            keyed = [(event_key(parsed.name, event), event) for event in parsed.events]
            recorded = await self.services.tracker.record(parsed.meeting, keyed)
        except EventRejected as err:
            _LOGGER.warning("refused Zoom %s webhook: %s", name, err)
            return _bad_request(str(err))
        if recorded.session_id is not None:
            self.services.evaluation.submit(recorded.session_id)
            self.services.stored.publish(parsed.meeting, parsed.events)
        return _acknowledged("stored" if recorded.stored else "ignored")
