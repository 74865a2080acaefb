"""One client's record as an export: every session's summary (with its notes) in JSON, and the same in Markdown."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from .render import to_markdown
from .timefmt import to_iso

EXPORT_FORMAT = "session-companion/client-export/1"


def export_document(code: str, therapist_id: str, summaries: Sequence[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Return the JSON export of a client's sessions, oldest first, each as its summary says."""
    return {
        "format": EXPORT_FORMAT,
        "client_code": code,
        "therapist_id": therapist_id,
        "exported_at": to_iso(now),
        "session_count": len(summaries),
        "sessions": list(summaries),
    }


def export_markdown(document: dict[str, Any], zone: str) -> str:
    """Return the export as Markdown: a heading for the client, then each session's summary a level below."""
    lines = [
        f"# The record of client {document['client_code']}",
        "",
        f"Exported {document['exported_at']}: {document['session_count']} session(s), oldest first, each with its notes.",
        "",
    ]
    for summary in document["sessions"]:
        lines += [f"#{line}" if line.startswith("#") else line for line in to_markdown(summary, zone).splitlines()]
        lines.append("")
    return "\n".join(lines)
