"""Name people by role in what the therapist reads and downloads: "Therapist", the client's code, "Other person 1"."""
from __future__ import annotations

import copy
from typing import Any

from .participants import CLIENT, THERAPIST

THE_CLIENT = "the client"


def client_label(summary: dict[str, Any]) -> str:
    """Return how the client is shown: their code, or "the client" when no profile matched."""
    return summary.get("client_code") or THE_CLIENT


def role_labels(summary: dict[str, Any]) -> list[str]:
    """Return a label for each participant of the summary, in the summary's order."""
    labels, others = [], 0
    for person in summary["participants"]:
        if person["role"] == THERAPIST:
            labels.append("Therapist")
        elif person["role"] == CLIENT:
            labels.append(client_label(summary))
        else:
            others += 1
            labels.append(f"Other person {others}")
    return labels


def pseudonymous(summary: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of the summary with every display name replaced by a role label and no meeting topic."""
    shown = copy.deepcopy(summary)
    labels = role_labels(summary)
    by_person = {(p["name"], p["role"]): label for p, label in zip(summary["participants"], labels)}
    for person, label in zip(shown["participants"], labels):
        person["name"] = label
    for entry in shown["timeline"]:
        if entry.get("role") is not None:
            entry["name"] = by_person.get((entry.get("name"), entry["role"]), "Other person")
    shown["meeting"]["topic"] = None
    return shown
