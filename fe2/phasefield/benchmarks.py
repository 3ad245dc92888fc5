"""Definitions of community phase-field benchmarks (PFHub, NIST).

PFHub benchmark 1, spinodal decomposition (Jokisaari, Voorhees, Guyer, Warren, Heinonen,
"Benchmark problems for numerical implementations of phase field models", Comput. Mater.
Sci. 126 (2017) 139-151; https://pages.nist.gov/pfhub/benchmarks/benchmark1.ipynb):
Cahn–Hilliard with ``psi = rho (c - ca)^2 (cb - c)^2``, ``rho = 5``, ``ca = 0.3``,
``cb = 0.7``, ``kappa = 2``, ``M = 5`` on ``[0, 200]^2`` (variant a: periodic, variant
b: no-flux), from

    c0 = 0.5 + 0.01 (cos(0.105 x) cos(0.11 y) + [cos(0.13 x) cos(0.087 y)]^2
                     + cos(0.025 x - 0.15 y) cos(0.07 x - 0.02 y)).

PFHub benchmark 7, method of manufactured solutions for Allen–Cahn (same paper;
https://pages.nist.gov/pfhub/benchmarks/benchmark7.ipynb, usnistgov/pfhub
``benchmarks/benchmark7.ipynb``)::

    d eta/dt = -[4 eta (eta - 1)(eta - 1/2) - kappa lap eta] + S(x, y, t),
    eta_sol = (1 - tanh((y - alpha(x, t)) / sqrt(2 kappa))) / 2,
    alpha = 1/4 + A1 t sin(B1 x) + A2 sin(B2 x + C2 t),

on ``[0, 1] x [0, 0.5]``, periodic in ``x``, ``eta = 1`` at ``y = 0`` and ``eta = 0``
at ``y = 0.5``, ``eta(0) = eta_sol(0)``, to ``t = 8``; ``kappa = 4e-4``, ``A1 = 0.0075``,
``B1 = 8 pi``, ``A2 = 0.03``, ``B2 = 22 pi``, ``C2 = 0.0625 pi`` (part a; part b:
``kappa = 1.5625e-6``; part c also ``C2 = 0.5``). The error is the L2 norm of ``eta -
eta_sol`` at ``t = 8``; part (a) asks for the observed orders in space (time step small)
and in time (fixed steps, mesh fine), by a least-squares fit of ``log E`` against
``log h`` or ``log dt``, with errors in ``[1e-4, 5e-3]``. In :class:`~fe2.phasefield.AllenCahn`
form: ``epsilon = sqrt(kappa)``, ``mobility = kappa`` and ``psi = eta^2 (1 - eta)^2``
(``polynomial(1, 0, 1)``, ``psi' = 4 eta (eta - 1)(eta - 1/2)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import skfem

from fe2.phasefield.energies import FreeEnergy, polynomial
from fe2.phasefield.fem import AllenCahn

__all__ = ["PFHUB1", "PFHUB1_COMMUNITY", "PFHUB7", "MMSResult", "pfhub1_free_energy",
           "pfhub1_gradient", "pfhub1_initial", "pfhub7_free_energy", "pfhub7_run",
           "pfhub7_solution", "pfhub7_source"]

#: Parameters of PFHub benchmark 1.
PFHUB1 = {"rho": 5.0, "ca": 0.3, "cb": 0.7, "kappa": 2.0, "mobility": 5.0, "size": 200.0,
          "c0": 0.5, "epsilon": 0.01}


def pfhub1_free_energy() -> FreeEnergy:
    """``5 (c - 0.3)^2 (0.7 - c)^2``."""
    return polynomial(PFHUB1["rho"], PFHUB1["ca"], PFHUB1["cb"])


def pfhub1_initial(x: np.ndarray) -> np.ndarray:
    """The published initial concentration at points ``x (2, ...)`` -> ``(...)``."""
    X, Y = x[0], x[1]
    e = PFHUB1["epsilon"]
    return PFHUB1["c0"] + e * (np.cos(0.105 * X) * np.cos(0.11 * Y)
                               + (np.cos(0.13 * X) * np.cos(0.087 * Y)) ** 2
                               + np.cos(0.025 * X - 0.15 * Y) * np.cos(0.07 * X - 0.02 * Y))


def pfhub1_gradient(x: np.ndarray) -> np.ndarray:
    """Exact gradient ``(2, ...)`` of :func:`pfhub1_initial` at ``x (2, ...)``."""
    X, Y = x[0], x[1]
    e = PFHUB1["epsilon"]
    a = np.cos(0.13 * X) * np.cos(0.087 * Y)
    u, v = 0.025 * X - 0.15 * Y, 0.07 * X - 0.02 * Y
    gx = (-0.105 * np.sin(0.105 * X) * np.cos(0.11 * Y)
          + 2 * a * (-0.13 * np.sin(0.13 * X) * np.cos(0.087 * Y))
          - 0.025 * np.sin(u) * np.cos(v) - 0.07 * np.cos(u) * np.sin(v))
    gy = (-0.11 * np.cos(0.105 * X) * np.sin(0.11 * Y)
          + 2 * a * (-0.087 * np.cos(0.13 * X) * np.sin(0.087 * Y))
          + 0.15 * np.sin(u) * np.cos(v) + 0.02 * np.cos(u) * np.sin(v))
    return e * np.asarray([gx, gy])


#: Free energies ``F(t)`` uploaded to PFHub for benchmark 1 (``(t, F)`` pairs as published;
#: usnistgov/pfhub ``_data/simulations/<name>/meta.yaml``, retrieved 2026-12):
#:
#: * ``fipy_1a_travis``, ``fipy_1b_travis``: FiPy (T. Keller, NIST), values inline in the
#:   meta.yaml (to t = 52.7);
#: * ``moose_1a_mpf``, ``moose_1b_mpf``: MOOSE (M. Frichtl, 2023), 50 x 50 QUAD4 mesh
#:   (h = 4), BDF2, adaptive steps; rows of github.com/mfrichtl/PFHub_benchmarks
#:   ``problems/pfhub_benchmark_1.{a1,b1}_csv.csv`` (column ``total_energy``) nearest to
#:   t = 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 1e4 (1a also 1e5, 1e6).
PFHUB1_COMMUNITY = {
    "1a": {
        "fipy_1a_travis": [(10.4323, 283.6148), (20.8138, 207.9035), (27.5678, 197.3941),
                           (33.7930, 188.6412), (40.2412, 178.8738), (46.7461, 169.2613),
                           (52.7466, 162.2555)],
        "moose_1a_mpf": [(9.54911, 299.3601), (19.5986, 216.4779), (51.1135, 170.3748),
                         (101.628, 140.1330), (198.427, 123.7486), (506.642, 101.9992),
                         (996.718, 83.19799), (2015.41, 62.68296), (4984.87, 42.77991),
                         (9998.71, 34.13743), (99499.6, 19.20548), (1.0e6, 19.20547)],
    },
    "1b": {
        "fipy_1b_travis": [(11.3719, 276.5565), (21.8113, 202.9849), (28.2522, 194.4297),
                           (34.3525, 186.3785), (40.3405, 178.2122), (46.4354, 169.6708),
                           (52.4738, 161.8845)],
        "moose_1b_mpf": [(9.41829, 305.6548), (20.3434, 210.2343), (49.6058, 169.2218),
                         (100.304, 130.6398), (201.531, 111.2780), (500.671, 91.30089),
                         (1001.50, 74.38161), (1993.60, 62.23730), (5016.56, 46.85286),
                         (10009.4, 40.00374)],
    },
}


#: Parameters of PFHub benchmark 7 part (a).
PFHUB7 = {"kappa": 4e-4, "A1": 0.0075, "B1": 8.0 * np.pi, "A2": 0.03, "B2": 22.0 * np.pi,
          "C2": 0.0625 * np.pi, "t_end": 8.0, "size": (1.0, 0.5)}


def pfhub7_free_energy() -> FreeEnergy:
    """``eta^2 (1 - eta)^2``: ``psi' = 4 eta (eta - 1)(eta - 1/2)``."""
    return polynomial(1.0, 0.0, 1.0)


def _alpha(x, t, p):
    A1, B1, A2, B2, C2 = p["A1"], p["B1"], p["A2"], p["B2"], p["C2"]
    a = 0.25 + A1 * t * np.sin(B1 * x) + A2 * np.sin(B2 * x + C2 * t)
    ax = A1 * B1 * t * np.cos(B1 * x) + A2 * B2 * np.cos(B2 * x + C2 * t)
    axx = -A1 * B1 ** 2 * t * np.sin(B1 * x) - A2 * B2 ** 2 * np.sin(B2 * x + C2 * t)
    at = A1 * np.sin(B1 * x) + A2 * C2 * np.cos(B2 * x + C2 * t)
    return a, ax, axx, at


def pfhub7_solution(x: np.ndarray, t: float, params: dict | None = None) -> np.ndarray:
    """``eta_sol`` at points ``x (2, ...)`` and time ``t`` -> ``(...)``."""
    p = PFHUB7 if params is None else {**PFHUB7, **params}
    a = _alpha(x[0], t, p)[0]
    return 0.5 * (1.0 - np.tanh((x[1] - a) / np.sqrt(2.0 * p["kappa"])))


def pfhub7_source(x: np.ndarray, t: float, params: dict | None = None) -> np.ndarray:
    """The source ``S(x, y, t)`` at points ``x (2, ...)`` -> ``(...)``.

    ``S = sech^2(z) / (4 sqrt(kappa)) [-2 sqrt(kappa) tanh(z) alpha_x^2 + sqrt(2)
    (alpha_t - kappa alpha_xx)]``, ``z = (y - alpha) / sqrt(2 kappa)`` (the benchmark's
    closed form, checked against a finite-difference residual in the tests).
    """
    p = PFHUB7 if params is None else {**PFHUB7, **params}
    k = p["kappa"]
    a, ax, axx, at = _alpha(x[0], t, p)
    z = (x[1] - a) / np.sqrt(2.0 * k)
    sech2 = 1.0 / np.cosh(z) ** 2
    return sech2 / (4.0 * np.sqrt(k)) * (-2.0 * np.sqrt(k) * np.tanh(z) * ax ** 2
                                         + np.sqrt(2.0) * (at - k * axx))


@dataclass(frozen=True, eq=False)
class MMSResult:
    """A PFHub benchmark 7 run.

    Attributes
    ----------
    l2 : float
        ``||eta_h - eta_sol||_L2`` at ``t_end`` by the quadrature of the basis (degree
        ``4 order``).
    nodal : float
        The benchmark's discrete norm ``sqrt(sum_i (eta_i - eta_sol(x_i))^2 w_i)`` over the
        dofs, ``w_i`` the lumped mass (``dx dy`` inside a uniform P1 grid).
    h : float
        Effective element size ``sqrt(element area)``.
    dt : float
        Time step (the smaller one when extrapolated).
    steps : int
        Steps of the (finest) run.
    newton_iterations : int
    field : ndarray (N,)
        ``eta`` at ``t_end`` (dof values; extrapolated when asked).
    l2_reference : float or None
        ``||eta_h - eta_ref||_L2`` to a ``reference`` field on the same mesh (the temporal
        error alone when the reference is a run with much smaller steps).
    """

    l2: float
    nodal: float
    h: float
    dt: float
    steps: int
    newton_iterations: int
    field: np.ndarray
    l2_reference: float | None = None


def pfhub7_run(n: int, dt: float, *, order: int = 1, t_end: float | None = None,
               cells: str = "quad", extrapolate: bool = False,
               params: dict | None = None,
               reference: np.ndarray | None = None) -> MMSResult:
    """PFHub benchmark 7 with :class:`~fe2.phasefield.AllenCahn` on ``n x n/2`` cells.

    Fixed steps ``dt`` (first-order convex splitting, the source at the end of each step)
    to ``t_end`` (default 8). The boundary values at ``y = 0, 0.5`` are those of
    ``eta_sol`` (the benchmark's 1 and 0 differ from them by less than ``1.3e-5`` at the
    nominal ``kappa``, by much more for the wider interfaces of larger ``kappa``).
    ``extrapolate``: Richardson in time, ``2 eta(dt/2) - eta(dt)`` (the first-order
    temporal error cancels, for spatial convergence studies at affordable steps).
    ``cells``: ``"quad"`` or ``"tri"`` (each square split in two). ``reference``: dof
    values on the same mesh to measure ``l2_reference`` against.
    """
    p = PFHUB7 if params is None else {**PFHUB7, **params}
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 4 or n % 2:
        raise ValueError(f"pfhub7_run: n must be an even integer >= 4 (cells along x), "
                         f"got {n!r}")
    if cells not in ("quad", "tri"):
        raise ValueError(f"pfhub7_run: cells must be 'quad' or 'tri', got {cells!r}")
    t_end = p["t_end"] if t_end is None else float(t_end)
    Lx, Ly = p["size"]
    cls = skfem.MeshQuad if cells == "quad" else skfem.MeshTri
    mesh = cls.init_tensor(np.linspace(0, Lx, n + 1), np.linspace(0, Ly, n // 2 + 1))
    k = p["kappa"]

    def exact(x, t):
        return pfhub7_solution(x, t, p)

    ac = AllenCahn(mesh, epsilon=np.sqrt(k), mobility=k, order=order,
                   free_energy=pfhub7_free_energy(), bc="periodic", periodic_axes=[0],
                   dirichlet={(lambda x: x[1] < 1e-9 * Ly): exact,
                              (lambda x: x[1] > (1 - 1e-9) * Ly): exact},
                   source=lambda x, t: pfhub7_source(x, t, p))

    def run(step):
        return ac.solve(lambda x: pfhub7_solution(x, 0.0, p), t_end, dt=step, adaptive=False)

    res = run(dt / 2 if extrapolate else dt)
    eta = res.field
    if extrapolate:
        eta = 2.0 * eta - run(dt).field
    b = ac.basis
    e = ac.disc.at_points(eta) - pfhub7_solution(b.mapping.F(b.X), t_end, p)
    en = eta - pfhub7_solution(np.asarray(b.doflocs), t_end, p)
    dref = None
    if reference is not None:
        ref = np.asarray(reference, dtype=float)
        if ref.shape != eta.shape:
            raise ValueError(f"pfhub7_run: reference must have shape {eta.shape} (dofs of "
                             f"the same mesh), got {ref.shape}")
        dref = float(np.sqrt(np.sum(ac.disc.at_points(eta - ref) ** 2 * b.dx)))
    area = Lx * Ly / (n * n // 2) / (1 if cells == "quad" else 2)
    return MMSResult(l2=float(np.sqrt(np.sum(e ** 2 * b.dx))),
                     nodal=float(np.sqrt(ac.disc.lumped @ en ** 2)), h=float(np.sqrt(area)),
                     dt=dt / 2 if extrapolate else dt, steps=res.steps,
                     newton_iterations=res.newton_iterations, field=eta, l2_reference=dref)
