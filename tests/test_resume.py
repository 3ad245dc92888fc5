"""Checkpoints and resumed runs: a killed run, resumed, ends where an uninterrupted one ends.

J2 plasticity makes the history matter: a resume that lost or mixed up the
plastic state, the converged tangent that seeds the next predictor, or the
load-step size (cut-backs and growth) would end elsewhere. The reference is
always the same computation run without interruption.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skfem
from case_texts import j2_plate

from fe2.case import STOP_EXIT_CODE, CaseError, load_case, run_case
from fe2.cli import main
from fe2.homogenization import RVE, cells
from fe2.io.vtk import read_pvd
from fe2.macro import CheckpointError, NewtonOptions, Problem
from fe2.materials import J2Plasticity, LinearElastic

CASE = j2_plate(order=1) + """
[newton]
steps = 8
rtol = 1e-10
max_iter = 5

[output]
png = false
reactions = ["right"]
curve = { boundary = "right", component = 0 }
"""


def square(n=4):
    return skfem.MeshTri.init_tensor(*[np.linspace(0, 1, n + 1)] * 2).with_defaults()


def plate(oracle, mesh=None, **kw):
    prob = Problem(mesh or square(), oracle, **kw)
    prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
    prob.dirichlet("right", 0.012, components=(0,))
    return prob


@pytest.fixture(autouse=True)
def _fe2_logging():
    """``fe2.cli.main`` points the fe2 logger at this test's stderr; undo that afterwards."""
    logger = logging.getLogger("fe2")
    saved = logger.handlers[:], logger.level
    yield
    logger.handlers[:], logger.level = saved[0], saved[1]


class Killed(Exception):
    """Stands for the process dying right after a checkpoint."""


def assert_same_state(a: Problem, b: Problem, tol=1e-12):
    np.testing.assert_allclose(b.u, a.u, rtol=0, atol=tol * np.abs(a.u).max())
    for ra, rb in zip(a.regions, b.regions, strict=True):
        for k, v in (ra.state.committed or {}).items():
            np.testing.assert_allclose(rb.state.committed[k], v, rtol=0,
                                       atol=tol * max(np.abs(v).max(), 1e-300), err_msg=k)


@pytest.mark.parametrize("micro", ["material", "rve"])
def test_problem_checkpoint_resume_equals_uninterrupted(tmp_path, micro):
    """Solve, 'die' after a step, load the checkpoint into a new problem, continue: the same
    load factors, displacements and quadrature (or micro) histories as one run."""
    if micro == "material":
        def make():
            return plate(J2Plasticity(100.0, 0.3, 0.2, H_iso=5.0, H_kin=3.0, dim=2))
        opts = NewtonOptions(steps=2, max_iter=3, rtol=1e-11)  # cut-backs, then growth
        kill_after = 2
    else:
        cell = cells.circular_inclusion(0.3, mesh_size=0.2)

        def make():
            mats = [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2),
                    LinearElastic(10.0, 0.2, plane="strain")]
            return plate(RVE(cell, mats), mesh=square(2), intorder=1)
        opts = NewtonOptions(steps=2, rtol=1e-11)
        kill_after = 1

    ref = make()
    sref = ref.solve(opts, reactions=("right",))
    assert ref.regions[0].state.committed["alpha"].max() > 0
    if micro == "material":
        assert any(s.cutbacks for s in sref.steps)  # the step size changes along the way

    ckpt = tmp_path / "ck.npz"
    first = make()

    def save_then_die(p, rec):
        p.save_checkpoint(ckpt, meta={"step": len(done) + 1})
        done.append(rec.t)
        if len(done) == kill_after:
            raise Killed

    done: list[float] = []
    with pytest.raises(Killed):
        first.solve(opts, reactions=("right",), callback=save_then_die)

    resumed = make()
    meta = resumed.load_checkpoint(ckpt)
    assert meta == {"step": kill_after} and resumed.t == done[-1]
    sres = resumed.solve(opts, reactions=("right",))
    assert done + [s.t for s in sres.steps] == [s.t for s in sref.steps]
    assert_same_state(ref, resumed)
    np.testing.assert_allclose(sres.reactions["right"], sref.reactions["right"][kill_after:],
                               rtol=0,
                               atol=1e-12 * np.abs(sref.reactions["right"]).max())
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_checkpoint_write_is_atomic_and_errors_name_the_file(tmp_path, monkeypatch):
    prob = plate(J2Plasticity(100.0, 0.3, 0.2, H_iso=5.0, dim=2))
    prob.solve(NewtonOptions(steps=2), t_end=0.5)
    ckpt = prob.save_checkpoint(tmp_path / "ck.npz")
    good = ckpt.read_bytes()

    def broken(*args, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        prob.save_checkpoint(ckpt)
    monkeypatch.undo()
    assert ckpt.read_bytes() == good and sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]

    other = plate(J2Plasticity(100.0, 0.3, 0.2, H_iso=5.0, dim=2), mesh=square(3))
    with pytest.raises(CheckpointError, match=r"ck\.npz does not match this problem.*elements"):
        other.load_checkpoint(ckpt)
    elastic = plate(LinearElastic(100.0, 0.3, plane="strain"))
    with pytest.raises(CheckpointError, match=r"ck\.npz does not match.*state"):
        elastic.load_checkpoint(ckpt)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match=r"junk\.npz is not a readable \.npz"):
        prob.load_checkpoint(junk)
    with pytest.raises(CheckpointError, match=r"missing\.npz not found"):
        prob.load_checkpoint(tmp_path / "missing.npz")


def _fe2_killed_after(case: Path, out: Path, k: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "FE2_STOP_AFTER_STEP": str(k)}
    return subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(case), "--out", str(out)],
                          capture_output=True, text=True, env=env)


def test_killed_case_resumes_to_the_uninterrupted_result(tmp_path, capsys):
    case = tmp_path / "case.toml"
    case.write_text(CASE)
    ref = run_case(load_case(case), tmp_path / "ref")

    out = tmp_path / "run"
    res = _fe2_killed_after(case, out, 4)  # after a cut-back: the step size is 1/16 now
    assert res.returncode == STOP_EXIT_CODE, res.stderr
    assert not out.exists()
    partial = list(tmp_path.glob("run.partial-*"))
    assert len(partial) == 1 and (partial[0] / "checkpoint.npz").is_file()

    assert main(["run", str(case), "--out", str(out), "--resume"]) == 0
    assert "checkpoint.npz" in capsys.readouterr().out
    assert not list(tmp_path.glob("run.partial-*"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from"]["steps_before"] == 4
    assert [s["t"] for s in summary["steps"]] == [s["t"] for s in ref["steps"]]
    assert any(s["cutbacks"] for s in ref["steps"])
    curve = np.array(ref["curve"])
    np.testing.assert_allclose(summary["curve"], curve, rtol=0, atol=1e-12 * np.abs(curve).max())
    react = np.array(ref["reactions"]["right"])
    np.testing.assert_allclose(summary["reactions"]["right"], react, rtol=0,
                               atol=1e-12 * np.abs(react).max())
    a, b = np.load(tmp_path / "ref" / "checkpoint.npz"), np.load(out / "checkpoint.npz")
    assert a["u"].shape == b["u"].shape and float(a["t"]) == float(b["t"]) == 1.0
    np.testing.assert_allclose(b["u"], a["u"], rtol=0, atol=1e-12 * np.abs(a["u"]).max())
    fields = [k for k in a.files if k.startswith("state")]
    assert {"state0/eps_p", "state0/alpha"} <= set(fields)
    for k in fields:
        np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-12 * max(np.abs(a[k]).max(), 1))
    # the ParaView series holds every step once, in order
    times = [t for t, _ in read_pvd(out / "solution.pvd")]
    assert times == [s["t"] for s in ref["steps"]]


def test_resume_refuses_a_checkpoint_of_another_case(tmp_path, capsys):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace("steps = 8", "steps = 2"))
    out = tmp_path / "out"
    first = run_case(load_case(case), out)  # a finished run keeps its last checkpoint
    ckpt = out / "checkpoint.npz"
    assert ckpt.is_file()

    changed = tmp_path / "changed.toml"
    changed.write_text(CASE.replace("sigma_y = 250.0", "sigma_y = 300.0"))
    with pytest.raises(CaseError, match=r"checkpoint .*checkpoint\.npz.*\[materials\] changed"):
        run_case(load_case(changed), out, resume=True)
    other_mesh = tmp_path / "mesh.toml"  # quadratic elements: other dofs
    other_mesh.write_text(CASE.replace("order = 1", "order = 2"))
    assert main(["run", str(other_mesh), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.npz does not match this problem" in err and str(out) in err
    assert err.count("\n") == 1  # one clear line, no traceback
    assert ckpt.is_file()  # nothing was touched

    # a finished run resumed: nothing left to step, same result
    again = run_case(load_case(case), out, resume=True)
    assert again["resumed_from"]["t"] == 1.0
    assert [s["t"] for s in again["steps"]] == [s["t"] for s in first["steps"]]


def test_resume_with_nothing_to_resume_runs_afresh(tmp_path, caplog):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace("steps = 8", "steps = 2"))
    with caplog.at_level("WARNING", logger="fe2.case"):
        summary = run_case(load_case(case), tmp_path / "new", resume=True)
    assert "no checkpoint" in caplog.text and "fresh run" in caplog.text
    assert "resumed_from" not in summary and summary["steps"][-1]["t"] == 1.0
