"""MMS for the scalar (Poisson / conductivity) macro problem: P1 and P2, 2D and 3D.

Expected: L2 rate p + 1 and H1 rate p for Lagrange order p on triangles, quads,
tetrahedra and hexahedra; the nonlinear conductivity (full tier) has the same rates.
The sources are closed forms derived with sympy from the laws written in
:mod:`verification.mms` (Fourier, power law), not from the oracles.
"""

from __future__ import annotations

from fe2.materials import LinearConductivity, NonlinearConductivity
from verification.core import StudyResult
from verification.mms import (
    MESHES,
    closed_form_source,
    fourier,
    mesh_dim,
    mms_study,
    power_law,
    scalar_exact,
    scalar_grad,
)

TITLE = "MMS: Poisson, P1/P2, 2D/3D"
QUICK = [("tri", 1), ("tri", 2), ("quad", 1), ("quad", 2), ("tet", 1), ("hex", 1)]


def run(quick: bool) -> StudyResult:
    keys = QUICK if quick else list(MESHES)
    cases = []
    for key in keys:
        d = mesh_dim(key)
        oracle = LinearConductivity(1.0, dim=d)
        cases.append((f"{key[0]} P{key[1]}", "scalar", oracle, key, scalar_exact, scalar_grad, 1,
                       closed_form_source(fourier(1.0), d)))
    if not quick:
        nl = NonlinearConductivity(k0=1.0, p=3.0, dim=2, reg=0.5)
        cases.append(("tri P2, nonlinear k", "scalar", nl, ("tri", 2), scalar_exact,
                      scalar_grad, 1, closed_form_source(power_law(1.0, 3.0, 0.5), 2)))
    res, _ = mms_study(
        "mms_poisson", TITLE,
        "Manufactured solution u* = sin(πx) cos(πy/2) + 0.3xy on the unit square / cube, "
        "source f = -div q(grad u*) in closed form (sympy, from the law written independently of "
        "the oracle: q = k grad u; full tier also q = k0 (reg² + |g|²)^((p-2)/2) g), Dirichlet "
        "data u* on the whole boundary. "
        "Expected: L2 error ~ h^(p+1), H1 seminorm error ~ h^p (tolerance ±0.1 on the "
        "least-squares slope).",
        cases,
    )
    return res
