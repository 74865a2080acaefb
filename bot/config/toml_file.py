"""Read a TOML file (the settings or the checklist), or say why it cannot be read."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bot.core.settings import SettingsError


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Return a TOML file's contents, or raise SettingsError saying why it cannot be read."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError([f"{what} {path} does not exist"]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SettingsError([f"{what} {path} cannot be read: {err.__class__.__name__}"]) from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError([f"{what} {path} is not valid TOML: {err}"]) from None
