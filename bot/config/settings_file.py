"""Read the TOML settings, apply environment overrides, and validate them, naming every bad key."""
from __future__ import annotations

import dataclasses
import ipaddress
import re
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.checklist_file import load_checklist
from bot.config.database_check import storage_url_problem
from bot.config.environment import env_name, from_environment, unknown_variables
from bot.config.keys import is_key, privacy_problems
from bot.config.secret_values import MAKE_A_TOKEN, MIN_LENGTH, secret_problem
from bot.config.toml_file import read_toml
from bot.core.alerts import AlertSettings
from bot.core.checklist import Checklist
from bot.core.client_form import unknown_flags, vocabulary
from bot.core.framing import FramingSettings
from bot.core.join_urls import is_join_url
from bot.core.prompts import PromptSettings
from bot.core.settings import (
    CHANNELS,
    CLIENT_MODES,
    ClientProfile,
    ClusterSettings,
    LoggingSettings,
    MetricsSettings,
    PrivacySettings,
    ReminderSettings,
    ServerSettings,
    Settings,
    SettingsError,
    StorageSettings,
    TeamsSettings,
    Therapist,
    WatchdogSettings,
    ZoomSettings,
)

SECTIONS: dict[str, type] = {
    "server": ServerSettings,
    "storage": StorageSettings,
    "zoom": ZoomSettings,
    "teams": TeamsSettings,
    "reminders": ReminderSettings,
    "alerts": AlertSettings,
    "watchdog": WatchdogSettings,
    "framing": FramingSettings,
    "prompts": PromptSettings,
    "privacy": PrivacySettings,
    "logging": LoggingSettings,
    "metrics": MetricsSettings,
    "cluster": ClusterSettings,
}
# Keys without which the service must not start: a webhook secret that is missing fails closed.
REQUIRED = {("zoom", "webhook_secret_token"), ("storage", "url")}
POSITIVE_INTS = {
    ("zoom", "rtms_fps"),
    ("zoom", "rtms_max_streams"),
    ("server", "max_connections"),
    ("server", "max_streams_per_therapist"),
    ("server", "request_timeout_seconds"),
    ("server", "sign_in_hours"),
    ("server", "ready_max_pending_delivery_seconds"),
    ("framing", "workers"),
    ("privacy", "retention_days"),
    ("cluster", "failover_seconds"),
}
# The secrets: where each real one comes from, and the length below which it cannot be one.
SECTION_SECRETS: dict[tuple[str, str], tuple[str, int]] = {
    # Zoom's event-subscription Secret Token is 16 random bytes in base64, 22 characters: a longer minimum refuses every real one.
    ("zoom", "webhook_secret_token"): ("the Secret Token of your Zoom app's event subscription", 22),
    ("zoom", "client_secret"): ("the Client Secret of your Zoom Server-to-Server OAuth app", MIN_LENGTH),
    ("zoom", "rtms_client_secret"): ("the Client Secret of the Zoom app whose RTMS streams you receive", MIN_LENGTH),
    ("zoom", "chatbot_client_secret"): ("the Client Secret of your Zoom Team Chat app", MIN_LENGTH),
    ("teams", "client_secret"): ("the value of your Entra app's client secret", MIN_LENGTH),
    # The password of a key file made elsewhere: any length the operator chose, but not a template's word.
    ("teams", "encryption_key_password"): ("the password of encryption_key_file", 1),
    ("metrics", "token"): (f"a long random token ({MAKE_A_TOKEN}), or nothing for metrics without one", MIN_LENGTH),
}
THERAPIST_SECRETS = {"api_token": (f"a long random token ({MAKE_A_TOKEN})", MIN_LENGTH)}
MAX_RETENTION_DAYS = 36500  # a hundred years: beyond it the cut-off date is out of range
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
# Framing thresholds that are fractions (0 to 1), and those that must be above zero.
FRACTIONS = {"hand_visibility", "covered_brightness", "covered_contrast", "frozen_difference", "scene_similarity"}
POSITIVE_NUMBERS = {"analysis_timeout_seconds", "debounce_seconds", "frozen_seconds"}


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `path`, apply `COMPANION_*` overrides from `environ`, and validate."""
    return parse_settings(read_toml(path, "config file"), environ or {})


def parse_settings(raw: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    """Validate a settings mapping and the checklist it names, collecting every problem before failing.

    A problem with a value from the environment names its variable; a `COMPANION_*` variable that sets nothing is one too.
    """
    problems: list[str] = []
    sourced: dict[str, str] = {}  # where a value came from the environment: "[zoom] rtms_fps" -> its variable
    unknown = set(raw) - set(SECTIONS) - {"therapists", "clients"}
    problems += [f"[{name}] is not a known section" for name in sorted(unknown)]
    sections = {name: _section(name, cls, raw.get(name, {}), environ, problems, sourced) for name, cls in SECTIONS.items()}
    therapists = tuple(_therapists(raw.get("therapists", []), environ, problems, sourced))
    checklist = _checklist(sections["reminders"].checklist_file, problems)
    clients = tuple(_clients(raw.get("clients", []), {t.id for t in therapists}, checklist, problems))
    problems += _channel_credentials(sections, therapists)
    problems += _meeting_credentials(sections, therapists)
    problems += unknown_variables(environ, _known_variables(raw.get("therapists", [])))
    if problems:
        raise SettingsError(from_environment(problems, sourced))
    return Settings(therapists=therapists, clients=clients, **sections)


def _known_variables(therapists: Any) -> set[str]:
    """Return every variable that sets a key: each section's, and each configured therapist's."""
    known = {env_name(name, f.name) for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    ids = [str(t["id"]) for t in therapists if isinstance(t, dict) and t.get("id")] if isinstance(therapists, list) else []
    return known | {env_name("therapist", tid, f.name) for tid in ids for f in dataclasses.fields(Therapist)}


def _checklist(path: str, problems: list[str]) -> Checklist | None:
    """Return the checklist the settings name, or None with its problems added (a bad checklist stops start-up too)."""
    try:
        return load_checklist(path)
    except SettingsError as err:
        problems += err.problems
        return None


def _coerce(where: str, value: Any, default: Any, problems: list[str]) -> Any:
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false"):  # from the environment
            return value.lower() == "true"
        if not isinstance(value, bool):
            problems.append(f"{where} must be true or false, not {value!r}")
            return default
        return value
    if isinstance(default, float):
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError
            return number
        except (TypeError, ValueError):
            problems.append(f"{where} must be a number, not {value!r}")
            return default
    if not isinstance(default, (int, str)):
        return value
    if isinstance(default, int):
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            problems.append(f"{where} must be a whole number, not {value!r}")
            return default
    if not isinstance(value, str):
        problems.append(f"{where} must be a string")
        return default
    return value


def _section(name: str, cls: type, table: Any, environ: Mapping[str, str], problems: list[str], sourced: dict[str, str]) -> Any:
    if not isinstance(table, dict):
        problems.append(f"[{name}] must be a table")
        table = {}
    fields = {f.name: f.default for f in dataclasses.fields(cls)}
    problems += [f"[{name}] {key} is not a known key" for key in sorted(set(table) - set(fields))]
    values = {}
    for key, default in fields.items():
        where, variable = f"[{name}] {key}", env_name(name, key)
        if variable in environ:
            sourced[where] = variable
        value = environ.get(variable, table.get(key, default))
        refused = secret_problem(where, value, *SECTION_SECRETS[name, key]) if (name, key) in SECTION_SECRETS else None
        if refused:
            problems.append(refused)
        value = default if refused else _coerce(where, value, default, problems)
        if (name, key) in REQUIRED and not value and not refused:
            problems.append(f"[{name}] {key} is missing (or set {variable})")
        if isinstance(value, int) and value < (1 if (name, key) in POSITIVE_INTS else 0):
            problems.append(f"[{name}] {key} must be {'positive' if (name, key) in POSITIVE_INTS else 'zero or more'}")
        values[key] = value
    if name == "server":
        problems += _server_problems(values)
    if name == "zoom" and not 1 <= values["rtms_fps"] <= 5:
        problems.append("[zoom] rtms_fps must be between 1 and 5")
    if name == "framing":
        problems += _framing_problems(values)
    if name == "privacy":
        problems += privacy_problems(values, environ)
    if name == "privacy" and values["retention_days"] > MAX_RETENTION_DAYS:
        problems.append(f"[privacy] retention_days must be at most {MAX_RETENTION_DAYS}")
    if name == "logging":
        problems += _logging_problems(values)
    if name == "teams" and values["bot_openid_url"] and not str(values["bot_openid_url"]).startswith("https://"):
        problems.append("[teams] bot_openid_url must start with https:// (the keys that sign the calling bot's callbacks come from it)")
    if name == "storage" and (problem := storage_url_problem(values["url"])):
        problems.append(problem)
    return cls(**values)


def _server_problems(values: dict[str, Any]) -> list[str]:
    """Name every bad `[server]` value the types alone do not catch."""
    problems = ["[server] port must be at most 65535"] if values["port"] > 65535 else []
    if values["public_url"] and not _is_web_address(values["public_url"]):
        problems.append("[server] public_url must be an absolute http:// or https:// URL with a host, such as https://companion.example.org")
    key = values["session_key"]
    if key and not is_key(key):
        problems.append("[server] session_key must be 32 random bytes in url-safe base64 (make one with: companion new-session-key)")
    if not re.fullmatch(r"[A-Za-z0-9'*:/._ -]+", values["frame_ancestors"]):
        problems.append("[server] frame_ancestors must be CSP sources such as 'self' https://example.org, separated by spaces")
    return problems + _proxy_problems(values)


def _proxy_problems(values: dict[str, Any]) -> list[str]:
    """Name every `[server] trusted_proxies` entry that is not an address or network, turning the list into networks."""
    raw = values["trusted_proxies"]
    if isinstance(raw, str):  # from the environment: "10.0.0.0/8,192.0.2.7"
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, (list, tuple)):
        values["trusted_proxies"] = ()
        return ["[server] trusted_proxies must be a list of IP addresses or networks, e.g. [\"10.0.0.0/8\"]"]
    problems, networks = [], []
    for n, entry in enumerate(raw):
        try:
            if not isinstance(entry, str):
                raise ValueError(entry)  # ip_network would read a number as an address
            networks.append(str(ipaddress.ip_network(entry.strip())))
        except ValueError:
            problems.append(f"[server] trusted_proxies: entry {n + 1} ({entry!r}) is not an IP address or network such as 10.0.0.0/8")
    values["trusted_proxies"] = tuple(networks)
    return problems


def _is_web_address(url: str) -> bool:
    """Return whether `url` is an absolute http(s) URL with a host (the links in messages are built on it)."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0  # reading a port that is not a number raises ValueError
    except ValueError:  # that, or a bracket left open
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok and not re.search(r"\s", url)


def _framing_problems(values: dict[str, Any]) -> list[str]:
    """Name every `[framing]` threshold out of its range."""
    problems = [f"[framing] {key} must be between 0 and 1" for key in sorted(FRACTIONS) if not 0 <= values[key] <= 1]
    problems += [f"[framing] {key} must be above zero" for key in sorted(POSITIVE_NUMBERS) if values[key] <= 0]
    if not 0 < values["upright_angle_degrees"] < values["lying_angle_degrees"] <= 90:
        problems.append("[framing] upright_angle_degrees must be above 0 and below lying_angle_degrees, which is at most 90")
    if values["distance_ratio"] <= 1:
        problems.append("[framing] distance_ratio must be above 1")
    if values["workers"] > 16:
        problems.append("[framing] workers must be at most 16")
    return problems


def _logging_problems(values: dict[str, Any]) -> list[str]:
    """Name every bad `[logging]` value, turning the levels into upper case and `library_levels` into pairs."""
    problems: list[str] = []
    values["level"] = str(values["level"]).upper()
    if values["level"] not in LOG_LEVELS:
        problems.append(f"[logging] level must be one of {', '.join(LOG_LEVELS)}")
    values["format"] = str(values["format"]).lower()
    if values["format"] not in LOG_FORMATS:
        problems.append(f"[logging] format must be one of {', '.join(LOG_FORMATS)}")
    raw = values["library_levels"]
    if isinstance(raw, str):  # from the environment: "sqlalchemy.engine=INFO,asyncpg=WARNING"
        pairs = [part.partition("=") for part in raw.split(",") if part.strip()]
        raw = {name.strip(): level.strip() for name, _, level in pairs}
    if not isinstance(raw, (dict, tuple)):
        problems.append('[logging] library_levels must be a table of logger names and levels, e.g. {"sqlalchemy.engine" = "INFO"}')
        raw = {}
    levels = []
    for name, level in dict(raw).items():
        if not isinstance(level, str) or level.upper() not in LOG_LEVELS or not name:
            problems.append(f"[logging] library_levels: {name!r} must name a logger and one of {', '.join(LOG_LEVELS)}")
            continue
        levels.append((name, level.upper()))
    values["library_levels"] = tuple(sorted(levels))
    return problems


def _strings(where: str, value: Any, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        problems.append(f"{where} must be a list of strings")
        return ()
    return tuple(str(v) for v in value)


LIST_KEYS = ("channels", "prompt_channels")


def _therapists(entries: Any, environ: Mapping[str, str], problems: list[str], sourced: dict[str, str]) -> list[Therapist]:
    if not isinstance(entries, list) or not entries:
        problems.append("[[therapists]] needs at least one therapist")
        return []
    found: list[Therapist] = []
    fields = {f.name: f for f in dataclasses.fields(Therapist)}
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"[[therapists]] #{n + 1} must be a table")
            continue
        tid = str(entry.get("id", "")).strip()
        where = f"[[therapists]] #{n + 1}" + (f" ({tid})" if tid else "")
        problems += [f"{where} {key} is not a known key" for key in sorted(set(entry) - set(fields))]
        values: dict[str, Any] = {}
        for key, f in fields.items():
            value, variable = entry.get(key, f.default), env_name("therapist", tid, key)
            if tid and variable in environ:
                value, sourced[f"{where} {key}"] = environ[variable], variable
            if isinstance(f.default, bool):
                values[key] = _coerce(f"{where} {key}", value, f.default, problems)
                continue
            refused = secret_problem(f"{where} {key}", value, *THERAPIST_SECRETS[key]) if key in THERAPIST_SECRETS and value is not dataclasses.MISSING else None
            if refused:
                problems.append(refused)
                value = ""
            elif value is dataclasses.MISSING or value == "":
                if f.default is dataclasses.MISSING:
                    problems.append(f"{where} {key} is missing")
                value = ""
            values[key] = _strings(f"{where} {key}", value, problems) if key in LIST_KEYS else str(value)
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"{where} timezone {values['timezone']!r} is not a known time zone")
        for key in LIST_KEYS:
            problems += [f"{where} {key}: {c!r} is not one of {', '.join(CHANNELS)}" for c in values[key] if c not in CHANNELS]
        # A prompt goes only where the therapist's notices go: that is where credentials are checked.
        problems += [
            f"{where} prompt_channels: {c!r} is not in the therapist's channels"
            for c in values["prompt_channels"]
            if c in CHANNELS and c != "dashboard" and c not in values["channels"]
        ]
        if tid and any(t.id == tid for t in found):
            problems.append(f"{where} id {tid!r} is used twice")
        if values["api_token"] and any(t.api_token == values["api_token"] for t in found):
            problems.append(f"{where} api_token is the same as another therapist's")
        found.append(Therapist(**values))
    return found


# What each outbound channel needs: keys of a settings section, then keys of the therapist.
CHANNEL_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "zoom_chat": (("zoom", "chatbot_client_id"), ("zoom", "chatbot_client_secret"), ("zoom", "robot_jid"), ("zoom", "account_id")),
    "teams_activity": (("teams", "tenant_id"), ("teams", "client_id"), ("teams", "client_secret"), ("therapist", "teams_user_id")),
}


def _channel_credentials(sections: dict[str, Any], therapists: Sequence[Therapist]) -> list[str]:
    """Name every key that a therapist's enabled channel needs and the settings lack."""
    problems: list[str] = []
    for n, therapist in enumerate(therapists):
        where = f"[[therapists]] #{n + 1} ({therapist.id})"
        outbound = [c for c in therapist.channels if c in CHANNEL_NEEDS]
        if outbound and not sections["server"].public_url:
            problems.append(f"[server] public_url is missing: {where} enables {', '.join(outbound)}, whose messages link to it")
        for channel in outbound:
            needs = [(section, key, "") for section, key in CHANNEL_NEEDS[channel]]
            if channel == "zoom_chat" and not therapist.zoom_jid:  # then it is looked up with the Zoom API
                lookup = ("zoom", "client_id"), ("zoom", "client_secret"), ("therapist", "zoom_user_id")
                needs += [(section, key, " (or set the therapist's zoom_jid)") for section, key in lookup]
            for section, key, alternative in needs:
                if section == "therapist" and not getattr(therapist, key):
                    problems.append(f"{where} {key} is missing: channel {channel} needs it{alternative}")
                elif section != "therapist" and not getattr(sections[section], key):
                    problems.append(f"[{section}] {key} is missing: {where} enables channel {channel}{alternative}")
    return problems


# What reading a therapist's Teams meetings (and subscribing to their events) needs.
TEAMS_MEETING_NEEDS = (("teams", "tenant_id"), ("teams", "client_id"), ("teams", "client_secret"), ("server", "public_url"))


def _meeting_credentials(sections: dict[str, Any], therapists: Sequence[Therapist]) -> list[str]:
    """Name every key the Teams meetings need, once, if some therapist meets on Teams (has a teams_user_id).

    Camera tracking (a calling bot in the therapist's meetings) needs the therapist's teams_user_id, and the
    keys of the bot's callbacks (`[teams] bot_openid_url`); its callbacks come to `[server] public_url`.
    """
    problems = [
        f"[[therapists]] #{n + 1} ({t.id}) teams_camera_tracking needs teams_user_id (the Entra object id of the meetings' organiser)"
        for n, t in enumerate(therapists)
        if t.teams_camera_tracking and not t.teams_user_id
    ]
    trackers = [f"#{n + 1} ({t.id})" for n, t in enumerate(therapists) if t.teams_camera_tracking and t.teams_user_id]
    if trackers and not sections["teams"].bot_openid_url:
        problems.append(f"[teams] bot_openid_url is missing: [[therapists]] {', '.join(trackers)} turn on teams_camera_tracking")
    users = [f"#{n + 1} ({t.id})" for n, t in enumerate(therapists) if t.teams_user_id]
    if not users:
        return problems
    who = f"[[therapists]] {', '.join(users)} {'meets' if len(users) == 1 else 'meet'} on Teams (teams_user_id)"
    return problems + [
        f"[{section}] {key} is missing (or set {env_name(section, key)}): {who}"
        for section, key in TEAMS_MEETING_NEEDS
        if not getattr(sections[section], key)
    ]


GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _client_list_problems(where: str, lists: dict[str, tuple[str, ...]]) -> list[str]:
    """Name every join URL, email and Entra id of a client profile that cannot be what it says (by position, not value)."""
    checks = (
        ("teams_join_urls", is_join_url, "is not a meeting join URL starting with https://"),
        ("emails", lambda v: bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v.strip())), "is not an email address"),
        ("entra_ids", lambda v: bool(GUID.fullmatch(v.strip())), "is not an Entra object id (a GUID)"),
    )
    return [f"{where} {key}: entry {n + 1} {what}" for key, valid, what in checks for n, v in enumerate(lists[key]) if not valid(v)]


def _clients(entries: Any, therapist_ids: set[str], checklist: Checklist | None, problems: list[str]) -> list[ClientProfile]:
    """Return the settings file's client profiles, naming every bad key, and each flag the checklist does not know."""
    if not isinstance(entries, list):
        problems.append("[[clients]] must be an array of tables")
        return []
    found: list[ClientProfile] = []
    list_keys = ("flags", "zoom_meeting_ids", "teams_join_urls", "emails", "display_names", "entra_ids")
    for n, entry in enumerate(entries):
        where = f"[[clients]] #{n + 1}"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a table")
            continue
        known = {"code", "therapist", "mode", *list_keys}
        problems += [f"{where} {key} is not a known key" for key in sorted(set(entry) - known)]
        code, therapist = str(entry.get("code", "")), str(entry.get("therapist", ""))
        if not code:
            problems.append(f"{where} code is missing")
        if therapist not in therapist_ids:
            problems.append(f"{where} therapist {therapist!r} is not a configured therapist id")
        mode = str(entry.get("mode", "online"))
        if mode not in CLIENT_MODES:
            problems.append(f"{where} mode must be one of {', '.join(CLIENT_MODES)}")
        lists: dict[str, Any] = {key: _strings(f"{where} {key}", entry.get(key, []), problems) for key in list_keys}
        problems += _client_list_problems(where, lists)
        if checklist is not None:  # a flag no point asks about would silently drop the point it was meant for
            problems += [f"{where} flags: {problem}" for problem in unknown_flags(lists["flags"], vocabulary(checklist).flags)]
        found.append(ClientProfile(
            code=code, therapist=therapist, mode=mode, flags=lists["flags"], zoom_meeting_ids=lists["zoom_meeting_ids"],
            teams_join_urls=lists["teams_join_urls"], emails=lists["emails"], display_names=lists["display_names"], entra_ids=lists["entra_ids"],
        ))
    return found
