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
