"""Confidence calibration: the temperature fitted at publish, applied in serving, and reported by evaluate."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from digitwatch.daemon.infer import Predictor, calibrated
from digitwatch.daemon.registry import bundled, latest
from digitwatch.training.calibrate import ece, fit_temperature, threshold_for

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "mnist-sample.npz"


def _overconfident(n: int, true_t: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Answers drawn from calibrated logits, then sharpened by 1/true_t: what an over-confident network says."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, (n, 10))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(10, p=row) for row in p])
    sharp = np.exp(logits / true_t) / np.exp(logits / true_t).sum(1, keepdims=True)
    return sharp.astype(np.float32), y


def test_the_temperature_that_made_answers_overconfident_is_found_again() -> None:
    probs, y = _overconfident(4000, true_t=1 / 2.0)
    t = fit_temperature(probs, y)
    assert 1.8 <= t <= 2.2
    assert ece(calibrated(probs, t), y) < ece(probs, y) / 3


def test_calibration_keeps_every_answer_and_sums_to_one() -> None:
    probs, _ = _overconfident(500, true_t=0.5)
    for t in (0.5, 1.0, 2.5):
        out = calibrated(probs, t)
        assert np.array_equal(out.argmax(1), probs.argmax(1))
        assert np.allclose(out.sum(1), 1.0, atol=1e-5)
    assert calibrated(probs, 2.5).max(1).mean() < probs.max(1).mean()


def test_ece_is_zero_when_confidence_is_accuracy_and_large_when_it_lies() -> None:
    y = np.zeros(1000, np.int64)
    honest = np.full((1000, 10), 0.0, np.float32)
    honest[:, 0] = 1.0  # always sure and always right
    assert ece(honest, y) == pytest.approx(0.0)
    liar = honest.copy()
    liar[:500] = 0.0
    liar[:500, 1] = 1.0  # sure and wrong half the time
    assert ece(liar, y) == pytest.approx(0.5)


def test_threshold_keeps_ok_rows_as_right_as_asked() -> None:
    probs, y = _overconfident(3000, true_t=1.0, seed=3)
    t = threshold_for(probs, y, 0.99)
    kept = probs.max(1) >= t
    assert (probs.argmax(1)[kept] == y[kept]).mean() >= 0.99
    assert threshold_for(probs, y, 1.01) == 1.0  # a promise no threshold keeps


def test_the_served_model_applies_the_temperature_recorded_with_it() -> None:
    plain = Predictor.load(bundled())
    x = np.load(SAMPLE)["x_test"][:64].astype(np.float32) / 255.0
    hotter = Predictor.load(dataclasses.replace(bundled(), temperature=3.0))
    a, b = plain.predict(x), hotter.predict(x)
    assert np.array_equal(a.argmax(1), b.argmax(1))
    assert b.max(1).mean() < a.max(1).mean() - 0.05


@pytest.mark.parametrize("bad", [0, -1, 50, "warm", True])
def test_a_manifest_with_a_temperature_out_of_range_is_refused_with_the_reason(tmp_path: Path, bad: object) -> None:
    (tmp_path / "latest.json").write_text(json.dumps({"model_id": "abc", "file": "m.keras", "temperature": bad}))
    ref = latest(tmp_path)
    assert ref is not None and ref.problem and "temperature" in ref.problem


def test_evaluate_reports_calibration_on_real_handwriting_and_draws_its_plots(tmp_path: Path) -> None:
    command = ["evaluate", "--data", str(SAMPLE), "--writers", "--plots", str(tmp_path)]
    out = subprocess.run(
        [sys.executable, "-m", "digitwatch.daemon", *command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report["uci"]["n"] == 2 * 719  # the shipped set's held-out part (40%), at two sizes
    assert 0 <= report["uci"]["ece"] < 0.05
    assert report["uci"]["ok_wrong"] <= report["uci"]["errors"]
    assert any(line.startswith("uci") for line in out.splitlines())
    for name in ("mnist", "uci"):
        assert (tmp_path / f"reliability-{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / f"confusion-{name}.png").stat().st_size > 1000
