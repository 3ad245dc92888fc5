"""Content fingerprints: a hash of everything that determines an object's answers.

:func:`digest` feeds the *content* of any Python object (numbers, arrays,
containers, objects by their attributes, functions by their code and closure
values) to a :mod:`hashlib` hash; :func:`fingerprint` returns the hex digest of
several parts. Used by :meth:`fe2.homogenization.RVE.fingerprint`, so that a macro
problem can share one oracle between subdomains whose oracles are interchangeable.

>>> fingerprint(1.0, "kubc", [1, 2]) == fingerprint(1.0, "kubc", [1, 2])
True
>>> fingerprint(lambda x, k=2.0: k * x) == fingerprint(lambda x, k=3.0: k * x)
False
"""

from __future__ import annotations

import functools
import hashlib
import logging
import types
from typing import Any

import numpy as np

__all__ = ["digest", "fingerprint"]

log = logging.getLogger(__name__)


def digest(h: Any, obj: Any, depth: int = 0) -> None:
    """Feed the content of ``obj`` to the hash ``h``: everything that determines an answer.

    Numbers, strings, arrays and containers by value; objects by type and all
    their attributes; functions by module, qualified name, byte code,
    constants, defaults and the values of their closure cells (so two
    closures or lambdas with different parameters differ); bound methods by
    function and instance; classes, modules and builtins by name. Global
    variables a function reads are not hashed (the same function object reads
    the same globals). Anything whose content cannot be inspected (no
    ``__dict__``, e.g. a lock or a C object) and anything nested deeper than
    12 levels (a cycle?) is hashed by its identity, so that it is shared only
    with itself: an unknown object refuses sharing instead of being taken for
    an equal one.
    """
    if depth > 12:
        h.update(f"id:{id(obj)};".encode())
    elif obj is None or isinstance(obj, bool | int | float | complex | str | bytes | np.generic):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        h.update(f"array:{a.dtype.str}:{a.shape};".encode())
        if a.dtype.hasobject:
            digest(h, a.ravel().tolist(), depth + 1)
        else:
            h.update(a.tobytes())
    elif isinstance(obj, list | tuple):
        h.update(f"{type(obj).__name__}:{len(obj)}[".encode())
        for x in obj:
            digest(h, x, depth + 1)
        h.update(b"]")
    elif isinstance(obj, set | frozenset):
        parts = []
        for x in obj:
            hx = hashlib.sha256()
            digest(hx, x, depth + 1)
            parts.append(hx.hexdigest())
        h.update(f"set:{len(obj)}{{{','.join(sorted(parts))}}}".encode())
    elif isinstance(obj, dict):
        h.update(f"dict:{len(obj)}{{".encode())
        for k in sorted(obj, key=repr):
            digest(h, repr(k), depth + 1)
            digest(h, obj[k], depth + 1)
        h.update(b"}")
    elif isinstance(obj, functools.partial):
        h.update(b"partial:")
        digest(h, (obj.func, obj.args, obj.keywords), depth + 1)
    elif isinstance(obj, types.MethodType):
        h.update(b"method:")
        digest(h, (obj.__func__, obj.__self__), depth + 1)
    elif isinstance(obj, types.FunctionType):
        h.update(f"function:{obj.__module__}.{obj.__qualname__};".encode())
        cells = []
        for c in obj.__closure__ or ():
            try:
                cells.append(c.cell_contents)
            except ValueError:  # an empty cell
                cells.append(("<empty cell>",))
        digest(h, (obj.__code__, obj.__defaults__, obj.__kwdefaults__, cells), depth + 1)
    elif isinstance(obj, types.CodeType):
        h.update(b"code:")
        h.update(obj.co_code)
        digest(h, (obj.co_consts, obj.co_names, obj.co_varnames, obj.co_freevars,
                    obj.co_cellvars), depth + 1)
    elif isinstance(obj, type | types.ModuleType | np.ufunc) or (
        isinstance(obj, types.BuiltinFunctionType)
        and (obj.__self__ is None or isinstance(obj.__self__, types.ModuleType))
    ):
        name = getattr(obj, "__qualname__", None) or obj.__name__
        h.update(f"named:{getattr(obj, '__module__', '')}.{name};".encode())
    elif isinstance(obj, types.BuiltinMethodType):  # a C method bound to an instance
        h.update(f"builtin-method:{obj.__name__};".encode())
        digest(h, obj.__self__, depth + 1)
    elif hasattr(obj, "__dict__") and isinstance(vars(obj), dict):
        h.update(f"obj:{type(obj).__module__}.{type(obj).__qualname__}".encode())
        digest(h, vars(obj), depth + 1)
    else:  # no inspectable content: this very object only
        log.debug("fingerprint: %s has no inspectable content; hashed by identity",
                  type(obj).__qualname__)
        h.update(f"id:{type(obj).__qualname__}:{id(obj)};".encode())


def fingerprint(*parts: Any) -> str:
    """SHA-256 hex digest of the content of ``parts`` (in order, see :func:`digest`)."""
    h = hashlib.sha256()
    for part in parts:
        digest(h, part)
    return h.hexdigest()
