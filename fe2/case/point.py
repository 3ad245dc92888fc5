"""Running a ``kind = "material_point"`` case: one oracle under a prescribed path.

The case names one material (any of :mod:`fe2.materials` or an RVE table) and
a ``[point]`` section::

    [problem]
    kind = "material_point"

    [materials.steel]
    type = "J2Plasticity"
    E = 200e3
    nu = 0.3
    sigma_y = 250.0
    H_kin = 2000.0

    [point]
    dim = 3                                  # 2: plane strain for elasticity
    strain = { 11 = [0.004, -0.004, 0.004] } # eps_11 at t = 1, 2, 3 (cyclic)
    # stress = { 22 = ... }                  # prescribed stresses; unlisted: zero
    steps = 20                               # increments per segment

It writes ``summary.json`` (the path and the final state), ``path.csv`` and
``path.npz`` (``t``, ``input``, ``flux`` per increment) and, with
``[output] png = true``, ``stress_strain.png``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from fe2.case.models import Case, CaseError
from fe2.case.run import check_output
from fe2.case.staging import staged_folder

__all__ = ["run_point", "point_oracle", "point_path"]

log = logging.getLogger(__name__)


def point_oracle(case: Case) -> Any:
    """The oracle of the one ``[materials.NAME]`` of a material-point case."""
    from fe2 import materials
    from fe2.homogenization.spec import rve_from_dict

    (name, spec), = case.material_tables().items()
    dim = case.point.dim
    try:
        if spec.get("type") == "AdaptiveSurrogate":
            from fe2.surrogate.spec import surrogate_from_dict

            return surrogate_from_dict(spec, dim, case.base_dir, f"materials.{name}")
        if spec.get("type") == "RVE":
            return rve_from_dict(spec, dim, case.base_dir, f"materials.{name}")
        return materials.from_dict(spec, dim=dim)
    except (ValueError, TypeError) as err:
        where = "" if str(err).startswith(f"materials.{name}") else f"materials.{name}: "
        raise CaseError(f"{case.path}: {where}{err}") from err


def point_path(case: Case, oracle: Any):
    """The :class:`fe2.macro.material_point.LoadPath` of ``[point]``."""
    from fe2.macro.material_point import LoadPath

    pt = case.point
    try:
        return LoadPath.from_components(oracle.measure, oracle.dim, strain=pt.strain,
                                        stress=pt.stress, steps=pt.steps)
    except ValueError as err:
        raise CaseError(f"{case.path}: point: {str(err).removeprefix('LoadPath: ')}") from err


def run_point(case: Case, out: str | os.PathLike, force: bool = False) -> dict:
    """Run a material-point case into ``out`` (replaced only on success); returns the summary."""
    from fe2 import __version__
    from fe2.macro.material_point import MaterialPointError, drive

    out = check_output(out, force=force, protect=(case.path,))
    oracle = point_oracle(case)
    path = point_path(case, oracle)
    t0 = time.perf_counter()
    with staged_folder(out) as tmp:
        log.info("case %s: material point, %s (%s), %d load point(s), %d steps each",
                 case.path, type(oracle).__name__, oracle.measure, len(path.values), path.steps)
        pt = case.point
        try:
            res = drive(oracle, path, rtol=pt.rtol, max_iter=pt.max_iter,
                        max_cutbacks=pt.max_cutbacks)
        except MaterialPointError as err:
            from fe2.macro import ConvergenceError

            raise ConvergenceError(str(err)) from err
        outputs = ["path.npz", "path.csv"]
        np.savez(tmp / "path.npz", t=res.t, input=res.input, flux=res.flux,
                 iterations=res.iterations, control=path.control)
        shape = path.control.shape
        names = ["".join(str(i + 1) for i in idx) for idx in np.ndindex(*shape)]
        head = ["t"] + [f"g{n}" for n in names] + [f"flux{n}" for n in names] + ["iterations"]
        rows = np.column_stack([res.t, res.input.reshape(len(res.t), -1),
                                res.flux.reshape(len(res.t), -1), res.iterations])
        np.savetxt(tmp / "path.csv", rows, delimiter=",", header=",".join(head), comments="")
        if case.output.png:
            _plot(tmp / "stress_strain.png", res, path, case.path.stem)
            outputs.append("stress_strain.png")
        summary = {
            "fe2_version": __version__,
            "case": str(case.path),
            "kind": "material_point",
            "oracle": type(oracle).__name__,
            "measure": oracle.measure,
            "control": path.control.tolist(),
            "increments": int(len(res.t) - 1),
            "cutbacks": int(res.cutbacks),
            "final": {"t": float(res.t[-1]), "input": res.input[-1].tolist(),
                      "stress" if oracle.measure != "gradient" else "flux":
                          res.flux[-1].tolist()},
            "path": res.to_dict(),
            "wall_seconds": time.perf_counter() - t0,
            "outputs": outputs,
        }
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        summary["outputs"].append("summary.json")
    return summary


def _plot(file: Path, res, path, title: str) -> None:
    """Flux against input of every component that moves (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    g = res.input.reshape(len(res.t), -1) - path.start.ravel()
    f = res.flux.reshape(len(res.t), -1)
    shape = path.control.shape
    for k, idx in enumerate(np.ndindex(*shape)):
        if path.measure == "strain" and idx[0] > idx[1]:
            continue
        if path.control[idx] and np.ptp(f[:, k]) > 0:
            name = "".join(str(i + 1) for i in idx)
            ax.plot(g[:, k], f[:, k], ".-", ms=3, label=name)
    ax.set_xlabel({"strain": "strain", "deformation_gradient": "F - I"}.get(path.measure,
                                                                           "gradient"))
    ax.set_ylabel({"strain": "stress", "deformation_gradient": "P"}.get(path.measure, "flux"))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(title="component")
    fig.tight_layout()
    fig.savefig(file, dpi=120)
    plt.close(fig)
