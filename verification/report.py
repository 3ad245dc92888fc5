"""Run the verification studies and write the report (``index.html``, ``report.md``, PNGs).

``run(quick, out)`` is what ``fe2 verify [--quick] --out DIR`` calls: it runs the
registered studies with progress on stderr (a bar on a terminal, a start and
an end line per study otherwise), renders every
plot with matplotlib, writes ``DIR/index.html``, ``DIR/report.md`` and
``DIR/results.json`` and returns the exit code (0: every study ran and every check
passed, 1: a check failed, a study raised or a study was skipped: a study that could
not run is reported as SKIPPED, never as passed).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from fe2.io import Progress
from verification import STUDIES, StudySpec, get_study, run_study
from verification.core import StudyResult

__all__ = ["run", "run_studies", "write_report"]

_FILES = ("index.html", "report.md", "results.json")


def run_studies(
    specs: Sequence[StudySpec], quick: bool, stream: TextIO | None = None
) -> list[StudyResult]:
    """Run studies in order, showing progress on ``stream`` (None: quiet).

    On a terminal a bar (study i of n, current study, time left); otherwise one
    line when a study starts and one when it ends:
    ``fe2 verify: [i/n] name ... status (checks, seconds)``.
    """
    out = []
    t0 = time.perf_counter()
    n = len(specs)
    with Progress(total=n, desc="fe2 verify", unit="study", stream=stream,
                  enabled=stream is not None) as bar:
        for i, spec in enumerate(specs, 1):
            if bar.terminal:
                bar.status(study=spec.name)
            else:
                bar.write(f"fe2 verify: [{i}/{n}] {spec.name}: {spec.title} ...")
            res = run_study(spec, quick)
            n_ok = sum(c.passed for c in res.checks)
            extra = f", skipped: {res.skipped}" if res.skipped else ""
            done = (f"{spec.name}: {res.status.upper()} ({n_ok}/{len(res.checks)} checks, "
                    f"{res.seconds:.1f} s{extra}; total {time.perf_counter() - t0:.0f} s)")
            if bar.terminal:
                bar.write(f"fe2 verify: [{i}/{n}] {done}")
            bar.advance(1, done)
            for c in res.failures():
                bar.write(f"fe2 verify:     failed: {c.name}: expected {c.expected}, observed "
                          f"{c.observed}")
            if res.error:
                bar.write(f"fe2 verify:     error: {res.error.strip().splitlines()[-1]}")
            out.append(res)
    return out


def _git_commit() -> str:
    """Short commit of the code the report was made from, ``+ uncommitted changes`` if any
    tracked file under fe2/ or verification/ differs from it."""
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, cwd=here, timeout=10)
        commit = r.stdout.strip() or "unknown"
        d = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                            "../fe2", ".", ":(exclude)report"], capture_output=True, text=True,
                           cwd=here, timeout=10)
        return commit + (" + uncommitted changes" if d.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _meta(quick: bool, seconds: float) -> dict:
    import fe2

    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "tier": "quick" if quick else "full",
        "fe2": fe2.__version__,
        "commit": _git_commit(),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "seconds": round(seconds, 1),
    }


def _render_plots(results: list[StudyResult], out: Path) -> None:
    for res in results:
        res.plot_files = []
        for plot in res.plots:
            name = f"{res.name}_{plot.name}.png"
            try:
                plot.render(out / name)
                res.plot_files.append(name)
            except Exception as err:  # noqa: BLE001 - a broken plot must not hide the checks
                res.error = (res.error or "") + f"plot {name} failed: {err!r}\n"


def _overall(results: list[StudyResult]) -> tuple[bool, str]:
    """(every study passed, ``"k of n studies pass"`` with the failed / error / skipped counts)."""
    ok = all(r.passed for r in results)
    counts = {s: sum(r.status == s for r in results) for s in ("fail", "error", "skipped")}
    extra = ", ".join(f"{n} {'failed' if s == 'fail' else s}" for s, n in counts.items() if n)
    text = f"{sum(r.passed for r in results)} of {len(results)} studies pass"
    return ok, text + (f"; {extra}" if extra else "")


def _md_table(columns: list[str], rows: list[list[str]]) -> str:
    def esc(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(c) for c in columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _markdown(results: list[StudyResult], meta: dict) -> str:
    ok, summary = _overall(results)
    parts = [
        "# fe2 verification report",
        "",
        f"{meta['date']} · tier **{meta['tier']}** · fe2 {meta['fe2']} (commit "
        f"{meta['commit']}) · Python {meta['python']} · {meta['machine']} · "
        f"{meta['seconds']} s",
        "",
        f"**Overall: {'PASS' if ok else 'FAIL'}** ({summary})",
        "",
        _md_table(["study", "status", "checks passed", "time (s)"], [
            [f"[{r.title}](#{r.name})", r.status.upper(),
             f"{sum(c.passed for c in r.checks)}/{len(r.checks)}", f"{r.seconds:.1f}"]
            for r in results
        ]),
        "",
    ]
    for r in results:
        parts += [f'<a id="{r.name}"></a>', "", f"## {r.title} — {r.status.upper()}", "",
                  f"`verification/{r.name}.py` · {r.seconds:.1f} s", ""]
        if r.description:
            parts += [r.description, ""]
        if r.skipped:
            parts += [f"**SKIPPED** (not run, counts as not passed): {r.skipped}", ""]
        if r.checks:
            parts += [_md_table(["check", "expected", "observed", "result"], [
                [c.name, c.expected, c.observed, "pass" if c.passed else "**FAIL**"]
                for c in r.checks
            ]), ""]
        for cap, t in r.tables:
            parts += [f"*{cap}*", "", _md_table(t.columns, t.text_rows()), ""]
        for f in r.plot_files:
            parts += [f"![{f}]({f})", ""]
        if r.error:
            parts += ["```", r.error.rstrip(), "```", ""]
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.4}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.88em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f2f2}
.pass{color:#176b2c;font-weight:600}.fail,.error{color:#b00020;font-weight:700}
.skipped{color:#a05a00;font-weight:700}
img{max-width:48%;margin:4px;border:1px solid #ddd}
pre{background:#f7f7f7;padding:0.6em;overflow-x:auto;font-size:0.8em}
.meta{color:#555;font-size:0.9em}
"""


def _html_table(columns: list[str], rows: list[list[str]], status_col: int | None = None) -> str:
    e = html.escape
    out = ["<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>"]
    for row in rows:
        cells = []
        for j, v in enumerate(row):
            cls = f' class="{v}"' if j == status_col else ""
            cells.append(f"<td{cls}>{e(str(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _html(results: list[StudyResult], meta: dict) -> str:
    e = html.escape
    ok, summary = _overall(results)
    body = [
        "<h1>fe2 verification report</h1>",
        f'<p class="meta">{e(meta["date"])} · tier <b>{e(meta["tier"])}</b> · fe2 '
        f'{e(meta["fe2"])} (commit {e(meta["commit"])}) · Python {e(meta["python"])} · '
        f'{e(meta["machine"])} · {meta["seconds"]} s</p>',
        f'<p>Overall: <span class="{"pass" if ok else "fail"}">{"PASS" if ok else "FAIL"}'
        f'</span> ({e(summary)})</p>',
        "<table><tr><th>study</th><th>status</th><th>checks passed</th><th>time (s)</th></tr>",
    ]
    for r in results:
        body.append(
            f'<tr><td><a href="#{r.name}">{e(r.title)}</a></td><td class="{r.status}">'
            f"{r.status.upper()}</td><td>{sum(c.passed for c in r.checks)}/{len(r.checks)}</td>"
            f"<td>{r.seconds:.1f}</td></tr>"
        )
    body.append("</table>")
    for r in results:
        body += [f'<h2 id="{r.name}">{e(r.title)} — <span class="{r.status}">'
                 f"{r.status.upper()}</span></h2>",
                 f'<p class="meta"><code>verification/{r.name}.py</code> · {r.seconds:.1f} s</p>']
        if r.description:
            body.append(f"<p>{e(r.description)}</p>")
        if r.skipped:
            body.append(f'<p><span class="skipped">SKIPPED</span> (not run, counts as not '
                        f"passed): {e(r.skipped)}</p>")
        if r.checks:
            body.append(_html_table(
                ["check", "expected", "observed", "result"],
                [[c.name, c.expected, c.observed, "pass" if c.passed else "fail"]
                 for c in r.checks],
                status_col=3,
            ))
        for cap, t in r.tables:
            body.append(f"<p><i>{e(cap)}</i></p>")
            body.append(_html_table(t.columns, t.text_rows()))
        if r.plot_files:
            body.append("<div>" + "".join(
                f'<a href="{e(f)}"><img src="{e(f)}" alt="{e(f)}"></a>' for f in r.plot_files
            ) + "</div>")
        if r.error:
            body.append(f"<pre>{e(r.error)}</pre>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>fe2 verification"
            f"</title><style>{_CSS}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")


def write_report(
    results: list[StudyResult], out: str | os.PathLike, quick: bool, seconds: float = 0.0
) -> Path:
    """Render plots and write ``index.html``, ``report.md`` and ``results.json`` into ``out``.

    Old PNGs in ``out`` are removed first. Returns the path of ``index.html``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    _render_plots(results, out)
    meta = _meta(quick, seconds)
    (out / "report.md").write_text(_markdown(results, meta), encoding="utf-8")
    (out / "index.html").write_text(_html(results, meta), encoding="utf-8")
    summary = {**meta, "passed": all(r.passed for r in results),
               "studies": [r.to_dict() for r in results]}
    (out / "results.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return out / "index.html"


def run(
    quick: bool,
    out: str | os.PathLike,
    only: Sequence[str] | None = None,
    progress: bool = True,
) -> int:
    """Run the studies (all, or those named in ``only``), write the report, return the exit code.

    Progress lines go to ``sys.stderr`` unless ``progress`` is False. Raises
    ValueError for an unknown study name (before anything runs).
    """
    stream = sys.stderr if progress else None
    specs = [get_study(n) for n in only] if only else list(STUDIES)
    t0 = time.perf_counter()
    results = run_studies(specs, quick, stream)
    index = write_report(results, out, quick, time.perf_counter() - t0)
    ok, summary = _overall(results)
    if stream is not None:
        print(f"fe2 verify: {'PASS' if ok else 'FAIL'} ({summary}); report: {index}",
              file=stream, flush=True)
    return 0 if ok else 1
