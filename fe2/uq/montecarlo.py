"""Monte Carlo and randomized quasi-Monte Carlo statistics of a tensor-valued model.

A **model** is a picklable callable ``model(params, seed) -> ndarray (*shape)``: ``params``
maps input names to floats (one draw of the random inputs), ``seed`` is an integer for the
randomness that is not a named input (e.g. the random field of a microstructure,
:class:`fe2.uq.RandomConductivityCell`). Random inputs are a mapping
``{name: frozen scipy.stats distribution}``; points are drawn as uniforms on ``[0, 1)^D``
and mapped through each distribution's ``ppf`` (inverse CDF).

* ``method="mc"``: independent uniforms from ``numpy.random.default_rng(seed)``; the
  standard error of the mean is ``s / sqrt(N)`` (sample standard deviation ``s``) and the
  confidence interval uses Student's t with ``N - 1`` degrees of freedom.
* ``method="sobol"`` / ``"halton"``: ``R = replicates`` independently scrambled
  sequences of :mod:`scipy.stats.qmc` (Owen-scrambled Sobol, Halton with
  permutations). Each replicate is an unbiased estimate of the mean; their spread gives
  the standard error ``s_R / sqrt(R)`` and a t interval with ``R - 1`` degrees of freedom
  (randomized QMC, Owen 2013, *Monte Carlo theory, methods and examples*, ch. 17).
  For smooth integrands its error falls faster than ``N^(-1/2)``; the part of the
  randomness carried by ``seed`` (a random field) stays plain Monte Carlo.

The model is evaluated through :func:`fe2.parallel.run_chunks` on any executor (serial
when None); the per-sample seeds come from ``numpy.random.SeedSequence(seed).spawn``, so
serial and parallel runs give the same samples. ``progress=True`` shows a
:class:`fe2.io.Progress` bar.

>>> from scipy import stats
>>> model = lambda p, seed: np.array([p["a"], p["a"] ** 2])
>>> s = monte_carlo(model, {"a": stats.uniform(0, 1)}, 256, method="sobol", seed=0)
>>> np.round(s.mean, 2)   # exact 1/2 and 1/3
array([0.5 , 0.33])
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.stats import qmc

from fe2.io import Progress
from fe2.parallel import run_chunks

__all__ = [
    "METHODS",
    "Convergence",
    "TensorStatistics",
    "check_inputs",
    "convergence_study",
    "evaluate_model",
    "fit_rate",
    "monte_carlo",
    "sample_inputs",
    "sample_seeds",
]

log = logging.getLogger(__name__)

#: sampling methods of :func:`sample_inputs` and :func:`monte_carlo`
METHODS: tuple[str, ...] = ("mc", "sobol", "halton", "lhs")


def check_inputs(inputs: Mapping[str, Any], owner: str = "inputs") -> list[str]:
    """Names of ``inputs`` after checking that each value has a ``ppf`` (a distribution)."""
    if not isinstance(inputs, Mapping):
        raise ValueError(f"{owner}: random inputs must be a mapping name -> scipy.stats "
                         f"distribution, got {type(inputs).__name__}")
    for name, dist in inputs.items():
        if not callable(getattr(dist, "ppf", None)):
            raise ValueError(f"{owner}: input {name!r} must be a frozen scipy.stats "
                             f"distribution (with ppf), got {dist!r}")
    return list(inputs)


def _check_n(owner: str, name: str, n: object, lo: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < lo:
        raise ValueError(f"{owner}: {name} must be an integer >= {lo}, got {n!r}")
    return int(n)


def _uniforms(method: str, d: int, n: int, seed: Any) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if method == "mc":
        return rng.random((n, d))
    if method == "sobol":
        eng = qmc.Sobol(d, scramble=True, rng=rng)
        m = int(np.ceil(np.log2(max(n, 1))))
        return eng.random_base2(m)[:n]
    if method == "halton":
        return qmc.Halton(d, scramble=True, rng=rng).random(n)
    return qmc.LatinHypercube(d, rng=rng).random(n)


def sample_inputs(inputs: Mapping[str, Any], n: int, method: str = "mc", seed: Any = 0
                  ) -> np.ndarray:
    """``n`` draws of the random inputs, ``(n, D)`` in the order of ``inputs``.

    Parameters
    ----------
    inputs : mapping
        ``{name: frozen scipy.stats distribution}``, ``D`` entries.
    n : int
        Number of points (a power of two keeps a Sobol set balanced).
    method : {"mc", "sobol", "halton", "lhs"}
        Plain Monte Carlo, scrambled Sobol, scrambled Halton or Latin hypercube.
    seed : int or numpy.random.SeedSequence
        Seed of the generator / scrambling.
    """
    names = check_inputs(inputs, "sample_inputs")
    n = _check_n("sample_inputs", "n", n)
    if method not in METHODS:
        raise ValueError(f"sample_inputs: method must be one of {', '.join(METHODS)}, "
                         f"got {method!r}")
    if not names:
        return np.zeros((n, 0))
    u = _uniforms(method, len(names), n, seed)
    return np.column_stack([inputs[k].ppf(u[:, j]) for j, k in enumerate(names)])


def sample_seeds(seed: Any, n: int) -> np.ndarray:
    """``n`` independent integer seeds ``(n,)`` spawned from ``SeedSequence(seed)``."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.array([int(c.generate_state(1)[0]) for c in ss.spawn(n)], dtype=np.int64)


def _chunk(model: Callable, names: Sequence[str], X: np.ndarray, seeds: np.ndarray
           ) -> list[np.ndarray]:
    return [np.asarray(model(dict(zip(names, map(float, x), strict=True)), int(s)),
                       dtype=float) for x, s in zip(X, seeds, strict=True)]


def evaluate_model(model: Callable, names: Sequence[str], X: np.ndarray,
                   seeds: np.ndarray | None = None, executor: Executor | None = None,
                   chunk_size: int | None = None, progress: bool = False,
                   desc: str = "samples") -> np.ndarray:
    """Model outputs ``(n, *shape)`` at inputs ``X (n, D)`` with per-sample ``seeds (n,)``.

    Runs ``model(dict(zip(names, X[i])), seeds[i])`` in chunks of ``chunk_size`` through
    :func:`fe2.parallel.run_chunks` on ``executor`` (serial when None), in order.
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    n = X.shape[0]
    if X.shape[1] != len(names):
        raise ValueError(f"evaluate_model: X has {X.shape[1]} columns for {len(names)} "
                         f"inputs {list(names)}")
    seeds = np.zeros(n, dtype=np.int64) if seeds is None else np.asarray(seeds)
    if seeds.shape != (n,):
        raise ValueError(f"evaluate_model: seeds must have shape ({n},), got {seeds.shape}")
    workers = getattr(executor, "max_workers", None) or getattr(executor, "_max_workers", 1)
    cs = chunk_size or max(1, min(16, -(-n // (4 * max(int(workers or 1), 1)))))
    chunks = [(model, list(names), X[i:i + cs], seeds[i:i + cs]) for i in range(0, n, cs)]
    with Progress(total=n, desc=desc, unit="sample", enabled=progress) as bar:
        sizes = [len(c[2]) for c in chunks]

        def done(k: int, _total: int) -> None:
            bar.advance(sizes[k - 1])

        parts = run_chunks(_chunk, chunks, executor, on_done=done if progress else None)
    out = [y for p in parts for y in p]
    shapes = {y.shape for y in out}
    if len(shapes) != 1:
        raise ValueError(f"evaluate_model: the model returned arrays of different shapes "
                         f"{sorted(shapes)}")
    Y = np.stack(out)
    bad = ~np.all(np.isfinite(Y.reshape(n, -1)), axis=1)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"evaluate_model: non-finite model output at sample {i} "
                         f"(inputs {dict(zip(names, X[i].tolist(), strict=True))}, "
                         f"seed {int(seeds[i])})")
    return Y


@dataclass(frozen=True)
class TensorStatistics:
    """Sample statistics of a tensor-valued random output.

    Attributes
    ----------
    samples : ndarray (R, N, *shape)
        Outputs: ``R`` replicates (1 for plain Monte Carlo) of ``N`` samples each.
    inputs : ndarray (R, N, D)
        The input points.
    names : tuple of str
        Input names (columns of ``inputs``).
    method : str
        Sampling method (see :data:`METHODS`).
    """

    samples: np.ndarray
    inputs: np.ndarray
    names: tuple[str, ...]
    method: str

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one output."""
        return self.samples.shape[2:]

    @property
    def n(self) -> int:
        """Total number of model evaluations ``R N``."""
        return self.samples.shape[0] * self.samples.shape[1]

    @property
    def replicate_means(self) -> np.ndarray:
        """Mean of each replicate ``(R, *shape)``."""
        return self.samples.mean(axis=1)

    @property
    def mean(self) -> np.ndarray:
        """Estimate of the mean ``(*shape)``."""
        return self.samples.mean(axis=(0, 1))

    @property
    def covariance(self) -> np.ndarray:
        """Sample covariance of the output components ``(k, k)``, ``k = prod(shape)``.

        Rows and columns follow the C-order flattening of one output (``K.ravel()``).
        """
        flat = self.samples.reshape(self.n, -1)
        return np.atleast_2d(np.cov(flat, rowvar=False, ddof=1))

    @property
    def std(self) -> np.ndarray:
        """Sample standard deviation of each component ``(*shape)``."""
        return self.samples.reshape(self.n, *self.shape).std(axis=0, ddof=1)

    @property
    def dof(self) -> int:
        """Degrees of freedom of the standard error (``N - 1``, or ``R - 1`` for QMC)."""
        R, N = self.samples.shape[:2]
        return N - 1 if R == 1 else R - 1

    @property
    def std_error(self) -> np.ndarray:
        """Standard error of :attr:`mean` ``(*shape)``.

        ``s / sqrt(N)`` for one replicate; the spread of the replicate means over
        ``sqrt(R)`` for several (randomized QMC).
        """
        R, N = self.samples.shape[:2]
        if R == 1:
            return self.samples[0].std(axis=0, ddof=1) / np.sqrt(N)
        return self.replicate_means.std(axis=0, ddof=1) / np.sqrt(R)

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Two-sided confidence interval ``(lower, upper)``, each ``(*shape)``, of the mean."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"TensorStatistics.interval: level must be in (0, 1), got {level!r}")
        t = stats.t.ppf(0.5 + level / 2.0, self.dof)
        half = t * self.std_error
        return self.mean - half, self.mean + half

    def to_dict(self) -> dict[str, Any]:
        """Mean, standard error, 95 % interval, covariance and sizes as JSON-ready lists."""
        lo, hi = self.interval()
        return {"method": self.method, "n": self.n, "replicates": self.samples.shape[0],
                "mean": self.mean.tolist(), "std_error": self.std_error.tolist(),
                "ci95_lower": lo.tolist(), "ci95_upper": hi.tolist(),
                "covariance": self.covariance.tolist(), "inputs": list(self.names)}


def monte_carlo(model: Callable, inputs: Mapping[str, Any], n: int, method: str = "mc",
                seed: int = 0, replicates: int | None = None,
                executor: Executor | None = None, chunk_size: int | None = None,
                progress: bool = False) -> TensorStatistics:
    """Mean, covariance and confidence intervals of ``model`` over random inputs.

    Parameters
    ----------
    model : callable
        ``model(params: dict, seed: int) -> ndarray (*shape)``, picklable for process
        executors.
    inputs : mapping
        ``{name: frozen scipy.stats distribution}`` (may be empty: only the seed is random).
    n : int
        Samples per replicate.
    method : {"mc", "sobol", "halton", "lhs"}
        Sampling of the named inputs.
    seed : int
        Root seed of the inputs, the scrambling and the per-sample model seeds.
    replicates : int, optional
        Independent randomizations (default 1 for ``"mc"``, 8 otherwise; at least 2 for
        QMC, whose standard error comes from their spread).
    executor : concurrent.futures.Executor, optional
        Where the model runs (serial when None).
    chunk_size : int, optional
        Samples per task.
    progress : bool
        Show a progress bar (:class:`fe2.io.Progress`).

    Returns
    -------
    TensorStatistics
    """
    names = check_inputs(inputs, "monte_carlo")
    n = _check_n("monte_carlo", "n", n, 2 if method == "mc" else 1)
    if method not in METHODS:
        raise ValueError(f"monte_carlo: method must be one of {', '.join(METHODS)}, "
                         f"got {method!r}")
    R = (1 if method == "mc" else 8) if replicates is None else replicates
    R = _check_n("monte_carlo", "replicates", R, 1 if method == "mc" else 2)
    root = np.random.SeedSequence(seed)
    ss_inputs, ss_models = root.spawn(2)
    X = np.stack([sample_inputs(inputs, n, method, s) if names else np.zeros((n, 0))
                  for s in ss_inputs.spawn(R)])
    seeds = sample_seeds(ss_models, R * n)
    Y = evaluate_model(model, names, X.reshape(R * n, -1), seeds, executor, chunk_size,
                       progress, desc=f"{method} samples")
    return TensorStatistics(samples=Y.reshape((R, n) + Y.shape[1:]), inputs=X,
                            names=tuple(names), method=method)


def fit_rate(ns: Sequence[float], errors: Sequence[float]) -> float:
    """Slope of ``log(error)`` against ``log(n)`` by least squares (:func:`numpy.polyfit`)."""
    ns = np.asarray(ns, dtype=float)
    e = np.asarray(errors, dtype=float)
    if ns.shape != e.shape or ns.size < 2 or np.any(ns <= 0) or np.any(e <= 0):
        raise ValueError(f"fit_rate: need >= 2 positive (n, error) pairs of one length, got "
                         f"{ns.tolist()} and {e.tolist()}")
    return float(np.polyfit(np.log(ns), np.log(e), 1)[0])


@dataclass(frozen=True)
class Convergence:
    """Standard error of the mean against the number of samples.

    Attributes
    ----------
    ns : ndarray (k,)
        Samples per estimate.
    empirical : ndarray (k, *shape)
        Standard deviation over ``R`` independent estimates at each ``N``: the actual
        error of one estimate (its root-mean-square deviation from the mean).
    estimated : ndarray (k, *shape)
        Mean over the ``R`` estimates of the plug-in standard error ``s / sqrt(N)``
        (plain Monte Carlo only; NaN for QMC).
    """

    ns: np.ndarray
    empirical: np.ndarray
    estimated: np.ndarray

    def rate(self, component: Any = ...) -> float:
        """Fitted slope of the empirical error (of the norm over ``component``) vs ``N``."""
        e = self.empirical.reshape(len(self.ns), -1) if component is ... else \
            self.empirical[(slice(None),) + np.index_exp[component]].reshape(len(self.ns), -1)
        return fit_rate(self.ns, np.linalg.norm(e, axis=1))

    def rows(self) -> list[list[float]]:
        """``[N, norm of empirical error, norm of estimated error]`` per ``N``."""
        k = len(self.ns)
        emp = np.linalg.norm(self.empirical.reshape(k, -1), axis=1)
        est = np.linalg.norm(self.estimated.reshape(k, -1), axis=1)
        return [[int(n), float(a), float(b)] for n, a, b in zip(self.ns, emp, est, strict=True)]


def convergence_study(model: Callable, inputs: Mapping[str, Any], ns: Sequence[int],
                      method: str = "mc", replicates: int = 8, seed: int = 0,
                      executor: Executor | None = None, progress: bool = False
                      ) -> Convergence:
    """Error of the mean estimate against ``N``, observed from independent estimates.

    * ``"mc"``: one pool of ``replicates * max(ns)`` independent samples; for each ``N``
      it is cut into ``replicates * max(ns) / N`` disjoint batches of ``N`` samples (batch
      means), whose standard deviation is the actual error of an ``N``-sample estimate.
    * QMC (``"sobol"``, ``"halton"``, ``"lhs"``): for each ``N``, ``replicates``
      independently scrambled point sets of size ``N``; the standard deviation of their
      means is the error of one estimate (it is unbiased).

    Plain Monte Carlo gives a slope of -1/2 in ``N`` (:meth:`Convergence.rate`);
    randomized QMC a steeper one for smooth models. ``ns`` should divide ``max(ns)`` for
    ``"mc"`` (e.g. powers of two).
    """
    names = check_inputs(inputs, "convergence_study")
    R = _check_n("convergence_study", "replicates", replicates, 2)
    if method not in METHODS:
        raise ValueError(f"convergence_study: method must be one of {', '.join(METHODS)}, "
                         f"got {method!r}")
    ns = [_check_n("convergence_study", "ns[i]", k, 2) for k in ns]
    emp, est = [], []
    if method == "mc":
        M = R * max(ns)
        c_in, c_model = np.random.SeedSequence(seed).spawn(2)
        X = sample_inputs(inputs, M, "mc", c_in)
        Y = evaluate_model(model, names, X, sample_seeds(c_model, M), executor,
                           progress=progress, desc="mc convergence")
        for N in ns:
            B = Y[: (M // N) * N].reshape((M // N, N) + Y.shape[1:])
            emp.append(B.mean(axis=1).std(axis=0, ddof=1))
            est.append((B.std(axis=1, ddof=1) / np.sqrt(N)).mean(axis=0))
        return Convergence(ns=np.asarray(ns), empirical=np.stack(emp), estimated=np.stack(est))
    with Progress(total=len(ns), desc=f"{method} convergence", unit="N",
                  enabled=progress) as bar:
        for N, s in zip(ns, np.random.SeedSequence(seed).spawn(len(ns)), strict=True):
            means = []
            for c in s.spawn(R):
                c_in, c_model = c.spawn(2)
                X = sample_inputs(inputs, N, method, c_in)
                Y = evaluate_model(model, names, X, sample_seeds(c_model, N), executor)
                means.append(Y.mean(axis=0))
            emp.append(np.std(means, axis=0, ddof=1))
            est.append(np.full(emp[-1].shape, np.nan))
            bar.advance(1, f"N = {N}", error=float(np.linalg.norm(emp[-1])))
    return Convergence(ns=np.asarray(ns), empirical=np.stack(emp), estimated=np.stack(est))
