"""fe2.io.Progress: plain lines off a terminal, a tqdm bar on one; solve results unchanged."""

import doctest
import io
import logging
import re

import numpy as np
import pytest
import skfem

import fe2.io.progress
from fe2.io import Progress
from fe2.macro import NewtonOptions, Problem
from fe2.materials import NeoHookean


def test_doctest():
    assert doctest.testmod(fe2.io.progress).failed == 0


def test_plain_lines_with_counts_and_time_left():
    out = io.StringIO()
    with Progress(total=3, desc="verify", unit="study", stream=out) as bar:
        assert not bar.terminal
        for k in range(3):
            bar.status(newton=k)  # live fields: silent off a terminal
            bar.advance(1, f"study {k}")
        bar.write("done")
    lines = out.getvalue().splitlines()
    assert lines == ["verify: [1/3] study 0", "verify: [2/3] study 1", "verify: [3/3] study 2",
                     "done"]
    out = io.StringIO()
    bar = Progress(total=1.0, desc="load", stream=out)
    bar.advance(0.25, "step 1")
    line = out.getvalue().strip()
    assert line.startswith("load: 25% step 1, elapsed ") and line.endswith(" left")


def test_iterate_advances_after_each_item_also_on_continue():
    out = io.StringIO()
    seen = []
    with Progress(total=3, desc="bench", stream=out) as bar:
        for case in bar.iterate(["a", "b", "c"], label=lambda c: f"case {c}"):
            if case == "b":
                continue
            seen.append(case)
    assert seen == ["a", "c"]
    assert out.getvalue().splitlines() == ["bench: [1/3] case a", "bench: [2/3] case b",
                                           "bench: [3/3] case c"]


def test_disabled_is_silent(capsys, caplog):
    with caplog.at_level(logging.INFO, logger="fe2"):
        with Progress(total=2, enabled=False) as bar:
            bar.advance(1, "x")
            bar.write("y")
    assert capsys.readouterr().err == "" and caplog.records == []


def test_terminal_bar_shows_fields():
    out = io.StringIO()
    with Progress(total=4, desc="bench", unit="case", stream=out, terminal=True) as bar:
        bar.status(newton=2)
        bar.advance(1)
        logging.getLogger("fe2.test").warning("a log line")  # must not break the bar
    text = out.getvalue()
    assert "bench" in text and "1/4" in text and "newton 2" in text


def test_bad_total():
    with pytest.raises(ValueError, match="total must be >= 0"):
        Progress(total=-1)


def _problem():
    """A neo-Hookean square stretched by 30 %: nonlinear, a few Newton iterations per step."""
    mesh = skfem.MeshQuad.init_tensor(*[np.linspace(0, 1, 4)] * 2).with_defaults()
    p = Problem(mesh, NeoHookean(E=1.0, nu=0.3, dim=2), kind="finite_strain")
    p.dirichlet("left", 0.0).dirichlet("right", 0.3, (0,))
    return p


def test_solve_with_progress_logs_steps_and_changes_nothing(caplog):
    opts = NewtonOptions(steps=3)
    ref = _problem().solve(opts)
    with caplog.at_level(logging.INFO, logger="fe2.progress"):
        sol = _problem().solve(opts, progress=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "fe2.progress"]
    assert [re.match(r"mesh: (\d+)% step (\d+): t=\S+ converged", ln).groups()
            for ln in lines] == [("33", "1"), ("67", "2"), ("100", "3")]
    assert all("newton " in ln and "micro/s " in ln for ln in lines)
    np.testing.assert_array_equal(sol.u, ref.u)
    assert [s.residuals for s in sol.steps] == [s.residuals for s in ref.steps]


def test_shared_progress_over_several_solves():
    out = io.StringIO()
    p = _problem()
    with Progress(total=1.0, desc="run", stream=out) as bar:
        for t in (0.5, 1.0):
            p.solve(NewtonOptions(), t_end=t, progress=bar)
        assert bar.position == pytest.approx(1.0)
    assert [ln.split(",")[0] for ln in out.getvalue().splitlines()] == [
        "run: 50% step 1: t=0.5 converged", "run: 100% step 2: t=1 converged"]
    with pytest.raises(ValueError, match="progress must be a bool"):
        p.solve(progress="yes")
