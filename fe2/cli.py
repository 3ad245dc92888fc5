"""The ``fe2`` command: cases, the demo, the verification report and the case-file schema.

``fe2 run``, ``fe2 demo``, ``fe2 verify`` and ``fe2 schema`` (the JSON schema
of case files, for editors).

Exit codes: 0 success, 1 a run that failed to converge or could not write its
output (``verify``: a failed check), 2 bad input (a clear one-line message on
stderr, no traceback, nothing run), 130 interrupted (Ctrl-C: one line naming the
checkpoint of the converged steps and the command that resumes the run).
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
    r.add_argument("--force", action="store_true",
                   help="replace OUT even when it is a folder fe2 did not write")
    d = sub.add_parser("demo", help="run the FE² demo: fibre-composite plate with a hole")
    d.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    d.add_argument("--force", action="store_true",
                   help="replace OUT even when it is a folder fe2 did not write")
    d.add_argument("--quick", action="store_true",
                   help="coarser and fewer steps (about 30 s; for tests)")
    s = sub.add_parser("schema", help="print the JSON schema of case files (for editors)")
    s.add_argument("--out", default=None, help="write it to this file instead of stdout")
    v = sub.add_parser("verify", help="run the verification studies and write the report")
    v.add_argument("--out", default="out/verify", help="report folder (default out/verify)")
    v.add_argument("--quick", action="store_true", help="quick tier (about 2 min; make test)")
    v.add_argument("--only", nargs="+", metavar="STUDY", help="run only these studies")
    return p


def _verify(args: argparse.Namespace) -> int:
    """``fe2 verify``: the studies of the ``verification`` package (installed with fe2)."""
    from verification.report import run as run_verification

    return run_verification(args.quick, args.out, only=args.only)


def _schema(args: argparse.Namespace) -> int:
    """``fe2 schema``: the case file's JSON schema (``fe2.case.case_schema``)."""
    import json

    from .case import case_schema

    text = json.dumps(case_schema(), indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.out).write_text(text)
    except OSError as err:
        print(f"fe2: error: --out {args.out}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"fe2: wrote {args.out}")
    return 0


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _resume_hint(args: argparse.Namespace) -> str | None:
    """``the converged steps are saved in CKPT; resume with: fe2 run ... --resume`` or None."""
    if args.command != "run":
        return None
    from .case import find_checkpoint

    ckpt = find_checkpoint(Path(args.out))
    if ckpt is None:
        return None
    cmd = f"fe2 run {_quote(args.case)} --out {_quote(args.out)} --resume"
    return f"the converged steps are saved in {ckpt}; resume with: {cmd}"


def _interrupted(args: argparse.Namespace) -> str:
    """The one line printed after Ctrl-C: where the converged steps are and how to resume."""
    hint = _resume_hint(args)
    if hint is not None:
        return f"fe2: interrupted; {hint}"
    if args.command == "run":
        if _case_kind(args.case) == "shock_tube":
            return ("fe2: interrupted; shock-tube runs keep no checkpoint: run the case "
                    "again to restart it")
        return "fe2: interrupted before the first converged step; nothing to resume"
    return "fe2: interrupted"


def _case_kind(path: str) -> str | None:
    """The ``[problem] kind`` of the case file at ``path``, or None if it cannot be read."""
    from .case import load_case

    try:
        return load_case(path).problem.kind
    except Exception:  # noqa: BLE001 - only a hint for the interrupt message
        return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fe2`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    if args.command == "schema":
        return _schema(args)
    from .case import CaseError, OutputWriteError, check_output, load_case, run_case
    from .macro import ConvergenceError

    bad_input = (CaseError, FileNotFoundError, KeyError, ValueError, ImportError)
    try:
        if args.command == "verify":
            out = Path(args.out)
            if out.exists() and not out.is_dir():
                raise CaseError(f"--out {args.out}: exists and is not a folder")
            return _verify(args)
        if args.command == "run":
            summary = run_case(load_case(args.case), args.out, resume=args.resume,
                               force=args.force)
        elif args.command == "demo":
            from .demo import run_demo

            check_output(args.out, force=args.force)
            summary = run_demo(args.out, quick=args.quick)
        else:  # pragma: no cover - argparse enforces the choices
            return 2
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130
    except ConvergenceError as err:
        print(f"fe2: error: {err}", file=sys.stderr)
        return 1
    except bad_input as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"fe2: error: {msg}", file=sys.stderr)
        return 2
    except (OutputWriteError, OSError) as err:  # e.g. the disk filled up during the run
        hint = _resume_hint(args)
        print(f"fe2: error: {err}" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 1
    out = Path(args.out)
    print(f"fe2: wrote {', '.join(str(out / f) for f in summary['outputs'])}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
