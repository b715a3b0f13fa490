"""The segment checker: how likely each candidate of a number's lattice is exactly one digit.

A small LiteRT network (training/segments.py; bundled as ``models/segments.tflite``) reads a
candidate's 28x28 view and its shape on the line. The digit network alone reads half a 0 as a 6
and two touching digits as one, both surely; the path through a number weighs each candidate by
this answer too (numbers.read_number). Loaded once, on first use; calls are serialised.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from .infer import THREADS, _first_native_notice, chunks

BUNDLED = Path(__file__).parent / "models" / "segments.tflite"
BUCKETS = (256, 64, 16, 4, 1)  # batch sizes an interpreter is made for; a call runs as chunks of them


class SegmentChecker:
    def __init__(self, content: bytes, threads: int = THREADS) -> None:
        self._content, self._threads = content, threads
        self._by_size: dict[int, tuple[Any, int, int, int]] = {}
        self._lock = threading.Lock()
        self._interpreter(1)  # a bad file fails here, not in a batch

    def _interpreter(self, n: int) -> tuple[Any, int, int, int]:
        made = self._by_size.get(n)
        if made is not None:
            return made
        from ai_edge_litert.interpreter import Interpreter

        with _first_native_notice():  # (LiteRT's notice comes with the first allocation)
            it = Interpreter(model_content=self._content, num_threads=self._threads)
            inputs = {tuple(d["shape_signature"][1:]): d["index"] for d in it.get_input_details()}
            view, shape = inputs[(28, 28, 1)], inputs[(3,)]
            it.resize_tensor_input(view, [n, 28, 28, 1])
            it.resize_tensor_input(shape, [n, 3])
            it.allocate_tensors()
        self._by_size[n] = made = (it, view, shape, it.get_output_details()[0]["index"])
        return made

    def __call__(self, views: np.ndarray, shapes: np.ndarray) -> np.ndarray:
        """(N,) probability that each candidate is one whole digit; ``views`` (N, 28, 28), ``shapes`` (N, 3)."""
        out = []
        with self._lock:
            for i, size in chunks(len(views), BUCKETS):
                it, view, shape, res = self._interpreter(size)
                it.set_tensor(view, np.ascontiguousarray(views[i : i + size, :, :, None], np.float32))
                it.set_tensor(shape, np.ascontiguousarray(shapes[i : i + size], np.float32))
                it.invoke()
                out.append(it.get_tensor(res)[:, 0].copy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)


@cache
def bundled(threads: int = THREADS) -> SegmentChecker | None:
    """The bundled checker, or None when this install has none (the path then weighs shapes only).
    ``threads`` 1 for a decode process's one-candidate calls (number.one_digit), where more only wait."""
    return SegmentChecker(BUNDLED.read_bytes(), threads) if BUNDLED.is_file() else None
