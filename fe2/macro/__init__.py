"""Macro finite-element problems on scikit-fem meshes, answered by oracles."""

from .problem import (
    CheckpointError,
    ConvergenceError,
    NewtonOptions,
    Problem,
    Solution,
    StepFailure,
    StepRecord,
)

__all__ = [
    "Problem",
    "NewtonOptions",
    "Solution",
    "StepRecord",
    "ConvergenceError",
    "StepFailure",
    "CheckpointError",
]
