"""Helpers shared by the benchmarks: isolated runs with limits, extrapolation, formatting."""

from __future__ import annotations

import math
import multiprocessing as mp
import sys

from fe2.io import Progress


def note(msg: str) -> None:
    """A progress message on stderr (above a running progress bar, if any)."""
    from tqdm import tqdm

    tqdm.write(msg, file=sys.stderr)


def cases(items, desc: str, label=str):
    """Iterate over the benchmark cases with a progress bar (terminal) or lines (stderr)."""
    items = list(items)
    with Progress(total=len(items), desc=desc, unit="case", stream=sys.stderr) as bar:
        yield from bar.iterate(items, label)


def _child(conn, func, args):
    try:
        conn.send(("ok", func(*args)))
    except MemoryError as err:
        conn.send(("memory", f"MemoryError: {err}"))
    except BaseException as err:  # report any failure (SolverError, ...) to the parent
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


def run_isolated(func, args, timeout: float):
    """Run ``func(*args)`` in a fresh spawned process; return (status, result_or_message).

    ``status`` is ``"ok"``, ``"timeout"``, ``"memory"`` (MemoryError, or the process
    died, most likely killed for memory) or ``"error"``.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(child, func, args))
    p.start()
    child.close()
    try:
        if not parent.poll(timeout):
            p.kill()
            p.join()
            return "timeout", f"killed after {timeout:.0f} s"
        status, out = parent.recv()
    except EOFError:
        status, out = "memory", "process died (out of memory?)"
    p.join()
    return status, out


def extrapolate(points: list[tuple[float, float]], n: float, default_exp: float) -> float:
    """Power-law extrapolation of y(n) from the last two (n, y) points."""
    if not points:
        return 0.0
    if len(points) == 1:
        (n1, y1), p = points[0], default_exp
    else:
        (n0, y0), (n1, y1) = points[-2], points[-1]
        p = math.log(y1 / y0) / math.log(n1 / n0) if y1 > 0 and y0 > 0 else default_exp
    return y1 * (n / n1) ** p


def fmt_t(t: float) -> str:
    """Seconds with two decimals below 10 s, whole seconds above."""
    return f"{t:.2f}" if t < 10 else f"{t:.0f}"
