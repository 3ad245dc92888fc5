"""Cases: a problem described in a TOML file (or a dict), validated before anything runs.

A case file names the mesh, the problem kind, one material per subdomain (or
``all``), boundary conditions, Newton and solver options, and what to write;
or, with ``[problem] kind = "material_point"``, one material under a
prescribed strain/stress path (``[point]``); or, with ``kind = "shock_tube"``,
a 1D Riemann problem (``[shock_tube]``) run by the central schemes of
:mod:`fe2.gas` with the flux oracle of ``[flux]`` (:mod:`fe2.case.gas`).
See ``examples/cases/*.toml``,
``fe2 schema`` (the JSON schema of the file) and :class:`Case` for the fields.

>>> from fe2.case import Case, run_case
>>> case = Case.from_dict({
...     "problem": {"kind": "material_point"},
...     "materials": {"steel": {"type": "LinearElastic", "E": 200e3, "nu": 0.3}},
...     "point": {"strain": {"11": 0.001}, "steps": 1},
...     "output": {"png": False},
... })
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "uniaxial"
>>> summary = run_case(case, out)
>>> round(summary["final"]["stress"][0][0], 6)     # uniaxial stress: E eps
200.0
"""

from fe2.case.models import KINDS, Case, CaseError, case_schema, load_case
from fe2.case.run import (
    CHECKPOINT,
    MARKER,
    STOP_EXIT_CODE,
    OutputWriteError,
    build_problem,
    check_output,
    fe2_made,
    find_checkpoint,
    keep_failed,
    newton_options,
    run_case,
    swap_into,
)

__all__ = ["Case", "CaseError", "KINDS", "load_case", "run_case", "case_schema", "check_output",
           "find_checkpoint", "build_problem", "newton_options", "OutputWriteError",
           "keep_failed", "swap_into", "fe2_made", "CHECKPOINT", "MARKER", "STOP_EXIT_CODE"]
