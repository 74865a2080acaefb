"""Name people by role in everything the therapist reads and downloads: "Therapist", the client's code, "Other person 1"."""
from __future__ import annotations

from typing import Any, Sequence

from .participants import CLIENT, THERAPIST

THE_CLIENT = "the client"


def client_label(summary: dict[str, Any]) -> str:
    """Return how the client is shown: their code, or "the client" when no profile matched."""
    return summary.get("client_code") or THE_CLIENT


def role_labels(roles: Sequence[str], client_code: str | None) -> list[str]:
    """Return a label for each person of a meeting, given their roles in the roster's order (others numbered so)."""
    labels, others = [], 0
    for role in roles:
        if role == THERAPIST:
            labels.append("Therapist")
        elif role == CLIENT:
            labels.append(client_code or THE_CLIENT)
        else:
            others += 1
            labels.append(f"Other person {others}")
    return labels
