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
    from fe2.atomistic import CauchyBorn, HarmonicSpring, LennardJones, Morse  # noqa: F401
    from fe2.homogenization import RVE, cells  # noqa: F401

    assert {"square", "triangular", "sc", "fcc", "bcc"} <= set(fe2.atomistic.LATTICES)


# layers, lowest first: a module imports (at module level) only from its own layer or below
LAYERS = [
    {"fe2.tensors"},
    {"fe2.parallel"},
    {"fe2.oracle"},
    {"fe2.materials"},
    {"fe2.linalg", "fe2.fem"},
    {"fe2.io"},
    {"fe2.homogenization", "fe2.atomistic"},
    {"fe2.gas", "fe2.kinetics", "fe2.timescales", "fe2.phasefield", "fe2.fmm", "fe2.fluids",
     "fe2.surrogate", "fe2.uq"},
    {"fe2.macro"},
    {"fe2.verify"},
    {"fe2.case"},
    {"fe2.demo", "fe2.cli"},
]


def _layer(module: str) -> int:
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        for i, layer in enumerate(LAYERS):
            if ".".join(parts[:k]) in layer:
                return i
    raise AssertionError(f"{module} is in no layer of tests/test_api.py")


def _imports(path, module: str):
    """(imported module, names, module level?) of every fe2 import in a source file."""
    import ast

    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    pkg = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("fe2"):
                yield target, [a.name for a in node.names], id(node) in top
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("fe2"):
                    yield a.name, [], id(node) in top


@pytest.mark.parametrize("name", MODULES)
def test_imports_go_down_and_use_public_names(name):
    """Module-level imports only from the same layer or below (DESIGN.md), and no module
    imports another module's private names or private modules."""
    mod = importlib.import_module(name)
    from pathlib import Path

    path = Path(mod.__file__)
    own = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
    for target, names, top in _imports(path, name):
        if top:
            assert _layer(target) <= _layer(name), f"{name} imports {target} from a higher layer"
        private_mod = any(p.startswith("_") and not p.startswith("__")
                          for p in target.split(".")[1:])
        assert not private_mod, f"{name} imports the private module {target}"
        if target != own and not target.startswith(own + "."):
            bad = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not bad, f"{name} imports private names {bad} from {target}"


def test_no_module_reaches_into_private_attributes():
    """``obj._name`` only on ``self``/``cls`` or for a private attribute that the same module
    defines (an object of one of its own classes)."""
    import ast
    from pathlib import Path

    root = Path(fe2.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        own = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
               and isinstance(n.value, ast.Name) and n.value.id == "self"}
        own |= {n.name for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                    and node.value.id not in ("self", "cls", "os", "sys")
                    and node.value.id not in classes and node.attr not in own):
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.value.id}.{node.attr}")
    assert not found, "\n".join(found)
