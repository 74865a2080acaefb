"""README "Deploying": its commands and paths agree with the unit and the site, and its steps, run here, end in Zoom's validation."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import shlex
import time
from pathlib import Path

import aiohttp
import pytest

from bot.cli import main
from tests.conftest import signed_headers
from tests.deploy.deployment import block, commands, directives, exec_start, install, settings_shown, site, state_directory, unit, walkthrough
from tests.fakes.companion_process import CompanionProcess

CONFIG = exec_start()[-1]
PROGRAM = exec_start()[0]
USER = unit()["User"][0]


def test_the_walkthrough_makes_the_user_folders_and_program_the_unit_expects():
    ran = commands()
    assert f"useradd --system --user-group --home-dir {state_directory()} --shell /usr/sbin/nologin {USER}" in ran
    (mode,) = unit()["StateDirectoryMode"]
    assert f"install -d -o {USER} -g {USER} -m {mode} {Path(CONFIG).parent} {state_directory()}" in ran
    assert f"python3 -m venv {PROGRAM.removesuffix('/bin/companion')}" in ran
    assert f"alias companion='runuser -u {USER} -- {PROGRAM}'" in ran  # every command runs as the service's user
    assert "cp /opt/companion/src/deploy/companion.service /etc/systemd/system/companion.service" in ran
    assert "systemctl daemon-reload && systemctl enable --now companion" in ran
    (environment,) = unit()["EnvironmentFile"]
    assert environment.lstrip("-") in walkthrough()


def test_every_companion_command_of_the_walkthrough_exists_and_names_the_units_settings_file(capsys):
    ran = [shlex.split(line) for line in commands() if line.startswith("companion ")]
    assert [argv[1] for argv in ran] == ["init", "check-config", "check-config"]
    for argv in ran:
        assert argv[argv.index("--config") + 1] == CONFIG
        with pytest.raises(SystemExit) as exited:  # the command line as the README writes it parses, up to asking for help
            main([*argv[1:], "--help"])
        assert exited.value.code == 0, " ".join(argv)
    assert set(re.findall(r"--config ([^`\s]+)", walkthrough())) == {CONFIG}  # the commands named in the text too
    capsys.readouterr()


def test_the_walkthrough_gets_the_sites_certificate_and_puts_the_zoom_app_on_the_sites_host():
    text, ran = site(), commands()
    (host,) = set(directives(text, "server_name"))
    assert f"HOST={host}" in ran
    (webroot,) = directives(block(text, "location /.well-known/acme-challenge/"), "root")
    assert f"certbot certonly --webroot -w {webroot} -d \"$HOST\" --deploy-hook 'systemctl reload nginx'" in ran
    assert set(directives(text, "ssl_certificate")) == {f"/etc/letsencrypt/live/{host}/fullchain.pem"}
    assert set(directives(text, "ssl_certificate_key")) == {f"/etc/letsencrypt/live/{host}/privkey.pem"}
    assert f'sed "s/{host}/$HOST/g" /opt/companion/src/deploy/nginx/companion.conf > /etc/nginx/sites-available/companion.conf' in ran
    assert settings_shown()["server"]["public_url"] == f"https://{host}"
    assert f"`https://{host}/webhooks/zoom`" in walkthrough()
    assert "curl -s http://127.0.0.1:8080/healthz" in ran and directives(block(text, "upstream companion"), "server") == ["127.0.0.1:8080"]


async def test_steps_two_to_seven_here_init_check_config_the_units_command_and_zoom_validating_the_webhook(tmp_path):
    installed = install(tmp_path / "root")  # steps 2 and 4: the folders, init, the README's settings filled in
    assert installed.config.stat().st_mode & 0o777 == 0o600
    assert await asyncio.to_thread(main, ["check-config", "--config", str(installed.config)]) == 0  # it runs its own event loop
    # Step 5: CompanionProcess runs `companion serve --config FILE`, the unit's command line with this tree's program.
    assert exec_start()[1:-1] == ["serve", "--config"]
    service = CompanionProcess(installed.config, installed.port, tmp_path / "companion.log")
    await service.start()
    try:
        body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}, "event_ts": int(time.time() * 1000)}).encode()
        async with aiohttp.ClientSession() as http:  # step 7: Zoom's "Validate", here without nginx in between
            async with http.post(f"{service.base}/webhooks/zoom", data=body, headers=signed_headers(body, installed.secret)) as answer:
                assert answer.status == 200
                validated = await answer.json()
    finally:
        service.stop()
    expected = hmac.new(installed.secret.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert validated == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert (installed.state / "companion.db").stat().st_mode & 0o777 == 0o600  # the database is in the state folder, the owner's alone
