"""Micro fields of macro quadrature points: one VTU per point plus a ``.vtm`` multiblock.

:func:`write_micro_fields` asks the micro oracle of each chosen macro
quadrature point of a solved :class:`fe2.macro.Problem` (an
:class:`fe2.homogenization.RVE`, through its public ``write_vtu``) to solve
the point again with its committed history and write its micro fields:
displacement (or temperature) and fluctuation at the micro nodes, phase and
the element averages of the micro measure and flux. The files are
``{name}_e{element}_q{point}.vtu`` (global element numbering) and
``{name}.vtm``, a ParaView multiblock that names every block
``element E, point Q``. The RVEs all live in their own cell coordinates, so
the blocks overlap in space: show one at a time (ParaView: *Extract Block*).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from .vtk import atomic_write

__all__ = ["write_micro_fields", "select_micro_points", "micro_writer"]

log = logging.getLogger(__name__)


def micro_writer(oracle: Any) -> Any:
    """The object whose ``write_vtu`` writes the micro fields of ``oracle``.

    ``oracle`` itself when it has ``write_vtu`` (an RVE); else the wrapped
    oracle of a wrapper that keeps it as ``.oracle`` (counters, caches);
    None when there is none (closed-form laws have no micro fields).
    """
    seen = 0
    while oracle is not None and seen < 8:
        if callable(getattr(oracle, "write_vtu", None)):
            return oracle
        oracle = getattr(oracle, "oracle", None)
        seen += 1
    return None


def _vtm(entries: list[tuple[str, str]]) -> bytes:
    root = ET.Element("VTKFile", type="vtkMultiBlockDataSet", version="1.0",
                      byte_order="LittleEndian")
    mb = ET.SubElement(root, "vtkMultiBlockDataSet")
    for k, (label, file) in enumerate(entries):
        ET.SubElement(mb, "DataSet", index=str(k), name=label, file=file)
    ET.indent(root)
    return b'<?xml version="1.0"?>\n' + ET.tostring(root) + b"\n"


def select_micro_points(problem: Any, points: Sequence[tuple[int, int]] | str | None = None
                        ) -> list[tuple[int, int]]:
    """The macro points ``(element, quadrature point)`` whose micro fields would be written.

    ``points`` as in :func:`write_micro_fields`. Needs only the mesh and the oracles, so a
    caller can check its points before solving. Raises ``ValueError`` naming a point
    outside the mesh or the quadrature rule, or one whose oracle has no micro fields.
    """
    return _select(problem, points)[0]


def _select(problem: Any, points):
    """(chosen points, region of each element, micro writer of each region)."""
    nel, nqp = problem.mesh.nelements, problem.op.nqp
    owner = np.full(nel, -1, dtype=np.int64)  # region of each element
    writers = []
    for k, r in enumerate(problem.regions):
        owner[np.asarray(r.elements)] = k
        writers.append(micro_writer(r.oracle))
    if points is None or (isinstance(points, str) and points == "all"):
        chosen = [(e, q) for e in range(nel) if writers[owner[e]] is not None
                  for q in range(nqp)]
        if not chosen:
            raise ValueError("no macro point has micro fields (the oracles have no "
                             "write_vtu: closed-form materials)")
    elif isinstance(points, str):
        raise ValueError(f"micro points must be 'all' or a list of [element, point] pairs, "
                         f"got {points!r}")
    else:
        chosen = []
        for p in points:
            if (len(p) != 2 or any(isinstance(i, bool) or not isinstance(i, int | np.integer)
                                   for i in p)):
                raise ValueError(f"micro point {p!r}: expected a pair [element, point] of "
                                 "integers")
            e, q = int(p[0]), int(p[1])
            if not 0 <= e < nel:
                raise ValueError(f"micro point ({e}, {q}): element {e} is outside 0..{nel - 1}")
            if not 0 <= q < nqp:
                raise ValueError(f"micro point ({e}, {q}): quadrature point {q} is outside "
                                 f"0..{nqp - 1}")
            if writers[owner[e]] is None:
                r = problem.regions[owner[e]]
                raise ValueError(f"micro point ({e}, {q}): the oracle of {r.name!r} "
                                 f"({type(r.oracle).__name__}) has no micro fields")
            chosen.append((e, q))
    return chosen, owner, writers


def write_micro_fields(problem: Any, directory: str | PathLike,
                       points: Sequence[tuple[int, int]] | str | None = None,
                       name: str = "rve") -> Path:
    """Write the micro fields of chosen macro quadrature points of a solved problem.

    Parameters
    ----------
    problem : fe2.macro.Problem
        After a converged :meth:`~fe2.macro.Problem.solve`: the macro measure
        at the current solution and the committed micro histories are used.
    directory : path
        Output folder (created if missing).
    points : sequence of (element, quadrature point), "all" or None
        Global element index and quadrature point index of each macro point;
        None or ``"all"``: every quadrature point of every element whose
        oracle has micro fields.
    name : str
        Base name of the files.

    Returns
    -------
    Path
        The ``{name}.vtm`` multiblock file (its blocks: the VTU files).

    Raises
    ------
    ValueError
        Before anything is written: a point outside the mesh or the
        quadrature rule (named), or a point whose oracle has no micro fields.
    """
    directory = Path(directory)
    nel = problem.mesh.nelements
    chosen, owner, writers = _select(problem, points)
    g = problem.op.measure(problem.u)  # (*idx, n_elements, n_qp)
    local = np.empty(nel, dtype=np.int64)
    for r in problem.regions:
        local[np.asarray(r.elements)] = np.arange(len(r.elements))
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for e, q in chosen:
        r = problem.regions[owner[e]]
        committed = r.state.committed
        state = None if committed is None else {
            k: np.asarray(v)[..., local[e], q] for k, v in committed.items()}
        file = directory / f"{name}_e{e}_q{q}.vtu"
        writers[owner[e]].write_vtu(file, g[..., e, q], state=state)
        entries.append((f"element {e}, point {q}", file.name))
    vtm = directory / f"{name}.vtm"
    xml = _vtm(entries)
    atomic_write(vtm, lambda tmp: Path(tmp).write_bytes(xml))
    log.info("%s: micro fields of %d macro points", vtm, len(entries))
    return vtm
