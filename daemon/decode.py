"""Bytes of an allowed image file -> one 2-D luminance array (uint8, or float32 0..1).

Handles every mode a user's file may have (RGB, RGBA/LA with transparency,
palette, 16-bit and float grayscale, CMYK, 1-bit), applies EXIF orientation,
takes the first frame of multi-frame files, and refuses from the header, before
any pixel is decoded: formats outside the allow-list, decompression bombs
(max_pixels) and pictures whose decoding would not fit the memory budget.
Decoding never holds more than the decoded raster plus one 2-D plane of the
result: colour and transparency are reduced strip by strip.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from .errors import ImageError

DRAFT_MIN_SIDE = 384  # large JPEGs are decoded at reduced scale (1/2, 1/4, 1/8), never below this
# Formats read; every other Pillow plugin stays unused (EPS would run Ghostscript on the file).
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "TIFF", "BMP", "WEBP")
ALLOWED_NAMES = "PNG, JPEG, GIF, TIFF, BMP, WebP"
# Counting a TIFF's pages reads every page's header: 60,000 pages took 25 s, so count this far only.
FRAME_COUNT_CAP = 1000
DEFAULT_MEMORY = 256 * 2**20  # bytes a decode may hold (config: decode_memory_mb)
STRIP_PIXELS = 1 << 18  # colour is reduced this many pixels at a time, so temporaries stay a few MB
FLOAT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that make a PNG more than its pixels (frames, EXIF orientation, transparency): Pillow reads those.
PNG_EXTRAS = (b"acTL", b"eXIf", b"tRNS", b"Raw profile type exif")

# Our own limits (config: max_pixels, decode_memory_mb) are enforced before decoding; this only
# keeps Pillow from warning below them.
Image.MAX_IMAGE_PIXELS = None
cv2.setNumThreads(1)  # (see preprocess/measure.py: one small picture per call; the pool runs them in parallel)


@dataclass(frozen=True)
class Decoded:
    gray: np.ndarray  # 2-D, as the picture looks: uint8 (0..255) for 8-bit files, else float32 (0..1)
    frames: int  # number of frames in the file (FRAME_COUNT_CAP + 1: more than the cap); only the first is read
    reduced: bool = False  # a large JPEG decoded at a fraction of its size (draft mode)
    scale: float = 1.0  # ...the file's pixels per decoded pixel


def decode(data: bytes, max_pixels: int = 40_000_000, reduce: bool = True, max_memory: int = DEFAULT_MEMORY) -> Decoded:
    """Decode ``data`` into a luminance array. Raises :class:`ImageError` on anything unreadable.

    With ``reduce``, a large JPEG is decoded at 1/2, 1/4 or 1/8 of its size (several times faster),
    never below DRAFT_MIN_SIDE on its longer side. ``max_memory``: bytes the decode may hold (the
    decoded raster and the result), checked before decoding."""
    if not data:
        raise ImageError("empty file (0 bytes)")
    plain = _plain_png(data, max_pixels, max_memory)
    if plain is not None:
        return Decoded(gray=plain, frames=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = _open(data)
            width, height = img.size
            if width * height > max_pixels:
                raise ImageError(
                    f"image too large: {width}x{height} = {width * height:,} pixels (limit max_pixels = {max_pixels:,})"
                )
            if width < 1 or height < 1:
                raise ImageError(f"image has no pixels ({width}x{height})")
            frames = _frame_count(img)
            if reduce and img.format == "JPEG" and max(width, height) >= 2 * DRAFT_MIN_SIDE:
                scale = max(width, height) // DRAFT_MIN_SIDE
                img.draft("L", (width // scale, height // scale))
            _check_memory(img, max_memory)
            orientation = _orientation(img)
            img.load()
            reduced = img.size != (width, height)
            gray = _oriented(_luminance(img), orientation)
            return Decoded(gray=gray, frames=frames, reduced=reduced, scale=width / img.size[0])
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot decode image: {exc}") from None


def _open(data: bytes) -> Image.Image:
    """Open ``data`` with the allowed formats' plugins only; name what it is when it is not one of them."""
    try:
        return Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except Image.UnidentifiedImageError:
        raise ImageError(_unidentified(data[:16])) from None


def _unidentified(prefix: bytes) -> str:
    """Why a file did not open: it is in a format not allowed (told by the first bytes only, as
    Pillow's plugins tell theirs - no plugin parses the file), or it is no image we know."""
    Image.init()
    for fmt, (_factory, accept) in Image.OPEN.items():
        try:
            matches = bool(accept and accept(prefix))
        except Exception:  # a plugin's check of 16 bytes is not ours to trust
            matches = False
        if matches:
            if fmt in ALLOWED_FORMATS:
                return f"not a readable {fmt} file"
            return f"format not allowed: {fmt} (allowed: {ALLOWED_NAMES})"
    return f"not an allowed image format ({ALLOWED_NAMES})"


def _frame_count(img: Image.Image) -> int:
    """Frames in the file, counted no further than FRAME_COUNT_CAP (TIFF pages are counted by
    walking their chain; the other formats say how many they hold, or scan without decoding)."""
    if img.format != "TIFF":
        return int(getattr(img, "n_frames", 1) or 1)
    count = 1
    try:
        while count <= FRAME_COUNT_CAP:
            img.seek(count)
            count += 1
    except EOFError:
        pass
    img.seek(0)
    return count


def _raster_bytes(mode: str) -> int:
    """Bytes per pixel Pillow stores for ``mode`` (3-band images are padded to 4)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def _check_memory(img: Image.Image, max_memory: int) -> None:
    """Refuse before decoding a picture whose raster and result would pass ``max_memory`` bytes."""
    width, height = img.size
    result = 4 if img.mode in FLOAT_MODES else 2 if _has_alpha(img) else 1
    need = width * height * (_raster_bytes(img.mode) + result)
    if need > max_memory:
        raise ImageError(
            f"image too large to decode: {width}x{height} {img.mode} needs {need / 2**20:,.0f} MB"
            f" (limit decode_memory_mb = {max_memory / 2**20:g})"
        )


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)


def _iter_strips(img: Image.Image, mode: str, rows: int) -> Iterator[tuple[slice, np.ndarray]]:
    """``img`` converted to ``mode`` a band of ``rows`` rows at a time: (rows, array) pairs."""
    width, height = img.size
    if rows >= height:
        yield slice(0, height), np.asarray(img if img.mode == mode else img.convert(mode))
        return
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        yield slice(top, bottom), np.asarray(img.crop((0, top, width, bottom)).convert(mode))


def _plain_png(data: bytes, max_pixels: int, max_memory: int) -> np.ndarray | None:
    """The pixels of an 8-bit grayscale PNG - not interlaced, one frame, no transparency nor EXIF: the
    common small drawing - decoded by OpenCV, the same values as Pillow's at a quarter of its cost on a
    small file; None for any other file (Pillow reads it, and refuses it when it must)."""
    if len(data) < 33 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    depth, colour, interlace = data[24], data[25], data[28]
    if (depth, colour, interlace) != (8, 0, 0) or not 0 < width * height <= max_pixels:
        return None
    if 2 * width * height > max_memory:  # the raster and its copy; Pillow's path refuses it with the reason
        return None
    if any(extra in data for extra in PNG_EXTRAS):
        return None
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if gray is None or gray.dtype != np.uint8 or gray.shape != (height, width):
        return None
    return gray


def _luminance(img: Image.Image) -> np.ndarray:
    width, height = img.size
    if img.mode in FLOAT_MODES:
        return _unit_float(img)
    if _has_alpha(img):
        return _composite(img)
    gray = np.empty((height, width), np.uint8)  # uint8: normalize converts only what it keeps
    for rows, strip in _iter_strips(img, "L", max(1, STRIP_PIXELS // width)):
        gray[rows] = strip
    return gray


def _unit_float(img: Image.Image) -> np.ndarray:
    """16-bit, 32-bit integer and float pictures as float32 0..1, scaled in place."""
    width, height = img.size
    a = np.empty((height, width), np.float32)
    for rows, strip in _iter_strips(img, img.mode, max(1, STRIP_PIXELS // width)):
        a[rows] = strip
    if img.mode == "F":
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        if lo < 0.0 or hi > 1.0:
            a -= lo
            a /= max(hi - lo, 1e-12)
        return np.nan_to_num(a, copy=False, nan=0.0)
    hi = float(a.max())
    a /= 255.0 if hi <= 255 else 65535.0 if hi <= 65535 else hi
    return np.clip(a, 0.0, 1.0, out=a)


def _composite(img: Image.Image) -> np.ndarray:
    """Put transparent pixels on a paper that contrasts with the opaque ink, as uint8.

    Transparency marks the background: dark strokes on a transparent canvas go
    onto white, light strokes onto black (never blindly onto black, which would
    hide black ink). Two 8-bit planes are kept (luminance, alpha); each float
    step runs on one strip of rows.
    """
    width, height = img.size
    rows = max(1, STRIP_PIXELS // width)
    lum = np.empty((height, width), np.uint8)
    alpha = np.empty((height, width), np.uint8)
    weight = ink = 0.0
    for band, rgba in _iter_strips(img, "RGBA", rows):
        f = rgba.astype(np.float32)
        level = (f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114) / 255.0
        a = f[..., 3] / 255.0
        weight += float(a.sum())
        ink += float((level * a).sum())
        lum[band] = np.rint(level * 255.0).astype(np.uint8)
        alpha[band] = rgba[..., 3]
    if alpha.min() >= 253:  # opaque (alpha >= 0.99): the picture as it is
        return lum
    if weight < 1e-6:
        return np.full((height, width), 255, np.uint8)
    paper = 255.0 if ink / weight < 0.5 else 0.0
    for top in range(0, height, rows):
        band = slice(top, min(top + rows, height))
        a = alpha[band].astype(np.float32) / 255.0
        lum[band] = np.rint(lum[band] * a + paper * (1.0 - a)).astype(np.uint8)
    return lum


def _orientation(img: Image.Image) -> int:
    """The EXIF Orientation tag (1..8; 1 = as stored)."""
    try:
        value = int(img.getexif().get(0x0112, 1))
    except (TypeError, ValueError, SyntaxError, OSError):
        return 1
    return value if 1 <= value <= 8 else 1


def _oriented(a: np.ndarray, orientation: int) -> np.ndarray:
    """``a`` turned as EXIF ``orientation`` says (as ImageOps.exif_transpose, on the 2-D plane only)."""
    turned = {
        2: lambda: a[:, ::-1],
        3: lambda: a[::-1, ::-1],
        4: lambda: a[::-1],
        5: lambda: a.T,
        6: lambda: np.rot90(a, -1),
        7: lambda: a[::-1, ::-1].T,
        8: lambda: np.rot90(a, 1),
    }.get(orientation)
    return a if turned is None else np.ascontiguousarray(turned())
