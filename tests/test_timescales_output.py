"""fe2.timescales.output: CSV/JSON round trips against the trajectory, plots written."""

import csv
import json

import numpy as np
import pytest

from fe2.timescales import (
    SDEModel,
    Trajectory,
    plot_distribution,
    plot_error,
    plot_trajectories,
    seamless,
    write_table,
    write_trajectory,
)


def test_trajectory_csv_json_round_trip(tmp_path):
    tr = Trajectory(np.linspace(0, 1, 5), np.random.default_rng(0).normal(size=(5, 2)), 40,
                    "projective_euler", {"h": 0.01, "k": 3})
    c, j = write_trajectory(tr, tmp_path / "out", "pfe")
    rows = list(csv.reader(c.open()))
    assert rows[0] == ["t", "U0", "U1"]
    np.testing.assert_allclose(np.array(rows[1:], float), np.c_[tr.t, tr.U], rtol=1e-11)
    d = json.loads(j.read_text())
    assert d["method"] == "projective_euler" and d["micro_steps"] == 40
    assert d["info"] == {"h": 0.01, "k": 3}
    np.testing.assert_array_equal(np.array(d["U"]), tr.U)


def test_ensemble_statistics_csv(tmp_path):
    """A seamless SDE ensemble: mean, std and standard error written per output time."""
    runs = 200
    model = SDEModel(lambda t, y, X: -y / 1e-3, np.sqrt(2 / 1e-3))
    tr = seamless(lambda t, X, y: -X + y[0] ** 2, model, np.ones(runs),
                  np.zeros((1, runs)), (0, 0.2), 0.1, 5, 1e-4, seed=2)
    c, j = write_trajectory(tr, tmp_path, "ens", ensemble=True)
    rows = np.array(list(csv.reader(c.open()))[1:], float)
    np.testing.assert_allclose(rows[:, 1], tr.U.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(rows[:, 2], tr.U.std(axis=1, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(rows[:, 3], rows[:, 2] / np.sqrt(runs), rtol=1e-10)
    assert json.loads(j.read_text())["runs"] == runs


def test_table_and_plots(tmp_path):
    rows = [{"eps": 0.1, "error": 0.09}, {"eps": 0.05, "error": 0.05}]
    c, j = write_table(rows, tmp_path, "errors")
    assert list(csv.DictReader(c.open()))[1] == {"eps": "0.05", "error": "0.05"}
    assert json.loads(j.read_text()) == rows
    tr = Trajectory(np.linspace(0, 1, 4), np.ones((4, 1)), 3, "demo")
    paths = [
        plot_trajectories({"demo": tr}, tmp_path / "a.png", reference=(tr.t, tr.U[:, 0])),
        plot_distribution(np.random.default_rng(1).normal(size=500), tmp_path / "b.png",
                          exact=(np.linspace(-3, 3), np.exp(-np.linspace(-3, 3) ** 2 / 2)
                                 / np.sqrt(2 * np.pi))),
        plot_error([0.1, 0.05], {"seamless": [0.09, 0.05]}, tmp_path / "c.png", slopes=[1]),
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input():
    with pytest.raises(ValueError, match="row 1 has keys"):
        write_table([{"a": 1}, {"b": 2}], "/tmp")
    with pytest.raises(TypeError, match="needs a Trajectory"):
        write_trajectory({"t": []}, "/tmp")
