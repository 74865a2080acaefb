"""The service's settings as frozen objects: every section, therapist and client profile."""
from __future__ import annotations

from dataclasses import dataclass

from .alerts import AlertSettings
from .framing import FramingSettings
from .join_urls import join_url_key
from .prompts import NOTE_PROMPT, PromptSettings

CHANNELS = ("dashboard", "zoom_chat", "teams_activity")
CLIENT_MODES = ("online", "face_to_face")
PLATFORMS = ("zoom", "teams")  # what a checklist point may be limited to
SETTINGS_FILE, DATABASE = "settings", "database"  # where a client profile is kept


class SettingsError(Exception):
    """The settings are unusable; `problems` names each bad key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems

    def __str__(self) -> str:
        return "invalid settings:\n" + "\n".join(f"  - {p}" for p in self.problems)


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    max_connections: int = 1000  # beyond it, idle connections make room or new ones are closed
    max_streams_per_therapist: int = 20  # open notice streams; one more is refused with 429
    request_timeout_seconds: int = 30  # to receive a request's body and answer it; not the notice stream
    session_key: str = ""  # encrypts and signs the pages' sign-in cookie (32 bytes, url-safe base64); empty: pages off
    sign_in_hours: int = 12  # a sign-in to the pages lasts this long
    frame_ancestors: str = "'self'"  # who may show the pages in a frame (CSP frame-ancestors), e.g. the meeting apps' side panels
    # Reverse proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto are believed; none by default.
    trusted_proxies: tuple[str, ...] = ()
    ready_max_pending_delivery_seconds: int = 300  # /readyz is 503 while a delivery has waited longer than this


@dataclass(frozen=True)
class StorageSettings:
    url: str = "sqlite+aiosqlite:///companion.db"


@dataclass(frozen=True)
class ZoomSettings:
    webhook_secret_token: str = ""
    account_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    api_base_url: str = "https://api.zoom.us/v2"
    oauth_url: str = "https://zoom.us/oauth/token"
    rtms_client_id: str = ""
    rtms_client_secret: str = ""
    rtms_fps: int = 1
    rtms_max_streams: int = 1000  # client streams one process follows at once; a stream asked beyond is refused
    chatbot_client_id: str = ""
    chatbot_client_secret: str = ""
    robot_jid: str = ""


@dataclass(frozen=True)
class TeamsSettings:
    tenant_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    authority_host: str = "https://login.microsoftonline.com"
    graph_base_url: str = "https://graph.microsoft.com"
    # The key that Graph encrypts meeting events to: the operator's (PEM or PKCS#12), or, when empty,
    # a key pair the service generates at first start and keeps in `generated_key_file` (mode 0600).
    encryption_key_file: str = ""
    encryption_key_password: str = ""
    generated_key_file: str = ""  # empty: beside the SQLite database, or ./companion-teams-key.pem with PostgreSQL
    # Where the keys that sign the calling bot's callbacks are published (Bot Framework's OpenID configuration).
    bot_openid_url: str = "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration"


@dataclass(frozen=True)
class ReminderSettings:
    lead_minutes: int = 10
    sync_interval_minutes: int = 10
    horizon_hours: int = 24
    checklist_file: str = ""  # empty: the checklist packaged in bot/config/defaults/checklist.toml


@dataclass(frozen=True)
class WatchdogSettings:
    end_grace_minutes: int = 30
    idle_minutes: int = 90


@dataclass(frozen=True)
class PrivacySettings:
    """What the service keeps of people and of the therapist's words, and the keys it keeps them with."""

    show_names: bool = False  # display names on the therapist's own pages and API (never in exports)
    data_key: str = ""  # keys the digests of emails and display names (HMAC-SHA256); never stored
    notes_keys: tuple[str, ...] = ()  # Fernet keys: the first encrypts, every one decrypts (rotation)
    notes_key_file: str = ""  # or a file of such keys, one a line, the first the current one
    retention_days: int = 365  # a session that ended longer ago than this is deleted, every row of it, by the daily purge


@dataclass(frozen=True)
class MetricsSettings:
    token: str = ""  # GET /metrics wants `Authorization: Bearer <token>` when set (at least 32 characters); empty: open


@dataclass(frozen=True)
class ClusterSettings:
    # With several instances on one PostgreSQL database: how soon another instance takes over the leader's due work
    # and a lost instance's RTMS streams (SQLite: one instance, always the leader).
    failover_seconds: int = 10


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"  # the service's own loggers
    format: str = "text"  # or "json": one JSON object a line, with the id of the request being served
    # Libraries whose debug lines can quote data (SQL parameters, request bodies) stay at WARNING unless named
    # here: (logger name, level) pairs, from a TOML table such as {"sqlalchemy.engine" = "INFO"}.
    library_levels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Therapist:
    id: str
    name: str
    api_token: str
    timezone: str = "UTC"
    zoom_user_id: str = ""
    zoom_jid: str = ""
    teams_user_id: str = ""
    channels: tuple[str, ...] = ("dashboard",)
    prompt_channels: tuple[str, ...] = ("dashboard",)  # a prompt is a question, not an alarm: the dashboard unless named
    teams_camera_tracking: bool = False  # a calling bot joins the therapist's Teams meetings to follow the client's camera

    @property
    def accounts(self) -> dict[str, str]:
        """Return the therapist's own account id on each platform where one is configured."""
        return {platform: account for platform, account in (("zoom", self.zoom_user_id), ("teams", self.teams_user_id)) if account}


@dataclass(frozen=True)
class ClientProfile:
    code: str
    therapist: str
    mode: str = "online"
    flags: tuple[str, ...] = ()
    zoom_meeting_ids: tuple[str, ...] = ()
    teams_join_urls: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    display_names: tuple[str, ...] = ()
    entra_ids: tuple[str, ...] = ()  # the client's Microsoft Entra object ids: recognised in a Teams roster
    # Kept in the database, never in the settings file: meetings linked on any platform, and only
    # digests of the emails and display names the therapist gave (bot/core/digests.py).
    linked_meeting_ids: tuple[str, ...] = ()
    email_digests: tuple[str, ...] = ()
    name_digests: tuple[str, ...] = ()
    source: str = SETTINGS_FILE

    @property
    def meeting_ids(self) -> tuple[str, ...]:
        """Return the ids of the client's meetings, on every platform (a Teams meeting by its join URL's key)."""
        return self.zoom_meeting_ids + tuple(join_url_key(u) for u in self.teams_join_urls) + self.linked_meeting_ids


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    storage: StorageSettings
    zoom: ZoomSettings
    teams: TeamsSettings
    reminders: ReminderSettings
    alerts: AlertSettings
    watchdog: WatchdogSettings
    therapists: tuple[Therapist, ...]
    clients: tuple[ClientProfile, ...] = ()
    framing: FramingSettings = FramingSettings()
    prompts: PromptSettings = PromptSettings()
    privacy: PrivacySettings = PrivacySettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    cluster: ClusterSettings = ClusterSettings()

    def therapist(self, therapist_id: str) -> Therapist | None:
        """Return the therapist with this id, or None."""
        return next((t for t in self.therapists if t.id == therapist_id), None)

    def enabled_channels(self) -> frozenset[str]:
        """Return every channel some therapist's notices go to."""
        return frozenset(channel for therapist in self.therapists for channel in therapist.channels)

    def channels_for(self, therapist_id: str, kind: str = "") -> tuple[str, ...]:
        """Return the channels a therapist's notices of `kind` go to (none for an unknown therapist).

        Note prompts reach the dashboard, and another channel only if `prompt_channels` names it.
        """
        therapist = self.therapist(therapist_id)
        if therapist is None:
            return ()
        if kind == NOTE_PROMPT:
            return tuple(c for c in therapist.channels if c == "dashboard" or c in therapist.prompt_channels)
        return therapist.channels
