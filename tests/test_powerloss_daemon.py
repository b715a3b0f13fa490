"""Power loss with the real ``digitwatch run`` process: its traced operations keep the order the crash
model of test_powerloss.py relies on, and it recovers crash states built by that model."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import Daemon, dark_on_light
from digitwatch.daemon import fsutil
from test_powerloss import check, expand, materialise, record_run, synced

Factory = Callable[..., Daemon]
Digits = tuple[np.ndarray, np.ndarray]


def test_real_daemon_orders_its_durable_operations(daemon_factory: Factory, test_digits: Digits) -> None:
    """The real process (threads, decoding pool, network), traced with DW_FSTRACE: each
    batch's results are durable (file and folder) before its journal record, published before any
    input moves, and an error file is durable before its input moves."""
    x, _ = test_digits
    d = daemon_factory(env={fsutil.TRACE_ENV: "trace.jsonl"})
    d.start()
    for i in range(3):
        dark_on_light(x[i]).save(d.root / f"t{i}.png")
        os.rename(d.root / f"t{i}.png", d.inbox / f"t{i}.png")
    (d.inbox / "bad.png").write_bytes(b"not an image")
    d.wait_rows(4, timeout=60)
    assert d.stop() == 0
    ops = [json.loads(line) for line in (d.root / "trace.jsonl").read_text().splitlines()]
    at = {id(o): n for n, o in enumerate(ops)}
    commits = [n for n, o in enumerate(ops) if o["op"] == "commit"]
    outbox, archive, failed = str(d.outbox), str(d.archive), str(d.failed)
    temps = [o for o in ops if o["op"] == "write" and o["path"].startswith(outbox + "/.results-")]
    assert temps and len(commits) >= 2
    for tmp in temps:
        record = next(c for c in commits if c > at[id(tmp)])
        between = ops[at[id(tmp)] : record]
        assert any(o["op"] == "fsync" and o["path"] == tmp["path"] for o in between), "results file not fsynced"
        assert any(o["op"] == "fsync_dir" and o["path"] == outbox for o in between), "outbox not fsynced"
        published = next(n for n, o in enumerate(ops) if o["op"] == "rename" and o["src"] == tmp["path"])
        moves = [n for n, o in enumerate(ops) if o["op"] == "rename" and o["dst"].startswith((archive, failed))]
        moves = [n for n in moves if n > record and not ops[n]["src"].startswith((archive, failed))]
        assert moves and published < min(moves) and record < published
    bad_move = next(n for n, o in enumerate(ops) if o["op"] == "rename" and o["dst"] == f"{failed}/bad.png")
    error_file = next(n for n, o in enumerate(ops) if o["op"] == "rename" and o["dst"] == f"{failed}/bad.png.error.txt")
    assert error_file < bad_move
    assert any(o["op"] == "fsync_dir" and o["path"] == failed for o in ops[error_file:bad_move])


def test_real_daemon_recovers_crash_states(
    daemon_factory: Factory, test_digits: Digits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two crash states of the model, recovered by the real daemon: just after the first batch's journal
    record with nothing un-synced persisted, and the busiest point of the second daemon's recovery
    with every un-synced operation persisted."""
    x, _ = test_digits

    def picture(i: int) -> bytes:
        buf = io.BytesIO()
        dark_on_light(x[i]).save(buf, format="PNG")
        return buf.getvalue()

    run = record_run(tmp_path, monkeypatch, picture)
    ops = expand(run.ops)
    after_record = next(n for n, o in enumerate(ops) if o["op"] == "commit") + 1
    pending = {
        c: [i for i in range(c) if ops[i]["op"] not in ("fsync", "fsync_dir") and not synced(ops, i, c)]
        for c in range(len(ops))
    }
    busiest = max(range(after_record, len(ops)), key=lambda c: len(pending[c]))
    for n, (crash, chosen) in enumerate([(after_record, frozenset()), (busiest, frozenset(pending[busiest]))]):
        dest = tmp_path / f"state{n}"
        materialise(run, ops, crash, chosen, dest)
        d = daemon_factory("--formats", "csv,json", root=dest).start()
        deadline = time.monotonic() + 60
        while _unsettled(dest, run.inputs) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert d.stop() == 0
        assert not check(dest, run.inputs), (crash, sorted(chosen), check(dest, run.inputs), d.tail())


def _unsettled(root: Path, inputs: dict[str, bytes]) -> bool:
    try:
        return bool(check(root, inputs))
    except OSError:  # a file moved under the check while the daemon works
        return True
