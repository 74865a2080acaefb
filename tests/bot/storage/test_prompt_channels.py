"""Note prompts are delivered to the dashboard, and to another channel only when prompt_channels names it."""
from __future__ import annotations

from datetime import datetime, timezone

from bot.config.settings_file import parse_settings
from bot.storage.outbox import Outbox
from bot.storage.store import Store, create_engine
from tests.conftest import APP_SECRET, settings_dict, storage_keys

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
ZOOM = {"account_id": "a", "chatbot_client_id": "c", "chatbot_client_secret": APP_SECRET, "robot_jid": "r@xmpp.zoom.us"}


def settings_for(storage_url: str, **therapist):
    raw = settings_dict(storage_url, server={"public_url": "https://c"}, zoom=ZOOM)
    raw["therapists"][0].update(zoom_jid="t1@xmpp.zoom.us", channels=["dashboard", "zoom_chat"], **therapist)
    return parse_settings(raw, {})


async def delivered_to(storage_url: str, settings) -> dict[str, list[str]]:
    store = Store(create_engine(storage_url), storage_keys(), settings.channels_for)
    await store.upgrade()
    try:
        rows = [await store.raise_notice("t1", "s1", kind, f"s1:{kind}", NOW, "words", NOW) for kind in ("note_prompt", "client_video_off")]
        states = await Outbox(store.engine).states(row.id for row in rows)
        return {row.kind: sorted(states[row.id]) for row in rows}
    finally:
        await store.engine.dispose()


async def test_a_prompt_goes_to_the_dashboard_only_by_default(storage_url):
    assert await delivered_to(storage_url, settings_for(storage_url)) == {
        "note_prompt": ["dashboard"],
        "client_video_off": ["dashboard", "zoom_chat"],  # an alarm goes everywhere the therapist asked
    }


async def test_a_prompt_goes_to_the_channels_prompt_channels_names(storage_url):
    settings = settings_for(storage_url, prompt_channels=["zoom_chat"])
    assert await delivered_to(storage_url, settings) == {"note_prompt": ["dashboard", "zoom_chat"], "client_video_off": ["dashboard", "zoom_chat"]}
