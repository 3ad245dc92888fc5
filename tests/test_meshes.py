"""The committed meshes in meshes/: element types, tags, geometry of the tags, areas."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skfem

from fe2.io import read_mesh

MESHES = Path(__file__).resolve().parents[1] / "meshes"

SQUARE = {
    "left": lambda x, y: np.isclose(x, 0.0),
    "right": lambda x, y: np.isclose(x, 1.0),
    "bottom": lambda x, y: np.isclose(y, 0.0),
    "top": lambda x, y: np.isclose(y, 1.0),
}
CUBE = {
    "left": lambda x, y, z: np.isclose(x, 0.0),
    "right": lambda x, y, z: np.isclose(x, 1.0),
    "bottom": lambda x, y, z: np.isclose(y, 0.0),
    "top": lambda x, y, z: np.isclose(y, 1.0),
    "back": lambda x, y, z: np.isclose(z, 0.0),
    "front": lambda x, y, z: np.isclose(z, 1.0),
}


def on_circle(cx, cy, r):
    return lambda x, y: np.isclose(np.hypot(x - cx, y - cy), r, atol=1e-8)


# file -> (mesh class, boundary -> predicate on facet *vertices*, subdomain -> area)
CASES = {
    "unit_square_tri.msh": (skfem.MeshTri1, SQUARE, {"domain": 1.0}),
    "unit_square_quad.msh": (skfem.MeshQuad1, SQUARE, {"domain": 1.0}),
    "unit_cube_tet.msh": (skfem.MeshTet1, CUBE, {"domain": 1.0}),
    "unit_cube_hex.msh": (skfem.MeshHex1, CUBE, {"domain": 1.0}),
    "plate_with_hole.msh": (
        skfem.MeshTri1,
        {
            "left": lambda x, y: np.isclose(x, 0.0) & (y >= 0.25 - 1e-12),
            "bottom": lambda x, y: np.isclose(y, 0.0) & (x >= 0.25 - 1e-12),
            "right": lambda x, y: np.isclose(x, 1.0),
            "top": lambda x, y: np.isclose(y, 1.0),
            "hole": on_circle(0.0, 0.0, 0.25),
        },
        {"plate": 1.0 - np.pi * 0.25**2 / 4},
    ),
    "l_shape.msh": (
        skfem.MeshTri1,
        {
            "left": lambda x, y: np.isclose(x, -1.0),
            "right": lambda x, y: np.isclose(x, 1.0) & (y >= 0.0),
            "top": lambda x, y: np.isclose(y, 1.0),
            "bottom": lambda x, y: np.isclose(y, -1.0) & (x <= 0.0),
            "reentrant": lambda x, y: (np.isclose(x, 0.0) & (y <= 0.0))
            | (np.isclose(y, 0.0) & (x >= 0.0)),
        },
        {"domain": 3.0},
    ),
    "two_phase_square.msh": (
        skfem.MeshTri1,
        SQUARE | {"interface": on_circle(0.5, 0.5, 0.3)},
        {"inclusion": np.pi * 0.09, "matrix": 1.0 - np.pi * 0.09},
    ),
}


def element_volumes(mesh):
    basis = skfem.Basis(mesh, _p0(mesh))
    return basis.dx.sum(axis=1)


def _p0(mesh):
    return {
        skfem.MeshTri1: skfem.ElementTriP0,
        skfem.MeshQuad1: skfem.ElementQuad0,
        skfem.MeshTet1: skfem.ElementTetP0,
        skfem.MeshHex1: skfem.ElementHex0,
    }[type(mesh)]()


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    name = request.param
    return name, read_mesh(MESHES / name), *CASES[name]


def test_all_committed_files_are_covered():
    assert sorted(p.name for p in MESHES.glob("*.msh")) == sorted(CASES)
    for p in MESHES.glob("*.msh"):
        assert p.stat().st_size < 1_000_000


def test_element_type_and_tags(case):
    name, mesh, cls, boundaries, subdomains = case
    assert type(mesh) is cls
    assert sorted(mesh.boundaries) == sorted(boundaries)
    assert sorted(mesh.subdomains) == sorted(subdomains)
    assert 50 <= mesh.nelements <= 2000


def test_boundary_facets_lie_on_their_lines(case):
    name, mesh, cls, boundaries, _ = case
    for tag, on in boundaries.items():
        facets = mesh.boundaries[tag]
        assert len(facets) > 0, tag
        verts = mesh.facets[:, facets]  # (n_facet_vertices, n)
        for v in verts:
            assert np.all(on(*mesh.p[:, v])), f"{name}: a vertex of '{tag}' is off its line"
        mid = mesh.p[:, verts].mean(axis=1)
        if tag not in ("hole", "interface"):  # chords of an arc: midpoints are inside
            assert np.all(on(*mid)), f"{name}: a facet midpoint of '{tag}' is off its line"


def test_named_boundaries_partition_the_boundary(case):
    name, mesh, *_ = case
    tagged = [np.asarray(f) for k, f in mesh.boundaries.items() if k != "interface"]
    joined = np.concatenate(tagged)
    assert len(np.unique(joined)) == len(joined), "boundaries overlap"
    np.testing.assert_array_equal(np.sort(joined), np.sort(mesh.boundary_facets()))


def fan_area(mesh, facets, centre):
    """Area of the triangles (centre, a, b) over the facets (a, b): the polygonal disk."""
    a, b = (mesh.p[:, v] - np.reshape(centre, (2, 1)) for v in mesh.facets[:, facets])
    return 0.5 * np.abs(a[0] * b[1] - a[1] * b[0]).sum()


def test_subdomains_partition_the_domain_and_have_the_right_area(case):
    name, mesh, _, _, areas = case
    joined = np.concatenate(list(mesh.subdomains.values()))
    np.testing.assert_array_equal(np.sort(joined), np.arange(mesh.nelements))
    vol = element_volumes(mesh)
    for tag, exact in areas.items():
        area = vol[mesh.subdomains[tag]].sum()
        # polygonal approximation of the arcs: below 1 % with these mesh sizes
        assert area == pytest.approx(exact, rel=1e-2), (name, tag, area, exact)
    # and exactly the area of the polygon the tagged arc facets enclose
    if name == "two_phase_square.msh":
        disk = fan_area(mesh, mesh.boundaries["interface"], (0.5, 0.5))
        assert vol[mesh.subdomains["inclusion"]].sum() == pytest.approx(disk, rel=1e-12)
        assert vol[mesh.subdomains["matrix"]].sum() == pytest.approx(1 - disk, rel=1e-12)
    if name == "plate_with_hole.msh":
        hole = fan_area(mesh, mesh.boundaries["hole"], (0.0, 0.0))
        assert vol.sum() == pytest.approx(1 - hole, rel=1e-12)
    if name in ("unit_square_tri.msh", "unit_square_quad.msh", "unit_cube_tet.msh",
                "unit_cube_hex.msh", "l_shape.msh"):
        assert vol.sum() == pytest.approx(next(iter(areas.values())), rel=1e-12)


def test_positive_jacobians(case):
    _, mesh, *_ = case
    det = mesh._mapping().detDF(mesh.elem.refdom.p)  # (n_el, n_corners)
    assert np.all(det > 0)


def test_interface_is_interior_and_separates_phases():
    mesh = read_mesh(MESHES / "two_phase_square.msh")
    f = mesh.boundaries["interface"]
    t1, t2 = mesh.f2t[:, f]
    assert np.all(t2 >= 0)
    inclusion = np.zeros(mesh.nelements, bool)
    inclusion[mesh.subdomains["inclusion"]] = True
    assert np.all(inclusion[t1] != inclusion[t2])
    centre = mesh.p[:, mesh.t[:, mesh.subdomains["inclusion"]]].mean(axis=1)
    assert np.all(np.hypot(centre[0] - 0.5, centre[1] - 0.5) < 0.3)


def test_plate_is_refined_near_the_hole():
    mesh = read_mesh(MESHES / "plate_with_hole.msh")
    r = np.hypot(*mesh.p[:, mesh.t].mean(axis=1))
    vol = element_volumes(mesh)
    assert vol[r < 0.35].mean() < 0.2 * vol[r > 0.8].mean()


def test_make_meshes_script_runs(tmp_path):
    pytest.importorskip("gmsh")
    script = MESHES / "make_meshes.py"
    out = subprocess.run([sys.executable, str(script), "--size", "2", "--outdir", str(tmp_path),
                          "--only", "l_shape", "unit_cube_hex"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    coarse = read_mesh(tmp_path / "l_shape.msh")
    fine = read_mesh(MESHES / "l_shape.msh")
    assert coarse.nelements < fine.nelements / 2
    assert sorted(coarse.boundaries) == sorted(fine.boundaries)
    assert read_mesh(tmp_path / "unit_cube_hex.msh").nelements == 27
