"""What the deploy files and the README's "Deploying" say, read for the tests: the unit, the nginx site, the walk-through."""
from __future__ import annotations

import json
import re
import secrets
import shlex
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.cli import main
from tests.conftest import free_port

ROOT = Path(__file__).parent.parent.parent
UNIT = ROOT / "deploy" / "companion.service"
SITE = ROOT / "deploy" / "nginx" / "companion.conf"
TWO_INSTANCES = ROOT / "deploy" / "nginx" / "companion-two-instances.conf"  # the site with two instances upstream


def unit() -> dict[str, list[str]]:
    """Return the unit's settings, each key with its values in order (a key may repeat)."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def exec_start() -> list[str]:
    """Return the unit's command line, split as systemd does."""
    (command,) = unit()["ExecStart"]
    return shlex.split(command)


def state_directory() -> Path:
    """Return the folder systemd makes for the unit's `StateDirectory=`."""
    (name,) = unit()["StateDirectory"]
    return Path("/var/lib") / name


def site(path: Path = SITE) -> str:
    """Return the nginx site as written (the one-instance site unless told)."""
    return path.read_text(encoding="utf-8")


def directives(text: str, name: str) -> list[str]:
    """Return the values of every `name ...;` directive in an nginx text."""
    return [m.strip() for m in re.findall(rf"^\s*{name}\s+([^;]*);", text, re.M)]


def block(text: str, opening: str) -> str:
    """Return the body of the nginx block that `opening` (e.g. `location = /x`) starts; blocks inside are not expected."""
    start = text.index(opening + " {") + len(opening) + 2
    return text[start:text.index("}", start)]


def walkthrough() -> str:
    """Return the README's "Deploying" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Deploying\n")
    return readme[start:readme.index("\n## ", start + 1)]


def code(kind: str) -> list[str]:
    """Return the walk-through's fenced blocks of one kind (`sh`, `toml`), unindented."""
    blocks = re.findall(r"^( *)```(\w+)\n(.*?)^\1```", walkthrough(), re.M | re.S)
    return [textwrap.dedent(body) for _, found, body in blocks if found == kind]


def commands() -> list[str]:
    """Return every shell line the walk-through runs, in order."""
    return [line.strip() for body in code("sh") for line in body.splitlines() if line.strip()]


def settings_shown() -> dict[str, Any]:
    """Return the settings the walk-through tells the operator to set."""
    (shown,) = code("toml")
    return tomllib.loads(shown)


def _set(lines: list[str], section: str, key: str, value: Any) -> None:
    header = lines.index(f"[{section}]")
    end = next((i for i in range(header + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    line = f"{key} = {json.dumps(value)}"
    for i in range(header + 1, end):
        if re.match(rf"{key}\s*=", lines[i]):
            lines[i] = line
            return
    lines.insert(header + 1, line)


def filled_in(text: str, settings: dict[str, dict[str, Any]]) -> str:
    """Fill in what `companion init` marks FILL IN (a fresh value each), then set `settings` as an operator would."""
    lines = [
        re.sub(r'^(\s*\w+\s*=\s*)"[^"]*"', lambda m: f'{m[1]}"{secrets.token_urlsafe(32)}"', line) if "FILL IN" in line else line
        for line in text.splitlines()
    ]
    for section, keys in settings.items():
        for key, value in keys.items():
            _set(lines, section, key, value)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Installed:
    """The settings file and state folder of steps 2 and 4, under a temporary root, and the port the service listens on."""

    config: Path
    state: Path
    port: int

    @property
    def secret(self) -> str:
        """Return the webhook secret token the settings file holds."""
        return tomllib.loads(self.config.read_text(encoding="utf-8"))["zoom"]["webhook_secret_token"]


def install(root: Path) -> Installed:
    """Make the folders, run `companion init` and fill in the file as the README says, with paths under `root` and a free port."""
    config, state = root / exec_start()[-1].lstrip("/"), root / str(state_directory()).lstrip("/")
    for folder in (config.parent, state):
        folder.mkdir(mode=0o700, parents=True)
    assert main(["init", "--config", str(config)]) == 0
    shown = settings_shown()
    url = shown["storage"]["url"]
    assert str(state_directory()) in url, "the README's database is not in the unit's state folder"
    port = free_port()
    settings = {**shown, "server": {**shown["server"], "port": port}, "storage": {"url": url.replace(str(state_directory()), str(state))}}
    config.write_text(filled_in(config.read_text(encoding="utf-8"), settings), encoding="utf-8")
    return Installed(config, state, port)
