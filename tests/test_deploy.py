"""The systemd unit: valid, hardened, and consistent with the daemon's exit codes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "deploy" / "digitwatch.service"


def test_unit_settings() -> None:
    text = UNIT.read_text()
    for setting in (
        "Type=notify",
        "Restart=on-failure",
        "RestartPreventExitStatus=78",
        "User=digitwatch",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "WatchdogSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ):
        assert setting in text, setting


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_and_security(tmp_path: Path) -> None:
    unit = tmp_path / "digitwatch.service"
    unit.write_text(
        UNIT.read_text().replace(
            "/opt/digitwatch/.venv/bin/digitwatch", str(Path(sys.executable).parent / "digitwatch")
        )
    )
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0 and "error" not in verify.stderr.lower(), verify.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)], capture_output=True, text=True
    )
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout).group(1))
    assert score <= 1.0, security.stdout
