"""The verification suite: every study's quick tier passes, and `fe2 verify` reports it.

The quick tier runs once, through the command line (`fe2 verify --quick`), in a
subprocess; the per-study tests read its `results.json`. The studies themselves
compare against closed forms, rates and bounds (see verification/*.py); here we
also check that a failing expectation makes the command fail.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import verification

ROOT = Path(__file__).resolve().parents[1]
import verification.report  # noqa: E402
from fe2.cli import main  # noqa: E402
from fe2.verify import apparent_ordering, hill_mandel, newton_orders  # noqa: E402
from verification import STUDIES, Check, StudyResult, StudySpec  # noqa: E402


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "fe2.cli", "verify", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    results = None
    if (out / "results.json").exists():
        results = json.loads((out / "results.json").read_text())
    return proc, out, results


def test_cli_quick_report(quick_report):
    proc, out, results = quick_report
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (out / "index.html").exists() and (out / "report.md").exists()
    html = (out / "index.html").read_text()
    assert "Overall: <span class=\"pass\">PASS" in html
    assert len(list(out.glob("*.png"))) >= 10
    for res in results["studies"]:
        for png in res["plots"]:
            assert (out / png).stat().st_size > 1000
    # progress: one start and one end line per study on stderr
    assert proc.stderr.count("fe2 verify: [") == 2 * len(STUDIES)
    assert results["tier"] == "quick" and results["passed"] is True


@pytest.mark.parametrize("name", [s.name for s in STUDIES])
def test_study_quick_tier_passes(quick_report, name):
    _, _, results = quick_report
    assert results is not None, "fe2 verify --quick wrote no results.json"
    res = {r["name"]: r for r in results["studies"]}[name]
    failed = [f"{c['name']}: expected {c['expected']}, observed {c['observed']}"
              for c in res["checks"] if not c["passed"]]
    assert res["error"] is None, res["error"]
    assert res["skipped"] is None, f"study did not run: {res['skipped']}"
    assert res["status"] == "pass", failed
    assert res["checks"], "a study that ran must state at least one check"


def _fake_spec(name, func):
    spec = StudySpec(name, "nonexistent.module", f"injected {name}")
    object.__setattr__(spec, "function", lambda: func)
    return spec


def _failing(quick):
    res = StudyResult("failing", "injected failing study", "2 + 2 = 5 is expected to fail")
    res.check(Check.near("arithmetic", 4.0, 5.0, 0.1))
    res.check(Check.at_most("a passing check next to it", 1e-12, 1e-10))
    return res


def _raising(quick):
    raise RuntimeError("boom")


@pytest.mark.parametrize("func", [_failing, _raising])
def test_failing_expectation_gives_nonzero_exit(tmp_path, monkeypatch, capsys, func):
    specs = [_fake_spec("injected", func)]
    monkeypatch.setattr(verification, "STUDIES", specs)
    monkeypatch.setattr(verification.report, "STUDIES", specs)
    out = tmp_path / "report"
    assert main(["verify", "--out", str(out), "--only", "injected"]) == 1
    html = (out / "index.html").read_text()
    assert "FAIL" in html
    md = (out / "report.md").read_text()
    if func is _failing:
        assert "**FAIL**" in md and "5 ± 0.1" in md
    else:
        assert "RuntimeError: boom" in md
    assert "FAIL" in capsys.readouterr().err
    # without --only, the (patched) registry runs in full
    assert main(["verify", "--out", str(out)]) == 1


def _skipping(quick):
    res = StudyResult("injected", "injected skipped study", "needs a module that is absent")
    res.skipped = "optional module not installed"
    return res


def _import_failing(quick):
    import fe2.no_such_module  # noqa: F401  # raises ModuleNotFoundError (an ImportError)


@pytest.mark.parametrize("func", [_skipping, _import_failing])
def test_skipped_study_is_not_a_pass(tmp_path, monkeypatch, capsys, func):
    """A study that could not run is reported SKIPPED and makes `fe2 verify` exit non-zero."""
    passing = StudyResult("fine", "injected passing study", "1 = 1")
    passing.check(Check.at_most("round-off", 0.0, 1e-12))
    specs = [_fake_spec("fine", lambda quick: passing), _fake_spec("injected", func)]
    monkeypatch.setattr(verification, "STUDIES", specs)
    monkeypatch.setattr(verification.report, "STUDIES", specs)
    out = tmp_path / "report"
    assert main(["verify", "--out", str(out)]) == 1
    html = (out / "index.html").read_text()
    md = (out / "report.md").read_text()
    results = json.loads((out / "results.json").read_text())
    assert 'class="skipped">SKIPPED' in html and "Overall: <span class=\"fail\">FAIL" in html
    assert "| SKIPPED |" in md and "**Overall: FAIL**" in md and "1 skipped" in md
    res = {r["name"]: r for r in results["studies"]}
    assert res["injected"]["status"] == "skipped" and res["injected"]["passed"] is False
    assert res["fine"]["passed"] is True and results["passed"] is False
    reason = "optional module not installed" if func is _skipping else "fe2.no_such_module"
    assert reason in res["injected"]["skipped"] and reason in md
    err = capsys.readouterr().err
    assert "SKIPPED" in err and "FAIL" in err


def test_unknown_study_is_bad_input(tmp_path, capsys):
    assert main(["verify", "--out", str(tmp_path), "--only", "no_such_study"]) == 2
    err = capsys.readouterr().err
    assert "no_such_study" in err and "mms_poisson" in err


# ---------------------------------------------------------------- fe2.verify helpers


def test_newton_orders_quadratic_and_linear():
    quad = [1.0, 1e-1, 1e-2 * 0.5, 1.25e-5, 1e-14]
    q = newton_orders(quad)
    assert q.size == 2 and abs(q[-1] - 2.0) < 0.2
    lin = 0.5 ** np.arange(12)
    np.testing.assert_allclose(newton_orders(lin), 1.0)
    assert newton_orders([1.0, 1e-20]).size == 0
    with pytest.raises(ValueError, match="residuals"):
        newton_orders([1.0, np.nan])


def test_apparent_ordering_detects_a_violation():
    a = np.diag([3.0, 2.0])
    b = np.diag([2.0, 2.5])  # larger than a in the second direction
    o = apparent_ordering([a, b])
    assert not o.holds and o.gaps[0] == pytest.approx(-0.5 / 3.0)
    assert apparent_ordering([a, np.diag([1.0, 1.0]), 0.5 * np.eye(2)]).holds
    with pytest.raises(ValueError, match="shape"):
        apparent_ordering([a, np.eye(3)])


def test_hill_mandel_laminate_closed_form():
    from fe2.homogenization import RVE, cells
    from fe2.materials import LinearConductivity

    rve = RVE(cells.laminate([0.4, 0.6]), [LinearConductivity(1.0), LinearConductivity(4.0)],
              bc="tubc")
    hm = hill_mandel(rve, np.array([1.0, 0.5]))
    assert hm.relative < 1e-10 and hm.input_error < 1e-12 and hm.flux_error < 1e-12
