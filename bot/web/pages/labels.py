"""Show people on the pages by role, and by display name only where the therapist opted in; who is in the meeting now."""
from __future__ import annotations

from typing import Any

from bot.core.participants import CLIENT, THERAPIST


def present(summary: dict[str, Any]) -> list[str]:
    """Return the labels of the people in the meeting now (their last presence has no end)."""
    words = {THERAPIST: "Therapist (you)", CLIENT: f"Client {summary['client_code']}" if summary.get("client_code") else "The client"}
    return [
        words.get(person["role"], person["name"]) + (f" · {person['display_name']}" if person.get("display_name") else "")
        for person in summary["participants"]
        if person["intervals"] and person["intervals"][-1]["left_at"] is None and summary["ended_at"] is None
    ]
