/* The reading path's small costly steps in C: measurements of preprocess/measure.py, each giving
   exactly its numpy twin's answer.

   Why C: a digit's reading path makes hundreds of numpy calls on arrays of a few thousand
   pixels, where each call's overhead outweighs its work; these are the ones that cost most
   (sorting for a median or quantile, Otsu's histogram, the stroke width's erosion). Only the
   buffer protocol is used, so the module builds without numpy's headers. measure.py holds the
   numpy twin of each, used when this module is not built; tests/test_kernels.py holds them equal.

   Arithmetic: every sum is taken in numpy's order and type (no reassociation, no FMA:
   setup.py builds with -ffp-contract=off). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

/* ---- a 1-D float32 or float64 buffer, any stride ---- */

typedef struct {
    Py_buffer view;
    const char *data;
    Py_ssize_t n, stride;
    int f32; /* 1: float32, 0: float64 */
} Floats;

static int get_floats(PyObject *obj, Floats *out) {
    if (PyObject_GetBuffer(obj, &out->view, PyBUF_RECORDS_RO) < 0) return -1;
    const char *fmt = out->view.format ? out->view.format : "B";
    if (*fmt == '<' || *fmt == '=' || *fmt == '@') fmt++;
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

static int kth_of(const Floats *a, Py_ssize_t k, double *value, double *below) {
    return a->f32 ? kth32(a, k, value, below) : kth64(a, k, value, below);
}

static PyObject *kth(PyObject *self, PyObject *args) {
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
    int failed = kth_of(&a, k, &v, NULL);
    PyBuffer_Release(&a.view);
    return failed ? NULL : PyFloat_FromDouble(v);
}

/* np.median of floats: the middle value, or the two middle ones' mean in the array's type. */
static PyObject *median(PyObject *self, PyObject *obj) {
    Floats a;
    double v, low;
    if (get_floats(obj, &a) < 0) return NULL;
    if (a.n == 0) {
        PyBuffer_Release(&a.view);
        PyErr_SetString(PyExc_ValueError, "median of nothing");
        return NULL;
    }
    int even = a.n % 2 == 0;
    int failed = kth_of(&a, a.n / 2, &v, even ? &low : NULL);
    PyBuffer_Release(&a.view);
    if (failed) return NULL;
    if (even) v = a.f32 ? (double)(((float)low + (float)v) / 2.0f) : (low + v) / 2.0;
    return PyFloat_FromDouble(v);
}

/* ---- Otsu's threshold, as measure.otsu's numpy ---- */

static PyObject *otsu(PyObject *self, PyObject *args) {
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

static PyObject *ink_and_inner(PyObject *self, PyObject *obj) {
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_RECORDS_RO) < 0) return NULL;
    const char *fmt = v.format ? v.format : "B";
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

/* ---- resizing a float32 picture as Pillow's Image.resize does (BOX or BILINEAR, the whole picture) ---- */

/* Pillow's two filters and its coefficients (libImaging/Resample.c, precompute_coeffs), in its order
   of operations: the same weights to the bit, so the same pixels. */
static double box_weight(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

static double bilinear_weight(double x) {
    x = x < 0.0 ? -x : x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static int coefficients(int in_size, int out_size, int bilinear, int **bounds, double **weights) {
    double support = bilinear ? 1.0 : 0.5;
    double scale = (double)((float)in_size - 0.0f) / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    support *= filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *kk = PyMem_Calloc((size_t)out_size * ksize, sizeof(double));
    int *bb = PyMem_Calloc((size_t)out_size * 2, sizeof(int));
    if (!kk || !bb) {
        PyMem_Free(kk);
        PyMem_Free(bb);
        PyErr_NoMemory();
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = 0.0f + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        xmin = xmin < 0 ? 0 : xmin;
        xmax = (xmax > in_size ? in_size : xmax) - xmin;
        double *k = kk + (size_t)xx * ksize;
        for (int x = 0; x < xmax; x++) {
            double w = (bilinear ? bilinear_weight : box_weight)((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        bb[2 * xx] = xmin;
        bb[2 * xx + 1] = xmax;
    }
    *bounds = bb;
    *weights = kk;
    return ksize;
}

static PyObject *resized(PyObject *self, PyObject *args) {
    PyObject *obj;
    int out_h, out_w, bilinear;
    if (!PyArg_ParseTuple(args, "Oiip", &obj, &out_h, &out_w, &bilinear)) return NULL;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_RECORDS_RO) < 0) return NULL;
    const char *fmt = v.format ? v.format : "B";
    if (*fmt == '<' || *fmt == '=' || *fmt == '@') fmt++;
    if (v.ndim != 2 || strcmp(fmt, "f") != 0 || out_h < 1 || out_w < 1) {
        PyBuffer_Release(&v);
        PyErr_SetString(PyExc_TypeError, "a 2-D float32 array and a size of at least 1x1 are needed");
        return NULL;
    }
    int h = (int)v.shape[0], w = (int)v.shape[1];
    Py_ssize_t rs = v.strides[0], cs = v.strides[1];
#define PIXEL(y, x) (*(const float *)((const char *)v.buf + (y) * rs + (x) * cs))
    int *vb = NULL, *hb = NULL;
    double *vk = NULL, *hk = NULL;
    float *temp = NULL;
    PyObject *out = NULL;
    int vsize = coefficients(h, out_h, bilinear, &vb, &vk), hsize = vsize ? coefficients(w, out_w, bilinear, &hb, &hk) : 0;
    if (!hsize) goto done;
    /* Pillow 13's passes: across (only the rows the second pass reads), then down - or down first when
       the height shrinks by more than twice what the width does; a pass it does not need, it skips. */
    int across = out_w != w, down = out_h != h, across_first = !(h - out_h > 0 && h - out_h > (w - out_w) * 2);
    int first = across_first && across ? vb[0] : 0;
    int rows = across_first ? (across ? vb[2 * out_h - 2] + vb[2 * out_h - 1] - first : h) : out_h;
    int cols = across_first ? out_w : w;
    temp = PyMem_Malloc((size_t)rows * cols * sizeof(float));
    out = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)out_h * out_w * (Py_ssize_t)sizeof(float));
    if (!temp || !out) {
        if (!temp) PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    float *px = (float *)PyByteArray_AS_STRING(out);
    if (across_first) {
        for (int y = 0; y < rows; y++) /* across, into temp (a copy when not needed) */
            for (int xx = 0; xx < cols; xx++) {
                if (!across) {
                    temp[(size_t)y * cols + xx] = PIXEL(y, xx);
                    continue;
                }
                const double *k = hk + (size_t)xx * hsize;
                double ss = 0.0;
                for (int x = 0; x < hb[2 * xx + 1]; x++) ss += PIXEL(y + first, x + hb[2 * xx]) * k[x];
                temp[(size_t)y * cols + xx] = (float)ss;
            }
        for (int yy = 0; yy < out_h; yy++) { /* down, into out (a copy when not needed) */
            const double *k = vk + (size_t)yy * vsize;
            int ymin = vb[2 * yy] - first, ymax = vb[2 * yy + 1];
            for (int xx = 0; xx < out_w; xx++) {
                if (!down) {
                    px[(size_t)yy * out_w + xx] = temp[(size_t)yy * cols + xx];
                    continue;
                }
                double ss = 0.0;
                for (int y = 0; y < ymax; y++) ss += temp[(size_t)(y + ymin) * cols + xx] * k[y];
                px[(size_t)yy * out_w + xx] = (float)ss;
            }
        }
    } else {
        for (int yy = 0; yy < out_h; yy++) { /* down (it is needed: the height shrinks), into temp */
            const double *k = vk + (size_t)yy * vsize;
            for (int x = 0; x < w; x++) {
                double ss = 0.0;
                for (int y = 0; y < vb[2 * yy + 1]; y++) ss += PIXEL(y + vb[2 * yy], x) * k[y];
                temp[(size_t)yy * cols + x] = (float)ss;
            }
        }
        for (int yy = 0; yy < out_h; yy++) /* across, into out (a copy when not needed) */
            for (int xx = 0; xx < out_w; xx++) {
                if (!across) {
                    px[(size_t)yy * out_w + xx] = temp[(size_t)yy * cols + xx];
                    continue;
                }
                const double *k = hk + (size_t)xx * hsize;
                double ss = 0.0;
                for (int x = 0; x < hb[2 * xx + 1]; x++) ss += temp[(size_t)yy * cols + x + hb[2 * xx]] * k[x];
                px[(size_t)yy * out_w + xx] = (float)ss;
            }
    }
#undef PIXEL
done:
    PyMem_Free(vb);
    PyMem_Free(vk);
    PyMem_Free(hb);
    PyMem_Free(hk);
    PyMem_Free(temp);
    PyBuffer_Release(&v);
    return out;
}

/* ---- the centre of mass, as box.centre_of_mass's numpy sums ---- */

/* numpy's pairwise summation (its sum of a contiguous array): runs under 8 one by one, blocks of up to
   128 in eight interleaved sums, longer runs halved (at a multiple of 8). ``weight`` 0: the values
   summed as float32; 1 or 2: each value times its row or column, as float64. */
#define PAIRWISE(NAME, T, VALUE)                                                        \
    static T NAME(const float *a, Py_ssize_t at, Py_ssize_t n, Py_ssize_t w) {          \
        if (n < 8) {                                                                    \
            T res = 0;                                                                  \
            for (Py_ssize_t i = 0; i < n; i++) res += VALUE(at + i);                    \
            return res;                                                                 \
        }                                                                               \
        if (n <= 128) {                                                                 \
            T r[8];                                                                     \
            for (int j = 0; j < 8; j++) r[j] = VALUE(at + j);                           \
            Py_ssize_t i = 8;                                                           \
            for (; i < n - (n % 8); i += 8)                                             \
                for (int j = 0; j < 8; j++) r[j] += VALUE(at + i + j);                  \
            T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));  \
            for (; i < n; i++) res += VALUE(at + i);                                    \
            return res;                                                                 \
        }                                                                               \
        Py_ssize_t half = n / 2;                                                        \
        half -= half % 8;                                                               \
        return NAME(a, at, half, w) + NAME(a, at + half, n - half, w);                  \
    }

#define PLAIN(i) a[i]
#define BY_ROW(i) ((double)a[i] * (double)((i) / w))
#define BY_COLUMN(i) ((double)a[i] * (double)((i) % w))
PAIRWISE(sum32, float, PLAIN)
PAIRWISE(sum_by_row, double, BY_ROW)
PAIRWISE(sum_by_column, double, BY_COLUMN)

static PyObject *centre_of_mass(PyObject *self, PyObject *obj) {
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    const char *fmt = v.format ? v.format : "B";
    if (*fmt == '<' || *fmt == '=' || *fmt == '@') fmt++;
    if (v.ndim != 2 || strcmp(fmt, "f") != 0) {
        PyBuffer_Release(&v);
        PyErr_SetString(PyExc_TypeError, "a C-contiguous 2-D float32 array is needed");
        return NULL;
    }
    const float *a = v.buf;
    Py_ssize_t h = v.shape[0], w = v.shape[1], n = h * w;
    float total = sum32(a, 0, n, w);
    double cy, cx;
    if (!(total > 0)) { /* nothing there: the middle */
        cy = (h - 1) / 2.0;
        cx = (w - 1) / 2.0;
    } else {
        cy = sum_by_row(a, 0, n, w) / (double)total;
        cx = sum_by_column(a, 0, n, w) / (double)total;
    }
    PyBuffer_Release(&v);
    return Py_BuildValue("dd", cy, cx);
}

/* ---- a digit's strokes: its ink within a pixel of it, scaled by the strokes' core (box.cropped) ---- */

static PyObject *strokes(PyObject *self, PyObject *args) {
    PyObject *ink_obj, *mask_obj;
    double q, eps;
    if (!PyArg_ParseTuple(args, "OOdd", &ink_obj, &mask_obj, &q, &eps)) return NULL;
    Py_buffer ink, mask;
    if (PyObject_GetBuffer(ink_obj, &ink, PyBUF_RECORDS_RO) < 0) return NULL;
    if (PyObject_GetBuffer(mask_obj, &mask, PyBUF_RECORDS_RO) < 0) {
        PyBuffer_Release(&ink);
        return NULL;
    }
    const char *fi = ink.format ? ink.format : "B", *fm = mask.format ? mask.format : "B";
    if (*fi == '<' || *fi == '=' || *fi == '@') fi++;
    PyObject *out = NULL;
    float *soft = NULL;
    if (ink.ndim != 2 || mask.ndim != 2 || strcmp(fi, "f") != 0 || mask.itemsize != 1 ||
        !(strcmp(fm, "?") == 0 || strcmp(fm, "B") == 0) || ink.shape[0] != mask.shape[0] ||
        ink.shape[1] != mask.shape[1]) {
        PyErr_SetString(PyExc_TypeError, "a 2-D float32 ink map and a 2-D bool mask of its shape are needed");
        goto done;
    }
    Py_ssize_t h = ink.shape[0], w = ink.shape[1];
#define INK(y, x) (*(const float *)((const char *)ink.buf + (y) * ink.strides[0] + (x) * ink.strides[1]))
#define SET(y, x) (((const unsigned char *)mask.buf)[(y) * mask.strides[0] + (x) * mask.strides[1]] != 0)
    out = PyByteArray_FromStringAndSize(NULL, h * w * (Py_ssize_t)sizeof(float));
    soft = PyMem_Malloc((size_t)(h * w + 1) * sizeof(float)); /* the mask's ink, for its quantile */
    if (!out || !soft) {
        if (!soft) PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    float *px = (float *)PyByteArray_AS_STRING(out);
    Py_ssize_t n = 0;
    for (Py_ssize_t y = 0; y < h; y++)
        for (Py_ssize_t x = 0; x < w; x++) {
            int near = 0; /* the mask dilated by a pixel, 8 ways */
            for (Py_ssize_t dy = y ? -1 : 0; dy <= (y + 1 < h ? 1 : 0) && !near; dy++)
                for (Py_ssize_t dx = x ? -1 : 0; dx <= (x + 1 < w ? 1 : 0) && !near; dx++) near = SET(y + dy, x + dx);
            float v = INK(y, x) * (float)near;
            px[y * w + x] = v;
            if (SET(y, x)) soft[n++] = v;
        }
    if (!n) {
        PyErr_SetString(PyExc_IndexError, "the mask holds no pixel");
        Py_CLEAR(out);
        goto done;
    }
    Floats picked = {.data = (const char *)soft, .n = n, .stride = sizeof(float), .f32 = 1};
    Py_ssize_t k = (Py_ssize_t)(q * (double)n);
    double core;
    if (kth_of(&picked, k < n - 1 ? k : n - 1, &core, NULL) < 0) {
        Py_CLEAR(out);
        goto done;
    }
    float by = (float)(eps > core ? eps : core); /* Python's max(core, eps), then numpy's float32 division */
    for (Py_ssize_t i = 0; i < h * w; i++) {
        float v = px[i] / by;
        v = v < 0.0f ? 0.0f : v;
        px[i] = v > 1.0f ? 1.0f : v;
    }
#undef INK
#undef SET
done:
    PyMem_Free(soft);
    PyBuffer_Release(&ink);
    PyBuffer_Release(&mask);
    return out;
}

static PyMethodDef methods[] = {
    {"kth", kth, METH_VARARGS, "kth(a, k): np.sort(a)[k] of a 1-D float32/float64 array, as a float."},
    {"median", median, METH_O, "median(a): np.median of a 1-D float32/float64 array, as a float."},
    {"otsu", otsu, METH_VARARGS, "otsu(a, top, bins, eps): measure.otsu of a 1-D float32/float64 array."},
    {"ink_and_inner", ink_and_inner, METH_O,
     "ink_and_inner(mask): (set pixels, set pixels whose 8 neighbours are set) of a 2-D bool array."},
    {"resized", resized, METH_VARARGS,
     "resized(a, height, width, bilinear): a 2-D float32 array resized as Pillow resizes an F image "
     "(BILINEAR, else BOX), as a bytearray of float32."},
    {"centre_of_mass", centre_of_mass, METH_O,
     "centre_of_mass(a): (row, column) of a C-contiguous 2-D float32 array's mass, as box.centre_of_mass."},
    {"strokes", strokes, METH_VARARGS,
     "strokes(ink, mask, q, eps): box.cropped's soft ink map (a bytearray of float32, the ink's shape)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
