"""Reading the checklist: the file packaged with the service, or the operator's own (bot/config/checklist_file.py)."""
from __future__ import annotations

from bot.config.checklist_file import DEFAULT_CHECKLIST, load_checklist


def test_the_checklist_ships_inside_the_package_and_an_operator_file_overrides_it(tmp_path):
    assert DEFAULT_CHECKLIST.parent.name == "defaults" and DEFAULT_CHECKLIST.parents[2].name == "bot"
    own = tmp_path / "checklist.toml"
    own.write_text('[[items]]\nid = "one"\ngroup = "G"\ntext = "Only this."\nmodes = ["face_to_face"]\n', encoding="utf-8")
    checklist = load_checklist(str(own))
    assert [p.id for p in checklist.points] == ["one"]
    assert checklist.for_client(None) == []
