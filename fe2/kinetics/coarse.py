"""SSA ensembles as micro models of the coarse time steppers of :mod:`fe2.timescales`.

:class:`SSAModel` has the stepping protocol of :class:`fe2.timescales.MicroModel`: its
micro state is an ensemble of ``runs`` SSA replicas stored as a float array of counts,
shape ``(n_species, runs)`` (components first, ensemble last), and
``step(state, t, dt, rng)`` advances every replica by ``dt`` with Gillespie's direct
method (numba kernel, all replicas drawing from ``rng`` in turn).

The coarse variables are linear combinations of the ensemble-mean counts,
``U = C xbar`` with ``C`` of shape ``(m, n_species)`` (default: the identity, the species
means; e.g. ``C = [[1, 1, 0], [0, 0, 1]]`` for the slow variables of ``S1 <-> S2 -> S3``):

- **restrict** ``u -> U = C mean(u, axis=1)``;
- **lift** ``U -> u``: the target means ``v = L U`` with ``L`` a right inverse of ``C``
  (default: the pseudo-inverse, the micro mean of least norm, e.g. ``S1 = S2 = y/2``),
  and every replica's count of species ``i`` is ``v_i`` rounded *stochastically*:
  ``floor(v_i) + Bernoulli(v_i - floor(v_i))``, so the lifted ensemble has mean ``v``
  in expectation (no rounding bias). A negative target is an error.

:meth:`SSAModel.stepper` returns the :class:`fe2.timescales.CoarseStepper` with these
lift and restrict operators, ready for :func:`fe2.timescales.projective_euler` and the
other coarse integrators.

Examples
--------
>>> import numpy as np
>>> from fe2.kinetics import Reaction, ReactionNetwork, SSAModel
>>> net = ReactionNetwork(["A", "B"], [Reaction(1.0, {"A": 1}, {"B": 1})])
>>> m = SSAModel(net, runs=4)
>>> u = m.lift(np.array([10.0, 0.0]), np.random.default_rng(0))
>>> u.shape, m.restrict(u).tolist()
((2, 4), [10.0, 0.0])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fe2.timescales import CoarseStepper

from .kernels import ensemble_run, pack
from .network import NetworkError, ReactionNetwork

__all__ = ["SSAModel"]


class SSAModel:
    """An ensemble of ``runs`` SSA replicas of ``network`` as a coarse-stepper micro model.

    Parameters
    ----------
    network : ReactionNetwork
        All reactions are simulated (direct method).
    runs : int
        Replicas in the ensemble (>= 1).
    coarse : None, sequence of species names, or array (m, n_species)
        The coarse variables: None, every species mean; names, the means of those
        species; a matrix ``C``, the combinations ``C xbar``.
    lift : array (n_species, m), optional
        Right inverse ``L`` of ``C`` (``C L = I``) used by :meth:`lift`; default
        ``pinv(C)``.

    Attributes
    ----------
    events : int
        Reactions fired by :meth:`step` so far (the cost measure).
    """

    def __init__(self, network: ReactionNetwork, runs: int, coarse=None, lift=None):
        if not isinstance(network, ReactionNetwork):
            raise NetworkError(f"SSAModel: network must be a ReactionNetwork, got "
                               f"{type(network).__name__}")
        if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or runs < 1:
            raise NetworkError(f"SSAModel: runs must be an integer >= 1, got {runs!r}")
        n = len(network.species)
        if coarse is None:
            C = np.eye(n)
        elif all(isinstance(s, str) for s in np.ravel(np.asarray(coarse, dtype=object))):
            unknown = [s for s in coarse if s not in network.species]
            if unknown:
                raise NetworkError(f"SSAModel coarse: unknown species {unknown}; known: "
                                   f"{', '.join(network.species)}")
            if not len(coarse):
                raise NetworkError("SSAModel coarse: expected at least one species name")
            C = np.eye(n)[[network.species.index(s) for s in coarse]]
        else:
            C = np.atleast_2d(np.asarray(coarse, dtype=float))
            if C.ndim != 2 or C.shape[1] != n or not np.all(np.isfinite(C)):
                raise NetworkError(f"SSAModel coarse: expected a finite matrix of shape "
                                   f"(m, {n}) (one column per species), got shape {C.shape}")
        L = np.linalg.pinv(C) if lift is None else np.asarray(lift, dtype=float)
        if L.shape != (n, C.shape[0]):
            raise NetworkError(f"SSAModel lift: expected shape ({n}, {C.shape[0]}), got "
                               f"{L.shape}")
        if not np.allclose(C @ L, np.eye(C.shape[0]), atol=1e-10):
            raise NetworkError("SSAModel lift: C @ lift must be the identity (restrict(lift(U))"
                               " = U); the coarse rows are dependent or lift is not a right "
                               "inverse")
        self.network = network
        self.runs = int(runs)
        self.C = C
        self.L = L
        self.events = 0
        self._arrays = pack(network)

    def lift(self, U: Any, rng: np.random.Generator) -> np.ndarray:
        """Micro ensemble ``(n_species, runs)`` with mean ``L U`` (stochastic rounding)."""
        U = np.asarray(U, dtype=float).reshape(-1)
        if U.shape != (self.C.shape[0],):
            raise ValueError(f"SSAModel.lift: expected {self.C.shape[0]} coarse values, "
                             f"got shape {U.shape}")
        v = self.L @ U
        if np.any(v < -1e-9):
            i = int(np.argmin(v))
            raise ValueError(f"SSAModel.lift: the micro mean of species "
                             f"{self.network.species[i]!r} is {v[i]:.6g} < 0 for U = "
                             f"{U.tolist()}; counts must be >= 0")
        v = np.maximum(v, 0.0)
        base = np.floor(v)
        up = rng.random((v.size, self.runs)) < (v - base)[:, None]
        return base[:, None] + up

    def restrict(self, u: np.ndarray) -> np.ndarray:
        """Coarse values ``C mean(u, axis=1)``, shape (m,)."""
        return self.C @ np.asarray(u, dtype=float).mean(axis=1)

    def step(self, state: np.ndarray, t: float, dt: float, rng: Any,
             args: tuple = ()) -> np.ndarray:
        """Every replica of ``state`` ``(n_species, runs)`` advanced by ``dt`` (SSA)."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError("SSAModel.step needs rng, a numpy.random.Generator, got "
                            f"{type(rng).__name__}")
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"SSAModel.step: dt must be finite and > 0, got {dt!r}")
        X = np.ascontiguousarray(np.rint(np.asarray(state, dtype=float)).T.astype(np.int64))
        if X.shape[1] != len(self.network.species) or np.any(X < 0):
            raise ValueError(f"SSAModel.step: expected non-negative counts of shape "
                             f"({len(self.network.species)}, runs), got {np.shape(state)}")
        self.events += int(ensemble_run(X, float(dt), *self._arrays, rng))
        return X.T.astype(float)

    def stepper(self, dt: float, seed=None) -> CoarseStepper:
        """The coarse time stepper (micro step ``dt``) with this lift and restriction.

        Its ``micro_steps`` count the SSA bursts of length ``dt``; ``seed`` seeds its
        generator (lifting and all bursts draw from it).
        """
        return CoarseStepper(self, dt, lift=self.lift, restrict=self.restrict, seed=seed)
