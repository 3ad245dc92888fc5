"""01 — Macro FE: limit load of an elastic–plastic plate with a hole.

Problem
-------
The quarter x, y >= 0 of a square plate [-1, 1]^2 (mm) with a central hole of
radius 0.25, plane strain, J2 plasticity (E = 200 GPa, nu = 0.3,
sigma_y = 250 MPa, nearly perfect: H_iso = 100 MPa), pulled in x by a
prescribed displacement of the edge x = 1 in 20 load steps; symmetry on the
edges x = 0 and y = 0 (``meshes/plate_with_hole.msh``).

Math
----
The limit load per unit thickness of the quarter is known exactly. The
ligament above the hole (height 1 - 0.25 = 0.75) in plane-strain uniaxial
tension yields at sigma_xx = 2 sigma_y / sqrt(3) (von Mises with
sigma_zz = sigma_xx / 2): a statically admissible field, so a lower bound. A
rigid block sliding along a 45-degree shear band from the hole to the top
edge dissipates k = sigma_y / sqrt(3) per unit jump and band length and
gives the same value as an upper bound. Hence

    P_L = 0.75 * 2 sigma_y / sqrt(3) = 216.5 N/mm.

A displacement FE model is kinematic: its load sits above P_L, closer for
elements that do not lock under the isochoric plastic flow (P2 vs P1).

Expected result
---------------
The P2 reaction ends within 5 % above P_L (hardening adds a little), the P1
reaction clearly higher (volumetric locking). Writes a ParaView series and a
picture of the equivalent plastic strain. Runs in about 10 s.

Usage: ``python examples/01_plate_limit_load.py [--out out/01_plate_limit_load]``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from fe2.io import PVDWriter, read_mesh, render_png
from fe2.macro import NewtonOptions, Problem
from fe2.materials import J2Plasticity

MESH = Path(__file__).resolve().parents[1] / "meshes" / "plate_with_hole.msh"
SIGMA_Y = 250.0  # MPa
LIMIT_LOAD = 0.75 * 2.0 * SIGMA_Y / math.sqrt(3.0)  # N/mm


def solve(order: int, out: Path | None = None):
    """Pull the plate to u_x = 0.02 mm; returns the Solution and the Problem."""
    mesh = read_mesh(MESH)
    steel = J2Plasticity(E=200e3, nu=0.3, sigma_y=SIGMA_Y, H_iso=100.0, dim=2)
    prob = Problem(mesh, steel, kind="small_strain", order=order, name=f"plate P{order}")
    prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
    prob.dirichlet("right", 0.02, components=(0,))
    writer = PVDWriter(out, f"plate_p{order}") if out is not None else None

    def write(p, rec):
        if writer is not None:
            qd = p.quadrature_data()
            writer.write(rec.t, p.mesh, point_data={"u": p.vertex_values()},
                         quadrature_data={"stress": qd["flux"], "alpha": qd["state_alpha"]})

    sol = prob.solve(NewtonOptions(steps=20, rtol=1e-8, max_iter=25, line_search=4),
                     reactions=("right",),
                     callback=write)
    return sol, prob


def main(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"limit_load": LIMIT_LOAD}
    print(f"exact plane-strain limit load P_L = {LIMIT_LOAD:.2f} N/mm")
    print(" order  dofs  steps  R(end) [N/mm]  R / P_L")
    for order in (1, 2):
        sol, prob = solve(order, out)
        R = sol.reactions["right"][:, 0]
        ratio = float(R[-1] / LIMIT_LOAD)
        print(f"   P{order} {prob.basis.N:6d} {len(sol.steps):5d}  {R[-1]:12.2f}   {ratio:.4f}")
        summary[f"P{order}"] = {"dofs": int(prob.basis.N), "reaction": R.tolist(),
                                "load_factor": list(sol.load_factors), "ratio": ratio}
        if order == 2:
            alpha = prob.quadrature_data()["state_alpha"]
            png = render_png(out / "plate_alpha.png", prob.mesh,
                             point_data={"u": prob.vertex_values()},
                             cell_data={"equivalent plastic strain": alpha.mean(axis=1)},
                             scalars="equivalent plastic strain", displacement="u", scale=10.0,
                             title="P2, u_x = 0.02 mm (x10)")
            print(f"picture: {png}")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/01_plate_limit_load"))
    main(ap.parse_args().out)
