"""``digitwatch train``: fit a recipe on MNIST (one network, or several averaged), evaluate on the test
split, publish atomically."""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from digitwatch.daemon.errors import DataError
from digitwatch.daemon.infer import quiet_native_stderr
from digitwatch.daemon.registry import file_id

from . import data as mnist_data
from . import own
from .ensemble import load_predict, networks, predict_fn
from .evaluate import scores
from .extra import calibration_fit, styles_part, writers_part
from .inputs import prepare
from .recipes import RECIPES, Recipe, augmenter, finetune
from .rendered import training_pictures
from .resume import Progress, RunState
from .strokes import restroke_some

VALIDATION = 5000  # the seed holds out the first 5,000 training images
PICTURES = ", plus {} training digits drawn as users' pictures (photos, scans, pen drawings...) and read back as served"


@dataclass(frozen=True)
class TrainOptions:
    data: str | None
    checkpoint: Path
    recipe: str = "seed"
    epochs: int | None = None
    batch_size: int | None = None
    limit: int | None = None
    seed: int = 0
    verbose: int = 2
    members: int | None = None  # networks trained (seeds seed, seed+1, ...) and averaged into one model
    teacher: Path | None = None  # model whose misreads of the rendered pictures are left out (None: keep all)
    rendered: int = (
        0  # training digits drawn as users' pictures and read back, shared by all members (training/rendered.py)
    )
    writers: bool = False  # add the training parts of the real handwriting sets (training/writers.py)
    styles: int = 0  # pictures of handwriting styles MNIST lacks, drawn and read back (training/styles.py)
    start: Path | None = None  # fine-tune this model's networks (an ensemble's members) instead of new ones
    base: str | None = None  # MNIST to rehearse and guard with when ``data`` is a folder of a site's pictures
    force: bool = False  # publish even when the guard refuses (recorded in the metrics)
    state: Path | None = None  # keep the run's progress here each epoch; the same command again goes on (resume.py)


def _resolved(opts: TrainOptions) -> tuple[TrainOptions, Path | None]:
    """With ``data`` a folder of a site's pictures: MNIST from ``base``, a rehearsal-sized ``limit`` and a
    fine-tune's epochs unless given, the robust recipe's inputs. Returns the options and that folder."""
    folder = Path(opts.data) if opts.data and own.is_labelled_folder(Path(opts.data)) else None
    if folder is None:
        return opts, None
    if not RECIPES[opts.recipe].normalize:
        raise DataError(f"--data {folder}: a site's pictures need --recipe robust (read as served), not {opts.recipe}")
    return replace(
        opts,
        data=opts.base,
        limit=opts.limit or own.REHEARSAL,
        epochs=opts.epochs or (own.FINETUNE_EPOCHS if opts.start else None),
    ), folder


def train(opts: TrainOptions) -> dict[str, Any]:
    """Train, evaluate and publish. Returns the metrics dict (also written next to the model)."""
    opts, own_folder = _resolved(opts)
    recipe = RECIPES[opts.recipe]
    epochs = opts.epochs or recipe.epochs
    batch_size = opts.batch_size or recipe.batch_size
    _check(opts, recipe, epochs, batch_size)
    ds = mnist_data.load(opts.data)
    x_tr, y_tr, x_val, y_val = _split(ds, opts.limit)
    n_val = len(x_val)

    _log(f"preparing {len(x_tr)} training, {n_val} validation, {len(ds.x_test)} test images ({recipe.name} recipe)")
    x_val, x_test = (prepare(x, recipe.normalize) for x in (x_val, ds.x_test))

    with quiet_native_stderr():
        import tensorflow  # noqa: F401  (loaded here so its C++ start-up notices stay off stderr)

    from .ensemble import average

    x_pic, y_pic, pictures = _pictures(x_tr, y_tr, opts)
    x_more, y_more, more = _more(opts)
    x_pic, y_pic = np.concatenate([x_pic, x_more[..., None]]), np.concatenate([y_pic, y_more]).astype(y_tr.dtype)
    site = own.load(own_folder, len(x_tr), opts.seed) if own_folder else None
    if site is not None:
        n, repeat = site.record["train"], site.record["repeat"]
        _log(f"{n} of the site's pictures to learn ({repeat}x an epoch), {len(site.y_held)} held out")
        x_pic, y_pic = np.concatenate([x_pic, site.x]), np.concatenate([y_pic, site.y.astype(y_pic.dtype)])
        more["own"] = site.record
    starts = _start_members(opts.start)
    opts = replace(opts, members=opts.members or len(starts) or 1)

    y_test = ds.y_test.astype(np.int64)
    state = _state(opts, epochs, batch_size)
    started = time.monotonic()
    members, runs = _fit_members(
        opts, recipe, starts, (x_tr, y_tr, x_pic, y_pic, x_val, y_val), (x_test, y_test), (epochs, batch_size), state
    )
    seconds = time.monotonic() - started

    with tempfile.TemporaryDirectory(prefix="digitwatch-train-") as tmp:
        model = average(members)
        lean = os.path.join(tmp, "model.keras")
        model.save(lean)
        test_acc, test_loss = _accuracy(model, x_test, y_test)
        if site is not None and opts.start is not None:
            more["guard"] = own.guard(
                load_predict(opts.start),
                predict_fn(model),
                {"mnist": (x_test, y_test), "own": (site.x_held, site.y_held)},
                force=opts.force,
            )
            more["own"]["held_out_accuracy"] = more["guard"]["own"]["after"]
            _log(f"guard: {more['guard']}")
        metrics = {
            "recipe": recipe.name,
            "recipe_summary": recipe.summary + (PICTURES.format(opts.rendered) if opts.rendered else ""),
            "data": ds.source,
            "train_images": int(len(x_tr)),
            "validation_images": int(n_val),
            "test_images": int(len(x_test)),
            "epochs": epochs,
            "batch_size": batch_size,
            "seed": opts.seed,
            "inputs": "normalize" if recipe.normalize else "scale",
            "restroke": recipe.restroke,
            "rendered": opts.rendered,
            "history": runs[0]["history"],
            "best_epoch": runs[0]["best_epoch"],
            "pictures": pictures,
            **more,
            **_calibration(model, (site.x_held, site.y_held) if site else None),
            "test_accuracy": float(test_acc),
            "test_loss": float(test_loss),
            "train_seconds": round(seconds, 1),
            "parameters": int(model.count_params()),
        }
        if len(members) > 1:
            metrics["members"] = [{k: v for k, v in r.items() if k != "history"} for r in runs]
            metrics["member_histories"] = [r["history"] for r in runs[1:]]
        _log(f"test accuracy {test_acc:.4%}, loss {test_loss:.4f}, {seconds:.0f} s training")
        from .publish import publish

        published = publish(Path(lean), metrics, Path(opts.checkpoint))
    if state is not None:
        state.clear()
    metrics.update(model_id=published.model_id, model_path=str(published.model_path))
    _log(f"published model {published.model_id} to {published.model_path}")
    return metrics


def _fit_members(
    opts: TrainOptions,
    recipe: Recipe,
    starts: list[Any],
    data: tuple[np.ndarray, ...],
    test: tuple[np.ndarray, np.ndarray],
    schedule: tuple[int, int],
    state: RunState | None,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Fit ``opts.members`` networks (new ones, or the ``starts`` fine-tuned) on MNIST plus the extra inputs;
    with a ``state``, members an earlier run finished are taken as they are."""
    x_tr, y_tr, x_pic, y_pic, x_val, y_val = data
    epochs, batch_size = schedule
    members, runs = [], []
    for k in range(opts.members or 1):
        seed = opts.seed + k
        if len(starts) > 1 or (opts.members or 1) > 1:
            _log(f"member {k + 1} of {opts.members} (seed {seed})")
        finished = state.finished(k) if state is not None else None
        if finished is not None:
            _log(f"member {k + 1}: finished by an earlier run, taken as it is")
            members.append(finished[0])
            runs.append(finished[1])
            continue
        x_member = restroke_some(x_tr, recipe.restroke, seed) if recipe.restroke else x_tr
        x_in = np.concatenate([prepare(x_member, recipe.normalize), x_pic])
        build = functools.partial(finetune, starts[k % len(starts)]) if starts else recipe.build
        progress = Progress(state.member_dir(k)) if state is not None else None
        member, run = _fit_one(
            recipe,
            build,
            x_in,
            np.concatenate([y_tr, y_pic]),
            (x_val, y_val),
            seed,
            (epochs, batch_size),
            progress,
            opts.verbose,
        )
        if (opts.members or 1) > 1:
            run["test_accuracy"] = _accuracy(member, *test)[0]
        if state is not None:
            state.finish(k, member, run)
        members.append(member)
        runs.append(run)
    return members, runs


def _state(opts: TrainOptions, epochs: int, batch_size: int) -> RunState | None:
    """The run's state folder (``--state``), refused when it holds another command's run."""
    if opts.state is None:
        return None
    what = {k: v for k, v in asdict(opts).items() if k not in ("verbose", "state", "checkpoint", "force")}
    return RunState(opts.state, {**what, "epochs": epochs, "batch_size": batch_size})


def _check(opts: TrainOptions, recipe: Recipe, epochs: int, batch_size: int) -> None:
    """Refuse options that cannot train, before any data is read."""
    if epochs < 1 or batch_size < 1:
        raise DataError("--epochs and --batch-size must be at least 1")
    if opts.members is not None and opts.members < 1:
        raise DataError("--members must be at least 1")
    if opts.rendered < 0:
        raise DataError("--rendered must be 0 or more")
    if opts.rendered and not recipe.normalize:
        raise DataError(
            f"--rendered needs a recipe whose inputs pass through the serving preprocessor, not {recipe.name}"
        )


def _split(ds: mnist_data.Mnist, limit: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_validation, y_validation): the first images held out, as the seed does."""
    n_val = min(VALIDATION, len(ds.x_train) // 12)
    x_val, y_val = ds.x_train[:n_val], ds.y_train[:n_val]
    x_tr, y_tr = ds.x_train[n_val:], ds.y_train[n_val:]
    if limit is not None:
        if limit < 1:
            raise DataError("--limit must be at least 1")
        x_tr, y_tr = x_tr[:limit], y_tr[:limit]
    if n_val < 1 or len(x_tr) < 1:
        raise DataError(f"{ds.source}: too few training images ({len(ds.x_train)})")
    return x_tr, y_tr, x_val, y_val


def _fit_one(
    recipe: Any,
    build: Callable[[int, int], Any],
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray],
    seed: int,
    schedule: tuple[int, int],
    progress: Progress | None,
    verbose: int = 2,
) -> tuple[Any, dict[str, Any]]:
    """Fit one network; return its best epoch (by validation accuracy, no optimizer state) and a run record.
    With ``progress``, each epoch is kept there and the fit goes on after the last one kept."""
    import keras
    import tensorflow as tf

    x_val, y_val = validation
    epochs, batch_size = schedule

    keras.utils.set_random_seed(seed)
    steps = -(-len(x_tr) // batch_size)
    model = build(steps, epochs)
    one_hot = lambda y: keras.utils.to_categorical(y, 10)  # noqa: E731
    train_set = (
        tf.data.Dataset.from_tensor_slices((x_tr, one_hot(y_tr)))
        .shuffle(len(x_tr), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    if recipe.augment:
        aug = augmenter(seed)
        train_set = train_set.map(lambda x, y: (aug(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    train_set = train_set.prefetch(tf.data.AUTOTUNE)
    with tempfile.TemporaryDirectory(prefix="digitwatch-train-") as tmp:
        kept = progress or Progress(Path(tmp), resumable=False)
        if kept.done:
            _log(f"going on after epoch {kept.done} of {epochs} ({kept.folder})")
            model = kept.resumed()
        if kept.done < epochs:
            model.fit(
                train_set,
                epochs=epochs,
                initial_epoch=kept.done,
                validation_data=(x_val, one_hot(y_val)),
                shuffle=False,  # train_set reshuffles itself each epoch; Keras would warn that it ignores True
                callbacks=[kept.callback()],
                verbose=verbose,
            )
        # The published model is the best checkpoint without optimizer state: a third of the size.
        model = keras.models.load_model(kept.best_path, safe_mode=True, compile=False)
    h, seconds = kept.history(), kept.seconds
    run = {
        "seed": seed,
        "history": h,
        "best_epoch": int(np.argmax(h["val_accuracy"])) + 1,
        "train_seconds": round(seconds, 1),
    }
    return model, run


def _pictures(x: np.ndarray, y: np.ndarray, opts: TrainOptions) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The rendered training pictures as network inputs (M, 28, 28, 1), labels, and their counts.

    One set serves every member: drawing 20,000 pictures costs about as much CPU as fitting a member on them.
    """
    n = opts.rendered
    if not n:
        return np.zeros((0, 28, 28, 1), np.float32), y[:0], {}
    teacher = _teacher(opts.teacher)
    _log(
        f"drawing {min(n, len(x))} training digits as users' pictures and reading them back"
        + (f"; those {opts.teacher} misreads are left out" if teacher else "")
    )
    started = time.monotonic()
    x_pic, y_pic, counts = training_pictures(x, y, n, opts.seed, teacher)
    pictures: dict[str, Any] = {
        **counts,
        "teacher": file_id(opts.teacher) if opts.teacher else None,
        "seconds": round(time.monotonic() - started, 1),
    }
    _log(f"{len(x_pic)} pictures added ({counts['refused']} refused as blank, {counts['misread']} misread)")
    return x_pic[..., None], y_pic, pictures


def _more(opts: TrainOptions) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Real handwriting (training parts) and drawn styles as served inputs, with their record for the metrics."""
    xs, ys, record = [np.zeros((0, 28, 28), np.float32)], [np.zeros(0, np.int64)], {}
    if opts.writers:
        x, y, record["writers"] = writers_part()
        _log(f"{len(y)} inputs of real handwriting by other writers (training parts, repeated)")
        xs.append(x)
        ys.append(y)
    if opts.styles:
        x, y, record["styles"] = styles_part(opts.styles, opts.seed)
        _log(f"{len(y)} pictures of handwriting styles drawn and read back")
        xs.append(x)
        ys.append(y)
    if opts.start:
        record["start"] = {"model": str(opts.start), "model_id": file_id(opts.start)}
    return np.concatenate(xs), np.concatenate(ys), record


def _calibration(model: Any, site: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """The temperature fitted on a site's held-out pictures, else on the real sets' calibration parts (1.0 when
    there are neither), and held-out figures - what the daemon will serve (publish puts it in the manifest)."""
    fitted = calibration_fit(predict_fn(model), site=site)
    if fitted.get("temperature", 1.0) != 1.0:
        _log(f"confidence temperature {fitted['temperature']:g}")
    return fitted


def _start_members(path: Path | None) -> list[Any]:
    """The networks of the model at ``path`` (each member of an ensemble, or the one network)."""
    if path is None:
        return []
    if not path.is_file():
        raise DataError(f"--from {path}: no such model file")
    return networks(path)


def _teacher(path: Path | None) -> Callable[[np.ndarray], np.ndarray] | None:
    if path is None:
        return None
    if not path.is_file():
        raise DataError(f"--teacher {path}: no such model file")
    return load_predict(path)


def _accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on ``x`` with integer labels ``y``."""
    return scores(predict_fn(model)(x), y)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def dump(metrics: dict[str, Any]) -> str:
    return json.dumps(metrics, sort_keys=True)
