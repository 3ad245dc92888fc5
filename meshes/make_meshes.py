"""Generate the reference meshes of fe2 with gmsh (Python API).

Usage::

    python meshes/make_meshes.py [--size FACTOR] [--outdir DIR] [--only NAME ...]

``--size`` multiplies every target element size (2 = coarser, 0.5 = finer).
All meshes are linear (first order), written in MSH 4.1 ASCII with physical
groups named after boundaries and subdomains; meshio and ``fe2.io.read_mesh``
read the names back.  See meshes/README.md for the list of files and tags.

Boundary curves/surfaces are identified geometrically (by their centre of mass),
never by gmsh's internal entity numbering, so the script is robust to kernel
changes.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import gmsh

HERE = Path(__file__).resolve().parent
TOL = 1e-6


def _close(a: float, b: float) -> bool:
    return abs(a - b) < TOL


def _classify(dim: int, rules: dict[str, Callable[[float, float, float], bool]]) -> dict:
    """Group the entities of dimension ``dim`` by the first rule their centre satisfies."""
    groups: dict[str, list[int]] = {name: [] for name in rules}
    for _, tag in gmsh.model.getEntities(dim):
        x, y, z = gmsh.model.occ.getCenterOfMass(dim, tag)
        for name, rule in rules.items():
            if rule(x, y, z):
                groups[name].append(tag)
                break
        else:
            raise RuntimeError(f"entity ({dim}, {tag}) at ({x:.3g}, {y:.3g}, {z:.3g}) "
                               "matches no physical group")
    for name, tags in groups.items():
        if not tags:
            raise RuntimeError(f"physical group '{name}' is empty")
    return groups


def _add_groups(dim: int, groups: dict[str, list[int]]) -> None:
    for name, tags in groups.items():
        gmsh.model.addPhysicalGroup(dim, sorted(tags), name=name)


def _square_sides() -> dict[str, Callable[[float, float, float], bool]]:
    return {
        "left": lambda x, y, z: _close(x, 0.0),
        "right": lambda x, y, z: _close(x, 1.0),
        "bottom": lambda x, y, z: _close(y, 0.0),
        "top": lambda x, y, z: _close(y, 1.0),
    }


def _new_model(name: str) -> None:
    gmsh.clear()
    gmsh.model.add(name)


def _finish(path: Path, dim: int, element_type: str) -> None:
    """Mesh, check that only the wanted element type was produced, write."""
    gmsh.model.mesh.generate(dim)
    gmsh.model.mesh.setOrder(1)
    types = set(gmsh.model.mesh.getElementTypes(dim=dim))
    names = {gmsh.model.mesh.getElementProperties(t)[0].split()[0].lower() for t in types}
    if names != {element_type}:
        raise RuntimeError(f"{path.name}: expected only {element_type} elements, got {names}")
    gmsh.write(str(path))
    n_el = sum(len(gmsh.model.mesh.getElementsByType(t)[0]) for t in types)
    print(f"wrote {path} ({n_el} {element_type} elements)")


def unit_square_tri(outdir: Path, size: float) -> None:
    _new_model("unit_square_tri")
    s = gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
    gmsh.model.occ.synchronize()
    _add_groups(1, _classify(1, _square_sides()))
    gmsh.model.addPhysicalGroup(2, [s], name="domain")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.1 * size)
    gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay
    _finish(outdir / "unit_square_tri.msh", 2, "triangle")


def unit_square_quad(outdir: Path, size: float) -> None:
    _new_model("unit_square_quad")
    s = gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
    gmsh.model.occ.synchronize()
    _add_groups(1, _classify(1, _square_sides()))
    gmsh.model.addPhysicalGroup(2, [s], name="domain")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.1 * size)
    gmsh.option.setNumber("Mesh.Algorithm", 8)  # Frontal-Delaunay for quads
    gmsh.option.setNumber("Mesh.RecombinationAlgorithm", 1)  # Blossom
    gmsh.option.setNumber("Mesh.RecombineAll", 1)
    _finish(outdir / "unit_square_quad.msh", 2, "quadrilateral")


def _cube_sides() -> dict[str, Callable[[float, float, float], bool]]:
    return {
        "left": lambda x, y, z: _close(x, 0.0),
        "right": lambda x, y, z: _close(x, 1.0),
        "bottom": lambda x, y, z: _close(y, 0.0),
        "top": lambda x, y, z: _close(y, 1.0),
        "back": lambda x, y, z: _close(z, 0.0),
        "front": lambda x, y, z: _close(z, 1.0),
    }


def unit_cube_tet(outdir: Path, size: float) -> None:
    _new_model("unit_cube_tet")
    v = gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
    gmsh.model.occ.synchronize()
    _add_groups(2, _classify(2, _cube_sides()))
    gmsh.model.addPhysicalGroup(3, [v], name="domain")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.2 * size)
    _finish(outdir / "unit_cube_tet.msh", 3, "tetrahedron")


def unit_cube_hex(outdir: Path, size: float) -> None:
    _new_model("unit_cube_hex")
    v = gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
    gmsh.model.occ.synchronize()
    n = max(2, round(6 / size))  # elements per edge
    for _, c in gmsh.model.getEntities(1):
        gmsh.model.mesh.setTransfiniteCurve(c, n + 1)
    for _, s in gmsh.model.getEntities(2):
        gmsh.model.mesh.setTransfiniteSurface(s)
        gmsh.model.mesh.setRecombine(2, s)
    gmsh.model.mesh.setTransfiniteVolume(v)
    _add_groups(2, _classify(2, _cube_sides()))
    gmsh.model.addPhysicalGroup(3, [v], name="domain")
    _finish(outdir / "unit_cube_hex.msh", 3, "hexahedron")


def plate_with_hole(outdir: Path, size: float) -> None:
    _new_model("plate_with_hole")
    radius = 0.25
    rect = gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
    disk = gmsh.model.occ.addDisk(0, 0, 0, radius, radius)
    out, _ = gmsh.model.occ.cut([(2, rect)], [(2, disk)])
    gmsh.model.occ.synchronize()
    groups = _classify(1, {
        "left": lambda x, y, z: _close(x, 0.0),
        "bottom": lambda x, y, z: _close(y, 0.0),
        "right": lambda x, y, z: _close(x, 1.0),
        "top": lambda x, y, z: _close(y, 1.0),
        "hole": lambda x, y, z: math.hypot(x, y) < radius + TOL,
    })
    _add_groups(1, groups)
    gmsh.model.addPhysicalGroup(2, [tag for _, tag in out], name="plate")
    # graded size: h_min on the hole, growing to h_max at distance 0.6
    dist = gmsh.model.mesh.field.add("Distance")
    gmsh.model.mesh.field.setNumbers(dist, "CurvesList", groups["hole"])
    gmsh.model.mesh.field.setNumber(dist, "Sampling", 100)
    thr = gmsh.model.mesh.field.add("Threshold")
    gmsh.model.mesh.field.setNumber(thr, "InField", dist)
    gmsh.model.mesh.field.setNumber(thr, "SizeMin", 0.015 * size)
    gmsh.model.mesh.field.setNumber(thr, "SizeMax", 0.08 * size)
    gmsh.model.mesh.field.setNumber(thr, "DistMin", 0.0)
    gmsh.model.mesh.field.setNumber(thr, "DistMax", 0.6)
    gmsh.model.mesh.field.setAsBackgroundMesh(thr)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    _finish(outdir / "plate_with_hole.msh", 2, "triangle")


def l_shape(outdir: Path, size: float) -> None:
    _new_model("l_shape")
    corners = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]
    pts = [gmsh.model.occ.addPoint(x, y, 0) for x, y in corners]
    lines = [gmsh.model.occ.addLine(pts[i], pts[(i + 1) % len(pts)]) for i in range(len(pts))]
    loop = gmsh.model.occ.addCurveLoop(lines)
    s = gmsh.model.occ.addPlaneSurface([loop])
    gmsh.model.occ.synchronize()
    _add_groups(1, _classify(1, {
        # the two edges meeting at the re-entrant corner (0, 0)
        "reentrant": lambda x, y, z: (_close(x, 0.0) and y < 0) or (_close(y, 0.0) and x > 0),
        "left": lambda x, y, z: _close(x, -1.0),
        "right": lambda x, y, z: _close(x, 1.0),
        "bottom": lambda x, y, z: _close(y, -1.0),
        "top": lambda x, y, z: _close(y, 1.0),
    }))
    gmsh.model.addPhysicalGroup(2, [s], name="domain")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.1 * size)
    _finish(outdir / "l_shape.msh", 2, "triangle")


def two_phase_square(outdir: Path, size: float) -> None:
    _new_model("two_phase_square")
    radius = 0.3
    rect = gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
    disk = gmsh.model.occ.addDisk(0.5, 0.5, 0, radius, radius)
    gmsh.model.occ.fragment([(2, rect)], [(2, disk)])
    gmsh.model.occ.synchronize()
    rules = _square_sides()
    rules["interface"] = lambda x, y, z: math.hypot(x - 0.5, y - 0.5) < radius + TOL
    _add_groups(1, _classify(1, rules))
    _add_groups(2, _phases(radius))
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.05 * size)
    _finish(outdir / "two_phase_square.msh", 2, "triangle")


def _phases(radius: float) -> dict[str, list[int]]:
    """Tell the disk from the matrix by area: both have their centroid at (0.5, 0.5)."""
    groups: dict[str, list[int]] = {"matrix": [], "inclusion": []}
    for _, tag in gmsh.model.getEntities(2):
        area = gmsh.model.occ.getMass(2, tag)
        name = "inclusion" if abs(area - math.pi * radius**2) < 1e-6 else "matrix"
        groups[name].append(tag)
    if not all(groups.values()):
        raise RuntimeError(f"could not identify the two phases: {groups}")
    return groups


MESHES = {
    f.__name__: f
    for f in (unit_square_tri, unit_square_quad, unit_cube_tet, unit_cube_hex,
              plate_with_hole, l_shape, two_phase_square)
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=1.0,
                        help="element size factor (2 = coarser, 0.5 = finer); default 1")
    parser.add_argument("--outdir", type=Path, default=HERE,
                        help="output directory; default: the meshes/ folder")
    parser.add_argument("--only", nargs="+", choices=sorted(MESHES), default=None,
                        help="generate only these meshes")
    args = parser.parse_args(argv)
    if not args.size > 0:
        parser.error(f"--size must be positive, got {args.size}")
    args.outdir.mkdir(parents=True, exist_ok=True)

    gmsh.initialize(["make_meshes"], readConfigFiles=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        for name in args.only or MESHES:
            gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
            gmsh.option.setNumber("Mesh.Binary", 0)
            gmsh.option.setNumber("Mesh.SaveAll", 0)
            gmsh.option.setNumber("General.NumThreads", 1)  # reproducible output
            gmsh.option.setNumber("Mesh.RandomSeed", 1)
            MESHES[name](args.outdir, args.size)
            gmsh.option.restoreDefaults()
    finally:
        gmsh.finalize()


if __name__ == "__main__":
    main()
