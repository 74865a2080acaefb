"""Keep one Graph subscription to each upcoming Teams meeting's call events: made, renewed, re-authorized, replaced, deleted."""
from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timedelta
from typing import Awaitable, Iterable
from urllib.parse import quote

from bot.core.settings import Settings
from bot.core.timefmt import to_iso
from bot.storage.subscriptions import Subscription, SubscriptionStore
from bot.tracking.tracker import Clock

from .certificate import ServiceKey
from .const import (
    LIFECYCLE_PATH,
    MEETING_EVENTS_RESOURCE,
    PLATFORM,
    SUBSCRIPTIONS_PATH,
    WEBHOOK_PATH,
)
from .graph import GraphClient, GraphError
from .meetings import TeamsOccurrence

_LOGGER = logging.getLogger(__name__)
MAX_LIFETIME = timedelta(days=3)  # Graph's limit for meeting call events
LIFETIME = MAX_LIFETIME - timedelta(hours=2)  # asked for: under the limit even if our clock runs a little fast
RENEW_BEFORE = timedelta(hours=24)  # renewed when less than this is left: many renewal runs before it lapses
LONG_OVER = timedelta(hours=3)  # a meeting's events are watched this long after its planned end (it may overrun)
CHANGE_TYPE = "updated"


def meeting_resource(join_url: str) -> str:
    """Return the subscription resource for a meeting's call events: its join URL, URL-encoded, in the path."""
    return MEETING_EVENTS_RESOURCE.format(join_url=quote(join_url, safe=""))


class SubscriptionManager:
    """The subscriptions of the meetings the calendar sync finds; the stored rows are the truth, renewed on the service's clock.

    It is the webhook's `SubscriptionLifecycle` (`app[keys.LIFECYCLE]`): it answers Graph's lifecycle notifications.
    """

    def __init__(self, settings: Settings, graph: GraphClient, store: SubscriptionStore, key: ServiceKey, clock: Clock) -> None:
        self._public_url = settings.server.public_url.rstrip("/")
        self._graph = graph
        self._store = store
        self._key = key
        self._clock = clock
        self._lock = asyncio.Lock()  # the sync, the renewal run and the lifecycle webhook take turns

    async def keep(self, therapist_id: str, occurrences: Iterable[TeamsOccurrence]) -> None:
        """Subscribe to each listed meeting not yet watched; delete the subscription of a meeting no longer listed before its end."""
        ends: dict[str, datetime] = {}
        urls: dict[str, str] = {}
        for o in occurrences:
            ends[o.key] = max(ends.get(o.key, o.end), o.end)
            urls[o.key] = o.join_url
        async with self._lock:
            now = self._clock()
            watched = {s.meeting_id: s for s in await self._store.of_therapist(PLATFORM, therapist_id)}
            for key, ends_at in ends.items():
                sub = watched.get(key)
                if sub is None:
                    await self._try(self._subscribe(therapist_id, key, urls[key], meeting_resource(urls[key]), ends_at))
                elif sub.meeting_ends_at != ends_at:
                    await self._store.update(sub.subscription_id, now, meeting_ends_at=ends_at)
            for key, sub in watched.items():
                if key not in ends and (sub.meeting_ends_at is None or sub.meeting_ends_at > now):  # cancelled (or moved beyond the horizon)
                    await self._try(self._delete(sub, "cancelled"))

    async def maintain(self) -> None:
        """Renew each subscription that expires within a day; delete those whose meeting is long over."""
        async with self._lock:
            now = self._clock()
            over = await self._store.meetings_ended(PLATFORM, now - LONG_OVER)
            for sub in over:
                await self._try(self._delete(sub, "over"))
            gone = {s.subscription_id for s in over}
            for sub in await self._store.expiring(PLATFORM, now + RENEW_BEFORE):
                if sub.subscription_id not in gone:
                    await self._try(self._renew(sub, now))

    async def reauthorize(self, subscription: Subscription) -> bool:
        """Answer `reauthorizationRequired`: re-authorize the subscription (a new one if Graph no longer knows it)."""
        async with self._lock:
            sub = await self._store.get(PLATFORM, subscription.subscription_id)
            if sub is None:
                _LOGGER.info("reauthorization asked for unknown subscription %s: ignored", subscription.subscription_id)
                return False
            try:
                await self._graph.post("reauthorize subscription", f"{SUBSCRIPTIONS_PATH}/{quote(sub.subscription_id, safe='')}/reauthorize")
            except GraphError as err:
                if err.status != 404:
                    raise
                return await self._replace(sub) is not None
            _LOGGER.info("re-authorized subscription %s", sub.subscription_id)
            return True

    async def resubscribe(self, subscription: Subscription) -> str | None:
        """Answer `subscriptionRemoved`: forget the old subscription and make a new one for the same meeting; return its id."""
        async with self._lock:
            sub = await self._store.get(PLATFORM, subscription.subscription_id)
            if sub is None:
                _LOGGER.info("removal reported for unknown subscription %s: ignored", subscription.subscription_id)
                return None
            return await self._replace(sub)

    async def _replace(self, sub: Subscription) -> str | None:
        await self._store.remove(sub.subscription_id)
        ends_at = sub.meeting_ends_at or self._clock()
        new = await self._subscribe(sub.therapist_id, sub.meeting_id, sub.join_url, sub.resource, ends_at)
        _LOGGER.info("subscription %s replaced by %s", sub.subscription_id, new)
        return new

    async def _subscribe(self, therapist_id: str, meeting_id: str, join_url: str, resource: str, ends_at: datetime) -> str:
        now = self._clock()
        client_state = secrets.token_urlsafe(32)
        body = {
            "changeType": CHANGE_TYPE,
            "notificationUrl": self._public_url + WEBHOOK_PATH,
            "lifecycleNotificationUrl": self._public_url + LIFECYCLE_PATH,
            "resource": resource,
            "includeResourceData": True,
            "encryptionCertificate": self._key.encryption_certificate,
            "encryptionCertificateId": self._key.certificate_id,
            "expirationDateTime": to_iso(now + LIFETIME),
            "clientState": client_state,
        }
        made = await self._graph.post("create subscription", SUBSCRIPTIONS_PATH, body)
        subscription_id = made.get("id") if isinstance(made, dict) else None
        if not isinstance(subscription_id, str) or not subscription_id:
            raise GraphError("create subscription", 0, "no_id", True)
        sub = Subscription(subscription_id, PLATFORM, therapist_id, meeting_id, resource, now + LIFETIME, join_url, ends_at)
        await self._store.put(sub, client_state, now)
        _LOGGER.info("subscribed to meeting %s of therapist %s: subscription %s", meeting_id, therapist_id, subscription_id)
        return subscription_id

    async def _renew(self, sub: Subscription, now: datetime) -> None:
        expires = now + LIFETIME
        try:
            await self._graph.patch("renew subscription", f"{SUBSCRIPTIONS_PATH}/{quote(sub.subscription_id, safe='')}", {"expirationDateTime": to_iso(expires)})
        except GraphError as err:
            if err.status != 404:  # anything else: tried again on the next run, well before it lapses
                raise
            await self._replace(sub)  # Graph dropped it (it lapsed, or was removed unannounced)
            return
        await self._store.update(sub.subscription_id, now, expires_at=expires)
        _LOGGER.info("renewed subscription %s until %s", sub.subscription_id, to_iso(expires))

    async def _delete(self, sub: Subscription, why: str) -> None:
        try:
            await self._graph.delete("delete subscription", f"{SUBSCRIPTIONS_PATH}/{quote(sub.subscription_id, safe='')}")
        except GraphError as err:
            if err.status != 404:  # already gone at Graph is as good as deleted
                raise
        await self._store.remove(sub.subscription_id)
        _LOGGER.info("deleted subscription %s (meeting %s %s)", sub.subscription_id, sub.meeting_id, why)

    @staticmethod
    async def _try(work: Awaitable[object]) -> None:
        """Run one subscription's work; a Graph failure is logged and left for the next run, and the others go on."""
        try:
            await work
        except GraphError as err:
            _LOGGER.warning("%s; tried again on the next run", err)
