"""Bytes of any image file Pillow reads -> one 2-D luminance array (uint8, or float32 0..1).

Handles every mode a user's file may have (RGB, RGBA/LA with transparency,
palette, 16-bit and float grayscale, CMYK, 1-bit), applies EXIF orientation,
takes the first frame of multi-frame files, and refuses decompression bombs
from the header, before any pixel is decoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from .errors import ImageError

DRAFT_MIN_SIDE = 384  # large JPEGs are decoded at reduced scale (1/2, 1/4, 1/8), never below this
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that make a PNG more than its pixels (frames, EXIF orientation, transparency): Pillow reads those.
PNG_EXTRAS = (b"acTL", b"eXIf", b"tRNS", b"Raw profile type exif")

# Our own limit (config: max_pixels) is enforced before decoding; this only keeps
# Pillow from warning below it.
Image.MAX_IMAGE_PIXELS = None
cv2.setNumThreads(1)  # (see preprocess/measure.py: one small picture per call; the pool runs them in parallel)


@dataclass(frozen=True)
class Decoded:
    gray: np.ndarray  # 2-D, as the picture looks: uint8 (0..255) for 8-bit files, else float32 (0..1)
    frames: int  # number of frames in the file; only the first is read
    reduced: bool = False  # a large JPEG decoded at a fraction of its size (draft mode)


def decode(data: bytes, max_pixels: int = 40_000_000, reduce: bool = True) -> Decoded:
    """Decode ``data`` into a luminance array. Raises :class:`ImageError` on anything unreadable.

    With ``reduce``, a large JPEG is decoded at 1/2, 1/4 or 1/8 of its size (several times faster),
    never below DRAFT_MIN_SIDE on its longer side."""
    if not data:
        raise ImageError("empty file (0 bytes)")
    plain = _plain_png(data, max_pixels)
    if plain is not None:
        return Decoded(gray=plain, frames=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img: Image.Image = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise ImageError(
                    f"image too large: {width}x{height} = {width * height:,} pixels (limit max_pixels = {max_pixels:,})"
                )
            if width < 1 or height < 1:
                raise ImageError(f"image has no pixels ({width}x{height})")
            frames = int(getattr(img, "n_frames", 1) or 1)
            if reduce and img.format == "JPEG" and max(width, height) >= 2 * DRAFT_MIN_SIDE:
                scale = max(width, height) // DRAFT_MIN_SIDE
                img.draft("L", (width // scale, height // scale))
            img.load()
            reduced = img.size != (width, height)
            img = ImageOps.exif_transpose(img)
            return Decoded(gray=_luminance(img), frames=frames, reduced=reduced)
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageError("not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot decode image: {exc}") from None


def _plain_png(data: bytes, max_pixels: int) -> np.ndarray | None:
    """The pixels of an 8-bit grayscale PNG - not interlaced, one frame, no transparency nor EXIF: the
    common small drawing - decoded by OpenCV, the same values as Pillow's at a quarter of its cost on a
    small file; None for any other file (Pillow reads it, and refuses it when it must)."""
    if len(data) < 33 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    depth, colour, interlace = data[24], data[25], data[28]
    if (depth, colour, interlace) != (8, 0, 0) or not 0 < width * height <= max_pixels:
        return None
    if any(extra in data for extra in PNG_EXTRAS):
        return None
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if gray is None or gray.dtype != np.uint8 or gray.shape != (height, width):
        return None
    return gray


def _luminance(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float32)
        if mode == "F":
            lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
            if lo < 0.0 or hi > 1.0:
                a = (a - lo) / max(hi - lo, 1e-12)
            return np.nan_to_num(a, nan=0.0)
        hi = float(a.max())
        scale = 255.0 if hi <= 255 else 65535.0 if hi <= 65535 else hi
        return np.clip(a / scale, 0.0, 1.0)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        lum = rgba[..., 0] * 0.299 + rgba[..., 1] * 0.587 + rgba[..., 2] * 0.114
        if alpha.min() < 0.99:
            return _composite(lum, alpha)
        return lum
    return np.asarray(img.convert("L"))  # uint8: normalize converts only what it keeps


def _composite(lum: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Put transparent pixels on a paper that contrasts with the opaque ink.

    Transparency marks the background: dark strokes on a transparent canvas go
    onto white, light strokes onto black (never blindly onto black, which would
    hide black ink).
    """
    weight = float(alpha.sum())
    if weight < 1e-6:
        return np.ones_like(lum)
    ink_level = float((lum * alpha).sum()) / weight
    paper = 1.0 if ink_level < 0.5 else 0.0
    return lum * alpha + paper * (1.0 - alpha)
