"""``fe2 run`` on ``kind = "shock_tube"`` case files: Sod's problem against the exact Riemann
solution, the flux-oracle tables, the time-step cap, and one-line exit-2 errors for every
malformed field (before anything runs)."""

from __future__ import annotations

import csv
import json
import logging
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from fe2.cli import main
from fe2.gas import exact_riemann

ROOT = Path(__file__).resolve().parents[1]
SOD = ROOT / "examples" / "cases" / "sod.toml"

SMALL = """
[problem]
kind = "shock_tube"

[shock_tube]
left = { rho = 1.0, u = 0.0, p = 1.0 }
right = { rho = 0.125, u = 0.0, p = 0.1 }
n_cells = 40
t_end = 0.1

[flux]
type = "IdealGas"
gamma = 1.4

[output]
vtu = false
png = false
"""


@pytest.fixture(autouse=True)
def _fe2_logging():
    """``fe2.cli.main`` points the fe2 logger at this test's stderr; undo that afterwards."""
    logger = logging.getLogger("fe2")
    saved = logger.handlers[:], logger.level
    yield
    logger.handlers[:], logger.level = saved[0], saved[1]


def _run(tmp_path: Path, text: str, name: str = "case") -> dict:
    case = tmp_path / f"{name}.toml"
    case.write_text(text)
    out = tmp_path / f"out_{name}"
    assert main(["run", str(case), "--out", str(out)]) == 0
    return json.loads((out / "summary.json").read_text())


def test_sod_example_through_fe2_run_against_the_exact_solution(tmp_path):
    out = tmp_path / "sod"
    assert main(["run", str(SOD), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {".fe2-run", "profiles.csv", "profiles.json", "gas.pvd", "profiles.png",
            "summary.json", "run.log"} <= names
    s = json.loads((out / "summary.json").read_text())
    spec = tomllib.loads(SOD.read_text())["shock_tube"]
    n, t = spec["n_cells"], spec["t_end"]
    left = tuple(spec["left"][k] for k in ("rho", "u", "p"))
    right = tuple(spec["right"][k] for k in ("rho", "u", "p"))
    # the exact solution (fe2.gas.exact_riemann, independent of the scheme) has a contact
    # jump 0.4263 -> 0.2656 and a shock jump 0.2656 -> 0.125 in density; a second-order
    # TVD scheme smears each over a few cells, so the L1 error is at most the jumps times
    # 5 cell widths (the rarefaction adds O(dx^2))
    rows = list(csv.DictReader((out / "profiles.csv").open()))
    x = np.array([float(r["x"]) for r in rows])
    rho = np.array([float(r["rho"]) for r in rows])
    ex_rho, _, _ = exact_riemann(left, right, x, t, gamma=1.4, x0=0.5)
    dx = 1.0 / n
    jumps = (0.42632 - 0.26557) + (0.26557 - 0.125)  # Toro (2009), Table 4.2 densities
    l1 = float(np.sum(np.abs(rho - ex_rho)) * dx)
    assert l1 < 5 * jumps * dx
    assert s["reference"]["l1"]["rho"] == pytest.approx(l1, rel=1e-12)
    # the exact solution moves momentum (p_left - p_right) t in through the open ends and
    # no mass or energy (the end states are at rest); the scheme conserves to round-off
    cons = s["conservation"]
    assert cons["momentum"]["change"] == pytest.approx((left[2] - right[2]) * t, rel=1e-12)
    assert abs(cons["mass"]["change"]) < 1e-13 and abs(cons["energy"]["change"]) < 1e-13
    assert cons["momentum"]["exact_boundary_change"] == pytest.approx(0.9 * t, rel=1e-12)
    assert s["steps"] % 2 == 0 and s["t"] == t
    pvd = (out / "gas.pvd").read_text()
    assert pvd.count("<DataSet") == spec["frames"] + 1  # t = 0 and every frame


def test_max_dt_in_the_case_fixes_the_step_count(tmp_path):
    # 40 cells: the CFL step 0.45 (dx/2) / a_max is above 2e-3 (a_max < 2 in Sod), so a cap
    # of 1e-3 sets dt and t_end = 0.1 takes ceil(0.1 / 2e-3) = 50 pairs of steps
    s = _run(tmp_path, SMALL.replace("t_end = 0.1", "t_end = 0.1\nmax_dt = 1e-3"))
    assert s["steps"] == 2 * math.ceil(0.1 / (2 * 1e-3))


def test_tabulated_ideal_gas_flux_within_the_same_bound(tmp_path):
    text = SMALL.replace('[flux]\ntype = "IdealGas"\ngamma = 1.4',
                         '[flux]\ntype = "TabulatedFlux"\ntol = 1e-4\n\n'
                         '[flux.oracle]\ntype = "IdealGas"\ngamma = 1.4')
    assert text != SMALL
    s = _run(tmp_path, text)
    # no reference by default for a flux that is not IdealGas
    assert s["reference"] is None and s["flux"]["oracle"]["type"] == "IdealGas"
    s = _run(tmp_path, text.replace("t_end = 0.1", "t_end = 0.1\nreference_gamma = 1.4"),
             "ref")
    dx = 1.0 / 40
    assert s["reference"]["l1"]["rho"] < 5 * 0.30132 * dx


def test_kinetic_flux_case_runs_with_its_seed(tmp_path):
    text = SMALL.replace('type = "IdealGas"\ngamma = 1.4',
                         'type = "KineticFlux"\nsamples = 64\nseed = 3')
    a = _run(tmp_path, text, "a")
    b = _run(tmp_path, text, "b")
    assert a["oracle"].startswith("KineticFlux(") and a["reference"] is None
    ra = (tmp_path / "out_a" / "profiles.csv").read_text()
    assert ra == (tmp_path / "out_b" / "profiles.csv").read_text()  # fixed seed: repeatable
    assert b["steps"] == a["steps"]


GOOD = SMALL


def sub(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


# (label, case text, field named in the message, a word of the message)
BAD = [
    ("unknown flux type", sub('type = "IdealGas"', 'type = "Ideal"'), "flux.type",
     "unknown flux type"),
    ("misspelt flux key", sub("gamma = 1.4", "gama = 1.4"), "flux.gama", "unknown parameter"),
    ("gamma string", sub("gamma = 1.4", 'gamma = "1.4"'), "flux.gamma", "got a string"),
    ("gamma bool", sub("gamma = 1.4", "gamma = true"), "flux.gamma", "got a boolean"),
    ("gamma 1", sub("gamma = 1.4", "gamma = 1.0"), "flux.gamma", "> 1"),
    ("kinetic gamma too large", sub('type = "IdealGas"\ngamma = 1.4',
                                    'type = "KineticFlux"\ngamma = 3.5'),
     "flux", "gamma must satisfy"),
    ("kinetic samples float", sub('type = "IdealGas"\ngamma = 1.4',
                                  'type = "KineticFlux"\nsamples = 64.0'),
     "flux.samples", "integer"),
    ("variance reduction", sub('type = "IdealGas"\ngamma = 1.4',
                               'type = "KineticFlux"\nvariance_reduction = "sobol"'),
     "flux.variance_reduction", "one of"),
    ("tabulated without oracle", sub('type = "IdealGas"\ngamma = 1.4',
                                     'type = "TabulatedFlux"'), "flux.oracle", "missing"),
    ("tabulated in tabulated", sub('type = "IdealGas"\ngamma = 1.4',
                                   'type = "TabulatedFlux"\noracle = { type = "TabulatedFlux" }'),
     "flux.oracle.type", "unknown flux type"),
    ("tabulated tol", sub('type = "IdealGas"\ngamma = 1.4',
                          'type = "TabulatedFlux"\ntol = 1.0\noracle = { type = "IdealGas" }'),
     "flux.tol", "< 1"),
    ("n_cells 2", sub("n_cells = 40", "n_cells = 2"), "shock_tube.n_cells", ">= 3"),
    ("n_cells float", sub("n_cells = 40", "n_cells = 40.0"), "shock_tube.n_cells", "integer"),
    ("t_end nan", sub("t_end = 0.1", "t_end = nan"), "shock_tube.t_end", "finite"),
    ("t_end 0", sub("t_end = 0.1", "t_end = 0.0"), "shock_tube.t_end", "> 0"),
    ("negative density", sub("rho = 1.0", "rho = -1.0"), "shock_tube.left.rho", "> 0"),
    ("negative pressure", sub("p = 0.1", "p = -0.1"), "shock_tube.right.p", ">= 0"),
    ("misspelt state key", sub("rho = 1.0", "rh = 1.0"), "shock_tube.left.rh",
     "unknown field"),
    ("state not a table", sub("left = { rho = 1.0, u = 0.0, p = 1.0 }", "left = [1.0, 0.0]"),
     "shock_tube.left", "table"),
    ("scheme", sub("t_end = 0.1", 't_end = 0.1\nscheme = "weno"'), "shock_tube.scheme",
     "one of"),
    ("limiter", sub("t_end = 0.1", 't_end = 0.1\nlimiter = "superbee"'),
     "shock_tube.limiter", "one of"),
    ("bc", sub("t_end = 0.1", 't_end = 0.1\nbc = "wall"'), "shock_tube.bc", "boundary kind"),
    ("bc pair", sub("t_end = 0.1", 't_end = 0.1\nbc = ["outflow", "wall"]'),
     "shock_tube.bc[1]", "one of"),
    ("periodic one side", sub("t_end = 0.1", 't_end = 0.1\nbc = ["periodic", "outflow"]'),
     "shock_tube.bc", "both sides"),
    ("cfl", sub("t_end = 0.1", "t_end = 0.1\ncfl = 1.5"), "shock_tube.cfl", "<= 1"),
    ("max_dt 0", sub("t_end = 0.1", "t_end = 0.1\nmax_dt = 0.0"), "shock_tube.max_dt", "> 0"),
    ("max_dt string", sub("t_end = 0.1", 't_end = 0.1\nmax_dt = "1e-3"'),
     "shock_tube.max_dt", "got a string"),
    ("x0 outside", sub("t_end = 0.1", "t_end = 0.1\nx0 = 2.0"), "shock_tube.x0", "domain"),
    ("domain reversed", sub("t_end = 0.1", "t_end = 0.1\ndomain = [1.0, 0.0]"),
     "shock_tube.domain", "b > a"),
    ("frames 0", sub("t_end = 0.1", "t_end = 0.1\nframes = 0"), "shock_tube.frames", ">= 1"),
    ("misspelt shock_tube key", sub("n_cells = 40", "ncells = 40"), "shock_tube.ncells",
     "unknown field"),
    ("missing n_cells", sub("n_cells = 40\n", ""), "shock_tube.n_cells", "missing"),
    ("missing flux", GOOD.split("[flux]")[0] + "[output]\nvtu = false\n", "flux",
     "missing section"),
    ("missing shock_tube", sub("[shock_tube]", "[shock_tub]"), "shock_tub",
     "unknown section"),
    ("materials in a gas case", GOOD + '\n[materials.a]\ntype = "LinearElastic"\nE = 1.0\n'
     "nu = 0.3\n", "materials", "not used"),
    ("mesh-only output", sub("vtu = false", 'vtu = false\nscalars = "rho"'),
     "output.scalars", "not used"),
    ("xdmf", sub("vtu = false", 'vtu = false\nformat = "xdmf"'), "output.format", "pvd"),
    ("workers string", GOOD + '\n[parallel]\nworkers = "2"\n', "parallel.workers",
     "integer"),
    ("shock_tube in a mesh kind", sub('kind = "shock_tube"', 'kind = "scalar"'),
     "shock_tube", "only for kind"),
]


@pytest.mark.parametrize("label,text,field,word", BAD, ids=[b[0] for b in BAD])
def test_malformed_gas_case_is_one_line_exit_2(tmp_path, capsys, label, text, field, word):
    case = tmp_path / "case.toml"
    case.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fe2: error: {case}: {field}: "), lines[0]
    assert word in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml"]  # nothing written


def test_out_folder_not_written_by_fe2_is_refused(tmp_path, capsys):
    case = tmp_path / "case.toml"
    case.write_text(GOOD)
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("keep me")
    assert main(["run", str(case), "--out", str(out)]) == 2
    assert ".fe2-run" in capsys.readouterr().err
    assert (out / "chapter1.tex").read_text() == "keep me"
    # a folder fe2 wrote is replaced whole
    first = tmp_path / "first"
    assert main(["run", str(case), "--out", str(first)]) == 0
    (first / "stale.txt").write_text("old")
    assert main(["run", str(case), "--out", str(first)]) == 0
    assert not (first / "stale.txt").exists()


def test_parallel_workers_give_the_serial_result(tmp_path):
    serial = _run(tmp_path, GOOD, "serial")
    par = _run(tmp_path, GOOD + '\n[parallel]\nworkers = 2\nexecutor = "process"\n', "par")
    assert par["steps"] == serial["steps"]
    assert (tmp_path / "out_par" / "profiles.csv").read_text() == \
        (tmp_path / "out_serial" / "profiles.csv").read_text()


def test_fe2_schema_knows_the_gas_case(capsys):
    import jsonschema

    assert main(["schema"]) == 0
    v = jsonschema.Draft202012Validator(json.loads(capsys.readouterr().out))
    for text in (GOOD, SOD.read_text(), BAD[8][1].replace('"TabulatedFlux"',
                                                         '"TabulatedFlux"\noracle = { type = '
                                                         '"KineticFlux", samples = 64 }')):
        assert not list(v.iter_errors(tomllib.loads(text))), text
    # what a JSON-schema validator can see is refused by it as well
    for label in ("unknown flux type", "gamma string", "missing flux", "n_cells 2", "bc pair",
                  "tabulated in tabulated", "misspelt state key"):
        text = next(b[1] for b in BAD if b[0] == label)
        assert list(v.iter_errors(tomllib.loads(text))), label


def test_a_run_the_oracle_stops_exits_1_and_keeps_its_log(tmp_path, capsys):
    # Toro's test 2 (two strong rarefactions, near-vacuum at x0) with unlimited slopes at
    # cfl = 1 undershoots to a negative pressure, which IdealGas refuses: a failed run
    text = (sub("left = { rho = 1.0, u = 0.0, p = 1.0 }", "left = { rho = 1.0, u = -2.0, "
                "p = 0.4 }").replace("right = { rho = 0.125, u = 0.0, p = 0.1 }",
                                     "right = { rho = 1.0, u = 2.0, p = 0.4 }")
            .replace("t_end = 0.1", 't_end = 0.15\nlimiter = "none"\ncfl = 1.0'))
    case = tmp_path / "case.toml"
    case.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith(f"fe2: error: {case}: the shock tube stopped: IdealGas: "
                                "negative pressure"), lines[-1]
    assert not out.exists() and (tmp_path / "out.failed" / "run.log").is_file()
