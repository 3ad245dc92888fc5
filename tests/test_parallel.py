"""Scale-out: the same answer from every executor, lost workers, load balancing.

References are the serial in-process evaluation of the same oracle (an RVE
with a J2 elastic-plastic matrix, and the J2 material itself): every executor
must reproduce it to 1e-12 (chunking never changes what a point computes).
"""

import logging
import multiprocessing
import os
import pickle
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
import skfem
from case_texts import pull_right

from fe2.homogenization import RVE, cells
from fe2.macro import NewtonOptions, Problem
from fe2.materials import J2Plasticity, LinearElastic
from fe2.oracle import OracleBase, OracleError, Response, evaluate
from fe2.parallel import (
    ManagedExecutor,
    SerialExecutor,
    WorkerLostError,
    is_worker_loss,
    make_executor,
    mpiexec_path,
    run_chunks,
)

TOL = 1e-12


def j2():
    return J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2)


def rve():
    """Square voxel cell: J2 matrix (phase 0) around a stiff elastic bar (phase 1)."""
    img = np.zeros((6, 6), dtype=int)
    img[2:4, 1:5] = 1
    return RVE(cells.from_image(img), [j2(), LinearElastic(10.0, 0.2, plane="strain")])


def strains(n, seed=0, scale=0.01):
    """Symmetric strains (2, 2, n): most points yield (|eps| ~ 2.5 sigma_y / E)."""
    e = np.random.default_rng(seed).uniform(-scale, scale, (2, 2, n))
    return 0.5 * (e + e.transpose(1, 0, 2))


def max_diff(a, b):
    d = [np.abs(a.flux - b.flux).max(), np.abs(a.tangent - b.tangent).max()]
    d += [np.abs(a.state[k] - b.state[k]).max() for k in b.state]
    d += [np.abs(np.asarray(a.info[k], float) - np.asarray(b.info[k], float)).max()
          for k in b.info]
    return max(d)


@pytest.fixture(scope="module")
def batch():
    """(oracle, input, committed state, serial reference) for the RVE and the J2 material."""
    out = {}
    # RVE: two steps, the second from the committed plastic state of the first
    o = rve()
    e = strains(12)
    st0 = o.initial_state((12,))
    st1 = o.evaluate(e, state=st0).state
    out["rve"] = (o, 1.5 * e, st1, o.evaluate(1.5 * e, state=st1))
    m = j2()
    e = strains(400, seed=1).reshape(2, 2, 40, 10)
    st = m.evaluate(e).state
    out["j2"] = (m, 1.3 * e, st, m.evaluate(1.3 * e, state=st))
    for name, (_, _, _, ref) in out.items():
        plastic = ref.state["alpha"] > 0
        assert plastic.any() and not plastic.all(), name  # both branches of the return map
    return out


# ---------------------------------------------------------------- every executor


@pytest.mark.parametrize("kind", ["serial", "thread", "process"])
def test_local_executors_match_serial(batch, kind):
    with make_executor(kind, workers=2) as ex:
        for oracle, g, st, ref in batch.values():
            for cs in (None, 1, 7):
                r = evaluate(oracle, g, state=st, executor=ex, chunk_size=cs)
                assert r.flux.shape == ref.flux.shape
                assert max_diff(r, ref) <= TOL


def test_foreign_executors_and_rve_attribute(batch):
    oracle, g, st, ref = batch["rve"]
    with ProcessPoolExecutor(2) as pool:
        assert max_diff(evaluate(oracle, g, state=st, executor=pool, chunk_size=2), ref) <= TOL
        clone = pickle.loads(pickle.dumps(oracle))
        clone.executor, clone.chunk_size = pool, 3
        assert max_diff(clone.evaluate(g, state=st), ref) <= TOL
    with ThreadPoolExecutor(3) as pool:
        assert max_diff(evaluate(oracle, g, state=st, executor=pool, chunk_size=1), ref) <= TOL


def test_dask_local_cluster_matches_serial(batch, tmp_path):
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with make_executor("dask", workers=2) as ex:
        for oracle, g, st, ref in batch.values():
            r = evaluate(oracle, g, state=st, executor=ex)
            assert max_diff(r, ref) <= TOL
        # a worker process that dies is restarted by dask's nanny and its task re-run
        oracle, g, st, ref = batch["j2"]
        dying = DiesOnce(oracle, tmp_path / "died", at=123)
        r = evaluate(dying, g, x=point_ids(g.shape[2:]), state=st, executor=ex, chunk_size=50)
        assert (tmp_path / "died").exists()
        assert max_diff(r, ref) <= TOL


MPI_SCRIPT = """
import pickle, sys
import numpy as np
from fe2.oracle import evaluate
from fe2.parallel import make_executor

if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    cases = pickle.load(open(src, "rb"))
    out = {}
    with make_executor("mpi", workers=2) as ex:
        out["workers"] = ex.max_workers
        for name, (oracle, g, st) in cases.items():
            for cs in (None, 1):
                r = evaluate(oracle, g, state=st, executor=ex, chunk_size=cs)
                out[name, cs] = (r.flux, r.tangent, r.state, r.info)
    pickle.dump(out, open(dst, "wb"))
"""


def _mpi_run(batch, tmp_path, cmd_prefix):
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    src, dst, script = tmp_path / "in.pkl", tmp_path / "out.pkl", tmp_path / "mpi_eval.py"
    script.write_text(MPI_SCRIPT)
    with open(src, "wb") as f:
        pickle.dump({k: v[:3] for k, v in batch.items()}, f)
    proc = subprocess.run([*cmd_prefix, str(script), str(src), str(dst)], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(dst, "rb") as f:
        out = pickle.load(f)
    assert out.pop("workers") == 2
    for (name, cs), (flux, tangent, state, info) in out.items():
        ref = batch[name][3]
        assert max_diff(Response(flux, tangent, state, info), ref) <= TOL, (name, cs)


def test_mpi_under_mpiexec_matches_serial(batch, tmp_path):
    """`mpiexec -n 3 python -m mpi4py.futures script.py`: rank 0 runs, ranks 1-2 work."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    exe = mpiexec_path()
    if exe is None:
        pytest.skip("no mpiexec (install the mpich wheel: pip install 'fe2[parallel]')")
    _mpi_run(batch, tmp_path, [exe, "-n", "3", sys.executable, "-m", "mpi4py.futures"])


def test_mpi_spawned_pool_matches_serial(batch, tmp_path):
    """A plain `python script.py`: MPIPoolExecutor spawns two workers."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    if mpiexec_path() is None:
        pytest.skip("no mpiexec (install the mpich wheel: pip install 'fe2[parallel]')")
    _mpi_run(batch, tmp_path, [sys.executable])


def test_macro_problem_with_process_pool_equals_serial():
    """FE² on a small plate: every Newton iterate evaluates RVEs in the worker processes."""

    def run(executor):
        mesh = skfem.MeshTri.init_tensor(*[np.linspace(0, 1, 3)] * 2).with_defaults()
        prob = Problem(mesh, rve(), kind="small_strain", executor=executor, chunk_size=2)
        prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
        prob.dirichlet("right", 0.012, components=(0,))
        sol = prob.solve(NewtonOptions(steps=2), reactions=("left",))
        return prob, sol

    serial, s_sol = run(None)
    with make_executor("process", workers=2) as ex:
        par, p_sol = run(ex)
    assert serial.regions[0].state.committed["alpha"].max() > 0  # the micro matrix yielded
    np.testing.assert_allclose(par.u, serial.u, rtol=0, atol=TOL * np.abs(serial.u).max())
    r_s, r_p = s_sol.reactions["left"][-1], p_sol.reactions["left"][-1]
    np.testing.assert_allclose(r_p, r_s, rtol=0, atol=TOL * np.abs(r_s).max())
    assert [s.iterations for s in p_sol.steps] == [s.iterations for s in s_sol.steps]
    for k, v in serial.regions[0].state.committed.items():
        np.testing.assert_allclose(par.regions[0].state.committed[k], v, rtol=0, atol=TOL)


# ---------------------------------------------------------------- lost workers


def point_ids(pts):
    """Coordinates ``(1, *pts)`` that are the flat point index (to find a point in a chunk)."""
    return np.arange(int(np.prod(pts)), dtype=float).reshape((1, *pts))


class DiesOnce(OracleBase):
    """Wraps an oracle; the worker evaluating point ``at`` exits hard, once (a marker file)."""

    def __init__(self, inner, marker, at, always=False):
        self.inner, self.marker, self.at, self.always = inner, str(marker), at, always
        self.measure, self.dim = inner.measure, inner.dim

    def initial_state(self, pts):
        return self.inner.initial_state(pts)

    def evaluate(self, g, x=None, state=None):
        if x is not None and np.any(x[0] == self.at):
            if self.always or not os.path.exists(self.marker):
                open(self.marker, "w").close()
                os._exit(3)
        return self.inner.evaluate(g, state=state)


def test_lost_worker_owned_pool_is_restarted(batch, tmp_path, caplog):
    oracle, g, st, ref = batch["j2"]
    dying = DiesOnce(oracle, tmp_path / "died", at=217)
    x = point_ids(g.shape[2:])
    with make_executor("process", workers=2) as ex, caplog.at_level(logging.WARNING):
        r = evaluate(dying, g, x=x, state=st, executor=ex, chunk_size=20)
        assert ex.restarts == 1
        # the restarted pool keeps working
        assert max_diff(evaluate(oracle, g, state=st, executor=ex, chunk_size=30), ref) <= TOL
    assert (tmp_path / "died").exists()
    assert max_diff(r, ref) <= TOL
    assert "restarting" in caplog.text


def test_lost_worker_foreign_pool_falls_back_to_this_process(batch, tmp_path, caplog):
    oracle, g, st, ref = batch["rve"]
    dying = DiesOnce(oracle, tmp_path / "died", at=5)
    # forkserver: forking this multi-threaded test process can abort the child or the parent
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(2, mp_context=ctx) as pool, caplog.at_level(logging.WARNING):
        r = evaluate(dying, g, x=point_ids(g.shape[2:]), state=st, executor=pool,
                     chunk_size=2)
    assert (tmp_path / "died").exists()
    assert max_diff(r, ref) <= TOL
    assert "in this process" in caplog.text


def test_worker_that_always_dies_is_reported(batch, tmp_path):
    oracle, g, st, _ = batch["j2"]
    dying = DiesOnce(oracle, tmp_path / "died", at=3, always=True)
    with make_executor("process", workers=2) as ex:
        with pytest.raises(WorkerLostError, match="lost its worker 3 times"):
            evaluate(dying, g, x=point_ids(g.shape[2:]), state=st, executor=ex, chunk_size=100)
        assert ex.restarts == 2


class FailsAt(OracleBase):
    """J2 material that rejects input at point ``at`` (a micro solve that fails)."""

    def __init__(self, at):
        self.inner, self.at = j2(), at
        self.measure, self.dim = "strain", 2

    def evaluate(self, g, x=None, state=None):
        if np.any(x[0] == self.at):
            raise OracleError(f"no convergence at point {int(np.argmax(x[0] == self.at))}")
        return self.inner.evaluate(g, state=state)


@pytest.mark.parametrize("kind", ["serial", "process"])
def test_oracle_error_propagates_and_is_not_retried(kind):
    g = strains(30)
    with make_executor(kind, workers=2) as ex:
        with pytest.raises(OracleError, match=r"point 2 \[chunk of flat points 20\.\.24 of 30"):
            evaluate(FailsAt(22), g, x=point_ids((30,)), executor=ex, chunk_size=5)
        assert ex.restarts == 0


def test_worker_loss_classification():
    from concurrent.futures.process import BrokenProcessPool

    class KilledWorker(Exception):  # dask's name, without importing dask
        pass

    assert is_worker_loss(BrokenProcessPool("x")) and is_worker_loss(KilledWorker())
    assert is_worker_loss(WorkerLostError()) and not is_worker_loss(OracleError("bad"))


# ---------------------------------------------------------------- load balancing


class Recording(ThreadPoolExecutor):
    """Thread pool that records how many submitted tasks were unfinished at each submit."""

    def __init__(self, n):
        super().__init__(n)
        self.futures, self.peak = [], 0

    def submit(self, fn, /, *args, **kwargs):
        busy = sum(not f.done() for f in self.futures) + 1
        self.peak = max(self.peak, busy)
        fut = super().submit(fn, *args, **kwargs)
        self.futures.append(fut)
        return fut


def uneven(k, n):
    """Chunk ``k``: early chunks are slow (finish last), the result is its own index."""
    time.sleep(0.002 * (n - k) if k < 3 else 0.0)
    return k


def test_uneven_chunks_bounded_window_results_in_order():
    n = 40
    with Recording(2) as ex:
        done = []
        out = run_chunks(uneven, [(k, n) for k in range(n)], ex, window=3,
                         on_done=lambda d, t: done.append((d, t)))
    assert out == list(range(n))
    assert ex.peak <= 3
    assert done == [(d, n) for d in range(1, n + 1)]


class Slow(OracleBase):
    """J2 material that sleeps at a few points (uneven micro cost)."""

    def __init__(self):
        self.inner = j2()
        self.measure, self.dim = "strain", 2

    def evaluate(self, g, x=None, state=None):
        time.sleep(0.05 * float(np.isin(x[0], (0, 1, 2)).sum()))
        return self.inner.evaluate(g, state=state)


def test_uneven_points_in_a_process_pool(batch):
    g = strains(64, seed=4)
    ref = j2().evaluate(g)
    with make_executor("process", workers=2) as ex:
        progress = []
        r = evaluate(Slow(), g, x=point_ids((64,)), executor=ex, chunk_size=4,
                     on_chunk=lambda d, t: progress.append(d))
    assert progress == list(range(1, 17))
    np.testing.assert_array_equal(r.flux, ref.flux)
    np.testing.assert_array_equal(r.tangent, ref.tangent)


def test_make_executor_errors():
    with pytest.raises(ValueError, match="kind must be one of .*got 'gpu'"):
        make_executor("gpu")
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        make_executor("process", workers=0)
    with pytest.raises(ValueError, match="takes no options"):
        make_executor("serial", start_method="fork")
    with pytest.raises(ValueError, match="blas_threads must be an integer >= 1 or None, got 0"):
        make_executor("process", workers=1, blas_threads=0)
    with pytest.raises(ValueError, match="chunk_size must be an integer >= 1, got 0"):
        evaluate(j2(), strains(3), executor=SerialExecutor(), chunk_size=0)
    ex = make_executor("serial")
    assert isinstance(ex, ManagedExecutor) and ex.max_workers == 1
    ex.shutdown()
    ex.shutdown()  # twice is fine
    with pytest.raises(RuntimeError, match="shut down"):
        ex.submit(abs, -1)


# ---------------------------------------------------------------- case files

CASE = """
[mesh]
file = "{mesh}"

[problem]
kind = "small_strain"

[materials.domain]
type = "J2Plasticity"
E = 1.0
nu = 0.3
sigma_y = 0.004
H_iso = 0.1

""" + pull_right("0.01") + """

[newton]
steps = 2

[output]
vtu = false
png = false
reactions = ["right"]

[parallel]
{parallel}
"""


def test_case_parallel_section(tmp_path):
    from pathlib import Path

    from fe2.case import CaseError, load_case, run_case

    mesh = Path(__file__).resolve().parents[1] / "meshes" / "unit_square_tri.msh"
    sums = {}
    for label, par in [("serial", "workers = 0"),
                       ("process", 'workers = 2\nexecutor = "process"\nchunk_size = 16')]:
        path = tmp_path / f"{label}.toml"
        path.write_text(CASE.format(mesh=mesh, parallel=par))
        sums[label] = run_case(load_case(path), tmp_path / label)
    r_s, r_p = (np.array(sums[k]["reactions"]["right"][-1]) for k in ("serial", "process"))
    assert sums["serial"]["max_state_alpha"] > 0
    np.testing.assert_allclose(r_p, r_s, rtol=0, atol=TOL * np.abs(r_s).max())
    bad = tmp_path / "bad.toml"
    bad.write_text(CASE.format(mesh=mesh, parallel='workers = 2\nexecutor = "gpu"'))
    with pytest.raises(CaseError,
                       match=r'parallel\.executor: expected one of .*got a string "gpu"'):
        run_case(load_case(bad), tmp_path / "bad")
