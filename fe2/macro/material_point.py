"""Material-point driver: one oracle under a prescribed strain/stress path.

The standard way to test a micro model (a closed-form law or an RVE) before an
FE² run: uniaxial stress, a cyclic strain history, pure shear, each with some
components of the input (strain, deformation gradient or gradient)
prescribed and the flux (stress, heat flux) prescribed at the others. The free
input components are found by Newton's method with the oracle's tangent.

>>> from fe2.materials import LinearElastic
>>> from fe2.macro.material_point import LoadPath, drive
>>> law = LinearElastic(E=200.0, nu=0.25)                  # 3D
>>> res = drive(law, LoadPath.from_components("strain", 3, strain={"11": 0.01}, steps=1))
>>> round(float(res.flux[-1, 0, 0]), 10), round(float(res.input[-1, 1, 1]), 10)
(2.0, -0.0025)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fe2.oracle import OracleError, QuadratureState, input_shape

__all__ = ["LoadPath", "MaterialPointResult", "MaterialPointError", "drive", "component_index"]

log = logging.getLogger(__name__)


class MaterialPointError(RuntimeError):
    """The driver could not follow the path (Newton failed after all cut-backs)."""


def component_index(key: str | Sequence[int], shape: tuple[int, ...]) -> tuple[int, ...]:
    """``"12"`` (1-based digits) or ``(0, 1)`` (0-based) -> a 0-based index into ``shape``.

    >>> component_index("12", (3, 3)), component_index((2, 2), (3, 3)), component_index("2", (2,))
    ((0, 1), (2, 2), (1,))
    """
    if isinstance(key, str):
        if not key.isdigit() or len(key) != len(shape):
            raise ValueError(f"component {key!r}: expected {len(shape)} digit(s) 1..{shape[0]} "
                             f"(e.g. {'12' if len(shape) == 2 else '1'!r})")
        idx = tuple(int(c) - 1 for c in key)
    else:
        idx = tuple(int(i) for i in key)
    if len(idx) != len(shape) or any(not 0 <= i < n for i, n in zip(idx, shape, strict=False)):
        raise ValueError(f"component {key!r}: out of range for a {shape} input")
    return idx


@dataclass(frozen=True)
class LoadPath:
    """A piecewise-linear path in the load factor ``t``, mixed control per component.

    Attributes
    ----------
    measure : str
        The oracle's measure (``"strain"``, ``"deformation_gradient"``, ``"gradient"``).
    control : ndarray of bool, (*ishape)
        True where the input is prescribed, False where the flux is.
    values : ndarray, (n_points, *ishape)
        At the load points ``t = 1..n_points``: the input where ``control``,
        the flux elsewhere. At ``t = 0`` the input is ``start`` and the flux
        zero (the virgin state).
    start : ndarray, (*ishape)
        Input at ``t = 0``: zero, or the identity for ``"deformation_gradient"``.
    steps : int
        Increments per segment.
    """

    measure: str
    control: np.ndarray
    values: np.ndarray
    start: np.ndarray
    steps: int = 10

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"LoadPath: steps must be >= 1, got {self.steps}")
        if self.values.shape[1:] != self.control.shape or self.values.shape[0] < 1:
            raise ValueError(f"LoadPath: values must be (n_points >= 1, *{self.control.shape}), "
                             f"got {self.values.shape}")
        if self.measure == "strain" and not (
                np.array_equal(self.control, self.control.T)
                and np.allclose(self.values, np.swapaxes(self.values, 1, 2))):
            raise ValueError("LoadPath: a strain path must be symmetric (control and values)")

    @classmethod
    def from_components(
        cls, measure: str, dim: int,
        strain: Mapping[Any, float | Sequence[float]] | None = None,
        stress: Mapping[Any, float | Sequence[float]] | None = None,
        steps: int = 10,
    ) -> LoadPath:
        """A path from prescribed components; every component not in ``strain`` is stress-free.

        Parameters
        ----------
        measure, dim : str, int
            The oracle's measure and dimension (input shape ``(dim, dim)`` or ``(dim,)``).
        strain, stress : mapping
            Component (``"11"``, ``"12"``, ... 1-based, or a 0-based tuple) ->
            its value at the load points (a number: one load point, or a list
            of ``n`` numbers, the same ``n`` for all). ``strain`` prescribes
            the input (for ``"deformation_gradient"``: the component of F),
            ``stress`` the flux; the flux of components in neither is zero.
            For ``"strain"``, ``"12"`` stands for the symmetric pair.
        steps : int
            Increments per segment.

        Examples
        --------
        Cyclic uniaxial stress, strain amplitude 1 %:

        >>> p = LoadPath.from_components("strain", 3, strain={"11": [0.01, -0.01, 0.0]})
        >>> p.values.shape, bool(p.control[0, 0]), bool(p.control[1, 1])
        ((3, 3, 3), True, False)
        """
        shape = input_shape(measure, dim)
        strain, stress = dict(strain or {}), dict(stress or {})
        items = [(k, v, True) for k, v in strain.items()] + [(k, v, False) for k, v in
                                                               stress.items()]
        lengths = {len(v) for _, v, _ in items if not np.isscalar(v)}
        if len(lengths) > 1:
            raise ValueError(f"LoadPath: every component needs the same number of load points, "
                             f"got lists of lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 1
        control = np.zeros(shape, dtype=bool)
        values = np.zeros((n, *shape))
        seen: dict[tuple, Any] = {}
        for key, v, is_input in items:
            idx = component_index(key, shape)
            pair = dict.fromkeys([idx, idx[::-1]] if measure == "strain" else [idx])
            for j in pair:
                if j in seen:
                    raise ValueError(f"LoadPath: component {key!r} is prescribed twice "
                                     f"(also as {seen[j]!r})")
                seen[j] = key
                control[j] = is_input
                values[(slice(None), *j)] = np.broadcast_to(np.asarray(v, dtype=float), (n,))
        start = np.eye(dim) if measure == "deformation_gradient" else np.zeros(shape)
        return cls(measure=measure, control=control, values=values, start=start, steps=steps)

    @classmethod
    def uniaxial_stress(cls, measure: str, dim: int, values: float | Sequence[float],
                        steps: int = 10) -> LoadPath:
        """Input ``[0, 0]`` prescribed (``values`` at the load points), all other fluxes zero."""
        key = "11" if len(input_shape(measure, dim)) == 2 else "1"
        return cls.from_components(measure, dim, strain={key: values}, steps=steps)

    def at(self, t: float) -> np.ndarray:
        """Target ``(*ishape)`` at load factor ``t`` (input where controlled, flux elsewhere)."""
        zero = np.where(self.control, self.start, 0.0)
        pts = np.concatenate([zero[None], self.values])
        t = float(np.clip(t, 0.0, len(self.values)))
        k = min(int(np.floor(t)), len(self.values) - 1)
        return pts[k] + (t - k) * (pts[k + 1] - pts[k])


@dataclass
class MaterialPointResult:
    """The converged path: one row per increment (row 0: the virgin state at ``t = 0``).

    ``t (m,)``, ``input (m, *ishape)``, ``flux (m, *ishape)``, ``iterations (m,)``
    (Newton iterations on the free components), ``cutbacks`` in all,
    ``states``: the committed history after each increment (None for laws
    without history; only kept with ``keep_states``).
    """

    t: np.ndarray
    input: np.ndarray
    flux: np.ndarray
    iterations: np.ndarray
    cutbacks: int = 0
    states: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain lists (for ``summary.json``)."""
        return {"t": self.t.tolist(), "input": self.input.tolist(), "flux": self.flux.tolist(),
                "iterations": self.iterations.tolist(), "cutbacks": self.cutbacks}


def _unknowns(control: np.ndarray, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """``D (nH, nU)`` mapping free independent components to the input, and their rows."""
    cols, rows = [], []
    shape = control.shape
    for idx in zip(*np.nonzero(~control), strict=True):
        if measure == "strain" and idx[0] > idx[1]:
            continue
        col = np.zeros(shape)
        col[idx] = 1.0
        if measure == "strain":
            col[idx[::-1]] = 1.0
        cols.append(col.ravel())
        rows.append(int(np.ravel_multi_index(idx, shape)))
    nh = int(np.prod(shape))
    D = np.array(cols).T if cols else np.zeros((nh, 0))
    return D, np.asarray(rows, dtype=np.int64)


def drive(oracle: Any, path: LoadPath, rtol: float = 1e-10, atol: float = 0.0,
          max_iter: int = 25, max_cutbacks: int = 8, keep_states: bool = False,
          callback: Any = None) -> MaterialPointResult:
    """Follow ``path`` with ``oracle`` at one point; Newton on the free input components.

    Parameters
    ----------
    oracle : Oracle
        Any oracle (a material of :mod:`fe2.materials`, an RVE, a lattice):
        ``evaluate(g (*ishape, 1, 1), state=...)`` with a consistent tangent.
    path : LoadPath
        The prescribed path; ``path.measure`` must be the oracle's measure.
    rtol, atol : float
        Convergence: ``max |flux - target|`` on the flux-controlled
        components below ``rtol * max(|flux|, |tangent| |input|) + atol``.
    max_iter : int
        Newton iterations per increment.
    max_cutbacks : int
        Halvings of a failing increment (Newton not converged, oracle error)
        before :class:`MaterialPointError`.
    keep_states : bool
        Keep the committed history of every increment in the result.
    callback : callable, optional
        ``callback(t, input, flux)`` after each converged increment.

    Returns
    -------
    MaterialPointResult
    """
    if path.measure != oracle.measure:
        raise ValueError(f"drive: the path is for measure {path.measure!r}, the oracle takes "
                         f"{oracle.measure!r}")
    shape = path.control.shape
    if tuple(getattr(oracle, "input_shape", shape)) != shape:
        raise ValueError(f"drive: the path has input shape {shape}, the oracle "
                         f"{tuple(oracle.input_shape)}")
    D, rows = _unknowns(path.control, path.measure)
    state = QuadratureState.for_oracle(oracle, (1, 1))
    x = path.start.astype(float).ravel().copy()
    resp = oracle.evaluate(x.reshape(shape)[..., None, None], state=state.committed)
    ts, gs, fs, its = [0.0], [x.copy()], [np.asarray(resp.flux)[..., 0, 0].ravel()], [0]
    states = [state.committed] if keep_states else []
    cut_total = 0
    t_end = float(len(path.values))
    dt0 = 1.0 / path.steps
    t, dt = 0.0, dt0
    cut = 0
    while t < t_end - 1e-12:
        t_new = min(t + dt, t_end)
        target = path.at(t_new).ravel()
        ctrl = path.control.ravel()
        try:
            x_new, f_new, n_it, trial = _increment(oracle, state, x, target, ctrl, D, rows, shape,
                                                   rtol, atol, max_iter, path.start.ravel())
        except (OracleError, np.linalg.LinAlgError, _NoConvergence) as err:
            cut += 1
            cut_total += 1
            if cut > max_cutbacks:
                raise MaterialPointError(
                    f"material point: no convergence at load factor {t_new:.6g} after "
                    f"{max_cutbacks} cut-backs (last converged t = {t:.6g}): {err}") from err
            dt /= 2.0
            log.info("material point: cut-back at t = %.6g (%s); increment %.3g", t_new, err, dt)
            continue
        state.set_trial(trial)
        state.commit()
        x, t = x_new, t_new
        ts.append(t)
        gs.append(x.copy())
        fs.append(f_new)
        its.append(n_it)
        if keep_states:
            states.append(state.committed)
        if callback is not None:
            callback(t, x.reshape(shape), f_new.reshape(shape))
        cut = 0
        dt = min(dt * 1.5, dt0)
        # land on the load points of the path
        nxt = np.floor(t + 1e-9) + 1.0
        if t + dt > nxt + 1e-12 and nxt <= t_end:
            dt = nxt - t
    return MaterialPointResult(t=np.array(ts), input=np.array(gs).reshape(-1, *shape),
                               flux=np.array(fs).reshape(-1, *shape),
                               iterations=np.array(its), cutbacks=cut_total, states=states)


class _NoConvergence(RuntimeError):
    pass


def _increment(oracle, state, x0, target, ctrl, D, rows, shape, rtol, atol, max_iter, start):
    """Newton on the free components at one load factor; returns (x, flux, iterations, state).

    The tolerance scale is fixed by the step (last converged input, prescribed
    values), not by the iterate, so a diverging iterate cannot meet it.
    """
    x = x0.copy()
    x[ctrl] = target[ctrl]
    x_ref = max(np.abs(x0 - start).max(), np.abs(x - start).max())
    for it in range(max_iter + 1):
        resp = oracle.evaluate(x.reshape(shape)[..., None, None], state=state.committed)
        conv = resp.info.get("converged") if resp.info else None
        if conv is not None and not np.all(conv):
            raise _NoConvergence("the oracle reports a non-converged solve")
        f = np.asarray(resp.flux, dtype=float)[..., 0, 0].ravel()
        if not np.all(np.isfinite(f)):
            raise _NoConvergence("non-finite flux")
        if rows.size == 0:
            return x, f, 0, resp.state
        T = np.asarray(resp.tangent, dtype=float)[..., 0, 0].reshape(f.size, f.size)
        res = f[rows] - target[rows]
        scale = max(np.abs(f).max(), np.abs(target[rows]).max(), np.abs(T).max() * x_ref,
                    1e-300)
        if np.abs(res).max() <= rtol * scale + atol:
            return x, f, it, resp.state
        if it == max_iter:
            break
        x = x - D @ np.linalg.solve(T[rows] @ D, res)
    raise _NoConvergence(f"Newton did not converge in {max_iter} iterations "
                         f"(residual {np.abs(res).max():.3e})")
