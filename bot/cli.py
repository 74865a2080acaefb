"""The `companion` command: serve, check-config, migrate, summary, demo, therapist set-password, new-session-key, the keys (init, new-key, rotate-key), purge, client and deliveries."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Sequence

from sqlalchemy.exc import DBAPIError

from bot import cli_deliveries, cli_privacy
from bot.config.database_check import DatabaseProblem, driver_reason, reach_database
from bot.config.environment import CONFIG_HELP, CONFIG_VARIABLE
from bot.config.log_levels import configure_logging, quiet_libraries
from bot.config.settings_file import load_settings
from bot.config.starter import FILL_IN, new_key, write_starter
from bot.core.settings import Settings, SettingsError
from bot.storage.files import write_private

EXIT_USAGE = 2
EXIT_FAILURE = 1


def _reason(err: Exception) -> str:
    """Say why, without the statement or its parameters (they may carry a client's name)."""
    if isinstance(err, DBAPIError):
        return f"the database did not answer: {driver_reason(err)}"
    return (err.strerror if isinstance(err, OSError) else None) or type(err).__name__


def _start_problems() -> tuple[type[Exception], ...]:
    """Return the problems that stop a command before it starts: keys or a schema not this database's or this code's.

    Imported only when something was raised: `companion serve` answers its health checks before it loads the storage.
    """
    from bot.storage.schema_revision import SchemaProblem
    from bot.storage.sealing import KeyProblem

    return KeyProblem, SchemaProblem


def _version() -> str:
    try:
        return version("session-companion")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="companion", description="Session Companion: a private companion for therapists.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--config", help=CONFIG_HELP)
    serve.add_argument("--port", type=int, help="listen on this port instead of [server] port")
    check = commands.add_parser("check-config", help="validate a settings file and the checklist, and reach the database")
    check.add_argument("--config", help=CONFIG_HELP)
    check.add_argument("--offline", action="store_true", help="validate only: do not connect to the database")
    migrate = commands.add_parser("migrate", help="create the database's schema or bring it to this version's, and say from which revision to which")
    migrate.add_argument("--config", help=CONFIG_HELP)
    summary = commands.add_parser("summary", help="print a session's summary, or write it to a file")
    summary.add_argument("session_id")
    summary.add_argument("--config", help=CONFIG_HELP)
    summary.add_argument("--format", choices=("json", "md", "html", "pdf"), default="json")
    summary.add_argument("--out", help="write to this file instead of standard output (pdf needs it)")
    demo = commands.add_parser("demo", help="replay a scripted meeting on loopback, then serve its pages until Ctrl-C")
    demo.add_argument("--no-wait", action="store_true", help="stop once the summary is written (for scripts and tests)")
    demo.add_argument("--platform", help="the platform the scripted meeting is on: zoom (the default) or teams")
    therapist = commands.add_parser("therapist", help="manage a therapist's sign-in to the pages")
    therapist_commands = therapist.add_subparsers(dest="therapist_command", required=True)
    password = therapist_commands.add_parser("set-password", help="set a therapist's password (from standard input unless a terminal)")
    password.add_argument("therapist_id")
    password.add_argument("--config", help=CONFIG_HELP)
    commands.add_parser("new-session-key", help="print a new random [server] session_key for the pages' sign-in cookie")
    commands.add_parser("new-key", help="print a new random key: a [privacy] notes key or data_key")
    init = commands.add_parser("init", help="write a starter settings file with fresh keys (readable by its owner only)")
    init.add_argument("--config", help=f"the settings file to write (default: ${CONFIG_VARIABLE}); an existing one is left alone")
    rotate = commands.add_parser("rotate-key", help="re-encrypt every stored note under the first [privacy] notes key")
    rotate.add_argument("--config", help=CONFIG_HELP)
    cli_privacy.add_commands(commands)
    cli_deliveries.add_commands(commands)
    return parser


def _serve(settings: Settings, port: int | None) -> int:
    """Serve until stopped; exit 1 with a message, having started nothing, when the address cannot be had."""
    from bot.web.serving import CannotListen, serve

    configure_logging(settings.logging)
    try:
        serve(settings, port if port is not None else settings.server.port)
    except CannotListen as err:
        print(f"companion: {err}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


async def _summary(settings: Settings, session_id: str) -> tuple[dict, str] | None:
    """Return a stored session's summary and its therapist's time zone (None: no such session)."""
    from bot.storage.opened import opened_store
    from bot.tracking.notice_board import NoticeBoard
    from bot.tracking.tracker import SessionTracker, utc_now

    async with opened_store(settings, read_only=True) as store:
        row = await store.session(session_id)
        if row is None:
            return None
        view = await SessionTracker(settings, store, NoticeBoard(store), utc_now).view(row)
    therapist = settings.therapist(row.therapist_id)
    return view.summary, therapist.timezone if therapist else "UTC"


def _rendered(summary: dict, zone: str, fmt: str) -> str | bytes:
    """Return the summary in the asked format: text, or the PDF's bytes."""
    from bot.core.render import RENDERERS

    if fmt == "json":
        return json.dumps(summary, indent=2, ensure_ascii=False)
    if fmt == "pdf":
        from bot.summaries.pdf import summary_pdf

        return summary_pdf(summary, zone)
    return RENDERERS[fmt](summary, zone)


def _migrate(settings: Settings) -> int:
    from bot.storage.opened import migrated

    migration = asyncio.run(migrated(settings))
    print(f"migrated the database {migration}" + (" (it was up to date)" if migration.before == migration.after else ""))
    return 0


def _new_password() -> str:
    """Read the new password: asked twice on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("The same again: ") != first:
            raise SettingsError(["the two passwords differ: nothing was changed"])
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _set_password(settings: Settings, therapist_id: str, password: str) -> None:
    from bot.storage.opened import opened_store
    from bot.storage.sign_ins import SignInRecords
    from bot.tracking.tracker import utc_now
    from bot.web.passwords import hash_password

    async with opened_store(settings) as store:
        await SignInRecords(store.engine).set_password(therapist_id, hash_password(password), utc_now())


def _therapist_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.web.passwords import password_problem

    if settings.therapist(args.therapist_id) is None:
        print(f"companion: no therapist {args.therapist_id!r} in {args.config}", file=sys.stderr)
        return EXIT_USAGE
    try:
        password = _new_password()
    except (SettingsError, EOFError, KeyboardInterrupt) as err:
        print(f"companion: {err if isinstance(err, SettingsError) else 'no password was given'}", file=sys.stderr)
        return EXIT_USAGE
    if problem := password_problem(password):
        print(f"companion: {problem}: nothing was changed", file=sys.stderr)
        return EXIT_USAGE
    asyncio.run(_set_password(settings, args.therapist_id, password))
    print(f"the password of therapist {args.therapist_id} is set; any lock-out is lifted")
    return 0


async def _rotate_key(settings: Settings) -> int:
    """Re-encrypt every sealed value under the first notes key; say what was done (exit 1 if some value no key opens)."""
    from bot.storage.opened import opened_store
    from bot.storage.rotation import rotate_sealed

    async with opened_store(settings) as store:  # the keys checked: one of them must open what is stored
        done = await rotate_sealed(store.engine, store.at_rest)
    print(f"re-encrypted {done.rotated} stored value(s) under the first notes key; {done.current} already were")
    if done.unreadable:
        print(f"companion: {done.unreadable} stored value(s) open with none of the configured keys: left as they were (row ids in the log)", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _init(path: str) -> int:
    try:
        write_starter(Path(path))
    except FileExistsError:
        print(f"companion: {path} exists: init writes a new file only, and changed nothing", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        print(f"companion: init failed: {_reason(err)}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"wrote {path} with fresh keys and an API token (readable by you only); fill in what says FILL IN:")
    print("\n".join(f"  {key}: {what}" for key, what in FILL_IN))
    print(f"then run: companion check-config --config {path}")
    return 0


def _check_config(settings: Settings, path: str, offline: bool) -> int:
    """Say that the settings are valid, and (unless offline) whether the database answers, with the driver's reason if not."""
    print(f"{path}: settings are valid ({len(settings.therapists)} therapist(s), {len(settings.clients)} client profile(s))")
    if offline:
        return 0
    try:
        print(asyncio.run(reach_database(settings.storage.url)))
    except DatabaseProblem as err:
        print(f"companion: check-config: the database did not answer: {err}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; bad input is a message and exit code 2, never a traceback.

    Every file the service or a command creates (the database, keys, exports, summaries)
    is the operator's alone: the umask takes group and others' access away.
    """
    umask = os.umask(0o077)
    try:
        return _main(argv)
    finally:
        os.umask(umask)


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "summary" and args.format == "pdf" and not args.out:
        print("companion: --format pdf needs --out FILE (a PDF is never written to the terminal)", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "demo":
        from bot.demo import main as demo_main

        return demo_main(wait=not args.no_wait, platform=args.platform)
    if args.command in ("new-session-key", "new-key"):
        print(new_key())
        return 0
    args.config = args.config or os.environ.get(CONFIG_VARIABLE, "")
    if not args.config:  # every command left has --config
        print(f"companion: {args.command} needs a settings file: give --config FILE or set {CONFIG_VARIABLE}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "init":
        return _init(args.config)
    try:
        settings = load_settings(args.config, os.environ)
    except SettingsError as err:
        print(f"companion: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "check-config":
        return _check_config(settings, args.config, args.offline)
    if args.command == "serve" and args.port is not None and not 0 <= args.port <= 65535:
        print("companion: --port must be between 0 and 65535", file=sys.stderr)
        return EXIT_USAGE
    quiet_libraries(settings.logging)
    try:
        if args.command == "serve":
            return _serve(settings, args.port)
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "therapist":
            return _therapist_command(settings, args)
        if args.command == "rotate-key":
            return asyncio.run(_rotate_key(settings))
        if args.command in cli_privacy.COMMANDS:
            return cli_privacy.run(settings, args)
        if args.command in cli_deliveries.COMMANDS:
            return cli_deliveries.run(settings, args)
        found = asyncio.run(_summary(settings, args.session_id))
        if found is None:
            print(f"companion: no session {args.session_id!r} in {settings.storage.url.split('://')[0]} storage", file=sys.stderr)
            return EXIT_USAGE
        document = _rendered(*found, args.format)
        if args.out:
            write_private(Path(args.out), document if isinstance(document, bytes) else (document + "\n").encode("utf-8"))
        else:
            print(document)
    except _start_problems() as err:  # keys or a schema that are not this database's or this code's: say so, start nothing
        print(f"companion: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, DBAPIError) as err:  # a database that does not answer, an --out that cannot be written
        print(f"companion: {args.command} failed: {_reason(err)}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
