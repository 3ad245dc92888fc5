"""Method of manufactured solutions: exact fields, closed-form sources, meshes and the driver.

For Lagrange elements of order p the L2 error decays like h^(p+1) and the H1
seminorm error like h^p. The Dirichlet data is ``u*`` on the whole boundary and
the body load is ``f = -div q(grad u*)``, derived **in closed form with sympy**
from a constitutive law written here independently of :mod:`fe2.materials`
(Fourier and power-law conduction, Hooke's law from ``E`` and ``nu``, the
neo-Hookean strain energy differentiated symbolically to ``P = dW/dF``). So a
wrong law in the oracle shows up as lost convergence, not as a self-consistent
answer. The differenced source :func:`fe2.verify.manufactured_source` (the
oracle's own flux differenced in space) is used only when no ``source`` is given,
for laws with no closed form; it checks the discretization, not the law.
Used by the ``mms_*`` studies and by ``tests/test_mms.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import skfem
import sympy as sp

from fe2.macro import NewtonOptions, Problem, StepRecord
from fe2.verify import field_errors, manufactured_source, observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

__all__ = [
    "scalar_exact",
    "scalar_grad",
    "vector_exact",
    "vector_grad",
    "Law",
    "fourier",
    "power_law",
    "hooke",
    "neo_hookean",
    "closed_form_source",
    "MESHES",
    "MMSResult",
    "run_mms",
    "mms_study",
]

PI = np.pi
X = sp.symbols("x0 x1 x2", real=True)


# ---------------------------------------------------------------- exact fields (sympy)


def _scalar_expr(d: int) -> sp.Expr:
    """``u* = sin(pi x) cos(pi y / 2) + 0.3 x y`` (independent of ``x_3``)."""
    x, y = X[0], X[1]
    return sp.sin(sp.pi * x) * sp.cos(sp.pi * y / 2) + sp.Rational(3, 10) * x * y


def _vector_expr(d: int, a: float) -> sp.Matrix:
    """Displacement ``u*`` of amplitude ``a``, ``(d, 1)``."""
    x, y = X[0], X[1]
    a = sp.nsimplify(a)
    u = [a * sp.sin(sp.pi * y) * x, a * sp.cos(sp.pi * x / 2) * y**2]
    if d == 3:
        z = X[2]
        u = [ui + a * sp.Rational(3, 10) * z**2 for ui in u] + [a * sp.sin(sp.pi * x) * z]
    return sp.Matrix(u)


def _numeric(exprs, d: int, shape: tuple[int, ...]) -> Callable[[np.ndarray], np.ndarray]:
    """numpy function ``x (d, *pts) -> (*shape, *pts)`` of sympy expressions (flat list)."""
    fns = [sp.lambdify([X[:d]], e, "numpy", cse=True) for e in exprs]

    def f(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        vals = [np.broadcast_to(np.asarray(fn(x), dtype=float), x.shape[1:]) for fn in fns]
        return np.stack(vals).reshape(shape + x.shape[1:]) if shape else vals[0].copy()

    return f


@cache
def _scalar_fns(d: int):
    u = _scalar_expr(d)
    return (_numeric([u], d, ()),
            _numeric([sp.diff(u, X[j]) for j in range(d)], d, (d,)))


@cache
def _vector_fns(d: int, a: float):
    u = _vector_expr(d, a)
    H = u.jacobian(X[:d])
    return _numeric(list(u), d, (d,)), _numeric(list(H), d, (d, d))


def scalar_exact(x: np.ndarray) -> np.ndarray:
    """Scalar field ``u*(x)``, ``x (d, *pts) -> (*pts)`` (independent of ``x_3``)."""
    return _scalar_fns(x.shape[0])[0](x)


def scalar_grad(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`scalar_exact` (by sympy), ``(d, *pts)``."""
    return _scalar_fns(x.shape[0])[1](x)


def vector_exact(x: np.ndarray, a: float = 0.05) -> np.ndarray:
    """Displacement field ``u*(x)`` of amplitude ``a``, ``(d, *pts)``."""
    return _vector_fns(x.shape[0], float(a))[0](x)


def vector_grad(x: np.ndarray, a: float = 0.05) -> np.ndarray:
    """Gradient ``[i, j] = d u_i / d x_j`` of :func:`vector_exact` (by sympy), ``(d, d, *pts)``."""
    return _vector_fns(x.shape[0], float(a))[1](x)


# ---------------------------------------------------------------- laws (sympy, independent)


@dataclass(frozen=True)
class Law:
    """A constitutive law written symbolically, independently of :mod:`fe2.materials`.

    Attributes
    ----------
    name : str
    kind : {"scalar", "small_strain", "finite_strain"}
        Macro problem kind (scalar: flux of the gradient ``(d, 1)``; small strain:
        Cauchy stress of the displacement gradient ``(d, d)``; finite strain:
        first Piola–Kirchhoff stress of ``F = I + H``).
    flux : callable
        sympy ``Matrix`` gradient ``g (d, 1)`` or ``H (d, d)`` -> flux of the same shape.
    """

    name: str
    kind: str
    flux: Callable[[sp.Matrix], sp.Matrix]


def fourier(k: float) -> Law:
    """``q = k g`` (isotropic linear conduction, conductivity ``k``)."""
    k = sp.nsimplify(k)
    return Law(f"Fourier k={k}", "scalar", lambda g: k * g)


def power_law(k0: float, p: float, reg: float) -> Law:
    """``q = k0 (reg^2 + |g|^2)^((p - 2) / 2) g`` (regularised p-Laplacian)."""
    k0, p, reg = sp.nsimplify(k0), sp.nsimplify(p), sp.nsimplify(reg)
    return Law(f"power law k0={k0} p={p} reg={reg}", "scalar",
               lambda g: k0 * (reg**2 + (g.T * g)[0, 0]) ** ((p - 2) / 2) * g)


def _lame(E: float, nu: float) -> tuple[sp.Expr, sp.Expr]:
    """3D Lamé constants (also those of plane strain) from ``E`` and ``nu``."""
    E, nu = sp.nsimplify(E), sp.nsimplify(nu)
    return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))


def hooke(E: float, nu: float) -> Law:
    """``sigma = lam tr(eps) I + 2 mu eps``, ``eps = sym H`` (3D or plane strain)."""
    lam, mu = _lame(E, nu)

    def stress(H: sp.Matrix) -> sp.Matrix:
        eps = (H + H.T) / 2
        return lam * eps.trace() * sp.eye(H.shape[0]) + 2 * mu * eps

    return Law(f"Hooke E={E} nu={nu}", "small_strain", stress)


def neo_hookean(E: float, nu: float) -> Law:
    """``P = dW/dF`` of ``W = mu/2 (tr F^T F - d) - mu ln J + lam/2 (ln J)^2`` (by sympy).

    ``d = 2`` is plane strain (``F_33 = 1``). The derivative is taken
    symbolically from the energy, not from a stress formula.
    """
    lam, mu = _lame(E, nu)

    def pk1(H: sp.Matrix) -> sp.Matrix:
        d = H.shape[0]
        Fs = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"F{i}{j}", real=True))
        J = Fs.det()
        W = mu / 2 * ((Fs.T * Fs).trace() - d) - mu * sp.log(J) + lam / 2 * sp.log(J) ** 2
        P = sp.Matrix(d, d, lambda i, j: sp.diff(W, Fs[i, j]))
        F = sp.eye(d) + H
        return P.subs({Fs[i, j]: F[i, j] for i in range(d) for j in range(d)})

    return Law(f"neo-Hookean E={E} nu={nu}", "finite_strain", pk1)


def closed_form_source(law: Law, d: int, a: float | None = None
                       ) -> Callable[[np.ndarray], np.ndarray]:
    """Body load ``f = -div q(grad u*)`` in closed form, as ``x (d, *pts) -> (*pts | d, *pts)``.

    Scalar laws use :func:`scalar_exact`; vector laws :func:`vector_exact` with
    amplitude ``a`` (default 0.05). Finite strain: ``b = -Div P(I + grad u*)``
    per reference volume.
    """
    if law.kind == "scalar":
        u = _scalar_expr(d)
        q = law.flux(sp.Matrix([sp.diff(u, X[j]) for j in range(d)]))
        return _numeric([-sum(sp.diff(q[j], X[j]) for j in range(d))], d, ())
    u = _vector_expr(d, 0.05 if a is None else a)
    S = law.flux(u.jacobian(X[:d]))
    b = [-sum(sp.diff(S[i, j], X[j]) for j in range(d)) for i in range(d)]
    return _numeric(b, d, (d,))


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
    source: Callable[[np.ndarray], np.ndarray] | None = None,
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
    source : callable, optional
        Body load ``x (d, *pts) -> (*pts)`` or ``(d, *pts)``, e.g. from
        :func:`closed_form_source`. Without it, the oracle's own flux is
        differenced (:func:`fe2.verify.manufactured_source`): only for laws with
        no closed form, since it cannot detect a wrong law.
    """
    make, default_ns = MESHES[mesh_key]
    order = mesh_key[1]
    out = MMSResult()
    for n in ns or default_ns:
        mesh = make(n).with_boundaries({"all": lambda x: np.ones(x.shape[1], dtype=bool)})
        prob = Problem(mesh, oracle, kind=kind, order=order)
        if source is None:
            prob.body_load(lambda x, t: t * manufactured_source(oracle, grad, x))
        else:
            prob.body_load(lambda x, t: t * source(x))
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
    cases: list[tuple[str, str, object, tuple[str, int], Callable, Callable, int, Callable]],
    tol: float = 0.1,
) -> tuple[StudyResult, dict[str, MMSResult]]:
    """Run MMS cases and collect rate checks, a table and two log–log plots.

    ``cases``: ``(label, kind, oracle, mesh_key, exact, grad, steps, source)``
    (``source`` as in :func:`run_mms`). Checks: L2 rate ``p + 1`` and H1 rate
    ``p`` within ``tol``.
    """
    res = StudyResult(name, title, description)
    table = Table(["case", "h", "L2 error", "H1 error", "L2 rate", "H1 rate"])
    l2_series, h1_series = [], []
    out = {}
    for label, kind, oracle, key, exact, grad, steps, source in cases:
        p = key[1]
        r = run_mms(kind, oracle, key, exact, grad, steps=steps, source=source)
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
