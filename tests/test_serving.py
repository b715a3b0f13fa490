"""The serving runtime and the model manifest: LiteRT answers as Keras does, the daemon starts without
TensorFlow, a manifest that names files outside its folder, the wrong hash or a huge file is refused
with its reason while the old model keeps serving, and the reload thread survives any failure."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Daemon, dark_on_light
from digitwatch.daemon import registry
from digitwatch.daemon.config import Config
from digitwatch.daemon.errors import ModelError
from digitwatch.daemon.infer import FIRST_SURE, Predictor
from digitwatch.daemon.preprocess import normalize
from digitwatch.daemon.registry import MANIFEST, MAX_MANIFEST_BYTES, MAX_MODEL_BYTES, ModelRef, bundled, file_id
from digitwatch.daemon.reload import ModelKeeper


class Recorder:
    """Stands in for the keeper's structlog logger: keeps (event, fields)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def _add(self, event: str, **kw: Any) -> None:
        self.events.append((event, kw))

    info = error = warning = _add

    def named(self, event: str) -> list[dict[str, Any]]:
        return [kw for e, kw in self.events if e == event]


@pytest.fixture(scope="module")
def served() -> Predictor:
    return Predictor.load(bundled(), canary_min_accuracy=0.98)


@pytest.fixture(scope="module")
def keras_predictor() -> Predictor:
    ref = bundled()
    return Predictor.load(ModelRef(ref.model_id, ref.path, "file"), canary_min_accuracy=0.98)


# Why 0.05: int8 weights move the bundled model's probabilities by up to ~0.02 on MNIST (docs/serving.md);
# 0.05 leaves room for another trained model while a broken conversion (wrong op, lost layer) moves them ~0.5.
QUANTISED_PROB_GAP = 0.05


def test_bundled_model_is_served_by_litert_and_answers_as_keras(
    served: Predictor, keras_predictor: Predictor, test_digits
) -> None:
    assert served.runtime == "litert" and keras_predictor.runtime == "keras"
    assert served.ref.converted is not None and served.ref.converted.stat().st_size < 3 << 20  # int8 weights
    x = test_digits[0].astype(np.float32) / 255.0  # 1,000 MNIST test digits, as the Predictor receives them
    lite, ker = served.predict(x), keras_predictor.predict(x)
    assert (lite.argmax(1) == ker.argmax(1)).all()
    assert float(np.abs(lite - ker).max()) < QUANTISED_PROB_GAP
    sure = Config.low_confidence  # the daemon's: the same digits are "ok", give or take one in a thousand
    assert abs(int((lite.max(1) >= sure).sum()) - int((ker.max(1) >= sure).sum())) <= 1
    pictures = np.stack([normalize(np.asarray(dark_on_light(d))) for d in test_digits[0][:64]])
    lite, ker = served.predict(pictures), keras_predictor.predict(pictures)
    assert (lite.argmax(1) == ker.argmax(1)).all() and float(np.abs(lite - ker).max()) < QUANTISED_PROB_GAP


def test_any_batch_size_gives_the_same_answers(served: Predictor, test_digits) -> None:
    x = test_digits[0][:300].astype(np.float32) / 255.0
    one_by_one = np.concatenate([served.predict(x[i : i + 1]) for i in range(len(x))])
    for n in (3, 17, 100, 257, 300):
        assert float(np.abs(served.predict(x[:n]) - one_by_one[:n]).max()) < 1e-5, n
    assert served.predict(x[:0]).shape == (0, 10)


def test_a_single_digit_takes_the_first_networks_answer_only_where_it_is_sure(served: Predictor, test_digits) -> None:
    """The cascade: rows that may take it get the first network's answer where it is FIRST_SURE, every
    other row (not allowed, or the first network unsure) the ensemble's, unchanged."""
    assert served.cascades
    x = test_digits[0].astype(np.float32) / 255.0
    whole = served.predict(x)
    quick = served.predict(x, quick=np.ones(len(x), bool))
    took_first = np.abs(quick - whole).max(axis=1) > 1e-6
    assert took_first.mean() > 0.2  # (the first network is sure of ~88% of MNIST; many agree to 1e-6 anyway)
    assert (quick[took_first].max(axis=1) >= FIRST_SURE).all()
    assert (quick.argmax(1) == whole.argmax(1)).all()  # (on MNIST test and the real sets: no answer changed)
    mixed = np.arange(len(x)) % 2 == 0  # half the rows not allowed: the ensemble's answer, as it is
    part = served.predict(x, quick=mixed)
    assert float(np.abs(part[~mixed] - whole[~mixed]).max()) < 1e-5
    assert float(np.abs(part[mixed] - quick[mixed]).max()) < 1e-5
    assert float(np.abs(served.predict(x, quick=np.zeros(len(x), bool)) - whole).max()) < 1e-5


def test_a_litert_file_given_by_hand_is_served_and_checked(tmp_path: Path) -> None:
    ref = bundled()
    assert ref.converted is not None
    p = Predictor.load(ModelRef("by-hand", ref.converted, "file"), canary_min_accuracy=0.98)
    assert p.runtime == "litert" and p.canary_accuracy >= 0.98
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(ref.converted.read_bytes()[:4096])
    with pytest.raises(ModelError, match="cannot load"):
        Predictor.load(ModelRef("broken", broken, "file"))


def _checkpoint_with_bundled(ck: Path, tag: bytes = b"", **manifest: Any) -> dict[str, Any]:
    """The bundled model published into ``ck`` as ``train`` would; ``manifest`` overrides fields.
    ``tag``, appended to the .keras (which the LiteRT path only hashes), gives it another model id."""
    ref = bundled()
    assert ref.converted is not None
    data = ref.path.read_bytes() + tag
    model_id = registry.bytes_id(data)
    ck.mkdir(parents=True, exist_ok=True)
    (ck / f"model-{model_id}.keras").write_bytes(data)
    shutil.copy(ref.converted, ck / f"model-{model_id}.tflite")
    fields = {
        "model_id": model_id,
        "file": f"model-{model_id}.keras",
        "litert_file": f"model-{model_id}.tflite",
        "litert_id": ref.converted_id,
        "keras_canary_accuracy": ref.keras_canary,
        **manifest,
    }
    (ck / MANIFEST).write_text(json.dumps({k: v for k, v in fields.items() if v is not None}))
    return fields


def _keeper(ck: Path) -> tuple[ModelKeeper, Recorder]:
    keeper = ModelKeeper(ck, canary_min_accuracy=0.9, poll_s=0.05, max_batch=16)
    keeper._log = recorder = Recorder()  # type: ignore[assignment]
    return keeper, recorder


def _other_model(folder: Path) -> Path:
    """A file with another model id than the bundled one's (its bytes and then some)."""
    path = folder / "other.keras"
    path.write_bytes(bundled().path.read_bytes() + b"other")
    return path


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink_out", "subfolder"])
def test_manifest_naming_a_file_outside_the_checkpoint_is_refused(tmp_path: Path, kind: str) -> None:
    ck = tmp_path / "ck"
    ck.mkdir()
    outside = _other_model(tmp_path)
    keeper, rec = _keeper(ck)
    keeper.load_initial()
    name = {
        "parent": "../other.keras",
        "absolute": str(outside),
        "symlink_out": "model-link.keras",
        "subfolder": "sub/other.keras",
    }[kind]
    if kind == "symlink_out":
        (ck / name).symlink_to(outside)
    if kind == "subfolder":
        (ck / "sub").mkdir()
        shutil.copy(outside, ck / "sub" / "other.keras")
    (ck / MANIFEST).write_text(json.dumps({"model_id": file_id(outside), "file": name}))
    keeper.check()
    (rejected,) = rec.named("model_rejected")
    assert rejected["model"] == file_id(outside)
    assert "plain name" in rejected["reason"] or "leads out" in rejected["reason"]
    assert keeper.current is not None and keeper.current.ref.source == "bundled"
    assert len(rec.named("model_loaded")) == 1
    assert keeper.reloads == {"loaded": 0, "rejected": 1}  # digitwatch_model_reloads_total


def test_manifest_with_a_wrong_model_id_or_a_huge_file_is_refused(tmp_path: Path) -> None:
    ck = tmp_path / "ck"
    _checkpoint_with_bundled(ck, model_id="0123456789abcdef")
    keeper, rec = _keeper(ck)
    keeper.load_initial()  # the published model is refused at start-up too: the bundled one serves
    assert keeper.current is not None and keeper.current.ref.source == "bundled"
    (rejected,) = rec.named("model_rejected")
    assert "hashes to" in rejected["reason"] and "0123456789abcdef" in rejected["reason"]

    huge = ck / "model-huge.keras"
    with open(huge, "wb") as fh:  # sparse: no disk used, but its size is over the cap
        fh.truncate(MAX_MODEL_BYTES + 1)
    (ck / MANIFEST).write_text(json.dumps({"model_id": "feedfacefeedface", "file": huge.name}))
    keeper.check()
    assert "cap" in rec.named("model_rejected")[-1]["reason"]

    fields = _checkpoint_with_bundled(ck, b"1")  # a LiteRT file that is not the one the manifest hashed
    (ck / fields["litert_file"]).write_bytes((ck / fields["litert_file"]).read_bytes()[:-8] + b"\0" * 8)
    keeper.check()
    assert "hashes to" in rec.named("model_rejected")[-1]["reason"]
    assert keeper.current.ref.source == "bundled"

    _checkpoint_with_bundled(ck, b"2")  # and a correct one is served
    keeper.check()
    assert keeper.current.ref.source == "checkpoint" and keeper.current.runtime == "litert"


def test_a_manifest_that_is_a_fifo_or_huge_is_refused_without_blocking(tmp_path: Path) -> None:
    ck = tmp_path / "ck"
    ck.mkdir()
    keeper, rec = _keeper(ck)
    keeper.load_initial()
    os.mkfifo(ck / MANIFEST)  # reading it would wait for a writer forever
    check = threading.Thread(target=keeper.check, daemon=True)
    check.start()
    check.join(10)
    assert not check.is_alive(), "the keeper blocked on a FIFO named latest.json"
    assert "not a regular file" in rec.named("model_rejected")[-1]["reason"]
    (ck / MANIFEST).unlink()
    with open(ck / MANIFEST, "wb") as fh:
        fh.truncate(MAX_MANIFEST_BYTES + 1)
    keeper.check()
    assert len(rec.named("model_rejected")) == 2
    assert keeper.current is not None and keeper.current.ref.source == "bundled"


def test_converted_model_must_score_as_keras_did(tmp_path: Path) -> None:
    ck = tmp_path / "ck"
    _checkpoint_with_bundled(ck, keras_canary_accuracy=0.5)  # a conversion that would have lost half the digits
    with pytest.raises(ModelError, match="conversion changed"):
        Predictor.load(registry.current(ck))


def test_a_keras_only_checkpoint_is_served_by_keras(tmp_path: Path) -> None:
    ck = tmp_path / "ck"
    _checkpoint_with_bundled(ck, litert_file=None, litert_id=None, keras_canary_accuracy=None)
    p = Predictor.load(registry.current(ck), canary_min_accuracy=0.98)
    assert p.runtime == "keras" and p.ref.source == "checkpoint"


def test_any_exception_in_a_load_is_a_rejection_and_the_thread_lives_on(tmp_path: Path, monkeypatch) -> None:
    ck = tmp_path / "ck"
    keeper, rec = _keeper(ck)
    keeper.load_initial()
    real_load = Predictor.load

    def flaky(ref: ModelRef, canary_min_accuracy: float = 0.0) -> Predictor:
        if ref.source == "checkpoint":
            raise RuntimeError("a bug, not a bad model")
        return real_load(ref, canary_min_accuracy)

    monkeypatch.setattr(Predictor, "load", staticmethod(flaky))
    stop = threading.Event()
    thread = keeper.start(stop)
    try:
        _checkpoint_with_bundled(ck, b"1")
        keeper.trigger()
        deadline = time.monotonic() + 10
        while not rec.named("model_rejected") and time.monotonic() < deadline:
            time.sleep(0.02)
        (rejected,) = rec.named("model_rejected")
        assert rejected["reason"] == "RuntimeError: a bug, not a bad model"
        assert thread.is_alive() and keeper.alive()
        assert keeper.current is not None and keeper.current.ref.source == "bundled"
    finally:
        stop.set()
        keeper.trigger()
        thread.join(10)


def test_a_dead_reload_thread_is_noticed_and_restarted(tmp_path: Path, monkeypatch) -> None:
    keeper, rec = _keeper(tmp_path / "ck")
    keeper.load_initial()

    class Fatal(BaseException):
        pass

    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise Fatal  # escapes run()'s net: the thread dies
        time.sleep(0.01)

    monkeypatch.setattr(keeper, "check", check)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # the dying thread's traceback
    stop = threading.Event()
    keeper.start(stop).join(10)
    assert not keeper.alive()
    assert keeper.supervise(stop) and keeper.alive()
    assert rec.named("model_thread_died") == [{"restarts": 1}]
    assert not keeper.supervise(stop)  # alive: nothing to do
    stop.set()
    keeper.trigger()


def test_daemon_starts_without_tensorflow_and_keeps_serving_past_a_bad_manifest(
    daemon_factory, test_digits, tmp_path: Path
) -> None:
    x, _ = test_digits
    d: Daemon = daemon_factory("--model-poll-s", "0.2").start()
    ready = d.wait_event("ready")
    loaded = d.wait_event("model_loaded")
    assert loaded["runtime"] == "litert" and loaded["tensorflow_loaded"] is False
    assert d.proc is not None
    maps = Path(f"/proc/{d.proc.pid}/maps").read_text()
    assert "site-packages/tensorflow/" not in maps, "TensorFlow's libraries are mapped into the daemon"
    assert ready["startup_s"] < 10  # loose: the goal is 3 s on a quiet machine; CI machines are busy

    outside = _other_model(tmp_path)
    d.checkpoint.mkdir(exist_ok=True)
    (d.checkpoint / MANIFEST).write_text(json.dumps({"model_id": file_id(outside), "file": "../other.keras"}))
    rejected = d.wait_event("model_rejected", timeout=30)
    assert rejected["model"] == file_id(outside) and "plain name" in rejected["reason"]
    dark_on_light(x[0]).save(d.inbox / "after.png")
    (row,) = d.wait_rows(1)
    assert row["model"] == loaded["model"] and row["status"] != "error"
    assert d.stop() == 0


def _tiny_model(path: Path) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    model.save(path)
    return model


def test_publish_converts_and_records_what_the_daemon_checks(tmp_path: Path) -> None:
    from digitwatch.training.publish import SERVED_VARIANT, publish

    model = _tiny_model(tmp_path / "m.keras")
    history = {k: [0.5] for k in ("accuracy", "val_accuracy", "loss", "val_loss")}
    x = np.random.default_rng(0).random((50, 28, 28), dtype=np.float32)
    expected = np.asarray(model(x[..., None], training=False))
    for variant, gap in ((SERVED_VARIANT, QUANTISED_PROB_GAP), ("float32", 1e-4)):
        ck = tmp_path / variant
        published = publish(tmp_path / "m.keras", {"recipe": "test", "history": history}, ck, variant=variant)
        manifest = json.loads((ck / MANIFEST).read_text())
        assert manifest["litert_file"] == f"model-{published.model_id}.tflite"
        assert manifest["litert_id"] == file_id(ck / manifest["litert_file"])
        assert manifest["litert_variant"] == variant
        assert 0.0 <= manifest["keras_canary_accuracy"] <= 1.0
        metrics = json.loads((ck / f"model-{published.model_id}.metrics.json").read_text())
        assert metrics["litert_canary_agreement"] >= 0.995 and metrics["litert_max_abs_diff"] < gap
        assert not [p for p in ck.iterdir() if p.name.startswith(".")], "temporary files left behind"
        served = Predictor.load(registry.current(ck))
        assert served.runtime == "litert" and served.model_id == published.model_id
        assert float(np.abs(served.predict(x) - expected).max()) < gap, variant
    assert (tmp_path / "float32" / manifest["litert_file"]).stat().st_size > 3 * (
        tmp_path / SERVED_VARIANT / manifest["litert_file"]
    ).stat().st_size  # int8 weights: a quarter of the bytes


def test_an_ensemble_is_published_with_a_cascade(tmp_path: Path) -> None:
    """An ensemble's LiteRT file holds its first network as a signature of its own: a single digit it is
    sure of is answered by it alone, and the ensemble's answers are those of Keras."""
    import keras
    from digitwatch.training.ensemble import average
    from digitwatch.training.publish import publish

    sure, unsure = _tiny_model(tmp_path / "a.keras"), _tiny_model(tmp_path / "b.keras")
    weights, bias = sure.layers[-1].get_weights()
    sure.layers[-1].set_weights([weights * 0, bias + np.eye(10, dtype=np.float32)[3] * 30])  # always a sure 3
    model = average([sure, unsure])
    model.save(tmp_path / "ensemble.keras")
    history = {k: [0.5] for k in ("accuracy", "val_accuracy", "loss", "val_loss")}
    published = publish(tmp_path / "ensemble.keras", {"recipe": "test", "history": history}, tmp_path / "ck")
    served = Predictor.load(registry.current(tmp_path / "ck"))
    assert served.runtime == "litert" and served.model_id == published.model_id and served.cascades
    x = np.random.default_rng(1).random((40, 28, 28), dtype=np.float32)
    expected = np.asarray(model(x[..., None], training=False))
    assert float(np.abs(served.predict(x) - expected).max()) < QUANTISED_PROB_GAP
    first = served.predict(x, quick=np.ones(len(x), bool))
    assert (first.argmax(1) == 3).all() and (first[:, 3] > 0.9999).all()  # the sure network's, alone
    assert (expected[:, 3] < 0.9).all()  # (the ensemble's would be less sure: the answers above are not its)
    single = Predictor.load(ModelRef("one", tmp_path / "a.keras", "file"))  # one network: nothing to cascade
    assert not single.cascades
    assert isinstance(keras.models.load_model(tmp_path / "ensemble.keras"), keras.Model)


def test_a_conversion_that_changes_answers_is_not_published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The canary guard: a converted model that answers otherwise than Keras on 2 of the 300 canary digits
    (each still right or wrong as before, so accuracy alone could miss it) is refused; Keras serves."""
    from digitwatch.training import publish as pub

    _tiny_model(tmp_path / "m.keras")
    real_export = pub._export

    def two_answers_moved(model: Any, variant: str, model_file: Path, representative: Any = None) -> Any:
        content, probs = real_export(model, variant, model_file, representative)
        probs = probs.copy()
        probs[:2] = np.roll(probs[:2], 1, axis=1)
        return content, probs

    monkeypatch.setattr(pub, "_export", two_answers_moved)
    with pytest.raises(pub.ConversionError, match=r"answers as Keras on 99\.3%"):
        pub.convert(tmp_path / "m.keras", "float32")  # float32: no other answer moves than the two
    history = {k: [0.5] for k in ("accuracy", "val_accuracy", "loss", "val_loss")}
    pub.publish(tmp_path / "m.keras", {"recipe": "test", "history": history}, tmp_path / "ck", variant="float32")
    assert "litert_file" not in json.loads((tmp_path / "ck" / MANIFEST).read_text())
    assert Predictor.load(registry.current(tmp_path / "ck")).runtime == "keras"


def test_a_rejected_model_is_tried_again_when_its_manifest_is_rewritten(tmp_path: Path) -> None:
    """Published by hand with its LiteRT file not yet copied: rejected, and not retried every poll; once
    the file is there and the manifest is put in place again (a new publish, ``models pin``), it serves."""
    ck = tmp_path / "ck"
    keeper, rec = _keeper(ck)
    keeper.load_initial()
    stop = threading.Event()
    thread = keeper.start(stop)
    try:
        fields = _checkpoint_with_bundled(ck, b"late")
        lite = ck / fields["litert_file"]
        held = lite.read_bytes()
        lite.unlink()
        keeper.trigger()
        deadline = time.monotonic() + 10
        while not rec.named("model_rejected") and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # six more polls of an unchanged manifest: no second attempt
        assert len(rec.named("model_rejected")) == 1 and keeper.current is not None
        assert keeper.current.ref.source == "bundled"
        lite.write_bytes(held)
        manifest = (ck / MANIFEST).read_text()
        (ck / "new.json").write_text(manifest)
        os.replace(ck / "new.json", ck / MANIFEST)  # the same manifest, renamed in anew
        deadline = time.monotonic() + 10
        while keeper.current.model_id != fields["model_id"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert keeper.current.model_id == fields["model_id"] and len(rec.named("model_rejected")) == 1
    finally:
        stop.set()
        keeper.trigger()
        thread.join(10)
