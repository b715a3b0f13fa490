"""Three real ``digitwatch run`` processes on one inbox: 1,000 pictures dropped at once, one daemon
killed with -9 mid-stream and started again; every picture gets exactly one row, and all three worked."""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path

from conftest import Daemon, DaemonFactory, cli, dark_on_light, read_rows

PICTURES = 1000


def daemons_seen(inbox: Path, alive: int, timeout: float = 15) -> list[dict]:
    """``status --json``'s daemons once ``alive`` of them are alive (each rewrites its file every second)."""
    deadline = time.monotonic() + timeout
    while True:
        r = cli("status", "--json", "--inbox", str(inbox))
        found = json.loads(r.stdout)["daemons"]
        if sum(d["alive"] for d in found) == alive or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def holding(work: Path, pid: int, timeout: float = 10) -> list[str]:
    """The files daemon ``pid`` has claimed, once it holds some (its folder is work/<pid>-<time>)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = [p.name for folder in work.glob(f"{pid}-*") for p in folder.iterdir()]
        if held:
            return held
    raise AssertionError(f"daemon {pid} never held a claimed file")


def test_three_daemons_one_inbox_one_killed_and_restarted(daemon_factory: DaemonFactory, test_digits, tmp_path) -> None:
    x, _ = test_digits
    staging = tmp_path / "staging"  # written first, then renamed in: every picture arrives at once
    staging.mkdir()
    names = [f"pic-{i:04d}.png" for i in range(PICTURES)]
    for i, name in enumerate(names):
        dark_on_light(x[i % len(x)]).save(staging / name, format="PNG")
    daemons: list[Daemon] = [
        daemon_factory("--max-batch", "8", root=tmp_path, log_path=tmp_path / f"daemon-{k}.log") for k in "abc"
    ]
    for d in daemons:
        d.start(wait_ready=False)
    for d in daemons:
        d.wait_event("ready")
    a, b, c = daemons
    found = daemons_seen(a.inbox, alive=3)
    assert sorted(d["pid"] for d in found if d["alive"]) == sorted(d.pid for d in daemons), found
    shown = cli("status", "--inbox", str(a.inbox)).stdout
    assert "daemons     3 on this inbox, 3 alive" in shown and all(f"pid {d.pid} alive" in shown for d in daemons)

    for name in names:
        os.rename(staging / name, a.inbox / name)
    c.wait_event("batch")
    held = holding(a.state / "work", c.pid)
    c.kill()  # -9 mid-stream, holding claimed files: they wait in its work folder, its lock is free
    at_kill = len(read_rows(a.outbox))
    assert at_kill < PICTURES, "the stream was over before the kill: nothing tested"
    gone = daemons_seen(a.inbox, alive=2)
    assert [d["alive"] for d in gone if d["pid"] == c.pid] == [False], gone
    killed_pid = c.pid
    c.start()  # adopts its dead folder: its claims are done once, here
    assert c.wait_event("recovered")["reclaimed"] > 0, f"held {held} at the kill"
    rows = a.wait_rows(PICTURES, timeout=60)
    assert {d["pid"] for d in daemons_seen(a.inbox, alive=3) if d["alive"]} == {a.pid, b.pid, c.pid}
    assert killed_pid not in {d["pid"] for d in daemons_seen(a.inbox, alive=3)}  # adopted, forgotten
    assert [d.stop() for d in daemons] == [0, 0, 0]  # drains: a late duplicate would be in the outbox now

    rows = read_rows(a.outbox)
    by_name = Counter(r["file"] for r in rows)
    assert set(by_name) == set(names) and max(by_name.values()) == 1, "lost or doubled"
    assert len({r["sha256"] for r in rows}) == PICTURES == len(rows)
    assert all(r["status"] != "error" for r in rows)
    # Who wrote each row: an outbox file's name carries its daemon's id, <pid>-<start time>.
    by_pid = {a.pid: "a", b.pid: "b", c.pid: "c", killed_pid: "c"}
    taken: Counter[str] = Counter()
    for path in a.outbox.glob("*.csv"):
        pid = int(re.search(r"-(\d+)-[0-9a-f]+-\d{6}\.csv$", path.name).group(1))  # type: ignore[union-attr]
        taken[by_pid[pid]] += len(path.read_text().splitlines()) - 1
    assert sum(taken.values()) == PICTURES and len(taken) == 3 and min(taken.values()) > 0, taken
    assert sorted(p.name for p in a.archive.iterdir()) == names
    print(f"shared: {taken}; rows at the kill: {at_kill}")
