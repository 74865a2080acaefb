"""Set the log levels: the service's own at `[logging] level`, and at WARNING or above every library whose lines can quote data."""
from __future__ import annotations

import logging

from bot.core.settings import LoggingSettings

# Below WARNING these write what passes through them: SQL and its parameters (aiosqlite, sqlalchemy,
# asyncpg), jobs with their arguments (apscheduler), URLs with their queries and token exchanges
# (urllib3, requests, msal), and encodings guessed from bodies (charset_normalizer). WeasyPrint warns
# with the text it cannot draw and fontTools lists glyphs: ERROR for those (bot/summaries/pdf.py).
# aiohttp's own server loggers are not here: bot/web/logs.py filters them.
QUIET_LIBRARIES = {
    **dict.fromkeys(("aiosqlite", "sqlalchemy", "asyncpg", "apscheduler", "urllib3", "requests", "charset_normalizer"), "WARNING"),
    **dict.fromkeys(("msal", "aiohttp.client", "aiohttp_session", "PIL", "absl"), "WARNING"),
    **dict.fromkeys(("weasyprint", "fontTools"), "ERROR"),
}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def quiet_libraries(settings: LoggingSettings) -> None:
    """Set each library logger to its quiet level, or to the level the operator named for it in `library_levels`."""
    chosen = dict(settings.library_levels)
    for name, quiet in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(chosen.pop(name, quiet))
    for name, level in chosen.items():  # any other logger the operator names
        logging.getLogger(name).setLevel(level)


def configure_logging(settings: LoggingSettings) -> None:
    """Log to standard error at `[logging] level`, with the libraries quietened (a command's or the service's start)."""
    logging.basicConfig(level=settings.level, format=FORMAT)
    logging.getLogger().setLevel(settings.level)
    quiet_libraries(settings)
