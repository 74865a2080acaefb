"""The `COMPANION_*` environment variables: each settings key's name, the ones the service knows, and a misspelt one named."""
from __future__ import annotations

import difflib
import re
from typing import Iterable, Mapping

from .keys import NOTES_KEY_ENV

PREFIX = "COMPANION_"
CONFIG_VARIABLE = "COMPANION_CONFIG"  # the settings file, when a command is given no --config
CONFIG_HELP = f"the settings file (TOML); default: ${CONFIG_VARIABLE}"
# Variables the service reads that are not settings keys.
SERVICE_VARIABLES = frozenset({CONFIG_VARIABLE, NOTES_KEY_ENV})


def env_name(*parts: str) -> str:
    """Return the variable that sets a key: COMPANION_<SECTION>_<KEY>, or COMPANION_THERAPIST_<ID>_<KEY>."""
    return PREFIX + "_".join(re.sub(r"[^A-Za-z0-9]", "_", p).upper() for p in parts)


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """Name every `COMPANION_*` variable that sets nothing, with the known one closest to it."""
    names = sorted(SERVICE_VARIABLES | set(known))
    problems = []
    for name in sorted(n for n in environ if n.startswith(PREFIX) and n not in names):
        near = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
        hint = f"did you mean {near[0]}?" if near else "each is COMPANION_<SECTION>_<KEY> or COMPANION_THERAPIST_<ID>_<KEY>"
        problems.append(f"environment variable {name} is not one the service reads ({hint})")
    return problems


def from_environment(problems: list[str], sourced: Mapping[str, str]) -> list[str]:
    """Add to each problem about a key whose value came from the environment which variable it came from."""
    marked = []
    for problem in problems:
        where = next((w for w in sourced if problem.startswith((f"{w} ", f"{w}:"))), None)
        marked.append(f"{problem} (from {sourced[where]})" if where else problem)
    return marked
