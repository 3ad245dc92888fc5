"""Micro models and the coarse time stepper: lift, evolve, restrict.

A *micro model* is anything with the stepping protocol :class:`MicroModel`::

    model.step(state, t, dt, rng, args=()) -> new state (same shape)

advancing a micro state (an ndarray, its first axis the components, any trailing
axes ensemble members or grid points) from ``t`` to ``t + dt``. ``args`` carries
parameters the micro model depends on (the frozen macro state in HMM), ``rng`` is
the :class:`numpy.random.Generator` of the run (seeded by the caller; deterministic
models ignore it). Two models are provided:

- :class:`ODEModel` wraps a right-hand side ``rhs(t, y, *args)`` (SciPy's
  ``solve_ivp`` signature) with an explicit one-step method (``"euler"``, ``"heun"``,
  ``"rk4"``), counting right-hand-side evaluations;
- :class:`SDEModel` wraps a drift and a diagonal diffusion coefficient and steps with
  Euler–Maruyama (``y + a dt + b sqrt(dt) xi``, ``xi`` standard normal from ``rng``).

Any other object with a ``step`` method of that signature plugs in the same way: an
SSA ensemble (advance every replica to ``t + dt``), a particle or dumbbell ensemble.
:func:`as_model` accepts a model or a bare right-hand side.

:class:`CoarseStepper` is the equation-free coarse time stepper (Kevrekidis et al.):
``lift`` (macro → micro state), ``evolve`` (micro steps of size ``dt``) and
``restrict`` (micro → macro); :meth:`CoarseStepper.burst` runs a lifted burst and
returns the restricted values after every micro step.

Examples
--------
>>> import numpy as np
>>> m = ODEModel(lambda t, y: -y, method="euler")
>>> float(m.step(np.array([1.0]), 0.0, 0.1, None)[0])
0.9
>>> cs = CoarseStepper(m, dt=0.1)
>>> cs.burst(np.array([1.0]), 0.0, 2)[0][:, 0].round(3).tolist()
[1.0, 0.9, 0.81]
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

__all__ = ["MicroModel", "ODEModel", "SDEModel", "as_model", "CoarseStepper", "Trajectory",
           "check_positive", "check_state"]

Method = Literal["euler", "heun", "rk4"]
_METHODS = ("euler", "heun", "rk4")


def check_positive(name: str, value: Any, integer: bool = False, zero: bool = False) -> float:
    """``value`` as a float (or int) > 0 (>= 0 with ``zero``); ValueError naming ``name``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if integer and (v != int(v) or isinstance(value, bool)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    ok = v >= 0 if zero else v > 0
    if not (math.isfinite(v) and ok):
        raise ValueError(f"{name} must be finite and {'>= 0' if zero else '> 0'}, got {value!r}")
    return int(v) if integer else v


def check_state(name: str, value: Any) -> np.ndarray:
    """``value`` as a float ndarray with at least one component and finite entries."""
    try:
        a = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {value!r}") from None
    if a.ndim == 0:
        a = a.reshape(1)
    if a.size == 0:
        raise ValueError(f"{name} is empty; expected at least one component")
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name} has a non-finite entry {a[tuple(bad)]} at index "
                         f"{tuple(int(i) for i in bad)}")
    return a


@runtime_checkable
class MicroModel(Protocol):
    """The stepping protocol of micro models.

    ``step(state, t, dt, rng, args=())`` returns the state at ``t + dt``; ``state`` is an
    ndarray ``(n, *ensemble)`` (components first), ``rng`` a seeded
    :class:`numpy.random.Generator` (or None for deterministic models), ``args`` the
    parameters passed by the coupling (e.g. the macro state).
    """

    def step(self, state: np.ndarray, t: float, dt: float, rng: Any,
             args: tuple = ()) -> np.ndarray:
        """The micro state at ``t + dt``."""
        ...


def _call(fun: Callable, t: float, y: np.ndarray, args: tuple, what: str) -> np.ndarray:
    try:
        out = fun(t, y, *args)
    except TypeError:
        try:
            inspect.signature(fun).bind(t, y, *args)
        except TypeError:
            extra = "".join(f", arg{i}" for i in range(len(args)))
            raise TypeError(f"{what} is called as f(t, y{extra}) ({len(args)} extra "
                            f"argument(s): the macro state in HMM); its signature is "
                            f"{inspect.signature(fun)}") from None
        except ValueError:  # no signature (builtins)
            pass
        raise
    out = np.asarray(out, dtype=float)
    if out.shape != y.shape:
        raise ValueError(f"{what} returned shape {out.shape} for a state of shape {y.shape}; "
                         f"expected the same shape")
    return out


@dataclass
class ODEModel:
    """Micro model ``dy/dt = rhs(t, y, *args)`` stepped by an explicit one-step method.

    Parameters
    ----------
    rhs : callable
        ``rhs(t, y, *args) -> dy/dt``, same shape as ``y`` ``(n, *ensemble)``.
    method : {"euler", "heun", "rk4"}
        Forward Euler (order 1, stability function ``1 + z``), Heun's method (order 2)
        or classical Runge–Kutta (order 4).

    Attributes
    ----------
    evaluations : int
        Right-hand-side evaluations so far (the cost measure of the studies).
    """

    rhs: Callable[..., Any]
    method: Method = "euler"
    evaluations: int = 0

    def __post_init__(self):
        if not callable(self.rhs):
            raise TypeError(f"ODEModel rhs must be callable rhs(t, y, *args), got "
                            f"{type(self.rhs).__name__}")
        if self.method not in _METHODS:
            raise ValueError(f"ODEModel method must be one of {_METHODS}, got {self.method!r}")

    def f(self, t: float, y: np.ndarray, args: tuple = ()) -> np.ndarray:
        """One counted evaluation of the right-hand side."""
        self.evaluations += 1
        return _call(self.rhs, t, y, args, "ODEModel rhs")

    def step(self, state: np.ndarray, t: float, dt: float, rng: Any = None,
             args: tuple = ()) -> np.ndarray:
        """The state at ``t + dt`` (one step of ``method``)."""
        y = state
        if self.method == "euler":
            return y + dt * self.f(t, y, args)
        k1 = self.f(t, y, args)
        if self.method == "heun":
            k2 = self.f(t + dt, y + dt * k1, args)
            return y + 0.5 * dt * (k1 + k2)
        k2 = self.f(t + 0.5 * dt, y + 0.5 * dt * k1, args)
        k3 = self.f(t + 0.5 * dt, y + 0.5 * dt * k2, args)
        k4 = self.f(t + dt, y + dt * k3, args)
        return y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


@dataclass
class SDEModel:
    """Micro model ``dY = a(t, Y) dt + b(t, Y) dW`` (diagonal noise), Euler–Maruyama.

    Parameters
    ----------
    drift : callable
        ``drift(t, y, *args) -> a``, same shape as ``y`` ``(n, *ensemble)``.
    diffusion : callable or float
        ``diffusion(t, y, *args) -> b`` (same shape as ``y``, or broadcastable to it),
        or a constant. Component ``i`` is driven by its own Wiener process.

    Notes
    -----
    One step: ``y + a dt + b sqrt(dt) xi`` with ``xi`` standard normal drawn from the
    ``rng`` passed to :meth:`step` (required: a seeded :class:`numpy.random.Generator`).
    Weak order 1, strong order 1/2.
    """

    drift: Callable[..., Any]
    diffusion: Callable[..., Any] | float
    evaluations: int = 0

    def __post_init__(self):
        if not callable(self.drift):
            raise TypeError(f"SDEModel drift must be callable drift(t, y, *args), got "
                            f"{type(self.drift).__name__}")
        if not callable(self.diffusion):
            check_positive("SDEModel diffusion", self.diffusion, zero=True)

    def step(self, state: np.ndarray, t: float, dt: float, rng: Any = None,
             args: tuple = ()) -> np.ndarray:
        """The state at ``t + dt`` (one Euler–Maruyama step)."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError("SDEModel.step needs rng, a numpy.random.Generator "
                            f"(e.g. numpy.random.default_rng(seed)), got {type(rng).__name__}")
        self.evaluations += 1
        a = _call(self.drift, t, state, args, "SDEModel drift")
        b = (np.asarray(self.diffusion(t, state, *args), dtype=float)
             if callable(self.diffusion) else float(self.diffusion))
        return state + a * dt + b * math.sqrt(dt) * rng.standard_normal(state.shape)


def as_model(model: Any, method: Method = "euler") -> MicroModel:
    """A micro model from a model (returned as is) or a right-hand side ``rhs(t, y, *args)``."""
    if hasattr(model, "step") and callable(model.step):
        return model
    if callable(model):
        return ODEModel(model, method=method)
    raise TypeError(f"micro model must have a step(state, t, dt, rng, args) method or be a "
                    f"right-hand side rhs(t, y, *args), got {type(model).__name__}")


def _identity(x: np.ndarray) -> np.ndarray:
    return x


@dataclass
class CoarseStepper:
    """Equation-free coarse time stepper: lift, evolve, restrict.

    Parameters
    ----------
    model : MicroModel or callable
        The micro model (see :func:`as_model`).
    dt : float
        Micro step (> 0).
    lift : callable, optional
        ``lift(U, rng) -> u``: micro state ``(n, *ensemble)`` consistent with the macro
        state ``U`` ``(m,)``; default: ``u = U`` (the micro model is the full ODE).
    restrict : callable, optional
        ``restrict(u) -> U``: macro state ``(m,)``; default: ``U = u``.
    method : {"euler", "heun", "rk4"}
        Stepping method when ``model`` is a bare right-hand side.
    seed : int or numpy.random.Generator, optional
        Random stream of stochastic micro models (and of ``lift``).
    args : tuple
        Extra parameters passed to every micro step.

    Attributes
    ----------
    micro_steps : int
        Micro steps taken so far (the cost measure).
    """

    model: Any
    dt: float
    lift: Callable[..., Any] | None = None
    restrict: Callable[..., Any] | None = None
    method: Method = "euler"
    seed: Any = None
    args: tuple = ()
    micro_steps: int = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self):
        self.model = as_model(self.model, self.method)
        self.dt = check_positive("CoarseStepper dt", self.dt)
        for name in ("lift", "restrict"):
            f = getattr(self, name)
            if f is not None and not callable(f):
                raise TypeError(f"CoarseStepper {name} must be callable, got {type(f).__name__}")
        self.rng = np.random.default_rng(self.seed)

    def lift_state(self, U: np.ndarray) -> np.ndarray:
        """Micro state ``(n, *ensemble)`` for the macro state ``U``."""
        U = check_state("macro state U", U)
        u = U.copy() if self.lift is None else self.lift(U, self.rng)
        return check_state("lifted micro state", u)

    def restrict_state(self, u: np.ndarray) -> np.ndarray:
        """Macro state ``(m,)`` of the micro state ``u``."""
        U = u if self.restrict is None else self.restrict(u)
        return np.array(U, dtype=float).reshape(-1) if np.ndim(U) == 0 else np.array(U, float)

    def evolve(self, u: np.ndarray, t: float, n: int, dt: float | None = None) -> np.ndarray:
        """``n`` micro steps of size ``dt`` (default :attr:`dt`) from ``(t, u)``."""
        h = self.dt if dt is None else dt
        for j in range(int(n)):
            u = self.model.step(u, t + j * h, h, self.rng, self.args)
        self.micro_steps += int(n)
        return u

    def burst(self, U: np.ndarray, t: float, n: int, dt: float | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Lift ``U``, take ``n`` micro steps, restrict after each.

        Returns
        -------
        (coarse, u) : ndarray ``(n + 1, m)`` and the final micro state
            ``coarse[j]`` is the restricted state after ``j`` micro steps
            (``coarse[0] = restrict(lift(U))``).
        """
        n = check_positive("burst length n", n, integer=True, zero=True)
        u = self.lift_state(U)
        out = [self.restrict_state(u)]
        h = self.dt if dt is None else dt
        for j in range(n):
            u = self.evolve(u, t + j * h, 1, h)
            out.append(self.restrict_state(u))
        return np.array(out), u


@dataclass(frozen=True)
class Trajectory:
    """Macro trajectory of a multiscale time integrator.

    Attributes
    ----------
    t : ndarray ``(n_out,)``
        Output times.
    U : ndarray ``(n_out, *macro_shape)``
        Macro state at those times (``(n_out, m)``, or ``(n_out, m, runs)`` for ensembles).
    micro_steps : int
        Micro steps taken (the cost).
    method : str
        Integrator name.
    info : dict
        Method parameters and diagnostics (step sizes, k, M, eps', evaluations).
    """

    t: np.ndarray
    U: np.ndarray
    micro_steps: int
    method: str
    info: dict = field(default_factory=dict)

    def at(self, t: float) -> np.ndarray:
        """Macro state at ``t`` by linear interpolation, shape ``U.shape[1:]``."""
        flat = self.U.reshape(len(self.t), -1)
        out = np.array([np.interp(t, self.t, flat[:, i]) for i in range(flat.shape[1])])
        return out.reshape(self.U.shape[1:])

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {"method": self.method, "micro_steps": int(self.micro_steps),
                "t": self.t.tolist(), "U": self.U.tolist(),
                "info": {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                         for k, v in self.info.items()}}
