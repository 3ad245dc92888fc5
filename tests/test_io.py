"""fe2.io: mesh reading and validation, VTU/PVD round trips, quadrature data, renders."""

import doctest
import logging
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import meshio
import numpy as np
import pytest
import skfem
from skfem.io.meshio import to_meshio

import fe2.io
import fe2.io.vtk
from fe2.io import (
    MeshError,
    PVDWriter,
    boundary_facets,
    quadrature_to_cell,
    read_mesh,
    read_pvd,
    render_png,
    render_voxels_png,
    subdomain_elements,
    write_vtu,
)

MESHES = Path(__file__).resolve().parents[1] / "meshes"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def corner_dets(mesh):
    return mesh._mapping().detDF(mesh.elem.refdom.p)  # (n_el, n_corners)


def write_msh22(path, points, cells, tags, names):
    """Write a gmsh 2.2 file: cells [(type, conn)], tags [per-block physical ids]."""
    m = meshio.Mesh(
        points,
        cells,
        cell_data={"gmsh:physical": [np.asarray(t) for t in tags],
                   "gmsh:geometrical": [np.asarray(t) for t in tags]},
        field_data={name: np.array(v) for name, v in names.items()},
    )
    meshio.write(path, m, file_format="gmsh22", binary=False)
    return path


def two_triangles(tmp_path, second):
    """Unit square split in two triangles; ``second`` is the connectivity of triangle 1."""
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    return write_msh22(
        tmp_path / "two.msh", pts,
        [("line", np.array([[3, 0]])), ("line", np.array([[1, 2]])),
         ("triangle", np.array([[0, 1, 2], second]))],
        [[1], [2], [3, 3]],
        {"left": [1, 1], "right": [2, 1], "domain": [3, 2]},
    )


# ---------------------------------------------------------------- public API


def test_all_names_exist_and_pyvista_is_lazy():
    for name in fe2.io.__all__:
        assert hasattr(fe2.io, name), name
    out = subprocess.run([sys.executable, "-c",
                          "import sys, fe2.io; print('pyvista' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_doctests():
    assert doctest.testmod(fe2.io.vtk).failed == 0


# ---------------------------------------------------------------- read_mesh errors


def test_missing_file():
    with pytest.raises(MeshError, match="not found: .*nowhere.msh") as exc:
        read_mesh("nowhere.msh")
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("suffix, what", [
    (".msh", r"not a gmsh mesh: the file starts with 'this is not a mesh', expected "
             r"'\$MeshFormat'"),
    (".vtu", r"not a VTU \(VTK XML\) file: it starts with 'this is not a mesh'"),
    (".vtk", "cannot read mesh as vtk"),
])
def test_unreadable_file_is_a_mesh_error_not_an_exit(tmp_path, suffix, what, capsys):
    path = tmp_path / f"bad{suffix}"
    path.write_text("this is not a mesh\n")
    with pytest.raises(MeshError, match=f"bad{suffix}: {what}"):
        read_mesh(path)
    assert capsys.readouterr().out == ""


# Malformed copies of a committed mesh: the error names the file and says what is wrong
# with it, never a library internal such as "cannot reshape array of size 115".
SQUARE_MSH = MESHES / "unit_square_tri.msh"


def _lines(path):
    return path.read_text().split("\n")


def _check_one_line(exc, path):
    msg = str(exc.value)
    assert str(path) in msg and "\n" not in msg, msg
    for internal in ("reshape", "broadcast", "out of bounds for axis", "Traceback"):
        assert internal not in msg, msg


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_msh_is_reported_as_truncated(tmp_path, cut):
    text = SQUARE_MSH.read_bytes()
    path = tmp_path / "cut.msh"
    path.write_bytes(text[: int(cut * len(text))])
    with pytest.raises(MeshError, match=r"cut.msh: truncated gmsh file: section \$\w+ \(opened "
                       r"at line \d+\) has no \$End\w+; the file ends at line \d+") as exc:
        read_mesh(path)
    _check_one_line(exc, path)


def test_truncated_msh22_and_binary_msh(tmp_path):
    m = meshio.read(SQUARE_MSH)
    for binary in (False, True):
        full = tmp_path / f"full{int(binary)}.msh"
        meshio.write(full, m, file_format="gmsh22" if not binary else "gmsh", binary=binary)
        assert read_mesh(full).nelements == len(m.cells_dict["triangle"])  # the intact file
        cut = tmp_path / f"cut{int(binary)}.msh"
        cut.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
        with pytest.raises(MeshError, match="truncated gmsh file") as exc:
            read_mesh(cut)
        _check_one_line(exc, cut)


@pytest.mark.parametrize("version", ["4.1", "2.2"])
def test_element_with_a_node_tag_past_the_node_count(tmp_path, version):
    m = meshio.read(SQUARE_MSH)
    ok = tmp_path / "ok.msh"
    meshio.write(ok, m, file_format="gmsh" if version == "4.1" else "gmsh22", binary=False)
    lines = _lines(ok)
    n_nodes = len(m.points)
    # last element line: "<element tag> <node tags...>" (4.1) or with type and tags (2.2)
    end = lines.index("$EndElements")
    parts = lines[end - 1].split()
    parts[-1] = str(n_nodes + 7)
    lines[end - 1] = " ".join(parts)
    bad = tmp_path / "bad_node.msh"
    bad.write_text("\n".join(lines))
    with pytest.raises(MeshError, match=rf"bad_node.msh: bad node index: an element refers to "
                       rf"node tag {n_nodes + 7}, but the largest node tag in \$Nodes is "
                       rf"{n_nodes}") as exc:
        read_mesh(bad)
    _check_one_line(exc, bad)


def test_section_closed_by_the_wrong_end_tag(tmp_path):
    lines = _lines(SQUARE_MSH)
    lines[lines.index("$EndNodes")] = "$EndElements"
    path = tmp_path / "swapped.msh"
    path.write_text("\n".join(lines))
    with pytest.raises(MeshError, match=r"swapped.msh: line \d+: \$EndElements inside section "
                       r"\$Nodes"):
        read_mesh(path)


def test_msh_without_elements(tmp_path):
    lines = _lines(SQUARE_MSH)
    a, b = lines.index("$Elements"), lines.index("$EndElements")
    path = tmp_path / "no_elements.msh"
    path.write_text("\n".join(lines[:a] + lines[b + 1:]))
    with pytest.raises(MeshError, match=r"no_elements.msh: the gmsh file has no \$Elements "
                       r"section \(no elements\)"):
        read_mesh(path)


@pytest.mark.parametrize("name, content, what", [
    ("empty.msh", b"", r"the file is empty \(0 bytes\)"),
    ("empty.vtu", b"", r"the file is empty \(0 bytes\)"),
    ("noise.msh", bytes(range(256)) * 4, "not a gmsh mesh: the file starts with binary data"),
    ("mesh.txt", b"$MeshFormat\n", r"unknown mesh format \('.txt'\); expected a gmsh .msh"),
    ("mesh", b"$MeshFormat\n", r"unknown mesh format \(no extension\)"),
    ("v3.msh", b"$MeshFormat\n3.0 0 8\n$EndMeshFormat\n", "gmsh format version 3.0 is not"),
])
def test_empty_garbage_and_unknown_format(tmp_path, name, content, what):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MeshError, match=rf"{name}: {what}") as exc:
        read_mesh(path)
    _check_one_line(exc, path)
    with pytest.raises(MeshError, match="is a folder, not a mesh file"):
        read_mesh(tmp_path)


@pytest.mark.parametrize("node, what", [
    (7, r"triangle cell 1 refers to node 7, but the file has 4 nodes \(valid indices 0..3\)"),
    (-1, r"triangle cell 1 refers to node -1, but the file has 4 nodes"),
])
def test_vtu_with_bad_connectivity(tmp_path, node, what):
    """meshio reads such a file without complaint (a negative index would even wrap around
    to the last node): read_mesh checks every index against the node count."""
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    path = tmp_path / "conn.vtu"
    meshio.write(path, meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2], [0, 2, node]]))]))
    with pytest.raises(MeshError, match=rf"conn.vtu: bad node index: {what}") as exc:
        read_mesh(path)
    _check_one_line(exc, path)


def test_vtu_truncated_empty_or_without_area_cells(tmp_path):
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    full = tmp_path / "full.vtu"
    meshio.write(full, meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))]))
    cut = tmp_path / "cut.vtu"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(MeshError, match="cut.vtu: truncated VTU file"):
        read_mesh(cut)
    none = tmp_path / "none.vtu"
    meshio.write(none, meshio.Mesh(pts, []))
    with pytest.raises(MeshError, match=r"none.vtu: the file contains no elements"):
        read_mesh(none)
    lines = tmp_path / "lines.vtu"
    meshio.write(lines, meshio.Mesh(pts, [("line", np.array([[0, 1], [1, 2]]))]))
    with pytest.raises(MeshError, match=r"lines.vtu: the file has no 2D or 3D elements, only "
                       r"line cells"):
        read_mesh(lines)
    nan = tmp_path / "nan.vtu"
    pts_nan = pts.copy()
    pts_nan[2, 1] = np.nan
    meshio.write(nan, meshio.Mesh(pts_nan, [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))]))
    with pytest.raises(MeshError, match=r"nan.vtu: node 2 has a non-finite coordinate"):
        read_mesh(nan)


def test_unsupported_cell_type(tmp_path):
    pts = np.array([[0.0, 0], [1, 0], [0, 1], [0.5, 0], [0.5, 0.5], [0, 0.5]])
    path = tmp_path / "p2.vtu"
    meshio.write(path, meshio.Mesh(pts, [("triangle6", np.array([[0, 1, 2, 3, 4, 5]]))]))
    with pytest.raises(MeshError, match="p2.vtu: unsupported cell type 'triangle6'.*supported "
                                        "domain cells: triangle, quad, tetra, hexahedron"):
        read_mesh(path)


def test_mixed_cell_types(tmp_path):
    pts = np.array([[0.0, 0], [1, 0], [1, 1], [0, 1], [2, 0]])
    path = tmp_path / "mixed.vtu"
    meshio.write(path, meshio.Mesh(pts, [("quad", np.array([[0, 1, 2, 3]])),
                                         ("triangle", np.array([[1, 4, 2]]))]))
    with pytest.raises(MeshError, match="mixed domain cell types quad, triangle"):
        read_mesh(path)


def test_2d_mesh_off_the_plane(tmp_path):
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0.5]])
    path = tmp_path / "tilted.vtu"
    meshio.write(path, meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2]]))]))
    with pytest.raises(MeshError, match="nonzero coordinate 2: max |value| = 0.5"):
        read_mesh(path)


# ---------------------------------------------------------------- orientation


def test_clockwise_triangle_is_reoriented_silently(tmp_path, caplog):
    path = two_triangles(tmp_path, [0, 3, 2])  # clockwise
    with caplog.at_level(logging.WARNING):
        mesh = read_mesh(path)
    assert not caplog.records
    assert type(mesh) is skfem.MeshTri1
    assert np.all(corner_dets(mesh) > 0)
    assert sorted(mesh.t[:, 1]) == [0, 2, 3]
    np.testing.assert_array_equal(subdomain_elements(mesh, "domain"), [0, 1])
    left = mesh.facets[:, boundary_facets(mesh, "left")]
    assert sorted(left.ravel()) == [0, 3]
    right = mesh.facets[:, boundary_facets(mesh, "right")]
    assert sorted(right.ravel()) == [1, 2]
    basis = skfem.Basis(mesh, skfem.ElementTriP1())
    assert basis.dx.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["collapsed", "sliver"])
def test_degenerate_triangle_raises(tmp_path, kind):
    if kind == "collapsed":  # two equal vertices: zero area
        path = two_triangles(tmp_path, [0, 2, 2])
    else:  # vertex 3 on the diagonal up to 1e-12: near-zero area
        pts = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0.5, 0.5 + 1e-12, 0]])
        path = write_msh22(tmp_path / "sliver.msh", pts,
                           [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))], [[1, 1]],
                           {"domain": [1, 2]})
    with pytest.raises(MeshError, match=r"\.msh: element 1 \(triangle\) is degenerate: "
                                        "Jacobian determinant") as exc:
        read_mesh(path)
    assert "\n" not in str(exc.value)


def test_thin_but_valid_triangle_is_accepted(tmp_path):
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [0.5, 1e-4, 0]])
    path = tmp_path / "thin.vtu"
    meshio.write(path, meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2]]))]))
    assert read_mesh(path).nelements == 1


def test_quads_reoriented_and_nonconvex_rejected(tmp_path):
    pts = np.array([[0.0, 0], [1, 0], [1, 1], [0, 1], [2, 0], [2, 1]])
    path = tmp_path / "quads.vtu"
    meshio.write(path, meshio.Mesh(pts, [("quad", np.array([[0, 1, 2, 3], [1, 2, 5, 4]]))]))
    mesh = read_mesh(path)
    assert type(mesh) is skfem.MeshQuad1
    assert np.all(corner_dets(mesh) > 0)

    arrow = np.array([[0.0, 0], [1, 0], [0.2, 0.2], [0, 1]])  # re-entrant vertex 2
    path = tmp_path / "arrow.vtu"
    meshio.write(path, meshio.Mesh(arrow, [("quad", np.array([[0, 1, 2, 3]]))]))
    with pytest.raises(MeshError, match=r"arrow.vtu: element 0 \(quad\) is tangled or non-convex"):
        read_mesh(path)


@pytest.mark.parametrize("mesh", [
    skfem.MeshTet1.init_tensor(*3 * [np.linspace(0, 1, 3)]),
    skfem.MeshHex1.init_tensor(*3 * [np.linspace(0, 1, 3)]),
], ids=["tet", "hex"])
def test_inverted_3d_elements_are_reoriented(tmp_path, mesh):
    m = to_meshio(mesh)
    cells = m.cells[0].data.copy()
    if m.cells[0].type == "tetra":
        cells[::2] = cells[::2][:, [1, 0, 2, 3]]
    else:  # mirror every other hexahedron (swap the x ends in VTK order)
        cells[::2] = cells[::2][:, [1, 0, 3, 2, 5, 4, 7, 6]]
    path = tmp_path / "inverted.vtu"
    meshio.write(path, meshio.Mesh(m.points, [(m.cells[0].type, cells)]))
    back = read_mesh(path)
    assert type(back) is type(mesh)
    assert np.all(corner_dets(back) > 0)
    np.testing.assert_array_equal(np.sort(back.t, axis=0), np.sort(mesh.t, axis=0))
    np.testing.assert_allclose(back.p, mesh.p)


def test_unused_vertices_are_dropped(tmp_path):
    pts = np.array([[0.0, 0], [9, 9], [1, 0], [0, 1]])
    path = tmp_path / "orphan.vtu"
    meshio.write(path, meshio.Mesh(pts, [("triangle", np.array([[0, 2, 3]]))]))
    mesh = read_mesh(path)
    assert mesh.p.shape == (2, 3)
    np.testing.assert_array_equal(mesh.p, [[0, 1, 0], [0, 0, 1]])


# ---------------------------------------------------------------- tags


def test_msh22_and_msh41_give_the_same_tags(tmp_path):
    src = MESHES / "plate_with_hole.msh"
    m41 = read_mesh(src)
    m = meshio.read(src, file_format="gmsh")
    m.cell_sets = {}  # MSH 2.2 has tags only in gmsh:physical
    path = tmp_path / "plate22.msh"
    meshio.write(path, m, file_format="gmsh22", binary=False)
    m22 = read_mesh(path)
    np.testing.assert_array_equal(m22.t, m41.t)
    assert sorted(m22.boundaries) == sorted(m41.boundaries)
    for k in m41.boundaries:
        np.testing.assert_array_equal(m22.boundaries[k], m41.boundaries[k])
    np.testing.assert_array_equal(m22.subdomains["plate"], m41.subdomains["plate"])


def test_tagged_cell_that_is_not_a_facet(tmp_path):
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    path = write_msh22(tmp_path / "diag.msh", pts,
                       [("line", np.array([[1, 3]])), ("triangle", np.array([[0, 1, 2],
                                                                              [0, 2, 3]]))],
                       [[1], [2, 2]], {"cut": [1, 1], "domain": [2, 2]})
    with pytest.raises(MeshError, match="diag.msh: 1 of 1 cells of boundary 'cut' are not facets"):
        read_mesh(path)


def test_unknown_names():
    path = MESHES / "plate_with_hole.msh"
    mesh = read_mesh(path)
    with pytest.raises(MeshError, match=r"^unknown boundary 'xyz' in plate_with_hole.msh; "
                                        r"known: bottom, hole, left, right, top$"):
        boundary_facets(mesh, "xyz", path)
    with pytest.raises(MeshError, match=r"^unknown subdomain 'matrix' in plate_with_hole.msh; "
                                        r"known: plate$"):
        subdomain_elements(mesh, "matrix", path)
    with pytest.raises(MeshError, match=r"^unknown boundary 'a'; known: \(none\)$"):
        boundary_facets(skfem.MeshTri1(), "a")
    np.testing.assert_array_equal(boundary_facets(mesh, "hole"), mesh.boundaries["hole"])


def test_skfem_written_mesh_round_trip(tmp_path):
    mesh = skfem.MeshQuad1().refined(2)
    path = tmp_path / "q.vtu"
    meshio.write(path, to_meshio(mesh, encode_cell_data=False))
    back = read_mesh(path)
    np.testing.assert_array_equal(back.t, mesh.t)
    np.testing.assert_allclose(back.p, mesh.p)


# ---------------------------------------------------------------- VTU


def test_write_vtu_round_trip(tmp_path):
    mesh = read_mesh(MESHES / "unit_square_tri.msh")
    nv, ne = mesh.nvertices, mesh.nelements
    rng = np.random.default_rng(0)
    u = rng.standard_normal((nv, 2))
    s = rng.standard_normal(nv)
    sig = rng.standard_normal((ne, 2, 2))
    it = rng.integers(0, 9, ne)
    ok = it > 4
    path = write_vtu(tmp_path / "out.vtu", mesh, point_data={"u": u, "s": s},
                     cell_data={"sigma": sig, "iterations": it, "converged": ok})
    assert path == tmp_path / "out.vtu"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.vtu"]  # no temp files left
    m = meshio.read(path)
    np.testing.assert_array_equal(m.points[:, :2], mesh.p.T)
    np.testing.assert_array_equal(m.points[:, 2], 0.0)
    np.testing.assert_array_equal(m.cells_dict["triangle"], mesh.t.T)
    np.testing.assert_array_equal(m.point_data["u"][:, :2], u)
    np.testing.assert_array_equal(m.point_data["u"][:, 2], 0.0)
    np.testing.assert_array_equal(m.point_data["s"], s)
    full = m.cell_data["sigma"][0].reshape(ne, 3, 3)
    np.testing.assert_array_equal(full[:, :2, :2], sig)
    assert not full[:, 2, :].any() and not full[:, :, 2].any()
    np.testing.assert_array_equal(m.cell_data["iterations"][0], it)
    np.testing.assert_array_equal(m.cell_data["converged"][0], ok.astype(np.uint8))


def test_write_vtu_hex_reads_back(tmp_path):
    mesh = read_mesh(MESHES / "unit_cube_hex.msh")
    path = write_vtu(tmp_path / "hex.vtu", mesh, point_data={"x": mesh.p.T})
    np.testing.assert_array_equal(meshio.read(path).cells_dict["hexahedron"],
                                  to_meshio(mesh).cells_dict["hexahedron"])
    back = read_mesh(path)
    np.testing.assert_array_equal(back.t, mesh.t)


def test_write_vtu_rejects_wrong_shapes(tmp_path):
    mesh = skfem.MeshTri1().refined(1)
    basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementTriP2()))
    u = np.zeros(basis.N)
    with pytest.raises(ValueError, match=r"point data 'u' has shape \(50,\); expected \(9,\), "
                                         r"\(9, k\) or \(9, a, a\), 9 = number of vertices"):
        write_vtu(tmp_path / "bad.vtu", mesh, point_data={"u": u})
    with pytest.raises(ValueError, match=r"cell data 'e' has shape \(2, 8\)"):
        write_vtu(tmp_path / "bad.vtu", mesh, cell_data={"e": np.zeros((2, 8))})
    assert not list(tmp_path.iterdir())
    # the vertex values of a P2 field are accepted
    write_vtu(tmp_path / "ok.vtu", mesh, point_data={"u": u[basis.nodal_dofs].T})


# ---------------------------------------------------------------- P2 fields at all nodes

# VTK node order of the second-order cells: mid-edge nodes after the corners, then
# (quad9, hexahedron27) face centres and the cell centre
_VTK_EDGES = {
    "triangle6": [(0, 1), (1, 2), (2, 0)],
    "quad9": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "tetra10": [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)],
    "hexahedron27": [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                     (0, 4), (1, 5), (2, 6), (3, 7)],
}
_VTK_FACES = {
    "quad9": [(0, 1, 2, 3)],
    "hexahedron27": [(0, 4, 7, 3), (1, 2, 6, 5), (0, 1, 5, 4), (3, 2, 6, 7), (0, 1, 2, 3),
                     (4, 5, 6, 7), (0, 1, 2, 3, 4, 5, 6, 7)],
}
_P2 = [
    (skfem.MeshTri.init_tensor(*[np.linspace(0, 1, 4)] * 2), skfem.ElementTriP2, "triangle6"),
    (skfem.MeshQuad.init_tensor(np.linspace(0, 1, 4), np.linspace(0, 2, 3)),
     skfem.ElementQuad2, "quad9"),
    (skfem.MeshTet().refined(1), skfem.ElementTetP2, "tetra10"),
    (skfem.MeshHex().refined(1), skfem.ElementHex2, "hexahedron27"),
]


def _poly(x):
    """An exact quadratic with all second-order terms (a Q2 field only in 2D/3D products)."""
    d = x.shape[0]
    f = 1.0 + 2.0 * x[0] - x[1] + 3.0 * x[0] ** 2 - 2.0 * x[0] * x[1] + 0.5 * x[1] ** 2
    if d == 3:
        f = f + x[2] - 1.5 * x[2] ** 2 + x[1] * x[2] - 0.7 * x[0] * x[2]
    return f


@pytest.mark.parametrize("mesh, elem, cell_type", _P2, ids=[c for *_, c in _P2])
@pytest.mark.parametrize("vector", [False, True], ids=["scalar", "vector"])
def test_p2_field_written_at_all_nodes(tmp_path, mesh, elem, cell_type, vector):
    """A quadratic polynomial, interpolated in P2 and written with basis=, equals the
    polynomial at every node read back, mid-edge, mid-face and centre nodes included;
    the second-order cells have their extra nodes where VTK expects them."""
    e = skfem.ElementVector(elem()) if vector else elem()
    basis = skfem.Basis(mesh, e)
    x = basis.doflocs  # (d, N): node of each DOF
    d = mesh.dim()
    u = _poly(x) if not vector else _poly(x) * (1.0 + np.arange(basis.N) % d)  # u_c = (c+1) f
    path = write_vtu(tmp_path / "p2.vtu", mesh, point_data={"u": u}, basis=basis,
                     cell_data={"e": np.arange(mesh.nelements)})
    m = meshio.read(path)
    assert [b.type for b in m.cells] == [cell_type]
    conn = m.cells[0].data
    pts = m.points
    n_extra = {"triangle6": lambda: mesh.nfacets, "tetra10": lambda: mesh.nedges,
               "quad9": lambda: mesh.nfacets + mesh.nelements,
               "hexahedron27": lambda: mesh.nedges + mesh.nfacets + mesh.nelements}[cell_type]()
    assert len(pts) == mesh.nvertices + n_extra
    np.testing.assert_array_equal(pts[: mesh.nvertices, :d], mesh.p.T)
    f = _poly(pts[:, :d].T)
    got = m.point_data["u"]
    if vector:
        for c in range(d):
            np.testing.assert_allclose(got[:, c], (c + 1) * f, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_allclose(got, f, rtol=1e-12, atol=1e-12)
    nc = conn.shape[1] - len(_VTK_EDGES[cell_type]) - len(_VTK_FACES.get(cell_type, []))
    for k, (a, b) in enumerate(_VTK_EDGES[cell_type]):
        np.testing.assert_allclose(pts[conn[:, nc + k]], 0.5 * (pts[conn[:, a]] + pts[conn[:, b]]),
                                   atol=1e-14)
    off = nc + len(_VTK_EDGES[cell_type])
    for k, face in enumerate(_VTK_FACES.get(cell_type, [])):
        np.testing.assert_allclose(pts[conn[:, off + k]], pts[conn[:, face]].mean(axis=1),
                                   atol=1e-14)
    np.testing.assert_array_equal(m.cell_data["e"][0], np.arange(mesh.nelements))


def test_p2_output_interpolates_vertex_values_linearly(tmp_path):
    """Vertex-only arrays next to a P2 field: a linear field stays exact at the new nodes;
    DOF vectors and all-node arrays are accepted too, through nodal_values."""
    mesh = skfem.MeshQuad.init_tensor(*[np.linspace(0, 1, 3)] * 2)
    basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementQuad2()))
    lin = 2.0 * mesh.p[0] - mesh.p[1] + 0.5
    bil = mesh.p[0] * mesh.p[1]  # Q1: exact at edge midpoints and centres too
    x = basis.doflocs
    u = np.where(np.arange(basis.N) % 2 == 0, x[0] ** 2, x[1])
    nodes = fe2.io.nodal_values(basis, u)
    path = write_vtu(tmp_path / "mixed.vtu", mesh, basis=basis,
                     point_data={"lin": lin, "bil": np.stack([bil, lin], axis=1), "u": u,
                                 "u_nodes": nodes})
    m = meshio.read(path)
    px, py = m.points[:, 0], m.points[:, 1]
    np.testing.assert_allclose(m.point_data["lin"], 2.0 * px - py + 0.5, atol=1e-14)
    np.testing.assert_allclose(m.point_data["bil"][:, 0], px * py, atol=1e-14)
    np.testing.assert_allclose(m.point_data["u"][:, :2], np.stack([px**2, py], axis=1),
                               atol=1e-14)
    np.testing.assert_array_equal(m.point_data["u_nodes"], m.point_data["u"])
    with pytest.raises(ValueError, match=r"point data 'w' has shape \(7,\); expected \(25,\), "
                                         r"\(25, k\) or \(25, a, a\) node values, \(9, \.\.\.\) "
                                         r"real vertex values, \(50,\) DOF vector of the basis"):
        write_vtu(tmp_path / "bad.vtu", mesh, basis=basis, point_data={"w": np.zeros(7)})
    with pytest.raises(ValueError, match="basis is not defined on the mesh being written"):
        write_vtu(tmp_path / "bad.vtu", mesh.refined(), basis=basis)
    with pytest.raises(ValueError, match="cannot write fields of a ElementQuadP basis"):
        write_vtu(tmp_path / "bad.vtu", mesh, basis=skfem.Basis(mesh, skfem.ElementQuadP(3)))


def test_pvd_writer_p2_steps(tmp_path):
    mesh = skfem.MeshTri.init_tensor(*[np.linspace(0, 1, 3)] * 2)
    basis = skfem.Basis(mesh, skfem.ElementTriP2())
    x, y = basis.doflocs
    with PVDWriter(tmp_path) as out:
        for t in (0.5, 1.0):
            out.write(t, mesh, point_data={"f": t * x * y}, basis=basis)
    for t, vtu in read_pvd(out.path):
        m = meshio.read(vtu)
        assert m.cells[0].type == "triangle6"
        np.testing.assert_allclose(m.point_data["f"], t * m.points[:, 0] * m.points[:, 1],
                                   atol=1e-15)


# ---------------------------------------------------------------- quadrature data


def test_quadrature_to_cell():
    rng = np.random.default_rng(1)
    q = rng.standard_normal((2, 3, 5, 4))  # (2, 3, n_el, n_qp)
    c = quadrature_to_cell(q)
    assert c.shape == (5, 2, 3)
    np.testing.assert_allclose(c[3], q[:, :, 3, :].mean(axis=-1))
    np.testing.assert_allclose(quadrature_to_cell(q[0, 0]), q[0, 0].mean(axis=-1))
    it = rng.integers(0, 10, (5, 4))
    np.testing.assert_array_equal(quadrature_to_cell(it), it.max(axis=-1))
    flags = it > 7
    out = quadrature_to_cell(flags)
    assert out.dtype == bool
    np.testing.assert_array_equal(out, flags.any(axis=-1))
    w = rng.uniform(0.5, 1.0, (5, 4))
    np.testing.assert_allclose(quadrature_to_cell(q, weights=w)[2],
                               (q[..., 2, :] * w[2]).sum(-1) / w[2].sum())
    with pytest.raises(ValueError, match="expected"):
        quadrature_to_cell(np.zeros(3))


def test_quadrature_to_cell_with_skfem_fields():
    mesh = skfem.MeshTri1().refined(2)
    basis = skfem.Basis(mesh, skfem.ElementTriP1())
    field = basis.interpolate(mesh.p[0])  # DiscreteField, x at the quadrature points
    xc = quadrature_to_cell(field, weights=basis.dx)
    np.testing.assert_allclose(xc, mesh.p[0, mesh.t].mean(axis=0))  # centroid of P1 x


# ---------------------------------------------------------------- PVD


def test_pvd_writer_and_reader(tmp_path):
    mesh = read_mesh(MESHES / "unit_square_quad.msh")
    nqp = 4
    times = [0.0, 0.25, 1.0]
    out = PVDWriter(tmp_path / "run", name="sol")
    written = []
    for k, t in enumerate(times):
        q = np.full((2, 2, mesh.nelements, nqp), t)
        q[0, 1] = np.arange(nqp)
        written.append(out.write(t, mesh, point_data={"T": t * mesh.p[0]},
                                 cell_data={"k": np.full(mesh.nelements, k)},
                                 quadrature_data={"stress": q,
                                                  "iters": np.full((mesh.nelements, nqp), k)}))
    assert [p.name for p in written] == ["sol_000000.vtu", "sol_000001.vtu", "sol_000002.vtu"]
    steps = read_pvd(tmp_path / "run" / "sol.pvd")
    assert [t for t, _ in steps] == times
    assert [p for _, p in steps] == written == [p for _, p in out.steps]
    for (t, p), k in zip(steps, range(3), strict=True):
        m = meshio.read(p)
        np.testing.assert_array_equal(m.point_data["T"], t * mesh.p[0])
        np.testing.assert_array_equal(m.cell_data["k"][0], k)
        np.testing.assert_array_equal(m.cell_data["iters"][0], k)
        stress = m.cell_data["stress"][0].reshape(-1, 3, 3)
        np.testing.assert_allclose(stress[:, 0, 1], 1.5)
        np.testing.assert_allclose(stress[:, 1, 1], t)
    root = ET.parse(tmp_path / "run" / "sol.pvd").getroot()
    assert root.get("type") == "Collection"
    assert [ds.get("timestep") for ds in root.iter("DataSet")] == ["0.0", "0.25", "1.0"]
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]


def test_pvd_writer_resume_and_restart_from_earlier_time(tmp_path, caplog):
    mesh = skfem.MeshTri1()
    first = PVDWriter(tmp_path)
    for t in (0.0, 0.1, 0.2):
        first.write(t, mesh)
    again = PVDWriter(tmp_path, resume=True)
    assert again.write(0.3, mesh).name == "solution_000003.vtu"
    assert [t for t, _ in read_pvd(tmp_path / "solution.pvd")] == [0.0, 0.1, 0.2, 0.3]
    # a restart from the checkpoint at t = 0.1 replaces the later steps
    restarted = PVDWriter(tmp_path, resume=True)
    with caplog.at_level(logging.WARNING):
        p = restarted.write(0.15, mesh)
    assert "replaces 2 recorded steps" in caplog.text
    assert p.name == "solution_000004.vtu"
    steps = read_pvd(tmp_path / "solution.pvd")
    assert [(t, q.name) for t, q in steps] == [(0.0, "solution_000000.vtu"),
                                               (0.1, "solution_000001.vtu"),
                                               (0.15, "solution_000004.vtu")]
    # without resume the collection starts over
    fresh = PVDWriter(tmp_path)
    fresh.write(0.0, mesh)
    assert len(read_pvd(tmp_path / "solution.pvd")) == 1


def test_pvd_writer_errors(tmp_path):
    mesh = skfem.MeshTri1()
    out = PVDWriter(tmp_path)
    with pytest.raises(ValueError, match=r"quadrature data 's' has shape \(3, 4\); expected "
                                         r"\(\*idx, 2, n_qp\)"):
        out.write(0.0, mesh, quadrature_data={"s": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="given both as cell data and as quadrature data"):
        out.write(0.0, mesh, cell_data={"s": np.zeros(2)},
                  quadrature_data={"s": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="time must be finite"):
        out.write(float("nan"), mesh)
    with pytest.raises(FileNotFoundError, match="nope.pvd"):
        read_pvd(tmp_path / "nope.pvd")
    (tmp_path / "x.pvd").write_text("<VTKFile type='UnstructuredGrid'/>")
    with pytest.raises(ValueError, match="not a ParaView collection"):
        read_pvd(tmp_path / "x.pvd")


# ---------------------------------------------------------------- renders


def check_png(path, min_colours=10):
    from PIL import Image

    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000
    img = np.asarray(Image.open(path).convert("RGB"))
    assert len(np.unique(img.reshape(-1, 3), axis=0)) >= min_colours
    return img


def test_render_png_2d_deformed(tmp_path):
    mesh = read_mesh(MESHES / "plate_with_hole.msh")
    u = np.stack([0.05 * mesh.p[0], -0.02 * mesh.p[0] * mesh.p[1]], axis=1)
    path = render_png(tmp_path / "plate.png", mesh, point_data={"u": u}, scalars="u",
                      displacement="u", scale=2.0, title="plate", window_size=(600, 450))
    img = check_png(path)
    assert img.shape == (450, 600, 3)


def test_render_png_3d_cell_data(tmp_path):
    mesh = read_mesh(MESHES / "unit_cube_tet.msh")
    path = render_png(tmp_path / "cube.png", mesh,
                      cell_data={"sigma": np.ones((mesh.nelements, 3, 3))},
                      displacement=0.1 * mesh.p.T ** 2, window_size=(500, 400))
    check_png(path)
    with pytest.raises(ValueError, match="unknown field 'nope'.*sigma"):
        render_png(tmp_path / "x.png", mesh, cell_data={"sigma": np.ones(mesh.nelements)},
                   scalars="nope")


def test_render_voxels(tmp_path):
    i, j, k = np.indices((12, 12, 12))
    image = ((i - 6) ** 2 + (j - 6) ** 2 + (k - 6) ** 2 < 16).astype(int)
    check_png(render_voxels_png(tmp_path / "v3.png", image, hide_phases=[0],
                                window_size=(400, 400)))
    img2 = check_png(render_voxels_png(tmp_path / "v2.png", 3 * image[:, :, 6],
                                       window_size=(400, 400)), min_colours=3)
    assert img2.shape == (400, 400, 3)
    with pytest.raises(ValueError, match="expected integer phase ids"):
        render_voxels_png(tmp_path / "x.png", np.zeros((3, 3)))
