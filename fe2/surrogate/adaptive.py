"""An oracle that answers from a learned model where it is sure, else asks the micro model.

:class:`AdaptiveSurrogate` wraps any history-free oracle (the on-the-fly design of Rocha,
Kerfriden & van der Meer, 2021). The model is a Gaussian process (``model="gp"``, below) or
a deep ensemble of neural energies (``model="neural"``, :class:`fe2.surrogate.EnergyEnsemble`,
PyTorch), whose ensemble std stands for the predictive std. At each batch it predicts flux
and predictive standard deviation at every point; points whose **relative predictive std**::

    rel(x) = ||std(x)||_2 / s,   s = RMS over the training set of ||flux||_2

(2-norm over all flux components) is below ``tol`` get the GP mean as flux and the
analytic gradient of the mean as tangent; the others go to the wrapped oracle in one
batched :func:`fe2.oracle.evaluate` call through ``executor``. Their answers join the
training set: the GP takes them with its hyperparameters and standardisation kept,
by extending its Cholesky factor (:meth:`fe2.surrogate.GaussianProcess.add`, O(N^2) per
new point; ``incremental=False``: a full O(N^3) refactorisation), and the hyperparameters are
re-optimised (with a full refit) each time the training set has grown by
``max(reoptimize_every, n_opt / 2)`` points since the last optimisation at ``n_opt``
points (so a long run optimises O(log n) times). New answers are added in at most eight
rounds, largest predictive std first, each round skipping points within a quarter of a
length scale of a point taken in it and, after the refit, points the model now answers
(near-duplicate inputs, e.g. a uniform macro field, add one point, not many).

**One response function per load step.** Under a macro solver (:class:`fe2.macro.Problem`)
the surrogate keeps a small quadrature state, a point id and the number of committed steps
(``surrogate_point``, ``surrogate_step``), and learns only at the start of a load step: in
the first call of a step (the first Newton iteration; while the model is untrained, the
first call in which it exists) it learns the answers held back from the last step, asks
the oracle at the points it is unsure of, learns those answers and predicts again, all
before answering. Then the model is frozen until the step is committed (the next call sees
the step counter advanced): a point answered by the oracle stays with the oracle (also
through cut-backs), a point answered by the model keeps the model while its relative std
stays below ``HYSTERESIS * tol`` (2 tol: Newton corrections move the inputs a little), and
only a point that a Newton iterate moves beyond that goes to the oracle and stays there;
oracle answers after the first call are held back until the next step. So
within one macro Newton solve the response is one fixed smooth function, its tangent the
exact derivative of its flux, and Newton converges quadratically. Called without that
state (``state=None``, e.g. directly), the surrogate learns right after each call.
:meth:`absorb` learns the held-back answers at once (:meth:`save` does it first).

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
from .neural import history_free

__all__ = ["AdaptiveSurrogate", "sample_box"]

log = logging.getLogger(__name__)

MODELS: tuple[str, ...] = ("gp", "neural")
#: within a load step a point answered by the model keeps it while its relative std stays
#: below this many ``tol`` (Newton corrections move the inputs a little)
HYSTERESIS = 2.0


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
    model : {"gp", "neural"}
        Surrogate model: shared-kernel Gaussian process (:class:`GaussianProcess`), or a
        deep ensemble of neural energies (:class:`fe2.surrogate.EnergyEnsemble`, PyTorch;
        measures ``gradient``, ``strain`` and ``deformation_gradient``), whose ensemble
        std plays the part of the predictive std.
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
    incremental : bool
        Between re-optimisations add new points to the GP by extending its Cholesky
        factor (default True; the same model up to round-off as a full refactorisation,
        which ``False`` does; the neural model always refits).
    model_options : dict, optional
        Keyword arguments of the neural model (``members``, ``hidden``, ``max_iter``, ...;
        ``seed`` is the surrogate's); ``kernel`` and ``n_restarts`` are the GP's.

    Attributes
    ----------
    stats : dict
        ``"oracle_calls"`` (micro solves: distinct inputs sent to the wrapped oracle; equal
        inputs in one call are solved once) and
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
                 n_restarts: int = 3, gradients: bool = False,
                 model_options: dict | None = None, incremental: bool = True):
        name = "AdaptiveSurrogate"
        for attr in ("measure", "dim", "evaluate"):
            if not hasattr(oracle, attr):
                raise ValueError(f"{name}: oracle {oracle!r} lacks {attr!r}; expected an oracle")
        if oracle.measure == "velocity_gradient":
            raise ValueError(f"{name}: oracle {type(oracle).__name__} evolves in time (measure "
                             "'velocity_gradient'); surrogates cover history-free oracles only")
        if not history_free(oracle):
            raise ValueError(f"{name}: oracle {type(oracle).__name__} has history "
                             "(initial_state is not None); surrogates cover history-free "
                             "oracles only")
        if model not in MODELS:
            raise ValueError(f"{name}: model must be one of {', '.join(MODELS)}, got {model!r}")
        if model_options and model != "neural":
            raise ValueError(f"{name}: model_options are for model 'neural', got {model!r}")
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
        if model == "neural":
            from .neural import EnergyEnsemble

            opts = dict(model_options or {})
            opts.pop("seed", None)
            try:
                self.gp = EnergyEnsemble(oracle.measure, oracle.dim, seed=seed, **opts)
            except TypeError as err:
                raise ValueError(f"{name}: bad model_options {model_options!r} ({err})") from None
            self.model_options = opts
        else:
            self.gp = GaussianProcess(kernel, n_restarts=n_restarts, seed=seed)
            self.model_options = {}
        if not isinstance(gradients, bool):
            raise ValueError(f"{name}: gradients must be true or false, got {gradients!r}")
        self.gradients = gradients
        if not isinstance(incremental, bool):
            raise ValueError(f"{name}: incremental must be true or false, got {incremental!r}")
        self.incremental = incremental
        self.dY: np.ndarray | None = None
        self.X = np.empty((0, self._nfeat()))
        self.Y: np.ndarray | None = None
        self.flux_shape: tuple[int, ...] | None = None
        self._n_at_opt = 0
        self.flux_scale = 1.0
        # consistent mode: oracle answers held back until their step is committed,
        # point id -> (committed steps when computed, features, flux, d flux / d features)
        self._pending: dict[int, tuple] = {}
        self._step: float | None = None  # committed steps seen in the last call
        self._next_id = 0
        # point id -> (committed steps, answered by the model?) of its choice in this step
        self._sticky: dict[int, tuple] = {}
        self._frozen = False  # the model may not change before the next committed step
        self.stats = {"oracle_calls": 0, "surrogate_calls": 0, "training_points": 0}

    def __repr__(self) -> str:
        return (f"AdaptiveSurrogate({self.oracle!r}, model={self.model!r}, tol={self.tol!r}, "
                f"training_points={len(self.X)})")

    def __getstate__(self) -> dict:
        st = self.__dict__.copy()
        st["executor"] = None
        return st

    def initial_state(self, pts: tuple[int, ...]) -> dict[str, np.ndarray]:
        """Quadrature state of the consistent mode: fresh point ids and zero committed steps.

        ``surrogate_point`` ``(*pts)`` numbers the points (unique within this surrogate),
        ``surrogate_step`` ``(*pts)`` counts the committed steps; the macro solver commits
        the trial state (step + 1) after each converged step. Not a history of the
        micro model: the answers do not depend on it.
        """
        n = int(np.prod(pts))
        ids = np.arange(self._next_id, self._next_id + n, dtype=float).reshape(pts)
        self._next_id += n
        return {"surrogate_point": ids, "surrogate_step": np.zeros(pts)}

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
            self._append(feats, y, dy)
        else:
            self._append(feats, y, None)

    def _append(self, feats: np.ndarray, y: np.ndarray, dy: np.ndarray | None) -> None:
        """Add rows ``feats (n, D)``, ``y (n, m)`` (``dy (n, m, D)``) and refit."""
        if dy is not None:
            self.dY = dy if self.dY is None else np.concatenate([self.dY, dy])
        self.X = np.vstack([self.X, feats])
        self.Y = y if self.Y is None else np.vstack([self.Y, y])
        self.stats["training_points"] = len(self.X)
        if len(self.X) < self.min_train or len(np.unique(self.X, axis=0)) < self.min_train:
            return  # untrained: every query goes to the oracle
        grown = len(self.X) - self._n_at_opt
        reopt = (not self.gp.fitted) or grown >= max(self.reoptimize_every,
                                                     self._n_at_opt // 2)
        k = len(feats)
        if (not reopt and self.incremental and hasattr(self.gp, "add")
                and len(self.gp.X) == len(self.X) - k):
            self.gp.add(feats, y, dy)
        else:
            self.gp.fit(self.X, self.Y, optimize=reopt, dY=self.dY)
        if reopt:
            self._n_at_opt = len(self.X)
        self.flux_scale = float(np.sqrt(np.mean(np.sum(self.Y**2, axis=1)))) or 1.0

    def _learn(self, feats: np.ndarray, y: np.ndarray, dy: np.ndarray | None,
               rounds: int = 8) -> None:
        """Add oracle answers ``feats (n, D)``, ``y (n, m)`` in at most ``rounds`` refits.

        Each round takes the points the current model does not answer (relative std at
        least ``tol``), largest std first, skipping points within a quarter of a length scale of
        one already taken in that round; points still uncertain after the last round are
        dropped (they return to the oracle, and to learning, when queried again).
        """
        cand = np.arange(len(feats))
        for _ in range(rounds):
            if not cand.size:
                return
            if self.gp.fitted:
                p = self.gp.predict(feats[cand])
                rel = np.linalg.norm(p.std, axis=1) / self.flux_scale
                order = np.argsort(-rel)
                cand = cand[order][rel[order] >= self.tol]
                if not cand.size:
                    return
                scale = self.gp.x_std * np.exp(self.gp.theta[: feats.shape[1]])
                radius2 = 1.0 / 16.0  # a quarter of a length scale
                ref = np.empty((0, feats.shape[1]))
            else:  # no length scales yet: a tenth of the spread of the inputs
                allx = np.vstack([self.X, feats[cand]])
                sd = allx.std(axis=0)
                scale = np.where(sd > 0, sd, 1.0)
                radius2 = 0.01
                ref = self.X / scale
            z = feats[cand] / scale
            taken: list[int] = []
            for k in range(len(cand)):
                near = np.vstack([ref, z[taken]])
                if not len(near) or np.min(np.sum((near - z[k]) ** 2, axis=1)) >= radius2:
                    taken.append(k)
            take = cand[taken]
            self._append(feats[take], y[take], None if dy is None else dy[take])
            cand = np.delete(cand, taken)
        if cand.size:
            log.debug("AdaptiveSurrogate: %d uncertain oracle answers not learned", cand.size)

    def absorb(self) -> AdaptiveSurrogate:
        """Learn the oracle answers held back during the current load step (refit once).

        The macro solver's next step does this by itself; call it after a run to train
        on the last step's answers too (e.g. before :meth:`save`).
        """
        if self._pending:
            rec = list(self._pending.values())
            self._pending = {}
            dy = np.stack([r[3] for r in rec]) if self.gradients else None
            self._learn(np.stack([r[1] for r in rec]), np.stack([r[2] for r in rec]), dy)
        return self

    def _answers(self, gf: np.ndarray, xf: np.ndarray | None, ask: np.ndarray, npts: int,
                 flux: np.ndarray | None, tangent: np.ndarray | None):
        """Oracle answers at points ``ask`` written into ``flux``/``tangent`` (made if None).

        Returns ``flux (*flux_shape, npts)``, ``tangent`` (or None), the answers as
        training rows ``y (len(ask), m)`` and ``dy (len(ask), m, D)`` (None without
        gradient observations).
        """
        # equal inputs are solved once (the model assumes one microstructure everywhere)
        _, first, inv = np.unique(gf[..., ask].reshape(-1, ask.size).T, axis=0,
                                  return_index=True, return_inverse=True)
        one = ask[first]
        r = self._ask(gf[..., one], None if xf is None else xf[:, one])
        self.stats["oracle_calls"] += int(one.size)
        inv = inv.ravel()
        rflux = np.asarray(r.flux).reshape(self.flux_shape + (one.size,))[..., inv]
        if r.tangent is not None:
            r = Response(flux=rflux, tangent=np.asarray(r.tangent).reshape(
                self.flux_shape + self.input_shape + (one.size,))[..., inv])
        if flux is None:
            flux = np.empty(self.flux_shape + (npts,))
        flux[..., ask] = rflux
        if r.tangent is not None:
            if tangent is None:
                tangent = np.empty(self.flux_shape + self.input_shape + (npts,))
            tangent[..., ask] = np.asarray(r.tangent).reshape(
                self.flux_shape + self.input_shape + (ask.size,))
        dy = self._feature_tangent(r.tangent, ask.size) if self.gradients else None
        return flux, tangent, rflux.reshape(-1, ask.size).T, dy

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

        ``state`` is the committed state of :meth:`initial_state` (from a macro solver):
        then the answers held back from the last step are learned first if a step has been
        committed since the last call, and points already sent to the oracle in this step
        go to the oracle again; the trial state (steps + 1) is returned. With
        ``state=None`` the oracle's answers are learned at once.

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
        ids = steps = None
        sticky = np.zeros(npts, dtype=bool)
        first = True  # may the model learn in this call?
        if state is not None and "surrogate_point" in state:
            try:
                ids = np.asarray(state["surrogate_point"]).reshape(npts).astype(np.int64)
                steps = np.asarray(state["surrogate_step"], dtype=float).reshape(npts)
            except (KeyError, ValueError) as err:
                raise OracleError(f"AdaptiveSurrogate: state needs 'surrogate_point' and "
                                  f"'surrogate_step' of shape {pts} ({err})") from None
            if npts:
                self._next_id = max(self._next_id, int(ids.max()) + 1)
                if steps[0] != self._step:  # a step was committed: learn between steps
                    self.absorb()
                    self._step = float(steps[0])
                    self._sticky = {}
                    self._frozen = False
            first = not self._frozen
            if first:  # this call defines the step's response: earlier choices lapse
                self._sticky = {}
            past = [self._sticky.get(int(i), (None, None)) for i in ids]
            sticky = np.array([st == s and not m for (st, m), s in zip(past, steps,
                                                                        strict=True)])
            kept = np.array([st == s and bool(m) for (st, m), s in zip(past, steps,
                                                                        strict=True)])
        pred = self.gp.predict(feats, grad=True) if self.gp.fitted else None
        rel = np.full(npts, np.inf) if pred is None else \
            np.linalg.norm(pred.std, axis=1) / self.flux_scale
        use = (rel < self.tol) & ~sticky
        if ids is not None and not first:  # the model keeps its points within HYSTERESIS tol
            use |= kept & (rel < HYSTERESIS * self.tol)
        ask = np.flatnonzero(~use)
        flux = np.empty(self.flux_shape + (npts,)) if self.flux_shape else None
        tangent = None
        asked = np.zeros(npts, dtype=bool)
        if ask.size:
            flux, tangent, y, dy = self._answers(gf, xf, ask, npts, flux, tangent)
            asked[ask] = True
            if ids is None:
                self._learn(feats[ask], y, dy)
            elif first:
                # learn before answering: the whole step then sees one model
                self._learn(feats[ask], y, dy)
                pred = self.gp.predict(feats, grad=True) if self.gp.fitted else None
                if pred is not None:
                    rel = np.linalg.norm(pred.std, axis=1) / self.flux_scale
                    use = rel < self.tol
                more = np.flatnonzero(~use & ~asked)  # rare: after a re-optimisation
                if more.size:
                    flux, tangent, _, _ = self._answers(gf, xf, more, npts, flux, tangent)
                    asked[more] = True
                    ask = np.flatnonzero(asked)
            else:  # held back until the step is committed
                for k, a in enumerate(ask):
                    self._pending[int(ids[a])] = (steps[a], feats[a], y[k],
                                                  None if dy is None else dy[k])
        if ids is not None:  # frozen from the first call in which the model exists
            for a in range(npts):
                self._sticky[int(ids[a])] = (steps[a], bool(use[a]))
            self._frozen = self._frozen or self.gp.fitted
        if use.any():
            sel = np.flatnonzero(use)
            if tangent is None:
                tangent = np.empty(self.flux_shape + ishape + (npts,))
            flux[..., sel] = pred.mean[sel].T.reshape(self.flux_shape + (sel.size,))
            tangent[..., sel] = self._tangent(pred.grad[sel], (sel.size,))
        self.stats["surrogate_calls"] += int(use.sum())
        log.debug("AdaptiveSurrogate: %d points from the model, %d from the oracle",
                  int(use.sum()), ask.size)
        rel = np.where(use, rel, 0.0)
        trial = None if ids is None else {
            "surrogate_point": ids.astype(float).reshape(pts),
            "surrogate_step": (steps + 1.0).reshape(pts)}
        return Response(
            flux=flux.reshape(self.flux_shape + pts),
            tangent=None if tangent is None else tangent.reshape(self.flux_shape + ishape + pts),
            state=trial,
            info={"surrogate": use.reshape(pts), "relative_std": rel.reshape(pts)},
        )

    # ------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> Path:
        """Write ``<path>.npz`` (training data, hyperparameters) and ``<path>.json`` (settings).

        Returns the npz path. The wrapped oracle is not stored: pass it to :meth:`load`.
        Answers held back in the current load step are learned first (:meth:`absorb`).
        """
        self.absorb()
        if not self.gp.fitted:
            raise ValueError("AdaptiveSurrogate.save: nothing trained yet")
        p = Path(path).with_suffix("")
        p.parent.mkdir(parents=True, exist_ok=True)
        np.savez(p.with_suffix(".npz"), **self.gp.to_arrays())
        meta = {
            "model": self.model, "tol": self.tol, "measure": self.measure, "dim": self.dim,
            "flux_shape": list(self.flux_shape), "reoptimize_every": self.reoptimize_every,
            "gradients": self.gradients, "incremental": self.incremental,
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
        cfg = meta["gp"]
        neural = meta["model"] == "neural"
        opts = {k: v for k, v in cfg.items() if k not in ("measure", "dim", "seed")}
        s = cls(oracle, model=meta["model"], tol=meta["tol"], executor=executor,
                kernel=cfg.get("kernel", "matern52"), reoptimize_every=meta["reoptimize_every"],
                min_train=meta["min_train"], seed=cfg["seed"],
                n_restarts=cfg.get("n_restarts", 3), gradients=meta.get("gradients", False),
                model_options=opts if neural else None,
                incremental=meta.get("incremental", True))
        with np.load(p.with_suffix(".npz")) as z:
            if neural:
                from .neural import EnergyEnsemble

                s.gp = EnergyEnsemble.from_arrays(cfg, dict(z))
            else:
                s.gp = GaussianProcess.from_arrays(cfg, dict(z))
        s.X, s.Y, s.dY = s.gp.X, s.gp.Y, s.gp.dY
        s.flux_shape = tuple(meta["flux_shape"])
        s._n_at_opt = meta["n_at_opt"]
        s.flux_scale = meta["scale"]
        s.stats = dict(meta["stats"])
        return s
