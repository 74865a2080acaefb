"""The `companion` command: serve, check-config, summary and demo."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Sequence

from sqlalchemy.exc import DBAPIError

from bot.config.settings_file import load_settings
from bot.core.settings import Settings, SettingsError

EXIT_USAGE = 2
EXIT_FAILURE = 1


def _reason(err: Exception) -> str:
    """Say why, without the statement or its parameters (they may carry a client's name)."""
    if isinstance(err, DBAPIError):
        return f"the database did not answer ({type(err.orig).__name__})"
    return (err.strerror if isinstance(err, OSError) else None) or type(err).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="companion", description="Session Companion: a private companion for therapists.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--config", required=True, help="the settings file (TOML)")
    serve.add_argument("--port", type=int, help="listen on this port instead of [server] port")
    check = commands.add_parser("check-config", help="validate a settings file and exit")
    check.add_argument("--config", required=True)
    summary = commands.add_parser("summary", help="print a session's summary")
    summary.add_argument("session_id")
    summary.add_argument("--config", required=True)
    summary.add_argument("--format", choices=("json", "md", "html"), default="json")
    commands.add_parser("demo", help="replay a scripted meeting on loopback and write its summary")
    return parser


def _settings(path: str) -> Settings:
    from bot.config.checklist_file import load_checklist

    settings = load_settings(path, os.environ)
    load_checklist(settings.reminders.checklist_file)  # a bad checklist stops start-up, like bad settings
    return settings


def _serve(settings: Settings, port: int | None) -> int:
    from bot.web.serving import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(settings, port if port is not None else settings.server.port)
    return 0


async def _summary(settings: Settings, session_id: str, fmt: str) -> str | None:
    from bot.core.render import RENDERERS
    from bot.storage.store import Store, create_engine
    from bot.tracking.notice_board import NoticeBoard
    from bot.tracking.tracker import SessionTracker, utc_now

    engine = create_engine(settings.storage.url)
    try:
        store = Store(engine)
        await store.upgrade()
        row = await store.session(session_id)
        if row is None:
            return None
        view = await SessionTracker(settings, store, NoticeBoard(store), utc_now).view(row)
    finally:
        await store.close()
        await engine.dispose()
    if fmt == "json":
        return json.dumps(view.summary, indent=2, ensure_ascii=False)
    therapist = settings.therapist(row.therapist_id)
    return RENDERERS[fmt](view.summary, therapist.timezone if therapist else "UTC")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; bad input is a message and exit code 2, never a traceback."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from bot.demo import main as demo_main

        return demo_main()
    try:
        settings = _settings(args.config)
    except SettingsError as err:
        print(f"companion: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "check-config":
        print(f"{args.config}: settings are valid ({len(settings.therapists)} therapist(s), {len(settings.clients)} client profile(s))")
        return 0
    if args.command == "serve" and args.port is not None and not 0 <= args.port <= 65535:
        print("companion: --port must be between 0 and 65535", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "serve":
            return _serve(settings, args.port)
        text = asyncio.run(_summary(settings, args.session_id, args.format))
    except (OSError, DBAPIError) as err:  # a port in use, a database that does not answer
        print(f"companion: {args.command} failed: {_reason(err)}", file=sys.stderr)
        return EXIT_FAILURE
    if text is None:
        print(f"companion: no session {args.session_id!r} in {settings.storage.url.split('://')[0]} storage", file=sys.stderr)
        return EXIT_USAGE
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
