"""What the subscription manager does when Graph says a subscription needs it: the webhook's callback interface."""
from __future__ import annotations

from typing import Protocol

from bot.storage.subscriptions import Subscription


class SubscriptionLifecycle(Protocol):
    """Set at start-up as `app[integrations.teams.keys.LIFECYCLE]` (the SubscriptionManager); called after the acknowledgement."""

    async def reauthorize(self, subscription: Subscription) -> bool:
        """Answer `reauthorizationRequired`: reauthorize the subscription (or replace it); return whether it is watched again."""

    async def resubscribe(self, subscription: Subscription) -> str | None:
        """Answer `subscriptionRemoved`: subscribe to the same meeting again; return the new subscription's id, if any."""
