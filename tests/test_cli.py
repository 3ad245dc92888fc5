"""The `fe2` command: a successful run, and bad input answered with one clear line."""

import json
import subprocess
import sys
from pathlib import Path

import meshio
import numpy as np
import pytest
from case_texts import elastic_square

ROOT = Path(__file__).resolve().parents[1]
MESHES = ROOT / "meshes"

GOOD = elastic_square(png=True)


def fe2(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "fe2.cli", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture
def good_run(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(GOOD)
    out = tmp_path / "out"
    res = fe2("run", str(case), "--out", str(out))
    assert res.returncode == 0, res.stderr
    return case, out


def test_run_writes_outputs(good_run):
    case, out = good_run
    summary = json.loads((out / "summary.json").read_text())
    assert [s["t"] for s in summary["steps"]] == [0.5, 1.0]
    # uniaxial stress: reaction on x=0 balances the traction 3 on the unit edge
    np.testing.assert_allclose(summary["reactions"]["left"][-1], [-3.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(summary["max_abs_u"], 3.0 / 100.0, rtol=1e-9)
    vtu = meshio.read(out / "solution_000001.vtu")
    np.testing.assert_allclose(vtu.point_data["u"][:, 0], 0.03 * vtu.points[:, 0], atol=1e-12)
    assert "stress" in vtu.cell_data or "stress" in str(vtu.cell_data.keys())
    assert (out / "solution.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "run.log").read_text().count("converged") == 2


def test_cholesky_solver_from_the_case_file(tmp_path):
    """[solver] type = "cholesky": the same closed-form uniaxial answer as the default."""
    case = tmp_path / "case.toml"
    case.write_text(GOOD + '\n[solver]\ntype = "cholesky"\n')
    res = fe2("run", str(case), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    np.testing.assert_allclose(summary["reactions"]["left"][-1], [-3.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(summary["max_abs_u"], 3.0 / 100.0, rtol=1e-9)


def test_version():
    res = fe2("--version")
    assert res.returncode == 0 and res.stdout.startswith("fe2 ")


BAD = [
    ("missing mesh", GOOD.replace("unit_square_tri.msh", "nope.msh"), "nope.msh"),
    ("unknown field", GOOD.replace("order = 1", "ordr = 1"), "mesh.ordr: unknown field"),
    ("wrong type", GOOD.replace("steps = 2", 'steps = "two"'),
     'newton.steps: expected an integer >= 1 (initial number of load steps), got a string "two"'),
    ("negative modulus", GOOD.replace("E = 100.0", "E = -5.0"), "E must be > 0, got -5.0"),
    ("unknown boundary", GOOD.replace('boundary = "right"', 'boundary = "rigth"'),
     "unknown boundary 'rigth'"),
    ("missing field", GOOD.replace('kind = "small_strain"', ""), "problem.kind: missing field"),
    ("unknown material", GOOD.replace("LinearElastic", "LinearElastik"), "unknown material type"),
    ("bad toml", GOOD + "\n[mesh\n", "not valid TOML"),
]


@pytest.mark.parametrize("label,text,expect", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line_and_keeps_old_results(good_run, label, text, expect):
    case, out = good_run
    before = (out / "summary.json").read_bytes()
    bad = case.with_name("bad.toml")
    bad.write_text(text)
    res = fe2("run", str(bad), "--out", str(out))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert "Traceback" not in res.stderr
    assert len(lines) == 1 and lines[0].startswith("fe2: error:"), res.stderr
    assert expect in lines[0], lines[0]
    assert (out / "summary.json").read_bytes() == before


def test_inverted_mesh_is_a_clear_error(good_run, tmp_path):
    case, out = good_run
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0.0]])
    cells = [("triangle", np.array([[0, 1, 2], [0, 1, 3]]))]
    path = tmp_path / "degenerate.vtu"
    meshio.write(path, meshio.Mesh(pts, cells))
    bad = case.with_name("bad.toml")
    bad.write_text(GOOD.replace(str(MESHES / "unit_square_tri.msh"), str(path)))
    res = fe2("run", str(bad), "--out", str(out))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "degenerate.vtu" in res.stderr and "element 0" in res.stderr, res.stderr


def test_non_converging_run_keeps_old_results(good_run):
    case, out = good_run
    before = (out / "summary.json").read_bytes()
    text = GOOD.replace('type = "LinearElastic"', 'type = "J2Plasticity"\nsigma_y = 0.01')
    text = text.replace('plane = "stress"\n', "")
    text = text.replace("steps = 2", "steps = 1\nmax_iter = 1\nmax_cutbacks = 1")
    bad = case.with_name("bad.toml")
    bad.write_text(text)
    res = fe2("run", str(bad), "--out", str(out))
    assert res.returncode == 1, res.stderr
    assert "cut-backs" in res.stderr and "Traceback" not in res.stderr
    assert (out / "summary.json").read_bytes() == before
    assert (out.with_name("out.failed") / "run.log").exists()


def test_xdmf_output_reads_back(tmp_path):
    """[output] format = "xdmf": one XDMF + HDF5 time series (meshio reads it back) with the
    closed-form uniaxial-stress displacement u_x = sigma x / E at both steps."""
    case = tmp_path / "case.toml"
    case.write_text(GOOD.replace("[output]\n", '[output]\nformat = "xdmf"\npng = false\n'))
    out = tmp_path / "out"
    res = fe2("run", str(case), "--out", str(out))
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert {"solution.xdmf", "solution.h5"} <= set(summary["outputs"])
    assert not (out / "solution.pvd").exists()
    with meshio.xdmf.TimeSeriesReader(out / "solution.xdmf") as reader:
        points, _ = reader.read_points_cells()
        steps = [reader.read_data(k) for k in range(reader.num_steps)]
    assert [s[0] for s in steps] == pytest.approx([0.5, 1.0])
    for t, point_data, _ in steps:
        np.testing.assert_allclose(point_data["u"][:, 0], 0.03 * t * points[:, 0], atol=1e-12)


def test_unknown_output_format(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(GOOD.replace("[output]\n", '[output]\nformat = "vtk"\n'))
    res = fe2("run", str(case), "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert res.stderr.strip() == (f'fe2: error: {case}: output.format: expected one of "pvd", '
                                  f'"xdmf" (VTU + PVD series, or XDMF + HDF5), got a string "vtk"')
