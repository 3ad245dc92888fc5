"""Time in the oracle contract: ``evaluate(..., dt=...)`` reaches time-dependent oracles.

Reference: a relaxing scalar history ``s' = -(s - g_xy)``, integrated exactly
over ``dt`` (closed form ``g + (s0 - g) exp(-dt)``), and static oracles whose
``evaluate`` has no ``dt`` at all (they must keep working unchanged).
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fe2.oracle import OracleBase, QuadratureState, Response, evaluate


class Relaxing(OracleBase):
    """Toy micro model with memory: stress relaxes towards the shear rate."""

    measure = "velocity_gradient"
    dim = 2

    def initial_state(self, pts):
        return {"s": np.zeros(pts)}

    def evaluate(self, g, x=None, state=None, dt=None):
        self.check_input(g)
        s0 = state["s"]
        s = g[0, 1] + (s0 - g[0, 1]) * np.exp(-(0.0 if dt is None else dt))
        flux = np.zeros_like(g)
        flux[0, 1] = flux[1, 0] = s
        return Response(flux=flux, state={"s": s})


class Static(OracleBase):
    """Newtonian stress with an ``evaluate`` that has no ``dt`` argument."""

    measure = "velocity_gradient"
    dim = 2

    def evaluate(self, g, x=None, state=None):
        return Response(flux=g + np.swapaxes(g, 0, 1))


def test_dt_reaches_the_oracle_serial_and_chunked():
    g = np.zeros((2, 2, 3, 4))
    g[0, 1] = np.linspace(0.5, 2.0, 12).reshape(3, 4)
    qs = QuadratureState.for_oracle(Relaxing(), (3, 4))
    exact = np.zeros((3, 4))
    with ThreadPoolExecutor(2) as pool:
        for _step in range(3):
            r1 = evaluate(Relaxing(), g, state=qs.committed, dt=0.3)
            r2 = evaluate(Relaxing(), g, state=qs.committed, dt=0.3, executor=pool, chunk_size=5)
            qs.set_trial(r1.state)
            qs.commit()
            exact = g[0, 1] + (exact - g[0, 1]) * np.exp(-0.3)
            np.testing.assert_allclose(r1.flux[0, 1], exact, rtol=1e-14)
            np.testing.assert_allclose(r2.flux, r1.flux, rtol=0, atol=0)
    # after three steps the history is 1 - exp(-0.9) of the way to the target
    np.testing.assert_allclose(qs.committed["s"], g[0, 1] * (1 - np.exp(-0.9)), rtol=1e-14)


def test_static_oracles_ignore_dt_not_given():
    g = np.arange(8.0).reshape(2, 2, 2)
    r = evaluate(Static(), g)
    np.testing.assert_array_equal(r.flux[0, 1], g[0, 1] + g[1, 0])
    with ThreadPoolExecutor(2) as pool:
        r = evaluate(Static(), g, executor=pool, chunk_size=1)
    np.testing.assert_array_equal(r.flux[1, 1], 2 * g[1, 1])


@pytest.mark.parametrize("dt", [-0.1, float("nan")])
def test_bad_dt_is_one_line_error(dt):
    with pytest.raises(ValueError, match="dt must be a finite time increment"):
        evaluate(Relaxing(), np.zeros((2, 2, 1)), state={"s": np.zeros(1)}, dt=dt)
