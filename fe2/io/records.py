"""Plain records for CSV/JSON outputs: numpy values made JSON-ready, tables written.

- :func:`jsonable`: numpy arrays and scalars to lists and Python numbers;
- :func:`cell`: one CSV cell (floats with 12 significant digits);
- :func:`write_csv`: a header and rows of cells to one CSV file;
- :func:`write_table`: rows (dicts with the same keys) as ``{name}.csv`` + ``{name}.json``.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> c, j = write_table([{"n": 4, "error": 0.125}, {"n": 8, "error": 1 / 32}], d, "rates")
>>> c.read_text().splitlines()
['n,error', '4,0.125', '8,0.03125']
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["jsonable", "cell", "write_csv", "write_table"]

log = logging.getLogger(__name__)


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


def cell(v: Any) -> str:
    """One CSV cell: floats with 12 significant digits (``repr``-free), others by ``str``."""
    if isinstance(v, float | np.floating):
        return f"{float(v):.12g}"
    return str(v)


def write_csv(path: str | PathLike, header: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> Path:
    """Write ``header`` and ``rows`` (sequences of values, formatted by :func:`cell`)."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(header))
        for row in rows:
            w.writerow([cell(v) for v in row])
    return path


def write_table(rows: Sequence[Mapping[str, Any]], folder: str | PathLike,
                name: str = "table", extra: Mapping[str, Any] | None = None
                ) -> tuple[Path, Path]:
    """Rows (dicts with the same keys) as ``{name}.csv`` and ``{name}.json`` in ``folder``.

    Parameters
    ----------
    rows : sequence of dicts
        Same keys, in the same order, in every row (the CSV header).
    folder : path
        Created if missing.
    name : str
        File stem.
    extra : dict, optional
        Further JSON entries: the JSON is then ``{**extra, "rows": rows}``; without it,
        the list of rows.

    Returns
    -------
    (Path, Path)
        The CSV and the JSON file.
    """
    rows = [dict(r) for r in rows]
    if not rows:
        raise ValueError("write_table: no rows to write")
    keys = list(rows[0])
    for i, r in enumerate(rows):
        if list(r) != keys:
            raise ValueError(f"write_table: row {i} has keys {list(r)}, expected {keys}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(folder / f"{name}.csv", keys, ([r[k] for k in keys] for r in rows))
    doc = rows if extra is None else {**extra, "rows": rows}
    json_path = folder / f"{name}.json"
    json_path.write_text(json.dumps(jsonable(doc), indent=1))
    log.info("wrote %s and %s", csv_path, json_path)
    return csv_path, json_path
