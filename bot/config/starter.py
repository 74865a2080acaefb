"""Make fresh keys, and a starter settings file holding them: `companion new-key` and `companion init`."""
from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path


def new_key() -> str:
    """Return 32 random bytes in url-safe base64: a notes key (Fernet's format), a data key or a session key."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


STARTER = """\
# Session Companion settings, written by `companion init` with fresh keys. Keep this file private
# (it is created readable by its owner only): the keys below open the therapist's notes. Every key is
# described in config/companion.example.toml. Fill in what says FILL IN, then run
# `companion check-config --config {path}`.

[server]
host = "127.0.0.1"
port = 8080
session_key = "{session_key}"  # the pages' sign-in cookie

[storage]
url = "sqlite+aiosqlite:///companion.db"

[zoom]
webhook_secret_token = ""  # FILL IN: the Secret Token of your Zoom app's event subscription

[privacy]
show_names = false  # true: display names on your own screens (never in downloads)
data_key = "{data_key}"  # keys the digests of emails and names: keep it, a new one matches nothing stored
notes_keys = ["{notes_key}"]  # encrypt notes; to rotate: a new key first, then `companion rotate-key`
retention_days = 365  # sessions that ended longer ago are deleted, every row of them, once a day

[[therapists]]
id = "t1"
name = "Therapist"  # FILL IN: your name, as the pages greet you
api_token = "{api_token}"  # bearer token for the JSON API
zoom_user_id = ""  # FILL IN: your Zoom user id (your meetings' host_id): without it your meetings are not followed
timezone = "Europe/London"
"""
# What the operator fills in, as `companion init` lists it: each FILL IN of the starter file.
FILL_IN = (
    ("[zoom] webhook_secret_token", "the Secret Token of your Zoom app's event subscription (required)"),
    ("[[therapists]] t1 name", "your name, as the pages greet you"),
    ("[[therapists]] t1 zoom_user_id", "your Zoom user id (your meetings' host_id)"),
)


def write_starter(path: Path) -> None:
    """Write a starter settings file with fresh keys, readable by its owner only; raise FileExistsError if one is there."""
    text = STARTER.format(
        path=path, session_key=new_key(), data_key=new_key(), notes_key=new_key(), api_token=secrets.token_urlsafe(32)
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # whatever the umask
        out.write(text)
