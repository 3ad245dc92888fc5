"""XDMF + HDF5 time series for large runs (ParaView: *Xdmf3ReaderT*), next to PVD.

:class:`XDMFWriter` has the interface of :class:`fe2.io.PVDWriter` (same
constructor arguments, same ``write``, ``resume``, ``times``, ``path``), so a
caller picks either by name with :func:`time_series_writer`. One mesh is
written once; every step adds its point and cell data (quadrature data reduced
per element by :func:`fe2.io.quadrature_to_cell`) as datasets of one HDF5 file
``{name}.h5``, referenced from ``{name}.xdmf``. The XML is written by meshio's
``meshio.xdmf.TimeSeriesWriter``; fe2 opens the HDF5 file next to the
``.xdmf`` (meshio would put it in the working directory), flushes it after
every step and then rewrites the ``.xdmf`` atomically, so the pair is valid
after every step (a run killed while HDF5 writes a step can damage the
``.h5``; PVD files are safer for that).

:func:`read_xdmf` reads a series back (meshio's ``TimeSeriesReader``).
Arrays use the layouts of :mod:`fe2.io.vtk` (points first; 2D vectors and
tensors padded to 3D).
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import meshio
import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh

from .vtk import PVDWriter, atomic_write, meshio_mesh, step_cell_data

__all__ = ["XDMFWriter", "XDMFStep", "read_xdmf", "time_series_writer", "TIME_SERIES_FORMATS"]

logger = logging.getLogger(__name__)


def _open_h5(path: Path, mode: str):
    import h5py

    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise OSError(f"{path}: cannot open the HDF5 file ({exc})") from exc


def _collection(root: ET.Element, path: Path) -> ET.Element:
    domain = root.find("Domain")
    grid = None if domain is None else next(
        (g for g in domain.findall("Grid") if g.get("GridType") == "Collection"), None)
    if root.tag != "Xdmf" or grid is None:
        raise ValueError(f"{path}: not an XDMF time series (expected <Xdmf><Domain><Grid "
                         "GridType=\"Collection\">)")
    return grid


def _step_time(grid: ET.Element) -> float:
    el = grid.find("Time")
    return float(el.get("Value")) if el is not None else math.nan


class XDMFWriter:
    """Time series for ParaView as ``{name}.xdmf`` + ``{name}.h5`` (one mesh, many steps).

    Parameters
    ----------
    directory
        Output folder (created if missing).
    name
        Base name of the files.
    resume
        Continue an existing ``{name}.xdmf``/``{name}.h5`` (a restarted run):
        its steps are kept and new datasets are appended to the HDF5 file.
        Without ``resume`` existing files are replaced.

    Writing a time that is not larger than the last one recorded drops the
    recorded steps at or after that time from the ``.xdmf`` (their datasets
    stay in the ``.h5``), as :class:`~fe2.io.PVDWriter` does. Every step
    must use the mesh (and the node layout of ``basis``) of the first one.

    Examples
    --------
    >>> import tempfile, skfem
    >>> mesh = skfem.MeshTri1()
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with XDMFWriter(d) as out:
    ...         for t in (0.0, 0.5):
    ...             _ = out.write(t, mesh, point_data={"u": t * mesh.p.T})
    ...     [(s.time, float(s.point_data["u"][3, 0])) for s in read_xdmf(out.path)]
    [(0.0, 0.0), (0.5, 0.5)]
    """

    def __init__(self, directory: str | PathLike, name: str = "solution", resume: bool = False):
        self.directory = Path(directory)
        self.name = name
        self.xdmf_path = self.directory / f"{name}.xdmf"
        self.h5_path = self.directory / f"{name}.h5"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._writer = meshio.xdmf.TimeSeriesWriter(self.xdmf_path)
        self._mesh: tuple[str, NDArray, NDArray] | None = None  # (cell type, points, cells)
        resuming = resume and self.xdmf_path.exists() and self.h5_path.exists()
        if resuming:
            try:
                root = ET.parse(self.xdmf_path).getroot()
            except ET.ParseError as exc:
                raise ValueError(f"{self.xdmf_path}: not a valid XDMF file ({exc})") from exc
            coll = _collection(root, self.xdmf_path)
            w = self._writer
            w.xdmf_file, w.domain, w.collection = root, root.find("Domain"), coll
            w.has_mesh = any(g.get("GridType") == "Uniform" for g in w.domain.findall("Grid"))
            if w.has_mesh:  # the steps must continue on the stored mesh
                with meshio.xdmf.TimeSeriesReader(self.xdmf_path) as reader:
                    pts, blocks = reader.read_points_cells()
                self._mesh = (blocks[0].type, np.asarray(pts), np.asarray(blocks[0].data))
        self._h5 = _open_h5(self.h5_path, "a" if resuming else "w")
        # meshio's __enter__ would open "<stem>.h5" in the working directory
        self._writer.h5_filename = str(self.h5_path)
        self._writer.h5_file = self._h5
        if resuming:
            used = [int(k[4:]) for k in self._h5 if k.startswith("data") and k[4:].isdigit()]
            self._writer.data_counter = max(used, default=-1) + 1
            logger.info("%s: resuming after %d steps", self.xdmf_path, len(self.times))

    @property
    def path(self) -> Path:
        """The ``.xdmf`` file (open it in ParaView)."""
        return self.xdmf_path

    @property
    def times(self) -> list[float]:
        """Recorded times, in order."""
        return [_step_time(g) for g in self._writer.collection.findall("Grid")]

    def __enter__(self) -> XDMFWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the HDF5 file (the ``.xdmf`` is complete after every step); idempotent."""
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def write(self, time: float, mesh: Mesh, point_data: Mapping[str, ArrayLike] | None = None,
              cell_data: Mapping[str, ArrayLike] | None = None,
              quadrature_data: Mapping[str, ArrayLike] | None = None,
              basis: Any = None) -> Path:
        """Write one step and update the ``.xdmf``.

        Parameters are those of :meth:`fe2.io.PVDWriter.write`: point data as
        vertex values, or with ``basis`` DOF vectors / all-node values (a P2
        basis gives second-order cells); cell data ``(n_elements, ...)``;
        quadrature data ``(*idx, n_elements, n_qp)`` written as cell data.

        Returns
        -------
        Path
            The ``.xdmf`` file.

        Raises
        ------
        ValueError
            Non-finite time, a field of the wrong shape (named), or a mesh
            that differs from the one of the first step.
        """
        if self._h5 is None:
            raise ValueError(f"{self.xdmf_path}: the writer is closed")
        time = float(time)
        if not math.isfinite(time):
            raise ValueError(f"{self.xdmf_path}: time must be finite, got {time}")
        cells = step_cell_data(mesh, cell_data, quadrature_data)
        m = meshio_mesh(mesh, point_data, cells, basis)
        block = m.cells[0]
        if self._mesh is None:
            self._mesh = (block.type, m.points, block.data)
            if not self._writer.has_mesh:
                self._writer.write_points_cells(m.points, [(block.type, block.data)])
        else:
            ctype, pts, conn = self._mesh
            if (ctype != block.type or pts.shape != m.points.shape
                    or conn.shape != block.data.shape or not np.array_equal(conn, block.data)
                    or not np.allclose(pts, m.points, rtol=0, atol=1e-12 * (
                        1.0 + float(np.abs(pts).max(initial=0.0))))):
                raise ValueError(
                    f"{self.xdmf_path}: step at time {time:g} has a mesh of {len(m.points)} "
                    f"nodes and {len(block.data)} {block.type} cells that differs from the "
                    f"series' {len(pts)} nodes and {len(conn)} {ctype} cells; an XDMF time "
                    "series has one mesh (use PVDWriter for a changing mesh)")
        coll = self._writer.collection
        stale = [g for g in coll.findall("Grid") if _step_time(g) >= time]
        if stale:
            logger.warning("%s: time %g replaces %d recorded steps at times >= %g",
                           self.xdmf_path, time, len(stale), time)
            for g in stale:
                coll.remove(g)
        self._writer.write_data(time, point_data=m.point_data,
                                cell_data={k: v for k, v in m.cell_data.items()})
        self._h5.flush()  # the datasets first, then the XML that names them
        tree = ET.ElementTree(self._writer.xdmf_file)
        atomic_write(self.xdmf_path, lambda tmp: tree.write(tmp, xml_declaration=True,
                                                            encoding="utf-8"))
        return self.xdmf_path


@dataclass(frozen=True)
class XDMFStep:
    """One step of an XDMF time series.

    Attributes
    ----------
    time : float
    points : ndarray
        ``(n_nodes, 3)``; shared by all steps.
    cell_type : str
        meshio cell type (``"triangle"``, ``"triangle6"``, ...).
    cells : ndarray
        ``(n_elements, n_local)`` connectivity.
    point_data, cell_data : dict of str to ndarray
        ``(n_nodes, ...)`` and ``(n_elements, ...)`` arrays.
    """

    time: float
    points: NDArray
    cell_type: str
    cells: NDArray
    point_data: dict[str, NDArray]
    cell_data: dict[str, NDArray]


def read_xdmf(path: str | PathLike) -> list[XDMFStep]:
    """Read an XDMF time series (as written by :class:`XDMFWriter`), in file order.

    Raises
    ------
    FileNotFoundError
        The ``.xdmf`` file, or an HDF5 file it names, does not exist.
    ValueError
        Not an XDMF time series.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"xdmf file not found: {path}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not a valid XDMF file ({exc})") from exc
    _collection(root, path)
    for item in root.iter("DataItem"):
        if item.get("Format") == "HDF" and item.text:
            h5 = path.parent / item.text.strip().split(":")[0]
            if not h5.is_file():
                raise FileNotFoundError(f"{path}: HDF5 file {h5} named in the XDMF file is "
                                        "missing")
    try:
        reader = meshio.xdmf.TimeSeriesReader(path)
    except meshio.ReadError as exc:
        raise ValueError(f"{path}: not an XDMF time series ({exc})") from exc
    with reader:
        points, blocks = reader.read_points_cells()
        if len(blocks) != 1:
            raise ValueError(f"{path}: expected one cell block, found {len(blocks)}")
        steps = []
        for k in range(reader.num_steps):
            t, pd, cd = reader.read_data(k)
            steps.append(XDMFStep(float(t), points, blocks[0].type, blocks[0].data,
                                  dict(pd), {name: v[0] for name, v in cd.items()}))
    return steps


#: time-series writers by format name (``output.format`` of a case file)
TIME_SERIES_FORMATS: dict[str, type] = {"pvd": PVDWriter, "xdmf": XDMFWriter}


def time_series_writer(format: str, directory: str | PathLike, name: str = "solution",
                       resume: bool = False) -> PVDWriter | XDMFWriter:
    """A :class:`~fe2.io.PVDWriter` (``"pvd"``) or :class:`XDMFWriter` (``"xdmf"``).

    Both have ``write(time, mesh, point_data, cell_data, quadrature_data,
    basis)``, ``times``, ``path`` and ``close()``.
    """
    if format not in TIME_SERIES_FORMATS:
        raise ValueError(f"unknown time-series format {format!r}; expected one of "
                         f"{', '.join(repr(k) for k in TIME_SERIES_FORMATS)}")
    return TIME_SERIES_FORMATS[format](directory, name, resume=resume)
