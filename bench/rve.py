"""RVE micro oracle: effective-tensor cost vs DOFs (SciPy vs PETSc) and nonlinear RVE throughput.

Part A, effective tensor (linear elasticity, periodic bc, ``RVE.effective_tensor()``):

* 2D meshed cell: ``cells.circular_inclusion(0.3, mesh_size=h)`` (gmsh, P1 triangles,
  plane strain), 1e4 ... 1e6 DOFs;
* 3D voxel cells 32^3 and 64^3 (a voxelized sphere, volume fraction ~0.2, trilinear hexes).

Matrix E = 1, nu = 0.3; inclusion E = 10, nu = 0.2. The RVE solves the periodic
cell problem for the independent load cases (the symmetric unit strains: 3 in 2D, 6 in
3D) with one matrix. Solvers, as the RVE's ``solver=`` factory:

* SciPy: the default micro solver ``fe2.linalg.FactorKrylov`` (SuperLU, minimum-degree
  ordering of A^T + A, one factorization for all load cases);
* PETSc: ``fe2.linalg.petsc_krylov`` CG + GAMG, true-residual ``--rtol``, block size d
  and the rigid-body modes of the reduced (periodic) dofs as near-nullspace; one CG
  solve per load case.

Every case runs in a fresh spawned process (peak RSS = its ``ru_maxrss``) with a
wall-clock limit (``--time-limit``) and an address-space limit (``--mem-limit``);
a solver that exceeds a limit at one size is not tried at larger sizes, and a size
whose time, extrapolated from the two previous sizes, exceeds the limit is skipped.
"setup" is ``RVE(...)`` (basis, operator pattern, periodic map), "tensor" is
``effective_tensor()`` (assembly + constrained system + solves).

Part B, nonlinear RVE evaluations per second: 2D neo-Hookean inclusion cell
(``circular_inclusion(0.3, mesh_size=0.022)``, ~5.2e3 DOFs, finite strain, measure
``deformation_gradient``, periodic), at random macro ``F = I + H``, ``|H_ij| <= --amp``:

* cold: virgin state (micro Newton from the cell's linear response to ``F - I``);
* warm: a load step: the committed state of the previous evaluation and ``F`` moved by
  a tenth of the amplitude (micro Newton from the committed fluctuation plus the linear
  response to the increment);

serially and through ``fe2.oracle.evaluate(..., executor=ProcessPoolExecutor(2))``,
each with three micro solvers (``SOLVERS_B``):

* superlu: ``FactorKrylov(max_krylov=0, cholesky=False)``, a new SuperLU factorization for
  every Newton matrix and for the condensation (the baseline);
* superlu+gmres: ``FactorKrylov(cholesky=False)``: within one micro solve the factors of its
  first Newton matrix precondition GMRES (inexact Newton steps, condensation);
* default: ``FactorKrylov()``, the same with the sparse Cholesky factorization
  (CHOLMOD, ``fe2.linalg.cholmod``) of the symmetric positive definite micro matrices;

best of ``--rounds`` interleaved rounds.

Usage::

    python bench/rve.py              # full run (tens of minutes)
    python bench/rve.py --quick      # smoke run, < 60 s
"""

from __future__ import annotations

import argparse
import datetime
import math
import multiprocessing as mp
import os
import pickle
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from _common import cases as progress_cases
from _common import extrapolate, fmt_t, note, run_isolated

# the package, not a sibling script named fe2.py in bench/
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# 2D mesh sizes for about 1e4, 3e4, 1e5, 3e5, 1e6 DOFs (2 dofs per node, ~1.26 / h^2 nodes)
MESH_SIZES = [0.016, 0.0092, 0.005, 0.0029, 0.0016]
VOXELS = [32, 64]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# -- part A workers (spawned processes) -----------------------------------------------------------


def make_cell(kind: str, size: float, path: str) -> dict:
    """Build the cell and pickle it to ``path`` (gmsh runs in this throw-away process)."""
    from fe2.homogenization import cells

    t0 = time.perf_counter()
    if kind == "mesh2d":
        cell = cells.circular_inclusion(0.3, dim=2, mesh_size=size)
    else:
        n = int(size)
        x = (np.arange(n) + 0.5) / n
        X = np.meshgrid(x, x, x, indexing="ij")
        r = (3 * 0.2 / (4 * math.pi)) ** (1 / 3)
        img = (sum((c - 0.5) ** 2 for c in X) < r * r).astype(np.int64)
        cell = cells.from_image(img, size=1.0)
    t = time.perf_counter() - t0
    with open(path, "wb") as f:
        pickle.dump(cell, f, protocol=pickle.HIGHEST_PROTOCOL)
    return {"time": t}


class _Timed:
    """Micro solver wrapper that adds up the wall-clock time of its calls."""

    def __init__(self, solver):
        self.solver = solver
        self.time = 0.0

    def __call__(self, A, b):
        t0 = time.perf_counter()
        try:
            return self.solver(A, b)
        finally:
            self.time += time.perf_counter() - t0


class _LazyPetsc:
    """Micro solver made by the RVE's zero-argument factory; the PETSc solver is created on the
    first call, when the near-nullspace of the reduced dofs (filled in by the caller) is known."""

    def __init__(self, holder: dict):
        self.holder = holder
        self.solver = None

    def __call__(self, A, b):
        import fe2.linalg as la

        if self.solver is None:
            h = self.holder
            self.solver = la.petsc_krylov(
                "rve_", rtol=h["rtol"], near_nullspace=h["modes"], block_size=h["bs"]
            )
        return self.solver(A, b)


def _reduced_modes(m) -> tuple[np.ndarray, int | None]:
    """Rigid-body modes ``(n_red, k)`` at the reduced (periodic, corner pinned) dofs of the
    RVE's micro problem ``m``, and the block size (d when the dofs are node-interleaved)."""
    from fe2.linalg import rigid_body_modes

    d, rmap = m.d, m.rmap
    X = np.asarray(m.X)
    full = rigid_body_modes(np.asarray(m.mesh.p), np.asarray(m.basis.nodal_dofs), m.N)
    comp = np.zeros(m.N, dtype=np.int64)
    for c, idx in enumerate(m.comp_dofs):
        comp[idx] = c
    # representative full dof of every reduced dof: the periodic image nearest the origin
    keep = np.flatnonzero(rmap >= 0)
    srt = keep[np.lexsort((X[:, keep].sum(axis=0), rmap[keep]))]
    rep = srt[np.r_[True, np.diff(rmap[srt]) != 0]]
    ok = rep.size % d == 0 and np.all(comp[rep].reshape(-1, d) == np.arange(d))
    return full[rep], (d if ok else None)


def tensor_case(cell_path: str, solver: str, rtol: float, mem_limit_mb: float) -> dict:
    """Effective tensor of the pickled cell with ``solver`` ("scipy" or "petsc")."""
    if mem_limit_mb:
        lim = int(mem_limit_mb * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    from fe2.homogenization import RVE
    from fe2.linalg import FactorKrylov
    from fe2.materials import LinearElastic

    if solver == "petsc":
        from petsc4py import PETSc  # noqa: F401  (start-up not timed)
    with open(cell_path, "rb") as f:
        cell = pickle.load(f)
    plane = "strain" if cell.dim == 2 else None
    phases = [LinearElastic(1.0, 0.3, plane=plane), LinearElastic(10.0, 0.2, plane=plane)]
    holder: dict = {"rtol": rtol}
    factory = (lambda: _Timed(FactorKrylov())) if solver == "scipy" else (
        lambda: _Timed(_LazyPetsc(holder)))
    t0 = time.perf_counter()
    rve = RVE(cell, phases, bc="periodic", solver=factory)
    m = rve._micro()
    t_setup = time.perf_counter() - t0
    if solver == "petsc":
        holder["modes"], holder["bs"] = _reduced_modes(m)
    t0 = time.perf_counter()
    C = rve.effective_tensor()
    t_tensor = time.perf_counter() - t0
    out = {
        "setup": t_setup,
        "tensor": t_tensor,
        "dofs": int(m.rmap.max()) + 1,
        "N": m.N,
        "nel": m.nel,
        "nnz": int(m.system.nnz),
        "peak": _peak_mb(),
        "C": np.asarray(C),
        "solve": m.solver.time,
    }
    if solver == "petsc":
        s = m.solver.solver.solver
        out["its"] = s.stats.iterations
        out["rhs"] = s.stats.rhs
        s.destroy()
    else:
        out["its"], out["rhs"] = 0, 0
    return out


# -- isolation ------------------------------------------------------------------------------------


def part_a(args, progress) -> list[dict]:
    cases = [("mesh2d", h) for h in args.mesh_sizes] + [("voxel3d", n) for n in args.voxels]
    rows = []
    failed = {("mesh2d", "scipy"): None, ("mesh2d", "petsc"): None,
              ("voxel3d", "scipy"): None, ("voxel3d", "petsc"): None}
    pts: dict = {k: [] for k in failed}
    with tempfile.TemporaryDirectory(prefix="fe2_bench_rve_") as tmp:
        for kind, size in progress_cases(cases, "bench/rve.py part A",
                                         lambda c: f"{c[0]} {c[1]}"):
            path = str(Path(tmp) / f"{kind}_{size}.pkl")
            st, mk = run_isolated(make_cell, (kind, size, path), args.time_limit)
            if st != "ok":
                progress(f"{kind} {size}: cell generation {st}: {mk}")
                rows.append({"kind": kind, "size": size, "cell": (st, mk)})
                continue
            row = {"kind": kind, "size": size, "cell_time": mk["time"]}
            for solver in ("scipy", "petsc"):
                key = (kind, solver)
                if solver not in args.solvers:
                    row[solver] = ("not run", "")
                    continue
                if failed[key] is not None:
                    row[solver] = ("skipped", f"exceeded the {failed[key]} limit at a smaller size")
                    progress(f"{kind} {size} {solver}: {row[solver][1]}")
                    continue
                dofs_guess = row.get("dofs")
                if dofs_guess:
                    est = extrapolate(pts[key], dofs_guess, 2.0)
                    if est > args.time_limit:
                        row[solver] = ("skipped", f"est. ~{fmt_t(est)} s > time limit")
                        failed[key] = "time (estimated)"
                        progress(f"{kind} {size} {solver}: {row[solver][1]}")
                        continue
                t0 = time.perf_counter()
                st, out = run_isolated(
                    tensor_case, (path, solver, args.rtol, args.mem_limit), args.time_limit
                )
                wall = time.perf_counter() - t0
                row[solver] = (st, out)
                if st == "ok":
                    row["dofs"], row["nnz"], row["nel"] = out["dofs"], out["nnz"], out["nel"]
                    pts[key].append((out["dofs"], out["setup"] + out["tensor"]))
                    progress(f"{kind} {size} {solver}: {out['dofs']} DOFs, setup "
                             f"{out['setup']:.1f} s, tensor {out['tensor']:.1f} s, peak "
                             f"{out['peak']:.0f} MB (process wall {wall:.0f} s)")
                else:
                    failed[key] = "memory" if st == "memory" else (
                        "time" if st == "timeout" else "error")
                    progress(f"{kind} {size} {solver}: {st}: {out}")
            s, p = row.get("scipy", ("", None)), row.get("petsc", ("", None))
            if s[0] == p[0] == "ok":
                row["diff"] = float(np.abs(p[1]["C"] - s[1]["C"]).max()
                                    / np.abs(s[1]["C"]).max())
            rows.append(row)
    return rows


def print_a(rows, args) -> None:
    print(f"\nPart A: effective tensor, linear elasticity, periodic bc. PETSc CG + GAMG, rtol "
          f"{args.rtol:g} (true residual), block size d, rigid-body near-nullspace. "
          f"Time limit {args.time_limit:.0f} s and address-space limit "
          f"{args.mem_limit:.0f} MB per case.\n")
    print("| cell | elements | DOFs | nnz | SciPy setup + tensor (solve) [s] | SciPy peak [MB] "
          "| PETSc setup + tensor (solve) [s] | PETSc CG its / rhs | PETSc peak [MB] "
          "| SciPy/PETSc (tensor) | max rel. diff C |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        name = (f"2D mesh h={r['size']}" if r["kind"] == "mesh2d"
                else f"3D voxel {r['size']}^3")
        if "cell" in r:
            print(f"| {name} | cell generation {r['cell'][0]}: {r['cell'][1]} |")
            continue
        cols = []
        for solver in ("scipy", "petsc"):
            st, o = r.get(solver, ("", ""))
            if st == "ok":
                t = f"{fmt_t(o['setup'])} + {fmt_t(o['tensor'])} ({fmt_t(o['solve'])})"
                its = f"{o['its']} / {o['rhs']}" if solver == "petsc" else None
                cols.append((t, its, f"{o['peak']:.0f}"))
            else:
                cols.append((f"{st}: {o}", "" if solver == "petsc" else None, ""))
        s_ok = r.get("scipy", ("",))[0] == "ok"
        p_ok = r.get("petsc", ("",))[0] == "ok"
        ratio = (f"{r['scipy'][1]['tensor'] / r['petsc'][1]['tensor']:.2f}"
                 if s_ok and p_ok else "")
        diff = f"{r['diff']:.1e}" if "diff" in r else ""
        nums = [f"{r[k]:,}" if k in r else "" for k in ("nel", "dofs", "nnz")]
        print(f"| {name} | {nums[0]} | {nums[1]} | {nums[2]} "
              f"| {cols[0][0]} | {cols[0][2]} | {cols[1][0]} | {cols[1][1]} | {cols[1][2]} "
              f"| {ratio} | {diff} |")


# -- part B ---------------------------------------------------------------------------------------


# part-B micro solvers: FactorKrylov keyword arguments
SOLVERS_B = {
    "superlu": {"max_krylov": 0, "cholesky": False},  # a SuperLU factorization per matrix
    "superlu+gmres": {"cholesky": False},  # SuperLU factors reused as GMRES preconditioner
    "default": {},  # sparse Cholesky + GMRES
}


def _nl_rve(mesh_size: float, label: str = "default"):
    from functools import partial

    from fe2.homogenization import RVE, cells
    from fe2.linalg import FactorKrylov
    from fe2.materials import NeoHookean

    cell = cells.circular_inclusion(0.3, dim=2, mesh_size=mesh_size)
    phases = [NeoHookean(1.0, 0.3, dim=2), NeoHookean(10.0, 0.3, dim=2)]
    return RVE(cell, phases, bc="periodic", solver=partial(FactorKrylov, **SOLVERS_B[label]))


def _inputs(n: int, amp: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    H = amp * rng.uniform(-1.0, 1.0, (2, 2, n))
    dH = 0.1 * amp * rng.uniform(-1.0, 1.0, (2, 2, n))
    eye = np.eye(2)[:, :, None]
    return eye + H, eye + H + dH


def part_b(args, progress) -> dict:
    """Rates of the micro solvers of SOLVERS_B, serial and on 2 workers; best of ``--rounds``
    interleaved rounds (the configurations alternate, so that a change of machine load hits
    all of them alike)."""
    from fe2.oracle import evaluate

    n = args.points
    F0, F1 = _inputs(n, args.amp, seed=1)
    Fw0, Fw1 = _inputs(4, args.amp, seed=2)  # warm-up inputs
    res: dict = {}
    rves = {label: _nl_rve(args.nl_mesh_size, label) for label in SOLVERS_B}
    m = rves["default"]._micro()
    res["dofs"], res["nel"] = int(m.rmap.max()) + 1, m.nel
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        for rnd in progress_cases(range(args.rounds), "bench/rve.py part B",
                                  lambda r: f"round {r}"):
            for mode, ex in (("serial", None), ("2 workers", pool)):
                for label, rve in rves.items():
                    if rnd == 0:  # numba compilation, micro set-up in the workers
                        cs = 1 if ex else None
                        w = evaluate(rve, Fw0, executor=ex, chunk_size=cs)
                        evaluate(rve, Fw1, state=w.state, executor=ex, chunk_size=cs)
                    t0 = time.perf_counter()
                    cold = evaluate(rve, F0, executor=ex)
                    t_cold = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    warm = evaluate(rve, F1, state=cold.state, executor=ex)
                    t_warm = time.perf_counter() - t0
                    for what, r, t in (("cold", cold, t_cold), ("warm", warm, t_warm)):
                        key = (label, mode, what)
                        progress(f"part B round {rnd} {label} {mode} {what}: {n / t:.2f} eval/s, "
                                 f"mean micro Newton its {np.mean(r.info['iterations']):.2f}")
                        if key in res and res[key]["time"] <= t:
                            continue
                        res[key] = {
                            "rate": n / t, "time": t,
                            "its": float(np.mean(r.info["iterations"])),
                            "conv": bool(np.all(r.info["converged"])),
                            "P": np.asarray(r.flux), "T": np.asarray(r.tangent),
                        }
    # solver counters of one serial cold + warm pass
    for label, rve in rves.items():
        sol = rve._micro().solver
        s0 = dict(vars(sol.stats))
        cold = rve.evaluate(F0)
        rve.evaluate(F1, state=cold.state)
        res[("stats", label)] = {k: v - s0[k] for k, v in vars(sol.stats).items()}
    return res


def print_b(res, args) -> None:
    n = args.points
    print(f"\nPart B: nonlinear RVE evaluations per second, 2D neo-Hookean inclusion cell "
          f"({res['nel']} P1 triangles, {res['dofs']:,} DOFs, periodic, finite strain), "
          f"{n} macro points, F = I + H with |H_ij| <= {args.amp}; warm = next load step "
          f"(|dH_ij| <= {0.1 * args.amp:g}) from the committed state. Micro solvers: "
          "superlu = FactorKrylov(max_krylov=0, cholesky=False) (a SuperLU factorization per "
          "Newton matrix and condensation), superlu+gmres = FactorKrylov(cholesky=False) (factors "
          "reused as GMRES preconditioner), default = FactorKrylov() (sparse Cholesky + GMRES).\n")
    print("| start | executor | superlu [eval/s] | superlu+gmres [eval/s] | default [eval/s] "
          "| default per core | default / superlu | micro Newton its "
          "| max rel. diff P / tangent (default vs superlu) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for what in ("cold", "warm"):
        for mode in ("serial", "2 workers"):
            b, g, o = (res[(lab, mode, what)] for lab in SOLVERS_B)
            cores = 1 if mode == "serial" else 2
            dP = np.abs(o["P"] - b["P"]).max() / np.abs(b["P"]).max()
            dT = np.abs(o["T"] - b["T"]).max() / np.abs(b["T"]).max()
            conv = "" if (o["conv"] and b["conv"] and g["conv"]) else " (not all converged)"
            print(f"| {what} | {mode} | {b['rate']:.2f} | {g['rate']:.2f} | {o['rate']:.2f} "
                  f"| {o['rate'] / cores:.2f} | {o['rate'] / b['rate']:.2f} "
                  f"| {o['its']:.2f}{conv} | {dP:.1e} / {dT:.1e} |")
    for what in ("cold", "warm"):
        s, p = res[("default", "serial", what)], res[("default", "2 workers", what)]
        dp = np.abs(p["P"] - s["P"]).max() / np.abs(s["P"]).max()
        print(f"\n{what}: 2 workers / serial (default) = {p['rate'] / s['rate']:.2f}; serial vs "
              f"2 workers max rel. diff P {dp:.1e}")
    print(f"\nMicro linear solves in one serial cold + warm pass over the {n} points:\n")
    print("| solver | factorizations (Cholesky) | GMRES solves | GMRES iterations "
          "| reused factors |")
    print("|---|---:|---:|---:|---:|")
    for label in SOLVERS_B:
        st = res[("stats", label)]
        print(f"| {label} | {st['factorizations']} ({st['cholesky']}) | {st['krylov']} "
              f"| {st['krylov_iterations']} | {st['reuses']} |")


def machine() -> str:
    import scipy
    import skfem

    try:
        import petsc4py

        pv = f"petsc4py {petsc4py.__version__}"
    except ImportError:
        pv = "no petsc4py"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0]
    return (
        f"{datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; {cpu}, "
        f"{os.cpu_count()} cores, {mem:.0f} GB RAM, load average at the end {load:.1f}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-fem {skfem.__version__}, {pv}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run (< 60 s)")
    ap.add_argument("--time-limit", type=float, default=600.0,
                    help="wall-clock limit per part-A case [s] (default 600)")
    ap.add_argument("--mem-limit", type=float, default=None,
                    help="address-space limit per part-A case [MB] (default 85%% of RAM; "
                         "the PETSc 64^3 case peaks at ~15.5 GB)")
    ap.add_argument("--rtol", type=float, default=1e-8, help="PETSc CG rtol (default 1e-8)")
    ap.add_argument("--mesh-sizes", type=float, nargs="*", default=None)
    ap.add_argument("--voxels", type=int, nargs="*", default=None)
    ap.add_argument("--points", type=int, default=None, help="macro points in part B")
    ap.add_argument("--amp", type=float, default=0.1, help="|F - I| amplitude in part B")
    ap.add_argument("--nl-mesh-size", type=float, default=0.022)
    ap.add_argument("--rounds", type=int, default=None, help="part B rounds (best of)")
    ap.add_argument("--solvers", nargs="+", default=["scipy", "petsc"], choices=["scipy", "petsc"],
                    help="part-A solvers (default both)")
    ap.add_argument("--skip-a", action="store_true")
    ap.add_argument("--skip-b", action="store_true")
    args = ap.parse_args(argv)
    if args.mem_limit is None:
        args.mem_limit = 0.85 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    if args.mesh_sizes is None:
        args.mesh_sizes = [0.016] if args.quick else MESH_SIZES
    if args.voxels is None:
        args.voxels = [12] if args.quick else VOXELS
    if args.points is None:
        args.points = 8 if args.quick else 48
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    if args.quick:
        args.nl_mesh_size = max(args.nl_mesh_size, 0.035)

    progress = note

    t_start = time.perf_counter()
    rows = [] if args.skip_a else part_a(args, progress)
    res = None if args.skip_b else part_b(args, progress)
    print(f"Machine: {machine()}")
    print(f"Command: python bench/rve.py {' '.join(argv if argv is not None else sys.argv[1:])}"
          f" (total {time.perf_counter() - t_start:.0f} s)")
    if rows:
        print_a(rows, args)
    if res:
        print_b(res, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
