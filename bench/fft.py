"""FFT-preconditioned voxel RVEs (``RVE(..., method="fft")``) against the sparse FE path.

Part A, effective tensor (``RVE.effective_tensor()``): periodic linear elasticity on 3D
voxel cells n^3 (a voxelized sphere, volume fraction ~0.2, the cell of bench/rve.py),
matrix E = 1, nu = 0.3, inclusion E = 10, nu = 0.2; the 6 independent load cases
(symmetric unit strains). Methods:

* fft: ``RVE(cell, phases, method="fft")``: conjugate gradients on the periodic
  trilinear FE system, matrix-free, preconditioned by the FFT-diagonalised operator of a
  homogeneous reference medium; relative residual 1e-8 per load case;
* petsc: the sparse path with ``fe2.linalg.petsc_krylov`` CG + GAMG (bench/rve.py's
  ``tensor_case``: block size 3, rigid-body near-nullspace), true-residual ``--rtol``;
* direct: the sparse path's default micro solver (sparse Cholesky, one factorization).

Part B, one nonlinear evaluation of a J2 voxel cell (same sphere, elastic inclusion
E = 10, J2 matrix E = 1, nu = 0.3, sigma_y = 0.004, H_iso = 0.1) at the strain
``diag(0.01, -0.003, -0.003) + 0.002 (e1 e2 + e2 e1)`` from the virgin state: micro
Newton plus the consistent tangent (condensation), fft vs the sparse default solver.

Part C, CG iterations per load case (relative residual 1e-8) vs refinement and contrast:
3D elasticity, a random 4x4x4 two-phase pattern (40 % stiff) refined by voxel subdivision
to n^3, E ratio = contrast, nu = 0.3 in both phases; and the 2D checkerboard of
conductivities 1 and contrast (n voxels per square).

Every case runs in a fresh spawned process (peak RSS = its ``ru_maxrss``) with a
wall-clock limit (``--time-limit``) and an address-space limit (``--mem-limit``); a
method that exceeds a limit at one size is not tried at larger sizes. Run with
``OPENBLAS_NUM_THREADS=1`` on a shared machine (threaded BLAS oversubscribes the cores
that other jobs use; the FFTs use ``scipy.fft`` with 2 workers).

Usage::

    OPENBLAS_NUM_THREADS=1 python bench/fft.py            # full run
    OPENBLAS_NUM_THREADS=1 python bench/fft.py --quick    # smoke run, < 60 s
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import fmt_t, note, run_isolated

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rve import machine, make_cell, tensor_case  # noqa: E402  (bench/rve.py)

VOXELS = [32, 64, 128]
J2_VOXELS = [16, 24, 32]
J2_STRAIN = np.array([[0.01, 0.002, 0.0], [0.002, -0.003, 0.0], [0.0, 0.0, -0.003]])


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _limit(mem_limit_mb: float) -> None:
    if mem_limit_mb:
        lim = int(mem_limit_mb * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))


def fft_tensor_case(cell_path: str, mem_limit_mb: float) -> dict:
    """Effective tensor of the pickled cell by the FFT path."""
    _limit(mem_limit_mb)
    from fe2.homogenization import RVE
    from fe2.materials import LinearElastic

    with open(cell_path, "rb") as f:
        cell = pickle.load(f)
    phases = [LinearElastic(1.0, 0.3), LinearElastic(10.0, 0.2)]
    t0 = time.perf_counter()
    rve = RVE(cell, phases, bc="periodic", method="fft")
    t_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    C = rve.effective_tensor()
    t_tensor = time.perf_counter() - t0
    r = rve.evaluate(np.zeros((3, 3, 1)))
    n = cell.image.shape
    return {
        "setup": t_setup,
        "tensor": t_tensor,
        "dofs": 3 * int(np.prod(n)),
        "its": int(r.info["krylov_iterations"][0]),
        "rhs": 6,
        "peak": _peak_mb(),
        "C": np.asarray(C),
    }


def j2_case(n: int, method: str, mem_limit_mb: float) -> dict:
    """One J2 evaluation (flux, tangent) of the n^3 sphere cell from the virgin state."""
    _limit(mem_limit_mb)
    import math

    from fe2.homogenization import RVE, cells
    from fe2.materials import J2Plasticity, LinearElastic

    x = (np.arange(n) + 0.5) / n
    X = np.meshgrid(x, x, x, indexing="ij")
    r = (3 * 0.2 / (4 * math.pi)) ** (1 / 3)
    img = (sum((c - 0.5) ** 2 for c in X) < r * r).astype(np.int64)
    phases = [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1), LinearElastic(10.0, 0.2)]
    t0 = time.perf_counter()
    rve = RVE(cells.from_image(img), phases, method=method)
    t_setup = time.perf_counter() - t0
    st = rve.initial_state((1,))
    t0 = time.perf_counter()
    res = rve.evaluate(J2_STRAIN[..., None], state=st)
    t_eval = time.perf_counter() - t0
    return {
        "setup": t_setup,
        "eval": t_eval,
        "newton": int(res.info["iterations"][0]),
        "krylov": int(res.info.get("krylov_iterations", [0])[0]),
        "converged": bool(res.info["converged"][0]),
        "plastic": float(np.mean(res.state["alpha"] > 0)),
        "flux": res.flux[..., 0],
        "tangent": res.tangent[..., 0],
        "peak": _peak_mb(),
    }


def iterations_case(kind: str, n: int, contrast: float) -> dict:
    """CG iterations per load case of the effective tensor (part C)."""
    from fe2.homogenization import RVE, cells
    from fe2.materials import LinearConductivity, LinearElastic

    if kind == "elasticity":
        rng = np.random.default_rng(5)
        base = rng.choice(2, size=(4, 4, 4), p=[0.6, 0.4])
        img = np.kron(base, np.ones((n // 4,) * 3, dtype=np.int64))
        rve = RVE(cells.from_image(img), [LinearElastic(1.0, 0.3), LinearElastic(contrast, 0.3)],
                  method="fft")
        g, cases = np.zeros((3, 3, 1)), 6
    else:
        rve = RVE(cells.checkerboard(n), [LinearConductivity(1.0), LinearConductivity(contrast)],
                  method="fft")
        g, cases = np.zeros((2, 1)), 2
    t0 = time.perf_counter()
    rve.effective_tensor()
    t = time.perf_counter() - t0
    return {"its": rve.evaluate(g).info["krylov_iterations"][0] / cases, "time": t}


def part_c(args) -> dict:
    out = {}
    for kind, sizes in (("elasticity", args.c_voxels), ("checkerboard", args.c_squares)):
        for contrast in args.contrasts:
            for n in sizes:
                st, r = run_isolated(iterations_case, (kind, n, contrast), args.time_limit)
                out[kind, contrast, n] = r["its"] if st == "ok" else st
                note(f"{kind} contrast {contrast:g} n {n}: {out[kind, contrast, n]}")
    return out


def print_c(res, args) -> None:
    print("\nPart C: CG iterations per load case (rtol 1e-8) vs refinement and contrast.")
    for kind, sizes, label in (("elasticity", args.c_voxels, "3D elasticity, n^3 voxels"),
                               ("checkerboard", args.c_squares,
                                "2D checkerboard, n voxels per square")):
        print(f"\n{label}:\n")
        print("| contrast | " + " | ".join(f"n = {n}" for n in sizes) + " |")
        print("|---:|" + "---:|" * len(sizes))
        for contrast in args.contrasts:
            vals = [res[kind, contrast, n] for n in sizes]
            print(f"| {contrast:g} | " + " | ".join(
                f"{v:.1f}" if isinstance(v, float) else str(v) for v in vals) + " |")


def part_a(args) -> list[dict]:
    rows = []
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="fe2_bench_fft_") as tmp:
        for n in args.voxels:
            path = str(Path(tmp) / f"voxel_{n}.pkl")
            st, mk = run_isolated(make_cell, ("voxel3d", n, path), args.time_limit)
            row: dict = {"n": n, "dofs": 3 * n**3}
            if st != "ok":
                row["cell"] = (st, mk)
                rows.append(row)
                continue
            for method in args.methods:
                limit = {"direct": args.direct_max, "petsc": args.petsc_max}.get(method, 10**9)
                if n > limit:
                    row[method] = ("not run", f"n > {limit} (--{method}-max)")
                    continue
                if method in failed:
                    row[method] = ("skipped", f"exceeded the {failed[method]} limit before")
                    continue
                if method == "fft":
                    job, jargs = fft_tensor_case, (path, args.mem_limit)
                else:
                    solver = "scipy" if method == "direct" else "petsc"
                    job, jargs = tensor_case, (path, solver, args.rtol, args.mem_limit)
                st, out = run_isolated(job, jargs, args.time_limit)
                row[method] = (st, out)
                if st == "ok":
                    note(f"{n}^3 {method}: setup {out['setup']:.1f} s, tensor "
                         f"{out['tensor']:.1f} s, {out['its']} its, peak {out['peak']:.0f} MB")
                else:
                    failed[method] = {"memory": "memory", "timeout": "time"}.get(st, "error")
                    note(f"{n}^3 {method}: {st}: {out}")
            rows.append(row)
    return rows


def part_b(args) -> list[dict]:
    rows = []
    failed: set[str] = set()
    for n in args.j2_voxels:
        row: dict = {"n": n, "dofs": 3 * n**3}
        for method in ("fft", "sparse"):
            if method in failed or (method == "sparse" and n > args.j2_sparse_max):
                row[method] = ("not run", "")
                continue
            st, out = run_isolated(j2_case, (n, method, args.mem_limit), args.time_limit)
            row[method] = (st, out)
            if st == "ok":
                note(f"J2 {n}^3 {method}: eval {out['eval']:.1f} s, Newton {out['newton']}, "
                     f"Krylov {out['krylov']}, peak {out['peak']:.0f} MB")
            else:
                failed.add(method)
                note(f"J2 {n}^3 {method}: {st}: {out}")
        rows.append(row)
    return rows


def _cell(res, key: str, fmt) -> str:
    st, out = res
    return fmt(out[key]) if st == "ok" else st


def print_a(rows, args) -> None:
    print(f"\nPart A: effective tensor, periodic linear elasticity, 6 load cases. fft: CG rtol "
          f"1e-8 per load case; petsc: CG + GAMG rtol {args.rtol:g} (true residual); direct: "
          "sparse Cholesky.")
    print("| cell | DOFs | method | setup + tensor [s] | Krylov its (6 rhs) | peak RSS [MB] "
          "| time / fft | peak / fft | max rel. diff C vs fft |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        if "cell" in row:
            print(f"| {row['n']}³ | {row['dofs']:,} | cell generation {row['cell'][0]} "
                  "| | | | | | |")
            continue
        ref = row.get("fft", ("", None))
        for method in args.methods:
            st, out = row.get(method, ("not run", ""))
            if st != "ok":
                print(f"| {row['n']}³ | {row['dofs']:,} | {method} | {st} {out} | | | | | |")
                continue
            tot = out["setup"] + out["tensor"]
            its = out["its"]
            ratio = peak = diff = ""
            if ref[0] == "ok" and method != "fft":
                rt = ref[1]["setup"] + ref[1]["tensor"]
                ratio = f"{tot / rt:.1f}"
                peak = f"{out['peak'] / ref[1]['peak']:.1f}"
                diff = f"{np.abs(out['C'] - ref[1]['C']).max() / np.abs(ref[1]['C']).max():.1e}"
            print(f"| {row['n']}³ | {row['dofs']:,} | {method} | {fmt_t(out['setup'])} + "
                  f"{fmt_t(out['tensor'])} | {its} | {out['peak']:.0f} | {ratio} | {peak} "
                  f"| {diff} |")


def print_b(rows) -> None:
    print("\nPart B: one J2 evaluation (micro Newton + consistent tangent), virgin state.")
    print("| cell | DOFs | method | setup [s] | evaluation [s] | Newton its | Krylov its "
          "| plastic points | peak RSS [MB] | time / fft | max rel. diff flux, tangent |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        ref = row.get("fft", ("", None))
        for method in ("fft", "sparse"):
            st, out = row.get(method, ("not run", ""))
            if st != "ok":
                print(f"| {row['n']}³ | {row['dofs']:,} | {method} | {st} | | | | | | | |")
                continue
            ratio = diff = ""
            if method != "fft" and ref[0] == "ok":
                ratio = f"{out['eval'] / ref[1]['eval']:.1f}"
                df = np.abs(out["flux"] - ref[1]["flux"]).max() / np.abs(ref[1]["flux"]).max()
                dt = (np.abs(out["tangent"] - ref[1]["tangent"]).max()
                      / np.abs(ref[1]["tangent"]).max())
                diff = f"{df:.1e}, {dt:.1e}"
            print(f"| {row['n']}³ | {row['dofs']:,} | {method} | {fmt_t(out['setup'])} | "
                  f"{fmt_t(out['eval'])} | {out['newton']} | {out['krylov'] or ''} | "
                  f"{out['plastic']:.0%} | {out['peak']:.0f} | {ratio} | {diff} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run (< 60 s)")
    ap.add_argument("--voxels", type=int, nargs="*", default=None)
    ap.add_argument("--methods", nargs="+", default=["fft", "petsc", "direct"],
                    choices=["fft", "petsc", "direct"])
    ap.add_argument("--petsc-max", type=int, default=64, help="largest n for petsc (64)")
    ap.add_argument("--direct-max", type=int, default=32, help="largest n for direct (32)")
    ap.add_argument("--j2-voxels", type=int, nargs="*", default=None)
    ap.add_argument("--j2-sparse-max", type=int, default=24)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--mem-limit", type=float, default=None,
                    help="address-space limit per case [MB] (default 85%% of RAM)")
    ap.add_argument("--rtol", type=float, default=1e-8, help="PETSc CG rtol (default 1e-8)")
    ap.add_argument("--skip-a", action="store_true")
    ap.add_argument("--skip-b", action="store_true")
    ap.add_argument("--skip-c", action="store_true")
    ap.add_argument("--contrasts", type=float, nargs="*", default=None)
    ap.add_argument("--c-voxels", type=int, nargs="*", default=None)
    ap.add_argument("--c-squares", type=int, nargs="*", default=None)
    args = ap.parse_args(argv)
    if args.contrasts is None:
        args.contrasts = [10.0, 100.0] if args.quick else [10.0, 100.0, 1e3, 1e4]
    if args.c_voxels is None:
        args.c_voxels = [4, 8] if args.quick else [8, 16, 32, 64]
    if args.c_squares is None:
        args.c_squares = [4, 8] if args.quick else [8, 32, 128, 512]
    if args.mem_limit is None:
        args.mem_limit = 0.85 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    if args.voxels is None:
        args.voxels = [12, 16] if args.quick else VOXELS
    if args.j2_voxels is None:
        args.j2_voxels = [8] if args.quick else J2_VOXELS
    t_start = time.perf_counter()
    rows = [] if args.skip_a else part_a(args)
    res = [] if args.skip_b else part_b(args)
    its = {} if args.skip_c else part_c(args)
    print(f"Machine: {machine()}")
    print(f"Command: python bench/fft.py {' '.join(argv if argv is not None else sys.argv[1:])}"
          f" (total {time.perf_counter() - t_start:.0f} s)")
    if rows:
        print_a(rows, args)
    if res:
        print_b(res)
    if its:
        print_c(its, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
