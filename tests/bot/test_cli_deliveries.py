"""`companion deliveries [--failed]` and `deliveries retry ID`: the outbox as an operator sees it, and a failed delivery sent again."""
from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.core.timefmt import from_iso, to_iso
from bot.delivery.workers import LEASE
from bot.storage import schema
from bot.storage.outbox import Outbox
from bot.storage.store import Store, create_engine
from tests.conftest import PRIVACY_TOML, SECRET, THERAPIST_A_HOST, THERAPIST_B_HOST, TOKEN_A, TOKEN_B, free_port, storage_keys
from tests.fakes.companion_process import CompanionProcess
from tests.fakes.fixtures import PUBLIC_URL, T1_JID
from tests.fakes.records import CLIENT_NAME

ROOT = Path(__file__).parent.parent.parent
NOW = datetime.now(timezone.utc)  # the commands run on the real clock
SAID = f"{CLIENT_NAME} joined the meeting."  # a notice's text, with a name in it: never listed
WAIT_SECONDS = 60.0  # a bound on waiting for the service, not a speed the test expects


def write_config(tmp_path: Path, url: str, zoom: dict[str, str] | None = None, port: int = 0) -> Path:
    """Write a settings file; with `zoom` (the chat's settings) t1 is alerted in Zoom chat too (its JID configured)."""
    zoom_keys = "".join(f'{key} = "{value}"\n' for key, value in (zoom or {}).items())
    channels = 'channels = ["dashboard", "zoom_chat"]\n' if zoom else ""
    path = tmp_path / "companion.toml"
    path.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\npublic_url = "{PUBLIC_URL}"\n[storage]\nurl = "{url}"\n'
        f'[zoom]\nwebhook_secret_token = "{SECRET}"\n{zoom_keys}[reminders]\nsync_interval_minutes = 0\n[framing]\nenabled = false\n'
        f"{PRIVACY_TOML}retention_days = 36500\n"
        f'[[therapists]]\nid = "t1"\nname = "A"\napi_token = "{TOKEN_A}"\nzoom_user_id = "{THERAPIST_A_HOST}"\nzoom_jid = "{T1_JID}"\n{channels}'
        f'[[therapists]]\nid = "t2"\nname = "B"\napi_token = "{TOKEN_B}"\nzoom_user_id = "{THERAPIST_B_HOST}"\n',
        encoding="utf-8",
    )
    return path


async def raise_notice(url: str, n: int, therapist: str = "t1", session: str | None = "s-one", kind: str = "third_party_joined") -> int:
    """Store a notice as the service would, with a pending delivery on the dashboard and in Zoom chat; return its id."""
    engine = create_engine(url)
    store = Store(engine, storage_keys(), lambda _therapist_id, _kind: ("dashboard", "zoom_chat"))
    try:
        await store.upgrade()
        row = await store.raise_notice(therapist, session, kind, f"{session}:{kind}:{n}", NOW, SAID, NOW)
        assert row is not None
        return row.id
    finally:
        await store.close()
        await engine.dispose()


async def deliveries(url: str) -> dict[tuple[int, str], Any]:
    """Return every delivery row by (notice id, channel)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {(r.notice_id, r.channel): r for r in (await conn.execute(select(schema.deliveries))).all()}
    finally:
        await engine.dispose()


async def fill(url: str) -> dict[str, int]:
    """Store three notices; t1's in Zoom chat fails (404), t2's reminder is sent there; the dashboard's stay pending."""
    failing, sent = await raise_notice(url, 1), await raise_notice(url, 2, "t2", None, "checklist_reminder")
    engine = create_engine(url)
    outbox = Outbox(engine)
    try:
        claimed = {d.notice.id: d for d in await outbox.claim_due("zoom_chat", NOW, 10, LEASE)}
        assert await outbox.finish(claimed[failing], "failed", NOW, "http_404")
        assert await outbox.finish(claimed[sent], "sent", NOW)
    finally:
        await outbox.close()
        await engine.dispose()
    rows = await deliveries(url)
    return {"failed": rows[failing, "zoom_chat"].id, "sent": rows[sent, "zoom_chat"].id, "pending": rows[failing, "dashboard"].id, "notice": failing}


@pytest.fixture
def stored(tmp_path: Path, storage_url: str) -> tuple[Path, dict[str, int], str]:
    """The settings file, the deliveries' ids and the database's URL: SQLite, then PostgreSQL."""
    return write_config(tmp_path, storage_url), asyncio.run(fill(storage_url)), storage_url


def listed(out: str) -> dict[str, list[str]]:
    """Return the listed rows by delivery id, each split into its columns (the header checked)."""
    header, *rows = out.splitlines()
    assert header.split() == ["id", "notice", "therapist", "session", "kind", "channel", "state", "attempts", "last", "failure", "raised", "next", "attempt", "updated"]
    return {row.split()[0]: row.split() for row in rows}


def test_the_list_shows_each_delivery_newest_first_with_ids_kind_channel_state_attempts_reason_and_times_but_no_text(stored, capsys):
    config, ids, _ = stored
    assert main(["deliveries", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    rows = listed(out)
    assert [int(i) for i in rows] == sorted((int(i) for i in rows), reverse=True) and len(rows) == 4
    raised = to_iso(NOW)
    assert rows[str(ids["failed"])] == [str(ids["failed"]), str(ids["notice"]), "t1", "s-one", "third_party_joined", "zoom_chat", "failed", "1", "http_404", raised, "-", raised]
    assert rows[str(ids["sent"])][2:10] == ["t2", "-", "checklist_reminder", "zoom_chat", "sent", "1", "-", raised]
    assert rows[str(ids["pending"])][6:11] == ["pending", "0", "-", raised, raised]  # due since it was raised
    assert CLIENT_NAME not in out and SAID not in out


def test_failed_lists_the_failed_deliveries_only_and_limit_says_what_it_left_out(stored, capsys):
    config, ids, _ = stored
    assert main(["deliveries", "--failed", "--config", str(config)]) == 0
    assert list(listed(capsys.readouterr().out)) == [str(ids["failed"])]
    assert main(["deliveries", "--limit", "1", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.endswith("the newest 1 of 4 deliveries: --limit N shows more\n") and len(out.splitlines()) == 3


def test_retry_makes_a_failed_delivery_pending_and_due_now_with_fresh_attempts(stored, capsys):
    config, ids, url = stored
    assert main(["deliveries", "retry", str(ids["failed"]), "--config", str(config)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"delivery {ids['failed']} (notice {ids['notice']}, third_party_joined, by zoom_chat, therapist t1) had failed (http_404)")
    assert "pending again, due now" in said and CLIENT_NAME not in said
    row = asyncio.run(deliveries(url))[ids["notice"], "zoom_chat"]
    assert (row.state, row.attempts, row.last_error) == ("pending", 0, "http_404")
    assert NOW <= from_iso(row.next_attempt_at) <= datetime.now(timezone.utc)
    assert main(["deliveries", "--failed", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "no failed deliveries\n"


@pytest.mark.parametrize(
    ("which", "args", "message"),
    [
        ("unknown", ["retry", "999999"], "no delivery 999999"),
        ("sent", ["retry", "{sent}"], "delivery {sent} is sent, not failed"),
        ("pending", ["retry", "{pending}"], "delivery {pending} is pending, not failed"),
        ("not a number", ["retry", "first"], "takes one delivery id"),
        ("too large", ["retry", "99999999999"], "takes one delivery id"),
        ("zero", ["retry", "0"], "takes one delivery id"),
        ("none", ["retry"], "takes one delivery id"),
        ("a list of nothing", ["--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_bad_input_or_a_delivery_that_has_not_failed_is_a_clear_message_and_exit_code_2_changing_nothing(stored, capsys, which, args, message):
    config, ids, url = stored
    before = asyncio.run(deliveries(url))
    assert main(["deliveries", *(a.format(**ids) for a in args), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("companion: ") and message.format(**ids) in err and "Traceback" not in err
    assert asyncio.run(deliveries(url)) == before


async def until_state(url: str, notice: int, expected: str) -> None:
    """Wait until a notice's Zoom chat delivery is in the `expected` state (bounded: the service works on its own schedule)."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while (state := (await deliveries(url))[notice, "zoom_chat"].state) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"notice {notice}'s delivery stayed {state}, never {expected}"
        await asyncio.sleep(0.1)


async def companion(*args: str) -> tuple[int, str, str]:
    """Run a `companion` command as an operator would, in a process of its own."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_retried_delivery_is_sent_by_the_running_service_and_one_retried_while_it_is_stopped_goes_at_its_next_start(tmp_path, storage_url, fake_zoom):
    port = free_port()
    config = write_config(tmp_path, storage_url, fake_zoom.settings(), port)
    service = CompanionProcess(config, port, tmp_path / "companion.log")
    fake_zoom.down("message", status=404)  # refused: a 4xx that retrying cannot fix, so the delivery fails at once
    first = await raise_notice(storage_url, 1)
    await service.start()
    try:
        await until_state(storage_url, first, "failed")
        failed_id = (await deliveries(storage_url))[first, "zoom_chat"].id
        code, out, err = await companion("deliveries", "--failed", "--config", str(config))
        assert code == 0 and list(listed(out)) == [str(failed_id)], err
        fake_zoom.up("message")
        code, out, err = await companion("deliveries", "retry", str(failed_id), "--config", str(config))
        assert code == 0 and "pending again" in out, err
        await until_state(storage_url, first, "sent")  # the running service's worker found it due
        (message,) = fake_zoom.bodies("message")
        assert message["to_jid"] == T1_JID and message["content"]["body"][0]["text"].endswith(f"{PUBLIC_URL}/sessions/s-one")

        fake_zoom.down("message", status=404)
        second = await raise_notice(storage_url, 2)
        await until_state(storage_url, second, "failed")
    finally:
        service.stop()
    second_id = (await deliveries(storage_url))[second, "zoom_chat"].id
    code, out, err = await companion("deliveries", "retry", str(second_id), "--config", str(config))
    assert code == 0 and "if none is running, it goes when the service starts" in out, err
    assert (await deliveries(storage_url))[second, "zoom_chat"].state == "pending"
    fake_zoom.up("message")
    await service.start()
    try:
        await until_state(storage_url, second, "sent")
    finally:
        service.stop()
    assert len(fake_zoom.bodies("message")) == 2
    row = (await deliveries(storage_url))[second, "zoom_chat"]
    assert (row.attempts, row.last_error) == (1, None)
