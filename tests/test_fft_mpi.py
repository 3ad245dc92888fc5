"""Distributed FFT voxel cells (:mod:`fe2.homogenization.fft_mpi`) under ``mpiexec``.

Reference: the sparse FE path (assembled matrix, direct solver) on the same cells in this
process; the distributed run splits the cells into uneven slabs over the ranks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fe2.homogenization import RVE, cells
from fe2.materials import LinearConductivity, LinearElastic

pytest.importorskip("mpi4py_fft", reason="mpi4py-fft is not installed")
MPIEXEC = Path(sys.executable).parent / "mpiexec"

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from mpi4py import MPI
    from fe2.homogenization import cells
    from fe2.homogenization.fft_mpi import distributed_effective_tensor
    from fe2.materials import J2Plasticity, LinearConductivity, LinearElastic

    rng = np.random.default_rng(3)
    img3 = rng.choice(2, size=(7, 6, 5), p=[0.6, 0.4])
    img2 = rng.choice(3, size=(9, 8), p=[0.5, 0.3, 0.2])
    r3 = distributed_effective_tensor(
        cells.from_image(img3, size=(1.0, 0.8, 0.6)),
        [LinearElastic(1.0, 0.3), LinearElastic(20.0, 0.25)])
    r2 = distributed_effective_tensor(
        cells.from_image(img2),
        [LinearConductivity(1.0), LinearConductivity(10.0),
         LinearConductivity([[3.0, 1.0], [1.0, 2.0]])])
    try:
        distributed_effective_tensor(cells.from_image(img3),
                                     [J2Plasticity(1.0, 0.3, 0.01), LinearElastic(2.0, 0.3)])
        err = ""
    except ValueError as e:
        err = str(e)
    shapes = MPI.COMM_WORLD.gather([r3.local_shape, r2.local_shape])
    pencil = None
    if MPI.COMM_WORLD.size >= 4:  # 3D pencils: split along x_0 and x_1
        rp = distributed_effective_tensor(
            cells.from_image(img3, size=(1.0, 0.8, 0.6)),
            [LinearElastic(1.0, 0.3), LinearElastic(20.0, 0.25)], decomposition="pencil")
        pencil = {"C": rp.tensor.tolist(),
                  "shapes": MPI.COMM_WORLD.gather(rp.local_shape)}
    if MPI.COMM_WORLD.rank == 0:
        json.dump({"e3": r3.tensor.tolist(), "k2": r2.tensor.tolist(), "shapes": shapes,
                   "pencil": pencil,
                   "hm": float(np.abs(r3.hill_mandel_form).max()), "ok": r3.converged,
                   "err": err, "ranks": r3.ranks}, open(sys.argv[1], "w"))
""")


def _run(tmp_path, ranks: int) -> dict:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out.json"
    r = subprocess.run([str(MPIEXEC), "-n", str(ranks), sys.executable, str(script), str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(out.read_text())


def _sparse_tensors():
    rng = np.random.default_rng(3)
    img3 = rng.choice(2, size=(7, 6, 5), p=[0.6, 0.4])
    img2 = rng.choice(3, size=(9, 8), p=[0.5, 0.3, 0.2])
    C = RVE(cells.from_image(img3, size=(1.0, 0.8, 0.6)),
            [LinearElastic(1.0, 0.3), LinearElastic(20.0, 0.25)]).effective_tensor()
    K = RVE(cells.from_image(img2), [LinearConductivity(1.0), LinearConductivity(10.0),
                                     LinearConductivity([[3.0, 1.0], [1.0, 2.0]])]
            ).effective_tensor()
    return C, K


@pytest.mark.skipif(not MPIEXEC.exists(), reason="no mpiexec next to the Python executable")
@pytest.mark.slow
def test_pencil_decomposition_on_four_ranks(tmp_path):
    """3D pencils (2 x 2 process grid): halos along two axes, diagonal corners included."""
    res = _run(tmp_path, 4)
    C, _ = _sparse_tensors()
    shapes = res["pencil"]["shapes"]
    assert sorted(tuple(s[:2]) for s in shapes) == [(3, 3), (3, 3), (4, 3), (4, 3)]
    np.testing.assert_allclose(res["pencil"]["C"], C, rtol=0, atol=1e-9 * np.abs(C).max())
    np.testing.assert_allclose(res["e3"], C, rtol=0, atol=1e-9 * np.abs(C).max())


@pytest.mark.skipif(not MPIEXEC.exists(), reason="no mpiexec next to the Python executable")
def test_distributed_tensor_equals_the_sparse_fe_path(tmp_path):
    res = _run(tmp_path, 2)
    assert res["ranks"] == 2 and res["ok"]
    # uneven slabs along x_0: 7 = 4 + 3 and 9 = 5 + 4 planes
    assert sorted(s[0][0] for s in res["shapes"]) == [3, 4]
    assert sorted(s[1][0] for s in res["shapes"]) == [4, 5]
    C, K = _sparse_tensors()
    np.testing.assert_allclose(res["e3"], C, rtol=0, atol=1e-9 * np.abs(C).max())
    np.testing.assert_allclose(res["k2"], K, rtol=0, atol=1e-9 * np.abs(K).max())
    assert res["hm"] < 1e-8 * np.abs(C).max()
    assert "phases[0] J2Plasticity has history; only linear phases" in res["err"]
