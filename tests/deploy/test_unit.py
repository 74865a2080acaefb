"""deploy/companion.service: systemd accepts it, and it runs the service hardened, under its own user, restarted on failure."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.deployment import UNIT, exec_start, unit

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed here (Debian: apt-get install systemd)")
# What the issue asks of the unit, and what a Python network service tolerates besides.
HARDENING = {
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "StateDirectory": "companion",
    "StateDirectoryMode": "0700",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "RestrictSUIDSGID": "yes",
    "UMask": "0077",
    "Restart": "on-failure",
}
MOST_EXPOSURE = 2.0  # systemd-analyze security: 0 is sealed, 10 is root with nothing restricted; under 2 reads "OK"


def runnable_copy(directory: Path) -> Path:
    """Copy the unit with its program replaced by a real one (verify wants it to exist): this tree's `companion`, or Python."""
    program = Path(sys.executable).parent / "companion"
    here = program if program.exists() else Path(sys.executable)
    copy = directory / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(exec_start()[0], str(here)), encoding="utf-8")
    assert copy.read_text(encoding="utf-8") != UNIT.read_text(encoding="utf-8")
    return copy


def test_the_unit_runs_companion_serve_under_its_own_user_hardened_and_restarted_on_failure():
    settings = unit()
    assert {key: settings.get(key) for key in HARDENING} == {key: [value] for key, value in HARDENING.items()}
    assert settings["User"] == ["companion"] and settings["Group"] == ["companion"]
    assert exec_start()[1:] == ["serve", "--config", "/etc/companion/companion.toml"]
    assert settings["WorkingDirectory"] == ["/var/lib/companion"]  # the state directory: Teams' generated key lands there
    assert settings["EnvironmentFile"] == ["-/etc/companion/companion.env"]  # optional, and root's alone


@needs_systemd
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    found = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", str(runnable_copy(tmp_path))], capture_output=True, text=True, timeout=60)
    assert (found.returncode, found.stdout, found.stderr) == (0, "", "")


@needs_systemd
def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path):
    """So that the test above can fail: an unknown key is only a warning to systemd, with exit code 0."""
    copy = runnable_copy(tmp_path)
    copy.write_text(copy.read_text(encoding="utf-8").replace("PrivateTmp=yes", "PrivateTemp=yes"), encoding="utf-8")
    found = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60)
    assert "Unknown key 'PrivateTemp'" in found.stderr


@needs_systemd
def test_systemd_analyze_security_rates_the_unit_ok(tmp_path):
    found = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(runnable_copy(tmp_path))], capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    (level,) = re.findall(r"Overall exposure level for companion\.service: ([\d.]+)", found.stdout)
    assert float(level) <= MOST_EXPOSURE, found.stdout
