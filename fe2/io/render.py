"""Off-screen pictures with pyvista: deformed macro bodies and voxel RVEs.

pyvista (and VTK) are imported inside the functions, so ``import fe2.io``
stays light and works where no renderer is installed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh

from .vtk import atomic_write, vtk_array, vtk_cells

__all__ = ["render_png", "render_voxels_png"]

_VTK_CELL = {"triangle": 5, "quad": 9, "tetra": 10, "hexahedron": 12}
_EDGES_UP_TO = 20_000  # draw element edges for meshes with at most this many cells



def _pyvista():
    """Pyvista for off-screen rendering.

    Without an X display VTK would first try an X window (and log a warning) before falling
    back; on a headless machine it renders through EGL directly (Debian's libegl1, present
    on the machines fe2 runs on), unless VTK_DEFAULT_OPENGL_WINDOW says otherwise.
    """
    if not os.environ.get("DISPLAY") and "VTK_DEFAULT_OPENGL_WINDOW" not in os.environ:
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"
    import pyvista as pv

    pv.OFF_SCREEN = True
    return pv

def _norm(a: NDArray) -> NDArray:
    """Scalars to colour by: the value, or the Euclidean norm of vector/tensor rows."""
    return a.astype(np.float64) if a.ndim == 1 else np.linalg.norm(a.reshape(a.shape[0], -1),
                                                                    axis=1)


def _pick(scalars: str | None, point_data: Mapping, cell_data: Mapping
          ) -> tuple[str | None, str | None]:
    """Return (field name, 'point' | 'cell') to colour by."""
    if scalars is None:
        if point_data:
            return next(iter(point_data)), "point"
        if cell_data:
            return next(iter(cell_data)), "cell"
        return None, None
    if scalars in point_data:
        return scalars, "point"
    if scalars in cell_data:
        return scalars, "cell"
    known = ", ".join([*point_data, *cell_data]) or "(none)"
    raise ValueError(f"unknown field '{scalars}' to colour by; point and cell data: {known}")


def _bar(title: str) -> dict:
    """Vertical scalar bar on the right, clear of the body."""
    return {"title": title, "color": "black", "vertical": True, "position_x": 0.86,
            "position_y": 0.1, "height": 0.8, "width": 0.06, "title_font_size": 18,
            "label_font_size": 14, "fmt": "%.3g"}


def _screenshot(plotter, path: Path) -> None:
    try:
        atomic_write(path, lambda tmp: plotter.screenshot(tmp))
    finally:
        plotter.close()


def render_png(path: str | PathLike, mesh: Mesh,
               point_data: Mapping[str, ArrayLike] | None = None,
               scalars: str | None = None,
               displacement: ArrayLike | str | None = None,
               scale: float = 1.0,
               cell_data: Mapping[str, ArrayLike] | None = None,
               title: str | None = None,
               window_size: Sequence[int] = (1200, 900)) -> Path:
    """Render ``mesh`` (optionally deformed and coloured) to a PNG, off-screen.

    Parameters
    ----------
    path
        Output ``.png`` file.
    mesh
        Linear scikit-fem mesh (triangles, quads, tetrahedra, hexahedra).
    point_data, cell_data
        Fields in the layout of :func:`fe2.io.write_vtu`: ``(n_vertices, ...)``
        and ``(n_elements, ...)``, points first.
    scalars
        Name of the point or cell field to colour by (with a scalar bar);
        vectors and tensors are coloured by their norm.  Default: the first
        point field, else the first cell field, else plain grey.
    displacement
        ``(n_vertices, d)`` vertex displacements, or the name of such a point
        field; the body is drawn at ``x + scale * displacement`` with the
        undeformed outline in grey.
    scale
        Displacement magnification.
    title
        Text in the upper left corner.
    window_size
        Image size in pixels ``(width, height)``.

    Returns
    -------
    Path
        ``path``.  2D meshes are viewed from +z, 3D meshes isometrically.
    """
    pv = _pyvista()
    path = Path(path)
    dim = mesh.dim()
    cell_type, cells = vtk_cells(mesh)
    n_v, n_el = mesh.p.shape[1], cells.shape[0]
    pdata = {k: vtk_array(k, v, n_v, dim, "point data") for k, v in (point_data or {}).items()}
    cdata = {k: vtk_array(k, v, n_el, dim, "cell data") for k, v in (cell_data or {}).items()}

    points = np.zeros((n_v, 3))
    points[:, :dim] = np.asarray(mesh.p).T
    conn = np.hstack([np.full((n_el, 1), cells.shape[1]), cells]).ravel()
    celltypes = np.full(n_el, _VTK_CELL[cell_type], dtype=np.uint8)
    undeformed = pv.UnstructuredGrid(conn, celltypes, points)

    grid = undeformed.copy()
    if displacement is not None:
        if isinstance(displacement, str):
            if displacement not in pdata:
                raise ValueError(f"displacement field '{displacement}' is not in point_data; "
                                 f"point data: {', '.join(pdata) or '(none)'}")
            disp = pdata[displacement]
        else:
            disp = vtk_array("displacement", displacement, n_v, dim, "point data")
        if disp.ndim != 2 or disp.shape[1] != 3:
            raise ValueError(f"displacement has shape {np.shape(displacement)}; expected "
                             f"({n_v}, {dim})")
        grid.points = points + scale * disp.astype(np.float64)

    field, where = _pick(scalars, pdata, cdata)
    label = None
    if field is not None:
        values = (pdata if where == "point" else cdata)[field]
        label = field if values.ndim == 1 else f"|{field}|"
        target = grid.point_data if where == "point" else grid.cell_data
        target[label] = _norm(values)

    plotter = pv.Plotter(off_screen=True, window_size=list(window_size))
    plotter.set_background("white")
    style = {"show_edges": n_el <= _EDGES_UP_TO, "edge_color": "black", "line_width": 0.5,
             "lighting": dim == 3}  # true colours for flat 2D pictures
    if label is None:
        plotter.add_mesh(grid, color="lightgray", **style)
    else:
        plotter.add_mesh(grid, scalars=label, cmap="viridis", **style,
                         scalar_bar_args=_bar(label))
    if displacement is not None:
        with warnings.catch_warnings():  # pyvista >= 0.47 warns about a future default
            warnings.simplefilter("ignore")
            surface = undeformed.extract_surface()
        outline = surface.extract_feature_edges(
            boundary_edges=True, feature_edges=dim == 3, manifold_edges=False,
            non_manifold_edges=False)
        plotter.add_mesh(outline, color="gray", line_width=2)
    if title:
        plotter.add_text(title, position="upper_left", font_size=12, color="black")
    if dim == 2:
        plotter.view_xy()
    else:
        plotter.view_isometric()
        plotter.add_axes(color="black")
    _screenshot(plotter, path)
    return path


def render_voxels_png(path: str | PathLike, image: ArrayLike, title: str | None = None,
                      hide_phases: Sequence[int] = (), cmap: str = "tab10",
                      window_size: Sequence[int] = (900, 900)) -> Path:
    """Render a voxel image of phase ids to a PNG, off-screen.

    Parameters
    ----------
    path
        Output ``.png`` file.
    image
        ``(nx, ny)`` or ``(nx, ny, nz)`` integer (or boolean) phase ids;
        ``image[i, j, k]`` is the voxel at x index i, y index j, z index k.
        The image is drawn in the unit square/cube.
    title
        Text in the upper left corner.
    hide_phases
        Phase ids not drawn (e.g. the matrix, to see 3D inclusions).
    cmap
        Colour map for the phases (categorical, one colour per phase present).
    window_size
        Image size in pixels ``(width, height)``.

    Returns
    -------
    Path
        ``path``.  2D images are viewed from +z, 3D images isometrically.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.size == 0:
        raise ValueError(f"voxel image has shape {img.shape}; expected (nx, ny) or (nx, ny, nz)")
    if not (img.dtype == bool or np.issubdtype(img.dtype, np.integer)):
        raise ValueError(f"voxel image has dtype {img.dtype}; expected integer phase ids")
    pv = _pyvista()
    path = Path(path)
    img = img.astype(np.int64)
    h = 1.0 / max(img.shape)
    dims = [n + 1 for n in img.shape] + [1] * (3 - img.ndim)  # points per axis
    grid = pv.ImageData(dimensions=dims, spacing=(h, h, h))
    phases, index = np.unique(img.ravel(order="F"), return_inverse=True)
    grid.cell_data["phase"] = index.ravel()  # colour by position in `phases`: any ids work
    shown = grid
    hidden = np.isin(img.ravel(order="F"), np.asarray(hide_phases, dtype=np.int64))
    if hidden.all():
        raise ValueError(f"hide_phases={list(hide_phases)} hides every voxel")
    if hidden.any():
        shown = grid.extract_cells(np.nonzero(~hidden)[0])

    plotter = pv.Plotter(off_screen=True, window_size=list(window_size))
    plotter.set_background("white")
    bar = _bar("phase") | {"n_labels": 0, "fmt": "%.0f"}
    plotter.add_mesh(shown, scalars="phase", n_colors=len(phases), cmap=cmap,
                     clim=[-0.5, len(phases) - 0.5], show_edges=img.size <= _EDGES_UP_TO,
                     edge_color="black", line_width=0.5, lighting=img.ndim == 3,
                     annotations={float(i): str(p) for i, p in enumerate(phases)},
                     scalar_bar_args=bar)
    if title:
        plotter.add_text(title, position="upper_left", font_size=12, color="black")
    if img.ndim == 2:
        plotter.view_xy()
    else:
        plotter.view_isometric()
        plotter.add_axes(color="black")
    _screenshot(plotter, path)
    return path
