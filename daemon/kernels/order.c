/* Order statistics and counts of measure.py: quantile, median (radix selection), Otsu's threshold,
   the stroke width's counts - each its numpy twin's answer to the bit. */
#include "kernels.h"

/* ---- reading a 1-D float32 or float64 buffer ---- */

static int get_floats(PyObject *obj, Floats *out) {
    if (PyObject_GetBuffer(obj, &out->view, PyBUF_RECORDS_RO) < 0) return -1;
    const char *fmt = item_format(&out->view);
    if (out->view.ndim != 1 || !(strcmp(fmt, "f") == 0 || strcmp(fmt, "d") == 0)) {
        PyBuffer_Release(&out->view);
        PyErr_SetString(PyExc_TypeError, "a 1-D float32 or float64 array is needed");
        return -1;
    }
    out->f32 = fmt[0] == 'f';
    out->data = out->view.buf;
    out->n = out->view.shape[0];
    out->stride = out->view.strides[0];
    return 0;
}

static inline double value_at(const Floats *a, Py_ssize_t i) {
    const char *p = a->data + i * a->stride;
    if (a->f32) {
        float f;
        memcpy(&f, p, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, p, sizeof d);
    return d;
}

/* ---- selection: the k-th smallest, as np.sort(a)[k] ---- */

/* Keys that order as the floats do (unsigned integers): -0.0 as +0.0 (equal to it), NaN last
   (where np.sort puts it). */
static inline uint32_t key32(uint32_t w) { /* (no branch: the loop over the values vectorises) */
    w = w == 0x80000000u ? 0 : w;
    uint32_t key = w ^ ((uint32_t)-(int32_t)(w >> 31) | 0x80000000u);
    return (w & 0x7fffffffu) > 0x7f800000u ? UINT32_MAX : key;
}

static inline uint64_t key64(uint64_t w) {
    w = w == 0x8000000000000000ull ? 0 : w;
    uint64_t key = w ^ ((uint64_t)-(int64_t)(w >> 63) | 0x8000000000000000ull);
    return (w & 0x7fffffffffffffffull) > 0x7ff0000000000000ull ? UINT64_MAX : key;
}

static inline double float_of32(uint32_t key) {
    uint32_t w = (key >> 31) ? key ^ 0x80000000u : ~key;
    float f;
    memcpy(&f, &w, sizeof f);
    return f;
}

static inline double float_of64(uint64_t key) {
    uint64_t w = (key >> 63) ? key ^ 0x8000000000000000ull : ~key;
    double d;
    memcpy(&d, &w, sizeof d);
    return d;
}

/* Scratch for the keys (the original order, then the kept ones). Up to SCRATCH_KEPT bytes it is kept
   between calls (a working copy's few thousand values: no allocation a call; the GIL is held); a
   larger one (a crop at full resolution) is allocated for the call and freed (:func:`done_with`). */
#define SCRATCH_KEPT (1 << 20)
static void *kept_scratch = NULL;

static void *scratch(size_t bytes) {
    static size_t room = 0;
    if (bytes > SCRATCH_KEPT) {
        void *own = PyMem_Malloc(bytes);
        return own ? own : PyErr_NoMemory();
    }
    if (bytes > room || !kept_scratch) {
        void *grown = PyMem_Realloc(kept_scratch, SCRATCH_KEPT);
        if (!grown) return PyErr_NoMemory();
        kept_scratch = grown;
        room = SCRATCH_KEPT;
    }
    return kept_scratch;
}

static void done_with(void *buffer) {
    if (buffer != kept_scratch) PyMem_Free(buffer);
}

#define DIGIT_BITS 8
#define DIGITS (1 << DIGIT_BITS)

/* The k-th smallest of keys[0..n) by radix selection, most significant digit first. Each pass
   keeps, in ``work``, only the keys sharing the digits fixed so far, and stops once they are all
   equal: a few short passes whatever the ties (np.partition's introselect slows many-fold on long
   runs of one value, an ink map's zeros or white paper's), where np.sort sorts everything. */
#define SELECT(NAME, KEY, BITS)                                                               \
    static KEY NAME(const KEY *keys, KEY *work, Py_ssize_t n, Py_ssize_t k, Py_ssize_t *rest) { \
        uint32_t count[DIGITS], lane[4][DIGITS];                                              \
        const KEY *from = keys;                                                               \
        for (int shift = BITS - DIGIT_BITS; shift >= 0; shift -= DIGIT_BITS) {                \
            /* four histograms, summed: equal keys in a row would otherwise wait on one counter */ \
            memset(lane, 0, sizeof lane);                                                     \
            Py_ssize_t i = 0;                                                                 \
            for (; i + 4 <= n; i += 4)                                                        \
                for (int j = 0; j < 4; j++) lane[j][(from[i + j] >> shift) & (DIGITS - 1)]++; \
            for (; i < n; i++) lane[0][(from[i] >> shift) & (DIGITS - 1)]++;                  \
            for (int d = 0; d < DIGITS; d++) count[d] = lane[0][d] + lane[1][d] + lane[2][d] + lane[3][d]; \
            KEY digit = 0;                                                                    \
            while (k >= count[digit]) k -= count[digit++];                                    \
            Py_ssize_t kept = 0;                                                              \
            KEY low = (KEY)-1, high = 0;                                                      \
            for (i = 0; i < n; i++) {                                                         \
                KEY key = from[i];                                                            \
                work[kept] = key;                                                             \
                if (((key >> shift) & (DIGITS - 1)) == digit) {                               \
                    kept++;                                                                   \
                    low = key < low ? key : low;                                              \
                    high = key > high ? key : high;                                           \
                }                                                                             \
            }                                                                                 \
            if (low == high) { /* the keys left are equal: it is any of them */               \
                *rest = k;     /* (how many of them come before it) */                        \
                return low;                                                                   \
            }                                                                                 \
            from = work;                                                                      \
            n = kept;                                                                         \
        }                                                                                     \
        *rest = k;                                                                            \
        return from[0];                                                                       \
    }

SELECT(select32, uint32_t, 32)
SELECT(select64, uint64_t, 64)

/* The k-th smallest value of ``a`` and, with ``below``, the (k-1)-th (k >= 1): the k-th again when
   an equal value comes before it, else the largest value under it (one more pass). */
#define KTH_OF(NAME, KEY, KEY_OF, VALUE_OF, SELECT_KEY)                                  \
    static int NAME(const Floats *a, Py_ssize_t k, double *value, double *below) {       \
        Py_ssize_t n = a->n, rest;                                                       \
        KEY *keys = scratch(2 * (size_t)n * sizeof *keys);                               \
        if (!keys) return -1;                                                            \
        if (a->stride == sizeof(KEY)) { /* (contiguous: the compiler vectorises it) */ \
            const KEY *words = (const KEY *)a->data;                                     \
            for (Py_ssize_t i = 0; i < n; i++) keys[i] = KEY_OF(words[i]);               \
        } else {                                                                         \
            for (Py_ssize_t i = 0; i < n; i++) {                                         \
                KEY w;                                                                   \
                memcpy(&w, a->data + i * a->stride, sizeof w);                           \
                keys[i] = KEY_OF(w);                                                     \
            }                                                                            \
        }                                                                                \
        KEY v = SELECT_KEY(keys, keys + n, n, k, &rest);                                 \
        *value = VALUE_OF(v);                                                            \
        if (below) {                                                                     \
            KEY largest = v;                                                             \
            if (!rest) {                                                                 \
                largest = 0;                                                             \
                for (Py_ssize_t i = 0; i < n; i++)                                       \
                    if (keys[i] < v && keys[i] > largest) largest = keys[i];             \
            }                                                                            \
            *below = VALUE_OF(largest);                                                  \
        }                                                                                \
        done_with(keys);                                                                 \
        return 0;                                                                        \
    }

KTH_OF(kth32, uint32_t, key32, float_of32, select32)
KTH_OF(kth64, uint64_t, key64, float_of64, select64)

int dw_kth_of(const Floats *a, Py_ssize_t k, double *value, double *below) {
    return a->f32 ? kth32(a, k, value, below) : kth64(a, k, value, below);
}

PyObject *dw_kth(PyObject *self, PyObject *args) {
    PyObject *obj;
    Py_ssize_t k;
    Floats a;
    double v;
    if (!PyArg_ParseTuple(args, "On", &obj, &k) || get_floats(obj, &a) < 0) return NULL;
    if (k < 0 || k >= a.n) {
        PyBuffer_Release(&a.view);
        PyErr_SetString(PyExc_IndexError, "k out of range");
        return NULL;
    }
    int failed = dw_kth_of(&a, k, &v, NULL);
    PyBuffer_Release(&a.view);
    return failed ? NULL : PyFloat_FromDouble(v);
}

/* np.median of floats: the middle value, or the two middle ones' mean in the array's type. */
PyObject *dw_median(PyObject *self, PyObject *obj) {
    Floats a;
    double v, low;
    if (get_floats(obj, &a) < 0) return NULL;
    if (a.n == 0) {
        PyBuffer_Release(&a.view);
        PyErr_SetString(PyExc_ValueError, "median of nothing");
        return NULL;
    }
    int even = a.n % 2 == 0;
    int failed = dw_kth_of(&a, a.n / 2, &v, even ? &low : NULL);
    PyBuffer_Release(&a.view);
    if (failed) return NULL;
    if (even) v = a.f32 ? (double)(((float)low + (float)v) / 2.0f) : (low + v) / 2.0;
    return PyFloat_FromDouble(v);
}

/* ---- Otsu's threshold, as measure.otsu's numpy ---- */

PyObject *dw_otsu(PyObject *self, PyObject *args) {
    PyObject *obj;
    double top;
    int bins;
    double eps;
    Floats a;
    if (!PyArg_ParseTuple(args, "Odid", &obj, &top, &bins, &eps)) return NULL;
    if (bins < 1 || bins > 65536 || !(top > 0)) {
        PyErr_SetString(PyExc_ValueError, "bins must be 1..65536 and top positive");
        return NULL;
    }
    if (get_floats(obj, &a) < 0) return NULL;
    double *hist = PyMem_Calloc((size_t)bins * 4, sizeof(double));
    if (!hist) {
        PyBuffer_Release(&a.view);
        return PyErr_NoMemory();
    }
    double *w0 = hist + bins, *m0 = w0 + bins, *centers = m0 + bins;
    double scale = bins / top;
    float scale32 = (float)scale;
    for (Py_ssize_t i = 0; i < a.n; i++) {
        double v = a.f32 ? (double)((float)value_at(&a, i) * scale32) : value_at(&a, i) * scale;
        if (!(v > -1.0)) { /* a negative index or NaN: numpy's bincount refuses it */
            PyMem_Free(hist);
            PyBuffer_Release(&a.view);
            PyErr_SetString(PyExc_ValueError, "values must be non-negative");
            return NULL;
        }
        hist[v >= bins ? bins - 1 : (int)v] += 1.0;
    }
    PyBuffer_Release(&a.view);
    double step = top / bins, w = 0.0, m = 0.0;
    for (int i = 0; i < bins; i++) {
        centers[i] = ((double)i + 0.5) * step;
        w += hist[i];
        w0[i] = w;
        m += hist[i] * centers[i];
        m0[i] = m;
    }
    double best = 0.0;
    int at = 0;
    for (int i = 0; i < bins; i++) {
        double w1 = w0[bins - 1] - w0[i];
        double mu0 = m0[i] / (w0[i] > eps ? w0[i] : eps);
        double mu1 = (m0[bins - 1] - m0[i]) / (w1 > eps ? w1 : eps);
        double d = mu0 - mu1;
        double between = w0[i] * w1 * (d * d);
        if (between != between) { /* np.argmax stops at the first NaN */
            at = i;
            break;
        }
        if (i == 0 || between > best) {
            best = between;
            at = i;
        }
    }
    double t = centers[at];
    PyMem_Free(hist);
    return PyFloat_FromDouble(t);
}

/* ---- stroke width's counts: ink pixels, and those whose 8 neighbours are all ink ---- */

PyObject *dw_ink_and_inner(PyObject *self, PyObject *obj) {
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_RECORDS_RO) < 0) return NULL;
    const char *fmt = item_format(&v);
    if (v.ndim != 2 || v.itemsize != 1 || !(strcmp(fmt, "?") == 0 || strcmp(fmt, "B") == 0)) {
        PyBuffer_Release(&v);
        PyErr_SetString(PyExc_TypeError, "a 2-D bool array is needed");
        return NULL;
    }
    Py_ssize_t h = v.shape[0], w = v.shape[1], rs = v.strides[0], cs = v.strides[1];
    const unsigned char *p = v.buf;
#define AT(y, x) (p[(y) * rs + (x) * cs] != 0)
    long long area = 0, inner = 0;
    for (Py_ssize_t y = 0; y < h; y++)
        for (Py_ssize_t x = 0; x < w; x++) area += AT(y, x);
    for (Py_ssize_t y = 1; y + 1 < h; y++)
        for (Py_ssize_t x = 1; x + 1 < w; x++)
            inner += AT(y, x) && AT(y - 1, x) && AT(y + 1, x) && AT(y, x - 1) && AT(y, x + 1) && AT(y - 1, x - 1) &&
                     AT(y - 1, x + 1) && AT(y + 1, x - 1) && AT(y + 1, x + 1);
#undef AT
    PyBuffer_Release(&v);
    return Py_BuildValue("LL", area, inner);
}
