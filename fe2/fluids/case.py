"""Fluid runs described by a TOML file (or a dict), validated before anything runs.

.. code-block:: toml

   [flow]
   kind = "cavity"          # or "channel" (periodic, pressure-driven)
   reynolds = 100           # cavity: rho U L / eta_0
   n = 64                   # cells per side (cavity) or across (channel)
   steady_tol = 1e-5        # or t_end = 5.0
   lid = "uniform"          # cavity: or "regularized" (16 x^2 (1 - x)^2)

   [stress]                 # optional (cavity default: Newtonian with eta = 1/Re)
   type = "HookeanDumbbells"
   n_dumbbells = 1000
   lam = 0.5
   eta_p = 0.008
   eta_s = 0.002
   seed = 1

   [output]
   snapshots = 10           # ParaView series (needs t_end)
   png = true

A channel takes ``gradient`` (pressure drop per length), ``density``, ``viscosity`` (when
there is no ``[stress]``) and ``t_end``. Unknown keys and bad values stop with one line
naming the file, the field, the value and what was expected (:class:`FluidCaseError`).
:func:`run_fluid_case` writes the centrelines (CSV), ``summary.json``, the series
(``.vti`` + ``.pvd``) and, with ``png``, the centreline and streamline plots.
"""

from __future__ import annotations

import logging
import tomllib
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["FluidCase", "FluidCaseError", "load_fluid_case", "run_fluid_case"]

log = logging.getLogger(__name__)

STRESS_TYPES = ("Newtonian", "OldroydB", "FENEP", "HookeanDumbbells", "FENEDumbbells",
                "LennardJonesNEMD")


class FluidCaseError(ValueError):
    """A fluid case that cannot be run as written (one line: file, field, value, expected)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Flow(_Strict):
    """``[flow]``: geometry, resolution and when to stop."""

    kind: Literal["cavity", "channel"]
    n: int = Field(ge=3, description="cells per side (cavity) or across (channel)")
    reynolds: float | None = Field(None, gt=0, description="cavity Reynolds number")
    t_end: float | None = Field(None, gt=0)
    steady_tol: float | None = Field(None, gt=0)
    gradient: float = Field(1.0, description="channel: pressure drop per length")
    density: float | None = Field(None, gt=0)
    viscosity: float | None = Field(None, ge=0, description="channel without [stress]")
    dt: float | None = Field(None, gt=0)
    cfl: float = Field(0.5, gt=0)
    lid: Literal["uniform", "regularized"] | None = Field(
        None, description="cavity lid profile (default uniform)")


class Output(_Strict):
    """``[output]``: what to write."""

    snapshots: int = Field(0, ge=0)
    png: bool = True
    name: str = "flow"


class FluidCase(_Strict):
    """A validated fluid case: ``flow``, optional ``stress`` table, ``output``."""

    flow: Flow
    stress: dict[str, Any] | None = None
    output: Output = Output()
    source: str = Field("<dict>", exclude=True)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> FluidCase:
        """Validate ``data``; :class:`FluidCaseError` names the first bad field."""
        try:
            case = cls.model_validate({**data, "source": source})
        except ValidationError as err:
            e = err.errors()[0]
            where = ".".join(str(p) for p in e["loc"])
            value = e.get("input")
            raise FluidCaseError(f"{source}: {where} = {value!r}: {e['msg']}") from None
        case._check()
        return case

    @classmethod
    def from_toml(cls, path: str | PathLike) -> FluidCase:
        """Read and validate a TOML file."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise FluidCaseError(f"{path}: cannot read the case ({err})") from None
        return cls.from_dict(data, str(path))

    def _check(self) -> None:
        f, src = self.flow, self.source
        if f.kind == "cavity" and f.reynolds is None:
            raise FluidCaseError(f"{src}: flow.reynolds: missing; a cavity needs a Reynolds number")
        if f.kind == "channel" and f.lid is not None:
            raise FluidCaseError(f"{src}: flow.lid = {f.lid!r}: only for a cavity")
        if f.kind == "channel" and f.t_end is None:
            raise FluidCaseError(f"{src}: flow.t_end: missing; a channel runs to a given time")
        if f.kind == "channel" and self.stress is None and f.viscosity is None:
            raise FluidCaseError(f"{src}: flow.viscosity: missing; give it or a [stress] table")
        if f.t_end is None and f.steady_tol is None:
            raise FluidCaseError(f"{src}: flow: give t_end, steady_tol or both")
        if self.output.snapshots and f.t_end is None:
            raise FluidCaseError(f"{src}: output.snapshots = {self.output.snapshots}: needs "
                                 "flow.t_end")
        if self.stress is not None:
            self.oracle()

    def oracle(self):
        """The stress oracle of ``[stress]`` (None without one)."""
        if self.stress is None:
            return None
        import fe2.fluids as fl

        kw = dict(self.stress)
        kind = kw.pop("type", None)
        if kind not in STRESS_TYPES:
            raise FluidCaseError(f"{self.source}: stress.type = {kind!r}: expected one of "
                                 f"{', '.join(STRESS_TYPES)}")
        try:
            return getattr(fl, kind)(**kw)
        except TypeError as err:
            raise FluidCaseError(f"{self.source}: [stress] {kind}: {err}") from None
        except ValueError as err:
            raise FluidCaseError(f"{self.source}: [stress]: {err}") from None


def load_fluid_case(path: str | PathLike) -> FluidCase:
    """:meth:`FluidCase.from_toml`."""
    return FluidCase.from_toml(path)


def run_fluid_case(case: FluidCase | str | PathLike | dict, out: str | PathLike,
                   executor=None, lid: str = "uniform") -> dict:
    """Run ``case`` and write its outputs into the folder ``out``; return the summary.

    ``executor`` (a :mod:`fe2.parallel` executor) evaluates the stress oracle's points in
    parallel; ``lid`` is passed to :func:`fe2.fluids.lid_driven_cavity` unless the case
    sets ``flow.lid``.

    Returns
    -------
    dict
        ``summary.json`` contents: grid, time, steps, convergence, files written.
    """
    from .flows import channel, lid_driven_cavity
    from .output import plot_centerlines, plot_streamlines, write_profiles, write_series

    if isinstance(case, dict):
        case = FluidCase.from_dict(case)
    elif not isinstance(case, FluidCase):
        case = FluidCase.from_toml(case)
    f, o = case.flow, case.output
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stress = case.oracle()
    if f.kind == "cavity":
        r = lid_driven_cavity(f.reynolds, f.n, stress=stress, t_end=f.t_end,
                              steady_tol=f.steady_tol, cfl=f.cfl, dt=f.dt, density=f.density,
                              snapshots=o.snapshots, executor=executor, lid=f.lid or lid)
    else:
        r = channel(f.n, f.t_end, gradient=f.gradient, viscosity=f.viscosity, stress=stress,
                    density=f.density or 1.0, dt=f.dt, cfl=f.cfl, snapshots=o.snapshots,
                    executor=executor)
    files = write_profiles(r, out, o.name, extra={"kind": f.kind, "source": case.source})
    written = [p.name for p in files.values()]
    if o.snapshots:
        written.append(write_series(r.snapshots, out, o.name).name)
    if o.png:
        ghia = f.kind == "cavity" and (f.lid or lid) == "uniform"
        ref = int(f.reynolds) if ghia and float(f.reynolds).is_integer() else None
        written.append(plot_centerlines(r, out / f"{o.name}_centerlines.png", reynolds=ref).name)
        written.append(plot_streamlines(r, out / f"{o.name}_streamlines.png").name)
    summary = r.to_dict() | {"kind": f.kind, "files": written}
    log.info("fluid case %s: %d steps to t = %.4g, wrote %d files", case.source, r.steps, r.t,
             len(written))
    return summary
