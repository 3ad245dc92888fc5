"""Generate the coarse macro mesh of the flagship demo (``fe2 demo``) with gmsh.

Usage::

    python meshes/make_demo_meshes.py [--outdir DIR]

Writes ``meshes/demo/plate_with_hole_coarse.msh`` (a subfolder, so that the
reference-mesh checks of ``tests/test_meshes.py`` keep to ``make_meshes.py``'s
files): the geometry and tags of
``plate_with_hole.msh`` (see ``make_meshes.py``: quarter plate [0, 1]^2 minus a
hole of radius 0.25 at the origin; boundaries ``left``, ``bottom``, ``right``,
``top``, ``hole``; subdomain ``plate``) with every element size three times
larger (h = 0.045 on the hole growing to 0.24), 131 triangles. FE² solves a
cell problem at every macro quadrature point, so the demo needs a coarse macro
mesh. Deterministic like ``make_meshes.py`` (one thread, fixed seed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTDIR = HERE / "demo"
SIZE = 3.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=OUTDIR,
                        help="output directory; default: meshes/demo")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import make_meshes

    args.outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        make_meshes.main(["--only", "plate_with_hole", "--size", str(SIZE), "--outdir", tmp])
        target = args.outdir / "plate_with_hole_coarse.msh"
        shutil.move(Path(tmp) / "plate_with_hole.msh", target)
    print(f"renamed to {target}")


if __name__ == "__main__":
    main()
