"""An RVE as the material of a case file: `fe2 run` with FE² from TOML."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fe2.case import CaseError, build_problem, load_case

MESHES = Path(__file__).resolve().parents[1] / "meshes"

CASE = f"""
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


def test_laminate_rve_case_gives_the_harmonic_mean_flux(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(CASE)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(case), "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    # layers normal to x in series: k_eff = 1 / (0.25 / 1 + 0.75 / 9) = 3; unit gradient,
    # unit height: the flux through the right edge is -k_eff (heat leaves the body there)
    flux = np.ravel(summary["reactions"]["right"])[-1]
    assert abs(flux) == pytest.approx(3.0, rel=1e-10)


@pytest.mark.parametrize(
    "change, message",
    [
        (("normal = 0 }", "normal = 0, bogus = 1 }"), "materials.all.cell: unknown parameter"),
        (('type = "laminate"', 'type = "honeycomb"'), "materials.all.cell.type = 'honeycomb'"),
        (("k = 9.0", "k = -9.0"), "materials.all.phases[1]"),
        (('bc = "periodic"', 'bc = "free"'), "bc"),
    ],
)
def test_bad_rve_tables_name_the_field(tmp_path, change, message):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace(*change))
    with pytest.raises(CaseError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_problem(load_case(case))
