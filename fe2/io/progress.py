"""Progress of long loops: a tqdm bar on a terminal, plain one-line messages otherwise.

:class:`Progress` is what :meth:`fe2.macro.Problem.solve` (``progress=True``),
``fe2 verify``, ``fe2 demo`` and the benchmarks use. On a terminal it shows a
tqdm bar with the position (load factor, study i of n, case i of n), the rate,
the elapsed time and the estimated time left, plus the fields of the last
:meth:`Progress.status` (load step, Newton iteration, micro solves per second).
Log records of the ``fe2`` loggers are routed around the bar while it is open.
When the output is not a terminal (a file, a pipe, a CI log) each
:meth:`Progress.advance` becomes one plain line: written to ``stream`` when the
caller gave one, else logged at INFO by the ``fe2.progress`` logger.

Progress output never changes results: it only reads the numbers it shows.

Examples
--------
>>> import io
>>> out = io.StringIO()   # not a terminal: plain lines
>>> with Progress(total=2, desc="demo", unit="step", stream=out) as bar:
...     bar.advance(1, "first")
...     bar.advance(1, "second", newton=3)
>>> print(out.getvalue().strip())
demo: [1/2] first
demo: [2/2] second, newton 3
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import Any, TextIO, TypeVar

__all__ = ["Progress"]

log = logging.getLogger("fe2.progress")
T = TypeVar("T")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fields(fields: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_per_s', '/s').replace('_', ' ')} {_fmt(v)}"
                     for k, v in fields.items() if v is not None)


def _seconds(s: float) -> str:
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


class Progress:
    """A progress bar (terminal) or progress lines (anything else).

    Parameters
    ----------
    total : float, optional
        Amount of work, in ``unit`` (load-factor range, number of studies);
        None when unknown (no percentage and no time left).
    desc : str
        Label in front of the bar / at the start of each line.
    unit : str
        Name of one unit of work (``"step"``, ``"study"``, ``"load"``).
    stream : text stream, optional
        Where the bar or the lines go. Default: the bar on ``sys.stderr``
        when it is a terminal, else log records of ``fe2.progress`` (INFO).
    terminal : bool, optional
        Force the bar (True) or the plain lines (False); default: whether
        the output stream is a terminal (``isatty()``).
    enabled : bool
        False makes every method a no-op (library default: quiet).
    integer : bool
        Whether positions are whole numbers (``[3/7]``) or fractions of a
        continuous range such as a load factor (``45%``); default: whether
        ``total`` is an integer.

    Notes
    -----
    Call :meth:`advance` when a unit of work is done (a plain line is
    written then), :meth:`status` for live fields between advances (the bar
    shows them; plain output stays silent), :meth:`write` for a message.
    """

    def __init__(self, total: float | None = None, desc: str = "", unit: str = "it",
                 stream: TextIO | None = None, terminal: bool | None = None,
                 enabled: bool = True, integer: bool | None = None):
        if total is not None and not total >= 0:
            raise ValueError(f"Progress total must be >= 0 or None, got {total!r}")
        self.total = total
        self.desc = desc
        self.unit = unit
        self.enabled = bool(enabled)
        self.integer = (isinstance(total, int) and not isinstance(total, bool)
                        if integer is None else bool(integer))
        self.position = 0
        self.fields: dict[str, Any] = {}
        self._stream = stream
        out = stream if stream is not None else sys.stderr
        if terminal is None:
            isatty = getattr(out, "isatty", None)
            terminal = bool(isatty()) if callable(isatty) else False
        self.terminal = bool(terminal) and self.enabled
        self._out = out
        self._start = time.perf_counter()
        self._bar = None
        self._stack = ExitStack()
        if self.terminal:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            fmt = None if self.integer or total is None else (
                "{desc}: {percentage:3.0f}%|{bar}| {n:.3g}/{total:.3g} "
                "[{elapsed}<{remaining}{postfix}]")
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=out, dynamic_ncols=True,
                             bar_format=fmt, leave=True)
            # log records of fe2 go above the bar instead of through it
            self._stack.enter_context(logging_redirect_tqdm([logging.getLogger("fe2")]))

    # ------------------------------------------------------------------ context
    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the bar (it stays on the screen); idempotent."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._stack.close()

    # ------------------------------------------------------------------ updates
    @property
    def elapsed(self) -> float:
        """Seconds since the progress was created."""
        return time.perf_counter() - self._start

    def remaining(self) -> float | None:
        """Estimated seconds left (linear in the position); None if unknown."""
        if not self.total or self.position <= 0:
            return None
        return self.elapsed * max(self.total - self.position, 0.0) / self.position

    def status(self, **fields: Any) -> None:
        """Set live fields (e.g. ``newton=3``, ``micro_per_s=120.0``) shown by the bar."""
        if not self.enabled:
            return
        self.fields.update(fields)
        if self._bar is not None:
            self._bar.set_postfix_str(_fields(self.fields), refresh=True)

    def advance(self, amount: float = 1, message: str = "", **fields: Any) -> None:
        """Record ``amount`` units of work done, with an optional message and fields.

        On a terminal the bar moves (the message is not shown); otherwise one
        line is written: ``desc: [k/n] message, field value, ...`` (integer
        work) or ``desc: 45% message, ..., elapsed 12 s, about 15 s left``
        (continuous).
        """
        if not self.enabled:
            return
        self.position += amount
        self.fields.update(fields)
        if self._bar is not None:
            self._bar.set_postfix_str(_fields(self.fields), refresh=False)
            self._bar.update(amount)
            return
        if self.integer or self.total is None:
            where = f"[{_fmt(self.position)}" + ("]" if self.total is None
                                                 else f"/{_fmt(self.total)}]")
        else:
            where = f"{100.0 * self.position / self.total:.0f}%" if self.total else ""
        parts = [p for p in (message, _fields(fields)) if p]
        line = f"{self.desc + ': ' if self.desc else ''}{where} {', '.join(parts)}".rstrip()
        if not self.integer and self.total:
            left = self.remaining()
            line += f", elapsed {_seconds(self.elapsed)}" + (
                "" if left is None else f", about {_seconds(left)} left")
        self._emit(line)

    def iterate(self, items: Iterable[T], label: Callable[[T], str] | None = None
                ) -> Iterator[T]:
        """Yield ``items``, advancing by one after each (also when the loop body ``continue``-s).

        ``label(item)`` is the message of the item's line (plain output).
        """
        for item in items:
            yield item
            self.advance(1, "" if label is None else label(item))

    def write(self, message: str) -> None:
        """Write a message line (above the bar on a terminal)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(message, file=self._out)
        else:
            self._emit(message)

    def _emit(self, line: str) -> None:
        if self._stream is not None:
            self._stream.write(line + "\n")
            self._stream.flush()
        else:
            log.info("%s", line)
