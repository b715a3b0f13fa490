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

/* A buffer's item format without its byte-order mark ("f", "d", "?", ...; "B" when it gives none). */
static inline const char *item_format(const Py_buffer *view) {
    const char *fmt = view->format ? view->format : "B";
    return (*fmt == '<' || *fmt == '=' || *fmt == '@') ? fmt + 1 : fmt;
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
