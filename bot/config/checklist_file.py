"""Read the pre-call checklist: the operator's file, or the one packaged with the service."""
from __future__ import annotations

from pathlib import Path

from bot.core.checklist import Checklist, parse_checklist

from .toml_file import read_toml

DEFAULT_CHECKLIST = Path(__file__).parent / "defaults" / "checklist.toml"


def load_checklist(path: str = "") -> Checklist:
    """Read the operator's checklist file, or the packaged one when `path` is empty."""
    source = Path(path) if path else DEFAULT_CHECKLIST
    return parse_checklist(read_toml(source, "checklist file"), str(source))
