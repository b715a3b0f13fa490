/* The reading path's small costly steps in C, as one module (digitwatch.daemon._kernels): each gives
   its Python twin's answer to the bit (tests/test_kernels.py holds them equal).

   Why C: a digit's reading path makes hundreds of numpy calls on arrays of a few thousand pixels,
   where each call's overhead outweighs its work; these are the costliest (sorting for a median or
   quantile, Otsu's histogram, the stroke width's erosion, Pillow's image objects round a 28x28
   resize, numpy's sums for a centre of mass). Only the buffer protocol is used, so it builds without
   numpy's headers; preprocess/measure.py uses the twins where it was not built.

   Arithmetic: every sum in numpy's (or Pillow's) order and type - no reassociation, and no FMA
   (setup.py builds with -ffp-contract=off).

   order.c: order statistics and counts; boxing.c: a digit's strokes, its resize and centre of mass. */
#include "kernels.h"

static PyMethodDef methods[] = {
    {"kth", dw_kth, METH_VARARGS, "kth(a, k): np.sort(a)[k] of a 1-D float32/float64 array, as a float."},
    {"median", dw_median, METH_O, "median(a): np.median of a 1-D float32/float64 array, as a float."},
    {"otsu", dw_otsu, METH_VARARGS, "otsu(a, top, bins, eps): measure.otsu of a 1-D float32/float64 array."},
    {"ink_and_inner", dw_ink_and_inner, METH_O,
     "ink_and_inner(mask): (set pixels, set pixels whose 8 neighbours are set) of a 2-D bool array."},
    {"resized", dw_resized, METH_VARARGS,
     "resized(a, height, width, bilinear): a 2-D float32 array resized as Pillow resizes an F image "
     "(BILINEAR, else BOX), as a bytearray of float32."},
    {"centre_of_mass", dw_centre_of_mass, METH_O,
     "centre_of_mass(a): (row, column) of a C-contiguous 2-D float32 array's mass, as box.centre_of_mass."},
    {"strokes", dw_strokes, METH_VARARGS,
     "strokes(ink, mask, q, eps): box.cropped's soft ink map (a bytearray of float32, the ink's shape)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
