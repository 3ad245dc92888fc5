"""Micro fields of a solved RVE cell as ParaView files.

:func:`micro_fields` turns a :class:`fe2.homogenization.MicroSolution` into the
point and cell data of its mesh; :func:`write_micro_solution` writes them as one
VTU file (through :func:`fe2.io.write_vtu`). :meth:`fe2.homogenization.RVE.write_vtu`
solves the chosen macro points and calls it once per point.

Names by measure (point data: the total field and ``"fluctuation"``; cell data:
``"phase"`` and the element averages of the micro measure and flux):

=======================  ================  ========================  ==========================
measure                  total field       measure                   flux
=======================  ================  ========================  ==========================
``gradient``             ``u``             ``gradient``              ``flux``
``strain``               ``displacement``  ``strain``                ``stress``
``deformation_gradient`` ``displacement``  ``deformation_gradient``  ``first_piola_kirchhoff``
=======================  ================  ========================  ==========================
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FIELD_NAMES", "micro_fields", "write_micro_solution"]

FIELD_NAMES: dict[str, tuple[str, str, str]] = {
    "gradient": ("u", "gradient", "flux"),
    "strain": ("displacement", "strain", "stress"),
    "deformation_gradient": ("displacement", "deformation_gradient", "first_piola_kirchhoff"),
}


def micro_fields(sol: Any, measure: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Point and cell data of a solved cell.

    Parameters
    ----------
    sol : fe2.homogenization.MicroSolution
        From :meth:`fe2.homogenization.RVE.solve`.
    measure : {"gradient", "strain", "deformation_gradient"}
        The RVE's measure (selects the names, see the module docs).

    Returns
    -------
    point_data : dict
        Total field and ``"fluctuation"`` at the mesh vertices: ``(n_vertices,)``
        (scalar) or ``(n_vertices, d)``.
    cell_data : dict
        ``"phase" (n_el,)`` and the element averages of measure and flux
        ``(n_el, *idx)``.
    """
    if measure not in FIELD_NAMES:
        raise ValueError(
            f"micro_fields: measure must be one of {', '.join(map(repr, FIELD_NAMES))}, "
            f"got {measure!r}"
        )
    total, mname, fname = FIELD_NAMES[measure]
    wq = sol.dx / sol.dx.sum(axis=1, keepdims=True)
    cell = {
        mname: np.moveaxis(np.einsum("...eq,eq->...e", sol.measure, wq), -1, 0),
        fname: np.moveaxis(np.einsum("...eq,eq->...e", sol.flux, wq), -1, 0),
        "phase": sol.phase,
    }
    nodal = np.asarray(sol.basis.nodal_dofs)
    point = {total: sol.u[nodal].T, "fluctuation": sol.w[nodal].T}
    if measure == "gradient":
        point = {k: v[:, 0] for k, v in point.items()}
    return point, cell


def write_micro_solution(path: str | PathLike, sol: Any, measure: str) -> Path:
    """Write the micro fields of one solved cell (:func:`micro_fields`) to the VTU ``path``."""
    from fe2.io import write_vtu

    point, cell = micro_fields(sol, measure)
    return write_vtu(Path(path), sol.basis.mesh, point_data=point, cell_data=cell)
