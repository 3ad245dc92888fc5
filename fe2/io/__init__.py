"""Input and output: meshes in, ParaView files and pictures out.

- :func:`read_mesh` reads any meshio format (gmsh ``.msh`` with physical
  groups) into a linear scikit-fem mesh with named ``boundaries`` and
  ``subdomains``; :func:`boundary_facets` and :func:`subdomain_elements`
  look names up with errors that list the known ones.
- :func:`write_vtu` and :class:`PVDWriter` write VTU files and ``.pvd`` time
  series (point data, cell data, quadrature data reduced by
  :func:`quadrature_to_cell`); :func:`read_pvd` reads a collection back.
- :class:`XDMFWriter` writes the same time series as XDMF + HDF5 (one mesh,
  one ``.h5``), :func:`read_xdmf` reads it back; :func:`time_series_writer`
  picks ``"pvd"`` or ``"xdmf"`` by name. With ``basis=`` a P2 field is
  written with second-order cells at all its nodes (:func:`lagrange_nodes`).
- :func:`write_micro_fields` writes the RVE micro fields of chosen (or all)
  macro quadrature points of a solved problem: one VTU each and a ``.vtm``.
- :class:`Progress`: a tqdm bar on a terminal, plain lines otherwise.
- :func:`render_png` and :func:`render_voxels_png` make off-screen pyvista
  pictures (pyvista is imported only when they are called).
"""

from .mesh import MeshError, boundary_facets, read_mesh, subdomain_elements
from .micro import select_micro_points, write_micro_fields
from .progress import Progress
from .records import jsonable
from .render import render_png, render_voxels_png
from .vtk import (
    PVDWriter,
    lagrange_nodes,
    nodal_values,
    quadrature_to_cell,
    read_pvd,
    write_vtu,
)
from .xdmf import XDMFStep, XDMFWriter, read_xdmf, time_series_writer

__all__ = [
    "jsonable",
    "read_mesh",
    "MeshError",
    "boundary_facets",
    "subdomain_elements",
    "write_vtu",
    "PVDWriter",
    "read_pvd",
    "quadrature_to_cell",
    "render_png",
    "render_voxels_png",
    "Progress",
    "XDMFWriter",
    "XDMFStep",
    "read_xdmf",
    "time_series_writer",
    "lagrange_nodes",
    "nodal_values",
    "write_micro_fields",
    "select_micro_points",
]
