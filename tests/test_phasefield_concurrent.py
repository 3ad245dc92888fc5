"""fe2.phasefield.concurrent: a macro heat problem with coarsening phase-field RVEs."""

from __future__ import annotations

import numpy as np
import skfem

from fe2.homogenization import hashin_shtrikman
from fe2.phasefield import SpectralCahnHilliard
from fe2.phasefield.concurrent import CoarseningConductor, coarsening_heat


def test_hot_points_coarsen_faster_with_the_mobility_time_scaling():
    # the mobility only rescales time in Cahn-Hilliard: a point at temperature history
    # T_k coarsens like a mobility-1 run to tau = sum M(T_k) dt (exact property)
    mobility = lambda T: 5.0 * np.exp(2.0 * (T - 1.0))  # noqa: E731 - Arrhenius-like
    cc = CoarseningConductor(16, 32.0, kappa=2.0, mobility=mobility, conductivities=(1.0, 10.0))
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 4, 3), np.linspace(0, 1, 2))
    mesh = mesh.with_boundaries({"left": lambda x: x[0] == 0, "right": lambda x: x[0] == 4})
    centroid = (np.array([[1 / 3], [1 / 3]]), np.array([0.5]))  # one RVE per triangle
    basis = skfem.Basis(mesh, skfem.ElementTriP1(), quadrature=centroid)
    pts = (basis.nelems, 1)
    rng = np.random.default_rng(5)
    c1 = 0.5 + 0.02 * rng.standard_normal((16, 16))
    c = np.broadcast_to(c1[:, :, None, None], (16, 16, *pts)).copy()
    state = {"c": c, "K": cc._tensors(c)}
    run = coarsening_heat(basis, cc, {"left": 0.0, "right": 1.0}, source=0.0, t_end=40.0,
                          steps=4, state=state)
    # temperature histories at the micro points and the equivalent mobility-1 times
    Tq = np.array([np.asarray(basis.interpolate(T))[:, 0] for T in run.temperature])  # (s, n_el)
    tau = (mobility(Tq) * 10.0).sum(axis=0)
    sp = SpectralCahnHilliard((16, 16), 32.0, kappa=2.0, mobility=1.0)
    F_micro = np.array([sp.energy(run.state["c"][:, :, e, 0]) for e in range(pts[0])])
    for e in (int(np.argmin(tau)), int(np.argmax(tau))):
        ref = sp.solve(c1, tau[e]).energy[-1]
        assert abs(F_micro[e] - ref) < 0.01 * abs(ref)  # 0.2 % observed (adaptive steps)
    # hotter points (larger tau) have coarsened further: lower micro free energy
    order = np.argsort(tau)
    assert np.all(np.diff(F_micro[order]) < 0)
    # every effective tensor within the Hashin-Shtrikman bounds of its volume fraction
    for e in range(pts[0]):
        f = float((run.state["c"][:, :, e, 0] > 0.5).mean())
        b = hashin_shtrikman([1.0, 10.0], [1 - f, f], 2)
        k = np.trace(run.conductivity[-1][:, :, e, 0]) / 2
        assert b.lower * (1 - 1e-3) <= k <= b.upper * (1 + 1e-3)
