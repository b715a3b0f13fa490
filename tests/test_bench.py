"""bench/bench.py --quick runs end to end against the real daemon and reports every figure (no timing checks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench" / "bench.py"
BUNDLED_MODEL = REPO / "daemon" / "models" / "default.keras"

DAEMON_WORKLOADS = ("startup", "idle", "burst", "scans", "singles", "numbers")
MEMORY_FIGURES = ("rss_start_mb", "rss_end_mb", "peak_rss_mb", "tree_rss_end_mb", "tree_peak_rss_mb")
FIGURES = [
    "startup.first_result_s",
    "startup.ready_logged_s",
    "idle.p50_ms",
    "idle.p95_ms",
    "idle.p99_ms",
    "idle.max_ms",
    "burst.images_per_s",
    "burst.seconds",
    "scans.images_per_s",
    "scans.seconds",
    "singles.images_per_s",
    "singles.seconds",
    "numbers.images_per_s",
    "numbers.digits_per_s",
    "numbers.digit_cost_ratio",
    "numbers.digit_cost_vs_burst",
    "seed.images_per_s",
    "seed.daemon_ratio",
    *(f"{w}.{m}" for w in DAEMON_WORKLOADS for m in MEMORY_FIGURES),
]


@pytest.mark.skipif(not BUNDLED_MODEL.is_file(), reason="no bundled model (daemon/models/default.keras) to serve")
def test_quick_bench_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--data", str(SAMPLE), "--json", str(out), "--workdir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"bench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(out.read_text())
    figures = report["figures"]
    missing = [k for k in FIGURES if k not in figures]
    assert not missing, f"figures missing from the JSON: {missing}"
    bad = {k: v for k, v in figures.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0}
    assert not bad, f"figures that are not positive numbers: {bad}"
    for workload in DAEMON_WORKLOADS:
        w = report["workloads"][workload]
        assert w["rows"] == w["n"], f"{workload}: {w['rows']} rows for {w['n']} inputs"
        assert w["exit_code"] == 0, f"{workload}: daemon exited with {w['exit_code']}"
        assert w["leftover_processes"] == 0, f"{workload}: child processes outlived the daemon"
    assert "figure" in proc.stdout and "burst" in proc.stdout  # the table was printed
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("digitwatch-bench-")], (
        "temporary folders left behind"
    )
