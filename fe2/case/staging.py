"""One run folder lifecycle for every ``fe2 run`` kind that writes a fresh folder.

A run writes into ``<out>.partial-<pid>`` (marked as fe2's, with its log in
``run.log``); on success that folder replaces ``out`` whole, on any failure
(Ctrl-C included) it is moved to ``out.failed`` and ``out`` stays as it was.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fe2.case.run import keep_failed, mark_folder, swap_into

__all__ = ["staged_folder"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def staged_folder(out: Path, executor=None) -> Iterator[Path]:
    """Yield a fresh partial folder for a run into ``out`` (already checked).

    Parameters
    ----------
    out : Path
        The output folder, as returned by :func:`fe2.case.run.check_output`.
    executor : fe2.parallel executor, optional
        Shut down when the run ends, before the folder is moved.

    The ``fe2`` logger writes to ``run.log`` in the folder while the block runs.
    """
    tmp = out.with_name(out.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    mark_folder(tmp)
    handler = logging.FileHandler(tmp / "run.log")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger("fe2")
    root.addHandler(handler)

    def close() -> None:
        if executor is not None:
            executor.shutdown()
        root.removeHandler(handler)
        handler.close()

    try:
        yield tmp
    except BaseException:
        close()
        keep_failed(tmp, out)
        raise
    close()
    swap_into(tmp, out)
