"""The pre-call checklist: points with conditions on the client's mode and flags, tailored per client."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from .record import ChecklistItem
from .settings import CLIENT_MODES, PLATFORMS, ClientProfile, SettingsError

POINT_KEYS = {"id", "group", "text", "modes", "flags", "platforms"}


@dataclass(frozen=True)
class ChecklistPoint:
    """One checklist point and the clients it is for."""

    id: str
    group: str
    text: str
    modes: frozenset[str] = frozenset(CLIENT_MODES)
    flags: frozenset[str] = frozenset()  # empty: for every client; else for clients with any of these
    platforms: frozenset[str] = frozenset()  # empty: on every platform; else only for meetings on these

    def applies_to(self, modes: frozenset[str], flags: frozenset[str], platform: str | None = None) -> bool:
        """Return whether a client seen in `modes` with `flags`, met on `platform` (None: not known), needs this point."""
        on_platform = not self.platforms or platform is None or platform in self.platforms
        return bool(self.modes & modes) and (not self.flags or bool(self.flags & flags)) and on_platform


@dataclass(frozen=True)
class Checklist:
    """Every point the operator wrote, in order."""

    points: tuple[ChecklistPoint, ...]
    # The points for each kind of client (modes, flags, platform), picked once: every judging of a session asks.
    _picked: dict[tuple[frozenset[str], frozenset[str], str | None], tuple[ChecklistPoint, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def for_client(self, profile: ClientProfile | None, platform: str | None = None) -> list[ChecklistPoint]:
        """Return the points for this client met on `platform` (no profile: an online client with no flags)."""
        kind = (client_modes(profile), frozenset(profile.flags if profile else ()), platform)
        if (picked := self._picked.get(kind)) is None:
            picked = self._picked[kind] = tuple(p for p in self.points if p.applies_to(*kind))
        return list(picked)

    def items(self, profile: ClientProfile | None, ticks: Mapping[str, datetime], platform: str | None = None) -> list[ChecklistItem]:
        """Return this client's points on `platform`, each with when it was first confirmed (None: not yet)."""
        return [ChecklistItem(p.id, p.text, ticks.get(p.id)) for p in self.for_client(profile, platform)]


def client_modes(profile: ClientProfile | None) -> frozenset[str]:
    """Return how the client is seen: the profile's mode, plus any mode also given as a flag."""
    if profile is None:
        return frozenset({"online"})
    return frozenset({profile.mode} | (set(profile.flags) & set(CLIENT_MODES)))


def _names(where: str, value: Any, allowed: tuple[str, ...] | None, problems: list[str]) -> frozenset[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{where} must be a non-empty list of strings")
        return frozenset()
    if allowed is not None:
        problems += [f"{where}: {v!r} is not one of {', '.join(allowed)}" for v in value if v not in allowed]
    return frozenset(value)


def parse_checklist(raw: Mapping[str, Any], source: str) -> Checklist:
    """Validate a checklist mapping, collecting every problem before failing."""
    items = raw.get("items")
    if not isinstance(items, list) or not items:
        raise SettingsError([f"{source}: [[items]] needs at least one checklist point"])
    problems: list[str] = []
    points: list[ChecklistPoint] = []
    for n, item in enumerate(items):
        where = f"{source}: [[items]] #{n + 1}"
        if not isinstance(item, dict):
            problems.append(f"{where} must be a table")
            continue
        problems += [f"{where} {key} is not a known key" for key in sorted(set(item) - POINT_KEYS)]
        values = {key: item.get(key) for key in ("id", "group", "text")}
        for key, value in values.items():
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{where} {key} must be a non-empty string")
        if any(p.id == values["id"] for p in points):
            problems.append(f"{where} id {values['id']!r} is used twice")
        modes = _names(f"{where} modes", item["modes"], CLIENT_MODES, problems) if "modes" in item else frozenset(CLIENT_MODES)
        flags = _names(f"{where} flags", item["flags"], None, problems) if "flags" in item else frozenset()
        platforms = _names(f"{where} platforms", item["platforms"], PLATFORMS, problems) if "platforms" in item else frozenset()
        points.append(ChecklistPoint(str(values["id"]), str(values["group"]), str(values["text"]), modes, flags, platforms))
    if problems:
        raise SettingsError(problems)
    return Checklist(tuple(points))
