"""Read and check the keys of `[privacy]`: the data key, and the notes keys from the settings, a key file or the environment."""
from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any, Mapping


def is_key(text: str) -> bool:
    """Return whether `text` is 32 bytes in url-safe base64: a session key, a notes key (Fernet's) or a data key."""
    try:
        return text.isascii() and len(base64.urlsafe_b64decode(text.encode())) == 32
    except (ValueError, binascii.Error):
        return False


NOTES_KEY_ENV = "COMPANION_PRIVACY_NOTES_KEY"  # one key, or several separated by commas: the first is current
MAKE_A_KEY = "make one with `companion new-key` (or a starter config with fresh keys: `companion init --config FILE`)"


def privacy_problems(values: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Gather the notes keys into `values` (environment, list or key file) and name every missing or malformed key.

    A key's value is never quoted in a problem: only where it came from and its position.
    """
    problems: list[str] = []
    listed, where = values["notes_keys"], "[privacy] notes_keys"
    if isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, (list, tuple)) or not all(isinstance(k, str) for k in listed):
        problems.append(f"{where} must be a list of keys")
        listed = []
    if environ.get(NOTES_KEY_ENV, "").strip():
        listed, where = environ[NOTES_KEY_ENV].replace(",", " ").split(), NOTES_KEY_ENV
    elif values["notes_key_file"]:
        if listed:
            problems.append("[privacy] give notes_keys or notes_key_file, not both")
        listed, where = _key_file(values["notes_key_file"], problems), f"[privacy] notes_key_file {values['notes_key_file']}"
    values["notes_keys"] = tuple(k.strip() for k in listed if k.strip())
    problems += [f"{where}: key {n} is not 32 bytes in url-safe base64 ({MAKE_A_KEY})" for n, k in enumerate(values["notes_keys"], 1) if not is_key(k)]
    if not values["notes_keys"]:
        problems.append(f"[privacy] notes_keys is missing: notes are stored encrypted with it; {MAKE_A_KEY}, then set notes_keys, notes_key_file or {NOTES_KEY_ENV}")
    if not values["data_key"]:
        problems.append(f"[privacy] data_key is missing: emails and display names are matched by keyed digests; {MAKE_A_KEY}, then set it or COMPANION_PRIVACY_DATA_KEY")
    elif not is_key(values["data_key"]):
        problems.append(f"[privacy] data_key is not 32 bytes in url-safe base64 ({MAKE_A_KEY})")
    elif values["data_key"] in values["notes_keys"]:
        problems.append("[privacy] data_key must not also be a notes key: make one of each")
    return problems


def _key_file(path: str, problems: list[str]) -> list[str]:
    """Return the keys of a key file (one a line; blank lines and # comments skipped), or none with the problem named."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        problems.append(f"[privacy] notes_key_file {path} cannot be read: {getattr(err, 'strerror', None) or type(err).__name__}")
        return []
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
