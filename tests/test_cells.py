"""fe2.homogenization.cells: geometry of the generated unit cells, periodic meshes, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import skfem

from fe2.homogenization import cells
from fe2.homogenization.cells import Cell

MESHES = Path(__file__).resolve().parents[1] / "meshes"


def _element_volumes(mesh) -> np.ndarray:
    """Independent element volumes by a scikit-fem P0 basis."""
    elem = {
        skfem.MeshTri1: skfem.ElementTriP0,
        skfem.MeshQuad1: skfem.ElementQuad0,
        skfem.MeshTet1: skfem.ElementTetP0,
        skfem.MeshHex1: skfem.ElementHex0,
    }[type(mesh)]()
    return np.asarray(skfem.Basis(mesh, elem).dx).sum(axis=1)


def _assert_periodic_nodes(cell: Cell) -> None:
    """Every node on a face x_a = lo_a has an image on x_a = hi_a and vice versa."""
    p = cell.mesh.p
    lo = np.asarray(cell.origin)
    L = np.asarray(cell.size)
    tol = 1e-9 * L.max()
    for a in range(cell.dim):
        left = p[:, np.abs(p[a] - lo[a]) < tol]
        right = p[:, np.abs(p[a] - lo[a] - L[a]) < tol].copy()
        right[a] -= L[a]
        assert left.shape == right.shape
        key = np.lexsort(left)
        key_r = np.lexsort(np.round(right / tol) * tol)
        np.testing.assert_allclose(left[:, key], right[:, key_r], atol=10 * tol)


# ---------------------------------------------------------------- voxel cells


def test_checkerboard_pattern_and_fractions():
    cell = cells.checkerboard(3)
    assert cell.image.shape == (6, 6)
    assert cell.kind == "voxel" and cell.dim == 2
    np.testing.assert_array_equal(cell.volume_fractions(), [0.5, 0.5])
    img = cell.image
    # constant inside a square, alternating between neighbouring squares
    assert np.all(img[:3, :3] == img[0, 0]) and img[0, 0] != img[3, 0] and img[0, 0] != img[0, 3]
    assert img[0, 0] == img[3, 3]
    cube = cells.checkerboard(2, dim=3, size=(1.0, 2.0, 3.0))
    assert cube.image.shape == (4, 4, 4) and cube.size == (1.0, 2.0, 3.0)
    np.testing.assert_array_equal(cube.volume_fractions(), [0.5, 0.5])


def test_voxel_mesh_phases_follow_the_image():
    img = np.array([[0, 1, 2], [2, 0, 1]])  # axis 0 along x
    cell = cells.from_image(img, size=(2.0, 3.0), origin=(1.0, -1.0))
    mesh, phase = cell.to_mesh()
    assert isinstance(mesh, skfem.MeshQuad1)
    assert mesh.t.shape[1] == 6
    centroid = mesh.p[:, mesh.t].mean(axis=1)
    i = np.floor((centroid[0] - 1.0) / 1.0).astype(int)
    j = np.floor((centroid[1] + 1.0) / 1.0).astype(int)
    np.testing.assert_array_equal(phase, img[i, j])
    np.testing.assert_allclose(_element_volumes(mesh).sum(), 6.0)
    np.testing.assert_allclose(cell.volume_fractions(), [2 / 6, 2 / 6, 2 / 6])
    # default voxel size 1
    assert cells.from_image(img).size == (2.0, 3.0)
    assert cells.from_image(img, voxel_size=0.5).size == (1.0, 1.5)


def test_voxel_3d_mesh_is_hex():
    img = np.zeros((2, 3, 4), dtype=int)
    img[1, 2, 3] = 1
    mesh, phase = cells.from_image(img, size=1.0).to_mesh()
    assert isinstance(mesh, skfem.MeshHex1)
    assert phase.sum() == 1
    c = mesh.p[:, mesh.t[:, phase == 1]].mean(axis=1).ravel()
    np.testing.assert_allclose(c, [0.75, 5 / 6, 7 / 8])


# ---------------------------------------------------------------- laminates


@pytest.mark.parametrize("dim, normal", [(2, 0), (2, 1), (3, 2)])
def test_laminate_is_aligned_with_the_layers(dim, normal):
    fr = [0.2, 0.5, 0.3]
    cell = cells.laminate(fr, normal=normal, dim=dim, size=2.0, resolution=5)
    mesh, phase = cell.to_mesh()
    np.testing.assert_allclose(cell.volume_fractions(), fr, rtol=1e-12)
    cuts = np.array([0.0, 0.4, 1.4, 2.0])
    xn = mesh.p[normal, mesh.t]  # (n_local, n_el)
    for e in range(mesh.t.shape[1]):
        k = phase[e]
        assert cuts[k] - 1e-12 <= xn[:, e].min() and xn[:, e].max() <= cuts[k + 1] + 1e-12
    twin = cells.laminate([1, 1], phase_ids=[3, 1])
    assert sorted(np.unique(twin.phase)) == [1, 3]


# ---------------------------------------------------------------- gmsh cells


def test_circular_inclusion_geometry():
    cell = cells.circular_inclusion(0.3, mesh_size=0.05)
    mesh, phase = cell.to_mesh()
    r = math.sqrt(0.3 / math.pi)
    centroid = mesh.p[:, mesh.t].mean(axis=1)
    dist = np.linalg.norm(centroid - 0.5, axis=0)
    assert np.all(dist[phase == 1] < r) and np.all(dist[phase == 0] > r - 0.05)
    vol = _element_volumes(mesh)
    # inscribed polygon: a little less than the exact fraction
    vf = vol[phase == 1].sum()
    assert 0.3 * 0.98 < vf <= 0.3
    np.testing.assert_allclose(vol.sum(), 1.0, rtol=1e-12)
    _assert_periodic_nodes(cell)


def test_inclusions_wrap_across_the_boundary():
    # a disk centred on the corner appears as four quarter disks
    size = (1.0, 0.8)
    cell = cells.inclusions([[0.05, 0.75], [0.5, 0.4]], [0.2, 0.15], size, mesh_size=0.04)
    mesh, phase = cell.to_mesh()
    vol = _element_volumes(mesh)
    exact = math.pi * (0.2**2 + 0.15**2)
    assert abs(vol[phase == 1].sum() - exact) < 0.02 * exact
    centroid = mesh.p[:, mesh.t].mean(axis=1)
    inc = centroid[:, phase == 1]
    # pieces of the wrapped disk in all four corners of the box
    for cx, cy in [(0.0, 0.0), (1.0, 0.0), (0.0, 0.8), (1.0, 0.8)]:
        assert np.min(np.hypot(inc[0] - cx, inc[1] - cy)) < 0.1
    _assert_periodic_nodes(cell)


def test_random_inclusions_2d_and_3d():
    c2 = cells.random_inclusions(0.3, 5, seed=7, mesh_size=0.06)
    assert c2.n_phases == 2
    assert abs(c2.volume_fractions()[1] - 0.3) < 0.015
    _assert_periodic_nodes(c2)
    again = cells.random_inclusions(0.3, 5, seed=7, mesh_size=0.06)
    np.testing.assert_array_equal(again.mesh.p, c2.mesh.p)
    other = cells.random_inclusions(0.3, 5, seed=8, mesh_size=0.06)
    assert other.mesh.p.shape != c2.mesh.p.shape or not np.allclose(other.mesh.p, c2.mesh.p)
    c3 = cells.random_inclusions(0.15, 3, seed=1, dim=3, mesh_size=0.2)
    assert isinstance(c3.mesh, skfem.MeshTet1)
    assert abs(c3.volume_fractions()[1] - 0.15) < 0.03
    _assert_periodic_nodes(c3)


def test_sphere_inclusion_3d():
    cell = cells.circular_inclusion(0.2, dim=3, mesh_size=0.2)
    mesh, phase = cell.to_mesh()
    vol = _element_volumes(mesh)
    np.testing.assert_allclose(vol.sum(), 1.0, rtol=1e-10)
    assert 0.2 * 0.85 < vol[phase == 1].sum() <= 0.2


# ---------------------------------------------------------------- user meshes


def test_from_mesh_file_with_subdomains():
    path = MESHES / "two_phase_square.msh"
    cell = cells.from_mesh(path, phases=["matrix", "inclusion"])
    assert cell.size == pytest.approx((1.0, 1.0)) and cell.origin == pytest.approx((0.0, 0.0))
    vol = _element_volumes(cell.mesh)
    assert abs(vol[cell.phase == 1].sum() - math.pi * 0.09) < 0.01
    swapped = cells.from_mesh(path, phases={"matrix": 1, "inclusion": 0})
    np.testing.assert_array_equal(swapped.phase, 1 - cell.phase)
    with pytest.raises(ValueError, match="unknown subdomain.*'fibre'.*known"):
        cells.from_mesh(path, phases=["matrix", "fibre"])


def test_from_mesh_skfem_mesh_and_phase_array():
    mesh = skfem.MeshTri1.init_tensor(np.linspace(2, 4, 5), np.linspace(0, 1, 3))
    phase = np.arange(mesh.t.shape[1]) % 2
    cell = cells.from_mesh(mesh, phases=phase)
    assert cell.size == pytest.approx((2.0, 1.0)) and cell.origin == pytest.approx((2.0, 0.0))
    np.testing.assert_array_equal(cell.phase, phase)


# ---------------------------------------------------------------- errors


def test_cell_errors_are_actionable():
    with pytest.raises(ValueError, match="exactly one of image"):
        Cell(size=(1.0, 1.0))
    with pytest.raises(ValueError, match="phase ids >= 0"):
        cells.from_image(np.array([[0, -1], [1, 0]]))
    mesh = skfem.MeshTri1.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 3))
    holey = skfem.MeshTri1(mesh.p, mesh.t[:, 1:])
    with pytest.raises(ValueError, match="must fill the box"):
        Cell(size=(1.0, 1.0), mesh=holey)
    with pytest.raises(ValueError, match="one id per mesh element"):
        Cell(size=(1.0, 1.0), mesh=mesh, phase=np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="volume_fraction must be in"):
        cells.circular_inclusion(1.2)
    with pytest.raises(ValueError, match="does not fit the box"):
        cells.circular_inclusion(0.9)
    with pytest.raises(ValueError, match="jamming"):
        cells.random_inclusions(0.6, 30, seed=0, max_tries=2000)
    with pytest.raises(ValueError, match="normal must be an axis index"):
        cells.laminate([0.5, 0.5], normal=2, dim=2)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        cells.checkerboard(2, dim=4)


def test_gmsh_cell_keeps_python_sigpipe_handling():
    """gmsh resets SIGPIPE to 'terminate'; after a meshed cell a write to a closed pipe
    (e.g. to a dead worker) must still raise BrokenPipeError, not kill the process."""
    import subprocess
    import sys

    code = (
        "import os\n"
        "from fe2.homogenization import cells\n"
        "cells.circular_inclusion(0.3, mesh_size=0.2)\n"
        "r, w = os.pipe(); os.close(r)\n"
        "try:\n"
        "    os.write(w, b'x')\n"
        "except BrokenPipeError:\n"
        "    print('broken pipe raised')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, (res.returncode, res.stderr[-500:])
    assert "broken pipe raised" in res.stdout


# ---------------------------------------------------------------- overlap and exact fractions


def _interface_segments(mesh, phase, r):
    """Area between each interface edge (phase 0 | phase 1) and its circle of radius r:
    the circular segment r^2/2 (theta - sin theta) over a chord c, theta = 2 asin(c / 2r).
    Edges are found from the triangles themselves, not from the cell code."""
    owner = {}
    for k, tri in enumerate(mesh.t.T):
        for a, b in ((0, 1), (1, 2), (2, 0)):
            owner.setdefault(tuple(sorted((int(tri[a]), int(tri[b])))), []).append(k)
    total = 0.0
    for (a, b), els in owner.items():
        if len(els) == 2 and phase[els[0]] != phase[els[1]]:
            c = np.linalg.norm(mesh.p[:, a] - mesh.p[:, b])
            theta = 2.0 * math.asin(c / (2.0 * r))
            total += 0.5 * r**2 * (theta - math.sin(theta))
    return total


@pytest.mark.parametrize("vf, n, seed", [(0.3, 5, 7), (0.45, 9, 3)])
def test_random_inclusions_exact_fraction(vf, n, seed):
    """The meshed inclusion phase is an inscribed polygon of the n non-overlapping disks:
    its area plus the circular segments over its interface edges is n pi r^2 exactly
    (overlapping, fused disks would miss their lens areas)."""
    cell = cells.random_inclusions(vf, n, seed=seed, mesh_size=0.05)
    mesh, phase = cell.to_mesh()
    r = math.sqrt(vf / (n * math.pi))  # the radius of n disks of total area vf (unit box)
    meshed = _element_volumes(mesh)[phase == 1].sum()
    assert meshed < n * math.pi * r**2
    np.testing.assert_allclose(meshed + _interface_segments(mesh, phase, r), n * math.pi * r**2,
                               rtol=1e-9)
    assert cell.exact_fraction == pytest.approx(n * math.pi * r**2, rel=1e-12)
    assert f"meshed vf={meshed:.4g}" in cell.description
    np.testing.assert_allclose(cell.volume_fractions()[1], meshed, rtol=1e-12)


def test_overlapping_inclusions_are_refused():
    # two disks of r = 0.2 asked (fraction 2 pi 0.04 = 0.2513) whose centers are 0.2 apart:
    # meshed, they would fuse into one region of fraction 0.20
    with pytest.raises(ValueError, match=r"inclusions 0 and 1 overlap .*0\.2 apart.*radii sum "
                       r"0\.4.*0\.2513 fraction"):
        cells.inclusions([[0.3, 0.5], [0.5, 0.5]], 0.2, 1.0, mesh_size=0.05)
    # across the periodic box: 0.05 and 0.9 are 0.15 apart through the face x = 0
    with pytest.raises(ValueError, match=r"inclusions 0 and 1 overlap .*0\.15 apart across"):
        cells.inclusions([[0.05, 0.5], [0.9, 0.5]], 0.1, 1.0)
    with pytest.raises(ValueError, match=r"inclusions 1 and 2 overlap"):
        cells.inclusions([[0.2, 0.2, 0.2], [0.7, 0.7, 0.7], [0.7, 0.7, 0.9]], 0.12, 1.0)
    # disjoint disks, one of them given outside the box (wrapped): exact area within meshing
    cell = cells.inclusions([[0.3, 0.5], [1.75, 0.5]], 0.2, 1.0, mesh_size=0.05)
    mesh, phase = cell.to_mesh()
    exact = 2 * math.pi * 0.04
    meshed = _element_volumes(mesh)[phase == 1].sum()
    np.testing.assert_allclose(meshed + _interface_segments(mesh, phase, 0.2), exact, rtol=1e-9)
    assert cell.exact_fraction == pytest.approx(exact, rel=1e-12)


def test_mesher_fusing_inclusions_is_caught():
    """Behind the overlap check, the meshed fraction is checked against the exact one."""
    from fe2.homogenization.cells import _gmsh_cell

    with pytest.raises(ValueError, match=r"meshed inclusion volume fraction 0\.2\d* differs from "
                       r"the exact 0\.2513.*fused"):
        _gmsh_cell((1.0, 1.0), None, [np.array([0.3, 0.5]), np.array([0.5, 0.5])], [0.2, 0.2],
                   0.05, "fused pair")


def test_random_inclusions_too_dense_names_fraction_n_and_gap():
    with pytest.raises(ValueError, match=r"volume fraction 0\.6 is too high for 30 inclusions "
                       r"\(radius 0\.07979\) with a gap of 0\.05"):
        cells.random_inclusions(0.6, 30, seed=0, min_gap=0.05, max_tries=500)
    with pytest.raises(ValueError, match="min_gap must be a finite number >= 0"):
        cells.random_inclusions(0.3, 3, seed=0, min_gap=float("nan"))
