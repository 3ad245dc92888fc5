"""ParaView output: VTU files, ``.pvd`` time series, quadrature data as cell data.

Arrays handed to these writers use the VTK/meshio layout, **points first**:

- point data ``(n_vertices,)``, ``(n_vertices, k)`` or ``(n_vertices, a, a)``,
- cell data ``(n_elements,)``, ``(n_elements, k)`` or ``(n_elements, a, a)``.

This is the transpose of fe2's tensor-first layout: for a scikit-fem vector
field ``u`` on ``basis`` pass ``u[basis.nodal_dofs].T`` (vertex values), or
pass the DOF vector ``u`` itself together with ``basis=basis``.  With a
second-order (P2/Q2) ``basis`` the mesh is written with second-order cells
(``triangle6``, ``quad9``, ``tetra10``, ``hexahedron27``) and point data has one
row per Lagrange node (:func:`lagrange_nodes`): a DOF vector of the basis is
written at all its nodes, vertex-only arrays are interpolated linearly to
the mid-edge/face/cell nodes.  In a 2D mesh, 2-component vectors are
padded with a zero z component (so that ParaView can *Warp By Vector*) and
``(n, a, a)`` tensors with ``a <= 3`` are padded to 3 x 3 and flattened to 9
components (ParaView's tensor layout).  Boolean arrays are written as uint8.

Quadrature-point data stays in scikit-fem's layout ``(*idx, n_elements, n_qp)``
and becomes cell data through :func:`quadrature_to_cell`.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import meshio
import numpy as np
import skfem
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh
from skfem.io.meshio import HEX_MAPPING

from ..fem import element_for

__all__ = [
    "write_vtu", "quadrature_to_cell", "PVDWriter", "read_pvd", "atomic_write", "vtk_cells",
    "vtk_array", "LagrangeNodes", "lagrange_nodes", "nodal_values", "meshio_mesh",
    "step_cell_data", "pvd_xml",
]

logger = logging.getLogger(__name__)

# (dimension, vertices per element) -> meshio cell type
_CELL_TYPES = {(2, 3): "triangle", (2, 4): "quad", (3, 4): "tetra", (3, 8): "hexahedron"}
# scalar Lagrange element of a basis -> meshio cell type of its nodes
_LAGRANGE_CELLS = {
    "ElementTriP1": "triangle", "ElementQuad1": "quad", "ElementTetP1": "tetra",
    "ElementHex1": "hexahedron", "ElementTriP2": "triangle6", "ElementQuad2": "quad9",
    "ElementTetP2": "tetra10", "ElementHex2": "hexahedron27",
}


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a fresh file name next to ``path``, then move it into place.

    The temporary name keeps the suffix (writers pick the format from it) and is
    created by ``write`` itself, so the file gets the usual permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}"
    try:
        write(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def vtk_cells(mesh: Mesh) -> tuple[str, NDArray]:
    """Return the meshio cell type and vertex connectivity ``(n_elements, n_local)`` of ``mesh``."""
    t = np.asarray(mesh.t)
    key = (mesh.dim(), t.shape[0])
    if key not in _CELL_TYPES:
        raise ValueError(f"cannot write a {type(mesh).__name__} ({mesh.dim()}D cells with "
                         f"{t.shape[0]} vertices); supported: triangle, quad, tetra, hexahedron")
    cell_type = _CELL_TYPES[key]
    if cell_type == "hexahedron":
        t = t[HEX_MAPPING[:8]]
    return cell_type, np.ascontiguousarray(t.T)


def vtk_array(name: str, value: ArrayLike, rows: int, dim: int, what: str) -> NDArray:
    """Check the leading axis, pad 2D vectors/tensors to 3D, flatten tensors."""
    a = np.asarray(value)
    if a.ndim == 0 or a.shape[0] != rows or a.ndim > 3:
        point = what.startswith("point")
        hint = (" (a DOF vector needs basis=...; vertex values have one row per vertex)"
                if point else "")
        raise ValueError(
            f"{what} '{name}' has shape {a.shape}; expected ({rows},), ({rows}, k) or "
            f"({rows}, a, a), {rows} = number of {'nodes' if point else 'elements'}{hint}")
    if a.dtype == bool:
        a = a.astype(np.uint8)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{what} '{name}' has dtype {a.dtype}; expected real or integer data")
    if a.ndim == 2 and dim == 2 and a.shape[1] == 2:
        a = np.concatenate([a, np.zeros((rows, 1), dtype=a.dtype)], axis=1)
    elif a.ndim == 3:
        if a.shape[1] != a.shape[2] or a.shape[1] > 3:
            raise ValueError(f"{what} '{name}' has shape {a.shape}; tensors must be "
                             f"({rows}, a, a) with a <= 3")
        full = np.zeros((rows, 3, 3), dtype=a.dtype)
        full[:, : a.shape[1], : a.shape[2]] = a
        a = full.reshape(rows, 9)
    return np.ascontiguousarray(a)


@dataclass(frozen=True)
class LagrangeNodes:
    """The nodes a field is written at: mesh vertices (P1) or all P2 nodes.

    Attributes
    ----------
    cell_type : str
        meshio cell type (``"triangle"`` ... or ``"triangle6"``, ``"quad9"``,
        ``"tetra10"``, ``"hexahedron27"``).
    points : ndarray
        ``(n_nodes, d)`` node coordinates; the first ``n_vertices`` rows are
        the mesh vertices ``mesh.p.T`` in their order.
    cells : ndarray
        ``(n_elements, n_local)`` node indices in VTK order.
    n_vertices : int
        Number of mesh vertices.
    local : ndarray
        ``(n_local, n_elements)`` node indices in scikit-fem's local order.
    split : list of ndarray or None
        ``basis.split_indices()``: for each component the DOFs of the nodes, in
        node order (None without a basis).
    n_dofs : int or None
        ``basis.N`` (None without a basis).
    interpolation : ndarray or None
        ``(n_local, n_vertices_local)``: the linear (P1/Q1) shape functions at
        the local nodes, to interpolate vertex values to all nodes.
    """

    cell_type: str
    points: NDArray
    cells: NDArray
    n_vertices: int
    local: NDArray
    split: list | None = None
    n_dofs: int | None = None
    interpolation: NDArray | None = None

    @property
    def n_nodes(self) -> int:
        """Number of nodes (rows of point data)."""
        return int(self.points.shape[0])

    def values(self, name: str, value: ArrayLike) -> NDArray:
        """Point data ``value`` at all nodes, points first.

        Accepted: a DOF vector ``(N,)`` of the basis (vector fields become
        ``(n_nodes, d)``), node values ``(n_nodes, ...)``, or vertex values
        ``(n_vertices, ...)``, interpolated linearly to the other nodes.
        """
        a = np.asarray(value)
        if self.split is not None and a.ndim == 1 and a.shape[0] == self.n_dofs:
            comps = [a[ix] for ix in self.split]
            return comps[0] if len(comps) == 1 else np.stack(comps, axis=1)
        if a.ndim >= 1 and a.shape[0] == self.n_nodes:
            return a
        if (a.ndim >= 1 and a.shape[0] == self.n_vertices and self.interpolation is not None
                and np.issubdtype(a.dtype, np.floating)):
            out = np.empty((self.n_nodes,) + a.shape[1:], dtype=a.dtype)
            nv = self.interpolation.shape[1]
            out[self.local] = np.einsum("kv,ve...->ke...", self.interpolation,
                                        a[self.local[:nv]])
            out[: self.n_vertices] = a
            return out
        n = self.n_nodes
        if self.n_dofs is None:
            raise ValueError(
                f"point data '{name}' has shape {a.shape}; expected ({n},), ({n}, k) or "
                f"({n}, a, a), {n} = number of vertices (pass basis= to write a DOF vector "
                "or all P2 nodes)")
        dofs = f", ({self.n_dofs},) DOF vector of the basis"
        verts = ("" if self.n_vertices == self.n_nodes
                 else f", ({self.n_vertices}, ...) real vertex values")
        raise ValueError(
            f"point data '{name}' has shape {a.shape}; expected ({self.n_nodes},), "
            f"({self.n_nodes}, k) or ({self.n_nodes}, a, a) node values{verts}{dofs} "
            f"({self.n_nodes} {self.cell_type} nodes)")


def lagrange_nodes(mesh: Mesh, basis: Any = None) -> LagrangeNodes:
    """The nodes of ``mesh`` at which the fields of ``basis`` are written.

    Parameters
    ----------
    mesh
        Linear scikit-fem mesh (triangles, quads, tetrahedra or hexahedra).
    basis : skfem.CellBasis, optional
        A Lagrange basis on ``mesh`` of order 1 or 2, scalar or
        ``ElementVector``. None or order 1: the vertices and linear cells;
        order 2: all nodes and second-order cells.

    Raises
    ------
    ValueError
        ``basis`` is not on ``mesh`` or not a P1/P2 (Q1/Q2) Lagrange basis.
    """
    cell_type, cells = vtk_cells(mesh)
    t = np.asarray(mesh.t)
    points = np.asarray(mesh.p, dtype=np.float64).T
    if basis is None:
        return LagrangeNodes(cell_type, points, cells, mesh.nvertices, t)
    if getattr(basis, "mesh", None) is not mesh:
        raise ValueError("basis is not defined on the mesh being written (basis.mesh is not "
                         "mesh)")
    elem = basis.elem
    vector = isinstance(elem, skfem.ElementVector)
    scalar = elem.elem if vector else elem
    kind = _LAGRANGE_CELLS.get(type(scalar).__name__)
    if kind is None:
        raise ValueError(f"cannot write fields of a {type(scalar).__name__} basis; supported: "
                         f"{', '.join(sorted(_LAGRANGE_CELLS))} (scalar or ElementVector)")
    split = [np.asarray(ix, dtype=np.int64) for ix in basis.split_indices()]
    if kind == cell_type:  # first order: the nodes are the vertices
        return LagrangeNodes(cell_type, points, cells, mesh.nvertices, t, split, basis.N)
    ncomp = len(split)
    node = np.empty(basis.N, dtype=np.int64)
    node[split[0]] = np.arange(split[0].size)
    local = node[np.asarray(basis.element_dofs)[::ncomp]]  # (n_local, n_elements)
    nodes = np.empty((split[0].size, mesh.dim()))
    nodes[local] = np.moveaxis(np.asarray(basis.doflocs)[:, np.asarray(
        basis.element_dofs)[::ncomp]], 0, -1)
    vtk = local[HEX_MAPPING] if kind == "hexahedron27" else local
    p1 = element_for(mesh, 1, False)
    ref = np.asarray(scalar.doflocs, dtype=np.float64).T  # (dim, n_local)
    w = np.array([p1.lbasis(ref, i)[0] for i in range(t.shape[0])]).T  # (n_local, n_vert)
    return LagrangeNodes(kind, nodes, np.ascontiguousarray(vtk.T), mesh.nvertices, local, split,
                         basis.N, w)


def nodal_values(basis: Any, u: ArrayLike) -> NDArray:
    """Values of the DOF vector ``u (basis.N,)`` at all Lagrange nodes of ``basis``.

    Returns ``(n_nodes,)`` for a scalar basis, ``(n_nodes, d)`` for an
    ``ElementVector``, rows in the node order of :func:`lagrange_nodes`
    (vertices first).
    """
    u = np.asarray(u)
    if u.shape != (basis.N,):
        raise ValueError(f"DOF vector has shape {u.shape}; expected ({basis.N},) for this basis")
    return lagrange_nodes(basis.mesh, basis).values("u", u)


def meshio_mesh(mesh: Mesh, point_data: Mapping | None = None, cell_data: Mapping | None = None,
                basis: Any = None) -> meshio.Mesh:
    """A ``meshio.Mesh`` of ``mesh`` (3D points) with checked, padded point and cell data.

    Point data as accepted by :meth:`LagrangeNodes.values` for
    ``lagrange_nodes(mesh, basis)``; cell data ``(n_elements, ...)``.
    """
    nodes = lagrange_nodes(mesh, basis)
    points = np.zeros((nodes.n_nodes, 3))
    points[:, : nodes.points.shape[1]] = nodes.points
    dim = mesh.dim()
    pd = {k: vtk_array(k, nodes.values(k, v), nodes.n_nodes, dim, "point data")
          for k, v in (point_data or {}).items()}
    cd = {k: [vtk_array(k, v, nodes.cells.shape[0], dim, "cell data")]
          for k, v in (cell_data or {}).items()}
    return meshio.Mesh(points, [(nodes.cell_type, nodes.cells)], point_data=pd, cell_data=cd)


def step_cell_data(mesh: Mesh, cell_data: Mapping[str, ArrayLike] | None,
                   quadrature_data: Mapping[str, ArrayLike] | None) -> dict[str, Any]:
    """Cell data of one step: ``cell_data`` plus ``quadrature_data`` reduced per element.

    Quadrature data ``(*idx, n_elements, n_qp)`` goes through
    :func:`quadrature_to_cell`; a name given twice, or quadrature data whose
    element count is not ``mesh.nelements``, raises ``ValueError``.
    """
    cells = dict(cell_data or {})
    for key, q in (quadrature_data or {}).items():
        if key in cells:
            raise ValueError(f"field '{key}' is given both as cell data and as "
                             "quadrature data")
        c = quadrature_to_cell(q)
        if c.shape[0] != mesh.nelements:
            raise ValueError(f"quadrature data '{key}' has shape {np.shape(q)}; expected "
                             f"(*idx, {mesh.nelements}, n_qp) with {mesh.nelements} = "
                             "number of elements")
        cells[key] = c
    return cells


def write_vtu(path: str | PathLike, mesh: Mesh, point_data: Mapping[str, ArrayLike] | None = None,
              cell_data: Mapping[str, ArrayLike] | None = None, basis: Any = None) -> Path:
    """Write ``mesh`` and its fields to a VTU file, atomically.

    Parameters
    ----------
    path
        Output ``.vtu`` file; written to a temporary file in the same folder
        and moved into place, so a reader never sees a half-written file.
    mesh
        Linear scikit-fem mesh (triangles, quads, tetrahedra or hexahedra).
    point_data
        name -> ``(n_vertices,)``, ``(n_vertices, k)`` or ``(n_vertices, a, a)``
        vertex values; with ``basis`` also a DOF vector ``(basis.N,)`` or
        values at all ``n_nodes`` Lagrange nodes (see :func:`lagrange_nodes`).
    cell_data
        name -> ``(n_elements,)``, ``(n_elements, k)`` or ``(n_elements, a, a)``.
    basis : skfem.CellBasis, optional
        Lagrange basis (order 1 or 2, scalar or vector) of the point fields.
        Order 2 writes second-order cells with every P2 node, so a P2 field
        is shown with its mid-edge values; vertex-only arrays are then
        interpolated linearly to the extra nodes.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        A field whose leading dimension is not n_vertices / n_elements (the
        message names the field, its shape and the expected shape), or whose
        dtype is not real or integer.
    """
    path = Path(path)
    m = meshio_mesh(mesh, point_data, cell_data, basis)
    atomic_write(path, lambda tmp: meshio.write(tmp, m, file_format="vtu"))
    return path


def quadrature_to_cell(data: ArrayLike, weights: ArrayLike | None = None) -> NDArray:
    """Reduce quadrature-point data to one value per element.

    Parameters
    ----------
    data
        ``(*idx, n_elements, n_qp)``, scikit-fem's layout (a ``DiscreteField``
        counts as its value).
    weights
        Optional ``(n_elements, n_qp)``, e.g. ``basis.dx``, for a weighted
        (volume) average; the default is the plain mean over the points.

    Returns
    -------
    ndarray
        ``(n_elements, *idx)``: the average over the points for real data, the
        maximum for integer and boolean data (flags, iteration counts).
    """
    data = np.array(data)  # also drops a DiscreteField's .grad etc.
    if data.ndim < 2:
        raise ValueError(f"quadrature data has shape {data.shape}; expected "
                         "(*idx, n_elements, n_qp)")
    if data.dtype == bool or np.issubdtype(data.dtype, np.integer):
        cell = data.max(axis=-1)
    elif weights is None:
        cell = data.mean(axis=-1)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != data.shape[-2:]:
            raise ValueError(f"weights have shape {w.shape}; expected {data.shape[-2:]} "
                             "(n_elements, n_qp) to match the data")
        cell = (data * w).sum(axis=-1) / w.sum(axis=-1)
    return np.moveaxis(cell, -1, 0)


def pvd_xml(entries: list[tuple[float, str]]) -> bytes:
    """ParaView collection (``.pvd``) XML for ``(time, file name)`` entries."""
    root = ET.Element("VTKFile", type="Collection", version="0.1", byte_order="LittleEndian")
    coll = ET.SubElement(root, "Collection")
    for time, file in entries:
        ET.SubElement(coll, "DataSet", timestep=repr(float(time)), group="", part="0",
                      file=file)
    ET.indent(root)
    return b'<?xml version="1.0"?>\n' + ET.tostring(root) + b"\n"


def _read_pvd_entries(path: Path) -> list[tuple[float, str]]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not a valid .pvd file ({exc})") from exc
    coll = root.find("Collection")
    if root.tag != "VTKFile" or root.get("type") != "Collection" or coll is None:
        raise ValueError(f"{path}: not a ParaView collection (expected <VTKFile "
                         "type=\"Collection\"><Collection>)")
    entries = []
    for k, ds in enumerate(coll.iter("DataSet")):
        file, time = ds.get("file"), ds.get("timestep")
        if file is None:
            raise ValueError(f"{path}: DataSet {k} has no 'file' attribute")
        try:
            t = float(time) if time is not None else float(k)
        except ValueError as exc:
            raise ValueError(f"{path}: DataSet {k} has timestep {time!r}; expected a "
                             "number") from exc
        entries.append((t, file))
    return entries


def read_pvd(path: str | PathLike) -> list[tuple[float, Path]]:
    """Read a ParaView ``.pvd`` collection.

    Returns
    -------
    list of (time, vtu_path)
        In file order; ``vtu_path`` is resolved against the folder of the
        ``.pvd`` file.  A DataSet without ``timestep`` gets its position.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pvd file not found: {path}")
    return [(t, path.parent / f) for t, f in _read_pvd_entries(path)]


class PVDWriter:
    """Time series for ParaView: one VTU per step plus a ``.pvd`` collection.

    ``write`` puts ``{name}_{index:06d}.vtu`` into ``directory`` and then
    rewrites ``{name}.pvd`` atomically, so the collection is valid after every
    step, also when the run is killed.

    Parameters
    ----------
    directory
        Output folder (created if missing).
    name
        Base name of the files.
    resume
        Continue an existing ``{name}.pvd`` (a restarted run): its entries are
        kept and numbering continues after the highest index present.  Without
        ``resume`` an existing collection is replaced.

    Writing a time that is not larger than the last one recorded drops the
    recorded entries at or after that time from the collection (a restart
    from an earlier checkpoint replaces them); their VTU files stay on disk.

    Examples
    --------
    >>> import tempfile, numpy as np, skfem
    >>> mesh = skfem.MeshTri1()
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = PVDWriter(d)
    ...     for k, t in enumerate([0.0, 0.5]):
    ...         _ = out.write(t, mesh, point_data={"u": t * mesh.p.T})
    ...     [(t, p.name) for t, p in read_pvd(out.pvd_path)]
    [(0.0, 'solution_000000.vtu'), (0.5, 'solution_000001.vtu')]
    """

    def __init__(self, directory: str | PathLike, name: str = "solution", resume: bool = False):
        self.directory = Path(directory)
        self.name = name
        self.pvd_path = self.directory / f"{name}.pvd"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._entries: list[tuple[float, str]] = []
        self._next = 0
        if resume and self.pvd_path.exists():
            self._entries = _read_pvd_entries(self.pvd_path)
            indices = [self._index(f) for _, f in self._entries]
            self._next = max((i for i in indices if i is not None), default=-1) + 1
            logger.info("%s: resuming after %d steps (next index %d)",
                        self.pvd_path, len(self._entries), self._next)

    def _index(self, file: str) -> int | None:
        stem = Path(file).stem
        prefix = f"{self.name}_"
        if stem.startswith(prefix) and stem[len(prefix):].isdigit():
            return int(stem[len(prefix):])
        return None

    @property
    def path(self) -> Path:
        """The collection file (``{name}.pvd``)."""
        return self.pvd_path

    @property
    def steps(self) -> list[tuple[float, Path]]:
        """Recorded ``(time, vtu_path)`` pairs, in order."""
        return [(t, self.directory / f) for t, f in self._entries]

    @property
    def times(self) -> list[float]:
        """Recorded times, in order."""
        return [t for t, _ in self._entries]

    def __enter__(self) -> PVDWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release (every step is complete on disk); for symmetry with XDMF."""

    def write(self, time: float, mesh: Mesh, point_data: Mapping[str, ArrayLike] | None = None,
              cell_data: Mapping[str, ArrayLike] | None = None,
              quadrature_data: Mapping[str, ArrayLike] | None = None,
              basis: Any = None) -> Path:
        """Write one step and update the collection.

        Parameters
        ----------
        time
            Time (or load factor) of the step, the ``timestep`` in the ``.pvd``.
        mesh, point_data, cell_data, basis
            As in :func:`write_vtu`: vertex values, or with ``basis`` DOF
            vectors / all-node values (second-order cells for a P2 basis).
        quadrature_data
            name -> ``(*idx, n_elements, n_qp)`` in scikit-fem's layout,
            reduced by :func:`quadrature_to_cell` and written as cell data.

        Returns
        -------
        Path
            The VTU file written.
        """
        time = float(time)
        if not math.isfinite(time):
            raise ValueError(f"{self.pvd_path}: time must be finite, got {time}")
        cells = step_cell_data(mesh, cell_data, quadrature_data)
        vtu = self.directory / f"{self.name}_{self._next:06d}.vtu"
        write_vtu(vtu, mesh, point_data, cells, basis=basis)
        stale = [t for t, _ in self._entries if t >= time]
        if stale:
            logger.warning("%s: time %g replaces %d recorded steps at times >= %g",
                           self.pvd_path, time, len(stale), time)
            self._entries = [(t, f) for t, f in self._entries if t < time]
        self._entries.append((time, vtu.name))
        self._next += 1
        xml = pvd_xml(self._entries)
        atomic_write(self.pvd_path, lambda tmp: Path(tmp).write_bytes(xml))
        return vtu
