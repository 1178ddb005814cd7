"""Any model through every script that takes model options (docs/model.md §7):
bad input = exit 2, one line naming the problem, nothing written."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import ROOT, run_script
from fpsolve.cli import common as cli
from fpsolve.tools import io

SCRIPTS = ("solve_fp.py", "sample_sgd.py", "theory.py", "validate.py", "evolve_fp.py", "search_time.py")

BAD = [
    (["--loss", "x*(y"], "syntax error"),
    (["--loss", "x**2 + foo*y**2"], "unknown name 'foo'"),
    (["--loss", "x.real + y**2"], "operator '.' is not allowed"),
    (["--loss", "a*x**2 + y**2", "--param", "a"], "constant 'a' has no value"),
    (["--loss", "a*x**2 + y**2", "--param", "a=two"], "'two' is not a number"),
    (["--loss", "1/x + y**2"], "is not finite"),
    (["--loss", "x**2 + y**2", "--noise-covariance", "1", "2", "1"], "not positive semi-definite"),
    (["--loss", "x**2 + y**2", "--preset", "single-well"], "--loss cannot be combined with --preset"),
    (["--loss", "x**2 + y**2", "--a0", "2"], "--loss cannot be combined with --a0"),
    (["--preset", "double-well", "--param", "a=1"], "--param gives the constants of --loss"),
    (["--preset", "single-well", "--a2", "0", "--eps", "0", "--T", "0.05"], "freezes theta1"),
    (["--loss", "0.5*y**2", "--T", "0.05"], "coordinate theta1 is frozen"),
    # issue 21.3: unbounded symbolic work (sympy expanded x**(10**10) at ~100 MB/s)
    (["--loss", "x**(10**10) + y**2"], "exponent 1e+10 is larger than 256"),
    (["--loss", "x**(10**8)"], "exponent 1e+08 is larger than 256"),
    (["--loss", "x**2 + y**2 + 10**(10**10)"], "exponent 1e+10 is larger than 256"),
    (["--loss", "((10**256)**256)**256*x**2 + y**2"], "the number (10 ** 256) ** 256 is beyond double precision"),
    (["--loss", "exp(exp(exp(10)))*x**2 + y**2"], "the number exp(exp(10)) is beyond double precision"),
    (["--loss", "x**2 + y**2 + 1" + "0" * 400], "is beyond double precision"),
    (["--loss", "+".join(["x**2"] * 1500) + "+y**2"], "characters; at most 4000 are read"),
    (["--loss", "x**2 + y**2" + "+x/y" * 900], "more than 3000 nodes"),
    # issue 21.9: finite, but Σ ~ 1e187 overflowed the eigen-solve (ZeroDivisionError traceback)
    (["--loss", "(x+y)**200"], "noise S11 reaches 3.01e+155 at theta = (1.32, 1.01)"),
]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name.replace(".py", "_under_test"), ROOT / "scripts" / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def scripts():
    return {name: _load(name) for name in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("args, words", BAD)
def test_bad_model_exits_2_with_one_line(scripts, script, args, words, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        cli.main_guard(scripts[script].main, [*args, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2, err
    assert len(err.splitlines()) == 1 and words in err, err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", ("solve_fp.py", "sample_sgd.py"))
def test_no_cross_diffusion_is_noise_sgd_diagonal(scripts, script, tmp_path, capsys):
    extra = ["--method", "sde"] if script == "sample_sgd.py" else []
    with pytest.raises(SystemExit) as exc:
        cli.main_guard(scripts[script].main, ["--loss", "x**2 + y**2", "--noise", "isotropic",
                                              "--no-cross-diffusion", *extra, "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "--no-cross-diffusion is --noise sgd-diagonal" in capsys.readouterr().err


def test_theory_refuses_a_model_without_closed_form(scripts, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main_guard(scripts["theory.py"].main, ["--loss", "0.5*(x*y - 1)**2", "--T", "0.05",
                                                   "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "no closed form applies" in err and len(err.splitlines()) == 1


def test_frozen_preset_exits_2_as_a_user_runs_it(tmp_path):
    """The issue's report: this exited 0 with a mesh-dependent Var θ1."""
    res = run_script("solve_fp.py", "--preset", "single-well", "--a2", "0", "--eps", "0", "--T", "0.05",
                     "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "freezes theta1" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_theory_gives_the_exact_density_of_isotropic_noise(tmp_path):
    out = tmp_path / "th"
    res = run_script("theory.py", "--loss", "2.5*(y - x**2 + c)**2 + 0.25*x**2", "--param", "c=0.5",
                     "--noise", "isotropic", "--T", "0.1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    t = json.loads((out / "theory.json").read_text())
    assert t["closed_forms"] == {"adiabatic": False, "exact_density": True}
    assert t["model"]["constants"] == {"c": 0.5} and t["model"]["noise"] == "isotropic"
    assert t["exact_density"]["mean_theta2"] == pytest.approx(-0.4, abs=1e-3)


def test_solve_custom_model_records_expression(tmp_path):
    out = tmp_path / "fem"
    res = run_script("solve_fp.py", "--loss", "k*(x**2 - 1)**2 + 0.5*y**2", "--param", "k=0.25", "--noise",
                     "isotropic", "--T", "0.1", "--h-min", "0.1", "--boundary", "reflecting", "--out", str(out))
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    m = s["case"]["model"]
    assert m["loss"] == "k*(x**2 - 1)**2 + 0.5*y**2" and m["constants"] == {"k": 0.25} and m["noise"] == "isotropic"
    assert s["mesh"]["rule"] == "uniform+user" and s["mesh"]["h_min"] == 0.1
    # θ2 is an exact Gaussian of variance T/2 (isotropic noise, L quadratic in θ2)
    assert s["var_theta2"] == pytest.approx(0.05, rel=1e-3)
    assert (out / "density.png").exists() and (out / "marginals.csv").exists()


def test_sample_sgd_user_covariance_exact_discrete_variance(tmp_path):
    """SGD on L = ½|θ|² with a constant user Σ is a linear recursion
    θ ← (1 − α) θ − α Σ^{1/2} z: its stationary covariance is α Σ / (2 − α) exactly."""
    out = tmp_path / "mc"
    res = run_script("sample_sgd.py", "--loss", "0.5*(x**2 + y**2)", "--noise-covariance", "2*Delta", "0.8*Delta",
                     "Delta", "--alpha", "0.05", "--walkers", "2000", "--time", "40", "--burn-in", "5",
                     "--sample-interval", "0.5", "--out", str(out))
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["model"]["noise"] == "covariance" and s["model"]["covariance"] == ["2*Delta", "0.8*Delta", "Delta"]
    assert sorted(p.name for p in out.iterdir() if p.name != io.MARKER) == ["hist.npz", "marginals.png", "summary.json"]
    a = 0.05
    for key, sigma in (("var_theta1", 2.0), ("var_theta2", 1.0), ("cov_theta12", 0.8)):
        exact = a * sigma / (2 - a)
        assert abs(s[key] - exact) < 3 * s[key + "_se"], (key, s[key], exact)
