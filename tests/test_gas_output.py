"""Output of 1D gas runs (fe2.gas.output): CSV/JSON, ParaView series, profile plot."""

import csv
import dataclasses
import json

import meshio
import numpy as np
import pytest

from fe2.gas import IdealGas, conserved, evolve, exact_riemann, shock_tube
from fe2.gas.output import evolve_series, plot_profiles, write_profiles, write_series
from fe2.io import read_pvd

SOD = ((1.0, 0.0, 1.0), (0.125, 0.0, 0.1))


@pytest.fixture(scope="module")
def sod():
    return shock_tube(*SOD, 40, 0.1)


def test_csv_json_round_trip(sod, tmp_path):
    c, j = write_profiles(sod, tmp_path, exact=SOD, scheme="nt")
    with c.open() as fh:
        rows = list(csv.reader(fh))
    head, data = rows[0], np.array(rows[1:], dtype=float)
    assert head == ["x", "rho", "u", "p", "rho_exact", "u_exact", "p_exact"]
    for k, arr in zip(head[:4], (sod.x, sod.rho, sod.u, sod.p), strict=True):
        np.testing.assert_array_equal(data[:, head.index(k)], arr)
    ex = exact_riemann(*SOD, sod.x, sod.t)
    np.testing.assert_array_equal(data[:, 4], ex[0])
    doc = json.loads(j.read_text())
    assert doc["t"] == sod.t and doc["steps"] == sod.steps and doc["scheme"] == "nt"
    for k, arr in zip(("x", "rho", "u", "p"), (sod.x, sod.rho, sod.u, sod.p), strict=True):
        np.testing.assert_array_equal(doc["columns"][k], arr)
    mass = doc["conservation"]["mass"]
    assert mass["initial"] == sod.mass[0] and mass["final"] == sod.mass[-1]


def test_flow_result_profiles_use_gamma(tmp_path):
    n, g = 16, 5.0 / 3.0
    x = (np.arange(n) + 0.5) / n
    rho, p = 1 + 0.1 * np.sin(2 * np.pi * x), np.full(n, 2.0)
    r = evolve(conserved(rho, np.ones(n), p, g), 1.0 / n, 0.0, IdealGas(g), bc="periodic")
    doc = json.loads(write_profiles(r, tmp_path, gamma=g)[1].read_text())
    np.testing.assert_allclose(doc["columns"]["p"], p, rtol=1e-14)
    np.testing.assert_allclose(doc["columns"]["rho"], rho, rtol=1e-15)


def test_series_read_back_with_meshio(tmp_path):
    n = 30
    x = (np.arange(n) + 0.5) / n
    U0 = conserved(np.where(x < 0.5, 1.0, 0.125), np.zeros(n), np.where(x < 0.5, 1.0, 0.1))
    snaps = evolve_series(U0, 1.0 / n, [0.05, 0.1], IdealGas(), bc="outflow")
    last = snaps[-1]
    assert last.t == 0.1 and last.times[0] == 0.0 and last.times[-1] == 0.1
    assert last.mass.size == last.times.size and np.all(np.diff(last.times) > 0)
    # no wave reaches the ends by t = 0.1: mass is conserved across the restarts
    np.testing.assert_allclose(last.mass, last.mass[0], rtol=1e-14)
    for r in snaps:  # each snapshot is the Sod solution at its own time
        err = np.abs(r.U[0] - exact_riemann(*SOD, x, r.t)[0]).mean()
        assert err < 0.03, (r.t, err)
    pvd = write_series(snaps, tmp_path / "vtk", name="sod")
    steps = read_pvd(pvd)
    assert [t for t, _ in steps] == [0.05, 0.1]
    for (_, vtu), r in zip(steps, snaps, strict=True):
        m = meshio.read(vtu)
        assert m.cells[0].type == "line" and m.cells[0].data.shape == (n, 2)
        np.testing.assert_allclose(m.points[:, 0], np.linspace(0, 1, n + 1), atol=1e-15)
        np.testing.assert_array_equal(m.cell_data["rho"][0], r.U[0])
        np.testing.assert_array_equal(m.cell_data["U"][0], r.U.T)
        u = r.U[1] / r.U[0]
        np.testing.assert_allclose(m.cell_data["u"][0], u, rtol=1e-15, atol=1e-15)


def test_series_rejects_decreasing_times(sod, tmp_path):
    with pytest.raises(ValueError, match="times must increase"):
        write_series([sod, sod], tmp_path)


def test_plot_is_png(sod, tmp_path):
    png = plot_profiles(sod, tmp_path / "sod.png", exact=True)
    head = png.read_bytes()[:8]
    assert head == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    with pytest.raises(ValueError, match="left, right"):
        plot_profiles(sod, tmp_path / "bad.png", exact=(1.0,))


def test_2d_series_is_vtk_image_data_with_the_cell_averages(tmp_path):
    """A 2D run as .vti frames: values at the right cells, primitive variables by hand."""
    import pyvista as pv

    from fe2.gas import evolve2d

    nx, ny = 12, 8
    x = (np.arange(nx) + 0.5) / nx
    y = (np.arange(ny) + 0.5) / ny * 0.5
    X, Y = np.meshgrid(x, y, indexing="ij")
    rho = 1.0 + 0.3 * X + 0.1 * Y
    U0 = np.stack([rho, rho * 0.2, rho * -0.1, 1.0 / 0.4 + 0.5 * rho * 0.05])
    r1 = evolve2d(U0, 1.0 / nx, 0.5 / ny, 0.02, IdealGas(1.4, dim=2))
    r2 = evolve2d(r1.U, 1.0 / nx, 0.5 / ny, 0.02, IdealGas(1.4, dim=2))
    r2 = dataclasses.replace(r2, t=r1.t + r2.t)
    pvd = write_series([r1, r2], tmp_path, name="blast")
    frames = read_pvd(pvd)
    assert [t for t, _ in frames] == [r1.t, r2.t]
    grid = pv.read(frames[1][1])
    assert grid.n_cells == nx * ny
    centres = grid.cell_centers().points
    i = np.rint(centres[:, 0] * nx - 0.5).astype(int)
    j = np.rint(centres[:, 1] * 2 * ny - 0.5).astype(int)
    Uc = r2.U[:, i, j]
    assert np.allclose(grid.cell_data["rho"], Uc[0])
    assert np.allclose(grid.cell_data["velocity"][:, 1], Uc[2] / Uc[0])
    p = 0.4 * (Uc[3] - 0.5 * (Uc[1] ** 2 + Uc[2] ** 2) / Uc[0])
    assert np.allclose(grid.cell_data["p"], p)
