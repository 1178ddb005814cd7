"""The relaxation rate against the noise level across T_c: the spectral face of seed S4 (docs/model.md §10, §5).

Below T_c the slowest relaxation of the valley is the θ1 mode of the single
peak at 0, ``Re(λ1 − λ0)``, which falls to zero as T → T_c (critical
slowing down).  Above T_c the density has two peaks; λ1 becomes the hopping
rate between them (exponentially small), and the relaxation *inside* a peak
is the next eigenvalue, ``Re(λ2 − λ0)``, which rises again with T − T_c.  The
exponent of this dip, fitted about a fitted critical point on each side, is
set beside the exponent γ of the search time of docs/model.md §5 (the 1-D
formula, :func:`fpsolve.theory.valley.search_time`, whose inverse is a rate).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

from fpsolve.fem import mesh as fmesh
from fpsolve.fem import spectrum
from fpsolve.fem.model_mesh import model_mesh_sizes
from fpsolve.fem.operator import Operator
from fpsolve.model.expression import Model
from fpsolve.model.valley import Landscape, Noise
from fpsolve.theory import valley as theory
from fpsolve.validation import metrics
from fpsolve.validation.report import map_points

#: Eigenpairs per point: λ0, λ1 (θ1 mode below T_c, hopping above) and λ2 (in-peak above T_c).
EIGENPAIRS = 3


def relaxation_point(landscape: Landscape, T: float, alpha: float, refine: float) -> dict:
    """The first :data:`EIGENPAIRS` eigenvalues of the valley's generator at
    noise level T (sgd noise, absorbing disk of radius 2, graded mesh ×
    ``refine``), judged by :func:`fpsolve.fem.spectrum.check`, and the 1-D
    formula's search time; on this rank alone.  Rates in 1/time units."""
    from mpi4py import MPI

    model = Model.from_landscape(landscape, Noise.from_temperature(T, alpha))
    msh, _ = fmesh.create_disk(model_mesh_sizes(model).refined(refine), MPI.COMM_SELF)
    spec = spectrum.check(Operator.of_model(msh, model), EIGENPAIRS)
    lam = spec.values()
    rates = spec.relaxation_rates()
    tau = theory.search_time(landscape, T)["search_time"]
    return {"T": T, "dofs": spec.dofs, "lambda0": lam[0].real,
            "lambda1_real": lam[1].real, "lambda1_imag": lam[1].imag, "lambda2_real": lam[2].real,
            "lambda2_imag": lam[2].imag, "rate1": rates[1], "rate2": rates[2],
            "trusted1": bool(spec.eigenvalues[1].trusted), "trusted2": bool(spec.eigenvalues[2].trusted),
            "formula_search_time": tau, "formula_search_rate": 1.0 / tau}


def relaxation_sweep(landscape: Landscape, r: Sequence[float], *, alpha: float = 0.05, refine: float = 1.0,
                     comm: Any = None, progress: Optional[Callable[[int, int, Any], None]] = None) -> dict:
    """:func:`relaxation_point` at ``T = T_c (1 ± r)`` (T_c the
    landscape-dependent one, docs/model.md §5; ``r`` > 0, at least 4 values
    for the fits), points dealt over the ranks of ``comm``, and the fitted
    power laws ``rate ∝ |T − T_x|^ν`` with T_x fitted too
    (:func:`fpsolve.validation.metrics.fit_power_law_free_x0`): below T_c of
    Re(λ1 − λ0), above of Re(λ2 − λ0); beside them γ of the formula's search
    time over the same T about T_c (``τ_s ∝ |T − T_c|^−γ``).  Returns
    ``{"rows", "T_c", "T_c_constant", "fits"}``, ``fits[side]`` with
    ``exponent``, ``exponent_err``, ``T_x``, ``gamma_formula``."""
    tc = theory.critical_temperature_landscape(landscape)
    r = np.sort(np.asarray(r, dtype=float))
    T = [tc * (1 - x) for x in r[::-1]] + [tc * (1 + x) for x in r]
    rows = map_points(lambda p: relaxation_point(*p), [(landscape, t, alpha, refine) for t in T], comm, progress)
    fits = {}
    for side, key in (("below", "rate1"), ("above", "rate2")):
        sel = [row for row in rows if (row["T"] < tc) == (side == "below")]
        Ts = np.array([row["T"] for row in sel])
        rate = np.array([row[key] for row in sel])
        bounds = (Ts.max() * 1.0001, 1.5 * tc) if side == "below" else (0.5 * tc, Ts.min() * 0.9999)
        fit, x0_err = metrics.fit_power_law_free_x0(Ts, rate, x0_bounds=bounds)
        tau = np.array([row["formula_search_time"] for row in sel])
        gamma = -metrics.fit_power_law(Ts, tau, x0=tc).exponent
        fits[side] = {"exponent": fit.exponent, "exponent_err": fit.exponent_err, "prefactor": fit.prefactor,
                      "T_x": fit.x0, "T_x_err": x0_err, "gamma_formula": gamma, "rate": key}
    return {"rows": rows, "T_c": tc, "T_c_constant": landscape.critical_temperature(), "fits": fits}
