"""The ``fe2`` command: run cases, the demo, and the verification report (``fe2 verify``).

Exit codes: 0 success, 1 a run that failed to converge (``verify``: a failed
check), 2 bad input (a clear one-line message on stderr, no traceback).
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
    r.add_argument("--resume", action="store_true",
                   help="continue a killed or failed run from its last checkpoint "
                        "(OUT.partial-*, OUT.failed or OUT); a fresh run when there is none")
    d = sub.add_parser("demo", help="run the FE² demo: fibre-composite plate with a hole")
    d.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    d.add_argument("--quick", action="store_true",
                   help="coarser and fewer steps (about 30 s; for tests)")
    v = sub.add_parser("verify", help="run the verification studies and write the report")
    v.add_argument("--out", default="out/verify", help="report folder (default out/verify)")
    v.add_argument("--quick", action="store_true", help="quick tier (about 2 min; make test)")
    v.add_argument("--only", nargs="+", metavar="STUDY", help="run only these studies")
    return p


def _verify(args: argparse.Namespace) -> int:
    """``fe2 verify``: the studies live in ``verification/`` next to the package."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    from verification.report import run as run_verification

    return run_verification(args.quick, args.out, only=args.only)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fe2`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    from .case import CaseError, load_case, run_case
    from .macro import ConvergenceError

    bad_input = (CaseError, FileNotFoundError, KeyError, ValueError, ImportError)
    try:
        if args.command == "verify":
            return _verify(args)
        if args.command == "run":
            summary = run_case(load_case(args.case), args.out, resume=args.resume)
        elif args.command == "demo":
            from .demo import run_demo

            summary = run_demo(args.out, quick=args.quick)
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
