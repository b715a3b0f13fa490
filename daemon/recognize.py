"""Files -> result rows: read and decode in parallel, normalise, run the network once per batch.

Shared by ``digitwatch predict`` and the daemon's worker. Problems with one
image never raise: they become an ``error`` row.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import segment_check
from .config import Config
from .decode import DEFAULT_MEMORY, FRAME_COUNT_CAP, Decoded, decode
from .errors import ImageError
from .infer import Predictor
from .numbers import Reading, read_number
from .preprocess import FINE_WORK_MAX, WORK_MAX, FaintInkError, Lattice, read
from .results import Result, utc_now

SECOND_LOOK = 0.95  # a picture's second view is read when the network is less sure than this on its first


@dataclass(frozen=True)
class Limits:
    max_pixels: int = 40_000_000
    max_bytes: int = 50 * 1024 * 1024
    max_memory: int = DEFAULT_MEMORY  # bytes one decode may hold (config: decode_memory_mb)
    max_digits: int = 12  # digits read in one picture (config: max_digits; 1 refuses a number)

    @classmethod
    def of(cls, cfg: Config) -> Limits:
        return cls(cfg.max_pixels, int(cfg.max_file_mb * 2**20), cfg.decode_memory_mb * 2**20, cfg.max_digits)


@dataclass(frozen=True)
class Prepared:
    """One input after reading and preprocessing, before the network."""

    sha256: str
    x: Lattice | None  # the candidate digits (one for a picture of a digit), or None when it could not be read
    error: str = ""
    note: str = ""


def read_input(path: Path, max_bytes: int) -> bytes:
    """Read a regular file without following a symbolic link; refuse folders, devices and huge files."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise ImageError("symbolic link: not followed") from None
        raise ImageError(f"cannot open: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageError("not a regular file")
        if info.st_size > max_bytes:
            raise ImageError(f"file too large: {info.st_size:,} bytes (limit max_file_mb = {max_bytes / 2**20:g})")
        chunks = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise ImageError(f"file too large: over {max_bytes:,} bytes (limit max_file_mb)")
        return data
    except OSError as exc:
        raise ImageError(f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def digit_input(data: bytes, max_pixels: int, max_memory: int = DEFAULT_MEMORY) -> tuple[np.ndarray, Decoded]:
    """The network's inputs for one file's bytes of one digit (its views, (V, 28, 28)), and the decoded
    picture (see :func:`picture_input`); training reads its pictures so."""
    lattice, decoded = picture_input(data, Limits(max_pixels, max_memory=max_memory, max_digits=1))
    return lattice.x[0], decoded


def picture_input(data: bytes, limits: Limits, judged: bool = True) -> tuple[Lattice, Decoded]:
    """The network's inputs for one file's bytes (its candidate digits: preprocess.read), and the decoded picture.

    A big picture is looked at on a copy reduced to WORK_MAX (a large JPEG is even decoded at
    reduced scale: several times faster), where nothing is lost for a digit of ordinary size. A
    digit a few percent of a photographed page, written with a thin or pale pen, fades into the
    paper's noise there; when nothing stands out, the full-resolution picture is looked at on a
    copy twice as fine before the file is refused. (Only for that refusal: looked at more finely,
    a blank sheet on a grainy desk can show grains that pass for ink.) ``judged``: whether the segment
    checker may spare a digit it is sure is whole its cuts (False: every cut, as its own training wants)."""
    decoded = decode(data, limits.max_pixels, max_memory=limits.max_memory)
    judge = segment_check.bundled(threads=1) if limits.max_digits > 1 and judged else None
    try:
        return _scaled(read(decoded.gray, WORK_MAX, limits.max_digits, judge), decoded), decoded
    except FaintInkError:
        if decoded.reduced:
            decoded = decode(data, limits.max_pixels, reduce=False, max_memory=limits.max_memory)
        elif max(decoded.gray.shape) <= WORK_MAX:
            raise
    return _scaled(read(decoded.gray, FINE_WORK_MAX, limits.max_digits, judge), decoded), decoded


def _scaled(lattice: Lattice, decoded: Decoded) -> Lattice:
    """Boxes on a picture decoded at reduced scale (a large JPEG's draft) put on the file's own pixels."""
    if decoded.scale == 1:
        return lattice
    return replace(lattice, boxes=np.round(lattice.boxes * decoded.scale).astype(np.int64))


def prepare(path: Path, limits: Limits) -> Prepared:
    """Read, hash, decode and normalise one file; never raises for a bad image."""
    digest = ""
    try:
        data = read_input(path, limits.max_bytes)
        digest = hashlib.sha256(data).hexdigest()
        x, decoded = picture_input(data, limits)
        note = _frames_note(decoded.frames)
        return Prepared(digest, x, note=note)
    except ImageError as exc:
        return Prepared(digest, None, error=str(exc))
    except Exception as exc:
        return Prepared(digest, None, error=f"cannot process: {type(exc).__name__}: {exc}")


def _frames_note(frames: int) -> str:
    if frames > FRAME_COUNT_CAP:
        return f"multi-frame file: read frame 1 of more than {FRAME_COUNT_CAP:,}"
    return f"multi-frame file: read frame 1 of {frames}" if frames > 1 else ""


def classify(
    names: list[str], prepared: list[Prepared], predictor: Predictor, low_confidence: float, max_digits: int = 12
) -> list[Result]:
    """Run the network over every readable input's candidate digits in one call (see _read); one
    Result per input, in order: its reading through numbers.read_number."""
    lattices = [p.x for p in prepared if p.x is not None]
    probs = _read([v for lat in lattices for v in lat.x], predictor)
    whole = _whole(lattices)
    now = utc_now()
    results, at = [], 0
    for name, p in zip(names, prepared):
        if p.x is None:
            results.append(Result(name, None, None, "error", p.error, predictor.model_id, now, p.sha256, p.note))
            continue
        reading = read_number(p.x, probs[at : at + p.x.size], whole[at : at + p.x.size])
        at += p.x.size
        results.append(_row(name, p, reading, predictor.model_id, now, low_confidence, max_digits))
    return results


def _whole(lattices: list[Lattice]) -> np.ndarray:
    """How likely each candidate is one whole digit (segment_check, one call for the batch's
    numbers); 1 for a picture's only candidate - there is nothing to choose."""
    whole = np.ones(sum(lat.size for lat in lattices), np.float32)
    checker = segment_check.bundled()
    starts = np.cumsum([0, *(lat.size for lat in lattices)])
    numbers = [(at, lat) for at, lat in zip(starts, lattices) if lat.segmented]
    if checker is not None and numbers:
        where = np.concatenate([np.arange(at, at + lat.size) for at, lat in numbers])
        views = np.stack([v[0] for _, lat in numbers for v in lat.x])
        whole[where] = checker(views, np.concatenate([lat.shape for _, lat in numbers]))
    return whole


def _row(
    name: str, p: Prepared, reading: Reading | None, model: str, now: str, low_confidence: float, max_digits: int
) -> Result:
    """One picture's row: a digit (``digit`` and ``text`` agree), or a number (``digit`` empty)."""
    if reading is None:
        return Result(
            name, None, None, "error", "no digit found: no piece of the ink reads as one", model, now, p.sha256
        )
    n = len(reading.text)
    if n > max_digits:
        error = f"{n} digits found: more than max_digits ({max_digits})"
        return Result(name, None, None, "error", error, model, now, p.sha256, p.note, text=reading.text)
    sure = reading.trusted(low_confidence)
    note = "; ".join(filter(None, [p.note, *_mark_notes(reading)]))
    one = reading.digits[0] if n == 1 else None
    return Result(
        name,
        None if one is None else one.digit,
        round(reading.confidence, 6),
        "ok" if sure else "low_confidence",
        "",
        model,
        now,
        p.sha256,
        note,
        None if one is None else one.probabilities,
        text=reading.text,
        digits=[d.record() for d in reading.digits],
    )


def _mark_notes(reading: Reading) -> list[str]:
    """A mark left out of the number (a dash in a zip+4, a decimal comma), where it stood; ink as
    tall as a digit off the number's line (another line of writing), how much."""
    notes = [f"{kind} after digit {after} left out" for after, kind in reading.marks]
    if reading.off_line:
        notes.append(f"{reading.off_line} digit-sized pieces off the line read left out (another line?)")
    if reading.slashes:
        notes.append(f"{reading.slashes} straight leaning strokes read as digits (a date's slash?)")
    return notes


def _read(inputs: list[np.ndarray], predictor: Predictor) -> np.ndarray:
    """(N, 10) answers for N inputs' views (each (V, 28, 28), see preprocess.views): the network on
    every first view in one call; where it is under SECOND_LOOK sure and there is a second view, a
    second call on those, and the two answers averaged. (Averaged for every picture, the misses are
    the same as from SECOND_LOOK = 0.8 up, and the network's work would nearly double for thin pens.)
    Every input may take the first network's answer alone where it is sure (Predictor.predict's ``quick``)."""
    if not inputs:
        return np.zeros((0, 10), np.float32)
    probs = np.array(predictor.predict(np.stack([x[0] for x in inputs]), quick=np.ones(len(inputs), bool)))
    again = [i for i, x in enumerate(inputs) if len(x) > 1 and probs[i].max() < SECOND_LOOK]
    if again:
        second = predictor.predict(np.stack([inputs[i][1] for i in again]), quick=np.ones(len(again), bool))
        probs[again] = (probs[again] + second) / 2
    return probs
