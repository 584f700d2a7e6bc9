"""Sphinx configuration for tlsfast's documentation (``make docs``).

The API reference is autodoc'ed from BOTH implementations, so the compiled
module must be importable: build it in place first
(``TLSFAST_BUILD=c python3 setup.py -q build_ext --inplace``; ``make docs``
does).  Intersphinx reads the committed inventory
``_intersphinx/python3.inv`` and never goes to the network (see
``building.rst``).
"""

import os
import re
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)                       # the checkout, built in place
sys.path.insert(0, os.path.join(HERE, "_ext"))

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import tlsfast  # noqa: E402
import tlsfast._tls_c  # noqa: E402,F401  -- the reference documents it: fail loudly if not built
import tlsfast._tls_py  # noqa: E402,F401

project = "tlsfast"
author = "tlsfast developers"
copyright = "tlsfast developers"
release = version = tlsfast.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "mdinclude",
]

exclude_patterns = ["_build", "examples/README.rst", "_intersphinx", "Thumbs.db", ".DS_Store"]
templates_path = []
html_static_path = ["_static"]
html_theme = "furo"
html_title = f"tlsfast {release}"

# --- cross references -------------------------------------------------------
# Every reference must resolve: a renamed stdlib name or a tlsfast method
# that disappears fails the -W build instead of rendering as plain text.
nitpicky = True
nitpick_ignore = [
    # names that only exist in prose or signatures, not as documented objects
    ("py:class", "Buffer"),
    ("py:class", "optional"),
]
nitpick_ignore_regex = [
    # third-party libraries without an inventory here (gevent, eventlet, trio)
    ("py:.*", r"(gevent|eventlet|trio)(\..*)?"),
]

# The Python docs' object inventory, committed (no network at build time):
# Debian's python3.11-doc package, /usr/share/doc/python3.11/html/objects.inv
# (see docs/_intersphinx/README).  URIs in it are relative; they resolve
# against https://docs.python.org/3/.
PYTHON_INVENTORY = os.path.join(HERE, "_intersphinx", "python3.inv")
intersphinx_mapping = {"python": ("https://docs.python.org/3", PYTHON_INVENTORY)}
intersphinx_cache_limit = -1
intersphinx_timeout = 1

# --- autodoc ----------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "none"            # _tls_py has none; _protocol's are schematic
# Cython's embedsignature puts "Class.method(self, Py_ssize_t n=...)" first
# in each docstring, with C types in it.  inspect.signature() of the same
# function is clean Python, so use that and drop the embedded line.
autodoc_docstring_signature = False
autodoc_inherit_docstrings = True
add_module_names = False

_EMBEDDED_SIGNATURE = re.compile(r"^[\w.]+\(.*\)(\s*->\s*.*)?$")


def _strip_embedded_signature(app, what, name, obj, options, lines):
    if lines and _EMBEDDED_SIGNATURE.match(lines[0]):
        del lines[0]
        while lines and not lines[0].strip():
            del lines[0]


# The docstrings write stdlib names as literals (``ssl.SSLError``,
# ``ValueError``); link the ones the Python inventory knows, so they point at
# the Python docs like the hand-written pages do.  Unknown names stay
# literals (nitpicky mode would flag a link that does not resolve).
_PY_NAME = re.compile(r"``((?:ssl|socket|selectors|os|sys)\.[A-Za-z_][\w.]*|[A-Z]\w*(?:Error|Exception|Warning))``")
_ROLE_FOR = {"py:exception": "exc", "py:class": "class", "py:function": "func",
             "py:method": "meth", "py:data": "data", "py:attribute": "attr", "py:module": "mod"}
_python_names = {}


def _load_python_names():
    from sphinx.util.inventory import InventoryFile
    with open(PYTHON_INVENTORY, "rb") as f:
        inventory = InventoryFile.load(f, "", lambda base, uri: uri)
    for objtype, role in _ROLE_FOR.items():
        for name in inventory.get(objtype, {}):
            _python_names.setdefault(name, role)


def _link_stdlib_names(app, what, name, obj, options, lines):
    if not _python_names:
        _load_python_names()

    def link(m):
        target = m.group(1)
        role = _python_names.get(target)
        return f":py:{role}:`{target}`" if role else m.group(0)

    lines[:] = [_PY_NAME.sub(link, line) for line in lines]


# (the compiled cdef classes SSLObject / SSLSession show no signature anyway)
_NO_PUBLIC_CONSTRUCTOR = {"tlsfast._tls_c.SSLSocket", "tlsfast._tls_py.SSLSocket",
                          "tlsfast._tls_py.SSLObject"}


def _hide_private_constructors(app, what, name, obj, options, signature, return_annotation):
    """``SSLSocket`` / ``SSLObject`` / ``SSLSession`` have no public
    constructor (``wrap_socket``, ``wrap_bio`` and ``sock.session`` make
    them): show no signature rather than ``(*args, **kwargs)``."""
    if what == "class" and name in _NO_PUBLIC_CONSTRUCTOR:
        return "", return_annotation
    return None


def setup(app):
    app.connect("autodoc-process-signature", _hide_private_constructors)
    app.connect("autodoc-process-docstring", _strip_embedded_signature)
    app.connect("autodoc-process-docstring", _link_stdlib_names)
    app.add_css_file("tlsfast.css")
