"""FE-HMM: micro and macro convergence rates and the resonance error.

Uses :class:`fe2.micro.hmm.HMMSampler` (skipped with a reason when that module
is not available). References, all closed-form:

* micro rate: periodic coupling, ``delta = eps``, smooth laminate
  ``a(y) = 1.5 + sin(2 pi y_1)``: ``A_0 = diag(sqrt(1.25), 1.5)`` (harmonic and
  arithmetic means); ``|A_H - A_0|`` decays like the micro energy error,
  ``h^2`` for P1 and ``h^4`` for P2;
* macro rates: cross-layered ``a(y) = diag(2 + sin 2 pi y_2, 1.5 + cos 2 pi y_1)``
  has ``A_0 = diag(2, 1.5)``; with a manufactured homogenized solution
  ``u_0 = sin(pi x) sin(pi y)`` the FE-HMM solution converges at the FE rates
  (L2 ``h^(p+1)``, H1 ``h^p``);
* resonance error: the Keller-dual cell ``a(y) = exp(sin 2 pi y_1 sin 2 pi y_2)``
  has ``A_0 = I``; with ``delta / eps`` not an integer, Dirichlet coupling
  overestimates and Neumann coupling underestimates ``A_0``, both by
  ``O(eps / delta)`` (slope 1).
"""

from __future__ import annotations

import numpy as np
import skfem

from fe2.macro import NewtonOptions, Problem
from fe2.verify import field_errors, observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "FE-HMM: rates and resonance error"
PI = np.pi
XS = np.array([[0.31, 0.77], [0.47, 0.12]])


def smooth_laminate(x, y):
    return 1.5 + np.sin(2 * PI * y[0])


def keller(x, y):
    return np.exp(np.sin(2 * PI * y[0]) * np.sin(2 * PI * y[1]))


def cross(x, y):
    out = np.zeros((2, 2) + x.shape[1:])
    out[0, 0] = 2 + np.sin(2 * PI * y[1])
    out[1, 1] = 1.5 + np.cos(2 * PI * y[0])
    return out


def u0(x):
    return np.sin(PI * x[0]) * np.sin(PI * x[1])


def g0(x):
    return np.array([PI * np.cos(PI * x[0]) * np.sin(PI * x[1]),
                     PI * np.sin(PI * x[0]) * np.cos(PI * x[1])])


def run(quick: bool) -> StudyResult:
    res = StudyResult(
        "fe_hmm", TITLE,
        "Micro rate of A_H (periodic coupling, smooth laminate, exact A_0 = diag(√1.25, 1.5)): "
        "slope 2 (P1) and 4 (P2) ± 0.4. Macro FE-HMM (periodic coupling, cross-layered cell, "
        "A_0 = diag(2, 1.5), manufactured u_0 = sin πx sin πy): L2 slope p + 1 ± 0.25, H1 slope "
        "p ± 0.2. Resonance error (Keller cell, A_0 = I, δ/ε = 1.5, 2.5, 4.5, 8.5): Dirichlet "
        "coupling above A_0, Neumann below, |A_H - A_0| ~ (ε/δ)^1 ± 0.2.",
    )
    try:
        from fe2.micro.hmm import HMMSampler
    except ImportError as err:
        res.skipped = f"fe2.micro.hmm is not available ({err})"
        return res

    # micro rates
    A_lam = np.diag([np.sqrt(1.25), 1.5])
    eps = 0.01
    tm = Table(["micro order", "eps / micro_h", "|A_H - A_0|", "rate"])
    series = []
    for order, rate, ks in [(1, 2.0, (4, 8, 16)), (2, 4.0, (8, 16, 32))]:
        hs, errs = [], []
        for k in ks:
            hmm = HMMSampler(smooth_laminate, eps=eps, delta=eps, micro_h=eps / k, order=order)
            A = hmm.effective_tensor(XS)
            errs.append(float(np.abs(A - A_lam[..., None]).max()))
            hs.append(1.0 / k)
        r = observed_rate(hs, errs)
        for i, k in enumerate(ks):
            tm.add(order, k, errs[i], r if i == len(ks) - 1 else "")
        res.check(Check.near(f"micro P{order}: rate of |A_H - A_0|", r, rate, 0.4))
        series.append(Series(f"micro P{order}", hs, errs))
    res.tables.append(("Micro convergence of A_H (periodic coupling, δ = ε)", tm))
    res.plots.append(Plot("micro_rate", "FE-HMM: |A_H - A_0| vs micro mesh size",
                          "micro h / ε", "|A_H - A_0|", series,
                          slopes=[(2.0, "slope 2", 0), (4.0, "slope 4", 1)]))

    # macro rates
    A0 = np.diag([2.0, 1.5])
    tM = Table(["macro order", "n", "L2 error", "H1 error"])
    l2s, h1s = [], []
    for order, ns in [(1, (4, 8, 16)), (2, (2, 4, 8))]:
        hs, e0, e1 = [], [], []
        for n in ns:
            mesh = skfem.MeshTri.init_tensor(*[np.linspace(0, 1, n + 1)] * 2).with_boundaries(
                {"all": lambda x: np.ones(x.shape[1], dtype=bool)})
            hmm = HMMSampler(cross, eps=1e-3, delta=1e-3, micro_h=1e-3 / 4)
            prob = Problem(mesh, hmm, kind="scalar", order=order)
            prob.dirichlet("all", 0.0)
            prob.body_load(lambda x, t: t * PI**2 * np.trace(A0) * u0(x))
            prob.solve(NewtonOptions(rtol=1e-11))
            a, b = field_errors(prob.basis, prob.u, u0, g0)
            hs.append(1.0 / n)
            e0.append(a)
            e1.append(b)
            tM.add(order, n, a, b)
        res.check(Check.near(f"macro P{order}: L2 rate", observed_rate(hs, e0), order + 1, 0.25))
        res.check(Check.near(f"macro P{order}: H1 rate", observed_rate(hs, e1), order, 0.2))
        l2s.append(Series(f"L2, P{order}", hs, e0))
        h1s.append(Series(f"H1, P{order}", hs, e1, "s--"))
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
