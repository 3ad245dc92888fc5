"""``AdaptiveSurrogate`` from a case-file table.

``[materials.NAME] type = "AdaptiveSurrogate"`` with an ``oracle`` table (an ``RVE`` or a
closed-form material, as elsewhere in ``[materials]``) and the surrogate's settings::

    [materials.all]
    type = "AdaptiveSurrogate"
    tol = 1e-3
    [materials.all.oracle]
    type = "RVE"
    ...

``model = "neural"`` puts the PyTorch energy ensemble (the ``torch`` extra) in place of
the Gaussian process; ``design = { lower = ..., upper = ..., points = 64 }`` trains offline
on a Sobol (or ``method = "lhs"``) design of the oracle's input box before the run.
Optional ``load = "trained"`` reads a surrogate written by
:meth:`AdaptiveSurrogate.save` (``trained.npz`` + ``trained.json``, relative to the case
file's folder) and keeps learning from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .adaptive import AdaptiveSurrogate, sample_box

__all__ = ["SURROGATE_KEYS", "surrogate_from_dict"]

SURROGATE_KEYS: tuple[str, ...] = ("type", "oracle", "model", "tol", "design", "kernel",
                                   "reoptimize_every", "seed", "gradients", "incremental",
                                   "load")


def surrogate_from_dict(spec: Mapping[str, Any], dim: int, base_dir: str | Path = ".",
                        where: str = "AdaptiveSurrogate") -> AdaptiveSurrogate:
    """Build an :class:`AdaptiveSurrogate` (and its wrapped oracle) from a table.

    Errors are one-line ``ValueError`` naming the field under ``where``.
    """
    from fe2.homogenization.spec import rve_from_dict
    from fe2.materials import from_dict as material_from_dict

    unknown = [k for k in spec if k not in SURROGATE_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
                         f"valid names are {', '.join(SURROGATE_KEYS)}")
    inner = spec.get("oracle")
    if not isinstance(inner, Mapping) or "type" not in inner:
        raise ValueError(f"{where}.oracle: expected a material table with a 'type' (an RVE "
                         f"or a material), got {inner!r}")
    if inner["type"] == "RVE":
        oracle = rve_from_dict(inner, dim, base_dir, f"{where}.oracle")
    else:
        try:
            oracle = material_from_dict(dict(inner), dim=dim)
        except ValueError as err:
            raise ValueError(f"{where}.oracle: {err}") from err
    kw = {k: spec[k] for k in ("model", "tol", "kernel", "reoptimize_every", "seed", "gradients",
                               "incremental") if k in spec}
    if spec.get("model") == "neural":
        kw.pop("kernel", None)  # a Gaussian-process setting
        kw.pop("reoptimize_every", None)
    try:
        if spec.get("load"):
            path = Path(base_dir) / str(spec["load"])
            s = AdaptiveSurrogate.load(path, oracle)
            for k, v in kw.items():
                if k == "tol":
                    s.tol = float(v)
            return s
        s = AdaptiveSurrogate(oracle, **kw)
    except (ValueError, FileNotFoundError, ImportError) as err:
        msg = str(err).removeprefix("AdaptiveSurrogate: ").removeprefix("AdaptiveSurrogate.")
        raise ValueError(f"{where}: {msg}") from err
    design = spec.get("design")
    if design:
        lower, upper = np.asarray(design["lower"], float), np.asarray(design["upper"], float)
        if lower.shape != s.input_shape or upper.shape != s.input_shape:
            raise ValueError(f"{where}.design: lower and upper must be shaped like the macro "
                             f"input {s.input_shape}, got {lower.shape} and {upper.shape}")
        if not np.all(upper >= lower):
            raise ValueError(f"{where}.design: expected lower <= upper componentwise, got "
                             f"lower {lower.tolist()} and upper {upper.tolist()}")
        s.fit(sample_box(lower, upper, int(design.get("points", 64)),
                         method=str(design.get("method", "sobol")), seed=int(spec.get("seed", 0))))
    return s
