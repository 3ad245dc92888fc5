"""The flagship FE² demo (``fe2 demo``): outputs readable, physics against references.

One quick run (P1 macro mesh, 8x8-voxel RVE, two load steps) through the CLI
hook, then:

- every output exists and reads back (``.pvd`` series and VTUs with meshio,
  ``summary.json``, PNGs);
- the first step is elastic, so its reaction equals that of single-scale FE on
  the same mesh with the cell's elastic effective tensor, computed here by an
  independent periodic Q1 solve of the same voxel cell (scikit-fem forms and a
  node-identification matrix, not fe2's RVE), to 1e-6 relative; the RVE's
  reported effective tensor matches that independent tensor too;
- plastic strain is zero at the elastic step and positive afterwards, where
  the load–displacement curve falls below the elastic line;
- the Hill–Mandel residual is at round-off level.
"""

from __future__ import annotations

import json

import meshio
import numpy as np
import pytest
import scipy.sparse as sps
import scipy.sparse.linalg as spla
import skfem
from skfem.helpers import ddot, sym_grad, trace

from fe2.cli import main
from fe2.demo import DemoConfig, demo_config, demo_problem, fibre_cell
from fe2.io import read_pvd
from fe2.macro import NewtonOptions
from fe2.oracle import OracleBase, Response


class ConstantStiffness(OracleBase):
    """``sigma = C : eps`` with a fixed stiffness ``C (2, 2, 2, 2)`` (no history)."""

    measure = "strain"
    dim = 2

    def __init__(self, C: np.ndarray):
        self.C = np.asarray(C, dtype=float)

    def evaluate(self, g, x=None, state=None) -> Response:
        pts = self.check_input(g)
        flux = np.einsum("ijkl,kl...->ij...", self.C, np.asarray(g, dtype=float))
        tangent = np.broadcast_to(self.C.reshape(self.C.shape + (1,) * len(pts)),
                                  self.C.shape + pts)
        return Response(flux=flux, tangent=tangent)


def periodic_voxel_stiffness(img: np.ndarray, E: list[float], nu: list[float]) -> np.ndarray:
    """Plane-strain periodic effective stiffness ``(2, 2, 2, 2)`` of a unit voxel cell.

    Written independently of :class:`fe2.homogenization.RVE`: bilinear quads on the voxel
    grid, the energy form ``lam tr(e) tr(e) + 2 mu e : e`` per voxel, periodic
    fluctuations by identifying opposite boundary nodes, one node fixed, and
    ``E_a : C : E_b = u_a^T K u_b / V`` for the three unit macro strains.
    """
    n = img.shape[0]
    x = np.linspace(0.0, 1.0, n + 1)
    mesh = skfem.MeshQuad.init_tensor(x, x)
    basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementQuad1()), intorder=2)
    # element centres -> voxel phase
    c = mesh.p[:, mesh.t].mean(axis=1)
    ph = img[np.minimum((c[0] * n).astype(int), n - 1), np.minimum((c[1] * n).astype(int), n - 1)]
    E_, nu_ = np.asarray(E)[ph], np.asarray(nu)[ph]
    lam = (E_ * nu_ / ((1 + nu_) * (1 - 2 * nu_)))[:, None]
    mu = (E_ / (2 * (1 + nu_)))[:, None]

    @skfem.BilinearForm
    def energy(u, v, w):
        eu, ev = sym_grad(u), sym_grad(v)
        return w["lam"] * trace(eu) * trace(ev) + 2.0 * w["mu"] * ddot(eu, ev)

    K = energy.assemble(basis, lam=lam * np.ones(basis.X.shape[1]),
                        mu=mu * np.ones(basis.X.shape[1])).tocsr()
    # periodic node map: x = 1 -> x = 0, y = 1 -> y = 0
    p = mesh.p
    key = np.round(np.mod(p, 1.0) * n).astype(int)
    rep = {}
    node_rep = np.empty(p.shape[1], dtype=int)
    for i, k in enumerate(map(tuple, key.T)):
        node_rep[i] = rep.setdefault(k, len(rep))
    nd = basis.nodal_dofs  # (2, n_nodes)
    rows = nd.T.ravel()
    cols = (2 * node_rep[:, None] + np.arange(2)[None]).ravel()
    P = sps.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(basis.N, 2 * len(rep)))
    free = np.arange(2, 2 * len(rep))  # fix the fluctuation of one node (rigid translation)
    Kr = (P.T @ K @ P).tocsc()[free][:, free]
    strains = [np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]]),
               np.array([[0.0, 1.0], [1.0, 0.0]])]
    u_tot = []
    for Em in strains:
        u_aff = np.zeros(basis.N)
        u_aff[nd[0]] = Em[0] @ p
        u_aff[nd[1]] = Em[1] @ p
        w = np.zeros(P.shape[1])
        w[free] = spla.spsolve(Kr, -(P.T @ (K @ u_aff))[free])
        u_tot.append(u_aff + P @ w)
    Q = np.array([[ua @ (K @ ub) for ub in u_tot] for ua in u_tot])  # E_a : C : E_b, V = 1
    C = np.zeros((2, 2, 2, 2))
    C[0, 0, 0, 0], C[1, 1, 1, 1] = Q[0, 0], Q[1, 1]
    C[0, 0, 1, 1] = C[1, 1, 0, 0] = Q[0, 1]
    for i, j, k, l_ in [(0, 1, 0, 1), (0, 1, 1, 0), (1, 0, 0, 1), (1, 0, 1, 0)]:
        C[i, j, k, l_] = Q[2, 2] / 4.0
    for a in (0, 1):
        for i, j in [(0, 1), (1, 0)]:
            C[a, a, i, j] = C[i, j, a, a] = Q[a, 2] / 2.0
    return C


def test_independent_periodic_stiffness_is_exact_for_a_laminate():
    """The helper itself against the closed-form laminate (layered formula)."""
    from verification.exact_cells import layered_stiffness
    from verification.fe2_linear import isotropic_stiffness

    img = np.zeros((8, 8), dtype=int)
    img[3:, :] = 1  # layers normal to x1, fractions 3/8 and 5/8
    C = periodic_voxel_stiffness(img, [2.0, 30.0], [0.2, 0.35])
    ref = layered_stiffness([isotropic_stiffness(2.0, 0.2, 2), isotropic_stiffness(30.0, 0.35, 2)],
                            [3 / 8, 5 / 8], np.array([1.0, 0.0]))
    np.testing.assert_allclose(C, ref, rtol=0, atol=1e-10 * np.abs(ref).max())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    out.mkdir()
    (out / ".fe2-run").write_text("")  # an earlier fe2 output folder (fe2 replaces only those)
    (out / "stale.txt").write_text("old result")  # replaced whole on success
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    return out, json.loads((out / "summary.json").read_text())


def test_outputs_exist_and_read_back(demo):
    out, s = demo
    assert not (out / "stale.txt").exists()
    assert not list(out.parent.glob("out.partial-*"))
    for name in s["outputs"]:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for name in ("solution.pvd", "plate.png", "rve.png", "rve.vtu", "load_displacement.png"):
        assert name in s["outputs"]
    steps = read_pvd(out / "solution.pvd")
    assert [t for t, _ in steps] == pytest.approx(list(demo_config(True).steps))
    m = meshio.read(steps[-1][1])
    n_el = s["mesh"]["elements"]
    assert m.points.shape[0] == 82  # vertices of meshes/demo/plate_with_hole_coarse.msh
    assert m.point_data["displacement"].shape[0] == m.points.shape[0]
    for key, shape in (("stress", (n_el, 9)), ("equivalent_plastic_strain", (n_el,)),
                       ("micro_iterations", (n_el,)), ("micro_iterations_step", (n_el,)),
                       ("von_mises", (n_el,)), ("hill_mandel", (n_el,))):
        assert m.cell_data[key][0].shape == shape, key  # tensors padded to 3x3 for VTK
    # a micro Newton starts from the elastic prediction: elements still elastic need no
    # iteration, yielding ones (monotonic loading) at least one
    its = m.cell_data["micro_iterations_step"][0]
    plastic = m.cell_data["equivalent_plastic_strain"][0] > 0
    assert its.min() >= 0 and plastic.any() and np.all(its[plastic] >= 1)
    rve = meshio.read(out / "rve.vtu")
    assert rve.cell_data["phase"][0].max() == 1  # matrix and fibre
    assert rve.cell_data["equivalent_plastic_strain"][0].max() > 0
    assert s["micro_solves"] == sum(r["micro_solves"] for r in s["steps"]) > 0
    assert s["timings"]["wall_seconds"] > 0 and len(s["reaction"]) == len(s["steps"])


def test_elastic_step_equals_single_scale_fe_with_independent_tensor(demo):
    _, s = demo
    cfg = demo_config(True)
    cell = fibre_cell(cfg.voxels, cfg.fibre_fraction)
    C = periodic_voxel_stiffness(cell.image, [cfg.matrix[0], cfg.fibre[0]],
                                 [cfg.matrix[1], cfg.fibre[1]])
    C_rve = np.array(s["rve"]["effective_tensor"])
    assert C_rve.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(C_rve, C, rtol=0, atol=1e-9 * np.abs(C).max())
    prob = demo_problem(ConstantStiffness(C), cfg)
    sol = prob.solve(NewtonOptions(rtol=1e-12, atol=1e-14), reactions=("right",),
                     t_end=cfg.steps[0])
    r_ref = sol.reactions["right"][-1][0]
    r_fe2 = s["steps"][0]["reaction_right"][0]
    assert r_fe2 == pytest.approx(r_ref, rel=1e-6)


def test_plastic_strain_only_after_yield(demo):
    _, s = demo
    first, last = s["steps"][0], s["steps"][-1]
    assert first["max_equivalent_plastic_strain"] == 0.0 and first["plastic_points"] == 0
    assert last["max_equivalent_plastic_strain"] > 0 and last["plastic_points"] > 0
    # yielding softens the response: below the elastic line through the first step
    slope = first["reaction_right"][0] / first["u_right"]
    assert last["reaction_right"][0] < 0.99 * slope * last["u_right"]
    assert last["reaction_right"][0] > first["reaction_right"][0] > 0
    # Hill–Mandel: <sigma : eps> = <sigma> : <eps> to round-off (stress ~ 1e2 MPa, strain ~ 1e-3)
    assert s["max_hill_mandel"] < 1e-8


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="steps must increase"):
        DemoConfig(steps=(0.5, 0.2, 1.0))
    with pytest.raises(ValueError, match="voxels"):
        DemoConfig(voxels=2)


def test_failed_run_keeps_old_results(tmp_path, monkeypatch):
    import fe2.demo as demo_mod

    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")

    def boom(tmp, cfg, executor):
        (tmp / "partial.txt").write_text("half done")
        raise RuntimeError("micro solve exploded")

    monkeypatch.setattr(demo_mod, "_run", boom)
    with pytest.raises(RuntimeError, match="exploded"):
        demo_mod.run_demo(out, quick=True)
    assert (out / "summary.json").read_text() == "{}"
    assert (tmp_path / "out.failed" / "partial.txt").is_file()
    assert not list(tmp_path.glob("out.partial-*"))


def test_coarse_plate_mesh():
    import skfem

    from fe2.demo import MESH
    from fe2.io import read_mesh

    mesh = read_mesh(MESH)
    assert isinstance(mesh, skfem.MeshTri1) and mesh.nelements == 131
    assert set(mesh.boundaries) == {"left", "bottom", "right", "top", "hole"}
    area = skfem.Functional(lambda w: 1.0 + 0.0 * w.x[0]).assemble(
        skfem.Basis(mesh, skfem.ElementTriP1()))
    exact = 1.0 - np.pi * 0.25**2 / 4  # the polygon cuts the arc: slightly more area
    assert exact < area < exact + 2e-3
    p = mesh.p[:, np.unique(mesh.facets[:, mesh.boundaries["hole"]])]
    assert np.allclose(np.hypot(*p), 0.25)
