"""Checklist tailoring, table-driven: every flag and mode shows exactly its own points."""
from __future__ import annotations

import pytest

from bot.config.checklist_file import load_checklist
from bot.core.checklist import Checklist, parse_checklist
from bot.core.settings import ClientProfile, SettingsError

ONLINE_BASE = {
    "know_the_client", "contract_in_place", "own_dress", "not_the_bedroom", "background_check",
    "self_disclosure", "client_dressed", "client_sitting_up", "client_hands_visible",
    "companion_told_zoom", "companion_told_teams",  # a platform's own point shows when the platform is not known
}
FACE_TO_FACE_BASE = {"know_the_client", "contract_in_place", "alone_with_client", "shared_building", "summon_help", "self_disclosure"}

# (mode, flags) -> points added to that mode's base list
CASES = [
    ("online", (), set()),
    ("face_to_face", (), set()),
    ("online", ("minor_attracted",), {"no_family_photos"}),
    ("face_to_face", ("minor_attracted",), set()),  # a photo in your own background matters online only
    ("online", ("animals",), {"no_pets"}),
    ("face_to_face", ("animals",), set()),
    ("online", ("stranger_assault",), {"stranger_assault_plan"}),
    ("face_to_face", ("stranger_assault",), {"stranger_assault_plan"}),
    ("online", ("preoccupied_attachment",), {"attachment_boundaries"}),
    ("face_to_face", ("preoccupied_attachment",), {"attachment_boundaries"}),
    ("online", ("internet_offending",), {"screen_reenactment"}),
    ("face_to_face", ("internet_offending",), set()),
    ("face_to_face", ("online",), ONLINE_BASE - FACE_TO_FACE_BASE),  # seen both ways: both lists
    ("online", ("face_to_face",), FACE_TO_FACE_BASE - ONLINE_BASE),
    ("online", ("minor_attracted", "animals"), {"no_family_photos", "no_pets"}),
]


@pytest.mark.parametrize("mode,flags,extra", CASES, ids=[f"{m}-{'+'.join(f) or 'none'}" for m, f, _ in CASES])
def test_each_flag_and_mode_tailors_the_checklist(mode, flags, extra):
    profile = ClientProfile(code="C-1", therapist="t1", mode=mode, flags=flags)
    base = ONLINE_BASE if mode == "online" else FACE_TO_FACE_BASE
    assert {p.id for p in load_checklist().for_client(profile)} == base | extra


def test_one_checklist_asked_for_every_kind_of_client_in_turn_answers_each_as_if_asked_first():
    checklist = load_checklist()
    for _ in range(2):  # the points picked for a kind of client are kept: the second round reads them
        for mode, flags, _extra in CASES:
            for platform in (None, "zoom", "teams"):
                profile = ClientProfile(code="C-1", therapist="t1", mode=mode, flags=flags)
                answer = checklist.for_client(profile, platform)
                assert answer == Checklist(checklist.points).for_client(profile, platform)  # one that picked nothing yet
                answer.clear()  # a caller's list is its own


def test_a_client_without_a_profile_gets_the_online_list_without_flag_points():
    assert {p.id for p in load_checklist().for_client(None)} == ONLINE_BASE


@pytest.mark.parametrize("platform,other", [("zoom", "companion_told_teams"), ("teams", "companion_told_zoom")])
def test_the_client_is_told_what_the_companion_shows_on_their_own_platform_only(platform, other):
    points = {p.id: p.text for p in load_checklist().for_client(None, platform)}
    assert points.keys() == ONLINE_BASE - {other}
    told = points[f"companion_told_{platform}"]
    assert ("app is receiving the meeting's content" in told) if platform == "zoom" else ("participant list" in told)


def test_the_companion_points_are_for_online_sessions_only():
    profile = ClientProfile(code="C-1", therapist="t1", mode="face_to_face")
    assert not {p.id for p in load_checklist().for_client(profile, "teams")} & {"companion_told_zoom", "companion_told_teams"}


def test_a_point_limited_to_a_platform_shows_only_there():
    checklist = parse_checklist({"items": [{"id": "a", "group": "g", "text": "t", "platforms": ["teams"]}, {"id": "b", "group": "g", "text": "u"}]}, "x")
    assert [p.id for p in checklist.for_client(None, "zoom")] == ["b"]
    assert [i.id for i in checklist.items(None, {}, "teams")] == ["a", "b"]


@pytest.mark.parametrize(
    "raw,problem",
    [
        ({}, "needs at least one checklist point"),
        ({"items": [{"id": "a", "group": "g"}]}, "text must be a non-empty string"),
        ({"items": [{"id": "a", "group": "g", "text": "t", "modes": ["video"]}]}, "'video' is not one of online, face_to_face"),
        ({"items": [{"id": "a", "group": "g", "text": "t", "flags": "animals"}]}, "flags must be a non-empty list"),
        ({"items": [{"id": "a", "group": "g", "text": "t", "when": 1}]}, "when is not a known key"),
        ({"items": [{"id": "a", "group": "g", "text": "t", "platforms": ["webex"]}]}, "'webex' is not one of zoom, teams"),
        ({"items": [{"id": "a", "group": "g", "text": "t"}, {"id": "a", "group": "g", "text": "u"}]}, "id 'a' is used twice"),
    ],
)
def test_a_bad_checklist_says_what_is_wrong(raw, problem):
    with pytest.raises(SettingsError, match=problem):
        parse_checklist(raw, "checklist.toml")


def test_a_missing_checklist_file_is_a_settings_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_checklist(str(tmp_path / "nope.toml"))


def test_check_config_refuses_a_bad_checklist_file_with_exit_2(tmp_path, capsys):
    import tomllib

    from bot.cli import main
    from tests.conftest import settings_dict

    bad = tmp_path / "checklist.toml"
    bad.write_text("[[items]]\nid = 'x'\n", encoding="utf-8")
    raw = settings_dict("sqlite+aiosqlite:///c.db", reminders={"checklist_file": str(bad)})
    config = tmp_path / "companion.toml"
    config.write_text(_toml(raw), encoding="utf-8")
    assert tomllib.loads(config.read_text())["reminders"]["checklist_file"] == str(bad)
    assert main(["check-config", "--config", str(config)]) == 2
    assert "text must be a non-empty string" in capsys.readouterr().err


def _toml(raw: dict) -> str:
    import json

    lines = []
    for name, value in raw.items():
        for entry in value if isinstance(value, list) else [value]:
            lines.append(f"[[{name}]]" if isinstance(value, list) else f"[{name}]")
            lines += [f"{key} = {json.dumps(v)}" for key, v in entry.items()]
    return "\n".join(lines) + "\n"
