"""Runtime checks of the typing, run by ``tests/test_typing.py`` in a fresh
interpreter per implementation (``TLSFAST_IMPL`` decides what ``import
tlsfast`` -- and so ``tlsfast.gevent`` / ``tlsfast.eventlet`` -- is built on).

``python typing_probe.py bases STUB_DIR``
    every class of the stubs in ``STUB_DIR/tlsfast/*.pyi`` has, at runtime,
    the bases the stub declares (``mypy.stubtest`` does not compare bases):
    ``tlsfast.SSLContext`` really is an ``ssl.SSLContext``...
``python typing_probe.py signatures``
    ``inspect.signature`` works for every public callable tlsfast defines:
    the names of ``tlsfast.__all__``, ``tlsfast.gevent.__all__`` and
    ``tlsfast.eventlet.__all__``, and the public methods of their classes.
    What tlsfast takes from the stdlib or the green library as it is (the
    stdlib's exceptions, ``socket.socket.bind``...) is theirs, not checked.

Each prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys
import warnings

#: typing constructs a stub may list among a class's bases
TYPING_BASES = {"Generic", "Protocol"}


# --------------------------------------------------------------------------
# bases
# --------------------------------------------------------------------------

class Stub:
    """One stub module: its imports and top-level classes."""

    def __init__(self, module: str, path: str):
        self.module = module
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        self.modules: dict[str, str] = {}                # alias -> module
        self.names: dict[str, tuple[str, str]] = {}      # alias -> (module, name)
        self.classes: dict[str, ast.ClassDef] = {}
        for node in tree.body:
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.modules[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    self.names[a.asname or a.name] = (node.module, a.name)
            elif isinstance(node, ast.ClassDef):
                self.classes[node.name] = node


def _type_check_only(node: ast.ClassDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "type_check_only" for d in node.decorator_list)


class Bases:
    def __init__(self, stub_dir: str):
        self.stubs: dict[str, Stub] = {}
        package = os.path.join(stub_dir, "tlsfast")
        for name in sorted(os.listdir(package)):
            if name.endswith(".pyi"):
                stem = name[:-4]
                module = "tlsfast" if stem == "__init__" else f"tlsfast.{stem}"
                self.stubs[module] = Stub(module, os.path.join(package, name))

    def runtime_class(self, module: str, name: str) -> list:
        """The runtime classes stub class ``module.name`` stands for: itself,
        or for a ``@type_check_only`` class the runtime classes of its bases."""
        stub = self.stubs.get(module)
        if stub is not None and name in stub.classes:
            node = stub.classes[name]
            if _type_check_only(node):
                return [c for base in node.bases for c in self.resolve(stub, base)]
            return [getattr(importlib.import_module(module), name)]
        if stub is not None and name in stub.names:
            return self.runtime_class(*stub.names[name])
        return [getattr(importlib.import_module(module), name)]

    def resolve(self, stub: Stub, expr: ast.expr) -> list:
        """The runtime classes a base expression of ``stub`` names."""
        if isinstance(expr, ast.Subscript):          # Generic[...], Base[T]
            return self.resolve(stub, expr.value)
        if isinstance(expr, ast.Name):
            if expr.id in TYPING_BASES:
                return []
            if expr.id in stub.names:
                return self.runtime_class(*stub.names[expr.id])
            return self.runtime_class(stub.module, expr.id)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            module = stub.modules.get(expr.value.id, expr.value.id)
            return self.runtime_class(module, expr.attr)
        raise ValueError(f"{stub.module}: cannot read the base {ast.dump(expr)}")

    def problems(self):
        for module, stub in self.stubs.items():
            for name, node in stub.classes.items():
                if _type_check_only(node):
                    continue
                try:
                    cls = getattr(importlib.import_module(module), name)
                except AttributeError:
                    yield f"{module}.{name}: in the stub, not at runtime"
                    continue
                for base in node.bases:
                    for want in self.resolve(stub, base):
                        if not (isinstance(cls, type) and issubclass(cls, want)):
                            yield (f"{module}.{name}: the stub's base {ast.unparse(base)} "
                                   f"({want.__module__}.{want.__qualname__}) is not a base at "
                                   f"runtime; its bases there: "
                                   + ", ".join(f"{b.__module__}.{b.__qualname__}"
                                               for b in getattr(cls, "__mro__", ())[1:]))


# --------------------------------------------------------------------------
# signatures
# --------------------------------------------------------------------------

def _defined_by_tlsfast(cls: type, name: str) -> bool:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass.__module__.split(".")[0] == "tlsfast"
    return False


def _signature_problem(label: str, obj) -> str | None:
    try:
        inspect.signature(obj)
    except Exception as exc:      # noqa: BLE001 - 3.9 raises RuntimeError for a bad text signature
        return f"{label}: inspect.signature fails ({type(exc).__name__}: {exc})"
    return None


def signature_problems():
    import ssl

    import tlsfast
    modules = [tlsfast]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)     # eventlet's own warning
        for name in ("tlsfast.gevent", "tlsfast.eventlet"):
            modules.append(importlib.import_module(name))
    seen = set()
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj) or obj is getattr(ssl, name, None):
                continue                # the stdlib's own object, re-exported
            if getattr(obj, "__module__", "").split(".")[0] != "tlsfast":
                continue                # the green library's (IOClosed...)
            label = f"{module.__name__}.{name}"
            yield _signature_problem(label, obj)
            if not isinstance(obj, type) or obj in seen:
                continue
            seen.add(obj)
            for attr in sorted(dir(obj)):
                if attr.startswith("_") or not _defined_by_tlsfast(obj, attr):
                    continue
                static = inspect.getattr_static(obj, attr)
                if isinstance(static, property) or inspect.isdatadescriptor(static):
                    continue
                value = getattr(obj, attr)
                if callable(value) and not isinstance(value, type):
                    yield _signature_problem(f"{label}.{attr}", value)


def main(argv: list[str]) -> int:
    if argv[:1] == ["bases"] and len(argv) == 2:
        found = list(Bases(argv[1]).problems())
    elif argv == ["signatures"]:
        found = [p for p in signature_problems() if p]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    import tlsfast
    print(f"implementation {tlsfast.__impl__}: {len(found)} problem(s)")
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
