"""The README's two set-up commands are the ones CI and the hooks rely on."""
from pathlib import Path

ROOT = Path(__file__).parent.parent
DEMO = "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/companion demo"
TESTS = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest -q"


def test_readme_opens_with_the_demo_and_test_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = "\n".join(readme.splitlines()[:30])
    assert DEMO in first_screen and TESTS in first_screen
    assert first_screen.index(DEMO) < first_screen.index(TESTS)
    assert TESTS in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
