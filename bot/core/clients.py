"""Match a meeting to its therapist and to the client's profile, so summaries name the client by code."""
from __future__ import annotations

import hashlib

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


def _hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def profiles_for(settings: Settings, therapist: Therapist, meeting: MeetingRef) -> list[ClientProfile]:
    """Return the therapist's client profiles that could be this meeting's client, best first."""
    own = [c for c in settings.clients if c.therapist == therapist.id]
    by_meeting = [c for c in own if meeting.meeting_id and meeting.meeting_id in c.meeting_ids]
    return by_meeting or own


def role_rules(settings: Settings, therapist: Therapist, meeting: MeetingRef) -> RoleRules:
    """Return how to recognise the therapist and this meeting's client."""
    profiles = profiles_for(settings, therapist, meeting)
    return RoleRules(
        therapist_account_ids=frozenset({meeting.host_id, *therapist.accounts.values()} - {""}),
        client_email_hashes=frozenset(_hash(e) for c in profiles for e in c.emails),
        client_names=frozenset(n.strip().lower() for c in profiles for n in c.display_names),
    )


def client_code(
    settings: Settings, therapist: Therapist, meeting: MeetingRef, email_hashes: set[str], names: set[str]
) -> str | None:
    """Return the pseudonym of the profile matching the meeting id, or the client's email or name."""
    own = [c for c in settings.clients if c.therapist == therapist.id]
    for profile in own:
        if meeting.meeting_id and meeting.meeting_id in profile.meeting_ids:
            return profile.code
    for profile in own:
        if email_hashes & {_hash(e) for e in profile.emails} or names & {n.strip().lower() for n in profile.display_names}:
            return profile.code
    return None
