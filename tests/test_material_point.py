"""Material-point driver (fe2.macro.material_point) and ``kind = "material_point"`` cases,
against closed forms: Hooke's law under uniaxial stress (3D and plane strain), stress control,
J2 with linear isotropic hardening (bilinear curve), and the Bauschinger reverse yield of
kinematic hardening at ``sigma_max - 2 sigma_y``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest

from fe2.case import Case, CaseError, run_case
from fe2.cli import main
from fe2.homogenization import RVE, cells
from fe2.macro.material_point import LoadPath, MaterialPointError, drive
from fe2.materials import J2Plasticity, LinearConductivity, LinearElastic

E, NU, SY = 200e3, 0.3, 250.0


@pytest.fixture(autouse=True)
def _fe2_logging():
    logger = logging.getLogger("fe2")
    saved = logger.handlers[:], logger.level
    yield
    logger.handlers[:], logger.level = saved[0], saved[1]


def test_linear_elastic_uniaxial_stress_3d():
    res = drive(LinearElastic(E, NU), LoadPath.uniaxial_stress("strain", 3, 0.002, steps=3))
    eps = res.input[:, 0, 0]
    np.testing.assert_allclose(eps, [0, 2e-3 / 3, 4e-3 / 3, 2e-3], rtol=1e-12)
    np.testing.assert_allclose(res.flux[:, 0, 0], E * eps, rtol=1e-10)
    for i in (1, 2):
        np.testing.assert_allclose(res.input[:, i, i], -NU * eps, rtol=1e-9, atol=1e-18)
    rest = res.flux.copy()
    rest[:, 0, 0] = 0.0
    assert np.abs(rest).max() < 1e-9 * E * 2e-3


def test_linear_elastic_uniaxial_stress_plane_strain():
    """sigma_22 = sigma_12 = 0, eps_33 = 0: sigma_11 = E/(1-nu^2) eps, eps_22 = -nu/(1-nu) eps."""
    res = drive(LinearElastic(E, NU, plane="strain"),
                LoadPath.uniaxial_stress("strain", 2, 1e-3, steps=1))
    assert res.flux[-1, 0, 0] == pytest.approx(E / (1 - NU**2) * 1e-3, rel=1e-10)
    assert res.input[-1, 1, 1] == pytest.approx(-NU / (1 - NU) * 1e-3, rel=1e-9)
    assert abs(res.input[-1, 0, 1]) < 1e-15


def test_stress_control_gives_the_compliance():
    """All stresses prescribed (sigma_11 = s, sigma_12 = tau): eps = S : sigma."""
    s, tau = 100.0, 40.0
    path = LoadPath.from_components("strain", 3, stress={"11": s, "12": tau}, steps=2)
    res = drive(LinearElastic(E, NU), path)
    G = E / (2 * (1 + NU))
    np.testing.assert_allclose(res.input[-1, 0, 0], s / E, rtol=1e-10)
    np.testing.assert_allclose(res.input[-1, 1, 1], -NU * s / E, rtol=1e-10)
    np.testing.assert_allclose(res.input[-1, 0, 1], tau / (2 * G), rtol=1e-10)
    np.testing.assert_allclose(res.input[-1, 1, 0], tau / (2 * G), rtol=1e-10)


@pytest.mark.parametrize("H_iso,H_kin", [(2000.0, 0.0), (0.0, 2000.0), (1500.0, 500.0)])
def test_j2_uniaxial_stress_bilinear(H_iso, H_kin):
    """Monotonic uniaxial stress: sigma = sigma_y + E H/(E+H) (eps - sigma_y/E), H = H_iso +
    H_kin (fe2's moduli are the uniaxial plastic moduli, see J2Plasticity)."""
    H = H_iso + H_kin
    law = J2Plasticity(E, NU, SY, H_iso=H_iso, H_kin=H_kin)
    res = drive(law, LoadPath.uniaxial_stress("strain", 3, 0.01, steps=25))
    eps, sig = res.input[:, 0, 0], res.flux[:, 0, 0]
    ref = np.where(E * eps <= SY, E * eps, SY + E * H / (E + H) * (eps - SY / E))
    np.testing.assert_allclose(sig, ref, rtol=1e-9, atol=1e-9 * SY)
    assert np.abs(res.flux[:, 1, 1]).max() < 1e-8 * SY
    # plastic incompressibility: lateral strain -> -1/2 of the plastic part
    ep = eps[-1] - sig[-1] / E
    assert res.input[-1, 1, 1] == pytest.approx(-NU * sig[-1] / E - 0.5 * ep, rel=1e-8)


def test_j2_cyclic_kinematic_bauschinger():
    """Load to eps_max, reverse to -eps_max: elastic unloading down to sigma_max - 2 sigma_y,
    then the reverse plastic branch with slope E H/(E+H) (linear kinematic hardening)."""
    H, emax = 5000.0, 0.005
    law = J2Plasticity(E, NU, SY, H_kin=H)
    res = drive(law, LoadPath.uniaxial_stress("strain", 3, [emax, -emax], steps=40))
    Et = E * H / (E + H)
    smax = SY + Et * (emax - SY / E)
    t, eps, sig = res.t, res.input[:, 0, 0], res.flux[:, 0, 0]
    top = int(np.argmin(np.abs(t - 1.0)))
    assert t[top] == pytest.approx(1.0, abs=1e-12)  # the driver lands on the load points
    assert sig[top] == pytest.approx(smax, rel=1e-9)
    back = np.arange(len(t)) >= top
    e_rev = emax - 2 * SY / E  # strain of the reverse yield
    ref = np.where(eps[back] >= e_rev, smax - E * (emax - eps[back]),
                   smax - 2 * SY - Et * (e_rev - eps[back]))
    np.testing.assert_allclose(sig[back], ref, rtol=0, atol=1e-8 * SY)
    elastic = back & (eps > e_rev + 1e-9)
    assert sig[elastic].min() > smax - 2 * SY - 1e-6  # no reverse yield before
    assert sig[-1] < smax - 2 * SY - 30.0  # reverse plastic flow happened


def test_rve_of_one_material_is_that_material():
    """An RVE whose two phases are the same elastic law answers like the law (plane strain)."""
    law = LinearElastic(E, NU, plane="strain")
    rve = RVE(cells.laminate([0.5, 0.5]), [law, law])
    res = drive(rve, LoadPath.uniaxial_stress("strain", 2, 1e-3, steps=1))
    assert res.flux[-1, 0, 0] == pytest.approx(E / (1 - NU**2) * 1e-3, rel=1e-8)
    assert res.input[-1, 1, 1] == pytest.approx(-NU / (1 - NU) * 1e-3, rel=1e-7)


def test_laminate_conductivity_under_mixed_gradient_flux_control():
    """Layers normal to x (k = 1, 9, fractions 1/4, 3/4): the flux q_x = 1 is prescribed and
    g_y = 0.5: g_x = q_x / k_harmonic = 1/3, q_y = k_arithmetic g_y = 7 * 0.5."""
    rve = RVE(cells.laminate([0.25, 0.75], normal=0),
              [LinearConductivity(1.0), LinearConductivity(9.0)])
    path = LoadPath.from_components("gradient", 2, strain={"2": 0.5}, stress={"1": 1.0},
                                    steps=2)
    res = drive(rve, path)
    assert res.input[-1, 0] == pytest.approx(1 / 3, rel=1e-8)
    assert res.flux[-1, 1] == pytest.approx(3.5, rel=1e-8)


def test_bad_paths_are_refused():
    with pytest.raises(ValueError, match="prescribed twice"):
        LoadPath.from_components("strain", 3, strain={"11": 0.1}, stress={"11": 1.0})
    with pytest.raises(ValueError, match="same number of load points"):
        LoadPath.from_components("strain", 3, strain={"11": [0.1, 0.2]}, stress={"22": [1.0]})
    with pytest.raises(ValueError, match="out of range"):
        LoadPath.from_components("strain", 2, strain={"13": 0.1})
    with pytest.raises(ValueError, match="measure"):
        drive(LinearConductivity(1.0), LoadPath.uniaxial_stress("strain", 2, 0.1))


def test_unreachable_stress_is_a_clear_failure():
    """Perfect plasticity cannot carry more than sigma_y: stress control beyond it fails."""
    law = J2Plasticity(E, NU, SY)
    path = LoadPath.from_components("strain", 3, stress={"11": 2 * SY}, steps=2)
    with pytest.raises(MaterialPointError, match="cut-backs"):
        drive(law, path, max_cutbacks=3, max_iter=10)


CASE = """
[problem]
kind = "material_point"

[materials.steel]
type = "J2Plasticity"
E = 200000.0
nu = 0.3
sigma_y = 250.0
H_kin = 5000.0

[point]
strain = { 11 = [0.005, -0.005] }
steps = 20
"""


def test_material_point_case_file(tmp_path):
    case = tmp_path / "point.toml"
    case.write_text(CASE)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(case), "--out", str(out)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    for f in ("path.csv", "path.npz", "stress_strain.png"):
        assert f in summary["outputs"] and (out / f).is_file()
    assert (out / "stress_strain.png").read_bytes()[:4] == b"\x89PNG"
    Et = E * 5000.0 / (E + 5000.0)
    smax = SY + Et * (0.005 - SY / E)
    e_rev = 0.005 - 2 * SY / E
    ref_end = smax - 2 * SY - Et * (e_rev + 0.005)
    assert summary["final"]["stress"][0][0] == pytest.approx(ref_end, rel=1e-9)
    data = np.load(out / "path.npz")
    csv = np.loadtxt(out / "path.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(csv[:, 0], data["t"])
    np.testing.assert_allclose(csv[:, 1], data["input"][:, 0, 0])
    assert data["t"][-1] == 2.0


def test_material_point_case_python_api(tmp_path):
    case = Case.from_dict({
        "problem": {"kind": "material_point"},
        "materials": {"m": {"type": "LinearElastic", "E": E, "nu": NU}},
        "point": {"dim": 2, "strain": {"11": 1e-3}, "steps": 1},
        "output": {"png": False},
    })
    summary = run_case(case, tmp_path / "out")
    assert summary["final"]["stress"][0][0] == pytest.approx(E / (1 - NU**2) * 1e-3, rel=1e-10)
    assert "stress_strain.png" not in summary["outputs"]


@pytest.mark.parametrize("change,field,word", [
    (("[point]", "[point]\nsteps = 0\n[pointx]"), "pointx", "unknown section"),
    (("steps = 20", "steps = 0"), "point.steps", ">= 1"),
    (("11 = [", "14 = ["), "point.strain.14", "not a component"),
    (("strain = { 11 = [0.005, -0.005] }", "strain = { 11 = 0.1 }\nstress = { 11 = 1.0 }"),
     "point", "prescribed twice"),
    (("strain = { 11 = [0.005, -0.005] }", "strain = { 11 = [0.1, 0.2] }\nstress = { 22 = [1.0] }"),
     "point", "same number of load points"),
    (("[point]", "[materials.other]\ntype = \"LinearElastic\"\nE = 1.0\nnu = 0.2\n\n[point]"),
     "materials", "exactly one material"),
    (("[point]", "[[dirichlet]]\nboundary = \"left\"\n\n[point]"), "dirichlet", "not used"),
])
def test_bad_material_point_cases(tmp_path, capsys, change, field, word):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace(*change))
    assert main(["run", str(case), "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fe2: error: {case}: {field}: "), lines
    assert word in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml"]


def test_point_section_only_for_material_point():
    with pytest.raises(CaseError, match="point: only for kind"):
        Case.from_dict({"problem": {"kind": "scalar"}, "point": {},
                        "materials": {"all": {"type": "LinearConductivity", "k": 1.0}}})


@pytest.mark.parametrize("module", ["fe2.macro.material_point", "fe2.case", "fe2.case.models"])
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)
    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0
