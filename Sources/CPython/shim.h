#ifndef TIDEPOOL_CPYTHON_SHIM_H
#define TIDEPOOL_CPYTHON_SHIM_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#endif
