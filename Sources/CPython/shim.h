#ifndef TIDEPOOL_CPYTHON_SHIM_H
#define TIDEPOOL_CPYTHON_SHIM_H
#define PY_SSIZE_T_CLEAN
/* glibc's feature macros are fixed by the first header that includes
 * <features.h>. Python.h would define _GNU_SOURCE/_XOPEN_SOURCE first, which
 * renames fd_set's member (fds_bits instead of __fds_bits), and clang then
 * refuses to merge this module's fd_set with SwiftGlibc's and CTidepoolLinux's
 * (a clean build fails with "'fds_bits' from module 'CPython' is not present
 * in definition of 'fd_set'"). Taking glibc's defaults first keeps every
 * module's libc types identical; no type in Python's API changes layout. */
#include <sys/types.h>
#include <Python.h>

/* What Swift cannot import from Python.h: singleton objects and exception
 * types are C globals (Swift 6 rejects them as unsafe mutable state), and the
 * type checks are macros. Each helper is a one-line static inline function. */

/* New references to the singletons. */
static inline PyObject *tp_none(void) { return Py_NewRef(Py_None); }
static inline PyObject *tp_true(void) { return Py_NewRef(Py_True); }
static inline PyObject *tp_false(void) { return Py_NewRef(Py_False); }
static inline PyObject *tp_bool(int value) { return PyBool_FromLong(value); }
static inline int tp_is_none(PyObject *o) { return o == Py_None; }

/* Borrowed references to exception types. */
static inline PyObject *tp_exc_type_error(void) { return PyExc_TypeError; }
static inline PyObject *tp_exc_value_error(void) { return PyExc_ValueError; }
static inline PyObject *tp_exc_runtime_error(void) { return PyExc_RuntimeError; }
static inline PyObject *tp_exc_assertion_error(void) { return PyExc_AssertionError; }
static inline PyObject *tp_exc_stop_iteration(void) { return PyExc_StopIteration; }

/* Type checks (macros in Python.h). */
static inline int tp_bytes_check(PyObject *o) { return PyBytes_Check(o); }
static inline int tp_unicode_check(PyObject *o) { return PyUnicode_Check(o); }
static inline int tp_list_check(PyObject *o) { return PyList_Check(o); }
static inline int tp_tuple_check(PyObject *o) { return PyTuple_Check(o); }
static inline int tp_list_or_tuple_exact(PyObject *o) { return PyList_CheckExact(o) || PyTuple_CheckExact(o); }

/* The characters of a str when it is stored as compact ASCII (the usual case
 * for header names, values and statuses), without copying; NULL otherwise. */
static inline const char *tp_ascii_data(PyObject *o, Py_ssize_t *length) {
    if (!PyUnicode_Check(o) || !PyUnicode_IS_READY(o) || !PyUnicode_IS_COMPACT_ASCII(o)) return NULL;
    *length = PyUnicode_GET_LENGTH(o);
    return (const char *)PyUnicode_DATA(o);
}

/* The name of an object's type, for error messages (borrowed, valid while o lives). */
static inline const char *tp_type_name(PyObject *o) { return Py_TYPE(o)->tp_name; }

#endif
