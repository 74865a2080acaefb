"""The commands that keep the record no longer than it should be: purge, client export and client forget."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

from bot.config.environment import CONFIG_HELP
from bot.core.retention import cutoff
from bot.core.settings import Settings
from bot.core.timefmt import to_iso
from bot.storage.files import write_private

if TYPE_CHECKING:  # the storage and tracking are imported when a command runs: `companion serve` builds this parser too
    from bot.storage.retention import Removal
    from bot.tracking.client_records import ClientSessions
    from bot.tracking.tracker import SessionTracker

EXIT_USAGE = 2
COMMANDS = ("purge", "client")


def add_commands(commands: Any) -> None:
    """Add `purge` and `client export|forget` to the command line."""
    purge = commands.add_parser("purge", help="delete every row of the sessions that ended longer ago than [privacy] retention_days")
    purge.add_argument("--config", help=CONFIG_HELP)
    purge.add_argument("--dry-run", action="store_true", help="say what would go (counts and session ids), delete nothing")
    client = commands.add_parser("client", help="one client's record: export it, or forget it")
    client_commands = client.add_subparsers(dest="client_command", required=True)
    export = client_commands.add_parser("export", help="write every session summary and note of a client: JSON, and Markdown beside it")
    forget = client_commands.add_parser("forget", help="delete every row about a client, and say how many went")
    for command in (export, forget):
        command.add_argument("code", help="the client's code, e.g. C-17")
        command.add_argument("--config", help=CONFIG_HELP)
        command.add_argument("--therapist", help="the therapist's id, when more than one has a client with this code")
    export.add_argument("--out", required=True, help="the JSON file to write (mode 0600); the Markdown goes beside it")


@asynccontextmanager
async def _tracker(settings: Settings, read_only: bool) -> AsyncIterator[SessionTracker]:
    from bot.storage.opened import opened_store
    from bot.tracking.notice_board import NoticeBoard
    from bot.tracking.tracker import SessionTracker, utc_now

    async with opened_store(settings, read_only) as store:
        yield SessionTracker(settings, store, NoticeBoard(store), utc_now)


def _table_lines(removal: Removal) -> list[str]:
    return [f"  {table}: {count}" for table, count in sorted(removal.counts.items())] or ["  no rows"]


async def _purge(settings: Settings, dry_run: bool) -> list[str]:
    from bot.storage.retention import Retention

    async with _tracker(settings, read_only=dry_run) as tracker:
        now = tracker.clock()
        limit = cutoff(now, settings.privacy.retention_days)
        removal = await Retention(tracker.store.engine).purge(limit, now, dry_run=dry_run)
    assert removal is not None  # only a purge of a day's due row can find it done
    days = settings.privacy.retention_days
    if dry_run:
        lines = [f"would delete {len(removal.session_ids)} session(s) that ended before {to_iso(limit)} ({days} days ago):"]
        lines += [f"  {session_id}" for session_id in removal.session_ids]
        return lines + ["rows that would go, by table:"] + _table_lines(removal)
    lines = [f"deleted {len(removal.session_ids)} session(s) that ended before {to_iso(limit)} ({days} days ago); rows by table:"]
    return lines + _table_lines(removal)


def _markdown_path(out: Path) -> Path:
    return out.with_suffix(".md") if out.suffix.lower() == ".json" else Path(f"{out}.md")


def _skipped(found: ClientSessions) -> list[str]:
    lines = []
    if found.unjudged:
        lines.append(f"note: {len(found.unjudged)} session(s) of this client cannot be read, and are not in the export")
    if found.unreadable:
        lines.append(f"note: {found.unreadable} other session(s) cannot be read: any of this client's among them are left as they are")
    return lines


async def _client(settings: Settings, args: argparse.Namespace) -> list[str]:
    from bot.core.export import export_document, export_markdown
    from bot.tracking.client_records import ClientRecords

    async with _tracker(settings, read_only=args.client_command == "export") as tracker:
        records = ClientRecords(tracker)
        found = await records.find(args.code, args.therapist)
        if args.client_command == "export":
            therapist = settings.therapist(found.therapist_id)
            document = export_document(found.code, found.therapist_id, [v.summary for v in found.views], tracker.clock())
            out = Path(args.out)
            write_private(out, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
            markdown = _markdown_path(out)
            write_private(markdown, export_markdown(document, therapist.timezone if therapist else "UTC").encode("utf-8"))
            return [f"exported {len(found.views)} session(s) of client {found.code} to {out} and {markdown} (mode 0600)", *_skipped(found)]
        removal = await records.forget(found)
    lines = [f"forgot client {found.code} of therapist {found.therapist_id}: {len(removal.session_ids)} session(s); rows deleted by table:"]
    lines += _table_lines(removal) + _skipped(found)
    if any(c.therapist == found.therapist_id and c.code == found.code for c in settings.clients):
        lines.append(f"the settings file still has client {found.code}: remove its [[clients]] entry (its meetings, emails and names)")
    return lines


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run `purge` or `client export|forget`; an unknown or ambiguous client code is exit code 2."""
    from bot.tracking.client_records import AmbiguousClient, UnknownClient

    try:
        lines = asyncio.run(_purge(settings, args.dry_run) if args.command == "purge" else _client(settings, args))
    except UnknownClient:
        whose = f" of therapist {args.therapist}" if args.therapist else ""
        print(f"companion: no client {args.code!r}{whose}: no profile and no session has this code", file=sys.stderr)
        return EXIT_USAGE
    except AmbiguousClient as err:
        print(f"companion: client {args.code!r} is a client of {', '.join(err.therapists)}: say whose with --therapist", file=sys.stderr)
        return EXIT_USAGE
    print("\n".join(lines))
    return 0
