"""fe2.io.XDMFWriter / read_xdmf: write/read round trips, files ParaView can open, resume."""

import doctest
import inspect
import subprocess
import sys
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest
import skfem

import fe2.io.xdmf
from fe2.io import PVDWriter, XDMFWriter, read_xdmf, time_series_writer


def test_doctests():
    assert doctest.testmod(fe2.io.xdmf).failed == 0


def _mesh():
    return skfem.MeshTri.init_tensor(np.linspace(0, 2, 4), np.linspace(0, 1, 3))


def _fields(mesh, t, rng):
    nv, ne = mesh.nvertices, mesh.nelements
    return {
        "point": {"temperature": t * mesh.p[0] ** 2, "u": t * mesh.p.T.copy()},
        "cell": {"phase": np.arange(ne) % 2, "label": rng.normal(size=(ne, 3))},
        "quad": {"stress": rng.normal(size=(2, 2, ne, 4)),
                 "iterations": rng.integers(0, 9, size=(ne, 4)),
                 "converged": rng.random((ne, 4)) > 0.2},
        "nv": nv,
    }


def test_round_trip_point_cell_and_quadrature_data(tmp_path):
    mesh = _mesh()
    rng = np.random.default_rng(0)
    times = [0.0, 0.25, 1.0]
    written = []
    with XDMFWriter(tmp_path, "run") as out:
        for t in times:
            f = _fields(mesh, t, rng)
            out.write(t, mesh, point_data=f["point"], cell_data=f["cell"],
                      quadrature_data=f["quad"])
            written.append(f)
        assert out.times == times
    steps = read_xdmf(tmp_path / "run.xdmf")
    assert [s.time for s in steps] == times
    for s, f in zip(steps, written, strict=True):
        assert s.cell_type == "triangle"
        np.testing.assert_array_equal(s.points[:, :2], mesh.p.T)
        np.testing.assert_array_equal(s.points[:, 2], 0.0)
        np.testing.assert_array_equal(s.cells, mesh.t.T)
        np.testing.assert_array_equal(s.point_data["temperature"], f["point"]["temperature"])
        # 2D vectors padded with a zero z component
        np.testing.assert_array_equal(s.point_data["u"][:, :2], f["point"]["u"])
        np.testing.assert_array_equal(s.point_data["u"][:, 2], 0.0)
        np.testing.assert_array_equal(s.cell_data["phase"], f["cell"]["phase"])
        np.testing.assert_array_equal(s.cell_data["label"], f["cell"]["label"])
        # quadrature data: element mean of real data (2x2 tensor padded to 3x3, flattened),
        # element maximum of integers and flags
        stress = s.cell_data["stress"].reshape(-1, 3, 3)
        np.testing.assert_allclose(stress[:, :2, :2],
                                   np.moveaxis(f["quad"]["stress"].sum(-1) / 4, -1, 0),
                                   rtol=1e-14, atol=1e-15)
        np.testing.assert_array_equal(stress[:, 2, :], 0.0)
        np.testing.assert_array_equal(s.cell_data["iterations"], f["quad"]["iterations"].max(-1))
        np.testing.assert_array_equal(s.cell_data["converged"],
                                      np.any(f["quad"]["converged"], axis=-1))


def test_xdmf_references_existing_h5_datasets(tmp_path):
    mesh = skfem.MeshHex().refined(1)
    with XDMFWriter(tmp_path) as out:
        for t in (0.5, 1.0):
            out.write(t, mesh, point_data={"u": t * mesh.p.T},
                      cell_data={"e": np.arange(mesh.nelements, dtype=float)})
    root = ET.parse(tmp_path / "solution.xdmf").getroot()
    assert root.tag == "Xdmf" and root.get("Version") == "3.0"
    temporal = [g for g in root.iter("Grid") if g.get("CollectionType") == "Temporal"]
    assert len(temporal) == 1 and len(temporal[0].findall("Grid")) == 2
    topo = next(root.iter("Topology"))
    assert topo.get("TopologyType") == "Hexahedron"
    assert topo.get("NumberOfElements") == str(mesh.nelements)
    items = list(root.iter("DataItem"))
    assert len(items) == 2 + 2 * 2  # geometry, topology, two fields per step
    with h5py.File(tmp_path / "solution.h5", "r") as h5:
        for item in items:
            assert item.get("Format") == "HDF"
            file, dataset = item.text.strip().split(":")
            assert file == "solution.h5"  # relative to the .xdmf, next to it
            shape = tuple(int(n) for n in item.get("Dimensions").split())
            assert h5[dataset].shape == shape
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left


def test_valid_after_each_step_when_killed(tmp_path):
    """A run that dies without close() leaves a readable series of the steps written."""
    code = (
        "import os, skfem, numpy as np\n"
        "from fe2.io import XDMFWriter\n"
        "m = skfem.MeshQuad().refined(2)\n"
        f"w = XDMFWriter({str(tmp_path)!r})\n"
        "for t in (1.0, 2.0):\n"
        "    w.write(t, m, point_data={'x': t * m.p[0]})\n"
        "os._exit(75)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 75, proc.stderr
    steps = read_xdmf(tmp_path / "solution.xdmf")
    assert [s.time for s in steps] == [1.0, 2.0]
    np.testing.assert_array_equal(steps[1].point_data["x"], 2.0 * steps[1].points[:, 0])


def test_resume_and_restart_from_earlier_time(tmp_path, caplog):
    mesh = _mesh()
    with XDMFWriter(tmp_path) as out:
        for t in (0.1, 0.2, 0.3):
            out.write(t, mesh, point_data={"x": t * mesh.p[0]})
    with XDMFWriter(tmp_path, resume=True) as out:
        assert out.times == [0.1, 0.2, 0.3]
        out.write(0.4, mesh, point_data={"x": 0.4 * mesh.p[0]})
        out.write(0.25, mesh, point_data={"x": 0.25 * mesh.p[0]})  # restart from 0.2
    assert "replaces 2 recorded steps" in caplog.text
    steps = read_xdmf(tmp_path / "solution.xdmf")
    assert [s.time for s in steps] == [0.1, 0.2, 0.25]
    for s in steps:
        np.testing.assert_allclose(s.point_data["x"], s.time * s.points[:, 0], rtol=1e-15)
    with XDMFWriter(tmp_path) as out:  # without resume: replaced
        assert out.times == []
        out.write(1.0, mesh, point_data={"x": mesh.p[0]})
    assert [s.time for s in read_xdmf(tmp_path / "solution.xdmf")] == [1.0]


def test_errors(tmp_path):
    mesh = _mesh()
    with XDMFWriter(tmp_path) as out:
        out.write(0.0, mesh, point_data={"x": mesh.p[0]})
        with pytest.raises(ValueError, match=r"differs from the series' 12 nodes"):
            out.write(1.0, mesh.refined(), point_data={"x": mesh.refined().p[0]})
        with pytest.raises(ValueError, match=r"point data 'x' has shape \(3,\)"):
            out.write(1.0, mesh, point_data={"x": np.zeros(3)})
        with pytest.raises(ValueError, match="time must be finite"):
            out.write(np.nan, mesh)
    with pytest.raises(ValueError, match="writer is closed"):
        out.write(2.0, mesh)
    with pytest.raises(FileNotFoundError, match="xdmf file not found"):
        read_xdmf(tmp_path / "nothing.xdmf")
    (tmp_path / "solution.h5").unlink()
    with pytest.raises(FileNotFoundError, match="solution.h5 named in the XDMF file"):
        read_xdmf(tmp_path / "solution.xdmf")
    (tmp_path / "bad.xdmf").write_text("<VTKFile/>")
    with pytest.raises(ValueError, match="not an XDMF time series"):
        read_xdmf(tmp_path / "bad.xdmf")


def test_same_interface_as_pvd_and_picked_by_name(tmp_path):
    for method in ("__init__", "write"):
        a = inspect.signature(getattr(PVDWriter, method)).parameters
        b = inspect.signature(getattr(XDMFWriter, method)).parameters
        assert list(a) == list(b), method
    for name in ("path", "times", "close", "__enter__", "__exit__"):
        assert hasattr(PVDWriter, name) and hasattr(XDMFWriter, name)
    mesh = _mesh()
    for fmt, suffix in (("pvd", ".pvd"), ("xdmf", ".xdmf")):
        with time_series_writer(fmt, tmp_path / fmt) as out:
            out.write(1.0, mesh, point_data={"x": mesh.p[0]})
            assert out.path.suffix == suffix and out.path.exists()
    with pytest.raises(ValueError, match="unknown time-series format 'vtk'; expected one of "
                                         "'pvd', 'xdmf'"):
        time_series_writer("vtk", tmp_path)


def test_vtk_xdmf_reader_reads_times_and_p2_values(tmp_path):
    """VTK's own XDMF reader (ParaView's "Xdmf Reader") sees the steps, the quadratic
    cells and the values written at every node."""
    xdmf2 = pytest.importorskip("vtkmodules.vtkIOXdmf2")
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as S

    mesh = _mesh()
    basis = skfem.Basis(mesh, skfem.ElementTriP2())
    x, y = basis.doflocs
    with XDMFWriter(tmp_path) as out:
        for t in (0.5, 1.0):
            out.write(t, mesh, point_data={"f": t * (x * x - 3 * x * y + y)}, basis=basis)
    r = xdmf2.vtkXdmfReader()
    r.SetFileName(str(tmp_path / "solution.xdmf"))
    r.UpdateInformation()
    assert r.GetOutputInformation(0).Get(S.TIME_STEPS()) == (0.5, 1.0)
    for t in (0.5, 1.0):
        r.UpdateTimeStep(t)
        grid = r.GetOutputDataObject(0).GetBlock(0)
        pts = vtk_to_numpy(grid.GetPoints().GetData())
        assert grid.GetNumberOfCells() == mesh.nelements
        assert grid.GetCellType(0) == 22  # VTK_QUADRATIC_TRIANGLE
        assert len(pts) == mesh.nvertices + mesh.nfacets
        f = vtk_to_numpy(grid.GetPointData().GetArray("f"))
        px, py = pts[:, 0], pts[:, 1]
        np.testing.assert_allclose(f, t * (px * px - 3 * px * py + py), atol=1e-14)


# ---------------------------------------------------------------- micro fields


class _Wrapper:
    """An oracle wrapper (like fe2.demo.MicroCounter) that keeps the RVE as .oracle."""

    def __init__(self, oracle):
        self.oracle = oracle
        self.measure, self.dim = oracle.measure, oracle.dim
        self.input_shape = oracle.input_shape

    def initial_state(self, pts):
        return self.oracle.initial_state(pts)

    def evaluate(self, g, x=None, state=None):
        return self.oracle.evaluate(g, x=x, state=state)


def test_micro_fields_of_a_homogeneous_cell(tmp_path):
    """A homogeneous periodic cell under the uniform macro strain of a plane-strain
    uniaxial-stress patch: micro strain and stress are the closed-form macro ones in every
    micro element, the fluctuation vanishes and the displacement is E . y."""
    import meshio

    from fe2.homogenization import RVE, cells
    from fe2.io import write_micro_fields
    from fe2.macro import Problem
    from fe2.materials import LinearElastic

    E, nu, d = 200.0, 0.3, 0.01
    steel = LinearElastic(E, nu, plane="strain")
    rve = RVE(cells.checkerboard(2), [steel, steel], bc="periodic")
    mesh = skfem.MeshQuad.init_tensor(*[np.linspace(0, 1, 3)] * 2).with_defaults()
    prob = Problem(mesh, _Wrapper(rve), kind="small_strain")
    prob.dirichlet("left", 0.0, (0,)).dirichlet("bottom", 0.0, (1,)).dirichlet("right", d, (0,))
    prob.solve()
    vtm = write_micro_fields(prob, tmp_path / "micro", points=[(0, 0), (3, 2)])
    blocks = ET.parse(vtm).getroot().find("vtkMultiBlockDataSet").findall("DataSet")
    assert [(b.get("name"), b.get("file")) for b in blocks] == [
        ("element 0, point 0", "rve_e0_q0.vtu"), ("element 3, point 2", "rve_e3_q2.vtu")]
    eyy = -nu / (1 - nu) * d
    strain = np.diag([d, eyy, 0.0]).ravel()
    stress = np.diag([E / (1 - nu**2) * d, 0.0, nu * (E / (1 - nu**2) * d)]).ravel()
    for b in blocks:
        m = meshio.read(vtm.parent / b.get("file"))
        np.testing.assert_allclose(m.cell_data["strain"][0], np.tile(strain, (len(m.cells[0]), 1)),
                                   atol=1e-12)
        # sigma_33 of plane strain is not in the 2x2 flux: compare the in-plane part
        s = m.cell_data["stress"][0].reshape(-1, 3, 3)
        np.testing.assert_allclose(s[:, :2, :2], np.tile(stress.reshape(3, 3)[:2, :2],
                                                         (len(s), 1, 1)), atol=1e-9)
        np.testing.assert_allclose(m.point_data["fluctuation"], 0.0, atol=1e-12)
        y = m.points[:, :2]
        u = m.point_data["displacement"][:, :2]
        np.testing.assert_allclose(u - u[0], (y - y[0]) * [d, eyy], atol=1e-12)
    vtm = write_micro_fields(prob, tmp_path / "all", points="all", name="cell")
    assert len(list(vtm.parent.glob("cell_e*_q*.vtu"))) == mesh.nelements * prob.op.nqp
    for bad, msg in (([(4, 0)], r"micro point \(4, 0\): element 4 is outside 0..3"),
                     ([(0, 99)], rf"quadrature point 99 is outside 0..{prob.op.nqp - 1}"),
                     ([(0,)], r"micro point \(0,\): expected a pair"),
                     ("some", "micro points must be 'all'")):
        with pytest.raises(ValueError, match=msg):
            write_micro_fields(prob, tmp_path / "bad", points=bad)
    assert not (tmp_path / "bad").exists()
    plain = Problem(mesh, steel, kind="small_strain")
    with pytest.raises(ValueError, match="no macro point has micro fields"):
        write_micro_fields(plain, tmp_path / "bad")
    with pytest.raises(ValueError, match=r"the oracle of 'all' \(LinearElastic\) has no micro"):
        write_micro_fields(plain, tmp_path / "bad", points=[(0, 0)])
