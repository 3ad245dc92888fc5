"""An oracle that answers from a Gaussian process where it is sure, else asks the micro model.

:class:`AdaptiveSurrogate` wraps any history-free oracle (the on-the-fly design of Rocha,
Kerfriden & van der Meer, 2021). At each batch it predicts flux and predictive standard
deviation at every point; points whose **relative predictive std**::

    rel(x) = ||std(x)||_2 / s,   s = RMS over the training set of ||flux||_2

(2-norm over all flux components) is below ``tol`` get the GP mean as flux and the
analytic gradient of the mean as tangent; the others go to the wrapped oracle in one
batched :func:`fe2.oracle.evaluate` call through ``executor``. Their answers join the
training set: the GP is refitted with its hyperparameters and standardisation kept
(a full Cholesky refactorisation), and the hyperparameters are re-optimised each time
the training set has grown by ``max(reoptimize_every, n_opt / 2)`` points since the last
optimisation at ``n_opt`` points (so a long run optimises O(log n) times).

Not covered: history-dependent micro models (``initial_state`` not None) and time-evolving
ones (measure ``velocity_gradient``) are refused. A nonlinear RVE whose phases have no
history is accepted: its state is only a warm start, and the surrogate calls it without
one (each micro solve starts from a zero fluctuation); the model ignores the coordinates ``x``
(it assumes the same microstructure everywhere) and passes them on to the oracle only.
Give the executor to the surrogate, not to the macro solver: a surrogate shipped to
worker processes would learn in copies that are thrown away.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

from ..oracle import OracleBase, OracleError, Response, evaluate
from .gp import GaussianProcess

__all__ = ["AdaptiveSurrogate", "sample_box"]

log = logging.getLogger(__name__)

MODELS: tuple[str, ...] = ("gp",)


def _has_history(oracle: Any) -> bool:
    """True when ``oracle`` carries history (``initial_state`` not None).

    Except for a cell (an RVE) whose phases all have none: its state is only a warm start.
    """
    if not hasattr(oracle, "initial_state") or oracle.initial_state((1,)) is None:
        return False
    phases = getattr(oracle, "phases", None)
    if not phases:
        return True
    return any(hasattr(p, "initial_state") and p.initial_state((1,)) is not None
               for p in phases)


def sample_box(lower: Any, upper: Any, n: int, method: str = "sobol", seed: int = 0
               ) -> np.ndarray:
    """``n`` design points in the box ``lower <= g <= upper`` (componentwise).

    Parameters
    ----------
    lower, upper : array_like, shape ``ishape``
        Corners of the box (an oracle's ``input_shape``); equal components are held fixed.
    n : int
        Number of points (a power of two keeps a Sobol design balanced).
    method : {"sobol", "lhs"}
        Scrambled Sobol sequence or Latin hypercube (:mod:`scipy.stats.qmc`).
    seed : int
        Seed of the scrambling / permutations (default 0).

    Returns
    -------
    ndarray, shape ``(*ishape, n)``
        Points in scikit-fem's layout (tensor indices first, points last).
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    if lo.shape != hi.shape or not np.all(hi >= lo):
        raise ValueError(f"sample_box: need lower <= upper of one shape, got {lo.shape} "
                         f"and {hi.shape}")
    if method not in ("sobol", "lhs"):
        raise ValueError(f"sample_box: method must be 'sobol' or 'lhs', got {method!r}")
    d = lo.size
    eng = qmc.Sobol(d, seed=seed) if method == "sobol" else qmc.LatinHypercube(d, seed=seed)
    u = eng.random(n)  # (n, d)
    pts = lo.ravel() + u * (hi - lo).ravel()
    return pts.T.reshape(lo.shape + (n,))


class AdaptiveSurrogate(OracleBase):
    """A learned oracle with predictive uncertainty and fallback to ``oracle``.

    Parameters
    ----------
    oracle : Oracle
        History-free oracle (any measure except ``velocity_gradient``) returning flux and
        tangent; its ``measure``, ``dim`` and ``input_shape`` are the surrogate's.
    model : {"gp"}
        Surrogate model: shared-kernel Gaussian process (:class:`GaussianProcess`).
    tol : float
        Largest relative predictive std (see module docs) answered by the model.
    executor : concurrent.futures.Executor, optional
        Where the fallback micro solves run (serial when None).
    kernel : {"matern52", "rbf"}
        GP kernel (default Matérn 5/2).
    reoptimize_every : int
        Re-optimise the hyperparameters after this many new training points, or half the
        set at the last optimisation if more (default 20).
    min_train : int
        Below this many training points every query goes to the oracle (default 4).
    seed : int
        Seed of the hyperparameter restarts.
    n_restarts : int
        Random restarts of each hyperparameter optimisation besides the previous optimum
        (default 3).
    gradients : bool
        Also train on the oracle's tangents as gradient observations (default False);
        the hyperparameters are still optimised on the fluxes alone.

    Attributes
    ----------
    stats : dict
        ``"oracle_calls"`` (points answered by the wrapped oracle) and
        ``"surrogate_calls"`` (points answered by the model), counted over all
        :meth:`evaluate` calls (not :meth:`fit`), plus ``"training_points"``.

    Notes
    -----
    Inputs of measure ``strain`` are symmetric: the model sees the upper triangle
    ``eps_ij, i <= j`` and the tangent is returned with the minor symmetries.
    """

    def __init__(self, oracle: Any, model: str = "gp", tol: float = 1e-2,
                 executor: Executor | None = None, kernel: str = "matern52",
                 reoptimize_every: int = 20, min_train: int = 4, seed: int = 0,
                 n_restarts: int = 3, gradients: bool = False):
        name = "AdaptiveSurrogate"
        for attr in ("measure", "dim", "evaluate"):
            if not hasattr(oracle, attr):
                raise ValueError(f"{name}: oracle {oracle!r} lacks {attr!r}; expected an oracle")
        if oracle.measure == "velocity_gradient":
            raise ValueError(f"{name}: oracle {type(oracle).__name__} evolves in time (measure "
                             "'velocity_gradient'); surrogates cover history-free oracles only")
        if _has_history(oracle):
            raise ValueError(f"{name}: oracle {type(oracle).__name__} has history "
                             "(initial_state is not None); surrogates cover history-free "
                             "oracles only")
        if model not in MODELS:
            raise ValueError(f"{name}: model must be one of {', '.join(MODELS)}, got {model!r} "
                             "(the neural model is not implemented)")
        if not (isinstance(tol, int | float) and np.isfinite(tol) and tol > 0):
            raise ValueError(f"{name}: tol must be a relative std > 0, got {tol!r}")
        if isinstance(reoptimize_every, bool) or not isinstance(reoptimize_every, int) \
                or reoptimize_every < 1:
            raise ValueError(f"{name}: reoptimize_every must be an integer >= 1, got "
                             f"{reoptimize_every!r}")
        self.oracle = oracle
        self.measure = oracle.measure
        self.dim = oracle.dim
        if hasattr(oracle, "ncons"):
            self.ncons = oracle.ncons
        self.model = model
        self.tol = float(tol)
        self.executor = executor
        self.reoptimize_every = reoptimize_every
        self.min_train = max(2, int(min_train))
        self.gp = GaussianProcess(kernel, n_restarts=n_restarts, seed=seed)
        if not isinstance(gradients, bool):
            raise ValueError(f"{name}: gradients must be true or false, got {gradients!r}")
        self.gradients = gradients
        self.dY: np.ndarray | None = None
        self.X = np.empty((0, self._nfeat()))
        self.Y: np.ndarray | None = None
        self.flux_shape: tuple[int, ...] | None = None
        self._n_at_opt = 0
        self.stats = {"oracle_calls": 0, "surrogate_calls": 0, "training_points": 0}

    def __repr__(self) -> str:
        return (f"AdaptiveSurrogate({self.oracle!r}, model={self.model!r}, tol={self.tol!r}, "
                f"training_points={len(self.X)})")

    def __getstate__(self) -> dict:
        st = self.__dict__.copy()
        st["executor"] = None
        return st

    # ------------------------------------------------------------ feature maps

    def _nfeat(self) -> int:
        n = int(np.prod(self.input_shape))
        return self.dim * (self.dim + 1) // 2 if self.measure == "strain" else n

    def _features(self, g: np.ndarray, npts: int) -> np.ndarray:
        """Inputs ``(*ishape, npts)`` to features ``(npts, D)``."""
        if self.measure == "strain":
            iu = np.triu_indices(self.dim)
            return g[iu[0], iu[1]].T
        return g.reshape(-1, npts).T

    def _tangent(self, grad: np.ndarray, pts: tuple[int, ...]) -> np.ndarray:
        """``d flux / d features (n, m, D)`` to ``(*flux_shape, *ishape, *pts)``."""
        n = grad.shape[0]
        ishape = self.input_shape
        if self.measure == "strain":
            d = self.dim
            full = np.zeros((n, grad.shape[1], d, d))
            for k, (i, j) in enumerate(zip(*np.triu_indices(d), strict=True)):
                if i == j:
                    full[:, :, i, i] = grad[:, :, k]
                else:  # eps_ij = eps_ji both move with the feature: split evenly
                    full[:, :, i, j] = full[:, :, j, i] = 0.5 * grad[:, :, k]
            grad = full
        t = np.moveaxis(grad.reshape((n,) + self.flux_shape + ishape), 0, -1)
        return t.reshape(self.flux_shape + ishape + pts)

    # -------------------------------------------------------------- training

    def _feature_tangent(self, tangent: np.ndarray | None, npts: int) -> np.ndarray:
        """Oracle tangent ``(*flux_shape, *ishape, npts)`` to ``d flux / d features (n, m, D)``."""
        if tangent is None:
            raise OracleError("AdaptiveSurrogate(gradients=True): the oracle returned no "
                              "tangent")
        m = int(np.prod(self.flux_shape))
        t = np.asarray(tangent).reshape((m,) + self.input_shape + (npts,))
        if self.measure == "strain":
            iu = np.triu_indices(self.dim)
            t = t[:, iu[0], iu[1]] + np.where((iu[0] != iu[1])[None, :, None],
                                               t[:, iu[1], iu[0]], 0.0)
        else:
            t = t.reshape(m, -1, npts)
        return np.moveaxis(t, -1, 0)

    def _add(self, feats: np.ndarray, flux: np.ndarray, npts: int,
             tangent: np.ndarray | None = None) -> None:
        y = flux.reshape(-1, npts).T
        if self.gradients:
            dy = self._feature_tangent(tangent, npts)
            self.dY = dy if self.dY is None else np.concatenate([self.dY, dy])
        self.X = np.vstack([self.X, feats])
        self.Y = y if self.Y is None else np.vstack([self.Y, y])
        self.stats["training_points"] = len(self.X)
        if len(self.X) < self.min_train:
            return
        grown = len(self.X) - self._n_at_opt
        reopt = (not self.gp.fitted) or grown >= max(self.reoptimize_every,
                                                     self._n_at_opt // 2)
        self.gp.fit(self.X, self.Y, optimize=reopt, dY=self.dY)
        if reopt:
            self._n_at_opt = len(self.X)
        self.flux_scale = float(np.sqrt(np.mean(np.sum(self.Y**2, axis=1)))) or 1.0

    def _ask(self, g: np.ndarray, x: np.ndarray | None) -> Response:
        r = evaluate(self.oracle, g, x=x, executor=self.executor)
        pts = g.shape[len(self.input_shape):]
        fs = np.shape(r.flux)[: np.ndim(r.flux) - len(pts)]
        if self.flux_shape is None:
            self.flux_shape = tuple(fs)
        elif tuple(fs) != self.flux_shape:
            raise OracleError(f"AdaptiveSurrogate: oracle flux shape changed from "
                              f"{self.flux_shape} to {fs}")
        return r

    def fit(self, inputs: np.ndarray, x: np.ndarray | None = None) -> AdaptiveSurrogate:
        """Train offline on the oracle's answers at ``inputs (*ishape, n)`` (:func:`sample_box`).

        The hyperparameters are optimised on the whole set; the counters in
        :attr:`stats` are left alone except ``"training_points"``.
        """
        g = np.asarray(inputs, dtype=float)
        pts = self.check_input(g)
        npts = int(np.prod(pts))
        r = self._ask(g, x)
        g2 = g.reshape(self.input_shape + (npts,))
        self._n_at_opt = -self.reoptimize_every  # force an optimisation
        self._add(self._features(g2, npts), np.asarray(r.flux).reshape(-1, npts), npts,
                  r.tangent)
        return self

    # ------------------------------------------------------------- prediction

    def relative_std(self, g: np.ndarray) -> np.ndarray:
        """Relative predictive std ``(*pts)`` at inputs ``g (*ishape, *pts)`` (inf untrained)."""
        pts = self.check_input(g)
        npts = int(np.prod(pts))
        if not self.gp.fitted:
            return np.full(pts, np.inf)
        p = self.gp.predict(self._features(np.asarray(g, float).reshape(
            self.input_shape + (npts,)), npts))
        return (np.linalg.norm(p.std, axis=1) / self.flux_scale).reshape(pts)

    def evaluate(self, g: np.ndarray, x: np.ndarray | None = None,
                 state: dict | None = None) -> Response:
        """Flux ``(*flux_shape, *pts)`` and tangent ``(*flux_shape, *ishape, *pts)``.

        ``info["surrogate"]`` (bool, ``pts``) marks the points answered by the model,
        ``info["relative_std"]`` holds its relative std there (0 where the oracle answered).
        """
        pts = self.check_input(g)
        g = np.asarray(g, dtype=float)
        npts = int(np.prod(pts)) if pts else 1
        ishape = self.input_shape
        gf = g.reshape(ishape + (npts,))
        xf = None if x is None else np.asarray(x, float).reshape(-1, npts)
        feats = self._features(gf, npts)
        use = np.zeros(npts, dtype=bool)
        rel = np.zeros(npts)
        pred = None
        if self.gp.fitted:
            pred = self.gp.predict(feats, grad=True)
            rel = np.linalg.norm(pred.std, axis=1) / self.flux_scale
            use = rel < self.tol
        ask = np.flatnonzero(~use)
        flux = tangent = None
        if ask.size:
            r = self._ask(gf[..., ask], None if xf is None else xf[:, ask])
            rflux = np.asarray(r.flux).reshape(self.flux_shape + (ask.size,))
            self._add(feats[ask], rflux.reshape(-1, ask.size), ask.size, r.tangent)
            flux = np.empty(self.flux_shape + (npts,))
            flux[..., ask] = rflux
            if r.tangent is not None:
                tangent = np.empty(self.flux_shape + ishape + (npts,))
                tangent[..., ask] = np.asarray(r.tangent).reshape(
                    self.flux_shape + ishape + (ask.size,))
        if use.any():
            sel = np.flatnonzero(use)
            if flux is None:
                flux = np.empty(self.flux_shape + (npts,))
                tangent = np.empty(self.flux_shape + ishape + (npts,))
            flux[..., sel] = pred.mean[sel].T.reshape(self.flux_shape + (sel.size,))
            if tangent is not None:
                tangent[..., sel] = self._tangent(pred.grad[sel], (sel.size,))
        self.stats["oracle_calls"] += int(ask.size)
        self.stats["surrogate_calls"] += int(use.sum())
        log.debug("AdaptiveSurrogate: %d points from the model, %d from the oracle",
                  int(use.sum()), ask.size)
        rel = np.where(use, rel, 0.0)
        return Response(
            flux=flux.reshape(self.flux_shape + pts),
            tangent=None if tangent is None else tangent.reshape(self.flux_shape + ishape + pts),
            info={"surrogate": use.reshape(pts), "relative_std": rel.reshape(pts)},
        )

    # ------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> Path:
        """Write ``<path>.npz`` (training data, hyperparameters) and ``<path>.json`` (settings).

        Returns the npz path. The wrapped oracle is not stored: pass it to :meth:`load`.
        """
        if not self.gp.fitted:
            raise ValueError("AdaptiveSurrogate.save: nothing trained yet")
        p = Path(path).with_suffix("")
        p.parent.mkdir(parents=True, exist_ok=True)
        np.savez(p.with_suffix(".npz"), **self.gp.to_arrays())
        meta = {
            "model": self.model, "tol": self.tol, "measure": self.measure, "dim": self.dim,
            "flux_shape": list(self.flux_shape), "reoptimize_every": self.reoptimize_every,
            "gradients": self.gradients,
            "min_train": self.min_train, "n_at_opt": self._n_at_opt, "scale": self.flux_scale,
            "gp": self.gp.config(), "stats": self.stats, "oracle": repr(self.oracle),
        }
        p.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        return p.with_suffix(".npz")

    @classmethod
    def load(cls, path: str | Path, oracle: Any, executor: Executor | None = None
             ) -> AdaptiveSurrogate:
        """Read a surrogate written by :meth:`save`, wrapping ``oracle`` (same measure and dim)."""
        p = Path(path).with_suffix("")
        for f in (p.with_suffix(".npz"), p.with_suffix(".json")):
            if not f.is_file():
                raise FileNotFoundError(f"AdaptiveSurrogate.load: {f} does not exist")
        meta = json.loads(p.with_suffix(".json").read_text())
        if (oracle.measure, oracle.dim) != (meta["measure"], meta["dim"]):
            raise ValueError(
                f"AdaptiveSurrogate.load: {p}.json was trained for measure {meta['measure']!r}, "
                f"dim {meta['dim']}; got oracle with {oracle.measure!r}, dim {oracle.dim}")
        s = cls(oracle, model=meta["model"], tol=meta["tol"], executor=executor,
                kernel=meta["gp"]["kernel"], reoptimize_every=meta["reoptimize_every"],
                min_train=meta["min_train"], seed=meta["gp"]["seed"],
                n_restarts=meta["gp"]["n_restarts"], gradients=meta.get("gradients", False))
        with np.load(p.with_suffix(".npz")) as z:
            s.gp = GaussianProcess.from_arrays(meta["gp"], dict(z))
        s.X, s.Y, s.dY = s.gp.X, s.gp.Y, s.gp.dY
        s.flux_shape = tuple(meta["flux_shape"])
        s._n_at_opt = meta["n_at_opt"]
        s.flux_scale = meta["scale"]
        s.stats = dict(meta["stats"])
        return s
