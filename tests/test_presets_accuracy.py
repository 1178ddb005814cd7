"""The preset model at the edges the graded rule used to miss (issue 11)
and the docs/model.md §6 cases with the adaptive loop at its default tolerance
(the default mesh, a structured core at T = 0.01, is within 5e-6: benchmark in
README), and a case near T_c at ε = 1e-3 where D22/D11 ~ 1e6.

Right values: at T = 1e-4 the small-noise widths of docs/model.md §5 (Var θ1 =
B(0)/κ, Var θ2 = T a0 / 2, ``mesh.model_widths``); at R = 50 the same case
at R = 2 (the density reaches neither wall); the §6 converged FEM values of
docs/numerics.md (T = 0.05) and adaptive references (T = 0.01, see CONVERGED)."""

from __future__ import annotations

import pytest

from fpsolve.fem import mesh as fmesh
from fpsolve.fem import stationary as solver
from fpsolve.model.valley import Landscape, Noise

LAND = Landscape.from_preset("double-well")


def test_small_noise_widths_at_T_1e_4():
    noise = Noise.from_temperature(1e-4, 0.05)
    s = solver.solve(LAND, noise).summary
    w = fmesh.model_widths(LAND, noise)
    var1, var2 = w["w1"] ** 2, noise.T * LAND.a0 / 2
    print(f"T=1e-4: Var theta1 {s['var_theta1']:.6g} (B(0)/kappa {var1:.6g}), Var theta2 {s['var_theta2']:.6g}, "
          f"negative mass {s['negative_mass']:.2g}, {s['dofs']} dofs")
    assert var1 == pytest.approx(4.975e-7, rel=1e-3)
    assert s["negative_mass"] <= 1e-4 and not s["warnings"]
    assert s["var_theta1"] == pytest.approx(var1, rel=2e-3)
    assert s["var_theta2"] == pytest.approx(var2, rel=1e-3)


def test_large_disk_gives_the_small_disk_moments():
    noise = Noise.from_temperature(0.01, 0.05)
    small = solver.solve(LAND, noise, radius=2.0).summary
    large = solver.solve(LAND, noise, radius=50.0).summary
    print({k: (small[k], large[k]) for k in ("mean_abs_theta1", "std_abs_theta1", "var_theta2", "negative_mass")})
    assert large["negative_mass"] <= 1e-4 and small["negative_mass"] <= 1e-4
    for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta2"):
        assert large[key] == pytest.approx(small[key], rel=1e-3), key


#: (T, cross) → converged (mean |θ1|, std |θ1|, Var θ2): T = 0.05 from
#: docs/numerics.md; T = 0.01 from adaptive references at tol 1e-4 (1.6e6 and
#: 1.0e6 dofs, estimates 3.1e-5 and 3.7e-5; scripts/bench_solver.py
#: --adaptive; the issue's 267k-dof no-cross values 0.006973615 / 0.005405271
#: are 1.8e-4 / 3.0e-4 from them); Var θ2 = T ⟨g(θ1)⟩ / 2 =
#: (T/2)(1 − ⟨θ1²⟩ + ⟨θ1⁴⟩/2) = 0.0049996253 there (⟨θ1²⟩ = 7.475e-5)
CONVERGED = {
    (0.05, True): (0.6318, 0.06508, 0.01686),
    (0.05, False): (0.6211, 0.1292, 0.01776),
    (0.01, False): (0.006972348, 0.005406902, 0.0049996253),
    (0.01, True): (0.006891152, 0.005221323, 0.0049996253),
}


@pytest.mark.parametrize("T, cross", list(CONVERGED), ids=lambda v: str(v))
def test_section6_cases_default_graded_mesh(T, cross):
    """The default mesh within 1e-3 (T = 0.05; docs/numerics.md's values have 4
    digits) and within 2e-5 at T = 0.01 (structured core: measured 3e-6)."""
    s = solver.solve(LAND, Noise.from_temperature(T, 0.05), cross=cross).summary
    print(f"T={T} cross={cross}: {s['mean_abs_theta1']:.7g} {s['std_abs_theta1']:.7g} {s['var_theta2']:.7g}, "
          f"negative mass {s['negative_mass']:.2g}, {s['dofs']} dofs, mesh {s['mesh']['rule']}")
    assert s["negative_mass"] <= 1e-4 and not s["warnings"]
    for key, ref in zip(("mean_abs_theta1", "std_abs_theta1", "var_theta2"), CONVERGED[(T, cross)]):
        assert s[key] == pytest.approx(ref, rel=1e-3 if T == 0.05 else 2e-5), key


def test_near_tc_at_small_eps_is_mesh_converged():
    """ε = 1e-3, T = 0.9 T_c: D11 ~ 1e-9, D22 ~ 1e-3.  The default mesh's
    structured core gives std |θ1| 0.0024135 within 3e-5 of the mesh twice
    as fine (the earlier unstructured anisotropic core gave 0.00175, 27 %
    low, with negative mass 7e-4)."""
    from fpsolve.theory import valley as theory

    land = Landscape.from_preset("double-well", eps=1e-3)
    noise = Noise.from_temperature(0.9 * theory.critical_temperature_landscape(land), 0.05)
    s = solver.solve(land, noise).summary
    fine = solver.solve(land, noise, refine=2.0).summary
    print({k: (s[k], fine[k]) for k in ("mean_abs_theta1", "std_abs_theta1", "var_theta2", "negative_mass")})
    assert s["mesh"]["structured"] and s["negative_mass"] <= 1e-6 and not s["warnings"]
    for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta2"):
        assert s[key] == pytest.approx(fine[key], rel=1e-4), key


@pytest.mark.parametrize("T, cross", list(CONVERGED), ids=lambda v: str(v))
def test_section6_cases_adaptive_default_tolerance(T, cross):
    s = solver.solve(LAND, Noise.from_temperature(T, 0.05), cross=cross, mesh_rule="adaptive").summary
    print(f"T={T} cross={cross}: {s['mean_abs_theta1']:.7g} {s['std_abs_theta1']:.7g} {s['var_theta2']:.7g}, "
          f"estimate {s['error_estimate']:.2e}, negative mass {s['negative_mass']:.2g}, {s['dofs']} dofs, "
          f"{len(s['adaptivity']['cycles'])} cycles")
    assert s["negative_mass"] <= 1e-4
    assert s["adaptivity"]["converged"] and s["error_estimate"] < 1e-3
    for key, ref in zip(("mean_abs_theta1", "std_abs_theta1", "var_theta2"), CONVERGED[(T, cross)]):
        assert s[key] == pytest.approx(ref, rel=1e-3), key
