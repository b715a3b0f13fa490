"""``digitwatch backfill`` on a real local Ray cluster of 2 workers, against ``digitwatch predict``."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import HERE, cli, dark_on_light
from digitwatch.daemon.results import CSV_COLUMNS

pytest.importorskip("ray", reason="the ray extra: pip install 'digitwatch[ray]'")

PICTURES = 300  # a few hundred, in three sub-folders (and one deeper)


def rows_of(out: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(out.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


@pytest.fixture(scope="module")
def backlog(tmp_path_factory, test_digits) -> tuple[Path, list[str]]:
    """Pictures in sub-folders, the shipped photos and scans, and three bad files; every file's name as listed."""
    x, _ = test_digits
    src = tmp_path_factory.mktemp("backlog")
    for i in range(PICTURES):
        folder = src / f"station-{i % 3}" / ("2025" if i % 7 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        dark_on_light(x[i]).save(folder / f"scan-{i:04d}.png")
    for photo in sorted(HERE.glob("data/*.jpg")):
        shutil.copy(photo, src / "station-0" / photo.name)
    good = (src / "station-1" / "scan-0001.png").read_bytes()
    (src / "station-1" / "truncated.png").write_bytes(good[: len(good) // 2])
    (src / "station-1" / "notes.png").write_text("not a picture")
    (src / "station-2" / "empty.png").write_bytes(b"")
    names = sorted(str(p) for p in src.rglob("*") if p.is_file())
    return src, names


def test_backfill_rows_equal_predict_and_a_rerun_adds_nothing(backlog, tmp_path: Path) -> None:
    src, names = backlog
    out = tmp_path / "out"
    started = time.monotonic()
    r = cli("backfill", str(src), "--out", str(out), "--workers", "2", "--batch-size", "64")
    took = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    summary = r.stderr.strip().splitlines()[-1]
    assert f"{len(names)} files, 0 already done, {len(names)} rows written (3 errors)" in summary, summary
    assert "images/s" in summary
    rows = rows_of(out)
    assert sorted(row["file"] for row in rows) == names  # one row per input, none twice
    by_file = {row["file"]: row for row in rows}
    for bad in ("station-1/truncated.png", "station-1/notes.png", "station-2/empty.png"):
        row = by_file[str(src / bad)]
        assert row["status"] == "error" and row["error"] and row["digit"] == ""
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left

    p = cli("predict", str(src))
    assert p.returncode == 0, p.stderr
    predicted = {row["file"]: row for row in csv.DictReader(io.StringIO(p.stdout))}
    assert set(predicted) == set(by_file)
    for name, row in by_file.items():  # the same reading path and network: the same answers
        want = predicted[name]
        assert (row["digit"], row["confidence"], row["status"], row["sha256"], row["error"], row["note"]) == (
            want["digit"],
            want["confidence"],
            want["status"],
            want["sha256"],
            want["error"],
            want["note"],
        ), name

    files = sorted(out.iterdir())
    again = cli("backfill", str(src), "--out", str(out), "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert f"{len(names)} already done, 0 rows written" in again.stderr
    assert sorted(out.iterdir()) == files
    print(f"backfill of {len(names)} files on 2 workers: {took:.1f} s")


def test_backfill_parquet_has_the_csv_columns_and_exit_codes(backlog, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    src, names = backlog
    out = tmp_path / "out"
    bad = src / "station-1"
    r = cli("backfill", str(bad / "truncated.png"), str(bad / "notes.png"), "--out", str(out), "--format", "parquet")
    assert r.returncode == 65, r.stderr  # every file an error, as predict
    (table,) = [pq.read_table(p) for p in out.glob("*.parquet")]
    assert tuple(table.column_names) == CSV_COLUMNS
    assert table.num_rows == 2 and set(table.column("status").to_pylist()) == {"error"}
    good = src / "station-2"
    r = cli("backfill", str(good), str(bad / "notes.png"), "--out", str(out), "--format", "parquet", "--workers", "1")
    assert r.returncode == 0, r.stderr
    rows = [row for p in sorted(out.glob("*.parquet")) for row in pq.read_table(p).to_pylist()]
    in_good = [n for n in names if n.startswith(str(good))]
    assert sorted(row["file"] for row in rows) == sorted([str(bad / "truncated.png"), str(bad / "notes.png"), *in_good])
    assert all(isinstance(row["digit"], int) for row in rows if row["status"] != "error")
    missing = cli("backfill", str(tmp_path / "nowhere"), "--out", str(out))
    assert missing.returncode == 66 and "no such file or folder" in missing.stderr


def test_the_daemon_does_not_import_ray() -> None:
    code = "import sys, digitwatch.daemon.cli, digitwatch.daemon.service; sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
