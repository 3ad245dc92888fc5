"""An RVE as the material of a case file: `fe2 run` with FE² from TOML."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from case_texts import LAMINATE_RVE, pull_right

from fe2.case import CaseError, build_problem, load_case

MESHES = Path(__file__).resolve().parents[1] / "meshes"

CASE = LAMINATE_RVE


def test_laminate_rve_case_gives_the_harmonic_mean_flux(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(CASE)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(case), "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    # layers normal to x in series: k_eff = 1 / (0.25 / 1 + 0.75 / 9) = 3; unit gradient,
    # unit height: the flux through the right edge is -k_eff (heat leaves the body there)
    flux = np.ravel(summary["reactions"]["right"])[-1]
    assert abs(flux) == pytest.approx(3.0, rel=1e-10)


@pytest.mark.parametrize(
    "change, message",
    [
        (("normal = 0 }", "normal = 0, bogus = 1 }"),
         "materials.all.cell.bogus: unknown parameter of cell type 'laminate'"),
        (('type = "laminate"', 'type = "honeycomb"'),
         "materials.all.cell.type: unknown cell type 'honeycomb'"),
        (("k = 9.0", "k = -9.0"), "materials.all.phases[1]"),
        (('bc = "periodic"', 'bc = "free"'), "bc"),
    ],
)
def test_bad_rve_tables_name_the_field(tmp_path, change, message):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace(*change))
    with pytest.raises(CaseError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_problem(load_case(case))


J2 = {"E": 100.0, "nu": 0.3, "sigma_y": 0.2, "H_iso": 5.0}
HOMOGENEOUS = f"""
[mesh]
file = "{MESHES / 'unit_square_quad.msh'}"

[problem]
kind = "small_strain"

MATERIAL

{pull_right('0.01')}

[newton]
steps = 2
rtol = 1e-11

[output]
png = true
scalars = "state_alpha"
"""


def test_rve_history_is_written_as_rve_averages(tmp_path):
    """An RVE of two identical J2 phases is the J2 material itself: its RVE-averaged history
    in the VTU equals the pointwise history of a single-scale run with that material."""
    import meshio

    law = "{ type = \"J2Plasticity\", " + ", ".join(f"{k} = {v}" for k, v in J2.items()) + " }"
    direct = "[materials.all]\ntype = \"J2Plasticity\"\n" + "\n".join(
        f"{k} = {v}" for k, v in J2.items())
    rve = ("[materials.all]\ntype = \"RVE\"\n"
           "cell = { type = \"laminate\", fractions = [0.25, 0.75], normal = 0 }\n"
           f"phases = [{law}, {law}]\n")
    fields = {}
    for name, mat in (("direct", direct), ("rve", rve)):
        case = tmp_path / f"{name}.toml"
        case.write_text(HOMOGENEOUS.replace("MATERIAL", mat))
        out = tmp_path / name
        res = subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(case), "--out",
                              str(out)], capture_output=True, text=True, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert (out / "solution.png").is_file()
        vtu = meshio.read(out / "solution_000001.vtu")
        fields[name] = {k: v[0] for k, v in vtu.cell_data.items()}
    alpha = fields["direct"]["state_alpha"]
    assert alpha.max() > 1e-3  # plastic
    for key in ("state_alpha", "state_eps_p", "state_beta", "stress"):
        ref = fields["direct"][key]
        np.testing.assert_allclose(fields["rve"][key], ref, rtol=0, atol=1e-7 * np.abs(ref).max(),
                                   err_msg=key)


MIXED = CASE.replace('bc = "periodic"', 'bc = "periodic"\nmixed = [false, true]\n'
                     'mixed_flux = [0.0, 2.0]') + """
[[neumann]]      # q . n on the top and bottom edges: consistent with q_y = 2 t only
boundary = "top"
value = 2.0

[[neumann]]
boundary = "bottom"
value = -2.0

[newton]
steps = 2
"""


def test_mixed_control_rve_prescribed_flux_scales_with_the_load(tmp_path):
    """Layers normal to x (k = 1, 9): the RVE prescribes q_y = 2 t, the edges u = 0 and u = t
    (load-scaled) and the top / bottom boundary fluxes q . n = +-2 t (load-scaled). The body is
    in equilibrium only when the RVE's q_y follows the load as the boundary fluxes do; then
    u = t x, q_x = k_harmonic t = 3 t (the laminate's K is diagonal) and q_y = 2 t at every
    point: a prescribed flux that stayed at 2 would leave the t = 1/2 step out of balance."""
    import meshio

    case = tmp_path / "case.toml"
    case.write_text(MIXED)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(case), "--out", str(out)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [s["t"] for s in summary["steps"]] == [0.5, 1.0]
    for k, t in enumerate((0.5, 1.0)):
        flux = meshio.read(out / f"solution_{k:06d}.vtu").cell_data["flux"][0]
        np.testing.assert_allclose(flux[:, 1], 2.0 * t, rtol=1e-9)
        np.testing.assert_allclose(flux[:, 0], 3.0 * t, rtol=1e-9)
    assert abs(np.ravel(summary["reactions"]["right"])[-1]) == pytest.approx(3.0, rel=1e-9)


@pytest.mark.parametrize("change, message", [
    ("mixed = [false, true, true]", r"materials\.all: mixed must be a bool mask of shape \(2,\)"),
    ("mixed = [0, 1]", r"materials\.all\.mixed\[0\]: expected true or false, got an integer 0"),
    ('predictor = "elastic"\nmixed = [false, true]', r"materials\.all: predictor='elastic'"),
    ('predictor = "linear"', r'materials\.all\.predictor: expected one of "elastic"'),
])
def test_bad_mixed_rve_tables(tmp_path, change, message):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace('bc = "periodic"', 'bc = "periodic"\n' + change))
    with pytest.raises(CaseError, match=message):
        build_problem(load_case(case))


def test_output_micro_writes_the_rve_fields_of_chosen_points(tmp_path):
    """``[output] micro``: the micro fields of a macro point of a homogeneous-strain run; for
    an RVE of two identical elastic phases the micro strain is the macro strain everywhere
    (uniaxial plane-strain tension of the unit square: eps_xx = u, eps_yy = -nu/(1-nu) u)."""
    import meshio

    lam = '{ type = "LinearElastic", E = 100.0, nu = 0.3, plane = "strain" }'
    rve = ("[materials.all]\ntype = \"RVE\"\n"
           "cell = { type = \"laminate\", fractions = [0.25, 0.75], normal = 0 }\n"
           f"phases = [{lam}, {lam}]\n")
    text = HOMOGENEOUS.replace("MATERIAL", rve).replace('scalars = "state_alpha"', "")
    case = tmp_path / "case.toml"
    case.write_text(text + "micro = [[3, 0]]\n")
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(case), "--out", str(out)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (out / "micro" / "rve.vtm").is_file()
    vtus = sorted((out / "micro").glob("*.vtu"))
    assert len(vtus) == 1
    m = meshio.read(vtus[0])
    strain = next(v[0] for k, v in m.cell_data.items() if "strain" in k.lower())
    nu, u = 0.3, 0.01
    exx, eyy = strain[:, 0], strain[:, 4] if strain.shape[1] == 9 else strain[:, 3]
    np.testing.assert_allclose(exx, u, rtol=1e-8)
    np.testing.assert_allclose(eyy, -nu / (1 - nu) * u, rtol=1e-8)
    # a point outside the mesh, or micro fields of a material that is no RVE: bad input
    case.write_text(text + "micro = [[100000, 0]]\n")
    res = subprocess.run([sys.executable, "-m", "fe2.cli", "run", str(case), "--out",
                          str(tmp_path / "o2")], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 2 and "output.micro[0]" in res.stderr, res.stderr
    assert not (tmp_path / "o2").exists()
