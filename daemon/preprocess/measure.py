"""Small measurements every stage uses: quantiles, thresholds, widths, masks of the picture's border."""

from __future__ import annotations

import functools

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from .params import PARAMS

try:  # C twins of the costliest measurements below (daemon/kernels/), built where a compiler is
    from .. import _kernels
except ImportError:  # pragma: no cover - a machine without a C compiler
    _kernels = None  # type: ignore[assignment]

M = PARAMS.measure


# One picture is small work: OpenCV's thread pool costs more than it saves (twice the CPU time of a
# digit's preprocessing, measured), and the daemon reads pictures in parallel processes already.
cv2.setNumThreads(1)
EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity: a diagonal step of a pen line keeps it one piece


def _native(a: np.ndarray) -> bool:
    """Whether the C kernels take ``a``'s values: float32 or float64."""
    return _kernels is not None and a.dtype.kind == "f" and a.itemsize in (4, 8)


def sample(a: np.ndarray, target: int = M.sample_pixels) -> np.ndarray:
    """Every k-th pixel in both directions: enough for a median of the paper, at a fraction of the cost."""
    k = max(1, int((a.size / target) ** 0.5))
    return a[::k, ::k]


def quantile(a: np.ndarray, q: float) -> float:
    """The ``q`` quantile (nearest rank), without np.percentile's overhead."""
    flat = a.ravel()
    k = min(len(flat) - 1, int(q * len(flat)))
    if _native(flat):
        return _kernels.kth(flat, k)
    return float(ranked(flat)[k])


def quantiles(a: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """:func:`quantile` of each of ``qs``, in one ordering."""
    flat = a.ravel()
    ks = tuple(min(len(flat) - 1, int(q * len(flat))) for q in qs)
    if _native(flat):
        return [_kernels.kth(flat, k) for k in ks]
    order = ranked(flat)
    return [float(order[k]) for k in ks]


def median(a: np.ndarray) -> float:
    """np.median, exactly (the mean of the two middle values of an even count), without its overhead."""
    flat = np.ravel(a)
    if _native(flat) and flat.size:
        return _kernels.median(flat)
    return median_of_sorted(flat)


def median_of_sorted(flat: np.ndarray) -> float:
    """:func:`median` by numpy's sort: the C kernel's twin."""
    k = flat.size // 2
    if flat.size % 2:
        return float(ranked(flat)[k])
    part = ranked(flat)
    if flat.dtype.kind == "f":
        return float((part[k - 1] + part[k]) / 2)
    return float(np.mean(part[k - 1 : k + 1]))


def ranked(flat: np.ndarray) -> np.ndarray:
    """``flat`` sorted. Not np.partition: it slows twenty- to fifty-fold on long runs of one value (an ink
    map's zeros, white paper), where numpy's vectorised sort stays fast; elsewhere on a working copy's
    sizes the two differ by microseconds."""
    return np.sort(flat)


def robust_std(a: np.ndarray, centre: float) -> float:
    """Standard deviation of ``a``'s noise around ``centre`` from the median absolute deviation."""
    return M.mad_to_std * median_mostly_zero(np.abs(a - centre))


def median_mostly_zero(a: np.ndarray) -> float:
    """:func:`median`, by counting when the middle values are zeros - as on an ink map, clipped at the
    paper, whose paper is most of the picture (two comparisons instead of a partition)."""
    flat = np.ravel(a)
    if flat.dtype.kind != "f" or flat.size == 0:
        return median(flat)
    k = flat.size // 2
    below = int(np.count_nonzero(flat < 0))
    if below <= k - 1 + flat.size % 2 and k < below + int(np.count_nonzero(flat == 0)):
        return 0.0  # (both middle values, or the middle one, are zeros)
    return median(flat)


def otsu(a: np.ndarray, top: float, bins: int = M.otsu_bins) -> float:
    """Otsu's threshold of the values of ``a`` (0..``top``, larger values counted in the last bin)."""
    if _native(a) and top > 0:
        return _kernels.otsu(a.ravel(), top, bins, M.eps_div)
    return otsu_numpy(a, top, bins)


def otsu_numpy(a: np.ndarray, top: float, bins: int = M.otsu_bins) -> float:
    """:func:`otsu` by numpy: the C kernel's twin."""
    index = np.minimum((a * (bins / top)).astype(np.int32), bins - 1)
    hist = np.bincount(index.ravel(), minlength=bins).astype(np.float64)
    centers = (np.arange(bins) + 0.5) * (top / bins)
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mu0 = m0 / np.maximum(w0, M.eps_div)
    mu1 = (m0[-1] - m0) / np.maximum(w1, M.eps_div)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return float(centers[int(np.argmax(between))])


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: a stroke of width w and length L has area w*L and ~2L edge pixels."""
    if _kernels is not None and mask.dtype == bool and mask.ndim == 2:
        area, inner = _kernels.ink_and_inner(mask)
    else:
        area, inner = int(mask.sum()), int(eroded(mask).sum())
    return 2.0 * area / max(area - inner, 1)


def eroded(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_erosion(mask, EIGHT)`` (outside the picture is no ink), as nine shifted ANDs:
    a tenth of its cost on a digit-sized mask."""
    h, w = mask.shape
    if h < 3 or w < 3:
        return np.zeros_like(mask)
    core = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1]
    core = core & mask[1:-1, :-2] & mask[1:-1, 2:] & mask[:-2, :-2] & mask[:-2, 2:] & mask[2:, :-2] & mask[2:, 2:]
    out = np.zeros_like(mask)
    out[1:-1, 1:-1] = core
    return out


def dilated(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_dilation(mask, EIGHT)``, as nine shifted ORs: a tenth of its cost on a digit-sized mask."""
    padded = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    rows = padded[:-2] | padded[1:-1] | padded[2:]
    return rows[:, :-2] | rows[:, 1:-1] | rows[:, 2:]


def pen_width(mask: np.ndarray, q: float = M.pen_quantile) -> float:
    """The width of the thinner strokes in ``mask``: twice the distance to the background along
    the strokes' middle lines, its ``q`` quantile (lower quartile: a pen's width even where a wide
    shadow takes up more of the mask than the digit does)."""
    if not mask.any():
        return 0.0
    dt = ndimage.distance_transform_cdt(mask, "chessboard")  # (a tenth of the Euclidean one's cost)
    middle = mask & (dt >= ndimage.maximum_filter(dt, 3))
    return 2.0 * quantile(dt[middle], q)


def stroke_window(width: float) -> int:
    """A background window a few strokes wide: the paper level under it does not follow the strokes."""
    return max(M.least_window, int(round(M.strokes_per_window * width)) | 1)


def paper_window(a: np.ndarray) -> int:
    """The first, picture-sized background window (before the strokes' width is known)."""
    return max(M.least_window, max(a.shape) // M.paper_window_parts)


def border_band(shape: tuple[int, ...]) -> int:
    """How wide the picture's border band is: a few percent of the shorter side, at least a pixel."""
    return max(1, round(M.border_share * min(shape)))


@functools.lru_cache(maxsize=64)
def ring(shape: tuple[int, int], band: int | None = None) -> np.ndarray:
    """Mask of the picture's border: a band ``band`` px wide (default :func:`border_band`); read only,
    made once a shape."""
    band = band or border_band(shape)
    out = np.ones(shape, bool)
    out[band:-band, band:-band] = False
    out.flags.writeable = False
    return out


def enlarged(a: np.ndarray, f: int, shape: tuple[int, int]) -> np.ndarray:
    """``a`` with each pixel repeated f x f times, cut to ``shape``."""
    return a if f == 1 else np.repeat(np.repeat(a, f, axis=0), f, axis=1)[: shape[0], : shape[1]]


def enlarged_smoothly(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``a`` resized to ``shape`` with bilinear interpolation."""
    if a.shape == shape:
        return a
    return np.asarray(Image.fromarray(a).resize(shape[::-1], Image.Resampling.BILINEAR))


def resized(soft: np.ndarray, height: int, width: int, bilinear: bool) -> np.ndarray:
    """``soft`` resized as Pillow resizes a float picture (bilinear to enlarge, box to shrink) - by the
    C kernel (kernels/boxing.c: Pillow's weights and passes, the same pixels without Pillow's image
    objects, a third of the cost on a digit) when it is built."""
    soft = np.asarray(soft, dtype=np.float32)
    if _kernels is not None:
        return np.frombuffer(_kernels.resized(soft, height, width, bilinear), np.float32).reshape(height, width)
    return resized_by_pillow(soft, height, width, bilinear)


def resized_by_pillow(soft: np.ndarray, height: int, width: int, bilinear: bool) -> np.ndarray:
    """:func:`resized` by Pillow itself: the C kernel's twin."""
    img = Image.frombuffer("F", soft.shape[::-1], np.ascontiguousarray(soft, dtype=np.float32), "raw", "F", 0, 1)
    filter_ = Image.Resampling.BILINEAR if bilinear else Image.Resampling.BOX
    return np.frombuffer(img.resize((width, height), filter_).tobytes(), np.float32).reshape(height, width)


def core_scaled(ink: np.ndarray, mask: np.ndarray, q: float) -> np.ndarray:
    """The ink within a pixel (8 ways) of ``mask``, divided by its ``q`` quantile over the mask and
    clipped to 0..1 - by the C kernel (kernels/boxing.c) for a float32 map when it is built."""
    if _kernels is not None and ink.dtype == np.float32:
        return np.frombuffer(_kernels.strokes(ink, mask, q, M.eps_level), np.float32).reshape(ink.shape)
    return core_scaled_numpy(ink, mask, q)


def core_scaled_numpy(ink: np.ndarray, mask: np.ndarray, q: float) -> np.ndarray:
    """:func:`core_scaled` by numpy: the C kernel's twin."""
    soft = ink * dilated(mask)
    core = quantile(soft[mask], q)
    return np.clip(soft / max(core, M.eps_level), 0.0, 1.0)


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    """``ndimage.center_of_mass(a)`` to the last bit (the same sums in the same order), without its
    overhead; the middle of ``a`` when it holds nothing. By the C kernel (numpy's pairwise sums) for
    a float32 picture when it is built."""
    if _kernels is not None and a.dtype == np.float32 and a.ndim == 2 and a.flags.c_contiguous:
        return _kernels.centre_of_mass(a)
    return centre_of_mass_numpy(a)


def centre_of_mass_numpy(a: np.ndarray) -> tuple[float, float]:
    """:func:`centre_of_mass` by numpy: the C kernel's twin."""
    total = a.sum()
    if not total > 0:
        return (a.shape[0] - 1) / 2, (a.shape[1] - 1) / 2
    rows = np.arange(a.shape[0], dtype=float)[:, None]
    cols = np.arange(a.shape[1], dtype=float)[None, :]
    return float((a * rows).sum() / total), float((a * cols).sum() / total)


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean of each f x f block as float32 0..1 (Pillow's reduce: a box filter in C, on 8-bit data
    if that is what we have - several times faster than numpy on a scan)."""
    if f > 1:
        a = np.asarray(Image.fromarray(np.ascontiguousarray(a)).reduce(f))
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a


def as_unit_float(gray: np.ndarray) -> np.ndarray:
    """``gray`` as float32 0..1: integers scaled by their dtype's range, floats clipped, NaN as paper-black 0."""
    a = np.asarray(gray)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32) / float(np.iinfo(a.dtype).max)
    a = a.astype(np.float32, copy=False)
    if not np.all(np.isfinite(a)):
        a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(a, 0.0, 1.0)


def runs(full: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of consecutive True values in the 1-D bool array ``full``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], full, [False])).astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def box_edges(boxes: list) -> np.ndarray:
    """(n, 4) array of each component's box: top, bottom, left, right (bottom and right exclusive)."""
    return np.array([(b[0].start, b[0].stop, b[1].start, b[1].stop) for b in boxes], dtype=np.int64).reshape(-1, 4)


def pieces(labels: np.ndarray, n: int, which: list[int]) -> np.ndarray:
    """The pixels of components ``which`` (0-based) of ``labels`` (``n`` of them): np.isin's answer by
    a lookup table, at a fraction of its cost."""
    table = np.zeros(n + 1, dtype=bool)
    table[np.asarray(which, dtype=np.int64) + 1] = True
    return table[labels]


def convex(region: np.ndarray) -> bool:
    """Whether ``region`` fills its convex hull (a sheet of paper does; a sheet a digit bites into does not)."""
    from scipy.spatial import ConvexHull, QhullError

    points = np.argwhere(region)
    try:
        hull = ConvexHull(points)
    except (QhullError, ValueError):
        return False
    return len(points) >= M.convex_fill * hull.volume


def box_mean(a: np.ndarray, size: int) -> np.ndarray:
    """``ndimage.uniform_filter(a, size)`` (mirrored edges) by OpenCV's box filter: several times
    faster; the same to float32 rounding."""
    if a.dtype not in (np.float32, np.float64):
        return ndimage.uniform_filter(a, size)
    return cv2.blur(np.ascontiguousarray(a), (size, size), borderType=cv2.BORDER_REFLECT)


def _rect(size: int | tuple[int, int]) -> np.ndarray:
    h, w = (size, size) if isinstance(size, int) else size
    return np.ones((h, w), np.uint8)


def _anchors(kernel: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """scipy's windows: a minimum over [i - k//2, i + (k-1)//2], its maximum over [i - (k-1)//2, i + k//2]
    (the same for odd k; an even window's two halves differ by a pixel)."""
    h, w = kernel.shape
    return (w // 2, h // 2), ((w - 1) // 2, (h - 1) // 2)


def grey_opened(a: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """``ndimage.grey_opening(a, size)`` by OpenCV, the same values (beyond the edges mirrored there,
    ignored here: a minimum or maximum over a window either way): ~10x faster."""
    kernel = _rect(size)
    low, high = _anchors(kernel)
    return cv2.dilate(cv2.erode(np.ascontiguousarray(a), kernel, anchor=low), kernel, anchor=high)


def grey_closed(a: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """``ndimage.grey_closing(a, size)`` by OpenCV, the same values (see :func:`grey_opened`)."""
    kernel = _rect(size)
    low, high = _anchors(kernel)
    return cv2.erode(cv2.dilate(np.ascontiguousarray(a), kernel, anchor=high), kernel, anchor=low)


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of ``mask``, numbered 1..n in raster order of their first pixel, as
    ``ndimage.label(mask, EIGHT)`` numbers them (OpenCV's Wu algorithm: a scan with union-find)."""
    n, labels = cv2.connectedComponentsWithAlgorithm(mask.view(np.uint8), 8, cv2.CV_32S, cv2.CCL_WU)
    return labels, n - 1


def labelled_median(a: np.ndarray, labels: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``ndimage.median(a, labels, index)`` (in ``a``'s type; the two middle values averaged), sorting only the
    labelled pixels once - scipy's selects over the whole picture per call, a tenth of the speed on a
    page holding a number's several large pieces."""
    return labelled_median_and_peak(a, labels, index)[0]


def labelled_median_and_peak(a: np.ndarray, labels: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`labelled_median` and ``ndimage.maximum(a, labels, index)`` (each label's last value in
    the same ordering; scipy sorts the whole picture's labels for it) - of labels that have pixels."""
    index = np.asarray(index)
    picked = np.isin(labels, index)
    values, which = a[picked], labels[picked]
    order = np.lexsort((values, which))
    values, which = values[order], which[order]
    starts = np.searchsorted(which, index, side="left")
    ends = np.searchsorted(which, index, side="right")
    counts = ends - starts
    low, high = values[starts + (counts - 1) // 2], values[starts + counts // 2]
    middle = (low + high) / a.dtype.type(2) if a.dtype.kind == "f" else (low + high) / 2
    return middle, values[ends - 1]
