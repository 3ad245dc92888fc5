"""Surrogates of a tensor versus microstructure parameters, and propagation to a macro QoI.

:class:`TensorSurrogate` fits one :class:`fe2.surrogate.GaussianProcess` per independent
output component (the upper triangle of a symmetric ``(d, d)`` tensor, or every component)
to a model ``model(params, seed) -> (*shape)`` on a scrambled Sobol design over the random
inputs (mapped through their ``ppf``). The GP noise variance is fitted, so the scatter of
random microstructures at equal parameters (the ``seed``) is treated as noise and the
mean is the surrogate of ``E[K | params]``. Its own error is measured against direct
model solves at held-out points (:meth:`TensorSurrogate.validate`). The surrogate is
itself a model (``surrogate(params, seed)``) and vectorised (:meth:`TensorSurrogate.predict`),
so that millions of Monte Carlo samples or a Sobol analysis cost nothing next to the
design's micro solves.

:func:`layered_bar_flux` is a macro quantity of interest in closed form: the heat flux
through a bar of layers in series normal to ``x``, ``q = dT / sum_i (t_i / K_i,xx)``, the
exact solution of ``div(K grad T) = 0`` with ``T = T(x)`` for piecewise constant ``K``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from fe2.surrogate import GaussianProcess

from .montecarlo import check_inputs, evaluate_model, sample_inputs, sample_seeds

__all__ = ["SurrogateValidation", "TensorSurrogate", "layered_bar_flux"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SurrogateValidation:
    """Error of a surrogate against direct solves at held-out points.

    Attributes
    ----------
    relative_rms : float
        ``||mean - direct||_F / ||direct||_F`` over all points and fitted components.
    relative_max : float
        Largest ``|mean - direct|`` over points and components, divided by the largest
        ``|direct|``.
    coverage : float
        Fraction of (point, component) pairs inside the 95 % predictive interval
        (latent std and fitted noise together).
    noise_std : ndarray (n_comp,)
        Fitted noise standard deviation of each fitted component (output units).
    n : int
        Held-out points.
    """

    relative_rms: float
    relative_max: float
    coverage: float
    noise_std: np.ndarray
    n: int


class TensorSurrogate:
    """GP surrogate of a tensor-valued model over named random inputs.

    Parameters
    ----------
    names : sequence of str
        Input names, in the column order of ``X``.
    shape : tuple of int
        Output shape of one model answer.
    components : {"symmetric", "isotropic", "all"}
        What is fitted: the upper triangle of a ``(d, d)`` output, mirrored
        (``"symmetric"``); only ``tr(K) / d``, returned as ``tr(K) / d * I``
        (``"isotropic"``: the mean of a statistically isotropic ensemble, whose deviatoric
        part is pure realization noise); or every component (``"all"``).
    kernel : {"matern52", "rbf"}
        GP kernel.
    seed : int
        Seed of the GP hyperparameter restarts.

    Notes
    -----
    Build with :meth:`fit` (runs the model on a design) or :meth:`fit_data` (given
    answers). One GP per component: the components of an effective tensor have very
    different noise levels (off-diagonal terms of an isotropic ensemble are pure noise),
    which a shared kernel would mix.
    """

    def __init__(self, names: Sequence[str], shape: tuple[int, ...],
                 components: str = "symmetric", kernel: str = "matern52", seed: int = 0):
        self.names = tuple(names)
        self.shape = tuple(int(s) for s in shape)
        square = len(self.shape) == 2 and self.shape[0] == self.shape[1]
        if components not in ("symmetric", "isotropic", "all"):
            raise ValueError(f"TensorSurrogate: components must be 'symmetric', 'isotropic' or "
                             f"'all', got {components!r}")
        if components != "all" and not square:
            raise ValueError(f"TensorSurrogate: components={components!r} needs (d, d) outputs, "
                             f"got shape {self.shape}")
        self.components = components
        self.kernel = kernel
        self.seed = seed
        if components == "symmetric":
            self._comp = np.ravel_multi_index(np.triu_indices(self.shape[0]), self.shape)
        elif components == "isotropic":
            self._comp = np.zeros(1, dtype=int)
        else:
            self._comp = np.arange(int(np.prod(self.shape)))
        self.gps: list[GaussianProcess] = []

    def _reduce(self, Y: np.ndarray) -> np.ndarray:
        """``(n, *shape)`` -> fitted components ``(n, n_comp)``."""
        if self.components == "isotropic":
            return (np.trace(Y, axis1=1, axis2=2) / self.shape[0])[:, None]
        return Y.reshape(len(Y), -1)[:, self._comp]

    @classmethod
    def fit(cls, model: Callable, inputs: Mapping[str, Any], n: int, seed: int = 0,
            realizations: int = 1, executor: Executor | None = None,
            progress: bool = False, **kwargs: Any) -> TensorSurrogate:
        """Run ``model`` on an ``n``-point scrambled Sobol design over ``inputs`` and fit.

        Parameters
        ----------
        model : callable
            ``model(params, seed) -> (*shape)``.
        inputs : mapping
            ``{name: frozen scipy.stats distribution}``; the design follows their ``ppf``.
        n : int
            Design points.
        seed : int
            Seed of the design and of the model seeds.
        realizations : int
            Model answers (independent seeds) averaged at each design point.
        executor, progress
            As in :func:`fe2.uq.monte_carlo`.
        **kwargs
            ``components``, ``kernel`` of the constructor.
        """
        names = check_inputs(inputs, "TensorSurrogate.fit")
        if not names:
            raise ValueError("TensorSurrogate.fit: need at least one random input")
        if isinstance(realizations, bool) or not isinstance(realizations, int) \
                or realizations < 1:
            raise ValueError(f"TensorSurrogate.fit: realizations must be an integer >= 1, "
                             f"got {realizations!r}")
        c_in, c_model = np.random.SeedSequence(seed).spawn(2)
        X = sample_inputs(inputs, n, "sobol", c_in)
        Xr = np.repeat(X, realizations, axis=0)
        Y = evaluate_model(model, names, Xr, sample_seeds(c_model, len(Xr)), executor,
                           progress=progress, desc="design")
        Y = Y.reshape((n, realizations) + Y.shape[1:]).mean(axis=1)
        return cls(names, Y.shape[1:], seed=seed, **kwargs).fit_data(X, Y)

    def fit_data(self, X: np.ndarray, Y: np.ndarray) -> TensorSurrogate:
        """Fit to inputs ``X (n, D)`` and answers ``Y (n, *shape)``."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        Y = np.asarray(Y, dtype=float)
        if X.shape[1] != len(self.names) or Y.shape != (X.shape[0],) + self.shape:
            raise ValueError(f"TensorSurrogate.fit_data: need X (n, {len(self.names)}) and Y "
                             f"(n, *{self.shape}), got {X.shape} and {Y.shape}")
        flat = self._reduce(Y)
        self.gps = [GaussianProcess(self.kernel, seed=self.seed).fit(X, flat[:, [k]])
                    for k in range(flat.shape[1])]
        return self

    def _noise_var(self) -> np.ndarray:
        """Fitted noise variance of each fitted component (output units)."""
        D = len(self.names)
        return np.array([float(np.exp(g.theta[D + 1])) * float(g.y_std[0]) ** 2
                         for g in self.gps])

    def _expand(self, a: np.ndarray) -> np.ndarray:
        """``(n, n_comp)`` -> ``(n, *shape)`` (mirrored when symmetric)."""
        if self.components == "isotropic":
            return a[:, 0, None, None] * np.eye(self.shape[0])
        out = np.zeros((a.shape[0], int(np.prod(self.shape))))
        out[:, self._comp] = a
        out = out.reshape((a.shape[0],) + self.shape)
        if self.components == "symmetric":
            out = out + np.swapaxes(out, 1, 2) - out * np.eye(self.shape[0])
        return out

    def predict(self, X: np.ndarray, noise: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation ``(n, *shape)`` at inputs ``X (n, D)``.

        With ``noise`` the std includes the fitted noise (the scatter of one new
        realization); without, it is that of the latent mean only.
        """
        if not self.gps:
            raise RuntimeError("TensorSurrogate.predict: call fit or fit_data first")
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != len(self.names):
            raise ValueError(f"TensorSurrogate.predict: X must have {len(self.names)} columns "
                             f"({', '.join(self.names)}), got {X.shape[1]}")
        preds = [g.predict(X) for g in self.gps]
        mean = np.column_stack([p.mean[:, 0] for p in preds])
        var = np.column_stack([p.std[:, 0] ** 2 for p in preds])
        if noise:
            var = var + self._noise_var()[None, :]
        return self._expand(mean), self._expand(np.sqrt(var))

    def __call__(self, params: Mapping[str, float], seed: int = 0) -> np.ndarray:
        """Surrogate mean ``(*shape)`` at one parameter set (a model for Monte Carlo)."""
        missing = [k for k in self.names if k not in params]
        if missing:
            raise ValueError(f"TensorSurrogate: missing parameter {missing[0]!r}; expected "
                             f"{', '.join(self.names)}")
        x = np.array([[float(params[k]) for k in self.names]])
        return self.predict(x)[0][0]

    def validate(self, model: Callable, inputs: Mapping[str, Any], n: int, seed: int = 1,
                 realizations: int = 1, executor: Executor | None = None
                 ) -> SurrogateValidation:
        """Compare with direct ``model`` solves at ``n`` random held-out points.

        The points are plain Monte Carlo draws of ``inputs``, with seeds independent of the
        design's (give a ``seed`` different from the one given to :meth:`fit`). At each
        point the direct answer is the mean of ``realizations`` solves (independent seeds);
        the predictive interval includes the fitted noise divided by ``realizations``.
        """
        names = check_inputs(inputs, "TensorSurrogate.validate")
        if tuple(names) != self.names:
            raise ValueError(f"TensorSurrogate.validate: inputs {names} differ from the fitted "
                             f"{list(self.names)}")
        if isinstance(realizations, bool) or not isinstance(realizations, int) \
                or realizations < 1:
            raise ValueError(f"TensorSurrogate.validate: realizations must be an integer >= 1, "
                             f"got {realizations!r}")
        c_in, c_model = np.random.SeedSequence([seed, 7]).spawn(2)
        X = sample_inputs(inputs, n, "mc", c_in)
        Xr = np.repeat(X, realizations, axis=0)
        Y = evaluate_model(model, names, Xr, sample_seeds(c_model, len(Xr)), executor)
        Yf = self._reduce(Y.reshape((n, realizations) + Y.shape[1:]).mean(axis=1))
        preds = [g.predict(X) for g in self.gps]
        mean = np.column_stack([p.mean[:, 0] for p in preds])
        var = np.column_stack([p.std[:, 0] ** 2 for p in preds])
        std = np.sqrt(var + self._noise_var()[None, :] / realizations)
        err = mean - Yf
        return SurrogateValidation(
            relative_rms=float(np.linalg.norm(err) / np.linalg.norm(Yf)),
            relative_max=float(np.abs(err).max() / np.abs(Yf).max()),
            coverage=float(np.mean(np.abs(err) <= 1.96 * std)),
            noise_std=np.sqrt(self._noise_var()),
            n=int(n))


def layered_bar_flux(kxx: np.ndarray, thickness: Sequence[float], dT: float = 1.0
                     ) -> np.ndarray:
    """Heat flux through a bar of layers in series along ``x``.

    Parameters
    ----------
    kxx : ndarray (n_layers, ...)
        Conductivity ``K_xx`` of every layer for any batch of samples ``...``.
    thickness : sequence of float
        Layer thicknesses ``t_i > 0`` (bar length ``sum t_i``).
    dT : float
        Temperature drop across the bar.

    Returns
    -------
    ndarray (...)
        ``q = dT / sum_i (t_i / K_i,xx)``.
    """
    t = np.asarray(thickness, dtype=float)
    k = np.asarray(kxx, dtype=float)
    if t.ndim != 1 or t.size == 0 or np.any(t <= 0) or k.ndim == 0 or k.shape[0] != t.size:
        raise ValueError(f"layered_bar_flux: need positive thicknesses (n_layers,) and kxx "
                         f"(n_layers, ...) with n_layers = {t.size}, got thickness "
                         f"{t.tolist()} and kxx of shape {k.shape}")
    if np.any(k <= 0):
        raise ValueError("layered_bar_flux: layer conductivities must be > 0")
    return dT / np.tensordot(t, 1.0 / k, axes=1)
