"""Changes heard from the other instances (bot/tracking/shared_changes.py) are read back only while a stream here listens."""
from __future__ import annotations

import asyncio

from bot.storage.change_notes import ChangeNotes
from bot.storage.store import Store, create_engine
from bot.tracking.notice_board import NoticeBoard, SessionChanged
from bot.tracking.shared_changes import FROM, SharedChanges
from tests.conftest import storage_keys


class CountedNotes(ChangeNotes):
    """The real notes, counting the reads that tell what a heard change is now."""

    reads = 0

    async def therapists(self, session_ids):  # type: ignore[no-untyped-def]
        self.reads += 1
        return await super().therapists(session_ids)


async def test_changes_heard_are_read_and_told_only_while_a_stream_listens(sqlite_url):
    engine = create_engine(sqlite_url)
    store = Store(engine, storage_keys())
    await store.upgrade()
    board, notes = NoticeBoard(store), CountedNotes(engine)
    shared = SharedChanges(board, notes)
    shared.start()
    try:
        shared.heard(f"{FROM}other,zoom-session-1")  # no stream open here: nothing to read it for
        await asyncio.sleep(0.2)
        assert notes.reads == 0
        queue = board.listen()
        shared.heard(f"{FROM}other,zoom-session-1")
        for _ in range(50):
            if notes.reads:
                break
            await asyncio.sleep(0.02)
        assert notes.reads == 1
        assert queue.empty()  # the session is not stored: nothing true to tell
        board.publish_change(SessionChanged("zoom-session-2", "t1"))  # a change made here is told at once
        assert await asyncio.wait_for(queue.get(), 1) == SessionChanged("zoom-session-2", "t1")
    finally:
        await shared.stop()
        await store.close()
        await engine.dispose()
