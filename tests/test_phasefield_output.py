"""fe2.phasefield snapshots -> RVE cells -> effective conductivity; VTU/PVD, CSV, PNG."""

from __future__ import annotations

import numpy as np
import skfem

from fe2.io import read_pvd
from fe2.phasefield import (
    CahnHilliard,
    SpectralCahnHilliard,
    conductivity_history,
    snapshot_cell,
    snapshot_image,
    write_run,
)


def test_conductivity_of_a_coarsening_microstructure_stays_within_hashin_shtrikman():
    rng = np.random.default_rng(3)
    ch = SpectralCahnHilliard((32, 32), 64.0, kappa=2.0, mobility=5.0)
    res = ch.solve(0.5 + 0.02 * rng.standard_normal((32, 32)), t_end=300.0, save_every=40)
    hist = conductivity_history(ch, res, (1.0, 10.0))
    assert hist.tensor.shape == (len(res.saved), 2, 2)
    mean = np.trace(hist.tensor, axis1=1, axis2=2) / 2
    sep = hist.times > 50  # separated snapshots (the first is uniform noise around 0.5)
    assert sep.sum() >= 2
    # trace bounds of Hashin-Shtrikman hold for anisotropic two-phase media too
    assert np.all(mean[sep] >= hist.lower[sep] * (1 - 1e-3))
    assert np.all(mean[sep] <= hist.upper[sep] * (1 + 1e-3))
    assert np.all(np.abs(hist.fraction[sep] - 0.5) < 0.1)  # mass 0.5 between wells 0.3, 0.7


def test_finite_element_snapshot_reproduces_a_linear_field_at_voxel_centres():
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 2, 5), np.linspace(0, 1, 4))
    ch = CahnHilliard(mesh, kappa=1.0, mobility=1.0)
    x = ch.basis.doflocs
    values, size, origin = snapshot_image(ch, 0.3 + 0.2 * x[0] + 0.1 * x[1], (8, 4))
    cx = (np.arange(8) + 0.5) * 0.25
    cy = (np.arange(4) + 0.5) * 0.25
    exact = 0.3 + 0.2 * cx[:, None] + 0.1 * cy[None]
    assert np.allclose(values, exact, atol=1e-12) and size == (2.0, 1.0)
    cell = snapshot_cell(ch, 0.3 + 0.2 * x[0] + 0.1 * x[1], (8, 4), threshold=0.5)
    assert np.array_equal(cell.image, (exact > 0.5).astype(int))


def test_write_run_round_trips(tmp_path):
    mesh = skfem.MeshQuad.init_tensor(np.linspace(0, 20, 11), np.linspace(0, 20, 11))
    ch = CahnHilliard(mesh, kappa=2.0, mobility=5.0, order=2)
    res = ch.solve(lambda x: 0.5 + 0.05 * np.cos(0.3 * x[0]), t_end=20.0, save_every=3)
    out = write_run(tmp_path, ch, res)
    data = np.loadtxt(out["csv"], delimiter=",", skiprows=1)
    assert np.array_equal(data, np.column_stack([res.times, res.energy, res.mass]))
    steps = read_pvd(out["pvd"])
    assert [t for t, _ in steps] == list(res.saved_times)
    import meshio

    last = meshio.read(steps[-1][1])
    assert np.allclose(last.point_data["phi"], res.field[: mesh.p.shape[1]])
    assert out["png"].stat().st_size > 1000


def test_example_07_spinodal_rve(tmp_path):
    import importlib.util
    from pathlib import Path

    from fe2.homogenization import hashin_shtrikman

    path = Path(__file__).resolve().parents[1] / "examples" / "07_spinodal_rve.py"
    spec = importlib.util.spec_from_file_location("ex07", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    s = mod.main(tmp_path)
    assert s["energy_increases"] == 0 and s["mass_change"] < 1e-12
    K = np.array(s["conductivity"])[1:]  # separated snapshots
    f = np.array(s["fraction"])[1:]
    mean = np.trace(K, axis1=1, axis2=2) / 2
    for k, fk in zip(mean, f, strict=True):
        b = hashin_shtrikman([1.0, 10.0], [1 - fk, fk], 2)  # independent of the example
        assert b.lower <= k <= b.upper
    # statistically symmetric two-phase medium at fraction ~1/2: Keller-Dykhne sqrt(10)
    assert abs(mean[-1] - np.sqrt(10.0)) < 0.1 * np.sqrt(10.0)
    assert (tmp_path / "conductivity.png").exists() and (tmp_path / "spinodal.csv").exists()


def test_render_snapshot_of_mesh_and_grid(tmp_path):
    from fe2.phasefield import render_snapshot

    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    ch = CahnHilliard(mesh, kappa=1.0, mobility=1.0)
    a = render_snapshot(tmp_path / "fe.png", ch, ch.basis.doflocs[0], title="c")
    sp = SpectralCahnHilliard((8, 8), 1.0, kappa=1.0, mobility=1.0)
    b = render_snapshot(tmp_path / "grid.png", sp, sp.points[0].ravel())
    assert a.stat().st_size > 1000 and b.stat().st_size > 1000
