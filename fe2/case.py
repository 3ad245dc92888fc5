"""Cases: a macro problem described in a TOML file, validated before anything runs.

A case file names the mesh, the problem kind, one material per subdomain (or
``all``), boundary conditions, Newton and solver options, and what to write.
See ``examples/cases/*.toml`` and the README for the fields. Every field is
checked against :data:`SCHEMA`; a misspelt, missing or mistyped field raises
:class:`CaseError` naming the file and the field.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CaseError", "Case", "load_case", "run_case", "SCHEMA"]

log = logging.getLogger(__name__)

REQUIRED = object()
NUMBER = (int, float)


class CaseError(ValueError):
    """A case file that cannot be run as written."""


# section -> field -> (types, default); a list-of-tables section is written [[name]]
SCHEMA: dict[str, dict[str, tuple[Any, Any]]] = {
    "mesh": {"file": (str, REQUIRED), "order": (int, 1), "intorder": (int, None)},
    "problem": {"kind": (str, REQUIRED)},
    "dirichlet": {"boundary": (str, REQUIRED), "value": ((*NUMBER, list), 0.0),
                  "components": (list, None)},
    "neumann": {"boundary": (str, REQUIRED), "value": ((*NUMBER, list), REQUIRED)},
    "body": {"value": ((*NUMBER, list), REQUIRED), "subdomain": (str, None)},
    "newton": {"rtol": (NUMBER, 1e-9), "atol": (NUMBER, 1e-12), "max_iter": (int, 25),
               "steps": (int, 1), "max_cutbacks": (int, 8), "grow": (NUMBER, 1.5)},
    "solver": {"type": (str, "scipy"), "prefix": (str, "macro_"), "options": (dict, None)},
    "output": {"vtu": (bool, True), "png": (bool, True), "scalars": (str, None),
               "warp": (NUMBER, 1.0), "reactions": (list, None), "curve": (dict, None)},
    "parallel": {"workers": (int, 0)},
}
LIST_SECTIONS = {"dirichlet", "neumann", "body"}
KINDS = ("scalar", "small_strain", "finite_strain")


@dataclass
class Case:
    """A validated case: plain data, every default filled in."""

    path: Path
    mesh: dict
    problem: dict
    materials: dict
    dirichlet: list
    neumann: list
    body: list
    newton: dict
    solver: dict
    output: dict
    parallel: dict


def _type_name(t: Any) -> str:
    if isinstance(t, tuple):
        return " or ".join(sorted({x.__name__ for x in t}))
    return t.__name__


def _check_table(path: Path, where: str, table: Any, schema: dict) -> dict:
    if not isinstance(table, dict):
        raise CaseError(f"{path}: field '{where}' must be a table, got {type(table).__name__}")
    unknown = sorted(set(table) - set(schema))
    if unknown:
        raise CaseError(
            f"{path}: unknown field '{where}.{unknown[0]}'; valid fields of [{where}]: "
            f"{', '.join(schema)}"
        )
    out = {}
    for key, (types, default) in schema.items():
        if key not in table:
            if default is REQUIRED:
                raise CaseError(f"{path}: missing field '{where}.{key}'")
            out[key] = default
            continue
        val = table[key]
        if isinstance(val, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            raise CaseError(
                f"{path}: field '{where}.{key}' must be {_type_name(types)}, got bool {val!r}"
            )
        if not isinstance(val, types):
            raise CaseError(
                f"{path}: field '{where}.{key}' must be {_type_name(types)}, "
                f"got {type(val).__name__} {val!r}"
            )
        out[key] = val
    return out


def load_case(path: str | os.PathLike) -> Case:
    """Read and validate a case file (no mesh or material is built yet)."""
    path = Path(path)
    if not path.is_file():
        raise CaseError(f"case file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise CaseError(f"{path}: not valid TOML: {err}") from err
    known = set(SCHEMA) | {"materials"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CaseError(
            f"{path}: unknown section '{unknown[0]}'; valid sections: {', '.join(sorted(known))}"
        )
    parts: dict[str, Any] = {}
    for sec, schema in SCHEMA.items():
        if sec in LIST_SECTIONS:
            items = raw.get(sec, [])
            if not isinstance(items, list):
                raise CaseError(f"{path}: '{sec}' must be a list of tables, written [[{sec}]]")
            parts[sec] = [_check_table(path, f"{sec}[{i}]", t, schema) for i, t in enumerate(items)]
        else:
            if sec in ("mesh", "problem") and sec not in raw:
                raise CaseError(f"{path}: missing section [{sec}]")
            parts[sec] = _check_table(path, sec, raw.get(sec, {}), schema)
    if parts["problem"]["kind"] not in KINDS:
        raise CaseError(
            f"{path}: field 'problem.kind' is {parts['problem']['kind']!r}; "
            f"expected one of {', '.join(KINDS)}"
        )
    mats = raw.get("materials")
    if not isinstance(mats, dict) or not mats:
        raise CaseError(
            f"{path}: missing section [materials.NAME] (NAME a subdomain of the mesh, or 'all')"
        )
    for name, spec in mats.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise CaseError(f"{path}: missing field 'materials.{name}.type'")
    if "all" in mats and len(mats) > 1:
        raise CaseError(f"{path}: 'materials.all' cannot be combined with other materials")
    mesh_file = Path(parts["mesh"]["file"])
    if not mesh_file.is_absolute():
        mesh_file = (path.parent / mesh_file).resolve()
    parts["mesh"]["file"] = str(mesh_file)
    if parts["mesh"]["order"] not in (1, 2):
        raise CaseError(f"{path}: field 'mesh.order' must be 1 or 2, got {parts['mesh']['order']}")
    return Case(path=path, materials=mats, **parts)


def _build_oracles(case: Case, dim: int) -> Any:
    from . import materials

    out = {}
    for name, spec in case.materials.items():
        try:
            if spec.get("type") == "RVE":
                from .micro.spec import rve_from_dict

                out[name] = rve_from_dict(spec, dim, case.path.parent, f"materials.{name}")
            else:
                out[name] = materials.from_dict(dict(spec), dim=dim)
        except (ValueError, TypeError) as err:
            where = "" if str(err).startswith(f"materials.{name}") else f"materials.{name}: "
            raise CaseError(f"{case.path}: {where}{err}") from err
    return out["all"] if "all" in out else out


def build_problem(case: Case):
    """Mesh, oracles, loads and solver of a case, as a :class:`fe2.macro.Problem`."""
    from .io import read_mesh
    from .linalg import make_solver
    from .macro import Problem

    mesh = read_mesh(case.mesh["file"])
    oracles = _build_oracles(case, mesh.dim())
    sol = case.solver
    opts = dict(sol["options"] or {})
    try:
        if sol["type"].startswith("petsc"):
            solver = make_solver(sol["type"], prefix=sol["prefix"], **opts)
        else:
            solver = make_solver(sol["type"], **opts)
    except (ValueError, ImportError) as err:
        raise CaseError(f"{case.path}: solver: {err}") from err
    executor = None
    if case.parallel["workers"] > 0:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(case.parallel["workers"])
    try:
        prob = Problem(
            mesh,
            oracles,
            kind=case.problem["kind"],
            order=case.mesh["order"],
            intorder=case.mesh["intorder"],
            solver=solver,
            executor=executor,
            name=Path(case.mesh["file"]).name,
        )
        for d in case.dirichlet:
            comps = d["components"]
            prob.dirichlet(d["boundary"], d["value"], None if comps is None else tuple(comps))
        for n in case.neumann:
            prob.neumann(n["boundary"], n["value"])
        for b in case.body:
            prob.body_load(b["value"], b["subdomain"])
        for name in case.output["reactions"] or []:
            prob.boundary(name)
    except KeyError as err:
        raise CaseError(f"{case.path}: {err.args[0]}") from err
    except ValueError as err:
        raise CaseError(f"{case.path}: {err}") from err
    return prob


def _von_mises(stress: np.ndarray) -> np.ndarray:
    d = stress.shape[0]
    s = np.zeros((3, 3) + stress.shape[2:])
    s[:d, :d] = stress
    tr = np.einsum("ii...->...", s) / 3.0
    dev = s - tr * np.eye(3).reshape(3, 3, *([1] * (s.ndim - 2)))
    return np.sqrt(1.5 * np.einsum("ij...,ij...->...", dev, dev))


def step_fields(prob) -> tuple[dict, dict]:
    """Vertex fields and quadrature fields of the current state, for output."""
    qd = prob.quadrature_data()
    point = {"u": prob.vertex_values()}
    quad = {}
    if qd:
        quad["flux" if prob.kind == "scalar" else "stress"] = qd["flux"]
        if prob.kind == "small_strain":
            quad["von_mises"] = _von_mises(qd["flux"])
        elif prob.kind == "finite_strain":
            quad["von_mises_P"] = _von_mises(qd["flux"])
        for k, v in qd.items():
            if k not in ("flux",):
                quad[k] = v
    return point, quad


def run_case(case: Case, out: str | os.PathLike, overwrite: bool = True) -> dict:
    """Run a validated case, writing into ``out`` only once it has succeeded.

    The run writes into a sibling temporary folder; on success that folder
    replaces ``out`` (earlier results are replaced whole, never mixed); on
    failure ``out`` is left as it was and the partial output is kept in
    ``out.failed`` for diagnosis. Returns the summary dictionary.
    """
    from . import __version__
    from .io import PVDWriter, render_png
    from .macro import NewtonOptions

    out = Path(out)
    prob = build_problem(case)  # all validation happens before any output
    if out.exists() and not overwrite:
        raise CaseError(f"output folder {out} exists; pass --overwrite to replace it")
    tmp = out.with_name(out.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    handler = logging.FileHandler(tmp / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("fe2")
    root.addHandler(handler)
    t0 = time.perf_counter()
    writer = PVDWriter(tmp, "solution") if case.output["vtu"] else None
    curve = []
    try:
        log.info("case %s: %s problem, %d elements, %d dofs", case.path, prob.kind,
                 prob.mesh.nelements, prob.basis.N)
        cfg = case.output["curve"] or {}

        def on_step(p, rec):
            point, quad = step_fields(p)
            if writer is not None:
                writer.write(rec.t, p.mesh, point_data=point, quadrature_data=quad)
            if cfg:
                b, c = cfg.get("boundary"), int(cfg.get("component", 0))
                facets = p.boundary(b)
                dofs, _ = p._component_dofs(facets, None)
                dd = np.asarray(dofs[min(c, len(dofs) - 1)], dtype=np.int64)
                curve.append((float(p.u[dd].mean()), float(p.reaction(b)[min(c, len(dofs) - 1)])))

        nw = {k: v for k, v in case.newton.items()}
        reactions = tuple(case.output["reactions"] or ())
        if cfg and cfg.get("boundary") not in reactions:
            prob.boundary(cfg.get("boundary"))
        sol = prob.solve(NewtonOptions(**nw), reactions=reactions, callback=on_step)
        point, quad = step_fields(prob)
        summary: dict[str, Any] = {
            "fe2_version": __version__,
            "case": str(case.path),
            "kind": prob.kind,
            "mesh": {"file": case.mesh["file"], "elements": int(prob.mesh.nelements),
                     "vertices": int(prob.mesh.nvertices), "dofs": int(prob.basis.N)},
            "steps": [
                {"t": s.t, "iterations": s.iterations, "residuals": list(s.residuals),
                 "cutbacks": s.cutbacks, "seconds": s.seconds}
                for s in sol.steps
            ],
            "reactions": {k: v.tolist() for k, v in sol.reactions.items()},
            "max_abs_u": float(np.max(np.abs(prob.u))),
            "wall_seconds": time.perf_counter() - t0,
            "outputs": [],
        }
        for key in ("von_mises", "von_mises_P", "state_alpha"):
            if key in quad:
                summary["max_" + key] = float(np.max(quad[key]))
        if writer is not None:
            summary["outputs"].append("solution.pvd")
        if case.output["png"]:
            scal = case.output["scalars"] or next(
                (k for k in ("von_mises", "von_mises_P", "flux") if k in quad), None)
            from .io import quadrature_to_cell

            cell = {scal: quadrature_to_cell(quad[scal])} if scal in quad else None
            disp = point["u"] if prob.vector else None
            render_png(tmp / "solution.png", prob.mesh, point_data={"u": point["u"]},
                       cell_data=cell, scalars=scal if cell else "u", displacement=disp,
                       scale=float(case.output["warp"]), title=case.path.stem)
            summary["outputs"].append("solution.png")
        if curve:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            arr = np.array([(0.0, 0.0)] + curve)
            fig, ax = plt.subplots(figsize=(5, 4))
            ax.plot(arr[:, 0], arr[:, 1], "o-")
            ax.set_xlabel(f"mean u[{cfg.get('component', 0)}] on {cfg['boundary']}")
            ax.set_ylabel(f"reaction on {cfg['boundary']}")
            ax.grid(True, alpha=0.3)
            fig.tight_layout()
            fig.savefig(tmp / "load_displacement.png", dpi=120)
            plt.close(fig)
            summary["curve"] = arr.tolist()
            summary["outputs"].append("load_displacement.png")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        summary["outputs"].append("summary.json")
    except BaseException:
        _close(prob)
        root.removeHandler(handler)
        handler.close()
        failed = out.with_name(out.name + ".failed")
        shutil.rmtree(failed, ignore_errors=True)
        tmp.rename(failed)
        raise
    _close(prob)
    root.removeHandler(handler)
    handler.close()
    if out.exists():
        old = out.with_name(out.name + f".old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)
    return summary


def _close(prob) -> None:
    if prob.executor is not None:
        prob.executor.shutdown()
    destroy = getattr(prob.solver, "destroy", None)
    if destroy is not None:
        destroy()
