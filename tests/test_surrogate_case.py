"""`type = "AdaptiveSurrogate"` in case files: `fe2 run` with a surrogate around an RVE."""

import json
import subprocess
import sys

import numpy as np
import pytest
from case_texts import LAMINATE_RVE

from fe2.case import CaseError, build_problem, load_case
from fe2.surrogate import AdaptiveSurrogate

# the laminate RVE case with its RVE wrapped in a surrogate
CASE = LAMINATE_RVE.replace(
    '[materials.all]\ntype = "RVE"',
    '[materials.all]\ntype = "AdaptiveSurrogate"\ntol = 1e-3\n\n[materials.all.oracle]\n'
    'type = "RVE"')
assert 'type = "AdaptiveSurrogate"' in CASE


def test_surrogate_case_gives_the_harmonic_mean_flux(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(CASE)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(case), "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    # series layers normal to x: k_eff = 1 / (0.25 / 1 + 0.75 / 9) = 3, unit gradient and
    # height: |flux| through the right edge is 3 (the surrogate within a few tol)
    flux = np.ravel(summary["reactions"]["right"])[-1]
    assert abs(flux) == pytest.approx(3.0, rel=5e-3)


def test_surrogate_case_builds_the_wrapper(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace("tol = 1e-3", "tol = 1e-3\ngradients = true"))
    p = build_problem(load_case(case))
    oracle = p.regions[0].oracle
    assert isinstance(oracle, AdaptiveSurrogate) and oracle.tol == 1e-3 and oracle.gradients
    assert oracle.incremental
    case.write_text(CASE.replace("tol = 1e-3", "tol = 1e-3\nincremental = false"))
    assert not build_problem(load_case(case)).regions[0].oracle.incremental
    assert type(oracle.oracle).__name__ == "RVE"


@pytest.mark.parametrize(
    "change, message",
    [
        (("tol = 1e-3", "tol = -1.0"), "materials.all.tol"),
        (("tol = 1e-3", "tol = 1e-3\nbogus = 2"),
         "materials.all.bogus: unknown parameter of AdaptiveSurrogate"),
        (('type = "laminate"', 'type = "honeycomb"'),
         "materials.all.oracle.cell.type: unknown cell type 'honeycomb'"),
        (("tol = 1e-3", 'tol = 1e-3\nload = "missing"'), "missing.npz does not exist"),
    ],
)
def test_bad_surrogate_tables_name_the_field(tmp_path, change, message):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace(*change))
    with pytest.raises(CaseError, match=message):
        build_problem(load_case(case))


DESIGN = 'design = { lower = [-0.2, -0.2], upper = [1.5, 0.2], points = 16 }'


def test_surrogate_case_design_trains_before_the_run(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace("tol = 1e-3", "tol = 1e-3\n" + DESIGN))
    oracle = build_problem(load_case(case)).regions[0].oracle
    assert oracle.stats["training_points"] == 16
    # the laminate's harmonic-mean conductivity along the layer normal (series layers:
    # 1 / (0.25 / 1 + 0.75 / 9) = 3), answered by the model alone
    r = oracle.evaluate(np.array([[1.0], [0.0]]))
    assert r.flux[0, 0] == pytest.approx(3.0, rel=5e-3)
    assert oracle.stats["oracle_calls"] == 0 and oracle.stats["surrogate_calls"] == 1


def test_surrogate_case_neural_model(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace("tol = 1e-3", 'tol = 1e-3\nmodel = "neural"'))
    oracle = build_problem(load_case(case)).regions[0].oracle
    assert oracle.model == "neural" and type(oracle.gp).__name__ == "EnergyEnsemble"


@pytest.mark.parametrize(
    "design, message",
    [
        ("design = { lower = [0.0], upper = [1.0] }",
         r"materials.all.design: lower and upper must be shaped like the macro input \(2,\)"),
        ("design = { lower = [1.0, 0.0], upper = [0.0, 1.0] }",
         "materials.all.design: expected lower <= upper"),
        ("design = { lower = [0.0, 0.0], upper = [1.0, 1.0], points = 1 }",
         "materials.all.design.points"),
    ],
)
def test_bad_surrogate_design_names_the_field(tmp_path, design, message):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace("tol = 1e-3", "tol = 1e-3\n" + design))
    with pytest.raises(CaseError, match=message):
        build_problem(load_case(case))
