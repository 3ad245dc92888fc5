"""fe2.fluids case files: validation with one-line errors, a run against the closed form."""

import json

import numpy as np
import pytest

from fe2.fluids import FluidCase, FluidCaseError, run_fluid_case
from fe2.fluids.reference import poiseuille

CHANNEL = """
[flow]
kind = "channel"
n = 16
t_end = 3.0
gradient = 8.0
viscosity = 1.0
dt = 0.01

[output]
name = "poiseuille"
png = false
snapshots = 2
"""


def test_channel_case_runs_and_matches_poiseuille(tmp_path):
    path = tmp_path / "channel.toml"
    path.write_text(CHANNEL)
    summary = run_fluid_case(path, tmp_path / "out")
    y, u = np.loadtxt(tmp_path / "out" / "poiseuille_centerline_u.csv", delimiter=",",
                      skiprows=1).T
    # interior points: cell centres of the 4-cell-long channel's column at x = length / 2
    assert np.abs(u[1:-1] - poiseuille(y[1:-1], 8.0, 1.0)).max() < 5e-3
    assert "poiseuille.pvd" in summary["files"]
    assert json.loads((tmp_path / "out" / "poiseuille_summary.json").read_text())["kind"] \
        == "channel"


@pytest.mark.parametrize("data, match", [
    ({"flow": {"kind": "cavity", "n": 8, "steady_tol": 1e-3}}, "flow.reynolds: missing"),
    ({"flow": {"kind": "cavity", "n": 8, "reynolds": 10, "t_end": 1, "colour": 1}},
     "flow.colour"),
    ({"flow": {"kind": "cavity", "n": 2, "reynolds": 10, "t_end": 1}}, "flow.n = 2"),
    ({"flow": {"kind": "cavity", "n": 8, "reynolds": 10, "t_end": 1},
      "stress": {"type": "Maxwell"}}, "stress.type = 'Maxwell'"),
    ({"flow": {"kind": "cavity", "n": 8, "reynolds": 10, "t_end": 1},
      "stress": {"type": "OldroydB", "eta_s": 0.1, "eta_p": 0.1, "lam": -1}},
     "lam must be a positive number"),
    ({"flow": {"kind": "channel", "n": 8, "t_end": 1}}, "flow.viscosity: missing"),
])
def test_bad_cases_are_one_line_errors(data, match):
    with pytest.raises(FluidCaseError, match=match) as err:
        FluidCase.from_dict(data, "case.toml")
    assert "\n" not in str(err.value) and str(err.value).startswith("case.toml: ")
