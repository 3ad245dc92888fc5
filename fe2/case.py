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
               "steps": (int, 1), "max_cutbacks": (int, 8), "grow": (NUMBER, 1.5),
               "line_search": (int, 0)},
    "solver": {"type": (str, "scipy"), "prefix": (str, "macro_"), "options": (dict, None)},
    "output": {"vtu": (bool, True), "png": (bool, True), "scalars": (str, None),
               "warp": (NUMBER, 1.0), "reactions": (list, None), "curve": (dict, None)},
    "parallel": {"workers": (int, 0), "executor": (str, "process"), "chunk_size": (int, None)},
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
    executor = _case_executor(case)
    try:
        prob = Problem(
            mesh,
            oracles,
            kind=case.problem["kind"],
            order=case.mesh["order"],
            intorder=case.mesh["intorder"],
            solver=solver,
            executor=executor,
            chunk_size=case.parallel["chunk_size"],
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
    except BaseException as err:
        if executor is not None:
            executor.shutdown()
        if isinstance(err, KeyError | ValueError):
            msg = err.args[0] if isinstance(err, KeyError) else err
            raise CaseError(f"{case.path}: {msg}") from err
        raise
    return prob


def _case_executor(case: Case):
    """The executor of ``[parallel]`` (None when ``workers = 0``: serial)."""
    from .parallel import EXECUTOR_KINDS, make_executor

    par = case.parallel
    kinds = EXECUTOR_KINDS
    if par["executor"] not in kinds:
        raise CaseError(
            f"{case.path}: field 'parallel.executor' is {par['executor']!r}; expected one of "
            f"{', '.join(map(repr, kinds))}"
        )
    if par["workers"] < 0:
        raise CaseError(
            f"{case.path}: field 'parallel.workers' must be >= 0 (0: serial), got {par['workers']}"
        )
    if par["chunk_size"] is not None and par["chunk_size"] < 1:
        raise CaseError(
            f"{case.path}: field 'parallel.chunk_size' must be >= 1, got {par['chunk_size']}"
        )
    if par["workers"] == 0:
        return None
    try:
        return make_executor(par["executor"], workers=par["workers"])
    except (ImportError, RuntimeError, ValueError) as err:
        raise CaseError(f"{case.path}: [parallel] executor {par['executor']!r}: {err}") from err


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


def run_case(
    case: Case, out: str | os.PathLike, overwrite: bool = True, resume: bool = False
) -> dict:
    """Run a validated case, writing into ``out`` only once it has succeeded.

    The run writes into a sibling temporary folder ``out.partial-<pid>``; on
    success that folder replaces ``out`` (earlier results are replaced whole,
    never mixed); on failure ``out`` is left as it was and the partial output
    is kept in ``out.failed`` for diagnosis. Returns the summary dictionary.

    After every converged load step the folder gets ``checkpoint.npz``
    (:meth:`fe2.macro.Problem.save_checkpoint`: macro solution, all
    quadrature states, load-stepping state, step records so far), written
    atomically; the finished ``out`` keeps the last one.

    With ``resume`` the run continues from the newest checkpoint found in
    ``out.partial-*`` (a killed run; folders of live processes are skipped),
    ``out.failed`` (an interrupted or failed run) or ``out`` (a finished
    run: nothing left to step, the outputs are rewritten). That folder
    becomes the new temporary folder, so the VTU series, load-displacement
    curve and step records continue, and the run ends with the result of an
    uninterrupted one. The checkpoint must belong to this case: a different
    mesh, element, subdomain layout, or changed [mesh], [problem],
    [materials], [[dirichlet]], [[neumann]] or [[body]] sections raise
    :class:`CaseError` naming the checkpoint file ([newton], [solver],
    [output] and [parallel] may change). When there is nothing to resume
    the run starts afresh, with a warning.

    For tests, the environment variable ``FE2_STOP_AFTER_STEP=k`` makes the
    process exit abruptly (``os._exit``, status 75) right after the
    checkpoint of the k-th converged step of the run, as if it were killed.
    """
    from . import __version__
    from .io import PVDWriter, render_png
    from .macro import CheckpointError, NewtonOptions

    out = Path(out)
    prob = build_problem(case)  # all validation happens before any output
    if out.exists() and not overwrite:
        raise CaseError(f"output folder {out} exists; pass --overwrite to replace it")
    meta: dict[str, Any] = {}
    start = _find_checkpoint(out) if resume else None
    if resume and start is None:
        log.warning("--resume: no checkpoint in %s.partial-*, %s.failed or %s; starting a "
                    "fresh run", out.name, out.name, out)
    if start is not None:
        try:
            meta = prob.load_checkpoint(start)
            _check_case_digest(case, start, meta)
        except BaseException as err:
            _close(prob)
            if isinstance(err, CheckpointError):
                raise CaseError(f"cannot resume {case.path}: {err}") from err
            raise
    t_start = prob.t
    tmp = out.with_name(out.name + f".partial-{os.getpid()}")
    if start is None or start.parent != tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    if start is None:
        tmp.mkdir(parents=True)
    elif start.parent == out:
        shutil.copytree(out, tmp)
    elif start.parent != tmp:
        start.parent.rename(tmp)
    handler = logging.FileHandler(tmp / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("fe2")
    root.addHandler(handler)
    t0 = time.perf_counter()
    writer = PVDWriter(tmp, "solution", resume=start is not None) if case.output["vtu"] else None
    curve = [tuple(c) for c in meta.get("curve", [])]
    records: list[dict] = list(meta.get("steps", []))
    reactions = tuple(case.output["reactions"] or ())
    react_hist = {k: list(meta.get("reactions", {}).get(k, [])) for k in reactions}
    digest = _case_digest(case)
    try:
        if start is not None:
            log.info("case %s: resuming from %s at load factor %.6g after %d steps",
                     case.path, start, prob.t, len(records))
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
            records.append(rec.to_dict())
            for name in reactions:
                react_hist[name].append(p.reaction(name).tolist())
            p.save_checkpoint(tmp / CHECKPOINT, meta={
                "case": digest, "steps": records, "curve": curve, "reactions": react_hist})
            stop = os.environ.get("FE2_STOP_AFTER_STEP")
            if stop and len(records) == int(stop):
                log.warning("FE2_STOP_AFTER_STEP=%s: stopping as if killed", stop)
                handler.flush()
                os._exit(STOP_EXIT_CODE)

        nw = {k: v for k, v in case.newton.items()}
        if cfg and cfg.get("boundary") not in reactions:
            prob.boundary(cfg.get("boundary"))
        prob.solve(NewtonOptions(**nw), reactions=reactions, callback=on_step)
        point, quad = step_fields(prob)
        summary: dict[str, Any] = {
            "fe2_version": __version__,
            "case": str(case.path),
            "kind": prob.kind,
            "mesh": {"file": case.mesh["file"], "elements": int(prob.mesh.nelements),
                     "vertices": int(prob.mesh.nvertices), "dofs": int(prob.basis.N)},
            "steps": records,
            "micro": _work_totals(records),
            "reactions": react_hist,
            "max_abs_u": float(np.max(np.abs(prob.u))),
            "wall_seconds": time.perf_counter() - t0,
            "outputs": [],
        }
        if start is not None:
            summary["resumed_from"] = {"checkpoint": str(start), "t": t_start,
                                       "steps_before": len(meta.get("steps", []))}
        for key in ("von_mises", "von_mises_P", "state_alpha"):
            if key in quad:
                summary["max_" + key] = float(np.max(quad[key]))
        if (tmp / CHECKPOINT).exists():
            summary["outputs"].append(CHECKPOINT)
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
        keep_failed(tmp, out)
        raise
    _close(prob)
    root.removeHandler(handler)
    handler.close()
    swap_into(tmp, out)
    return summary


def swap_into(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished run folder ``tmp`` (earlier results replaced whole)."""
    if out.exists():
        old = out.with_name(out.name + f".old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def keep_failed(tmp: Path, out: Path) -> None:
    """Move a failed run's partial output to ``out.failed``; ``out`` stays as it was."""
    failed = out.with_name(out.name + ".failed")
    shutil.rmtree(failed, ignore_errors=True)
    tmp.rename(failed)


CHECKPOINT = "checkpoint.npz"
STOP_EXIT_CODE = 75
# sections whose change makes a checkpoint useless ([newton], [solver], [output] may change)
_PHYSICS = ("mesh", "problem", "materials", "dirichlet", "neumann", "body")


def _case_digest(case: Case) -> dict[str, str]:
    """Short hash of each physics section of a case (mesh: without the file path)."""
    import hashlib

    out = {}
    for sec in _PHYSICS:
        val = getattr(case, sec)
        if sec == "mesh":
            val = {k: v for k, v in val.items() if k != "file"}
        text = json.dumps(val, sort_keys=True, default=str)
        out[sec] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


def _check_case_digest(case: Case, path: Path, meta: dict) -> None:
    saved = meta.get("case")
    if not isinstance(saved, dict):
        raise CaseError(f"cannot resume {case.path}: checkpoint {path} has no case record")
    now = _case_digest(case)
    changed = [s for s in _PHYSICS if saved.get(s) != now[s]]
    if changed:
        names = ", ".join(f"[{s}]" for s in changed)
        raise CaseError(
            f"cannot resume {case.path}: checkpoint {path} was written for a different case "
            f"({names} changed since); run without --resume to start afresh"
        )


def _find_checkpoint(out: Path) -> Path | None:
    """Newest checkpoint in ``out.partial-*`` (of dead processes), ``out.failed`` or ``out``."""
    found = []
    for folder in sorted(out.parent.glob(out.name + ".partial-*")):
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            log.info("skipping %s: process %s is still running", folder, pid)
            continue
        found.append(folder / CHECKPOINT)
    found += [out.with_name(out.name + ".failed") / CHECKPOINT, out / CHECKPOINT]
    found = [f for f in found if f.is_file()]
    return max(found, key=lambda f: f.stat().st_mtime) if found else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _work_totals(records: list[dict]) -> dict[str, Any]:
    """Sums of the work counters of the step records, and the overall cache hit rate."""
    keys = ("evaluations", "points", "micro_iterations", "cache_hits", "cache_misses")
    tot: dict[str, Any] = {k: int(sum(r.get(k, 0) for r in records)) for k in keys}
    n = tot["cache_hits"] + tot["cache_misses"]
    tot["cache_hit_rate"] = tot["cache_hits"] / n if n else None
    return tot


def _close(prob) -> None:
    if prob.executor is not None:
        prob.executor.shutdown()
    destroy = getattr(prob.solver, "destroy", None)
    if destroy is not None:
        destroy()
