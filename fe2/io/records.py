"""Plain records for CSV/JSON outputs: numpy values made JSON-ready."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["jsonable"]


def jsonable(v: Any) -> Any:
    """``v`` with numpy arrays and scalars turned into lists and Python numbers (recursive).

    Mappings get string keys; lists and tuples become lists; anything else is returned
    as it is.
    """
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    return v
