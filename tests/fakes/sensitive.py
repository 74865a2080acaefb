"""Every name, email, topic, note text and secret the tests use: no log line, at any level, may hold one of them."""
from __future__ import annotations

import functools
import json
import re

# What the fake platforms hand out (Graph and chatbot access tokens, OAuth tokens) and any JWT.
ISSUED_TOKENS = re.compile(r"graph-token-\d+|\bchatbot-\d+\b|\btok-\d+\b|eyJ[\w-]{8,}\.eyJ")
# Note texts, names and topics the tests send (tests/bot/web/test_api*.py, the scripted people, the fuzz).
SENT = ["Client lay down", "private words", "Client Person", "Unknown Visitor", "Fuzz Person", "Visiting Guest", "Weekly session"]
# The privacy tests' notes, change details, names and topics (tests/test_privacy_at_rest.py, tests/bot/storage/).
PRIVACY_TESTS = ["caravan in Skegness", "behind the curtain", "the allotment", "Jo Name", "Guest Without Ids", "Maureen"]
PAYLOAD_KEYS = ("user_name", "email", "display_name", "displayName", "topic", "subject", "userPrincipalName")


def _walk(value: object, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in PAYLOAD_KEYS and isinstance(inner, str) and len(inner) > 3:
                found.add(inner)
            _walk(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _walk(inner, found)


def personal_values() -> set[str]:
    """Return every name, email and topic in the fixture payloads the tests replay."""
    from tests.conftest import FIXTURES

    found: set[str] = set()
    for path in FIXTURES.rglob("*.json"):
        _walk(json.loads(path.read_text(encoding="utf-8")), found)
    return found


@functools.cache
def sensitive_values() -> frozenset[str]:
    """Return every value the tests use that a log must never hold: secrets, tokens, names, emails, topics, notes."""
    from tests import conftest, test_log_privacy
    from tests.bot import test_cli_privacy
    from tests.bot.storage import test_rotation as rotation
    from tests.fakes import graph, records, rtms_server, zoom_api, zoom_chat
    from tests.integrations.teams.test_calling_bot import JOIN_URL as BOT_JOIN_URL
    from tests.integrations.teams.test_calling_bot import STATE as BOT_STATE
    from tests.integrations.teams.test_round_trip import JOIN_URL as ROUND_TRIP_JOIN_URL
    from tests.integrations.teams.test_sync import ONCE, WEEKLY
    from tests.integrations.teams.test_webhook import JOIN_URL, STATE
    from tests.test_routes_fuzz import JOIN_URL as FUZZ_JOIN_URL
    from tests.test_routes_fuzz import TEAMS_STATE

    secrets = {conftest.SECRET, conftest.TOKEN_A, conftest.TOKEN_B, conftest.SESSION_KEY}
    secrets |= {conftest.DATA_KEY, conftest.NOTES_KEY, rotation.NEW_KEY, rotation.STRANGER}
    secrets |= {graph.CLIENT_SECRET, zoom_api.CLIENT_SECRET, zoom_chat.CHATBOT_SECRET, rtms_server.RTMS_SECRET}
    # A Teams meeting's join link admits its holder; a clientState authenticates Graph's notifications.
    secrets |= {JOIN_URL, FUZZ_JOIN_URL, ROUND_TRIP_JOIN_URL, BOT_JOIN_URL, ONCE, WEEKLY, STATE, TEAMS_STATE, BOT_STATE}
    secrets |= {"meeting_N2QzYjQ5ZTQtYzk1", "meeting_Um91bmRUcmlw", "meeting_V2Vla2x5", "meeting_T25jZQ", "meeting_Q2FtZXJhQm90"}
    people = {records.CLIENT_NAME, records.CLIENT_EMAIL, records.VISITOR_NAME, records.NOTE}
    people |= {v for extra in (test_cli_privacy.OTHER, test_cli_privacy.DB_CLIENT) for v in extra.values()}
    people |= set(test_log_privacy.FLOW_VALUES) | set(PRIVACY_TESTS)
    return frozenset(secrets | people | personal_values() | set(SENT))


def leaks(text: str) -> list[str]:
    """Return what of the sensitive values, and of the tokens the fakes issue, `text` holds."""
    found = sorted(value for value in sensitive_values() if value in text)
    token = ISSUED_TOKENS.search(text)
    return found + ([token.group(0)] if token else [])
