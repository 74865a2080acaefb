"""The README's two set-up commands are the ones CI and the hooks rely on."""
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
DEMO = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[framing]' && .venv/bin/companion demo"
TESTS = (
    "(command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) && "
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest -q"
)


def test_readme_opens_with_the_demo_and_test_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = "\n".join(readme.splitlines()[:30])
    assert DEMO in first_screen and TESTS in first_screen
    assert first_screen.index(DEMO) < first_screen.index(TESTS)
    assert TESTS in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_ci_runs_ruff_and_mypy_after_the_tests():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    after_tests = ci[ci.index(TESTS) + 1 :]
    assert ".venv/bin/ruff check ." in after_tests and ".venv/bin/mypy" in after_tests
    assert "set -euo pipefail" in ci  # so that a finding fails CI


def test_every_file_and_folder_the_readme_names_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:bot|integrations|tests|bench|config)/[\w./-]*)`", readme))
    assert len(named) > 10
    made_by_the_operator = {"config/checklist.toml"}
    missing = sorted(path for path in named - made_by_the_operator if not (ROOT / path).exists())
    assert not missing, f"the README names {missing}, which are not in the tree"
