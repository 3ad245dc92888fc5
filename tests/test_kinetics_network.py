"""fe2.kinetics networks: construction errors, SSA propensity convention, TOML files."""

import numpy as np
import pytest
from scipy.special import comb

from fe2.kinetics import MODELS, NetworkError, Reaction, ReactionNetwork, model_path


def test_propensities_follow_the_ssa_combinatorial_convention():
    net = ReactionNetwork(
        ["A", "B", "C"],
        [Reaction(2.0, {"A": 1}, {"B": 1}),            # c x_A
         Reaction(3.0, {"A": 1, "B": 1}, {"C": 1}),    # c x_A x_B
         Reaction(0.5, {"A": 2}, {"C": 1}),            # c x_A (x_A - 1) / 2
         Reaction(0.1, {"B": 3}, {}),                  # c binom(x_B, 3)
         Reaction(7.0, {}, {"A": 1})],                 # c (inflow)
    )
    x = np.array([5, 4, 0])
    expected = [2 * 5, 3 * 5 * 4, 0.5 * 5 * 4 / 2, 0.1 * 4 * 3 * 2 / 6, 7.0]
    assert np.allclose(net.propensities(x), expected)
    # the numba kernel uses the same convention
    from fe2.kinetics.kernels import pack, propensity
    rates, ridx, rord, *_ = pack(net)
    assert np.allclose([propensity(i, x, rates, ridx, rord) for i in range(5)], expected)
    assert propensity(2, np.array([1, 0, 0]), rates, ridx, rord) == 0.0
    big = np.array([40, 10, 0])
    assert propensity(3, big, rates, ridx, rord) == pytest.approx(0.1 * comb(10, 3))
    assert net.stoichiometry.tolist() == [[-1, 1, 0], [-1, -1, 1], [-2, 0, 1],
                                          [0, -3, 0], [1, 0, 0]]


@pytest.mark.parametrize("make, match", [
    (lambda: ReactionNetwork(["A"], [Reaction(1.0, {"B": 1}, {})]), "unknown species 'B'"),
    (lambda: Reaction(1.0, {"A": -1}, {}), "non-negative integer"),
    (lambda: Reaction(-1.0, {"A": 1}, {}), "rate"),
    (lambda: Reaction(float("nan"), {"A": 1}, {}), "rate"),
    (lambda: Reaction(1.0, {"A": 1.5}, {}), "non-negative integer"),
    (lambda: ReactionNetwork(["A", "A"], [Reaction(1.0, {"A": 1}, {})]), "duplicate"),
    (lambda: ReactionNetwork(["A"], []), "at least one reaction"),
    (lambda: ReactionNetwork(["A"], [Reaction(1.0, {}, {})]), "reactants or products"),
    (lambda: ReactionNetwork(["A"], [Reaction(1.0, {"A": 1}, {})]).x0({"Z": 3}),
     "unknown species 'Z'"),
    (lambda: ReactionNetwork(["A"], [Reaction(1.0, {"A": 1}, {})]).x0([-1]), "x0"),
    (lambda: ReactionNetwork(["A"], [Reaction(1.0, {"A": 1}, {})]).x0([1, 2]), "expected 1"),
])
def test_bad_networks_give_one_line_errors(make, match):
    with pytest.raises(NetworkError, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_heat_shock_model_ships_with_fe2():
    assert "heat_shock" in MODELS
    net = ReactionNetwork.model("heat_shock")
    assert net.n_species == 14 and net.n_reactions == 17
    assert net.fast.sum() == 3 and list(np.flatnonzero(net.fast)) == [0, 1, 2]
    assert net.initial["Protein"] == 5_000_000 and net.initial["s32"] == 15
    # the header of the file: c * x at the initial state ~ 1e6 for the first reaction
    a = net.propensities(net.x0())
    assert a[0] == pytest.approx(0.2 * 5e6)
    assert model_path("heat_shock").name == "heat_shock.toml"


@pytest.mark.parametrize("text, match", [
    ('[species]\nA = 1\n[[reaction]]\nrate = "x"\nreactants = {A = 1}\n', r"reaction\[0\]\.rate"),
    ('[species]\nA = 1\n[[reaction]]\nrate = 1\nreactants = {B = 1}\n',
     r"reaction\[0\]\.reactants: unknown species 'B'"),
    ('[species]\nA = 1\n[[reaction]]\nrate = 1\nreactants = {A = -2}\n',
     r"reaction\[0\]\.reactants\['A'\]"),
    ('[species]\nA = -1\n[[reaction]]\nrate = 1\nreactants = {A = 1}\n', r"species\.A"),
    ('[species]\nA = 1\n[[reaction]]\nrate = 1\nreactant = {A = 1}\n', "unknown field 'reactant'"),
    ('[species]\nA = 1\n[[reaction]]\nreactants = {A = 1}\n', r"reaction\[0\]\.rate: missing"),
    ('[species]\nA = 1\n[[reaction]]\nrate = 1\nreactants = {A = 1}\nfast = 2\n',
     r"reaction\[0\]\.fast"),
    ('[species]\nA = 1\n', r"\[\[reaction\]\]"),
    ('[species\nA = 1\n', "not valid TOML"),
])
def test_bad_toml_names_file_and_field(tmp_path, text, match):
    p = tmp_path / "m.toml"
    p.write_text(text)
    with pytest.raises(NetworkError, match=match) as info:
        ReactionNetwork.from_toml(p)
    msg = str(info.value)
    assert "\n" not in msg and "m.toml" in msg


def test_missing_model_file(tmp_path):
    with pytest.raises(NetworkError, match="no such model file"):
        ReactionNetwork.from_toml(tmp_path / "nope.toml")


def test_package_docstring_example_runs():
    import doctest

    import fe2.kinetics

    assert doctest.testmod(fe2.kinetics).failed == 0
