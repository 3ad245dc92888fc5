"""The documentation site builds without a warning (``make docs``), with an API page for
every module of the package and a gallery page for every example script."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import fe2

ROOT = Path(__file__).resolve().parents[1]


def test_sphinx_site_builds_with_api_and_gallery(tmp_path):
    docs = ROOT / "docs"
    for generated in ("reference/generated", "auto_examples", "_gallery_src"):  # gitignored
        shutil.rmtree(docs / generated, ignore_errors=True)
    out = tmp_path / "html"
    r = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going",
                        "-q", "-d", str(tmp_path / "doctrees"), str(docs), str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    modules = [m.name for m in pkgutil.walk_packages(fe2.__path__, prefix="fe2.")]
    pages = {p.stem for p in (out / "reference" / "generated").glob("fe2*.html")}
    missing = sorted(set(modules) - pages)
    assert not missing, f"no API page for {missing}"
    examples = sorted(p.stem for p in (ROOT / "examples").glob("[0-9]*.py"))
    assert examples and all((out / "auto_examples" / f"{e}.html").exists() for e in examples)
