"""Client profiles and meeting links in SQLite and PostgreSQL: kept, changed, forgotten; bad rows left out."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.core.settings import DATABASE, ClientProfile
from bot.storage import schema
from bot.storage.client_profiles import ClientRecords, ClientTaken, MeetingTaken, NoSuchClient
from bot.storage.session_clients import SessionClients
from bot.storage.store import Store, create_engine
from tests.conftest import storage_keys

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def profile(code: str = "C-21", therapist: str = "t1", **fields) -> ClientProfile:
    return ClientProfile(code=code, therapist=therapist, source=DATABASE, **fields)


@pytest.fixture
async def engine(storage_url):
    engine = create_engine(storage_url)
    await Store(engine, storage_keys()).upgrade()
    yield engine
    await engine.dispose()


async def test_a_profile_is_kept_changed_and_forgotten(engine):
    records = ClientRecords(engine)
    await records.add(profile(flags=("animals",), linked_meeting_ids=("111", "222"), email_digests=("d1",)), NOW)
    (kept,) = (await records.load()).profiles
    assert kept == profile(flags=("animals",), linked_meeting_ids=("111", "222"), email_digests=("d1",))
    with pytest.raises(ClientTaken):
        await records.add(profile(), NOW)

    await records.change(profile(mode="face_to_face", linked_meeting_ids=("222", "333")), NOW)
    stored = await records.load()
    assert stored.profiles == (profile(mode="face_to_face", linked_meeting_ids=("222", "333")),)
    with pytest.raises(NoSuchClient):
        await records.change(profile("C-99"), NOW)

    await records.remove("t1", "C-21")
    assert await records.load() == type(stored)((), {})
    with pytest.raises(NoSuchClient):
        await records.remove("t1", "C-21")


async def test_codes_and_meetings_belong_to_their_therapist(engine):
    records = ClientRecords(engine)
    await records.add(profile(linked_meeting_ids=("111",)), NOW)
    await records.add(profile(therapist="t2", linked_meeting_ids=("111",)), NOW)  # the same code and meeting, another therapist
    with pytest.raises(MeetingTaken) as taken:
        await records.add(profile("C-22", linked_meeting_ids=("111",)), NOW)
    assert (taken.value.meeting_id, taken.value.code) == ("111", "C-21")
    assert [p.therapist for p in (await records.load()).profiles] == ["t1", "t2"]  # the refused one kept nothing


async def test_a_meeting_moves_to_the_client_it_is_said_to_be(engine):
    records = ClientRecords(engine)
    await records.add(profile(linked_meeting_ids=("111",)), NOW)
    await records.add(profile("C-22"), NOW)
    assert await records.link("t1", "111", "C-22") == "C-21"
    assert await records.link("t1", "111", "C-22") is None  # already so
    assert await records.link("t1", "555", "C-17") is None  # a settings-file client's code is linked too
    stored = await records.load()
    assert [(p.code, p.linked_meeting_ids) for p in stored.profiles] == [("C-21", ()), ("C-22", ("111",))]
    assert stored.links[("t1", "C-17")] == ("555",)
    assert await records.link("t1", "111", None) == "C-22"
    assert ("t1", "C-22") not in (await records.load()).links


async def test_a_row_that_cannot_be_a_profile_is_left_out_and_the_others_are_read(engine, caplog):
    records = ClientRecords(engine)
    await records.add(profile("C-30", linked_meeting_ids=("111",)), NOW)
    good = dict(therapist_id="t1", mode="online", flags="[]", email_digests="[]", name_digests="[]", updated_at="x")
    bad = [
        {**good, "code": "C-1", "flags": "{not json"},
        {**good, "code": "C-2", "flags": '{"a": 1}'},
        {**good, "code": "C-3", "name_digests": "[1, 2]"},
        {**good, "code": "C-4", "mode": "by post"},
        {**good, "code": "Sam Smith"},
        {**good, "code": "C-5", "therapist_id": ""},
        {**good, "code": "C-6", "email_digests": "[" * 5000 + "]" * 5000},
    ]
    async with engine.begin() as conn:
        await conn.execute(schema.client_profiles.insert(), bad)
        await conn.execute(schema.client_meetings.insert().values(therapist_id="t1", meeting_id="", code="C-30"))
    stored = await records.load()
    assert [(p.code, p.linked_meeting_ids) for p in stored.profiles] == [("C-30", ("111",))]
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.storage.client_profiles"]
    assert len(warnings) == len(bad) and all("Sam" not in w for w in warnings)


async def test_a_session_keeps_the_first_code_kept_for_it(engine):
    sessions = SessionClients(engine)
    await sessions.keep("t1", {"s1": "C-21", "s2": "C-21"})
    await sessions.keep("t1", {"s1": "C-22"})
    await sessions.keep("t1", {})
    assert (await sessions.code("s1"), await sessions.code("s3")) == ("C-21", None)
    assert await sessions.kept("t1") == {"s1", "s2"} and await sessions.kept("t2") == set()
