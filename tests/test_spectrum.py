"""The generator's first eigenpairs (docs/model.md §10, fpsolve.fem.spectrum).

OU process: ``dθ = −Aθ dt + B dW`` has the eigenvalues ``n1 μ1 + n2 μ2``
(μ the eigenvalues of A) whatever the noise; the loss 0.5 (θ1² + 2 θ2²)
with ``sgd`` noise is one (A = H = diag(1, 2), D = (T/2) H² constant), with
μ2 = 2 μ1, so the eigenvalue 2 is degenerate (n = (2, 0) and (0, 1)) and
must come back twice.  At T = 0.04 the density is 0.1 and 0.14 wide on a
disk of radius 2: the wall moves the eigenvalues by far less than 1e-4.

Default double well below T_c (T = 0.01): λ1 is the slow relaxation of θ1
(≈ 5.08e-3, the adiabatic estimate ε − T a0 |a2| / 2 = 5e-3), the same on a
finer mesh; the mean θ1 of a transient started off the axis decays at the
rate Re(λ1 − λ0).
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fpsolve.fem import mesh as fmesh
from fpsolve.fem import spectrum
from fpsolve.fem.model_mesh import model_mesh_sizes
from fpsolve.fem.operator import Operator
from fpsolve.model.expression import Model
from fpsolve.tools.errors import InputError

OU_LOSS = "0.5*(theta1**2 + 2*theta2**2)"
#: n1 μ1 + n2 μ2 with μ = (1, 2), in order: the first eight
OU_EXACT = [0, 1, 2, 2, 3, 3, 4, 4]


def _ou_operator(comm=MPI.COMM_SELF):
    model = Model.from_expression(OU_LOSS, noise="sgd", T=0.04)
    msh, _ = fmesh.create_disk(fmesh.uniform_sizes(2.0, (0.0, 0.0), 0.06), comm)
    return Operator.of_model(msh, model)


def test_ou_eigenvalues_are_sums_of_the_drift_rates():
    spec = spectrum.check(_ou_operator(), 8)
    values = spec.values()
    assert len(values) == 8
    np.testing.assert_allclose(values.real, OU_EXACT, atol=1e-4)
    np.testing.assert_allclose(values.imag, 0.0, atol=1e-4)
    # the degenerate value 2 (2 μ1 = μ2) is two eigenvalues, not one
    assert np.sum(np.abs(values - 2.0) < 1e-4) == 2
    assert all(e.trusted for e in spec.eigenvalues), [(e.value, e.reason) for e in spec.eigenvalues]
    assert all(e.residual < spectrum.RESIDUAL_TOL for e in spec.eigenvalues)
    rec = spec.record()
    assert rec["eigenvalues"][0]["relaxation_time"] is None
    assert rec["eigenvalues"][1]["relaxation_time"] == pytest.approx(1.0, rel=1e-4)
    assert rec["fine_dofs"] > 3 * rec["dofs"]


@pytest.mark.parametrize("bad", [0, -1, spectrum.MAX_EIGENPAIRS + 1, 2.5, "3.0", "x", None, True])
def test_bad_counts_are_refused(bad):
    with pytest.raises(InputError, match="eigenpairs"):
        spectrum.check_count(bad)


def test_counts_from_text():
    assert spectrum.check_count("7") == 7 and spectrum.check_count(np.int64(3)) == 3


def test_mesh_check_flags_what_moves():
    """An eigenvalue that differs on the finer mesh or with the shift moved is kept and flagged, with the reason."""
    E = spectrum.Eigenvalue

    def spec(values, residual=1e-16):
        return spectrum.Spectrum([E(v, residual) for v in values], 4, 100, -0.01, 1e-12, 0.0, {})

    base = spec([0.0, 1.0, 2.0 + 1j, 2.0 - 1j, 3.0, 4.0])
    base.eigenvalues[4].residual = 1e-6
    fine = spec([1e-14, 1.0 + 1e-5, 2.5, 3.0, 4.0])
    shifted = spec([0.0, 1.0 + 1e-11, 2.0 + 1j, 2.0 - 1j, 3.0, 4.0 + 1e-8])
    spectrum.compare(base, fine, shifted=shifted)
    assert [e.trusted for e in base.eigenvalues] == [True, True, False, False, False, False]
    assert base.eigenvalues[0].reason == "zero to round-off"
    assert "moves" in base.eigenvalues[2].reason and base.eigenvalues[3].reason == "not found on the finer mesh"
    assert "residual" in base.eigenvalues[4].reason
    assert "shift moved" in base.eigenvalues[5].reason
    assert base.eigenvalues[1].fine == 1.0 + 1e-5
    assert sum("not found on the finer mesh" in e.reason for e in base.eigenvalues) == 1


def _double_well(refine=0.6, comm=MPI.COMM_SELF):
    model = Model.preset("double-well", T=0.01)
    msh, _ = fmesh.create_disk(model_mesh_sizes(model).refined(refine), comm)
    return Operator.of_model(msh, model)


def test_double_well_below_tc_lambda1_converged_and_is_the_decay_of_a_transient():
    from fpsolve.fem.transient import Transient

    op = _double_well()
    spec = spectrum.check(op, 3)
    lam = spec.values()
    first = spec.eigenvalues[1]
    assert first.trusted and abs(lam[1].imag) == 0.0
    # two meshes agree to 1e-3 (measured: 1e-8)
    assert abs(first.value - first.fine) <= 1e-3 * abs(first.value)
    assert 4.5e-3 < lam[1].real < 5.5e-3  # near the adiabatic estimate 5e-3
    rate = lam[1].real - lam[0].real
    tr = Transient(op)
    ev = tr.run(tr.gaussian((0.02, 0.0), (0.01, 0.05)), 1200.0, tol=1e-5)
    tr.destroy()
    fitted = spectrum.decay_rate(ev.column("t"), ev.column("mean_theta1"))
    print(f"lambda1 {lam[1]} fine {first.fine} transient decay {fitted}")
    assert fitted == pytest.approx(rate, rel=2e-3)  # measured 4e-4


@pytest.mark.parametrize("value", ["0", "51", "2.5", "x", "-3", ""])
def test_cli_bad_eigenpairs_exit_2_one_line_nothing_written(tmp_path, value):
    from conftest import run_script

    res = run_script("solve_fp.py", "--eigenpairs", value, "--out", str(tmp_path / "case"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--eigenpairs must be an integer in 1..50" in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_eigenpairs_writes_the_spectrum(tmp_path):
    """solve_fp.py --eigenpairs on the OU loss: summary.json has the eigenvalues
    n1 + 2 n2 with residuals, trust flags and relaxation times, and spectrum.png."""
    import json

    from conftest import run_script

    out = tmp_path / "case"
    res = run_script("solve_fp.py", "--loss", OU_LOSS, "--T", "0.04", "--h-min", "0.08", "--eigenpairs", "4",
                     "--out", str(out))
    assert res.returncode == 0, res.stderr
    rec = json.loads((out / "summary.json").read_text())["spectrum"]
    rows = rec["eigenvalues"]
    assert [r["n"] for r in rows] == [0, 1, 2, 3]
    np.testing.assert_allclose([r["real"] for r in rows], OU_EXACT[:4], atol=1e-3)
    assert all(r["trusted"] for r in rows) and all(r["residual"] < 1e-9 for r in rows)
    assert rows[1]["relaxation_time"] == pytest.approx(1.0, rel=1e-3)
    assert rec["requested"] == 4 and rec["fine_dofs"] > rec["dofs"]
    assert (out / "spectrum.png").stat().st_size > 5000
