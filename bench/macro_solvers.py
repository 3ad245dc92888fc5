"""Macro linear solvers: SciPy direct (SuperLU) vs PETSc CG + GAMG on 3D unit cubes.

Problems (scikit-fem, P1 tetrahedra on ``MeshTet.init_tensor`` unit cubes, one-point
quadrature, which is exact for P1 stiffness and a constant load):

* ``elasticity``: linear elasticity (E = 1, nu = 0.3), clamped face x = 0, unit body
  force in z; PETSc gets the six rigid-body modes as near-nullspace and block size 3.
* ``poisson``: -Δu = 1, u = 0 on the whole boundary.

Every step runs in a fresh spawned subprocess: assembly (skfem + ``condense``, the
matrix is saved to a temporary file), the SciPy solve (``fe2.linalg.scipy_direct``:
COLAMD ordering + SuperLU factorization + solve) and the PETSc solve
(``fe2.linalg.petsc_krylov``: CSR -> ``Mat`` copy + GAMG set-up + CG, true-residual
``rtol``), and the sparse Cholesky (``fe2.linalg.cholesky_direct``: CHOLMOD's
ordering + analysis + supernodal factorization + solve). Memory is each
process's peak RSS (``ru_maxrss``), shown with the baseline RSS just before the solve
(interpreter, libraries and the loaded matrix). A SciPy
solve whose time or memory, extrapolated from the two previous sizes with a power law,
exceeds ``--time-limit`` or ``--mem-limit`` is skipped and its estimate is shown as
``~t (est.)``. A second table measures what ``scipy_direct(reuse=True)`` saves.

Usage::

    python bench/macro_solvers.py                       # up to ~1e6 DOFs, 600 s limit
    python bench/macro_solvers.py --max-dofs 2e5 --time-limit 120
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cases as progress_cases
from _common import extrapolate, fmt_t, note, run_isolated

# cube divisions N: elasticity has 3 N (N + 1)^2 free DOFs, Poisson (N - 1)^3
SIZES = {
    "elasticity": [15, 22, 32, 47, 55, 69],
    "poisson": [22, 33, 47, 68, 101],
}


def dofs_of(problem: str, n: int) -> int:
    return 3 * n * (n + 1) ** 2 if problem == "elasticity" else (n - 1) ** 3


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# -- workers (run in spawned subprocesses) ------------------------------------------------------


def assemble(problem: str, n: int, path: str) -> dict:
    import skfem
    from skfem.models.elasticity import lame_parameters, linear_elasticity
    from skfem.models.poisson import laplace

    from fe2.linalg import rigid_body_modes

    t0 = time.perf_counter()
    g = np.linspace(0.0, 1.0, n + 1)
    mesh = skfem.MeshTet.init_tensor(g, g, g)
    if problem == "elasticity":
        basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementTetP1()), intorder=1)
        K = linear_elasticity(*lame_parameters(1.0, 0.3)).assemble(basis)
        f = skfem.LinearForm(lambda v, w: v[2]).assemble(basis)
        D = basis.get_dofs(lambda x: x[0] == 0.0).all()
    else:
        basis = skfem.Basis(mesh, skfem.ElementTetP1(), intorder=1)
        K = laplace.assemble(basis)
        f = skfem.LinearForm(lambda v, w: v).assemble(basis)
        D = basis.get_dofs().all()
    A, b, _, I = skfem.condense(K, f, D=D)
    t_asm = time.perf_counter() - t0
    modes = (
        rigid_body_modes(mesh.p, basis.nodal_dofs)[I] if problem == "elasticity" else np.zeros(0)
    )
    np.savez(path, indptr=A.indptr, indices=A.indices, data=A.data, b=b, modes=modes)
    return {"time": t_asm, "dofs": A.shape[0], "nnz": A.nnz, "peak": _peak_mb()}


def _load(path: str):
    import scipy.sparse as sp

    z = np.load(path)
    n = z["b"].size
    A = sp.csr_array((z["data"], z["indices"], z["indptr"]), shape=(n, n))
    modes = z["modes"]
    return A, z["b"], (modes if modes.size else None)


def solve(kind: str, path: str, rtol: float) -> dict:
    import fe2.linalg as la

    A, b, modes = _load(path)
    if kind == "petsc":
        from petsc4py import PETSc  # noqa: F401  (import and PETSc start-up are not timed)
    base = _rss_mb()
    t0 = time.perf_counter()
    if kind == "scipy":
        solver = la.scipy_direct(reuse=False)
        x = solver(A, b)
        its = 0
    elif kind == "cholesky":
        la.cholesky_direct()(A[:2, :2] + 0 * A[:2, :2], b[:2])  # CHOLMOD loaded, untimed
        t0 = time.perf_counter()
        x = la.cholesky_direct()(A, b)  # analysis + factorization + solve
        its = 0
    else:
        bs = 3 if modes is not None else None
        with la.petsc_krylov("bench_", rtol=rtol, near_nullspace=modes, block_size=bs) as solver:
            x = solver(A, b)
            its = solver.stats.iterations
    t = time.perf_counter() - t0
    res = float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))
    np.save(f"{path}.{kind}.npy", x)
    return {"time": t, "peak": _peak_mb(), "base": base, "its": its, "res": res}


def reuse_timing(problem: str, size: int) -> dict:
    """Time scipy_direct: new pattern, same pattern with new values, same matrix."""
    import skfem
    from skfem.models.elasticity import lame_parameters, linear_elasticity
    from skfem.models.poisson import laplace

    import fe2.linalg as la

    if problem == "poisson2d":
        basis = skfem.Basis(skfem.MeshTri().refined(size), skfem.ElementTriP1(), intorder=1)
        K, D = laplace.assemble(basis), basis.get_dofs().all()
    else:
        g = np.linspace(0.0, 1.0, size + 1)
        mesh = skfem.MeshTet.init_tensor(g, g, g)
        basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementTetP1()), intorder=1)
        K = linear_elasticity(*lame_parameters(1.0, 0.3)).assemble(basis)
        D = basis.get_dofs(lambda x: x[0] == 0.0).all()
    A, b, _, _ = skfem.condense(K, np.ones(K.shape[0]), D=D)
    A2 = A.copy()
    A2.data *= 1.0 + 0.1 * np.cos(np.arange(A2.nnz))  # same pattern, new values
    A2 = (A2 + A2.T) / 2
    A2.sort_indices()
    times = {"first": [], "pattern": [], "same": []}
    for _ in range(3):
        solver = la.scipy_direct(reuse=True)
        for key, M in (("first", A), ("pattern", A2), ("same", A2)):
            t0 = time.perf_counter()
            solver(M, b)
            times[key].append(time.perf_counter() - t0)
        assert solver.stats.reuses == 2 and solver.stats.factorizations == 2
    return {"dofs": A.shape[0], **{k: min(v) for k, v in times.items()}}


# -- driver ---------------------------------------------------------------------------------------


def machine() -> str:
    import petsc4py
    import scipy
    import skfem

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{datetime.date.today().isoformat()}; {cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM; "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-fem {skfem.__version__}, petsc4py {petsc4py.__version__} "
        f"(sequential PETSc, native GAMG)"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-dofs", type=float, default=1.1e6, help="largest system (default 1.1e6)")
    ap.add_argument("--time-limit", type=float, default=600.0,
                    help="skip a SciPy solve whose estimated time exceeds this [s] (default 600)")
    ap.add_argument("--mem-limit", type=float, default=None,
                    help="skip a SciPy solve whose estimated peak RSS exceeds this [MB] "
                         "(default 75%% of RAM)")
    ap.add_argument("--rtol", type=float, default=1e-8,
                    help="PETSc true-residual tolerance ||b - Ax|| / ||b|| (default 1e-8)")
    ap.add_argument("--problems", nargs="+", default=["elasticity", "poisson"],
                    choices=list(SIZES))
    ap.add_argument("--no-reuse", action="store_true", help="skip the scipy_direct reuse table")
    args = ap.parse_args(argv)
    mem_limit = args.mem_limit or 0.75 * os.sysconf("SC_PAGE_SIZE") * os.sysconf(
        "SC_PHYS_PAGES") / 2**20
    hard = 2.0 * args.time_limit

    progress = note

    rows = []
    with tempfile.TemporaryDirectory(prefix="fe2_bench_") as tmp:
        for problem in progress_cases(args.problems, "bench/macro_solvers.py"):
            t_pts, m_pts, c_pts = [], [], []
            for n in SIZES[problem]:
                if dofs_of(problem, n) > args.max_dofs:
                    break
                path = str(Path(tmp) / f"{problem}_{n}.npz")
                st, asm = run_isolated(assemble, (problem, n, path), hard)
                if st != "ok":
                    progress(f"{problem} N={n}: assembly {st}: {asm}")
                    break
                row = {"problem": problem, "n": n, **{f"asm_{k}": v for k, v in asm.items()}}
                progress(f"{problem} N={n}: {asm['dofs']} DOFs assembled in {asm['time']:.1f} s")
                est_t = extrapolate(t_pts, asm["dofs"], 2.0)
                est_m = extrapolate(m_pts, asm["dofs"], 4.0 / 3.0)
                why = [w for w, over in (("time", est_t > args.time_limit),
                                         ("memory", est_m > mem_limit)) if over]
                if why:
                    row["scipy"] = ("skipped", {"time": est_t, "mem": est_m, "why": why})
                else:
                    row["scipy"] = run_isolated(solve, ("scipy", path, args.rtol), hard)
                    if row["scipy"][0] == "ok":
                        s = row["scipy"][1]
                        t_pts.append((asm["dofs"], s["time"]))
                        m_pts.append((asm["dofs"], s["peak"] - s["base"]))
                progress(f"  scipy: {row['scipy']}")
                est_c = extrapolate(c_pts, asm["dofs"], 2.0)
                if est_c > args.time_limit:
                    row["cholesky"] = ("skipped", {"time": est_c})
                else:
                    row["cholesky"] = run_isolated(solve, ("cholesky", path, args.rtol), hard)
                    if row["cholesky"][0] == "ok":
                        c_pts.append((asm["dofs"], row["cholesky"][1]["time"]))
                progress(f"  cholesky: {row['cholesky']}")
                row["petsc"] = run_isolated(solve, ("petsc", path, args.rtol), hard)
                progress(f"  petsc: {row['petsc']}")
                if row["scipy"][0] == row["petsc"][0] == "ok":
                    xs, xp = np.load(f"{path}.scipy.npy"), np.load(f"{path}.petsc.npy")
                    row["diff"] = float(np.linalg.norm(xp - xs) / np.linalg.norm(xs))
                rows.append(row)
                for f in Path(tmp).glob(f"{problem}_{n}.npz*"):
                    f.unlink()

        reuse = []
        if not args.no_reuse:
            for problem, size in (("poisson2d", 9), ("elasticity3d", 20)):
                st, out = run_isolated(reuse_timing, (problem, size), hard)
                progress(f"reuse {problem}: {st} {out}")
                if st == "ok":
                    reuse.append((problem, out))

    print(f"Machine: {machine()}\n")
    print(f"PETSc: CG + GAMG, rtol {args.rtol:g} on the true residual; elasticity with "
          f"rigid-body near-nullspace and block size 3. SciPy: splu (COLAMD). Cholesky: "
          f"fe2.linalg.cholesky_direct (CHOLMOD: ordering, analysis + supernodal "
          f"factorization + solve). Times are "
          f"wall-clock of the solve call; memory is peak RSS of the solver process / "
          f"baseline RSS before the solve (interpreter + libraries + matrix), MB. "
          f"Time limit {args.time_limit:.0f} s, memory limit {mem_limit:.0f} MB.\n")
    print("| problem | DOFs | nnz | assembly [s] | SciPy splu [s] | SciPy peak/base [MB] "
          "| Cholesky [s] | SciPy/Cholesky | PETSc CG+GAMG [s] | its | PETSc peak/base [MB] "
          "| SciPy/PETSc | rel. diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        st_s, s = r["scipy"]
        st_p, p = r["petsc"]
        if st_s == "ok":
            s_t, s_m = fmt_t(s["time"]), f"{s['peak']:.0f} / {s['base']:.0f}"
        elif st_s == "skipped":
            s_t = f"skipped, est. ~{fmt_t(s['time'])}"
            s_m = f"est. ~{s['mem']:.0f} extra"
            s_m += f" (over {' and '.join(s['why'])} limit)"
        else:
            s_t, s_m = st_s, s
        if st_p == "ok":
            p_t, p_its, p_m = fmt_t(p["time"]), str(p["its"]), f"{p['peak']:.0f} / {p['base']:.0f}"
        else:
            p_t, p_its, p_m = st_p, "", p
        if st_s in ("ok", "skipped") and st_p == "ok":
            q = s["time"] / p["time"]
            ratio = f"{q:.1f}" if st_s == "ok" else f"est. ~{q:.0f}"
        else:
            ratio = ""
        diff = f"{r['diff']:.1e}" if "diff" in r else ""
        st_c, c = r["cholesky"]
        c_t = fmt_t(c["time"]) if st_c == "ok" else (
            f"skipped, est. ~{fmt_t(c['time'])}" if st_c == "skipped" else st_c)
        c_q = f"{s['time'] / c['time']:.1f}" if st_s == st_c == "ok" else ""
        print(f"| {r['problem']} | {r['asm_dofs']:,} | {r['asm_nnz']:,} | {fmt_t(r['asm_time'])} "
              f"| {s_t} | {s_m} | {c_t} | {c_q} | {p_t} | {p_its} | {p_m} | {ratio} | {diff} |")
    if reuse:
        print("\nscipy_direct(reuse=True): time of a call [s] (best of 3)\n")
        print("| problem | DOFs | new pattern (COLAMD + LU) | same pattern, new values "
              "(NATURAL on permuted A) | speed-up | same matrix (factorization reused) |")
        print("|---|---:|---:|---:|---:|---:|")
        for problem, o in reuse:
            print(f"| {problem} | {o['dofs']:,} | {o['first']:.3f} | {o['pattern']:.3f} "
                  f"| {o['first'] / o['pattern']:.2f} | {o['same']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
