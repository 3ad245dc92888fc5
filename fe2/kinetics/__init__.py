"""Stochastic chemical kinetics: the direct SSA and the nested SSA for multiscale networks.

A :class:`ReactionNetwork` of mass-action :class:`Reaction` s (built in Python or read
with :meth:`ReactionNetwork.from_toml`; :data:`MODELS` ship with fe2) is simulated by
:func:`ssa` (Gillespie's direct method, numba) or :func:`nested_ssa` (E, Liu &
Vanden-Eijnden: an outer SSA of the slow reactions with propensities averaged over
short inner SSAs of the fast ones). Both return an :class:`SSAResult` (final states,
optional paths, event counts); :mod:`fe2.kinetics.output` writes CSV/JSON and plots.
:class:`SSAModel` makes an SSA ensemble a micro model of the coarse time steppers of
:mod:`fe2.timescales` (lift to a population, SSA bursts, restrict to the means).

Examples
--------
>>> from fe2.kinetics import Reaction, ReactionNetwork, ssa
>>> net = ReactionNetwork(["A", "B"], [Reaction(1.0, {"A": 1}, {"B": 1})])
>>> r = ssa(net, {"A": 100}, t_end=1.0, runs=10, seed=1)
>>> r.final.shape, int(r.final.sum(axis=1).max())
((10, 2), 100)
"""

from .coarse import SSAModel
from .network import MODELS, NetworkError, Reaction, ReactionNetwork, model_path
from .output import plot_error, plot_histogram, plot_paths, write_result
from .ssa import (
    FAST_RATIO,
    LEAP_MIN_COUNT,
    LEAP_TOL,
    SSAResult,
    averaged_rates,
    choose_fast,
    choose_leap,
    nested_ssa,
    ssa,
)

__all__ = [
    "FAST_RATIO",
    "LEAP_MIN_COUNT",
    "LEAP_TOL",
    "MODELS",
    "NetworkError",
    "Reaction",
    "ReactionNetwork",
    "SSAModel",
    "SSAResult",
    "averaged_rates",
    "choose_fast",
    "choose_leap",
    "model_path",
    "nested_ssa",
    "plot_error",
    "plot_histogram",
    "plot_paths",
    "ssa",
    "write_result",
]
