"""Show people by role on the pages, never by display name; who is in the meeting now."""
from __future__ import annotations

from typing import Any

from bot.core.participants import CLIENT, THERAPIST
from bot.core.pseudonyms import role_labels


def present(summary: dict[str, Any]) -> list[str]:
    """Return the labels of the people in the meeting now (their last presence has no end)."""
    words = {THERAPIST: "Therapist (you)", CLIENT: f"Client {summary['client_code']}" if summary.get("client_code") else "The client"}
    return [
        words.get(person["role"], label)
        for label, person in zip(role_labels(summary), summary["participants"])
        if person["intervals"] and person["intervals"][-1]["left_at"] is None and summary["ended_at"] is None
    ]
