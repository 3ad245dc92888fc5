"""Shock-tube case files with Lennard-Jones fluxes: the EOS and MD + tabulation through fe2 run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from fe2.atomistic.eos import LennardJonesEOS
from fe2.cli import main

CASE = """
[problem]
kind = "shock_tube"

[shock_tube]
left = {{ rho = 0.6, u = 0.0, p = {pl} }}
right = {{ rho = 0.3, u = 0.0, p = {pr} }}
n_cells = 24
t_end = 0.6
domain = [0.0, 20.0]
x0 = 10.0
max_dt = 0.01

{flux}

[output]
vtu = false
png = false
"""
EOS = '[flux]\ntype = "EOSFlux"\nmodel = "jzg"'
MD = """[flux]
type = "TabulatedFlux"
tol = 0.02
[flux.oracle]
type = "MolecularDynamicsFlux"
n_particles = 128
skin = 0.3
equilibration_steps = 400
production_steps = 1200"""


@pytest.fixture(autouse=True)
def _fe2_logging():
    yield
    logging.getLogger("fe2").handlers.clear()


def _run(tmp_path: Path, flux: str, name: str) -> dict:
    jzg = LennardJonesEOS("jzg")
    pl, pr = float(jzg.pressure(0.6, 3.0)), float(jzg.pressure(0.3, 2.0))
    case = tmp_path / f"{name}.toml"
    case.write_text(CASE.format(pl=repr(pl), pr=repr(pr), flux=flux))
    out = tmp_path / name
    assert main(["run", str(case), "--out", str(out)]) == 0
    return json.loads((out / "profiles.json").read_text())


def test_md_case_matches_the_eos_case(tmp_path):
    eos = _run(tmp_path, EOS, "eos")
    md = _run(tmp_path, MD, "md")
    rho_e, rho_m = np.array(eos["columns"]["rho"]), np.array(md["columns"]["rho"])
    assert rho_e[0] == pytest.approx(0.6) and rho_e[-1] == pytest.approx(0.3)
    assert eos["steps"] == md["steps"]
    assert np.abs(rho_m - rho_e).sum() / np.abs(rho_e - 0.3).sum() < 0.02
    # the pressure column comes from the fluid's own conversion (the published fit)
    p = np.array(eos["columns"]["p"])
    assert p[0] == pytest.approx(float(LennardJonesEOS("jzg").pressure(0.6, 3.0)), rel=1e-4)


def test_bad_md_flux_fields_are_named(tmp_path, capsys):
    case = tmp_path / "bad.toml"
    case.write_text(CASE.format(pl=1.0, pr=0.5, flux=MD.replace("n_particles = 128",
                                                               "n_particles = 8")))
    assert main(["run", str(case), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "n_particles" in err[0] and "8" in err[0]


def test_ctrl_c_in_a_shock_tube_says_there_is_no_checkpoint(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    case = tmp_path / "long.toml"
    case.write_text(CASE.format(pl=1.0, pr=0.5, flux=EOS).replace("n_cells = 24",
                                                                  "n_cells = 2000")
                    .replace("t_end = 0.6", "t_end = 500.0"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "fe2.cli", "run", str(case), "--out",
                             str(out)], stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("out.partial-*")):  # the run has started
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last == ("fe2: interrupted; shock-tube runs keep no checkpoint: run the case again "
                    "to restart it")
    assert not out.exists()
