"""The public API: every name a module lists in ``__all__`` exists and is documented."""

import importlib
import inspect
import pkgutil

import pytest

import fe2

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(fe2.__path__, prefix="fe2.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist_and_have_docstrings(name):
    mod = importlib.import_module(name)
    assert mod.__doc__, f"module {name} has no docstring"
    for attr in getattr(mod, "__all__", ()):
        assert hasattr(mod, attr), f"{name}.__all__ lists {attr!r}, which does not exist"
        obj = getattr(mod, attr)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert getattr(obj, "__doc__", None), f"{name}.{attr} has no docstring"


def test_issue_public_names():
    from fe2.micro import RVE, CauchyBorn, HarmonicSpring, LennardJones, Morse, cells  # noqa: F401

    assert {"square", "triangular", "sc", "fcc", "bcc"} <= set(fe2.micro.LATTICES)
