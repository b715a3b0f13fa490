"""A command line a script can trust: exit codes, one JSON object, flags that say what they take, errors
that suggest the close word - each through the real ``digitwatch`` command."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import cli, dark_on_light
from digitwatch.daemon import config

REPO = Path(__file__).resolve().parents[1]


def state_of(inbox: Path) -> Path:
    return config.default_state_dir(inbox, {})


def write_status(inbox: Path, **snap: object) -> None:
    state = state_of(inbox)
    state.mkdir(parents=True, exist_ok=True)
    (state / "status.json").write_text(json.dumps(snap))


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_status_without_a_daemon_exits_3_in_text_and_json(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    r = cli("status", "--inbox", str(inbox))
    assert r.returncode == 3 and r.stdout.startswith("digitwatch: not running") and "{" not in r.stdout
    r = cli("status", "--json", "--inbox", str(inbox))
    report = json.loads(r.stdout)  # the whole of stdout is one object
    assert r.returncode == 3 and report["running"] is False and report["state"] == "not running"


@pytest.mark.parametrize("why", ["pid gone", "not rewritten", "stopped"])
def test_a_stale_status_file_is_not_running(tmp_path: Path, why: str) -> None:
    """A status file left by a daemon that died (or was stopped, or stopped writing) says it was serving
    with its watcher alive: status must not repeat that."""
    inbox = tmp_path / "inbox"
    now = time.time()
    pid, at, state = {
        "pid gone": (dead_pid(), now, "serving"),
        "not rewritten": (os.getpid(), now - 60, "serving"),
        "stopped": (os.getpid(), now, "stopped"),
    }[why]
    write_status(inbox, state=state, pid=pid, updated_at_unix=at, observer_alive=True, healthy=True, done=5)
    r = cli("status", "--inbox", str(inbox))
    assert r.returncode == 3, r.stdout
    assert r.stdout.startswith("digitwatch: not running") and "alive" not in r.stdout and "serving" not in r.stdout
    r = cli("status", "--json", "--inbox", str(inbox))
    report = json.loads(r.stdout)
    assert r.returncode == 3 and report["running"] is False and report["state"] == "not running"
    assert "observer_alive" not in report and report["last_status"]["done"] == 5


def test_an_unreadable_status_file_exits_4(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    state_of(inbox).mkdir(parents=True)
    (state_of(inbox) / "status.json").write_text("{half")
    r = cli("status", "--json", "--inbox", str(inbox))
    assert r.returncode == 4 and json.loads(r.stdout)["state"] == "unknown"


def test_predict_exit_codes(tmp_path: Path, test_digits) -> None:
    x, _ = test_digits
    good, junk = tmp_path / "good.png", tmp_path / "junk.png"
    dark_on_light(x[0]).save(good)
    junk.write_bytes(b"not a picture")
    r = cli("predict", str(good), str(tmp_path / "missing.png"))
    assert r.returncode == 66 and "missing.png" in r.stderr
    assert [line.split(",")[0] for line in r.stdout.splitlines()[1:]] == [str(good)]  # rows for the rest
    r = cli("predict", str(junk))
    assert r.returncode == 65 and ",error," in r.stdout  # every input unreadable: the row, and the exit
    r = cli("predict", str(junk), str(good))
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3  # one bad input among good ones: its row says so
    (tmp_path / "empty").mkdir()
    r = cli("predict", str(tmp_path / "empty"))
    assert r.returncode == 66 and "no files" in r.stderr


def test_predict_progress_bar_only_on_a_terminal(tmp_path: Path, test_digits) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(5):
        dark_on_light(test_digits[0][i]).save(folder / f"{i}.png")
    r = cli("predict", str(folder))  # stderr is a pipe
    assert r.returncode == 0 and r.stderr == "" and len(r.stdout.splitlines()) == 6
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitwatch.daemon", "predict", str(folder)],
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    os.close(slave)
    seen = b""
    while True:  # read the terminal until the process closes it
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, "no output on the terminal within 60 s"
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer has gone
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and len(out.splitlines()) == 6  # the bar never reaches stdout
    assert re.search(rb"5/5 \[", seen), seen[-300:]


def test_every_setting_has_a_documented_flag() -> None:
    r = cli("run", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for f in fields(config.Config):
        flag = "--" + f.name.replace("_", "-")
        assert re.search(rf"{flag}(, --no-\S+| \S+) {re.escape(config.HELP[f.name])} \(", text), flag
        if f.type == "bool":
            assert f"--no-{flag[2:]}" in text, flag
    assert "--max-batch N network batch size (integer; default: 256)" in text
    documented = (REPO / "config.yaml").read_text()
    for f in fields(config.Config):  # config.yaml documents every key (state_dir commented out)
        assert re.search(rf"^#? ?{f.name}:", documented, re.MULTILINE), f.name


def test_booleans_take_no_value(tmp_path: Path) -> None:
    r = cli("status", "--json", "--inbox", str(tmp_path / "in"), "--recursive", "--no-polling")
    assert r.returncode == 3, r.stderr  # parsed (and nothing runs here)
    r = cli("status", "--inbox", str(tmp_path / "in"), "--recursive", "yes")
    assert r.returncode == 2 and "a switch takes no value" in r.stderr


def test_errors_in_the_projects_words(tmp_path: Path) -> None:
    r = cli("run", "--inbox", str(tmp_path / "in"), env={"DIGITWATCH_MAX_BATCH": "abc"})
    assert r.returncode == 78
    assert (
        r.stderr.strip() == "digitwatch: error: max_batch: expected an integer, got 'abc' (from DIGITWATCH_MAX_BATCH)"
    )
    r = cli("run", "--inbox", str(tmp_path / "in"), "--max-bach", "3")
    assert r.returncode == 2 and "did you mean --max-batch?" in r.stderr
    r = cli("run", "--inbox", str(tmp_path / "in"), env={"DIGITWATCH_MAX_BACH": "3"})
    assert r.returncode == 78 and "did you mean 'max_batch'?" in r.stderr and "known keys" not in r.stderr
    f = tmp_path / "c.yaml"
    f.write_text("recursve: true\n")
    r = cli("run", "--config", str(f))
    assert r.returncode == 78 and "did you mean 'recursive'?" in r.stderr
    r = cli("run", "--inbox", str(tmp_path / "in"), "--low-confidence", "high")
    assert r.returncode == 78 and "low_confidence: expected a number, got 'high' (from --low-confidence)" in r.stderr


def test_a_metrics_address_in_use_stops_the_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = cli("run", "--inbox", str(tmp_path / "in"), "--metrics-address", f"127.0.0.1:{port}", cwd=tmp_path)
    assert r.returncode == 78 and "metrics_address" in r.stderr, r.stderr
