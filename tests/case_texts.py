"""Case-file text shared by the tests that run ``fe2 run`` (one copy of each fixture)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MESHES = ROOT / "meshes"


def pull_right(u: float | str) -> str:
    """``[[dirichlet]]`` blocks: rollers on the left (x) and bottom (y) edges, the right edge
    pulled to ``u_x = u`` (scaled by the load factor)."""
    return f"""
[[dirichlet]]
boundary = "left"
components = [0]

[[dirichlet]]
boundary = "bottom"
components = [1]

[[dirichlet]]
boundary = "right"
components = [0]
value = {u}
"""


def elastic_square(png: bool = True) -> str:
    """Plane-stress unit square (E = 100, nu = 0.25) under a traction of 3 on its right edge,
    rollers left and bottom, 2 load steps: the reaction on the left edge is (-3, 0)."""
    return f"""
[mesh]
file = "{MESHES / 'unit_square_tri.msh'}"
order = 1

[problem]
kind = "small_strain"

[materials.domain]
type = "LinearElastic"
E = 100.0
nu = 0.25
plane = "stress"

[[dirichlet]]
boundary = "left"
components = [0]

[[dirichlet]]
boundary = "bottom"
components = [1]

[[neumann]]
boundary = "right"
value = [3.0, 0.0]

[newton]
steps = 2

[output]
""" + ("" if png else "png = false\n") + 'reactions = ["left"]\n'


def j2_plate(order: int) -> str:
    """The steel plate with a hole (J2, linear hardening, MPa) pulled to u_x = 0.004 on its
    right edge: mesh, problem, material and boundary conditions, without [newton]/[output]."""
    return f"""
[mesh]
file = "{MESHES / 'plate_with_hole.msh'}"
order = {order}

[problem]
kind = "small_strain"

[materials.plate]
type = "J2Plasticity"
E = 200000.0
nu = 0.3
sigma_y = 250.0
H_iso = 2000.0
""" + pull_right("0.004")


# A scalar unit square whose material is a periodic laminate RVE (layers normal to x, k = 1
# and 9 in fractions 0.25 and 0.75: k_eff = 3 across the layers), pulled from 0 to 1 in x.
LAMINATE_RVE = f"""
[mesh]
file = "{MESHES / 'unit_square_quad.msh'}"

[problem]
kind = "scalar"

[materials.all]
type = "RVE"
bc = "periodic"
cell = {{ type = "laminate", fractions = [0.25, 0.75], normal = 0 }}
phases = [{{ type = "LinearConductivity", k = 1.0 }}, {{ type = "LinearConductivity", k = 9.0 }}]

[[dirichlet]]
boundary = "left"

[[dirichlet]]
boundary = "right"
value = 1.0

[output]
reactions = ["right"]
png = false
"""
