"""The client book: the settings file's profiles and the database's together, the settings file winning every clash."""
from __future__ import annotations

import pytest

from bot.core.client_form import client_from_form, vocabulary
from bot.core.reminders import profile_for_meeting
from bot.storage.client_profiles import ClientRecords
from bot.storage.store import Store, create_engine
from bot.tracking.client_book import ClientBook, ClientConflict
from bot.tracking.notice_board import NoticeBoard
from bot.tracking.tracker import SessionTracker
from tests.bot.timekeeping.harness import Clock
from tests.conftest import DATA_KEY, storage_keys


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def tracker(settings):
    engine = create_engine(settings.storage.url)
    store = Store(engine, storage_keys())
    await store.upgrade()
    yield SessionTracker(settings, store, NoticeBoard(store), Clock())
    await engine.dispose()


def new(tracker, form):
    return client_from_form(form, vocabulary(tracker.checklist_points), "t1", DATA_KEY)


async def test_database_profiles_join_the_settings_files(tracker):
    await tracker.clients.add(new(tracker, {"code": "C-21", "flags": ["animals"], "meeting_ids": ["999"]}))
    settings = await tracker.clients.settings()
    assert [(c.code, c.source) for c in settings.clients] == [("C-17", "settings"), ("C-21", "database")]
    assert profile_for_meeting(settings, "t1", "999").flags == ("animals",)
    assert tracker.settings.clients == settings.clients[:1]  # the settings as loaded stay as they were


async def test_the_settings_file_wins_every_clash(tracker):
    with pytest.raises(ClientConflict, match="settings file"):
        await tracker.clients.add(new(tracker, {"code": "C-17"}))
    with pytest.raises(ClientConflict, match="85746065432 is client C-17"):
        await tracker.clients.add(new(tracker, {"code": "C-21", "meeting_ids": ["85746065432"]}))
    await tracker.clients.add(new(tracker, {"code": "C-21"}))
    with pytest.raises(ClientConflict, match="settings file says this meeting is client C-17"):
        await tracker.clients.assign("t1", "85746065432", "C-21")
    with pytest.raises(ClientConflict):
        await tracker.clients.remove("t1", "C-17")
    # A clash made by the settings file later: the database's profile and link are left out.
    await ClientRecords(tracker.store.engine).add(new(tracker, {"code": "C-17", "flags": ["animals"]}), tracker.clock())
    await tracker.clients.reload()
    assert [c.source for c in (await tracker.clients.settings()).clients if c.code == "C-17"] == ["settings"]


async def test_another_instances_change_is_seen_once_the_book_is_a_few_seconds_old(tracker):
    ticks = Ticks()
    other = ClientBook(tracker.settings, ClientRecords(tracker.store.engine), tracker.clock, tracker.keep_client_codes, ticks)
    assert len((await other.settings()).clients) == 1
    await tracker.clients.add(new(tracker, {"code": "C-21"}))
    assert len((await other.settings()).clients) == 1
    ticks.now = 6
    assert len((await other.settings()).clients) == 2
