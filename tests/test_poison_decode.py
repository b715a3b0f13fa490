"""Hostile image files cost one error row each, never the daemon's time, memory or safety: a TIFF
of 60,000 pages, a file that decodes past the per-file deadline, a small PNG that decodes to
gigabytes, a PostScript file named .png."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import Daemon, dark_on_light
from PIL import Image, ImageDraw, ImageOps

PAGES = 60_000  # the TIFF observed to hold n_frames for 25 s
GIF_FRAMES = 3_000_000  # 45 MB of 1x1 frames: counting them takes seconds (under max_file_mb)
BOMB_SIDE = 6300  # RGBA 6300 x 6300: 159 MB decoded, from a PNG of about 160 KB
RSS_LIMIT_MB = 400
EPS = b"""%!PS-Adobe-3.0 EPSF-3.0
%%BoundingBox: 0 0 28 28
%%EndComments
newpath 4 4 moveto 24 24 lineto stroke
showpage
%%EOF
"""


def _tiff_pages(first: np.ndarray, pages: int) -> bytes:
    """A little-endian TIFF: ``first`` (8-bit gray) as page 1, then 1x1 pages sharing one byte -
    written by hand, as Pillow takes minutes to save 60,000 pages."""

    def ifd(width: int, height: int, offset: int, count: int, following: int) -> bytes:
        entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1)]
        entries += [(273, 4, offset), (277, 3, 1), (278, 4, height), (279, 4, count)]
        body = b"".join(struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in entries)
        return struct.pack("<H", len(entries)) + body + struct.pack("<I", following)

    size = 2 + 12 * 9 + 4
    pixels = first.astype(np.uint8).tobytes() + b"\x80"
    start = 8 + len(pixels)
    out = [b"II*\x00" + struct.pack("<I", start), pixels]
    h, w = first.shape
    out.append(ifd(w, h, 8, w * h, start + size))
    for i in range(1, pages):
        following = start + (i + 1) * size if i < pages - 1 else 0
        out.append(ifd(1, 1, 8 + w * h, 1, following))
    return b"".join(out)


def _gif_frames(frames: int) -> bytes:
    """A GIF of ``frames`` 1x1 frames (15 bytes each)."""
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return head + frame * frames + b"\x3b"


def _bomb(path: Path) -> None:
    """A mostly transparent RGBA canvas of 40 megapixels with one stroke: a PNG of about 160 KB."""
    img = Image.new("RGBA", (BOMB_SIDE, BOMB_SIDE), (0, 0, 0, 0))
    ImageDraw.Draw(img).line([(3000, 1000), (3000, 5000)], fill=(0, 0, 0, 255), width=200)
    img.save(path, compress_level=9)


def _row(rows: list[dict], name: str) -> dict:
    (row,) = [r for r in rows if r["file"] == name]
    return row


def test_tiff_of_60000_pages_gets_its_row_quickly(daemon_factory, test_digits) -> None:
    """Counting 60,000 pages took 25 s (n_frames reads every page's header); the count now stops at
    1,000, and the TIFF and a file dropped beside it get their rows within 15 s."""
    x, y = test_digits
    d: Daemon = daemon_factory().start()
    tiff = _tiff_pages(255 - x[0], PAGES)
    dropped = time.monotonic()
    (d.inbox / "pages.tif").write_bytes(tiff)
    dark_on_light(x[1]).save(d.inbox / "plain.png")
    rows = d.wait_rows(2, timeout=15)
    took = time.monotonic() - dropped
    pages, plain = _row(rows, "pages.tif"), _row(rows, "plain.png")
    assert int(plain["digit"]) == int(y[1]), plain
    assert int(pages["digit"]) == int(y[0]) and "read frame 1 of more than 1,000" in pages["note"], pages
    assert took < 15
    assert d.stop() == 0


def test_file_past_the_deadline_is_timed_out(daemon_factory, test_digits) -> None:
    """A file still decoding at file_timeout_s gets a 'timed out' row and its worker process is
    replaced; the file beside it gets its normal row, and the next file is read as usual."""
    x, y = test_digits
    d: Daemon = daemon_factory("--file-timeout-s", "1").start()
    (d.inbox / ".frames.gif").write_bytes(_gif_frames(GIF_FRAMES))
    dark_on_light(x[1]).save(d.inbox / "plain.png")
    os.rename(d.inbox / ".frames.gif", d.inbox / "frames.gif")  # arrives whole
    rows = d.wait_rows(2, timeout=60)
    frames, plain = _row(rows, "frames.gif"), _row(rows, "plain.png")
    assert frames["status"] == "error" and frames["error"] == "timed out after 1 s", frames
    assert int(plain["digit"]) == int(y[1]), plain
    event = d.wait_event("prepare_timed_out")
    assert event["file"].endswith("frames.gif")
    dark_on_light(x[2]).save(d.inbox / "after.png")
    assert int(_row(d.wait_rows(3), "after.png")["digit"]) == int(y[2])
    assert (d.failed / "frames.gif.error.txt").read_text().strip() == "timed out after 1 s"
    assert d.stop() == 0


def test_deadline_kills_only_the_late_process() -> None:
    """The pool's other process keeps its tasks: one late task costs one process."""
    from digitwatch.daemon.procpool import DeadlinePool, Failure

    pool = DeadlinePool(2, time.sleep, timeout_s=1.0)
    try:
        pool.wait_ready()
        before = set(pool.pids())
        started = time.monotonic()
        results = pool.run([(0.01,), (60.0,), (0.01,), (0.01,)])
        took = time.monotonic() - started
        after = set(pool.pids())
    finally:
        pool.close()
    assert results == [None, Failure("timeout"), None, None]
    assert took < 10
    assert len(before & after) == 1 and len(after) == 2


def test_task_that_crashes_its_process_twice_fails_alone() -> None:
    """A task whose process dies is tried once more on a new process, then reported; the pool
    goes on (a file that crashes the decoder costs its row, not the batch)."""
    from digitwatch.daemon.procpool import DeadlinePool, Failure

    pool = DeadlinePool(2, os._exit, timeout_s=30.0)  # os._exit(code): a process dying mid-task
    try:
        assert pool.run([(3,)]) == [Failure("crash")]
        assert len(pool.pids()) == 2
    finally:
        pool.close()


def test_hostile_files_get_rows_and_nothing_runs(daemon_factory, test_digits, tmp_path: Path) -> None:
    """A PostScript file named .png used to go to Ghostscript: now it is refused by its format,
    and no program runs (a fake ``gs`` first on PATH would leave a mark). The decompression bomb
    gets a row too, and an ordinary file beside them its digit."""
    x, y = test_digits
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mark = tmp_path / "gs-ran"
    (bin_dir / "gs").write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    (bin_dir / "gs").chmod(0o755)
    d: Daemon = daemon_factory(env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}).start()
    (d.inbox / "drawing.png").write_bytes(EPS)
    _bomb(tmp_path / "bomb.png")
    os.rename(tmp_path / "bomb.png", d.inbox / "bomb.png")
    dark_on_light(x[3]).save(d.inbox / "plain.png")
    rows = d.wait_rows(3, timeout=60)
    eps = _row(rows, "drawing.png")
    assert eps["status"] == "error" and eps["error"].startswith("format not allowed: EPS"), eps
    assert _row(rows, "bomb.png")["status"] in ("ok", "low_confidence", "error")
    assert int(_row(rows, "plain.png")["digit"]) == int(y[3])
    assert not mark.exists(), "an external program ran"
    assert d.stop() == 0


def test_bomb_decodes_within_the_memory_bound(tmp_path: Path) -> None:
    """The 160 KB RGBA PNG of 6300 x 6300 reached 1.46 GB in one decode (a float32 RGBA copy):
    read and prepared in a fresh process (nothing else has raised its peak), it stays under
    400 MB."""
    path = tmp_path / "bomb.png"
    _bomb(path)
    assert path.stat().st_size < 400_000
    script = (
        "import json, re, sys\n"
        "from pathlib import Path\n"
        "from digitwatch.daemon.recognize import Limits, prepare\n"
        f"p = prepare(Path({str(path)!r}), Limits())\n"
        # VmHWM: the peak since exec (ru_maxrss would carry over the pytest process's own peak)
        "peak = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024\n"
        "print(json.dumps({'peak_mb': peak, 'error': p.error, 'tf': 'tensorflow' in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not report["tf"]
    assert report["peak_mb"] < RSS_LIMIT_MB, report


def test_picture_over_the_memory_budget_is_refused_from_its_header(tmp_path: Path) -> None:
    from digitwatch.daemon.decode import decode
    from digitwatch.daemon.errors import ImageError

    path = tmp_path / "bomb.png"
    _bomb(path)
    with pytest.raises(ImageError, match=r"6300x6300 RGBA needs 227 MB \(limit decode_memory_mb = 64\)"):
        decode(path.read_bytes(), max_memory=64 * 2**20)


def test_format_outside_the_allow_list_is_named() -> None:
    from digitwatch.daemon.decode import decode
    from digitwatch.daemon.errors import ImageError

    with pytest.raises(ImageError, match="format not allowed: EPS"):
        decode(EPS)
    with pytest.raises(ImageError, match=r"not an allowed image format \(PNG, JPEG, GIF, TIFF, BMP, WebP\)"):
        decode(b"just some text, no picture")
    with pytest.raises(ImageError, match="not a readable PNG file"):
        decode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_pillow_does(orientation: int) -> None:
    """The plane is turned, not the decoded picture (exif_transpose copied the whole raster)."""
    from digitwatch.daemon.decode import decode

    rng = np.random.default_rng(orientation)
    img = Image.fromarray(rng.integers(0, 256, (30, 50), dtype=np.uint8))
    exif = img.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    img.save(buffer, "PNG", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buffer.getvalue()))))
    assert np.array_equal(decode(buffer.getvalue()).gray, expected)


@pytest.mark.parametrize(
    ("key", "value"), [("FILE_TIMEOUT_S", "0"), ("FILE_TIMEOUT_S", "soon"), ("DECODE_MEMORY_MB", "8")]
)
def test_limits_are_validated(key: str, value: str) -> None:
    from digitwatch.daemon import config
    from digitwatch.daemon.errors import ConfigError

    with pytest.raises(ConfigError, match=key.lower()):
        config.load(env={f"DIGITWATCH_{key}": value})
