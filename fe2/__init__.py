"""fe2: concurrent multiscale simulation (FE², FE-HMM, Cauchy–Born, quasicontinuum).

The public vocabulary is small: *oracles* (``fe2.materials``, ``fe2.homogenization``,
``fe2.atomistic``) answer flux and tangent for a batch of macro inputs; *macro
problems* (``fe2.macro``) assemble and solve with scikit-fem; *solvers*
(``fe2.linalg``) are callables made by factories; ``fe2.io`` reads meshes and writes
ParaView files and pictures; ``fe2.verify`` holds the checks used by tests and studies.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fe2")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
