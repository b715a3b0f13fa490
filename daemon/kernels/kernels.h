/* What the kernels' files share (daemon/kernels/): see module.c for what they are and why in C. */
#ifndef DIGITWATCH_KERNELS_H
#define DIGITWATCH_KERNELS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- a 1-D float32 or float64 buffer, any stride ---- */

typedef struct {
    Py_buffer view;
    const char *data;
    Py_ssize_t n, stride;
    int f32; /* 1: float32, 0: float64 */
} Floats;

static inline int get_floats(PyObject *obj, Floats *out) {
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

/* order.c */
int dw_kth_of(const Floats *a, Py_ssize_t k, double *value, double *below);
PyObject *dw_kth(PyObject *self, PyObject *args);
PyObject *dw_median(PyObject *self, PyObject *obj);
PyObject *dw_otsu(PyObject *self, PyObject *args);
PyObject *dw_ink_and_inner(PyObject *self, PyObject *obj);
/* boxing.c */
PyObject *dw_strokes(PyObject *self, PyObject *args);
PyObject *dw_resized(PyObject *self, PyObject *args);
PyObject *dw_centre_of_mass(PyObject *self, PyObject *obj);

#endif
