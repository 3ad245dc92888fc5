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


FE2_CHANNEL = """
[problem]
kind = "fluid"

[flow]
kind = "channel"
n = 16
t_end = 3.0
gradient = 8.0
viscosity = 1.0
dt = 0.01

[output]
png = false
"""


def _fe2(*args, cwd):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "fe2.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_fe2_run_fluid_case_matches_poiseuille(tmp_path):
    (tmp_path / "channel.toml").write_text(FE2_CHANNEL)
    res = _fe2("run", "channel.toml", "--out", "out", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["kind"] == "fluid" and summary["flow"] == "channel"
    for f in summary["outputs"]:
        assert (tmp_path / "out" / f).is_file(), f
    assert "flow.pvd" in summary["outputs"]  # output.vtu (default) with t_end: a series
    y, u = np.loadtxt(tmp_path / "out" / "flow_centerline_u.csv", delimiter=",",
                      skiprows=1).T
    assert np.abs(u[1:-1] - poiseuille(y[1:-1], 8.0, 1.0)).max() < 5e-3


@pytest.mark.parametrize("edit, match", [
    (("n = 16", "n = 1"), "flow.n = 1"),
    (("viscosity = 1.0", "viscosity = 1.0\nlid = \"regularized\""), "flow.lid = 'regularized'"),
    (("[output]", "[stress]\ntype = \"Maxwell\"\n\n[output]"), "stress.type = 'Maxwell'"),
    (("[output]", "[materials.all]\ntype = \"LinearElastic\"\nE = 1.0\nnu = 0.3\n\n[output]"),
     "materials: not used by kind = \"fluid\""),
    (("png = false", "png = false\nscalars = \"u\""), "output.scalars: not used"),
    (("[flow]\nkind = \"channel\"", "[flo]\nkind = \"channel\""), "flo"),
])
def test_fe2_run_bad_fluid_case_is_one_line(tmp_path, edit, match):
    import tomllib

    from fe2.case import Case, CaseError

    text = FE2_CHANNEL.replace(*edit)
    with pytest.raises(CaseError, match=match) as err:
        Case.from_dict(tomllib.loads(text), source="bad.toml")
    assert "\n" not in str(err.value) and str(err.value).startswith("bad.toml: ")


def test_fe2_run_refuses_bad_fluid_case_before_running(tmp_path):
    (tmp_path / "bad.toml").write_text(FE2_CHANNEL.replace("[output]", "[stress]\ntype = "
                                                           "\"Maxwell\"\n\n[output]"))
    res = _fe2("run", "bad.toml", "--out", "out", cwd=tmp_path)
    err = res.stderr.strip()
    assert res.returncode != 0 and "stress.type = 'Maxwell'" in err, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_fe2_run_example_fluid_case_is_valid():
    from pathlib import Path

    from fe2.case import load_case
    from fe2.case.fluid import fluid_case

    path = Path(__file__).resolve().parents[1] / "examples" / "cases" / "cavity.toml"
    fc = fluid_case(load_case(path))
    assert fc.flow.kind == "cavity" and fc.flow.reynolds == 100
