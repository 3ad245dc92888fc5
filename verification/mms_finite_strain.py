"""MMS for finite-strain hyperelasticity (neo-Hookean), with Newton's quadratic convergence.

The manufactured displacement has amplitude 0.3 (strains of about 30 %); the body
force ``b = -Div P(F*)`` is a closed form: sympy differentiates the neo-Hookean strain
energy written in :mod:`verification.mms` (not the oracle's stress) to ``P = dW/dF`` and
then in space. The problem is solved in two load steps. Expected: L2 rate p + 1, H1
rate p, and an observed Newton order of about 2 in the last load step on the finest mesh.
"""

from __future__ import annotations

import numpy as np

from fe2.materials import NeoHookean
from fe2.verify import newton_orders
from verification.core import Check, Plot, Series, StudyResult
from verification.mms import (
    closed_form_source,
    mms_study,
    neo_hookean,
    vector_exact,
    vector_grad,
)

TITLE = "MMS: finite-strain hyperelasticity (neo-Hookean)"


def _exact(x):
    return vector_exact(x, a=0.3)


def _grad(x):
    return vector_grad(x, a=0.3)


def run(quick: bool) -> StudyResult:
    keys = [("tri", 1), ("quad", 2)] if quick else [("tri", 1), ("tri", 2), ("quad", 1),
                                                     ("quad", 2), ("tet", 1)]
    cases = []
    for key in keys:
        d = 2 if key[0] in ("tri", "quad") else 3
        cases.append((f"{key[0]} P{key[1]}", "finite_strain", NeoHookean(E=10.0, nu=0.3, dim=d),
                      key, _exact, _grad, 2, closed_form_source(neo_hookean(10.0, 0.3), d, 0.3)))
    res, out = mms_study(
        "mms_finite_strain", TITLE,
        "Neo-Hookean (E = 10, ν = 0.3), manufactured displacement of amplitude 0.3, body "
        "force b = -Div P(I + grad u*) per reference volume in closed form (sympy: P = dW/dF of "
        "W = μ/2 (tr FᵀF - d) - μ ln J + λ/2 (ln J)², written independently of the oracle), "
        "Dirichlet data u* "
        "on the boundary, two load steps. Expected: L2 ~ h^(p+1), H1 ~ h^p (±0.1); Newton's "
        "observed order log(r_{k+1}/r_k) / log(r_k/r_{k-1}) ≈ 2 in the last step on the finest "
        "mesh (≥ 1.7).",
        cases,
    )
    series = []
    for label, r in out.items():
        resid = np.asarray(r.steps[-1][-1].residuals[1:])  # after the load predictor
        q = newton_orders(resid)
        res.check(Check.at_least(f"{label}: Newton order (finest mesh, last step)",
                                 float(q[-1]) if q.size else float("nan"), 1.7))
        series.append(Series(label, np.arange(1, resid.size + 1), resid / resid[0]))
    res.plots.append(Plot("newton", "Newton residuals, last load step, finest mesh",
                          "iteration", "|r_k| / |r_1|", series, xscale="linear"))
    return res
