"""The ``fe2`` command: run cases, the demo, and (later) the verification report.

Exit codes: 0 success, 1 a run that failed to converge, 2 bad input (a clear
one-line message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

__all__ = ["main"]

DEMO_CASE = Path(__file__).resolve().parents[1] / "examples" / "cases" / "plate_hole_j2.toml"


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("fe2: %(message)s"))
    root = logging.getLogger("fe2")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="fe2", description="Concurrent multiscale simulation.")
    p.add_argument("--version", action="version", version=f"fe2 {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a case described in a TOML file")
    r.add_argument("case", help="CASE.toml")
    r.add_argument("--out", required=True, help="output folder (replaced only on success)")
    d = sub.add_parser("demo", help="run the demonstration case")
    d.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fe2`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    from .case import CaseError, load_case, run_case
    from .macro import ConvergenceError

    bad_input = (CaseError, FileNotFoundError, KeyError, ValueError, ImportError)
    try:
        if args.command == "run":
            summary = run_case(load_case(args.case), args.out)
        elif args.command == "demo":
            summary = run_case(load_case(DEMO_CASE), args.out)
        else:  # pragma: no cover - argparse enforces the choices
            return 2
    except ConvergenceError as err:
        print(f"fe2: error: {err}", file=sys.stderr)
        return 1
    except bad_input as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"fe2: error: {msg}", file=sys.stderr)
        return 2
    out = Path(args.out)
    print(f"fe2: wrote {', '.join(str(out / f) for f in summary['outputs'])}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
