"""The pages' colours meet WCAG AA: text at least 4.5:1 against the backgrounds it sits on."""
from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).parents[4] / "bot" / "web" / "static" / "companion.css"
TEXT = ("ink", "quiet", "accent", "alert", "ok")
BACKGROUNDS = ("paper", "tint")


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_text_colour_reads_at_aa_on_every_background():
    colours = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text()))
    assert set(TEXT) | set(BACKGROUNDS) <= set(colours)
    weak = [(t, b, round(contrast(colours[t], colours[b]), 2)) for t in TEXT for b in BACKGROUNDS if contrast(colours[t], colours[b]) < 4.5]
    assert not weak, weak
    assert contrast("#ffffff", colours["accent"]) >= 4.5  # the buttons' white text on the accent colour
