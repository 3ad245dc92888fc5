"""The flagship demo: FE² on a fibre-composite plate with a hole (``fe2 demo``).

Problem
-------
The quarter ``[0, 1]^2`` of a square plate with a circular hole of radius 0.25
(``meshes/demo/plate_with_hole_coarse.msh``, made by
``meshes/make_demo_meshes.py``: symmetry supports ``u_x = 0`` on
``left`` and ``u_y = 0`` on ``bottom``) is pulled in ``x`` by a prescribed
displacement of the ``right`` edge, in plane strain, in several load steps.
The plate is a unidirectional fibre composite loaded transversely to the
fibres. There is no macroscopic material law: at every macro quadrature point
a periodic RVE (a voxel cell with one circular fibre, fibre volume fraction
about 0.47) is solved, with an elastic–plastic J2 matrix and elastic fibres,
and returns the volume-averaged stress and the consistent homogenized tangent
(:class:`fe2.homogenization.RVE`). Units: MPa and the plate half-width.

Outputs (in ``out``; written to a temporary sibling folder that replaces
``out`` only when the run has succeeded)
---------------------------------------------------------------------------
- ``solution.pvd`` + ``solution_*.vtu``: per step the displacement (point
  data) and, per element (averaged over its quadrature points), the macro
  stress, von Mises stress, the equivalent plastic strain (RVE volume average
  of the micro ``alpha``), micro Newton iterations (of the last macro
  iteration and summed over the step; element maximum) and the Hill–Mandel
  residual.
- ``plate.png``: deformed plate coloured by the equivalent plastic strain;
  ``rve.png`` and ``rve.vtu``: the micro fields of the most strained point.
- ``load_displacement.png``: reaction of the pulled edge against its
  displacement, with the initial slope of the RVE's effective (elastic) tensor.
- ``summary.json``: steps, reactions, timings, micro solve counts, maximum
  Hill–Mandel residual.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .case import keep_failed, swap_into

__all__ = ["DemoConfig", "MicroCounter", "fibre_cell", "demo_config", "demo_problem", "run_demo"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
MESH = ROOT / "meshes" / "demo" / "plate_with_hole_coarse.msh"


@dataclass(frozen=True)
class DemoConfig:
    """Settings of one demo run.

    Attributes
    ----------
    voxels : int
        Voxels per RVE edge (the cell is ``voxels x voxels`` quads).
    fibre_fraction : float
        Target fibre volume fraction of the disk (the voxel image has about this).
    order, intorder : int
        Macro Lagrange order and quadrature order (scikit-fem uses three
        points per triangle for intorder <= 2: 393 RVEs on the demo mesh).
    u_max : float
        ``u_x`` of the right edge at full load [plate half-width units].
    steps : tuple of float
        Load factors of the steps, increasing to 1; the first one is elastic.
    workers : int
        Processes for the micro solves (0: serial in this process).
    warp : float
        Displacement magnification of the plate picture.
    matrix : tuple of float
        J2 matrix ``(E, nu, sigma_y, H_iso)`` [MPa].
    fibre : tuple of float
        Elastic fibre ``(E, nu)`` [MPa, -].
    """

    voxels: int = 12
    fibre_fraction: float = 0.45
    order: int = 2
    intorder: int = 2
    u_max: float = 0.015
    steps: tuple[float, ...] = (0.05, 0.25, 0.45, 0.65, 0.85, 1.0)
    workers: int = 2
    warp: float = 10.0
    matrix: tuple[float, float, float, float] = (3500.0, 0.35, 50.0, 350.0)  # E, nu, sy, H
    fibre: tuple[float, float] = (72000.0, 0.22)  # E, nu

    def __post_init__(self):
        s = np.asarray(self.steps, dtype=float)
        if s.size == 0 or np.any(np.diff(s) <= 0) or s[0] <= 0 or abs(s[-1] - 1.0) > 1e-12:
            raise ValueError(
                f"DemoConfig.steps must increase from > 0 to 1, got {self.steps!r}"
            )
        if self.voxels < 4:
            raise ValueError(f"DemoConfig.voxels must be >= 4, got {self.voxels}")


def demo_config(quick: bool = False) -> DemoConfig:
    """Full demo settings, or ``quick`` ones (P1, two steps, 8x8 cell, serial)."""
    if quick:
        return DemoConfig(voxels=8, order=1, intorder=2, u_max=0.006, steps=(0.15, 1.0),
                          workers=0)
    return DemoConfig(workers=min(2, os.cpu_count() or 1))


def fibre_cell(voxels: int, fibre_fraction: float = 0.45, size: float = 1.0):
    """Voxel cell with one centred circular fibre (phase 1) in a matrix (phase 0).

    Parameters
    ----------
    voxels : int
        Voxels per edge.
    fibre_fraction : float
        Area fraction of the exact disk, in (0, pi/4); the voxel image holds
        the voxels whose centre lies in the disk.
    size : float
        Cell edge length.

    Returns
    -------
    fe2.homogenization.cells.Cell
        The cell is mirror-symmetric about its mid-lines and its edges.
    """
    from .homogenization import cells

    if not 0.0 < fibre_fraction < np.pi / 4:
        raise ValueError(f"fibre_fraction must be in (0, pi/4), got {fibre_fraction!r}")
    x = (np.arange(voxels) + 0.5) / voxels
    X, Y = np.meshgrid(x, x, indexing="ij")
    img = ((X - 0.5) ** 2 + (Y - 0.5) ** 2 < fibre_fraction / np.pi).astype(np.int64)
    return cells.from_image(img, size=size)


def composite_phases(cfg: DemoConfig) -> list:
    """``[J2 matrix, elastic fibre]`` in plane strain, from ``cfg``."""
    from .materials import J2Plasticity, LinearElastic

    E, nu, sy, H = cfg.matrix
    Ef, nuf = cfg.fibre
    return [J2Plasticity(E=E, nu=nu, sigma_y=sy, H_iso=H, dim=2),
            LinearElastic(E=Ef, nu=nuf, plane="strain")]


class MicroCounter:
    """Oracle wrapper that counts micro solves and sums their Newton iterations.

    It forwards every call to ``oracle`` (an :class:`fe2.homogenization.RVE`, which
    itself dispatches to its executor), so the counts are kept in this
    process whatever executor runs the solves.

    Attributes
    ----------
    solves : int
        Micro solves requested (points times evaluations).
    iterations : ndarray or None
        Micro Newton iterations summed over the evaluations since the last
        :meth:`reset`, shape ``pts``.
    max_hill_mandel : float
        Largest Hill–Mandel residual returned so far [stress units].
    """

    def __init__(self, oracle: Any):
        self.oracle = oracle
        self.measure = oracle.measure
        self.dim = oracle.dim
        self.solves = 0
        self.evaluations = 0
        self.iterations: np.ndarray | None = None
        self.max_hill_mandel = 0.0

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one point's input (that of the wrapped oracle)."""
        return self.oracle.input_shape

    def initial_state(self, pts):
        """History before loading (that of the wrapped oracle)."""
        return self.oracle.initial_state(pts)

    def reset(self) -> None:
        """Zero the per-step iteration sum."""
        self.iterations = None

    def evaluate(self, g, x=None, state=None):
        """Evaluate the wrapped oracle and update the counters."""
        resp = self.oracle.evaluate(g, x=x, state=state)
        it = np.asarray(resp.info.get("iterations", np.zeros(g.shape[2:], dtype=np.int64)))
        self.solves += int(it.size)
        self.evaluations += 1
        self.iterations = it.copy() if self.iterations is None else self.iterations + it
        hm = resp.info.get("hill_mandel")
        if hm is not None and np.size(hm):
            self.max_hill_mandel = max(self.max_hill_mandel, float(np.max(hm)))
        return resp


def demo_problem(oracle: Any, cfg: DemoConfig, executor: Executor | None = None):
    """The macro plate problem with ``oracle`` as material and the demo's supports.

    ``u_x = 0`` on ``left``, ``u_y = 0`` on ``bottom``, ``u_x = t u_max`` on
    ``right`` (load factor ``t``); ``top`` and ``hole`` traction-free.
    """
    from .io import read_mesh
    from .macro import Problem

    mesh = read_mesh(MESH)
    prob = Problem(mesh, oracle, kind="small_strain", order=cfg.order, intorder=cfg.intorder,
                   executor=executor, name=MESH.name)
    prob.dirichlet("left", 0.0, (0,)).dirichlet("bottom", 0.0, (1,))
    prob.dirichlet("right", cfg.u_max, (0,))
    return prob


def _von_mises(s: np.ndarray) -> np.ndarray:
    """Plane-strain von Mises of the in-plane stress ``(2, 2, ...)`` (sigma_33 left out)."""
    dev = s - 0.5 * (s[0, 0] + s[1, 1]) * np.eye(2).reshape(2, 2, *([1] * (s.ndim - 2)))
    return np.sqrt(1.5 * np.einsum("ij...,ij...->...", dev, dev))


def run_demo(out: str | os.PathLike, quick: bool = False, config: DemoConfig | None = None,
             progress: bool = True) -> dict:
    """Run the FE² plate-with-hole demo and write its outputs into ``out``.

    Parameters
    ----------
    out : path
        Output folder; replaced only when the run succeeds (the partial output
        of a failed run is kept in ``<out>.failed``).
    quick : bool
        Two steps, P1 macro elements, an 8x8 cell, serial (for tests).
    config : DemoConfig, optional
        Explicit settings (overrides ``quick``).
    progress : bool
        Show progress on stderr (:class:`fe2.io.Progress`): a bar over the
        load factor with the load step, Newton iteration, micro solves per
        second and the time left on a terminal, log lines otherwise.

    Returns
    -------
    dict
        The summary also written to ``summary.json`` (``outputs`` lists the
        files written).
    """
    out = Path(out)
    cfg = config or demo_config(quick)
    tmp = out.with_name(out.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    handler = logging.FileHandler(tmp / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("fe2")
    root.addHandler(handler)
    executor = None
    if cfg.workers > 0:
        from .parallel import make_executor

        executor = make_executor("process", workers=cfg.workers)
    try:
        # progress by keyword, only when off (the default of _run shows it)
        summary = _run(tmp, cfg, executor, **({} if progress else {"progress": False}))
    except BaseException:
        keep_failed(tmp, out)
        raise
    finally:
        if executor is not None:
            executor.shutdown()
        root.removeHandler(handler)
        handler.close()
    swap_into(tmp, out)
    return summary


def _run(tmp: Path, cfg: DemoConfig, executor: Executor | None, progress: bool = True) -> dict:
    from . import __version__
    from .homogenization import RVE
    from .io import Progress, PVDWriter, quadrature_to_cell, render_png, write_vtu
    from .macro import NewtonOptions

    t_start = time.perf_counter()
    cell = fibre_cell(cfg.voxels, cfg.fibre_fraction)
    rve = RVE(cell, composite_phases(cfg), bc="periodic", executor=executor)
    C_eff = rve.effective_tensor()
    zero = rve.solve(np.zeros((2, 2)))
    dx_micro, vol_micro = zero.dx, zero.volume  # micro quadrature weights, phase-sorted
    counter = MicroCounter(rve)
    prob = demo_problem(counter, cfg)
    log.info("demo: FE² plate with a hole, %d macro elements, %d macro dofs, %d RVEs of "
             "%dx%d voxels (fibre fraction %.3f), %s", prob.mesh.nelements, prob.basis.N,
             prob.op.nel * prob.op.nqp, cfg.voxels, cfg.voxels,
             float(cell.volume_fractions()[1]),
             f"{cfg.workers} worker processes" if executor else "serial")
    writer = PVDWriter(tmp, "solution")
    right = np.asarray(prob.basis.get_dofs(facets=prob.boundary("right")).all(["u^1"]),
                       dtype=np.int64)
    records: list[dict] = []
    fields: dict[str, np.ndarray] = {}
    last = {"solves": 0, "t": time.perf_counter()}

    def on_step(p, rec):
        qd = p.quadrature_data()
        alpha_q = np.einsum("mqEQ,mq->EQ", qd["state_alpha"], dx_micro) / vol_micro
        stress = qd["flux"]
        quad = {
            "stress": stress,
            "von_mises": _von_mises(stress),
            "equivalent_plastic_strain": alpha_q,
            "micro_iterations": np.asarray(qd["iterations"], dtype=np.int64),
            "micro_iterations_step": counter.iterations.astype(np.int64),
            "hill_mandel": qd["hill_mandel"],
        }
        writer.write(rec.t, p.mesh, point_data={"displacement": p.vertex_values()},
                     quadrature_data=quad)
        fields.update(quad)
        reaction = p.reaction("right")
        now = time.perf_counter()
        records.append({
            "t": rec.t,
            "u_right": float(p.u[right].mean()),
            "reaction_right": reaction.tolist(),
            "newton_iterations": rec.iterations,
            "residuals": list(rec.residuals),
            "cutbacks": rec.cutbacks,
            "seconds": now - last["t"],
            "micro_solves": counter.solves - last["solves"],
            "micro_iterations": int(counter.iterations.sum()),
            "max_micro_iterations_point": int(counter.iterations.max()),
            "max_equivalent_plastic_strain": float(alpha_q.max()),
            "plastic_points": int(np.count_nonzero(alpha_q > 0)),
            "max_hill_mandel": float(np.max(qd["hill_mandel"])),
        })
        log.info("demo: t=%.3g reaction %.5g, %d micro solves, max eq. plastic strain %.3g",
                 rec.t, reaction[0], records[-1]["micro_solves"], alpha_q.max())
        counter.reset()
        last["solves"], last["t"] = counter.solves, now

    opts = NewtonOptions(rtol=1e-8, atol=1e-12, max_iter=15, steps=1, max_cutbacks=6)
    with Progress(total=1.0, desc="fe2 demo", unit="load", enabled=progress,
                  integer=False) as bar:
        for t in cfg.steps:
            counter.reset()
            prob.solve(opts, callback=on_step, t_end=t, progress=bar)
    t_solve = time.perf_counter() - t_start

    # pictures and the most strained RVE
    t_out = time.perf_counter()
    disp = prob.vertex_values()
    eqp_cell = quadrature_to_cell(fields["equivalent_plastic_strain"])
    outputs = ["solution.pvd"]
    render_png(tmp / "plate.png", prob.mesh, point_data={"displacement": disp},
               cell_data={"equivalent plastic strain": eqp_cell},
               scalars="equivalent plastic strain", displacement=disp, scale=cfg.warp,
               title=f"FE2 plate with a hole: RVE-averaged eq. plastic strain "
                     f"(u_x = {cfg.u_max:g}, displacement x{cfg.warp:g})")
    outputs.append("plate.png")
    e, q = np.unravel_index(int(np.argmax(fields["equivalent_plastic_strain"])),
                            fields["equivalent_plastic_strain"].shape)
    g = prob.op.measure(prob.u)[..., e, q]
    # committed micro history of that point: the "state_*" quadrature fields
    st = {k[len("state_"):]: np.asarray(v)[..., e, q]
          for k, v in prob.quadrature_data().items() if k.startswith("state_")}
    micro = rve.solve(g, st)
    mmesh = micro.basis.mesh
    nodal = np.asarray(micro.basis.nodal_dofs)
    u_micro = micro.u[nodal].T
    w = micro.dx / micro.dx.sum(axis=1, keepdims=True)
    m_alpha = np.einsum("eq,eq->e", micro.state["alpha"], w)
    m_stress = np.moveaxis(np.einsum("ijeq,eq->ije", micro.flux, w), -1, 0)
    m_vm = np.einsum("eq,eq->e", _von_mises(micro.flux), w)
    write_vtu(tmp / "rve.vtu", mmesh, point_data={"displacement": u_micro,
                                                 "fluctuation": micro.w[nodal].T},
              cell_data={"phase": micro.phase, "equivalent_plastic_strain": m_alpha,
                         "stress": m_stress, "von_mises": m_vm})
    outputs.append("rve.vtu")
    umax = float(np.abs(u_micro).max()) or 1.0
    render_png(tmp / "rve.png", mmesh, point_data={"displacement": u_micro},
               cell_data={"equivalent plastic strain": m_alpha},
               scalars="equivalent plastic strain", displacement=u_micro,
               scale=0.08 / umax,
               title=f"RVE at element {int(e)}, point {int(q)} (most strained; "
                     f"displacement x{0.08 / umax:.3g})")
    outputs.append("rve.png")

    curve = np.array([(0.0, 0.0)] + [(r["u_right"], r["reaction_right"][0]) for r in records])
    # the initial slope: the first, elastic step is linear in the load
    slope = records[0]["reaction_right"][0] / records[0]["u_right"]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.plot(curve[:, 0], curve[:, 1], "o-", label="FE² (J2 matrix + elastic fibres)")
    ax.plot([0, curve[-1, 0]], [0, slope * curve[-1, 0]], "--", color="gray",
            label="elastic (RVE effective tensor)")
    ax.set_xlabel("u_x of the right edge")
    ax.set_ylabel("reaction force on the right edge [MPa x length]")
    ax.set_ylim(0, 1.1 * curve[:, 1].max())
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(tmp / "load_displacement.png", dpi=120)
    plt.close(fig)
    outputs.append("load_displacement.png")
    t_output = time.perf_counter() - t_out

    summary = {
        "fe2_version": __version__,
        "problem": "FE2 plate with a hole, fibre composite (J2 matrix, elastic fibres), "
                   "plane strain, periodic RVE at every macro quadrature point",
        "config": asdict(cfg),
        "mesh": {"file": str(MESH), "elements": int(prob.mesh.nelements),
                 "dofs": int(prob.basis.N), "quadrature_points": int(prob.op.nel * prob.op.nqp)},
        "rve": {"voxels": [cfg.voxels, cfg.voxels], "bc": "periodic",
                "fibre_fraction": float(cell.volume_fractions()[1]),
                "effective_tensor": C_eff.tolist(),
                "micro_dofs": int(micro.u.size)},
        "steps": records,
        "reaction": [r["reaction_right"][0] for r in records],
        "u_right": [r["u_right"] for r in records],
        "curve": curve.tolist(),
        "micro_solves": counter.solves,
        "macro_evaluations": counter.evaluations,
        "max_hill_mandel": counter.max_hill_mandel,
        "max_equivalent_plastic_strain": float(fields["equivalent_plastic_strain"].max()),
        "most_strained_point": {"element": int(e), "quadrature_point": int(q),
                                "strain": np.asarray(g).tolist(),
                                "micro_iterations": int(micro.iterations)},
        "timings": {"solve_seconds": t_solve, "output_seconds": t_output,
                    "wall_seconds": time.perf_counter() - t_start,
                    "micro_solves_per_second": counter.solves / t_solve},
        "outputs": outputs + ["summary.json"],
    }
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    log.info("demo: %d steps, %d micro solves in %.1f s", len(records), counter.solves,
             summary["timings"]["wall_seconds"])
    return summary
