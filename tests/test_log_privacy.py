"""The whole test run, logged at DEBUG (every library too), holds no token, secret, note text, name or email."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from tests.bot.storage import test_rotation as rotation
from tests.conftest import DATA_KEY, FIXTURES, NOTES_KEY, SECRET, TOKEN_A, TOKEN_B
from tests.fakes import graph, rtms_server, zoom_api, zoom_chat
from tests.integrations.teams.test_calling_bot import JOIN_URL as BOT_JOIN_URL
from tests.integrations.teams.test_calling_bot import STATE as BOT_STATE
from tests.integrations.teams.test_round_trip import JOIN_URL as ROUND_TRIP_JOIN_URL
from tests.integrations.teams.test_sync import ONCE, WEEKLY
from tests.integrations.teams.test_webhook import JOIN_URL, STATE
from tests.test_routes_fuzz import JOIN_URL as FUZZ_JOIN_URL
from tests.test_routes_fuzz import TEAMS_STATE

# Note texts and names the tests send (see tests/bot/web/test_api*.py and the scripted people).
SENT = ["Client lay down", "private words", "Client Person", "Unknown Visitor", "Fuzz Person", "Visiting Guest"]
# The privacy tests' notes, change details, names and topics (tests/test_privacy_at_rest.py, tests/bot/storage/), and their keys.
PRIVACY = [
    "caravan in Skegness", "behind the curtain", "the allotment", "Jo Name", "Guest Without Ids", "Maureen", "Weekly session",
    DATA_KEY, NOTES_KEY, rotation.NEW_KEY, rotation.STRANGER,
]
# A Teams meeting's join link admits its holder; a clientState authenticates Graph's notifications.
TEAMS_SECRETS = [JOIN_URL, FUZZ_JOIN_URL, ROUND_TRIP_JOIN_URL, ONCE, WEEKLY, "meeting_N2QzYjQ5ZTQtYzk1", "meeting_Um91bmRUcmlw", "meeting_V2Vla2x5", "meeting_T25jZQ", STATE, TEAMS_STATE,
                 BOT_JOIN_URL, "meeting_Q2FtZXJhQm90", BOT_STATE]
APP_SECRETS = [graph.CLIENT_SECRET, zoom_api.CLIENT_SECRET, zoom_chat.CHATBOT_SECRET, rtms_server.RTMS_SECRET]
ISSUED_TOKENS = re.compile(r"graph-token-\d+|\bchatbot-\d+\b|\btok-\d+\b|eyJ[\w-]{8,}\.eyJ")  # what the fake platforms hand out; JWTs


def personal_values() -> set[str]:
    """Return every name and email in the fixture payloads the tests replay."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in ("user_name", "email", "display_name") and isinstance(inner, str) and inner:
                    found.add(inner)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for path in FIXTURES.rglob("*.json"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return found


def test_the_whole_run_logged_no_secret_or_personal_data_at_debug(debug_log: Path):
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = debug_log.read_text(encoding="utf-8", errors="replace")
    assert len(text) > 10_000, "the run logged almost nothing: is the DEBUG capture working?"
    secrets = {SECRET, TOKEN_A, TOKEN_B} | personal_values() | set(SENT) | set(PRIVACY) | set(APP_SECRETS) | set(TEAMS_SECRETS)
    leaked = sorted(value for value in secrets if value in text)
    context = {value: text[max(0, text.index(value) - 200): text.index(value) + 80] for value in leaked}
    assert not leaked, f"the log holds {leaked}: {context}"
    tokens = ISSUED_TOKENS.search(text)
    assert tokens is None, f"the log holds an access token: {text[max(0, tokens.start() - 200):tokens.end()]}"
