"""Running a case: build the macro problem, step it, write the outputs, checkpoints.

The case itself (fields, defaults, one-line errors) is :class:`fe2.case.Case`
(:mod:`fe2.case.models`); a ``kind = "material_point"`` case runs through
:mod:`fe2.case.point`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fe2.case.models import Case, CaseError, bad
from fe2.macro import Problem

__all__ = ["run_case", "check_output", "find_checkpoint", "build_problem", "newton_options",
           "OutputWriteError", "keep_failed", "swap_into", "fe2_made", "step_fields",
           "output_plan", "output_field_names", "OutputPlan", "CHECKPOINT", "STOP_EXIT_CODE",
           "MARKER", "mark_folder", "CaseProblem", "case_executor"]

log = logging.getLogger(__name__)

MARKER = ".fe2-run"  # written into every output folder fe2 creates


def _bad(path: Path, where: str, val: Any, expected: str) -> CaseError:
    return CaseError(f"{path}: {bad(where, val, expected)}")


def _build_oracles(case: Case, dim: int) -> tuple[Any, list]:
    """The oracles of ``[materials]`` and the RVEs whose prescribed fluxes follow the load.

    Returns ``(oracles, scaled)``: one oracle (``materials.all``) or a dict by
    subdomain, and ``[(rve, mixed_flux at t = 1)]`` for RVEs with a non-zero
    ``mixed_flux`` (set to ``t`` times it at load factor ``t``).
    """
    from fe2 import materials
    from fe2.homogenization.spec import rve_from_dict

    out, scaled = {}, []
    for name, spec in case.material_tables().items():
        try:
            if spec.get("type") == "AdaptiveSurrogate":
                from fe2.surrogate.spec import surrogate_from_dict

                out[name] = surrogate_from_dict(spec, dim, case.base_dir, f"materials.{name}")
            elif spec.get("type") == "RVE":
                rve = rve_from_dict(spec, dim, case.base_dir, f"materials.{name}")
                out[name] = rve
                if rve.mixed_flux is not None and np.any(rve.mixed_flux != 0.0):
                    scaled.append((rve, np.array(rve.mixed_flux)))
                    rve.mixed_flux = np.zeros_like(rve.mixed_flux)  # t = 0
            else:
                out[name] = materials.from_dict(dict(spec), dim=dim)
        except (ValueError, TypeError) as err:
            where = "" if str(err).startswith(f"materials.{name}") else f"materials.{name}: "
            raise CaseError(f"{case.path}: {where}{err}") from err
    return (out["all"] if "all" in out else out), scaled


class CaseProblem(Problem):
    """A :class:`fe2.macro.Problem` whose RVE prescribed fluxes scale with the load factor.

    ``scaled`` is ``[(rve, mixed_flux at t = 1)]``; each Newton solve at load
    factor ``t`` sets ``rve.mixed_flux = t * mixed_flux`` first, like the
    Dirichlet values and the tractions of the case.
    """

    def __init__(self, *args, scaled: list | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.scaled = list(scaled or [])

    def newton(self, t: float, u0: np.ndarray, opts):
        """:meth:`fe2.macro.Problem.newton` with the prescribed RVE fluxes at ``t``."""
        if self.scaled:
            for rve, full in self.scaled:
                rve.mixed_flux = t * full
            # a copy of u0: no reuse of the last step's evaluation, made at another flux
            u0 = np.array(u0)
        return super().newton(t, u0, opts)


def build_problem(case: Case):
    """Mesh, oracles, loads and solver of a case, as a :class:`fe2.macro.Problem`.

    Everything the mesh decides is checked here, before anything runs:
    boundary and subdomain names, component indices, the ``[output]`` curve
    and reactions. Raises :class:`CaseError` naming the file and the field.
    """
    from fe2.io import read_mesh
    from fe2.linalg import make_solver

    if case.mesh is None:
        raise CaseError(f"{case.path}: problem.kind: {case.problem.kind!r} has no macro mesh "
                        "to build")

    mesh = read_mesh(case.mesh.file)
    dim = mesh.dim()
    ncomp = 1 if case.problem.kind == "scalar" else dim
    _check_components(case, ncomp)
    oracles, scaled = _build_oracles(case, dim)
    sol = case.solver
    opts = dict(sol.options or {})
    try:
        if sol.type.startswith("petsc"):
            solver = make_solver(sol.type, prefix=sol.prefix, **opts)
        else:
            solver = make_solver(sol.type, **opts)
    except (ValueError, TypeError, ImportError) as err:
        raise CaseError(f"{case.path}: solver: {err}") from err
    executor = case_executor(case)
    try:
        try:
            prob = CaseProblem(
                mesh,
                oracles,
                kind=case.problem.kind,
                order=case.mesh.order,
                intorder=case.mesh.intorder,
                solver=solver,
                executor=executor,
                chunk_size=case.parallel.chunk_size,
                name=Path(case.mesh.file).name,
                scaled=scaled,
            )
        except KeyError as err:  # a [materials.NAME] that is no subdomain of the mesh
            msg = err.args[0] if err.args else err
            raise CaseError(f"{case.path}: materials: {msg}") from err
        for i, d in enumerate(case.dirichlet):
            comps = d.components
            with _field(case, f"dirichlet[{i}]"):
                prob.dirichlet(d.boundary, d.value, None if comps is None else tuple(comps))
        for i, n in enumerate(case.neumann):
            with _field(case, f"neumann[{i}]"):
                prob.neumann(n.boundary, n.value)
        for i, b in enumerate(case.body):
            with _field(case, f"body[{i}]"):
                prob.body_load(b.value, b.subdomain)
        for name in case.output.reactions or []:
            with _field(case, "output.reactions"):
                prob.boundary(name)
        if case.output.curve:
            with _field(case, "output.curve.boundary"):
                prob.boundary(case.output.curve.boundary)
    except BaseException as err:
        if executor is not None:
            executor.shutdown()
        if isinstance(err, KeyError | ValueError) and not isinstance(err, CaseError):
            msg = err.args[0] if isinstance(err, KeyError) else err
            raise CaseError(f"{case.path}: {msg}") from err
        raise
    return prob


class _field:
    """Context manager: a KeyError / ValueError inside becomes a CaseError naming ``where``."""

    def __init__(self, case: Case, where: str):
        self.case, self.where = case, where

    def __enter__(self):
        return self

    def __exit__(self, typ, err, tb):
        if err is not None and isinstance(err, KeyError | ValueError) \
                and not isinstance(err, CaseError):
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise CaseError(f"{self.case.path}: {self.where}: {msg}") from err
        return False


def _check_components(case: Case, ncomp: int) -> None:
    """Component indices and load vectors against the problem's ``ncomp`` field components."""
    what = "0 (a scalar problem has one component)" if ncomp == 1 else \
        f"0..{ncomp - 1} (the mesh is {ncomp}D)"
    for i, d in enumerate(case.dirichlet):
        for j, c in enumerate(d.components or []):
            if c >= ncomp:
                raise _bad(case.path, f"dirichlet[{i}].components[{j}]", c, what)
    curve = case.output.curve
    if curve and curve.component >= ncomp:
        raise _bad(case.path, "output.curve.component", curve.component, what)
    for sec in ("dirichlet", "neumann", "body"):
        for i, d in enumerate(getattr(case, sec)):
            v = d.value
            n = len(getattr(d, "components", None) or ()) or ncomp
            if isinstance(v, list) and len(v) not in (1, n):
                raise _bad(case.path, f"{sec}[{i}].value", v,
                           f"a number or a list of {n} numbers (one per component)")


def newton_options(case: Case):
    """The :class:`fe2.macro.NewtonOptions` of ``[newton]`` (CaseError naming the file)."""
    from fe2.macro import NewtonOptions

    try:
        return NewtonOptions(**case.newton.model_dump())
    except (ValueError, TypeError) as err:
        raise CaseError(f"{case.path}: newton: {err}") from err


def case_executor(case: Case):
    """The executor of ``[parallel]`` (None when ``workers = 0``: serial)."""
    from fe2.parallel import make_executor

    par = case.parallel  # executor: checked against fe2.parallel.EXECUTOR_KINDS by the model
    if par.workers == 0:
        return None
    try:
        return make_executor(par.executor, workers=par.workers)
    except (ImportError, RuntimeError, ValueError) as err:
        raise CaseError(f"{case.path}: parallel.executor: {par.executor!r}: {err}") from err


def _von_mises(stress: np.ndarray) -> np.ndarray:
    d = stress.shape[0]
    s = np.zeros((3, 3) + stress.shape[2:])
    s[:d, :d] = stress
    tr = np.einsum("ii...->...", s) / 3.0
    dev = s - tr * np.eye(3).reshape(3, 3, *([1] * (s.ndim - 2)))
    return np.sqrt(1.5 * np.einsum("ij...,ij...->...", dev, dev))


@dataclass
class OutputPlan:
    """How the quadrature states of each region become cell data.

    ``micro[i]`` holds ``(dx (n_el, n_qp), volume)`` of the micro quadrature
    of region ``i`` when its oracle is an RVE: its history fields
    ``(*f, n_el, n_qp, E, Q)`` are written as RVE volume averages
    ``(*f, E, Q)``; its fluctuation (one value per micro dof) and imposed
    macro input (the ``measure`` field) are left out. A field that cannot be
    written as cell data is left out with one log note.
    """

    micro: dict[int, tuple[np.ndarray, float]]
    noted: set


def output_plan(prob) -> OutputPlan:
    """The :class:`OutputPlan` of ``prob`` (one zero-input micro solve per RVE region)."""
    from fe2.homogenization import RVE

    micro = {}
    for i, r in enumerate(prob.regions):
        if isinstance(r.oracle, RVE) and not r.oracle.linear:
            g0 = np.eye(r.oracle.dim) if r.oracle.measure == "deformation_gradient" \
                else np.zeros(r.oracle.input_shape)
            zero = r.oracle.solve(g0)
            micro[i] = (np.asarray(zero.dx), float(zero.volume))
    return OutputPlan(micro=micro, noted=set())


def _note(plan: OutputPlan, name: str, why: str) -> None:
    if name not in plan.noted:
        plan.noted.add(name)
        log.info("output: %s is not written (%s)", name, why)


def _state_fields(prob, plan: OutputPlan, states: list[dict | None]) -> dict[str, np.ndarray]:
    """Cell-writable quadrature fields ``state_<name>`` ``(*f, n_elements, n_qp)``.

    ``states[i]`` is the state dict of region ``i`` (arrays ``(..., E_i, Q)``).
    """
    nel, nqp = prob.mesh.nelements, prob.op.nqp
    out: dict[str, np.ndarray] = {}
    skip: set[str] = set()
    for i, (r, st) in enumerate(zip(prob.regions, states, strict=True)):
        for k, v in (st or {}).items():
            name = "state_" + k
            v = np.asarray(v)
            if i in plan.micro:
                if k in ("fluctuation", "macro_input"):
                    _note(plan, name, "micro fluctuation / imposed macro input of the RVE; "
                          "the macro input is written as 'measure'")
                    continue
                dx, vol = plan.micro[i]
                v = np.einsum("...mqEQ,mq->...EQ", v, dx) / vol  # RVE volume average
            f = v.shape[:-2]
            if len(f) > 2 or (len(f) == 2 and (f[0] != f[1] or f[0] > 3)) \
                    or not np.issubdtype(v.dtype, np.number):
                _note(plan, name, f"shape {f} per point is not a scalar, vector or tensor")
                skip.add(name)
                continue
            arr = out.setdefault(name, np.zeros(f + (nel, nqp), dtype=v.dtype))
            if arr.shape[:-2] != f:
                _note(plan, name, "the regions' histories have different shapes")
                skip.add(name)
                continue
            arr[..., r.elements, :] = v
    return {k: v for k, v in out.items() if k not in skip}


def step_fields(prob, plan: OutputPlan | None = None) -> tuple[dict, dict]:
    """Vertex fields and quadrature fields of the current state, for output.

    Returns ``({"u": (n_vertices,) or (n_vertices, d)}, {name: (*idx, n_el, n_qp)})``;
    the quadrature fields are the flux (``stress`` / ``flux``), von Mises
    stress, ``measure``, the oracles' diagnostics and the committed
    histories ``state_<name>`` (RVE volume averages for RVE regions, see
    :class:`OutputPlan`).
    """
    plan = plan or output_plan(prob)
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
            if k != "flux" and not k.startswith("state_"):
                quad[k] = v
        quad.update(_state_fields(prob, plan, [r.state.committed for r in prob.regions]))
    return point, quad


def output_field_names(prob, plan: OutputPlan) -> list[str]:
    """Names of the fields a run of ``prob`` writes (valid ``output.scalars``), in order.

    Found before running from one evaluation of each region's oracle at zero
    input (its diagnostics) and its initial state (its histories).
    """
    names = ["u", "flux" if prob.kind == "scalar" else "stress"]
    names += {"small_strain": ["von_mises"], "finite_strain": ["von_mises_P"]}.get(prob.kind, [])
    names.append("measure")
    states = []
    for r in prob.regions:
        o = r.oracle
        g0 = np.eye(o.input_shape[0]) if o.measure == "deformation_gradient" \
            else np.zeros(o.input_shape)
        st = o.initial_state((1, 1)) if hasattr(o, "initial_state") else None
        x = np.zeros((prob.dim, 1, 1)) if getattr(o, "needs_coordinates", False) else None
        resp = o.evaluate(g0[..., None, None], x=x, state=st)
        names += [k for k in resp.info if k not in names]
        states.append(None if st is None else {
            k: np.broadcast_to(v, v.shape[:-2] + (len(r.elements), prob.op.nqp))
            for k, v in st.items()})
    names += [k for k in _state_fields(prob, OutputPlan(plan.micro, set(plan.noted)), states)
              if k not in names]
    return names


class OutputWriteError(RuntimeError):
    """Writing a step's output failed; the checkpoint of the converged steps is kept."""


def run_case(
    case: Case, out: str | os.PathLike, overwrite: bool = True, resume: bool = False,
    force: bool = False,
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

    Before anything runs the output place is checked (:func:`check_output`:
    an existing folder fe2 did not write is replaced only with ``force``),
    the case is built and every ``[newton]`` and ``[output]`` setting is
    checked (``output.scalars`` against the fields the run writes). After
    each converged step the checkpoint is saved first, then the step's
    output; when writing output fails, :class:`OutputWriteError` is raised and
    the checkpoint stays in ``out.failed``.

    For tests, the environment variable ``FE2_STOP_AFTER_STEP=k`` makes the
    process exit abruptly (``os._exit``, status 75) right after the
    checkpoint of the k-th converged step of the run, as if it were killed.
    """
    from fe2 import __version__
    from fe2.io import PVDWriter, render_png
    from fe2.macro import CheckpointError

    if case.problem.kind == "shock_tube":
        from fe2.case.gas import run_shock_tube

        if resume:
            log.info("--resume: a shock-tube case runs again from the start")
        return run_shock_tube(case, out, force=force)
    if case.problem.kind == "fluid":
        from fe2.case.fluid import run_fluid

        if resume:
            log.info("--resume: a fluid case runs again from the start")
        return run_fluid(case, out, force=force)
    if case.problem.kind == "material_point":
        from fe2.case.point import run_point

        if resume:
            log.info("--resume: a material-point case runs again from the start")
        return run_point(case, out, force=force)

    out = check_output(out, force=force, protect=(case.path, case.mesh.file))
    if out.exists() and not overwrite:
        raise CaseError(f"output folder {out} exists; pass --overwrite to replace it")
    prob = build_problem(case)  # all validation happens before any output
    try:
        opts = newton_options(case)
        plan = output_plan(prob)
        scal = case.output.scalars
        if scal is not None:
            valid = output_field_names(prob, plan)
            if scal not in valid:
                raise CaseError(f"{case.path}: output.scalars: no field {scal!r} in this run; "
                                f"valid: {', '.join(valid)}")
        if case.output.micro is not None:
            _check_micro_points(case, prob)
    except BaseException:
        _close(prob)
        raise
    meta: dict[str, Any] = {}
    start = find_checkpoint(out) if resume else None
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
        mark_folder(tmp)
    elif start.parent == out:
        shutil.copytree(out, tmp)
    elif start.parent != tmp:
        start.parent.rename(tmp)
    handler = logging.FileHandler(tmp / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("fe2")
    root.addHandler(handler)
    t0 = time.perf_counter()
    writer = None
    if case.output.vtu:
        from fe2.io import XDMFWriter

        kind = {"pvd": PVDWriter, "xdmf": XDMFWriter}[case.output.format]
        writer = kind(tmp, "solution", resume=start is not None)
    curve = [tuple(c) for c in meta.get("curve", [])]
    records: list[dict] = list(meta.get("steps", []))
    reactions = tuple(case.output.reactions or ())
    react_hist = {k: list(meta.get("reactions", {}).get(k, [])) for k in reactions}
    digest = _case_digest(case)
    try:
        if start is not None:
            log.info("case %s: resuming from %s at load factor %.6g after %d steps",
                     case.path, start, prob.t, len(records))
        log.info("case %s: %s problem, %d elements, %d dofs", case.path, prob.kind,
                 prob.mesh.nelements, prob.basis.N)
        cfg = case.output.curve

        def on_step(p, rec):
            records.append(rec.to_dict())
            for name in reactions:
                react_hist[name].append(p.reaction(name).tolist())
            if cfg:
                b, c = cfg.boundary, cfg.component
                dofs, _ = p.component_dofs(p.boundary(b), None)
                dd = np.asarray(dofs[c], dtype=np.int64)
                curve.append((float(p.u[dd].mean()), float(p.reaction(b)[c])))
            # the checkpoint first: a failure to write the output below loses nothing
            p.save_checkpoint(tmp / CHECKPOINT, meta={
                "case": digest, "steps": records, "curve": curve, "reactions": react_hist})
            if writer is not None:
                point, quad = step_fields(p, plan)
                p2 = {}
                if p.order == 2:  # second-order cells with the P2 values at every node
                    point, p2 = {**point, "u": p.u}, {"basis": p.basis}
                try:
                    writer.write(rec.t, p.mesh, point_data=point, quadrature_data=quad, **p2)
                except (OSError, ValueError) as err:
                    raise OutputWriteError(
                        f"writing the output of step {len(records)} (t = {rec.t:.6g}) "
                        f"failed: {err}") from err
            stop = os.environ.get("FE2_STOP_AFTER_STEP")
            if stop and len(records) == int(stop):
                log.warning("FE2_STOP_AFTER_STEP=%s: stopping as if killed", stop)
                handler.flush()
                os._exit(STOP_EXIT_CODE)

        # a bar on a terminal; otherwise the one line per converged step logged below
        prob.solve(opts, reactions=reactions, callback=on_step, progress=sys.stderr.isatty())
        point, quad = step_fields(prob, plan)
        summary: dict[str, Any] = {
            "fe2_version": __version__,
            "case": str(case.path),
            "kind": prob.kind,
            "mesh": {"file": case.mesh.file, "elements": int(prob.mesh.nelements),
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
            _close_writer(writer)
            if case.output.format == "xdmf":
                summary["outputs"] += ["solution.xdmf", "solution.h5"]
            else:
                summary["outputs"].append("solution.pvd")
        if case.output.micro is not None:
            from fe2.io import write_micro_fields

            pts = case.output.micro if case.output.micro == "all" else [
                tuple(p) for p in case.output.micro]
            try:
                write_micro_fields(prob, tmp / "micro", points=pts)
            except ValueError as err:
                raise CaseError(f"{case.path}: output.micro: {err}") from err
            summary["outputs"].append("micro/rve.vtm")
        if case.output.png:
            scal = scal or next(
                (k for k in ("von_mises", "von_mises_P", "flux") if k in quad), None)
            from fe2.io import quadrature_to_cell

            cell = {scal: quadrature_to_cell(quad[scal])} if scal in quad else None
            disp = point["u"] if prob.vector else None
            render_png(tmp / "solution.png", prob.mesh, point_data={"u": point["u"]},
                       cell_data=cell, scalars=scal if cell else "u", displacement=disp,
                       scale=float(case.output.warp), title=case.path.stem)
            summary["outputs"].append("solution.png")
        if curve:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            arr = np.array([(0.0, 0.0)] + curve)
            fig, ax = plt.subplots(figsize=(5, 4))
            ax.plot(arr[:, 0], arr[:, 1], "o-")
            ax.set_xlabel(f"mean u[{cfg.component}] on {cfg.boundary}")
            ax.set_ylabel(f"reaction on {cfg.boundary}")
            ax.grid(True, alpha=0.3)
            fig.tight_layout()
            fig.savefig(tmp / "load_displacement.png", dpi=120)
            plt.close(fig)
            summary["curve"] = arr.tolist()
            summary["outputs"].append("load_displacement.png")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        summary["outputs"].append("summary.json")
    except BaseException:
        _close_writer(writer)
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


def _check_micro_points(case: Case, prob) -> None:
    """``output.micro`` before the run: each point in the mesh and answered by an RVE."""
    from fe2.io import select_micro_points

    micro = case.output.micro
    for i, pts in ([("", "all")] if micro == "all" else
                   [(f"[{i}]", [tuple(p)]) for i, p in enumerate(micro)]):
        try:
            select_micro_points(prob, pts)
        except ValueError as err:
            raise CaseError(f"{case.path}: output.micro{i}: {err}") from err


def mark_folder(folder: Path) -> None:
    """Write the marker that says fe2 made ``folder`` (and may replace it)."""
    (folder / MARKER).write_text("This folder was written by fe2; the next run with the same "
                                 "--out replaces it whole.\n")


def fe2_made(folder: Path) -> bool:
    """True when ``folder`` was written by fe2 (its marker, or the files of an older fe2 run)."""
    folder = Path(folder)
    if (folder / MARKER).is_file():
        return True
    return (folder / "run.log").is_file() and any(
        (folder / f).is_file() for f in ("summary.json", CHECKPOINT))


def check_output(out: str | os.PathLike, force: bool = False,
                 protect: tuple = ()) -> Path:
    """Check the output folder ``out`` of a run before anything runs; return it as a Path.

    Raises :class:`CaseError` (one line) when ``out`` is ``.``, ``..`` or a
    root, the current folder or one of its parents, a folder holding one of
    the ``protect`` files (the case file, the mesh), an existing file, below
    a file, in a folder that cannot be written, or an existing non-empty
    folder that fe2 did not write (no ``.fe2-run`` marker) unless ``force``.
    """
    given = out
    out = Path(out)
    if out.name in ("", ".", "..") or out.resolve() == Path(out.resolve().anchor):
        raise CaseError(f"--out {given}: give a folder of its own for the results (e.g. "
                        "out/run1); fe2 replaces the whole folder")
    full = out.resolve()
    cwd = Path.cwd().resolve()
    if full == cwd or full in cwd.parents:
        raise CaseError(f"--out {given}: is the current folder or one of its parents; give a "
                        "folder of its own for the results (fe2 replaces the whole folder)")
    for f in protect:
        fp = Path(f).resolve()
        if full == fp or full in fp.parents:
            raise CaseError(f"--out {given}: holds {f}, which a run would replace; give a "
                            "folder of its own for the results")
    if out.exists() and not out.is_dir():
        raise CaseError(f"--out {given}: exists and is not a folder")
    if out.is_dir() and not force and not fe2_made(out) and any(out.iterdir()):
        raise CaseError(f"--out {given}: the folder exists and was not written by fe2 (no "
                        f"{MARKER} marker), so a run would replace files fe2 does not own; "
                        "choose another --out or pass --force to replace it")
    anc = full.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise CaseError(f"--out {given}: {anc} is a file, not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise CaseError(f"--out {given}: cannot write in {anc} (permission denied)")
    return out


def swap_into(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished run folder ``tmp`` (earlier results replaced whole)."""
    if not (tmp / MARKER).exists():
        mark_folder(tmp)
    if out.exists():
        old = out.with_name(out.name + f".old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def keep_failed(tmp: Path, out: Path) -> Path:
    """Move a failed run's partial output to ``out.failed`` (returned); ``out`` stays as it was.

    An ``out.failed`` that fe2 did not write is kept; the output goes to
    ``out.failed-<pid>`` instead.
    """
    if not (tmp / MARKER).exists():
        mark_folder(tmp)
    failed = out.with_name(out.name + ".failed")
    if failed.is_dir() and not fe2_made(failed) and any(failed.iterdir()):
        failed = out.with_name(out.name + f".failed-{os.getpid()}")
        log.warning("%s.failed was not written by fe2; keeping it, partial output in %s",
                    out.name, failed)
    elif failed.exists() and not failed.is_dir():
        failed = out.with_name(out.name + f".failed-{os.getpid()}")
    shutil.rmtree(failed, ignore_errors=True)
    tmp.rename(failed)
    return failed


CHECKPOINT = "checkpoint.npz"
STOP_EXIT_CODE = 75
# sections whose change makes a checkpoint useless ([newton], [solver], [output] may change)
_PHYSICS = ("mesh", "problem", "materials", "dirichlet", "neumann", "body")


def _case_digest(case: Case) -> dict[str, str]:
    """Short hash of each physics section of a case (mesh: without the file path)."""
    import hashlib

    out = {}
    for sec in _PHYSICS:
        val = case.model_dump(mode="json", include={sec})[sec]
        if sec == "mesh":
            val = {k: v for k, v in (val or {}).items() if k != "file"}
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


def find_checkpoint(out: Path) -> Path | None:
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


def _close_writer(writer) -> None:
    """Close an output writer that holds files open (XDMF + HDF5); PVD needs nothing."""
    close = getattr(writer, "close", None)
    if close is not None:
        close()


def _close(prob) -> None:
    if prob.executor is not None:
        prob.executor.shutdown()
    destroy = getattr(prob.solver, "destroy", None)
    if destroy is not None:
        destroy()
