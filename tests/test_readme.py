"""Every README example and every case file in examples/cases runs, with its default outputs.

The code blocks are taken from README.md itself, so an example that stops working (or a
new one nobody runs) fails here. Each run is checked against a value computed
independently of fe2's macro and micro solvers:

* the short J2 example: its first load step is elastic, uniaxial stress in plane
  strain, so the reaction is ``E / (1 - nu^2) * u`` on the unit edge;
* the RVE example: the effective conductivity lies between the 2D Hashin–Shtrikman
  bounds;
* the Cauchy–Born example: the zero-stress lattice constant from a direct lattice sum of
  the energy-shifted Lennard-Jones potential, and the Cauchy relation C12 = C44;
* the FE² example and the README case-file RVE (both elastic at the load used here):
  the macro reaction lies between those of single-scale runs with a Voigt upper bound and
  a Reuss lower bound of the phases (the energy ``R u / 2`` is monotone in the stiffness);
* ``examples/cases/plate_hole_j2.toml``: the final reaction lies between the
  plane-strain limit load ``0.75 * 2 sigma_y / sqrt(3)`` (a kinematic FE model is above
  it) and the limit load of a perfectly plastic material with the largest hardened
  yield stress reached (a statically admissible field for it).

The FE² blocks run at a reduced load (elastic, one step) to stay quick.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import meshio
import numpy as np
import pytest
from case_texts import pull_right
from scipy.optimize import brentq

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w*)\n(.*?)```", README, re.S)]
PYTHON = [b for lang, b in BLOCKS if lang == "python"]
TOML = [b for lang, b in BLOCKS if lang == "toml"]
CASES = sorted((ROOT / "examples" / "cases").glob("*.toml"))

# every python block of the README, by a line it contains; None: not self-contained
PY_MARKERS = {
    "J2Plasticity(E=200e3": "short",
    "k = RVE(cell, [LinearConductivity(1.0)": "rve",
    'CauchyBorn("fcc"': "cauchy_born",
    "with make_executor(\"process\", workers=2) as ex:": "fe2",
    "HMMSampler(a, eps=1 / 64": None,  # uses a `mesh` it does not define
}


def block(name: str) -> str:
    found = [b for b in PYTHON for m, n in PY_MARKERS.items() if n == name and m in b]
    assert len(found) == 1, f"README python block {name!r} not found (or found twice)"
    return found[0]


def run_block(code: str, tmp_path: Path, prefix: str = "", suffix: str = "") -> dict:
    """Run a README block as a script in the checkout (relative mesh paths), return its JSON."""
    script = tmp_path / "block.py"
    body = "\n".join("    " + line for line in (prefix + code + suffix).splitlines())
    script.write_text("import json\n\n\ndef main():\n" + body + "\n\n\nif __name__ == "
                      "'__main__':\n    main()\n")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_every_python_block_is_known():
    """A new README python block must be added to PY_MARKERS (and so get run here)."""
    for b in PYTHON:
        hits = [m for m in PY_MARKERS if m in b]
        assert len(hits) == 1, f"README python block not covered by tests/test_readme.py:\n{b}"
    assert len(TOML) == 1 and 'type = "RVE"' in TOML[0]


def test_short_example_first_step_is_uniaxial_plane_strain(tmp_path):
    out = run_block(block("short"), tmp_path, suffix=(
        '\nprint(json.dumps({"t": sol.load_factors.tolist(), '
        '"R": sol.reactions["right"][:, 0].tolist()}))'))
    E, nu, u, steps = 200e3, 0.3, 0.004, 8
    assert out["t"][-1] == pytest.approx(1.0)
    # step 1: sigma_xx = E / (1 - nu^2) eps_xx, von Mises 0.89 sigma_xx = 98 MPa < 250
    t1 = out["t"][0]
    assert t1 == pytest.approx(1 / steps)
    assert out["R"][0] == pytest.approx(E / (1 - nu**2) * u * t1, rel=1e-8)
    assert all(b > a for a, b in zip(out["R"], out["R"][1:], strict=False))


def test_rve_example_within_hashin_shtrikman(tmp_path):
    prefix = "import numpy as np\n"
    code = block("rve").replace(
        "r = rve.evaluate(eps, state=committed)",
        "eps = np.zeros((2, 2, 1)); eps[0, 0] = 1e-3\n"
        "committed = rve.initial_state((1,))\n"
        "r = rve.evaluate(eps, state=committed)")
    out = run_block(code, tmp_path, prefix=prefix, suffix=(
        '\nprint(json.dumps({"K": K.tolist(), "f": cell.volume_fractions().tolist(), '
        '"conv": bool(np.all(r.info["converged"]))}))'))
    f0, f1 = out["f"]
    k0, k1 = 1.0, 10.0
    lower = k0 + f1 / (1 / (k1 - k0) + f0 / (2 * k0))
    upper = k1 + f0 / (1 / (k0 - k1) + f1 / (2 * k1))
    eig = np.linalg.eigvalsh(np.array(out["K"]))
    assert lower * (1 - 1e-9) <= eig.min() and eig.max() <= upper * (1 + 1e-9), (eig, lower, upper)
    assert out["conv"]


def _lj_shifted(r, rc=2.5):
    return 4 * (r**-12 - r**-6) - 4 * (rc**-12 - rc**-6)


def test_cauchy_born_example_lattice_constant_and_cauchy_relation(tmp_path):
    code = block("cauchy_born").replace("r = cb.evaluate(F)",
                                        "F = np.eye(3)[:, :, None]\nr = cb.evaluate(F)")
    out = run_block(code, tmp_path, prefix="import numpy as np\n", suffix=(
        '\nC = cb.elastic_constants()\nprint(json.dumps({"a": float(cb.lattice_constant), '
        '"C": C.tolist(), "P": np.abs(r.flux).max().item()}))'))
    # zero stress: sum over FCC neighbours (within the cut-off) of r phi'(r) = 0
    n = np.arange(-4, 5)
    cube = np.array(np.meshgrid(n, n, n, indexing="ij")).reshape(3, -1).T
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    sites = (cube[:, None, :] + basis[None]).reshape(-1, 3)
    d = np.linalg.norm(sites, axis=1)
    d = d[d > 0]

    def virial(a, h=1e-7):
        r = a * d
        r = r[r < 2.5]
        dphi = (_lj_shifted(r + h) - _lj_shifted(r - h)) / (2 * h)
        return np.sum(r * dphi)

    a0 = brentq(virial, 1.45, 1.65, xtol=1e-12)
    assert out["a"] == pytest.approx(a0, rel=1e-6)
    assert out["P"] < 1e-8  # the undeformed crystal is stress-free
    C = np.array(out["C"])
    assert C[0, 1] == pytest.approx(C[3, 3], rel=1e-10)  # Cauchy relation of a pair potential


def _bounds(phases, fractions):
    """(lower, upper) plane-strain bounds as LinearElastic arguments (E, nu, plane)."""
    lam = np.array([E * nu / ((1 + nu) * (1 - 2 * nu)) for E, nu in phases])
    mu = np.array([E / (2 * (1 + nu)) for E, nu in phases])
    K = lam + 2 * mu / 3
    f = np.asarray(fractions)
    lv, mv = f @ lam, f @ mu  # Voigt (arithmetic mean of the plane-strain tensors)
    upper = (mv * (3 * lv + 2 * mv) / (lv + mv), lv / (2 * (lv + mv)), "strain")
    # Reuss of the 3D tensors; its in-plane compliance block inverted is the plane-stress
    # tensor, a lower bound of the 2D Reuss bound of the plane-strain phase tensors
    KR, mR = 1 / (f @ (1 / K)), 1 / (f @ (1 / mu))
    lower = (9 * KR * mR / (3 * KR + mR), (3 * KR - 2 * mR) / (2 * (3 * KR + mR)), "stress")
    return lower, upper


def _elastic_reaction(mesh_file, order, u, material):
    from fe2.io import read_mesh
    from fe2.macro import NewtonOptions, Problem
    from fe2.materials import LinearElastic

    prob = Problem(read_mesh(mesh_file), LinearElastic(*material), kind="small_strain",
                   order=order)
    prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
    prob.dirichlet("right", u, components=(0,))
    return prob.solve(NewtonOptions(steps=1, rtol=1e-12), reactions=("right",)
                      ).reactions["right"][-1, 0]


def test_fe2_example_between_voigt_and_reuss(tmp_path):
    code = block("fe2").replace("NewtonOptions(steps=6), reactions=(\"right\",)",
                                "NewtonOptions(steps=1), reactions=(\"right\",), t_end=0.02")
    assert "t_end=0.02" in code
    out = run_block(code, tmp_path, suffix=(
        '\nprint(json.dumps({"R": float(sol.reactions["right"][-1, 0]), '
        '"alpha": float(prob.regions[0].state.committed["alpha"].max()), '
        '"f": rve.cell.volume_fractions().tolist()}))'))
    assert out["alpha"] == 0.0  # elastic: the bounds below apply
    lower, upper = _bounds([(3.5e3, 0.35), (72e3, 0.22)], out["f"])
    mesh = ROOT / "meshes" / "demo" / "plate_with_hole_coarse.msh"
    lo = _elastic_reaction(mesh, 2, 0.015 * 0.02, lower)
    hi = _elastic_reaction(mesh, 2, 0.015 * 0.02, upper)
    assert lo * (1 - 1e-6) <= out["R"] <= hi * (1 + 1e-6), (lo, out["R"], hi)


def fe2(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "fe2.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_readme_case_file_rve_runs_with_default_outputs(tmp_path):
    """The README's [materials.all] RVE table in a whole case: all default outputs written,
    micro history as RVE-averaged cell data, the reaction between the bounds."""
    mesh = ROOT / "meshes" / "demo" / "plate_with_hole_coarse.msh"
    u = 2e-4
    case = tmp_path / "rve.toml"
    case.write_text(f'[mesh]\nfile = "{mesh}"\n\n[problem]\nkind = "small_strain"\n\n'
                    + TOML[0] + f"""
{pull_right(u)}

[output]
reactions = ["right"]
""")
    out = tmp_path / "out"
    res = fe2("run", str(case), "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    for f in ("checkpoint.npz", "solution.pvd", "solution.png", "summary.json"):
        assert (out / f).is_file(), f
    vtu = meshio.read(out / "solution_000000.vtu")
    nel = len(vtu.cells[0].data)
    assert vtu.cell_data["state_alpha"][0].shape == (nel,)
    assert vtu.cell_data["state_eps_p"][0].shape == (nel, 9)
    assert "state_fluctuation" not in vtu.cell_data
    assert np.all(vtu.cell_data["state_alpha"][0] == 0.0)  # elastic at this load
    from fe2.homogenization import cells

    f = cells.circular_inclusion(0.3, mesh_size=0.08).volume_fractions()
    lower, upper = _bounds([(3.5e3, 0.35), (70e3, 0.22)], f)
    lo, hi = (_elastic_reaction(mesh, 1, u, b) for b in (lower, upper))
    R = summary["reactions"]["right"][-1][0]
    assert lo * (1 - 1e-6) <= R <= hi * (1 + 1e-6), (lo, R, hi)


def _check_plate_hole_j2(summary):
    sy, H = 250.0, 2000.0
    R = summary["reactions"]["right"][-1][0]
    limit = 0.75 * 2 * sy / math.sqrt(3)
    hardened = 0.75 * 2 * (sy + H * summary["max_state_alpha"]) / math.sqrt(3)
    assert limit <= R <= hardened, (limit, R, hardened)


def _check_j2_cyclic_point(summary):
    """Uniaxial stress, linear kinematic hardening: the closed-form bilinear loop (Bauschinger
    reverse yield at sigma_max - 2 sigma_y); the final point lies on the upper branch."""
    E, sy, H, emax = 200e3, 250.0, 5000.0, 0.005
    Et = E * H / (E + H)
    smax = sy + Et * (emax - sy / E)  # first loading, and every later turning point
    eps = np.array(summary["path"]["input"])[:, 0, 0]
    sig = np.array(summary["path"]["flux"])[:, 0, 0]
    t = np.array(summary["path"]["t"])
    assert t[-1] == pytest.approx(3.0)
    assert sig.max() == pytest.approx(smax, rel=1e-9)
    assert sig.min() == pytest.approx(-smax, rel=1e-9)
    seg = (t > 1.0 + 1e-9) & (t <= 2.0 + 1e-9)  # unloading from +emax
    e_rev = emax - 2 * sy / E
    ref = np.where(eps[seg] >= e_rev, smax - E * (emax - eps[seg]),
                   smax - 2 * sy - Et * (e_rev - eps[seg]))
    np.testing.assert_allclose(sig[seg], ref, atol=1e-8 * sy)
    lateral = np.array(summary["path"]["flux"])[:, 1:, 1:]
    assert np.abs(lateral).max() < 1e-8 * sy


def _check_sod(summary):
    """Sod: density L1 error against the exact Riemann solution below five cell widths times
    the contact and shock jumps (Toro, Table 4.2 densities); momentum in through the open
    ends (p_L - p_R) t, mass and energy unchanged."""
    dx, t = summary["dx"], summary["t"]
    jumps = (0.42632 - 0.26557) + (0.26557 - 0.125)
    assert summary["reference"]["l1"]["rho"] < 5 * jumps * dx
    cons = summary["conservation"]
    assert cons["momentum"]["change"] == pytest.approx(0.9 * t, rel=1e-12)
    assert abs(cons["mass"]["change"]) < 1e-13 and abs(cons["energy"]["change"]) < 1e-13


def _check_cavity(summary, out):
    """Lid-driven cavity at Re = 100 on 32 x 32: both centreline profiles within 0.02 of the
    tables of Ghia, Ghia & Shin (1982) (the 32 x 32 MAC grid is within 0.009)."""
    from fe2.fluids.reference import GHIA_U, GHIA_V, GHIA_X, GHIA_Y

    assert summary["converged"]
    for name, at, ref in (("u", GHIA_Y, GHIA_U[100]), ("v", GHIA_X, GHIA_V[100])):
        s, f = np.loadtxt(out / f"flow_centerline_{name}.csv", delimiter=",", skiprows=1).T
        assert np.abs(np.interp(at, s, f) - ref).max() < 0.02, name


CASE_CHECKS = {"plate_hole_j2.toml": _check_plate_hole_j2,
               "j2_cyclic_point.toml": _check_j2_cyclic_point,
               "sod.toml": _check_sod,
               "cavity.toml": _check_cavity}


def test_every_case_file_has_a_check():
    assert CASES and {c.name for c in CASES} == set(CASE_CHECKS)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_example_case_runs_with_default_outputs(tmp_path, case):
    out = tmp_path / "out"
    res = fe2("run", str(case), "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    for f in summary["outputs"]:
        assert (out / f).is_file(), f
    if summary["kind"] == "material_point":
        assert {"path.csv", "path.npz", "stress_strain.png"} <= set(summary["outputs"])
    elif summary["kind"] == "shock_tube":
        assert {"profiles.csv", "profiles.json", "gas.pvd", "profiles.png"} <= set(
            summary["outputs"])
    elif summary["kind"] == "fluid":
        assert {"flow_centerline_u.csv", "flow_centerline_v.csv", "flow_centerlines.png",
                "flow_streamlines.png"} <= set(summary["outputs"])
        CASE_CHECKS[case.name](summary, out)
        return
    else:
        assert summary["steps"][-1]["t"] == pytest.approx(1.0)
        assert {"solution.pvd", "checkpoint.npz"} <= set(summary["outputs"])
    CASE_CHECKS[case.name](summary)
