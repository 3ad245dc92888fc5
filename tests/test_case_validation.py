"""Malformed case files and output places, as a new user writes them: exit status 2, one line
``fe2: error: <file>: <field>: ...`` naming what was expected, before anything runs (no output
folder, no ``OUT.failed``, earlier results untouched)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from case_texts import elastic_square, j2_plate

from fe2.cli import main

ROOT = Path(__file__).resolve().parents[1]
MESHES = ROOT / "meshes"

GOOD = elastic_square(png=False)

RVE = f"""
[mesh]
file = "{MESHES / 'unit_square_quad.msh'}"

[problem]
kind = "scalar"

[materials.all]
type = "RVE"
cell = {{ type = "laminate", fractions = [0.25, 0.75], normal = 0 }}
phases = [{{ type = "LinearConductivity", k = 1.0 }}, {{ type = "LinearConductivity", k = 9.0 }}]

[[dirichlet]]
boundary = "left"
"""


def sub(old, new, text=GOOD):
    assert old in text, old
    return text.replace(old, new, 1)


# (label, case text, field named in the message, a word of the message)
BAD = [
    ("empty file", "", "", "empty"),
    ("toml syntax", GOOD + "\n[mesh\n", "", "not valid TOML"),
    ("missing mesh", sub("unit_square_tri.msh", "nope.msh"), "mesh.file", "not found"),
    ("misspelt section", sub("[newton]", "[newtn]"), "newtn", "unknown section"),
    ("misspelt mesh key", sub("order = 1", "ordr = 1"), "mesh.ordr", "unknown field"),
    ("misspelt newton key", sub("steps = 2", "stpes = 2"), "newton.stpes", "unknown field"),
    ("misspelt dirichlet key", sub('boundary = "left"', 'boundry = "left"'),
     "dirichlet[0].boundry", "unknown field"),
    ("misspelt curve key", GOOD + 'curve = { boundary = "right", compnent = 0 }\n',
     "output.curve.compnent", "unknown field"),
    ("misspelt material key", sub("nu = 0.25", "nuu = 0.25"), "materials.domain.nuu",
     "unknown parameter of LinearElastic"),
    ("bool as number", sub("E = 100.0", "E = true"), "materials.domain.E", "got a boolean true"),
    ("string as number", sub("E = 100.0", 'E = "1000"'), "materials.domain.E",
     'got a string "1000"'),
    ("nan modulus", sub("E = 100.0", "E = nan"), "materials.domain.E", "finite number"),
    ("negative modulus", sub("E = 100.0", "E = -5.0"), "materials.domain", "E must be > 0"),
    ("grow zero", sub("steps = 2", "steps = 2\ngrow = 0"), "newton.grow", ">= 1"),
    ("grow negative", sub("steps = 2", "steps = 2\ngrow = -1.5"), "newton.grow", ">= 1"),
    ("grow nan", sub("steps = 2", "steps = 2\ngrow = nan"), "newton.grow", "finite"),
    ("min increment zero", sub("steps = 2", "steps = 2\nmin_increment = 0.0"),
     "newton.min_increment", "> 0"),
    ("cut-back budget negative", sub("steps = 2", "steps = 2\nmax_total_cutbacks = -1"),
     "newton.max_total_cutbacks", ">= 0"),
    ("steps zero", sub("steps = 2", "steps = 0"), "newton.steps", ">= 1"),
    ("steps float", sub("steps = 2", "steps = 2.5"), "newton.steps", "an integer"),
    ("steps string", sub("steps = 2", 'steps = "two"'), "newton.steps", "an integer"),
    ("rtol negative", sub("steps = 2", "steps = 2\nrtol = -1e-9"), "newton.rtol", "> 0"),
    ("atol inf", sub("steps = 2", "steps = 2\natol = inf"), "newton.atol", "finite"),
    ("max_iter zero", sub("steps = 2", "steps = 2\nmax_iter = 0"), "newton.max_iter", ">= 1"),
    ("cutbacks negative", sub("steps = 2", "steps = 2\nmax_cutbacks = -1"),
     "newton.max_cutbacks", ">= 0"),
    ("line search bool", sub("steps = 2", "steps = 2\nline_search = true"),
     "newton.line_search", "an integer"),
    ("newton not a table", "newton = 3\n" + sub("[newton]\nsteps = 2", ""), "newton", "a table"),
    ("component letter", sub("components = [0]", 'components = ["x"]'),
     "dirichlet[0].components[0]", "component index"),
    ("component out of range", sub("components = [0]", "components = [2]"),
     "dirichlet[0].components[0]", "0..1"),
    ("nan load", sub("value = [3.0, 0.0]", "value = [nan, 0.0]"), "neumann[0].value[0]",
     "finite number"),
    ("inf load", sub("value = [3.0, 0.0]", "value = [3.0, -inf]"), "neumann[0].value[1]",
     "finite number"),
    ("string load", sub("value = [3.0, 0.0]", 'value = "3"'), "neumann[0].value", "number"),
    ("load too long", sub("value = [3.0, 0.0]", "value = [3.0, 0.0, 1.0]"), "neumann[0].value",
     "2 numbers"),
    ("curve component 7", GOOD + 'curve = { boundary = "right", component = 7 }\n',
     "output.curve.component", "0..1"),
    ("curve unknown boundary", GOOD + 'curve = { boundary = "rigth" }\n',
     "output.curve.boundary", "rigth"),
    ("scalars unknown", sub("png = false", 'png = true\nscalars = "no_such_field"'),
     "output.scalars", "von_mises"),
    ("intorder zero", sub("order = 1", "order = 1\nintorder = 0"), "mesh.intorder", "1..19"),
    ("order 3", sub("order = 1", "order = 3"), "mesh.order", "one of 1, 2"),
    ("unknown kind", sub('kind = "small_strain"', 'kind = "plane"'), "problem.kind", "one of"),
    ("vtu string", sub("png = false", 'png = false\nvtu = "yes"'), "output.vtu", "true or false"),
    ("warp string", sub("png = false", 'png = false\nwarp = "big"'), "output.warp", "number"),
    ("reactions string", sub('reactions = ["left"]', 'reactions = "left"'),
     "output.reactions", "list of strings"),
    ("unknown boundary", sub('boundary = "right"', 'boundary = "rigth"'), "neumann[0]",
     "unknown boundary 'rigth'"),
    ("unknown subdomain", sub("[materials.domain]", "[materials.domian]"), "materials",
     "unknown subdomain 'domian'"),
    ("plane bool", sub('plane = "stress"', "plane = true"), "materials.domain.plane",
     "got a boolean true"),
    ("huge modulus", sub("E = 100.0", "E = 1e400"), "materials.domain.E", "finite number"),
    ("solver options", sub("[newton]", "[solver]\noptions = 3\n\n[newton]"), "solver.options",
     "a table"),
    ("executor unknown", GOOD + '\n[parallel]\nexecutor = "gpu"\n', "parallel.executor",
     "one of"),
    ("workers negative", GOOD + "\n[parallel]\nworkers = -1\n", "parallel.workers", ">= 0"),
    ("rve fraction string", sub("fractions = [0.25, 0.75]", 'fractions = ["0.25", 0.75]', RVE),
     "materials.all.cell.fractions[0]", "number"),
    ("rve phase bool", sub("k = 9.0", "k = true", RVE), "materials.all.phases[1].k",
     "got a boolean"),
    ("rve rtol string", sub('type = "RVE"', 'type = "RVE"\nrtol = "1e-8"', RVE),
     "materials.all.rtol", "number"),
]


@pytest.fixture(autouse=True)
def _fe2_logging():
    """``fe2.cli.main`` points the fe2 logger at this test's stderr; undo that afterwards."""
    logger = logging.getLogger("fe2")
    saved = logger.handlers[:], logger.level
    yield
    logger.handlers[:], logger.level = saved[0], saved[1]


@pytest.mark.parametrize("label,text,field,word", BAD, ids=[b[0] for b in BAD])
def test_malformed_case_is_one_line_naming_file_and_field(tmp_path, capsys, label, text, field,
                                                          word):
    case = tmp_path / "case.toml"
    case.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    head = f"fe2: error: {case}: " + (f"{field}: " if field else "")
    assert lines[0].startswith(head), lines[0]
    assert word in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml"]  # nothing written


def test_newton_options_in_the_api_name_the_field():
    """The case check above agrees with NewtonOptions itself (the API also refuses)."""
    from fe2.macro import NewtonOptions

    for field, value in [("steps", 0), ("max_iter", 0), ("max_cutbacks", -1),
                         ("rtol", -1.0), ("line_search", -1)]:
        with pytest.raises(ValueError, match=field):
            NewtonOptions(**{field: value})


def _good(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(GOOD)
    return case


def test_out_is_an_existing_file(tmp_path, capsys):
    case = _good(tmp_path)
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    assert main(["run", str(case), "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not a folder" in err
    assert f.read_text() == "keep me"
    assert main(["run", str(case), "--out", str(f / "sub")]) == 2
    assert "is a file" in capsys.readouterr().err


@pytest.mark.parametrize("out", ["..", ".", "/"])
def test_out_dot_dot_and_friends_are_refused(tmp_path, capsys, monkeypatch, out):
    case = _good(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["run", str(case), "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"fe2: error: --out {out}:"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml", "work"]


def test_out_holding_the_case_file_is_refused(tmp_path, capsys):
    case = _good(tmp_path)
    assert main(["run", str(case), "--out", str(tmp_path), "--force"]) == 2
    assert "holds" in capsys.readouterr().err and case.is_file()


def test_a_folder_fe2_did_not_write_is_kept_unless_force(tmp_path, capsys):
    case = _good(tmp_path)
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "thesis.tex").write_text("\\documentclass{book}")
    assert main(["run", str(case), "--out", str(thesis)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not written by fe2" in err and "--force" in err
    assert (thesis / "thesis.tex").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml", "thesis"]
    # a folder fe2 wrote is replaced without --force
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out)]) == 0
    assert (out / ".fe2-run").is_file()
    assert main(["run", str(case), "--out", str(out)]) == 0
    # --force replaces the user's folder
    assert main(["run", str(case), "--out", str(thesis), "--force"]) == 0
    assert not (thesis / "thesis.tex").exists() and (thesis / "summary.json").is_file()


def test_demo_refuses_a_foreign_folder(tmp_path, capsys):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "thesis.tex").write_text("x")
    assert main(["demo", "--quick", "--out", str(thesis)]) == 2
    assert "--force" in capsys.readouterr().err and (thesis / "thesis.tex").is_file()


def test_output_write_failure_keeps_the_checkpoint(tmp_path, monkeypatch, capsys):
    """Writing step 2 fails: exit 1, one line, step 1's checkpoint survives and resumes."""
    from fe2.io import vtk

    case = _good(tmp_path)
    out = tmp_path / "out"
    real = vtk.PVDWriter.write
    calls = []

    def flaky(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, *a, **kw)

    monkeypatch.setattr(vtk.PVDWriter, "write", flaky)
    assert main(["run", str(case), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    ckpt = tmp_path / "out.failed" / "checkpoint.npz"
    assert "No space left" in err and str(ckpt) in err and "--resume" in err, err
    assert ckpt.is_file()
    monkeypatch.undo()
    assert main(["run", str(case), "--out", str(out), "--resume"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from"]["steps_before"] == 2
    assert summary["reactions"]["left"][-1] == pytest.approx([-3.0, 0.0], abs=1e-9)


PLATE = j2_plate(order=2) + """
[newton]
steps = 60

[output]
png = false
reactions = ["right"]
"""


def test_ctrl_c_prints_one_line_with_the_resume_command(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(PLATE)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "fe2.cli", "run", str(case), "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 300
        while not list(tmp_path.glob("out.partial-*/checkpoint.npz")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    ckpt = out.with_name("out.failed") / "checkpoint.npz"
    cmd = f"fe2 run {case} --out {out} --resume"
    assert last == f"fe2: interrupted; the converged steps are saved in {ckpt}; resume with: {cmd}"
    assert ckpt.is_file() and not out.exists()
    # the printed command finishes the run
    res = subprocess.run([sys.executable, "-m", "fe2.cli", *cmd.split()[1:]], capture_output=True,
                         text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from"]["steps_before"] >= 1
    assert summary["steps"][-1]["t"] == pytest.approx(1.0)
