"""The service as the walk-through installs it, on this machine: settings from `companion init`, filled in as the README says."""
from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from tests.deploy.deployment import install
from tests.fakes.companion_process import CompanionProcess


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[CompanionProcess]:
    """Run `companion serve` on the walk-through's settings (the unit's command, this tree's program)."""
    installed = install(tmp_path / "root")
    service = CompanionProcess(installed.config, installed.port, tmp_path / "companion.log")
    await service.start()
    yield service
    service.stop()
