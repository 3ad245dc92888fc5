"""Micro oracles from plain tables (TOML case files).

An RVE material in a case file::

    [materials.plate]
    type = "RVE"
    bc = "periodic"                  # kubc | tubc | periodic
    cell = { type = "circular_inclusion", volume_fraction = 0.3, mesh_size = 0.08 }
    phases = [
        { type = "J2Plasticity", E = 3.5e3, nu = 0.35, sigma_y = 60.0, H_iso = 200.0 },
        { type = "LinearElastic", E = 70e3, nu = 0.22 },
    ]
    # optional: order, intorder, rtol, max_iter, mixed, mixed_flux, predictor

``cell.type`` is a generator of :mod:`fe2.homogenization.cells` (``laminate``,
``checkerboard``, ``circular_inclusion``, ``inclusions``, ``random_inclusions``)
with its parameters, ``"image"`` with ``file`` (a ``.npy`` array of phase ids) and
optional ``size``, or ``"mesh"`` with ``file`` (any mesh :func:`fe2.io.read_mesh`
reads) and optional ``phases`` (subdomain names in phase order). Relative file
names are taken from ``base_dir`` (the case file's folder). ``dim`` of the
generators is filled in from the macro problem.

Mixed stress/strain control: ``mixed`` is a boolean mask shaped like the macro
input (nested lists, e.g. ``[[false, false], [false, true]]`` for a 2D strain:
the stress ``sigma_22`` is prescribed instead of ``eps_22``), ``mixed_flux``
the prescribed values (same shape, default 0; a case file scales them with the
load factor), ``predictor = "elastic"`` the elastic predictor of
:class:`fe2.homogenization.RVE`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CELL_TYPES", "cell_from_dict", "rve_from_dict"]

CELL_TYPES = ("laminate", "checkerboard", "circular_inclusion", "inclusions",
              "random_inclusions", "image", "mesh")
_OPTIONS = ("bc", "order", "intorder", "rtol", "max_iter", "mixed", "mixed_flux", "predictor")
_RVE_KEYS = ("type", "cell", "phases", *_OPTIONS)


def _call(func, kwargs: dict, where: str):
    params = inspect.signature(func).parameters
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise ValueError(
            f"{where}: unknown parameter(s) {', '.join(map(repr, unknown))}; valid names are "
            f"{', '.join(p for p in params)}"
        )
    missing = [n for n, p in params.items()
               if p.default is inspect.Parameter.empty and n not in kwargs]
    if missing:
        raise ValueError(f"{where}: missing parameter(s) {', '.join(map(repr, missing))}")
    return func(**kwargs)


def cell_from_dict(spec: Mapping[str, Any], dim: int, base_dir: str | Path = ".",
                   where: str = "cell"):
    """Build a :class:`fe2.homogenization.cells.Cell` from a table (see the module notes).

    Parameters
    ----------
    spec : mapping
        ``{"type": <generator>, <parameter>: <value>, ...}``.
    dim : int
        Space dimension (2 or 3) of the macro problem.
    base_dir : path
        Folder relative file names are resolved against.
    where : str
        Prefix of error messages (e.g. ``"materials.plate.cell"``).

    Raises
    ------
    ValueError
        Unknown type or parameter, missing file, or a cell whose dimension is
        not ``dim``.
    """
    from fe2.homogenization import cells

    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ValueError(f"{where}: needs a table with a 'type', one of {', '.join(CELL_TYPES)}")
    kwargs = dict(spec)
    kind = kwargs.pop("type")
    if kind not in CELL_TYPES:
        raise ValueError(f"{where}.type = {kind!r}; expected one of {', '.join(CELL_TYPES)}")
    if kind in ("image", "mesh"):
        if "file" not in kwargs:
            raise ValueError(f"{where}: type {kind!r} needs a 'file'")
        path = Path(kwargs.pop("file"))
        if not path.is_absolute():
            path = Path(base_dir) / path
        if not path.is_file():
            raise ValueError(f"{where}.file: file not found: {path}")
        if kind == "image":
            cell = _call(cells.from_image, {"array": np.load(path), **kwargs}, where)
        else:
            cell = _call(cells.from_mesh, {"source": path, **kwargs}, where)
    else:
        func = getattr(cells, kind)
        if "dim" in inspect.signature(func).parameters:
            kwargs.setdefault("dim", dim)
        cell = _call(func, kwargs, where)
    if cell.dim != dim:
        raise ValueError(f"{where}: the cell is {cell.dim}D but the macro problem is {dim}D")
    return cell


def rve_from_dict(spec: Mapping[str, Any], dim: int, base_dir: str | Path = ".",
                  where: str = "RVE"):
    """Build a :class:`fe2.homogenization.RVE` from a table (see the module notes).

    ``phases`` is a list of material tables (:func:`fe2.materials.from_dict`),
    indexed by phase id. Errors name the offending field under ``where``.
    """
    from fe2.homogenization.rve import RVE
    from fe2.materials import from_dict as material_from_dict

    unknown = [k for k in spec if k not in _RVE_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
                         f"valid names are {', '.join(_RVE_KEYS)}")
    for key in ("cell", "phases"):
        if key not in spec:
            raise ValueError(f"{where}: missing field {key!r}")
    phases = spec["phases"]
    if not isinstance(phases, list) or not phases:
        raise ValueError(f"{where}.phases: expected a non-empty list of material tables")
    mats = []
    for i, p in enumerate(phases):
        try:
            mats.append(material_from_dict(p, dim=dim))
        except ValueError as err:
            raise ValueError(f"{where}.phases[{i}]: {err}") from err
    cell = cell_from_dict(spec["cell"], dim, base_dir, where=f"{where}.cell")
    opts = {k: spec[k] for k in _OPTIONS if k in spec}
    for key in ("mixed", "mixed_flux"):
        if opts.get(key) is not None:
            opts[key] = np.asarray(opts[key])
    try:
        return RVE(cell, mats, **opts)
    except ValueError as err:
        msg = str(err).removeprefix("RVE: ")
        raise ValueError(f"{where}: {msg}") from err
