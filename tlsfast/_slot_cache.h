/* The _sslobj slot cache of SSLSocket (used by _sslsocket.pxi).

   The hot SSLSocket methods read ``self._sslobj`` on every call; the generic
   attribute lookup of that slot costs about as much as the rest of the
   Python layer of a small recv_into.  So the slot is read at its offset when
   the instance's type is the one seen last (held: never freed and reused)
   and that type's version tag is unchanged.  CPython gives a type a new tag
   whenever it or a base changes (a new ``_sslobj`` or ``__getattribute__``,
   ``__class__`` assignment to another type...: PyType_Modified), and clears
   Py_TPFLAGS_VALID_VERSION_TAG when it cannot assign one; either way this
   falls back to the generic lookup.  A type is remembered only after the
   generic lookup found SSLSocket's own slot descriptor, through the plain
   PyObject_GenericGetAttr and a plain ``type`` metaclass.

   What it relies on, beyond the stable API: the PyTypeObject fields
   ``tp_version_tag`` / ``tp_flags`` (Py_TPFLAGS_VALID_VERSION_TAG) and
   PyMemberDescrObject's ``d_member``, all in the public non-limited headers.
   No private function.  Checked on CPython 3.9, 3.10, 3.11, 3.12 and 3.13
   (``make test-matrix``; tests/test_nonblocking.py covers subclasses, class
   changes and a patched ``_sslobj``).  Not for free-threaded builds, where
   another thread may change the type between the check and the load: the
   module declares that it needs the GIL. */
#ifndef TLSFAST_SLOT_CACHE_H
#define TLSFAST_SLOT_CACHE_H

#include "Python.h"
#include "structmember.h"   /* PyMemberDef (Python < 3.12) */

#ifdef Py_GIL_DISABLED
#error "the _sslobj slot cache is not safe without the GIL"
#endif
#ifndef Py_T_OBJECT_EX
#define Py_T_OBJECT_EX 16   /* T_OBJECT_EX: what __slots__ use */
#endif

static PyObject *tlsfast_slot_descr = NULL;
static Py_ssize_t tlsfast_slot_offset = 0;
static PyTypeObject *tlsfast_slot_type = NULL;
static unsigned int tlsfast_slot_tag = 0;

/* remember SSLSocket's own slot descriptor; 0 if it is not a plain slot */
static int tlsfast_slot_init(PyObject *descr) {
    if (!PyObject_TypeCheck(descr, &PyMemberDescr_Type)
            || ((PyMemberDescrObject *)descr)->d_member->type != Py_T_OBJECT_EX)
        return 0;   /* not a slot: the generic lookup every time */
    Py_INCREF(descr);
    tlsfast_slot_descr = descr;
    tlsfast_slot_offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    return 1;
}

/* borrowed value of the slot, or NULL: use the generic lookup */
static inline PyObject *tlsfast_slot_get(PyObject *obj) {
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == tlsfast_slot_type && tp->tp_version_tag == tlsfast_slot_tag
            && (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG))
        return *(PyObject **)((char *)obj + tlsfast_slot_offset);
    return NULL;
}

/* after a generic lookup of ``name`` on ``obj``: remember obj's type if the
   name resolves to SSLSocket's slot the plain way */
static void tlsfast_slot_learn(PyObject *obj, PyObject *name) {
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *found;
    if (tlsfast_slot_descr == NULL || tp->tp_getattro != PyObject_GenericGetAttr
            || Py_TYPE(tp) != &PyType_Type)
        return;
    /* with the plain ``type`` metaclass, getattr on the class returns the
       descriptor the MRO holds for a member descriptor (its __get__ with no
       instance returns itself) */
    found = PyObject_GetAttr((PyObject *)tp, name);
    if (found == NULL) {
        PyErr_Clear();
        return;
    }
    Py_DECREF(found);
    if (found != tlsfast_slot_descr || !(tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG))
        return;
    Py_INCREF(tp);
    Py_XDECREF(tlsfast_slot_type);
    tlsfast_slot_type = tp;
    tlsfast_slot_tag = tp->tp_version_tag;
}

#endif
