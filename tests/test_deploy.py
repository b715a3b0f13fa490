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


def unit_settings(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values, in order]}} of a systemd unit; comments and blank lines skipped."""
    out: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a setting: {raw!r}"
        out.setdefault(section, {}).setdefault(key.strip(), []).append(value.strip())
    return out


def test_unit_settings() -> None:
    """Settings as set, not as mentioned (a substring check passed on a comment or on any value)."""
    service = unit_settings(UNIT.read_text())["Service"]
    expected = {
        "Type": "notify",
        "Restart": "on-failure",
        "User": "digitwatch",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "ExecReload": "/bin/kill -HUP $MAINPID",
    }
    for key, value in expected.items():
        assert service.get(key) == [value], (key, service.get(key))
    assert service["ReadWritePaths"] == service["WorkingDirectory"], "the daemon's folders are writable, only they"
    assert 0 < int(service["WatchdogSec"][-1]) <= 60


def test_restart_prevented_on_the_exit_code_of_a_config_error(tmp_path: Path) -> None:
    """systemd must not restart-loop on a typo: the code the real daemon exits with on a bad setting
    is one of RestartPreventExitStatus, and not one a crash (restart wanted) exits with."""
    prevented = {
        int(v) for line in unit_settings(UNIT.read_text())["Service"]["RestartPreventExitStatus"] for v in line.split()
    }
    r = subprocess.run(
        [sys.executable, "-m", "digitwatch.daemon", "run", "--inbox", str(tmp_path / "in"), "--max-batch", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode in prevented, (r.returncode, prevented, r.stderr)
    assert 70 not in prevented and 1 not in prevented  # a dead worker (70) or a crash must be restarted


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
