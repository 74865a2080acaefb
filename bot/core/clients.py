"""Match a meeting to its therapist and to the client's profile, so summaries name the client by code."""
from __future__ import annotations

from typing import Iterable

from .digests import email_digest, name_digest
from .events import MeetingRef
from .participants import RoleRules
from .settings import ClientProfile, Settings, Therapist


def therapist_for_meeting(settings: Settings, meeting: MeetingRef) -> Therapist | None:
    """Return the configured therapist who hosts `meeting`, or None."""
    if not meeting.host_id:
        return None
    for therapist in settings.therapists:
        if therapist.accounts.get(meeting.platform) == meeting.host_id:
            return therapist
    return None


def email_digests(profile: ClientProfile, key: str) -> set[str]:
    """Return the keyed digests of the client's emails: given in the settings file, or kept as digests."""
    return {email_digest(e, key) for e in profile.emails} | set(profile.email_digests)


def name_digests(profiles: Iterable[ClientProfile], key: str) -> set[str]:
    """Return the keyed digests of the clients' display names: given in the settings file, or kept as digests."""
    return {d for p in profiles for d in (*(name_digest(n, key) for n in p.display_names), *p.name_digests)}


def profiles_for(settings: Settings, therapist: Therapist, meeting: MeetingRef) -> list[ClientProfile]:
    """Return the therapist's client profiles that could be this meeting's client, best first."""
    own = [c for c in settings.clients if c.therapist == therapist.id]
    by_meeting = [c for c in own if meeting.meeting_id and meeting.meeting_id in c.meeting_ids]
    return by_meeting or own


def role_rules(settings: Settings, therapist: Therapist, meeting: MeetingRef) -> RoleRules:
    """Return how to recognise the therapist and this meeting's client."""
    profiles, key = profiles_for(settings, therapist, meeting), settings.privacy.data_key
    return RoleRules(
        therapist_account_ids=frozenset({meeting.host_id, *therapist.accounts.values()} - {""}),
        client_email_hashes=frozenset(d for c in profiles for d in email_digests(c, key)),
        client_name_digests=frozenset(name_digests(profiles, key)),
        client_account_ids=frozenset(i for c in profiles for i in c.entra_ids),
    )


def client_code(
    settings: Settings,
    therapist: Therapist,
    meeting: MeetingRef,
    email_hashes: set[str],
    name_hashes: set[str],
    account_ids: frozenset[str] = frozenset(),
) -> str | None:
    """Return the pseudonym of the profile matching the meeting id, or the client's account, email or name (keyed digests)."""
    own, key = [c for c in settings.clients if c.therapist == therapist.id], settings.privacy.data_key
    for profile in own:
        if meeting.meeting_id and meeting.meeting_id in profile.meeting_ids:
            return profile.code
    for profile in own:
        if account_ids & set(profile.entra_ids) or email_hashes & email_digests(profile, key) or name_hashes & name_digests([profile], key):
            return profile.code
    return None
