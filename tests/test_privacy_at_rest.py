"""A meeting whose people have names and emails, on SQLite and PostgreSQL: no summary or export names them or shows the
topic, the database holds none of them nor the therapist's words in the clear, and `[privacy] show_names` brings names
to the therapist's own screens only.
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import json
from pathlib import Path

import pytest
from pdfminer.high_level import extract_text

from bot.cli import main
from bot.web import keys
from bot.web.app import create_app
from tests.bot.web.pages.conftest import set_passwords, sign_in
from tests.conftest import PRIVACY_TOML, SECRET, THERAPIST_A_HOST, TOKEN_A, signed_headers
from tests.raw_read import every_value, file_bytes, found

A = {"Authorization": f"Bearer {TOKEN_A}"}
NAMES = ["Dr Ruth Therapist", "Sam Client", "Alex Visitor"]  # as the fixture's meeting shows them
EMAILS = ["sam.client@example.net", "ruth@clinic.example.org"]
TOPIC = "Weekly session"
NOTE = "Spoke about the caravan in Skegness"
DETAIL = "Went behind the curtain"
UNSALTED = [hashlib.sha256(e.encode()).hexdigest() for e in EMAILS]  # what the previous version kept of an email
PROFILE = {"code": "C-21", "emails": ["Sam.Client@example.net"], "display_names": ["Sam Client"]}


async def recorded(aiohttp_client, settings, deliveries):
    """Return a client of the service after a whole meeting, a client profile by email and name, a note and a marked change."""
    client = await aiohttp_client(create_app(settings))
    await set_passwords(client.app)
    assert (await client.post("/api/clients", json=PROFILE, headers=A)).status == 201
    for body in deliveries:
        raw = json.dumps(body).encode()
        assert (await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))).status == 200
    (listed,) = await (await client.get("/api/sessions", headers=A)).json()
    sid = listed["session_id"]
    assert (await client.post(f"/api/sessions/{sid}/notes", json={"text": NOTE}, headers=A)).status == 201
    assert (await client.post(f"/api/sessions/{sid}/changes", json={"kind": "other", "detail": DETAIL}, headers=A)).status == 201
    await client.app[keys.EVALUATION].drain()
    return client, sid


def config_file(folder: Path, storage_url: str, show_names: bool) -> Path:
    path = folder / "companion.toml"
    path.write_text(
        f'[storage]\nurl = "{storage_url}"\n[zoom]\nwebhook_secret_token = "{SECRET}"\n{PRIVACY_TOML}show_names = {str(show_names).lower()}\n'
        f'[[therapists]]\nid = "t1"\nname = "A"\napi_token = "{TOKEN_A}"\nzoom_user_id = "{THERAPIST_A_HOST}"\ntimezone = "Europe/London"\n',
        encoding="utf-8",
    )
    return path


async def cli_summaries(folder: Path, storage_url: str, show_names: bool, sid: str) -> dict[str, str]:
    """Return `companion summary` in each format, as the command writes it."""
    config, written = config_file(folder, storage_url, show_names), {}
    for fmt in ("json", "md", "html", "pdf"):
        out = folder / f"summary.{fmt}"
        assert await asyncio.to_thread(main, ["summary", sid, "--config", str(config), "--format", fmt, "--out", str(out)]) == 0
        written[f"companion summary --format {fmt}"] = extract_text(io.BytesIO(out.read_bytes())) if fmt == "pdf" else out.read_text(encoding="utf-8")
    return written


@pytest.mark.parametrize("show_names", [False, True], ids=["by-role", "show-names"])
async def test_no_export_names_anyone_and_the_database_keeps_nothing_in_the_clear(
    aiohttp_client, make_settings, storage_url, meeting_deliveries, tmp_path, show_names
):
    settings = make_settings(storage_url, clients=[], privacy={"show_names": show_names})
    client, sid = await recorded(aiohttp_client, settings, meeting_deliveries)
    assert (await sign_in(client)).status == 303
    summary = await (await client.get(f"/api/sessions/{sid}/summary", headers=A)).json()
    assert summary["client_code"] == "C-21"  # matched by the keyed digest of the email
    assert [p["name"] for p in summary["participants"]] == ["Therapist", "C-21", "Other person 1"]
    assert [n["text"] for n in summary["notes"]] == [NOTE] and DETAIL in json.dumps(summary["framing_changes"])

    exports = {
        "API summary as Markdown": await (await client.get(f"/api/sessions/{sid}/summary?format=md", headers=A)).text(),
        "API summary as HTML": await (await client.get(f"/api/sessions/{sid}/summary?format=html", headers=A)).text(),
        "API notices": await (await client.get("/api/notices", headers=A)).text(),
        "API session list": await (await client.get("/api/sessions", headers=A)).text(),
        "summary.md download": await (await client.get(f"/sessions/{sid}/summary.md")).text(),
        "summary.html download": await (await client.get(f"/sessions/{sid}/summary.html")).text(),
        "summary.pdf download": extract_text(io.BytesIO(await (await client.get(f"/sessions/{sid}/summary.pdf")).read())),
    }
    screens = {
        "API summary": json.dumps(summary),
        "API session": await (await client.get(f"/api/sessions/{sid}", headers=A)).text(),
        "summary page": await (await client.get(f"/sessions/{sid}/summary")).text(),
    }
    await client.close()
    exports |= await cli_summaries(tmp_path, storage_url, show_names, sid)
    assert "Skegness" in exports["summary.pdf download"] and "Skegness" in exports["companion summary --format md"]  # the text is readable
    for what, text in exports.items():
        assert not found([*NAMES, *EMAILS, TOPIC], text), what
    for what, text in screens.items():
        assert not found([*EMAILS, TOPIC], text), what
        assert set(found(NAMES, text)) == (set(NAMES) if show_names else set()), what

    stored = every_value(storage_url)
    secrets = [*NAMES, *EMAILS, TOPIC, NOTE, DETAIL, *UNSALTED]
    assert not found(secrets, stored)
    files = file_bytes(storage_url)
    assert files is None or not found(secrets, "", files)
