"""The database tables (bot/storage/upgrades.py brings a database up to them)."""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("occurrence_id", String(255), nullable=False),
    Column("meeting_id", String(64), nullable=False, default=""),
    Column("host_id", String(255), nullable=False, default=""),
    Column("therapist_id", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("platform", "occurrence_id", name="uq_sessions_occurrence"),
    Index("ix_sessions_therapist", "therapist_id"),
    Index("ix_sessions_listed", "therapist_id", "created_at"),  # a therapist's newest sessions, without sorting them all (0002)
)

# One row per domain event; `key` identifies the event (the platform says how), so a redelivery inserts nothing.
# `data` holds ids, times, keyed digests and sealed text, never a name, email or topic (bot/storage/at_rest.py).
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("occurrence_id", String(255), nullable=False),
    Column("key", String(80), nullable=False),
    Column("at", String(32), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("data", Text, nullable=False),
    Column("received_at", String(32), nullable=False),
    UniqueConstraint("platform", "key", name="uq_events_key"),
    Index("ix_events_occurrence", "platform", "occurrence_id"),
)

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("therapist_id", String(64), nullable=False),
    Column("session_id", String(40)),
    Column("kind", String(40), nullable=False),
    Column("key", String(200), nullable=False),
    Column("at", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("raised_at", String(32), nullable=False),
    UniqueConstraint("therapist_id", "key", name="uq_notices_key"),
    Index("ix_notices_therapist", "therapist_id", "id"),
)

# A note's text is sealed (Fernet under the first [privacy] notes key: bot/storage/sealing.py).
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(40), nullable=False),
    Column("at", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("prompt_id", String(80)),
    Index("ix_notes_session", "session_id"),
)

# Work that falls due later (reminders, video-off timers, watchdogs): the scheduler's source of truth.
# A row is pending while `done_at` is empty; `outcome` says whether it fired or was cancelled.
due_work = Table(
    "due_work",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("due_at", String(32), nullable=False),
    Column("therapist_id", String(64), nullable=False),
    Column("session_id", String(40)),
    Column("data", Text, nullable=False, default="{}"),
    Column("created_at", String(32), nullable=False),
    Column("done_at", String(32)),
    Column("outcome", String(16)),
    UniqueConstraint("key", name="uq_due_work_key"),
    Index("ix_due_work_pending", "done_at", "due_at"),
    Index("ix_due_work_session", "session_id"),
)

checklist_ticks = Table(
    "checklist_ticks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(40), nullable=False),
    Column("item_id", String(80), nullable=False),
    Column("confirmed_at", String(32), nullable=False),
    UniqueConstraint("session_id", "item_id", name="uq_checklist_ticks_item"),
)

# One row per notice and channel the therapist enabled, written with the notice; the outbox.
# `claim` and `claimed_until` mark a row being sent, so no two workers send it at once.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", Integer, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("therapist_id", String(64), nullable=False),
    Column("ordering_key", String(80), nullable=False),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", String(32), nullable=False),
    Column("claim", String(32)),
    Column("claimed_until", String(32)),
    Column("last_error", String(40)),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("notice_id", "channel", name="uq_deliveries_notice_channel"),
    Index("ix_deliveries_due", "channel", "state", "next_attempt_at"),
    Index("ix_deliveries_order", "channel", "ordering_key", "notice_id"),
)

# A therapist's password for the pages, hashed (Argon2id); set with `companion therapist set-password`.
passwords = Table(
    "passwords",
    metadata,
    Column("therapist_id", String(64), primary_key=True),
    Column("hash", String(255), nullable=False),
    Column("set_at", String(32), nullable=False),
)

# Failed sign-ins, counted per account in the database so that a restart or a second instance
# does not reset them; `sign_in_locks` holds an account locked out until a time.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("therapist_id", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Index("ix_sign_in_failures_account", "therapist_id", "at"),
)

# Each sign-in to the pages, so that signing out (or a new password) ends it on the server too:
# the cookie alone is not enough once its row is ended.
page_sign_ins = Table(
    "page_sign_ins",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("therapist_id", String(64), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("ended_at", String(32)),
    Index("ix_page_sign_ins_therapist", "therapist_id"),
)

sign_in_locks = Table(
    "sign_in_locks",
    metadata,
    Column("therapist_id", String(64), primary_key=True),
    Column("until", String(32), nullable=False),
)

# The therapist's client profiles kept in the database (beside the settings file's): lists as JSON
# text, and keyed digests (HMAC under [privacy] data_key) of emails and display names, never the words
# (bot/core/digests.py).
client_profiles = Table(
    "client_profiles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("therapist_id", String(64), nullable=False),
    Column("code", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("flags", Text, nullable=False, default="[]"),
    Column("email_digests", Text, nullable=False, default="[]"),
    Column("name_digests", Text, nullable=False, default="[]"),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("therapist_id", "code", name="uq_client_profiles_code"),
)

# Which client a meeting is (any platform's meeting id): at most one client per therapist and meeting.
# `code` may name a profile of either source, so an appointment can be said to be a settings-file client.
client_meetings = Table(
    "client_meetings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("therapist_id", String(64), nullable=False),
    Column("meeting_id", String(64), nullable=False),
    Column("code", String(255), nullable=False),
    UniqueConstraint("therapist_id", "meeting_id", name="uq_client_meetings_meeting"),
)

# The client code a session keeps whatever later becomes of the profile that named it.
session_clients = Table(
    "session_clients",
    metadata,
    Column("session_id", String(40), primary_key=True),
    Column("therapist_id", String(64), nullable=False),
    Column("code", String(255), nullable=False),
    Index("ix_session_clients_therapist", "therapist_id"),
)

# A platform's subscriptions to a meeting's events (Graph change notifications): which therapist and
# meeting each is for, a digest of its clientState (the secret itself is never kept), when it expires
# and when its meeting is planned to end (it is deleted a while after). The join URL and the resource
# (which holds it) admit anyone to the meeting: never logged.
platform_subscriptions = Table(
    "platform_subscriptions",
    metadata,
    Column("subscription_id", String(128), primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("therapist_id", String(64), nullable=False),
    Column("meeting_id", String(64), nullable=False),
    Column("join_url", Text, nullable=False, default=""),
    Column("resource", Text, nullable=False),
    Column("client_state_digest", String(64), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("meeting_ends_at", String(32)),
    Column("updated_at", String(32), nullable=False),
    Index("ix_platform_subscriptions_therapist", "platform", "therapist_id"),
    Index("ix_platform_subscriptions_expiry", "platform", "expires_at"),
)

# What proves the configured keys are the ones this database was written with (bot/storage/key_checks.py):
# a constant sealed with the notes key and one keyed with the data key. Never a key itself.
key_checks = Table(
    "key_checks",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("value", Text, nullable=False),
)

# A platform's calling bot in a meeting's call, one per session at most: the row is claimed (state `joining`)
# before the bot is asked to join, so a second instance or a repeated start never sends a second bot. It
# keeps the platform's call id once joined, the call's state, the last roster sequence number applied, and
# whether the participants were read once the call was established: enough to resume after a restart.
bot_calls = Table(
    "bot_calls",
    metadata,
    Column("session_id", String(40), primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("therapist_id", String(64), nullable=False),
    Column("meeting_id", String(64), nullable=False),
    Column("occurrence_id", String(255), nullable=False),
    Column("host_id", String(255), nullable=False, default=""),
    Column("call_id", String(128)),
    Column("state", String(16), nullable=False),
    Column("claimed_until", String(32)),
    Column("roster_sequence", BigInteger),
    Column("participants_read", Integer, nullable=False, default=0),
    Column("result", String(64), nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("platform", "call_id", name="uq_bot_calls_call"),
    Index("ix_bot_calls_state", "platform", "state"),
)

# A ticket that opens the notice stream once, within a minute (EventSource cannot send a header, and a
# long-lived token in a URL ends up in logs and histories): a digest of it, never the ticket itself.
stream_tickets = Table(
    "stream_tickets",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("therapist_id", String(64), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Index("ix_stream_tickets_expiry", "expires_at"),
)

# Each session as the therapist's session list shows it, kept at every judging (bot/storage/session_list.py), so
# that a listing reads rows, not events. `profiles` is the keyed mark of the client profiles the code was judged
# under (bot/core/listing.py): under another, the session is judged again. No name, topic or note is kept here.
session_listing = Table(
    "session_listing",
    metadata,
    Column("session_id", String(40), primary_key=True),
    Column("therapist_id", String(64), nullable=False),
    Column("client_code", String(255)),
    Column("status", String(16), nullable=False),
    Column("started_at", String(32)),
    Column("ended_at", String(32)),
    Column("profiles", String(64), nullable=False),
    Column("judged_at", String(32), nullable=False),
)

# Who holds each meeting's RTMS stream (bot/storage/stream_leases.py): an instance's id (host, process, a random
# part: no person's data), the epoch (one more at each take, so that a former holder's late writes are refused) and
# when the lease lapses, in seconds by the database's clock (every instance judges it by the same clock).
stream_leases = Table(
    "stream_leases",
    metadata,
    Column("session_id", String(40), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("expires_at", Float, nullable=False),
)
