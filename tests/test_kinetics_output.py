"""fe2.kinetics.output: CSV/JSON round trips and the plots."""

import csv
import json

import numpy as np
import pytest
from scipy import stats

from fe2.kinetics import (
    Reaction,
    ReactionNetwork,
    plot_error,
    plot_histogram,
    plot_paths,
    ssa,
    write_result,
)


@pytest.fixture(scope="module")
def result():
    net = ReactionNetwork(["A", "B"], [Reaction(1.0, {"A": 1}, {"B": 1}),
                                       Reaction(2.0, {"B": 1}, {"A": 1})])
    return ssa(net, {"A": 12}, 1.0, 30, seed=3, record=6)


def test_csv_and_json_round_trip(result, tmp_path):
    files = write_result(result, tmp_path, name="iso")
    rows = list(csv.reader(files["final"].open()))
    assert rows[0] == ["run", "A", "B"]
    assert np.array_equal(np.array(rows[1:], dtype=np.int64)[:, 1:], result.final)
    prow = list(csv.reader(files["paths"].open()))
    assert prow[0] == ["run", "t", "A", "B"]
    data = np.array(prow[1:], dtype=float)
    assert data.shape == (30 * 6, 4)
    assert np.array_equal(data[:, 2:].reshape(30, 6, 2), result.paths)
    assert np.array_equal(data[:6, 1], result.times)
    summary = json.loads(files["summary"].read_text())
    assert summary["runs"] == 30 and summary["method"] == "direct"
    assert summary["mean"]["A"] == pytest.approx(result.final[:, 0].mean())
    assert summary["events"] == int(result.events.sum())


def test_plots_write_png(result, tmp_path):
    pmf = stats.binom.pmf(np.arange(13), 12, 2 / 3 + np.exp(-3) / 3)
    for p in (plot_histogram(result, "A", tmp_path / "h.png", exact_pmf=pmf,
                             others=[("again", result)]),
              plot_paths(result, "A", tmp_path / "p.png"),
              plot_error([1, 10, 100], {"rms": [0.5, 0.1, 0.03]}, tmp_path / "e.png",
                         "T_f/eps", bound=[1.2, 0.4, 0.1])):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    no_paths = ssa(ReactionNetwork(["A"], [Reaction(1.0, {"A": 1}, {})]), {"A": 3}, 1.0, 2,
                   seed=0)
    with pytest.raises(ValueError, match="no recorded paths"):
        plot_paths(no_paths, "A", tmp_path / "x.png")
