"""MMS for small-strain linear elasticity: P1 and P2 on tri/quad (plane strain) and tet/hex.

Expected: L2 rate p + 1 and H1 rate p. The body force is a closed form derived with
sympy from Hooke's law written in :mod:`verification.mms` from ``E`` and ``nu``.
"""

from __future__ import annotations

from fe2.materials import LinearElastic
from verification.core import StudyResult
from verification.mms import (
    MESHES,
    closed_form_source,
    hooke,
    mesh_dim,
    mms_study,
    vector_exact,
    vector_grad,
)

TITLE = "MMS: linear elasticity, P1/P2, 2D/3D"
QUICK = [("tri", 1), ("tri", 2), ("quad", 1), ("quad", 2), ("tet", 1), ("hex", 1)]


def run(quick: bool) -> StudyResult:
    keys = QUICK if quick else list(MESHES)
    cases = []
    for key in keys:
        d = mesh_dim(key)
        oracle = LinearElastic(E=10.0, nu=0.3, plane="strain" if d == 2 else None)
        cases.append((f"{key[0]} P{key[1]}", "small_strain", oracle, key, vector_exact,
                      vector_grad, 1, closed_form_source(hooke(10.0, 0.3), d)))
    res, _ = mms_study(
        "mms_elasticity", TITLE,
        "Manufactured displacement (amplitude 0.05) on the unit square (plane strain) / cube, "
        "E = 10, ν = 0.3, body force b = -div σ(ε(u*)) in closed form (sympy, from Hooke's law "
        "written with the Lamé constants of E, ν independently of the oracle), Dirichlet data "
        "u* on the whole boundary. Expected: L2 error ~ h^(p+1), H1 seminorm error ~ h^p (±0.1).",
        cases,
    )
    return res
