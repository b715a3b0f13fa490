/* Boxing (box.py): a digit's strokes, Pillow 13's float resize, the centre of mass with numpy's sums -
   each its Python twin's answer to the bit. */
#include <math.h>

#include "kernels.h"

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

PyObject *dw_resized(PyObject *self, PyObject *args) {
    PyObject *obj;
    int out_h, out_w, bilinear;
    if (!PyArg_ParseTuple(args, "Oiip", &obj, &out_h, &out_w, &bilinear)) return NULL;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_RECORDS_RO) < 0) return NULL;
    const char *fmt = item_format(&v);
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

PyObject *dw_centre_of_mass(PyObject *self, PyObject *obj) {
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    const char *fmt = item_format(&v);
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

PyObject *dw_strokes(PyObject *self, PyObject *args) {
    PyObject *ink_obj, *mask_obj;
    double q, eps;
    if (!PyArg_ParseTuple(args, "OOdd", &ink_obj, &mask_obj, &q, &eps)) return NULL;
    Py_buffer ink, mask;
    if (PyObject_GetBuffer(ink_obj, &ink, PyBUF_RECORDS_RO) < 0) return NULL;
    if (PyObject_GetBuffer(mask_obj, &mask, PyBUF_RECORDS_RO) < 0) {
        PyBuffer_Release(&ink);
        return NULL;
    }
    const char *fi = item_format(&ink), *fm = item_format(&mask);
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
    if (dw_kth_of(&picked, k < n - 1 ? k : n - 1, &core, NULL) < 0) {
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
