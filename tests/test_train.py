"""A short real training run through the CLI: publishes a loadable model, metrics and curves; evaluate's JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import cli
from digitwatch.daemon.registry import bundled, file_id
from PIL import Image


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, mnist_path: Path) -> tuple[Path, dict]:
    ck = tmp_path_factory.mktemp("ck")
    r = cli("train", "--data", str(mnist_path), "--limit", "3000", "--epochs", "1", "--checkpoint", str(ck), "--quiet")
    assert r.returncode == 0, r.stderr
    return ck, json.loads(r.stdout.strip().splitlines()[-1])


def test_train_publishes_model_metrics_and_curves(trained: tuple[Path, dict]) -> None:
    ck, summary = trained
    manifest = json.loads((ck / "latest.json").read_text())
    model = ck / manifest["file"]
    assert model.is_file() and manifest["model_id"] == summary["model_id"]
    metrics = json.loads((ck / f"model-{manifest['model_id']}.metrics.json").read_text())
    assert metrics["recipe"] == "seed" and metrics["train_images"] == 3000 and metrics["epochs"] == 1
    assert {"accuracy", "val_accuracy", "loss", "val_loss"} <= set(metrics["history"])
    assert 0.7 < metrics["test_accuracy"] <= 1.0 and metrics["train_seconds"] > 0
    with Image.open(ck / f"model-{manifest['model_id']}.curves.png") as img:
        assert img.format == "PNG" and img.width > 400
    assert not [p for p in ck.iterdir() if p.name.startswith(".")], "temporary files left behind"

    import keras

    loaded = keras.models.load_model(model, safe_mode=True)
    assert loaded.output_shape == (None, 10)


def test_evaluate_prints_json_last(trained: tuple[Path, dict], mnist_path: Path) -> None:
    ck, summary = trained
    r = cli("evaluate", "--model", str(ck / f"model-{summary['model_id']}.keras"), "--data", str(mnist_path))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["n"] >= 1000 and 0.7 < report["accuracy"] <= 1
    assert report["loss"] > 0 and len(report["confusion"]) == 10
    assert sum(map(sum, report["confusion"])) == report["n"]
    assert "accuracy" in r.stdout.splitlines()[1] and r.stdout.splitlines()[2].startswith("mnist")


def test_second_publish_moves_manifest(trained: tuple[Path, dict], mnist_path: Path) -> None:
    ck, first = trained
    r = cli(
        "train",
        "--data",
        str(mnist_path),
        "--limit",
        "500",
        "--epochs",
        "1",
        "--checkpoint",
        str(ck),
        "--quiet",
        "--seed",
        "3",
    )
    assert r.returncode == 0, r.stderr
    second = json.loads(r.stdout.strip().splitlines()[-1])
    assert second["model_id"] != first["model_id"]
    assert json.loads((ck / "latest.json").read_text())["model_id"] == second["model_id"]
    assert (ck / f"model-{first['model_id']}.keras").is_file()  # older models are kept


def test_members_are_averaged_into_one_servable_model(tmp_path: Path, mnist_path: Path) -> None:
    ck = tmp_path / "ck"
    r = cli(
        "train",
        "--data",
        str(mnist_path),
        "--limit",
        "1000",
        "--epochs",
        "1",
        "--checkpoint",
        str(ck),
        "--quiet",
        "--members",
        "2",
        "--seed",
        "4",
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert [m["seed"] for m in summary["members"]] == [4, 5]
    assert all(0.3 < m["test_accuracy"] <= 1 for m in summary["members"])

    import numpy as np
    from digitwatch.daemon.infer import Predictor, calibrated, canary
    from digitwatch.daemon.registry import current

    predictor = Predictor.load(current(ck))  # safe mode, shape and softmax checks, canary
    assert predictor.model_id == summary["model_id"]
    x, _ = canary()
    parts = [predictor._model.get_layer(f"member_{i}") for i in (0, 1)]
    expected = np.mean([p.predict(x[..., None], verbose=0) for p in parts], axis=0)
    assert np.allclose(predictor._model.predict(x[..., None], verbose=0), expected, atol=1e-5)  # one model
    served = predictor.predict(x)  # LiteRT, int8 weights, at the published temperature: the same answers
    expected = calibrated(expected, predictor.ref.temperature)  # probabilities within 0.05
    assert (served.argmax(1) == expected.argmax(1)).mean() >= 0.995 and np.abs(served - expected).max() < 0.05
    assert not np.allclose(parts[0].predict(x[..., None], verbose=0), expected, atol=1e-3)  # two different networks


def test_members_must_be_positive(tmp_path: Path, mnist_path: Path) -> None:
    r = cli("train", "--data", str(mnist_path), "--members", "0", "--checkpoint", str(tmp_path), "--quiet")
    assert r.returncode != 0 and "--members must be at least 1" in r.stderr
    assert r.stderr.strip().count("\n") == 0  # one clear line, no traceback


def test_robust_recipe_can_also_learn_from_pictures_read_as_served(tmp_path: Path, mnist_path: Path) -> None:
    ck = tmp_path / "ck"
    r = cli(
        "train",
        "--data",
        str(mnist_path),
        "--recipe",
        "robust",
        "--limit",
        "600",
        "--epochs",
        "1",
        "--rendered",
        "60",
        "--checkpoint",
        str(ck),
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout.strip().splitlines()[-1])
    assert metrics["rendered"] == 60 and metrics["pictures"]["drawn"] == 60
    assert "plus 60 training digits drawn as users' pictures" in metrics["recipe_summary"]
    pictures = metrics["pictures"]
    assert pictures["refused"] + pictures["misread"] <= 6  # few renders lose their digit
    assert pictures["teacher"] == file_id(bundled().path)  # the bundled model filters them by default
    assert metrics["train_images"] == 600 and 0.3 < metrics["test_accuracy"] <= 1.0


def test_robust_recipe_draws_no_pictures_unless_asked(tmp_path: Path, mnist_path: Path) -> None:
    """The bundled model's command (README) is the robust recipe as it is: no pictures, no teacher."""
    r = cli(
        "train",
        "--data",
        str(mnist_path),
        "--recipe",
        "robust",
        "--limit",
        "200",
        "--epochs",
        "1",
        "--checkpoint",
        str(tmp_path / "ck"),
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout.strip().splitlines()[-1])
    assert metrics["rendered"] == 0 and metrics["pictures"] == {} and "pictures" not in metrics["recipe_summary"]


def test_pictures_need_a_recipe_that_reads_them_as_served(tmp_path: Path, mnist_path: Path) -> None:
    r = cli(
        "train",
        "--data",
        str(mnist_path),
        "--limit",
        "100",
        "--epochs",
        "1",
        "--rendered",
        "10",
        "--checkpoint",
        str(tmp_path / "ck"),
        "--quiet",
    )
    assert r.returncode != 0 and "--rendered needs a recipe" in r.stderr and "Traceback" not in r.stderr


def test_pictures_a_teacher_misreads_are_left_out(trained: tuple[Path, dict], tmp_path: Path, mnist_path: Path) -> None:
    ck, _ = trained
    teacher = ck / json.loads((ck / "latest.json").read_text())["file"]  # one epoch of the seed recipe: a poor reader
    r = cli(
        "train",
        "--data",
        str(mnist_path),
        "--recipe",
        "robust",
        "--limit",
        "200",
        "--epochs",
        "1",
        "--rendered",
        "40",
        "--teacher",
        str(teacher),
        "--checkpoint",
        str(tmp_path / "ck"),
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    pictures = json.loads(r.stdout.strip().splitlines()[-1])["pictures"]
    assert pictures["teacher"] == file_id(teacher) and pictures["misread"] >= 4

    r = cli(
        "train",
        "--data",
        str(mnist_path),
        "--recipe",
        "robust",
        "--limit",
        "200",
        "--epochs",
        "1",
        "--rendered",
        "40",
        "--teacher",
        str(tmp_path / "nothing.keras"),
        "--checkpoint",
        str(tmp_path / "ck"),
    )
    assert r.returncode == 65 and r.stderr.strip().splitlines()[-1].endswith("nothing.keras: no such model file")


def test_fine_tune_on_real_writing_and_styles_publishes_a_calibrated_model(tmp_path: Path, mnist_path: Path) -> None:
    """--from fine-tunes the bundled ensemble's networks; --writers and --styles add real handwriting (the
    training parts only) and drawn styles; the temperature fitted on the calibration parts is published in
    the manifest, and the daemon serves the model at it."""
    from digitwatch.daemon.infer import Predictor
    from digitwatch.daemon.registry import latest

    ck = tmp_path / "ck"
    r = cli(
        "train",
        "--data",
        str(mnist_path),
        "--recipe",
        "robust",
        "--from",
        str(bundled().path),
        "--members",
        "2",
        "--limit",
        "300",
        "--epochs",
        "1",
        "--writers",
        "--styles",
        "40",
        "--checkpoint",
        str(ck),
        "--quiet",
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout.strip().splitlines()[-1])
    assert metrics["start"]["model_id"] == file_id(bundled().path)
    assert metrics["writers"]["uci"]["digits"] == 719  # the training part: the first 40% of 1,797
    assert metrics["styles"] == {"drawn": 40, "refused": 0}
    assert 0.5 <= metrics["temperature"] <= 4.0
    assert metrics["calibration"]["inputs"] >= 4 * 180  # the UCI calibration part at every size, at least
    assert metrics["held_out"]["uci"] > 0.9  # started from the bundled networks: still reads other writers
    ref = latest(ck)
    assert ref is not None and ref.temperature == metrics["temperature"]
    assert Predictor.load(ref).ref.temperature == metrics["temperature"]


def test_models_trained_apart_are_joined_into_one_servable_model(
    trained: tuple[Path, dict], tmp_path: Path, mnist_path: Path
) -> None:
    """Members trained one run at a time (hours each on these cores) are joined afterwards: every network
    of each model, averaged, scored, published, served through LiteRT; a missing model is one clear line."""
    import subprocess
    import sys

    ck, first = trained
    r = cli("train", "--data", str(mnist_path), "--limit", "500", "--epochs", "1", "--seed", "7", "--checkpoint",
            str(tmp_path / "other"), "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr
    second = json.loads(r.stdout.strip().splitlines()[-1])
    models = [ck / f"model-{first['model_id']}.keras", Path(second["model_path"])]
    join = [sys.executable, "-m", "digitwatch.training.join", "--data", str(mnist_path), "--checkpoint"]
    done = subprocess.run([*join, str(tmp_path / "joined"), *map(str, models)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    metrics = json.loads(Path(summary["model_path"]).with_suffix(".metrics.json").read_text())
    assert [j["model_id"] for j in metrics["joined"]] == [first["model_id"], second["model_id"]]
    assert [j["networks"] for j in metrics["joined"]] == [1, 1] and 0.5 < metrics["test_accuracy"] <= 1

    from digitwatch.daemon.infer import Predictor, canary
    from digitwatch.daemon.registry import current

    predictor = Predictor.load(current(tmp_path / "joined"))
    assert predictor.model_id == summary["model_id"] and predictor.runtime == "litert"
    assert [layer.name for layer in predictor._model.layers if layer.name.startswith("member_")] == [
        "member_0",
        "member_1",
    ]
    assert predictor.predict(canary()[0]).shape == (300, 10)
    missing = subprocess.run([*join, str(tmp_path / "x"), str(tmp_path / "none.keras")], capture_output=True, text=True)
    assert (
        missing.returncode == 65 and missing.stderr.strip() == f"digitwatch: no such model file: {tmp_path}/none.keras"
    )


def test_a_run_killed_mid_member_goes_on_where_it_stopped(tmp_path: Path, mnist_path: Path) -> None:
    """``--state``: kill -9 while the second member is fitted; the same command again takes the first
    member as it is, goes on after the second one's last epoch, publishes, and removes the state."""
    import os
    import signal
    import subprocess
    import sys
    import time

    state, ck = tmp_path / "state", tmp_path / "ck"
    args = [*("train", "--data", str(mnist_path), "--limit", "4000", "--epochs", "3", "--members", "2")]
    args += ["--seed", "3", "--checkpoint", str(ck), "--state", str(state), "--quiet"]
    run = subprocess.Popen([sys.executable, "-m", "digitwatch.daemon", *args], stderr=subprocess.PIPE, text=True)
    progress = state / "member-2" / "progress.json"
    deadline = time.monotonic() + 240
    while not (progress.is_file() and json.loads(progress.read_text())["epochs"]):
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before its second member's epoch"
        time.sleep(0.02)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    done = len(json.loads(progress.read_text())["epochs"])
    assert 1 <= done < 3 and (state / "member-1.keras").is_file() and not list(ck.glob("model-*.keras"))

    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert "member 1: finished by an earlier run" in r.stderr
    assert f"going on after epoch {done} of 3" in r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert [m["seed"] for m in summary["members"]] == [3, 4]
    assert all(len(h) == 3 for h in summary["member_histories"][0].values())  # the second member's 3 epochs
    assert (ck / f"model-{summary['model_id']}.keras").is_file() and not state.exists()


def test_a_state_folder_of_another_run_is_refused(tmp_path: Path, mnist_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "options.json").write_text(json.dumps({"epochs": 99}))
    r = cli("train", "--data", str(mnist_path), "--limit", "500", "--state", str(state), "--checkpoint", str(tmp_path))
    assert r.returncode == 65 and "holds another training run" in r.stderr, r.stderr
    assert json.loads((state / "options.json").read_text()) == {"epochs": 99}  # left as it was
