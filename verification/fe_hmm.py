"""FE-HMM: micro and macro convergence rates and the resonance error.

Uses :class:`fe2.homogenization.hmm.HMMSampler`. References, all closed-form and all
with non-zero micro correctors (so that the rates test micro solving):

* micro rates: periodic coupling, ``delta = eps``:

  - smooth laminate ``a(y) = 1.5 + sin(2 pi y_1)``: ``A_0 = diag(sqrt(1.25), 1.5)``
    (harmonic and arithmetic means);
  - non-symmetric laminate ``a11 = 1.5 + sin 2 pi y_1``, ``a22 = 2``,
    ``a12 = -a21 = 0.3 + 0.4 cos 2 pi y_1``: ``A_0`` from the closed form of a
    layered medium with a general coefficient (:func:`layered_tensor`, averages
    by adaptive quadrature), ``A_0 ~ [[1.11803, 0.3], [-0.3, 2.06111]]``;

  ``|A_H - A_0|`` decays like the micro energy error, ``h^2`` for P1 and
  ``h^4`` for P2;
* macro rates: with a manufactured homogenized solution ``u_0 = sin(pi x)
  sin(pi y)`` and the source ``f = -div(A_0 grad u_0)`` the FE-HMM solution
  converges at the FE rates (L2 ``h^(p+1)``, H1 ``h^p``) for

  - the Keller-dual cell ``a(y) = exp(sin 2 pi y_1 sin 2 pi y_2)``: ``1/a`` is a
    shift of ``a`` and ``a`` is symmetric under ``y_1 <-> y_2``, so ``A_0 = I``
    exactly (a genuinely two-dimensional corrector; ``<a> = I_0(1) I != A_0``);
  - the non-symmetric laminate above (full, non-symmetric ``A_0``);
* resonance error: the Keller cell with ``delta / eps`` not an integer:
  Dirichlet coupling overestimates and Neumann coupling underestimates ``A_0``,
  both by ``O(eps / delta)`` (slope 1).
"""

from __future__ import annotations

import numpy as np
import skfem
from scipy.integrate import quad

from fe2.homogenization.hmm import HMMSampler
from fe2.macro import NewtonOptions, Problem
from fe2.verify import field_errors, observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "FE-HMM: rates and resonance error"
PI = np.pi
XS = np.array([[0.31, 0.77], [0.47, 0.12]])


def smooth_laminate(x, y):
    """``1.5 + sin 2 pi y_1`` (isotropic), ``x, y (2, *pts)`` -> ``(*pts)``."""
    return 1.5 + np.sin(2 * PI * y[0])


def keller(x, y):
    """Keller-dual cell ``exp(sin 2 pi y_1 sin 2 pi y_2)``: ``A_0 = I``."""
    return np.exp(np.sin(2 * PI * y[0]) * np.sin(2 * PI * y[1]))


def _nonsym_entries(t):
    c = 0.3 + 0.4 * np.cos(2 * PI * t)
    return 1.5 + np.sin(2 * PI * t), c, -c, 2.0 + 0.0 * t


def nonsymmetric_laminate(x, y):
    """Non-symmetric laminate in ``y_1``: ``(2, 2, *pts)`` (see the module docs)."""
    a11, a12, a21, a22 = _nonsym_entries(np.asarray(y[0], dtype=float))
    return np.array([[a11, a12], [a21, a22]])


def graded_keller(x, y, beta=6.0):
    """Locally periodic, high contrast: ``c(x) exp(beta sin 2 pi y_1 sin 2 pi y_2)``.

    ``c(x) = 1 + x_1 + x_2^2 / 2``; ``A_0(x) = c(x) I`` for every ``beta`` (Keller
    duality); the contrast is ``exp(2 beta)`` and the micro problems differ from
    point to point.
    """
    return (1.0 + x[0] + 0.5 * x[1] ** 2) * np.exp(
        beta * np.sin(2 * PI * y[0]) * np.sin(2 * PI * y[1]))


def layered_tensor(entries) -> np.ndarray:
    """Homogenized ``(2, 2)`` tensor of a medium layered in ``y_1`` with a general coefficient.

    ``entries(t) -> (a11, a12, a21, a22)`` on one period ``t in [0, 1]``. The
    corrector depends on ``y_1`` only, ``q_1`` is constant across the layers
    and ``<w'> = 0``, so ``A11 = <1/a11>^-1``, ``A12 = A11 <a12/a11>``,
    ``A21 = A11 <a21/a11>``, ``A22 = <a22 - a12 a21/a11> + <a21/a11> A11 <a12/a11>``.
    """

    def avg(f):
        return quad(lambda t: f(*entries(t)), 0.0, 1.0, epsabs=1e-14, epsrel=1e-13, limit=200)[0]

    A11 = 1.0 / avg(lambda a11, a12, a21, a22: 1.0 / a11)
    r12 = avg(lambda a11, a12, a21, a22: a12 / a11)
    r21 = avg(lambda a11, a12, a21, a22: a21 / a11)
    A22 = avg(lambda a11, a12, a21, a22: a22 - a12 * a21 / a11) + r21 * A11 * r12
    return np.array([[A11, A11 * r12], [A11 * r21, A22]])


def nonsymmetric_A0() -> np.ndarray:
    """Closed-form ``A_0`` of :func:`nonsymmetric_laminate`, ``(2, 2)``."""
    return layered_tensor(_nonsym_entries)


def u0(x):
    return np.sin(PI * x[0]) * np.sin(PI * x[1])


def g0(x):
    return np.array([PI * np.cos(PI * x[0]) * np.sin(PI * x[1]),
                     PI * np.sin(PI * x[0]) * np.cos(PI * x[1])])


def source(A0: np.ndarray):
    """``f = -div(A_0 grad u_0)`` for a constant ``A_0 (2, 2)``, as a body load ``f(x, t)``."""

    def f(x, t):
        s = np.sin(PI * x[0]) * np.sin(PI * x[1])
        c = np.cos(PI * x[0]) * np.cos(PI * x[1])
        return t * PI**2 * ((A0[0, 0] + A0[1, 1]) * s - (A0[0, 1] + A0[1, 0]) * c)

    return f


#: macro-rate cases: name -> (coefficient, A_0, micro_h / eps, micro order)
def macro_cases() -> dict[str, tuple]:
    return {
        "keller": (keller, np.eye(2), 1 / 8, 2),
        "non-symmetric laminate": (nonsymmetric_laminate, nonsymmetric_A0(), 1 / 8, 2),
    }


def macro_errors(coefficient, A0, micro_k: float, micro_order: int, order: int, n: int):
    """FE-HMM (periodic coupling, ``eps = delta = 1e-3``) on an ``n x n`` triangle mesh.

    Returns the L2 and H1 errors against ``u_0`` and the macro tangent ``(2, 2, n_el, n_qp)``.
    """
    mesh = skfem.MeshTri.init_tensor(*[np.linspace(0, 1, n + 1)] * 2).with_boundaries(
        {"all": lambda x: np.ones(x.shape[1], dtype=bool)})
    hmm = HMMSampler(coefficient, eps=1e-3, delta=1e-3, micro_h=1e-3 * micro_k,
                     order=micro_order)
    prob = Problem(mesh, hmm, kind="scalar", order=order)
    prob.dirichlet("all", 0.0)
    prob.body_load(source(A0))
    prob.solve(NewtonOptions(rtol=1e-11))
    a, b = field_errors(prob.basis, prob.u, u0, g0)
    return a, b, prob.last_response.tangent


def run(quick: bool) -> StudyResult:
    res = StudyResult(
        "fe_hmm", TITLE,
        "Micro rate of A_H (periodic coupling; smooth laminate, exact A_0 = diag(√1.25, 1.5); "
        "non-symmetric laminate, A_0 from the layered closed form by quadrature): slope 2 (P1) "
        "and 4 (P2) ± 0.4. Macro FE-HMM (periodic coupling, micro P2; Keller cell, A_0 = I, and "
        "the non-symmetric laminate; manufactured u_0 = sin πx sin πy): L2 slope p + 1 ± 0.25, "
        "H1 slope p ± 0.2, and |A_H - A_0| <= 1e-3 at every macro point. Resonance error "
        "(Keller cell, A_0 = I, δ/ε = 1.5, 2.5, 4.5, 8.5): Dirichlet coupling above A_0, Neumann "
        "below, |A_H - A_0| ~ (ε/δ)^1 ± 0.2.",
    )

    # micro rates
    A_lam = np.diag([np.sqrt(1.25), 1.5])
    A_ns = nonsymmetric_A0()
    eps = 0.01
    tm = Table(["cell", "micro order", "eps / micro_h", "|A_H - A_0|", "rate"])
    series = []
    for cell, coef, A0 in (("laminate", smooth_laminate, A_lam),
                           ("non-symmetric", nonsymmetric_laminate, A_ns)):
        for order, rate, ks in [(1, 2.0, (4, 8, 16)), (2, 4.0, (8, 16, 32))]:
            hs, errs = [], []
            for k in ks:
                hmm = HMMSampler(coef, eps=eps, delta=eps, micro_h=eps / k, order=order)
                A = hmm.effective_tensor(XS)
                errs.append(float(np.abs(A - A0[..., None]).max()))
                hs.append(1.0 / k)
            r = observed_rate(hs, errs)
            for i, k in enumerate(ks):
                tm.add(cell, order, k, errs[i], r if i == len(ks) - 1 else "")
            res.check(Check.near(f"micro P{order}, {cell}: rate of |A_H - A_0|", r, rate, 0.4))
            series.append(Series(f"{cell}, P{order}", hs, errs))
    res.tables.append(("Micro convergence of A_H (periodic coupling, δ = ε)", tm))
    res.plots.append(Plot("micro_rate", "FE-HMM: |A_H - A_0| vs micro mesh size",
                          "micro h / ε", "|A_H - A_0|", series,
                          slopes=[(2.0, "slope 2", 0), (4.0, "slope 4", 1)]))

    # macro rates
    tM = Table(["cell", "macro order", "n", "L2 error", "H1 error", "max |A_H - A_0|"])
    l2s, h1s = [], []
    runs = [("keller", 1, (4, 8, 16)), ("keller", 2, (2, 4, 8)),
            ("non-symmetric laminate", 2, (2, 4, 8))]
    if not quick:
        runs.append(("non-symmetric laminate", 1, (4, 8, 16)))
    cases = macro_cases()
    for cell, order, ns in runs:
        coef, A0, k, mo = cases[cell]
        hs, e0, e1, dA = [], [], [], 0.0
        for n in ns:
            a, b, T = macro_errors(coef, A0, k, mo, order, n)
            hs.append(1.0 / n)
            e0.append(a)
            e1.append(b)
            dA = max(dA, float(np.abs(T - A0[:, :, None, None]).max()))
            tM.add(cell, order, n, a, b, dA)
        res.check(Check.at_most(f"macro P{order}, {cell}: max |A_H - A_0|", dA, 1e-3))
        res.check(Check.near(f"macro P{order}, {cell}: L2 rate", observed_rate(hs, e0),
                             order + 1, 0.25))
        res.check(Check.near(f"macro P{order}, {cell}: H1 rate", observed_rate(hs, e1),
                             order, 0.2))
        l2s.append(Series(f"L2, P{order}, {cell}", hs, e0))
        h1s.append(Series(f"H1, P{order}, {cell}", hs, e1, "s--"))
    res.tables.append(("Macro FE-HMM errors against the homogenized solution u_0", tM))
    res.plots.append(Plot("macro_rate", "FE-HMM macro errors vs h", "h", "error", l2s + h1s,
                          slopes=[(2.0, "slope 2", 0), (3.0, "slope 3", 1)]))

    # resonance error
    ratios = np.array([1.5, 2.5, 4.5] if quick else [1.5, 2.5, 4.5, 8.5])
    tr = Table(["coupling", "δ/ε", "min eig(A_H) - 1", "max eig(A_H) - 1"])
    rs = []
    for coupling, sign in (("dirichlet", 1.0), ("neumann", -1.0)):
        errs, signed_ok = [], True
        for r in ratios:
            hmm = HMMSampler(keller, eps=eps, delta=r * eps, coupling=coupling,
                             micro_h=eps / 8, order=2)
            ev = np.linalg.eigvalsh(hmm.effective_tensor(XS[:, :1])[..., 0]) - 1.0
            signed_ok &= bool(np.all(sign * ev > 0))
            errs.append(float(np.abs(ev).max()))
            tr.add(coupling, r, ev.min(), ev.max())
        side = "above" if sign > 0 else "below"
        res.check(Check.holds(f"{coupling}: A_H {side} A_0 = I", signed_ok, side,
                              side if signed_ok else "not always"))
        res.check(Check.near(f"{coupling}: slope of the resonance error vs ε/δ",
                             observed_rate(1.0 / ratios, errs), 1.0, 0.2))
        rs.append(Series(coupling, 1.0 / ratios, errs))
    res.tables.append(("Resonance error (Keller cell, A_0 = I)", tr))
    res.plots.append(Plot("resonance", "FE-HMM resonance error", "ε / δ", "|A_H - A_0|", rs,
                          slopes=[(1.0, "slope 1")]))
    return res
