"""Model loading is safe and checked: wrong shapes, non-probabilities, truncated files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from digitwatch.daemon.errors import ModelError
from digitwatch.daemon.infer import Predictor
from digitwatch.daemon.registry import ModelRef, bundled


def _save(model, path: Path) -> ModelRef:
    model.save(path)
    return ModelRef("test", path, "file")


def test_wrong_shapes_and_outputs_are_refused(tmp_path: Path) -> None:
    import keras

    five = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5, activation="softmax")]
    )
    with pytest.raises(ModelError, match="output"):
        Predictor.load(_save(five, tmp_path / "five.keras"))
    big = keras.Sequential(
        [keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    with pytest.raises(ModelError, match="input"):
        Predictor.load(_save(big, tmp_path / "big.keras"))
    logits = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ModelError, match=r"probabilities|canary"):
        Predictor.load(_save(logits, tmp_path / "logits.keras"))


def test_truncated_and_untrained_models_are_refused(tmp_path: Path) -> None:
    import keras

    data = bundled().path.read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cannot load"):
        Predictor.load(ModelRef("cut", tmp_path / "cut.keras", "file"))
    untrained = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    with pytest.raises(ModelError, match="canary"):
        Predictor.load(_save(untrained, tmp_path / "untrained.keras"), canary_min_accuracy=0.9)


def test_lambda_layers_are_not_executed(tmp_path: Path) -> None:
    """Keras safe mode: a model carrying Python code (a Lambda layer) is refused, not run."""
    import keras

    marker = tmp_path / "pwned"
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Lambda(lambda x: x * 1.0),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ModelError):
        Predictor.load(ModelRef("l", tmp_path / "lambda.keras", "file"))
    assert not marker.exists()


def test_bundled_model_passes_its_checks() -> None:
    p = Predictor.load(bundled(), canary_min_accuracy=0.98)
    assert p.canary_accuracy >= 0.98 and p.model_id == bundled().model_id
