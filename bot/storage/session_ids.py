"""Name a session by its meeting occurrence: the same id on every instance, and in every version of the database."""
from __future__ import annotations

import functools
import hashlib


@functools.lru_cache(maxsize=4096)  # each delivery asks three times, and a session's deliveries come together
def session_id_for(platform: str, occurrence_id: str) -> str:
    """Return the stable session id of a meeting occurrence (the same on every instance)."""
    return "s" + hashlib.sha256(f"{platform}:{occurrence_id}".encode()).hexdigest()[:20]
