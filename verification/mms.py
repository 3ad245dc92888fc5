"""Method of manufactured solutions: shared exact fields, meshes and the convergence driver.

For Lagrange elements of order p the L2 error decays like h^(p+1) and the H1
seminorm error like h^p. The body load is ``f = -div q(grad u*)`` for the
chosen ``u*`` (computed from the oracle itself, see
:func:`fe2.verify.manufactured_source`), and the Dirichlet data is ``u*`` on
the whole boundary. Used by the ``mms_*`` studies and by ``tests/test_mms.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import skfem

from fe2.macro import NewtonOptions, Problem, StepRecord
from fe2.verify import field_errors, manufactured_source, observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

__all__ = [
    "scalar_exact",
    "scalar_grad",
    "vector_exact",
    "vector_grad",
    "MESHES",
    "MMSResult",
    "run_mms",
    "mms_study",
]

PI = np.pi


def scalar_exact(x: np.ndarray) -> np.ndarray:
    """Scalar field ``u*(x)``, ``x (d, *pts) -> (*pts)`` (independent of ``x_3``)."""
    return np.sin(PI * x[0]) * np.cos(0.5 * PI * x[1]) + 0.3 * x[0] * x[1]


def scalar_grad(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`scalar_exact`, ``(d, *pts)``."""
    gx = PI * np.cos(PI * x[0]) * np.cos(0.5 * PI * x[1]) + 0.3 * x[1]
    gy = -0.5 * PI * np.sin(PI * x[0]) * np.sin(0.5 * PI * x[1]) + 0.3 * x[0]
    out = [gx, gy]
    if x.shape[0] == 3:
        out = [g * (1 + 0 * x[2]) for g in out] + [0 * x[2]]
    return np.array(out)


def vector_exact(x: np.ndarray, a: float = 0.05) -> np.ndarray:
    """Displacement field ``u*(x)`` of amplitude ``a``, ``(d, *pts)``."""
    d = x.shape[0]
    u = [a * np.sin(PI * x[1]) * x[0], a * np.cos(0.5 * PI * x[0]) * x[1] ** 2]
    if d == 3:
        u = [ui + a * 0.3 * x[2] ** 2 for ui in u] + [a * np.sin(PI * x[0]) * x[2]]
    return np.array(u)


def vector_grad(x: np.ndarray, a: float = 0.05) -> np.ndarray:
    """Gradient ``[i, j] = d u_i / d x_j`` of :func:`vector_exact`, ``(d, d, *pts)``."""
    d = x.shape[0]
    z = 0 * x[0]
    g = np.zeros((d, d) + x.shape[1:])
    g[0, 0] = a * np.sin(PI * x[1])
    g[0, 1] = a * PI * np.cos(PI * x[1]) * x[0]
    g[1, 0] = -a * 0.5 * PI * np.sin(0.5 * PI * x[0]) * x[1] ** 2
    g[1, 1] = a * 2 * np.cos(0.5 * PI * x[0]) * x[1]
    if d == 3:
        g[0, 2] = a * 0.6 * x[2]
        g[1, 2] = a * 0.6 * x[2]
        g[2, 0] = a * PI * np.cos(PI * x[0]) * x[2]
        g[2, 2] = a * np.sin(PI * x[0]) + z
    return g


def _grid(n: int, d: int) -> list[np.ndarray]:
    return [np.linspace(0, 1, n + 1)] * d


#: (element family, order) -> (mesh factory of the unit square / cube with n cells per edge,
#: the n of the refinement sequence)
MESHES: dict[tuple[str, int], tuple[Callable[[int], skfem.Mesh], list[int]]] = {
    ("tri", 1): (lambda n: skfem.MeshTri.init_tensor(*_grid(n, 2)), [8, 16, 32]),
    ("tri", 2): (lambda n: skfem.MeshTri.init_tensor(*_grid(n, 2)), [4, 8, 16]),
    ("quad", 1): (lambda n: skfem.MeshQuad.init_tensor(*_grid(n, 2)), [8, 16, 32]),
    ("quad", 2): (lambda n: skfem.MeshQuad.init_tensor(*_grid(n, 2)), [4, 8, 16]),
    ("tet", 1): (lambda n: skfem.MeshTet.init_tensor(*_grid(n, 3)), [3, 6, 12]),
    ("tet", 2): (lambda n: skfem.MeshTet.init_tensor(*_grid(n, 3)), [2, 4, 8]),
    ("hex", 1): (lambda n: skfem.MeshHex.init_tensor(*_grid(n, 3)), [3, 6, 12]),
    ("hex", 2): (lambda n: skfem.MeshHex.init_tensor(*_grid(n, 3)), [2, 4, 8]),
}


def mesh_dim(mesh_key: tuple[str, int]) -> int:
    """Space dimension of a :data:`MESHES` key."""
    return 2 if mesh_key[0] in ("tri", "quad") else 3


@dataclass
class MMSResult:
    """Errors on a refinement sequence.

    Attributes
    ----------
    h : list of float
        Mesh sizes ``1 / n``.
    l2, h1 : list of float
        L2 and H1-seminorm errors.
    rate_l2, rate_h1 : float
        Least-squares slopes of ``log e`` against ``log h``.
    steps : list of list of StepRecord
        Newton records of every solve (per mesh, per load step).
    """

    h: list[float] = field(default_factory=list)
    l2: list[float] = field(default_factory=list)
    h1: list[float] = field(default_factory=list)
    rate_l2: float = float("nan")
    rate_h1: float = float("nan")
    steps: list[list[StepRecord]] = field(default_factory=list)


def run_mms(
    kind: str,
    oracle,
    mesh_key: tuple[str, int],
    exact: Callable,
    grad: Callable,
    steps: int = 1,
    ns: list[int] | None = None,
) -> MMSResult:
    """Solve the manufactured problem on the meshes of ``mesh_key`` and measure the errors.

    Parameters
    ----------
    kind : {"scalar", "small_strain", "finite_strain"}
        Macro problem kind.
    oracle : Oracle
        The (history-free) material.
    mesh_key : (str, int)
        Key of :data:`MESHES`: element family and order.
    exact, grad : callable
        ``u*(x)`` and ``grad u*(x)`` as in :func:`fe2.verify.manufactured_source`.
    steps : int
        Load steps (finite strain).
    ns : list of int, optional
        Cells per edge (default: the sequence of :data:`MESHES`).
    """
    make, default_ns = MESHES[mesh_key]
    order = mesh_key[1]
    out = MMSResult()
    for n in ns or default_ns:
        mesh = make(n).with_boundaries({"all": lambda x: np.ones(x.shape[1], dtype=bool)})
        prob = Problem(mesh, oracle, kind=kind, order=order)
        prob.body_load(lambda x, t: t * manufactured_source(oracle, grad, x))
        prob.dirichlet("all", lambda x, t: t * exact(x).reshape(-1, x.shape[1]))
        sol = prob.solve(NewtonOptions(rtol=1e-11, atol=1e-13, steps=steps))
        l2, h1 = field_errors(prob.basis, sol.u, exact, grad)
        out.h.append(1.0 / n)
        out.l2.append(l2)
        out.h1.append(h1)
        out.steps.append(sol.steps)
    out.rate_l2 = observed_rate(out.h, out.l2)
    out.rate_h1 = observed_rate(out.h, out.h1)
    return out


def mms_study(
    name: str,
    title: str,
    description: str,
    cases: list[tuple[str, str, object, tuple[str, int], Callable, Callable, int]],
    tol: float = 0.1,
) -> tuple[StudyResult, dict[str, MMSResult]]:
    """Run MMS cases and collect rate checks, a table and two log–log plots.

    ``cases``: ``(label, kind, oracle, mesh_key, exact, grad, steps)``. Checks:
    L2 rate ``p + 1`` and H1 rate ``p`` within ``tol``.
    """
    res = StudyResult(name, title, description)
    table = Table(["case", "h", "L2 error", "H1 error", "L2 rate", "H1 rate"])
    l2_series, h1_series = [], []
    out = {}
    for label, kind, oracle, key, exact, grad, steps in cases:
        p = key[1]
        r = run_mms(kind, oracle, key, exact, grad, steps=steps)
        out[label] = r
        for i, h in enumerate(r.h):
            rates = ("", "") if i < len(r.h) - 1 else (r.rate_l2, r.rate_h1)
            table.add(label if i == 0 else "", h, r.l2[i], r.h1[i], *rates)
        res.check(Check.near(f"{label}: L2 rate (p = {p})", r.rate_l2, p + 1, tol))
        res.check(Check.near(f"{label}: H1 rate (p = {p})", r.rate_h1, p, tol))
        l2_series.append(Series(label, r.h, r.l2))
        h1_series.append(Series(label, r.h, r.h1))
    res.tables.append(("Errors on each refinement sequence; rates are least-squares slopes "
                       "over the whole sequence", table))
    orders = [c[3][1] for c in cases]
    anchors = [(p, orders.index(p)) for p in sorted(set(orders))]
    res.plots.append(Plot("l2", f"{title}: L2 error", "h", "L2 error", l2_series,
                          slopes=[(p + 1.0, f"slope {p + 1}", k) for p, k in anchors]))
    res.plots.append(Plot("h1", f"{title}: H1 seminorm error", "h", "H1 error", h1_series,
                          slopes=[(float(p), f"slope {p}", k) for p, k in anchors]))
    return res, out
