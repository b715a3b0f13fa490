"""``digitwatch models``: list the published models, pin one or roll back - and the running daemon follows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import Daemon, cli, dark_on_light


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, mnist_path: Path) -> tuple[Path, list[dict]]:
    """Two models published by the real training command into ``root/checkpoints``, oldest first, each with
    the manifest publish wrote for it. (3,000 digits: a network trained on 300 may answer near ties
    otherwise once converted, and is then published without its LiteRT file.)"""
    root = tmp_path_factory.mktemp("models")
    ck = root / "checkpoints"
    manifests = []
    for seed in (0, 1):
        r = cli("train", "--data", str(mnist_path), "--limit", "3000", "--epochs", "1", "--seed", str(seed),
                "--checkpoint", str(ck), "--quiet")  # fmt: skip
        assert r.returncode == 0, r.stderr
        manifests.append(json.loads((ck / "latest.json").read_text()))
    assert manifests[0]["model_id"] != manifests[1]["model_id"]
    (root / "config.yaml").write_text("checkpoint: checkpoints\n")
    return root, manifests


def models(root: Path, *args: str) -> tuple[int, str, str]:
    r = cli("models", *args, "--config", str(root / "config.yaml"))
    return r.returncode, r.stdout, r.stderr


def copy_of(published: tuple[Path, list[dict]], tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(published[0], root, ignore=shutil.ignore_patterns("inbox", "outbox", "archive", "failed", ".*"))
    return root


def without_pin(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k != "pinned_at"}


def test_list_shows_each_model_and_marks_the_served_one(published: tuple[Path, list[dict]], tmp_path: Path) -> None:
    root = copy_of(published, tmp_path)
    first, second = published[1]
    code, out, err = models(root, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [m["id"] for m in report["models"]] == [first["model_id"], second["model_id"]]  # oldest first
    assert [m["served"] for m in report["models"]] == [False, True] and report["served"] == second["model_id"]
    for m, manifest in zip(report["models"], (first, second)):
        assert m["published_at"] == manifest["published_at"] and m["test_accuracy"] == manifest["test_accuracy"]
        assert m["recipe"] == "seed" and m["train_images"] == 3000 and m["litert"] == ("litert_file" in manifest)
    code, out, _ = models(root)  # "list" is the default
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:2] == ["id", "published_at"]
    assert lines[1].startswith(f"  {first['model_id']}") and lines[2].startswith(f"* {second['model_id']}")
    assert f"{first['test_accuracy']:.2%}" in lines[1]

    (root / "checkpoints" / "latest.json").unlink()
    code, out, _ = models(root, "list")
    assert code == 0 and "served: the bundled model" in out and "* " not in out


def test_rollback_and_pin_switch_the_running_daemons_rows(
    published: tuple[Path, list[dict]], tmp_path: Path, test_digits: tuple[np.ndarray, np.ndarray]
) -> None:
    root = copy_of(published, tmp_path)
    first, second = published[1]
    x, _ = test_digits
    d = Daemon(root, "--canary-min-accuracy", "0.2", "--model-poll-s", "0.2").start()
    assert d.wait_event("model_loaded")["model"] == second["model_id"]

    def rows_after(tag: str, n: int) -> set[str]:
        for i in range(3):
            dark_on_light(x[i]).save(d.inbox / f"{tag}-{i}.png")
        return {r["model"] for r in d.wait_rows(n) if r["file"].startswith(tag)}

    assert rows_after("before", 3) == {second["model_id"]}
    code, out, err = models(root, "rollback")
    assert code == 0, err
    assert out.startswith(f"rolled back: {second['model_id']} -> {first['model_id']}")
    manifest = json.loads((root / "checkpoints" / "latest.json").read_text())
    assert without_pin(manifest) == first and manifest["pinned_at"]  # what publish wrote, field for field
    assert d.wait_event("model_loaded", count=2)["model"] == first["model_id"]
    assert rows_after("rolled", 6) == {first["model_id"]}

    code, out, err = models(root, "pin", second["model_id"][:6], "--json")  # a unique prefix will do
    assert code == 0, err
    assert json.loads(out)["served"] == second["model_id"] and json.loads(out)["previous"] == first["model_id"]
    assert without_pin(json.loads((root / "checkpoints" / "latest.json").read_text())) == second
    assert d.wait_event("model_loaded", count=3)["model"] == second["model_id"]
    assert rows_after("pinned", 9) == {second["model_id"]}
    assert not d.events("model_rejected")
    assert d.stop() == 0


def test_pin_refuses_unknown_missing_or_changed_models(published: tuple[Path, list[dict]], tmp_path: Path) -> None:
    root = copy_of(published, tmp_path)
    first, second = published[1]
    ck = root / "checkpoints"
    manifest = (ck / "latest.json").read_bytes()
    code, _, err = models(root, "pin", "0123456789abcdef")
    assert code == 66 and "no published model '0123456789abcdef'" in err and err.count("\n") == 1
    with open(ck / f"model-{first['model_id']}.keras", "ab") as fh:
        fh.write(b"\0")  # changed since it was published
    code, _, err = models(root, "pin", first["model_id"])
    assert code == 70 and "hashes to" in err and first["model_id"] in err
    assert models(root, "rollback")[0] == 70
    assert "litert_file" in second, "converted at publish (3,000 training digits)"
    (ck / second["litert_file"]).unlink()
    code, _, err = models(root, "pin", second["model_id"])
    assert code == 70 and "not found" in err
    assert (ck / "latest.json").read_bytes() == manifest  # untouched by every refusal
    assert not [p for p in ck.iterdir() if p.name.startswith(".")]
    for args in (["pin"], ["rollback", first["model_id"]], ["list", "x"]):
        code, _, err = models(root, *args)
        assert code == 2 and "usage:" in err


def test_nothing_to_roll_back_to(published: tuple[Path, list[dict]], tmp_path: Path) -> None:
    root = copy_of(published, tmp_path)
    first, _ = published[1]
    assert models(root, "pin", first["model_id"])[0] == 0
    code, _, err = models(root, "rollback")
    assert code == 65 and "oldest published model" in err
    (root / "checkpoints" / "latest.json").unlink()
    code, _, err = models(root, "rollback")
    assert code == 65 and "the bundled model is served" in err
    code, _, err = models(root, "list", "--checkpoint", str(tmp_path / "none"))
    assert code == 66 and "does not exist" in err


def test_the_manifest_fields_are_publishes() -> None:
    from digitwatch.daemon.models_cmd import CONVERSION_FIELDS
    from digitwatch.training.publish import MANIFEST_FIELDS

    assert CONVERSION_FIELDS == MANIFEST_FIELDS
