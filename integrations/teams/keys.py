"""The typed app keys the Teams platform's parts share: each set at start-up by the part that owns it."""
from __future__ import annotations

from typing import Mapping

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.storage.subscriptions import SubscriptionStore

from .calling_bot import CallingBot
from .certificate import ServiceKey
from .graph import GraphClient
from .lifecycle import SubscriptionLifecycle
from .sync import TeamsMeetingSync

GRAPH = web.AppKey("teams_graph", GraphClient)
SERVICE_KEY = web.AppKey("teams_service_key", ServiceKey)
# The service's private keys by encryptionCertificateId (the service key's, and any kept through a rollover): the webhook decrypts with them.
DECRYPTION_KEYS = web.AppKey("teams_decryption_keys", Mapping[str, RSAPrivateKey])
SUBSCRIPTIONS = web.AppKey("teams_subscriptions", SubscriptionStore)  # the manager writes them, the webhook reads them
LIFECYCLE = web.AppKey("teams_subscription_lifecycle", SubscriptionLifecycle)  # the SubscriptionManager
MEETING_SYNC = web.AppKey("teams_meeting_sync", TeamsMeetingSync)
CALLING_BOT = web.AppKey("teams_calling_bot", CallingBot)  # set as the app starts; the callback route hands it each callback
