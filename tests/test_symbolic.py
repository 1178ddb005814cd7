"""fpsolve.model.expression (docs/model.md §7): the restricted parser, the derivation
against the hand-written valley formulas of model.py, the cache by canonical
form, valley recognition and the checks on the disk."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fpsolve.model import valley as fm
from fpsolve.model import expression as symbolic
from fpsolve.model.valley import Landscape, ModelError
from fpsolve.model.expression import VALLEY_CANONICAL, VALLEY_EXPRESSION, Model


@pytest.mark.parametrize("text, params, words", [
    ("x.__class__", {}, "operator '.' is not allowed"),
    ("__import__('os')", {}, "unknown name '__import__'"),
    ("x[0] + y", {}, "operator '[' is not allowed"),
    ("'a' + x", {}, "is not allowed"),
    ("foo*x**2 + y**2", {}, "unknown name 'foo'"),
    ("bar(x) + y**2", {}, "unknown name 'bar'"),
    ("x*(y", {}, "syntax error"),
    ("x +* y", {}, "syntax error"),
    ("1j*x**2 + y**2", {}, "not a real decimal number"),
    ("lambda: x", {}, "unknown name 'lambda'"),
    ("a*x**2 + y**2", {"a": None}, "constant 'a' has no value"),
    ("a*x**2 + y**2", {"a": float("nan")}, "must be a finite number"),
    ("x**2 + y**2", {"theta1": 1.0}, "is reserved"),
    ("", {}, "is empty"),
])
def test_parser_refuses_with_one_line(text, params, words):
    with pytest.raises(ModelError) as err:
        Model.from_expression(text, params)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_parser_accepts_elementary_functions_aliases_and_xor():
    m = Model.from_expression("exp(-x^2) * cos(y) + k*sqrt(1 + x**2) + tanh(y)**2 + log(2 + x) + pi*E",
                              {"k": 0.3})
    x, y = np.array([0.3, -1.1]), np.array([0.7, 0.2])
    expected = np.exp(-x ** 2) * np.cos(y) + 0.3 * np.sqrt(1 + x ** 2) + np.tanh(y) ** 2 + np.log(2 + x) + np.pi * np.e
    assert np.allclose(m.evaluate("loss", x, y), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("noise, cross", [("sgd", True), ("sgd-diagonal", False)])
def test_derivation_equals_the_valley_formulas(noise, cross):
    """∇L, H, D and ∇·D derived by sympy = the hand-written ones of model.py (docs/model.md §1-4)."""
    land = Landscape(1.3, -0.7, 0.4, 0.02)
    m = Model.preset("double-well", noise=noise, alpha=0.07, Delta=1.9, a0=1.3, a2=-0.7, a4=0.4, eps=0.02)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-2, 2, 50), rng.uniform(-2, 2, 50)
    T = 0.07 * 1.9
    pairs = [("gradient", fm.gradient(x, y, *land.coefficients)),
             ("hessian", fm.hessian(x, y, *land.coefficients)),
             ("diffusion", fm.diffusion(x, y, T, *land.coefficients, cross=cross)),
             ("divergence", fm.diffusion_divergence(x, y, T, *land.coefficients, cross=cross))]
    for what, expected in pairs:
        got = m.evaluate(what, x, y)
        for g, e in zip(got, expected):
            assert np.allclose(g, e, rtol=1e-12, atol=1e-13), what
    assert m.valley == land and m.cross is cross


def test_derivation_is_cached_by_canonical_form():
    a = Model.from_expression("0.5*(x*y - c)**2", {"c": 1.0}, T=0.05)
    b = Model.from_expression("0.5*(theta1*theta2 - c)**2", {"c": 2.0}, alpha=0.1, T=0.2)
    assert a.derivation is b.derivation  # aliases and numbers do not matter
    assert Model.from_expression("0.5*(x*y - 1)**2").derivation is not a.derivation


def test_presets_are_recognised_and_named():
    for name in fm.PRESETS:
        m = Model.preset(name, T=0.05)
        assert m.valley == Landscape.from_preset(name) and m.valley.name == name
        assert m.case_name().startswith(name + "_alpha0.05")
    # the same valley written by hand is recognised too; a rotated one or other noise is not
    m = Model.from_expression("0.5*(1 - x**2 + 0.5*x**4)*y**2 + 0.005*x**2", T=0.05)
    assert m.valley == Landscape.from_preset("double-well")
    assert Model.from_expression("0.5*(1 - y**2 + 0.5*y**4)*x**2 + 0.005*y**2").valley is None
    assert Model.preset("double-well", noise="isotropic").valley is None


def test_preset_built_without_sympy_equals_the_parsed_expression():
    """Model.preset skips the parse for the valley with SGD noise: the same
    model (fields, recognised valley, canonical print) as from_expression."""
    for name in fm.PRESETS:
        for noise in ("sgd", "sgd-diagonal"):
            fast = Model.preset(name, noise=noise, T=0.03, eps=0.02)
            params = dict(zip(("a0", "a2", "a4", "eps"), fast.valley.coefficients))
            slow = Model.from_expression(VALLEY_EXPRESSION, params, noise, T=0.03, name=fast.name)
            assert fast == slow and fast.valley == slow.valley and fast.is_valley()
            assert fast.case_name() == slow.case_name()
    assert str(Model.preset("double-well").derivation.loss) == VALLEY_CANONICAL


def test_preset_run_does_not_import_sympy_or_numba(tmp_path):
    """A default FEM solve of a preset needs neither (0.5 s of imports)."""
    code = ("import sys; from fpsolve.fem import stationary; from fpsolve.model.expression import Model; "
            "m = Model.preset('double-well', T=0.05); m.check_formulas(); m.as_dict(); "
            "from fpsolve.tools import io; io.versions(); "
            "print(sorted(k for k in ('sympy', 'numba') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("text, params, noise, words", [
    ("1/x + y**2", {}, "sgd", "loss '1/x + y**2' is not finite"),
    ("log(x + 1) + y**2", {}, "sgd", "is not finite"),
    ("sqrt(x) + y**2", {}, "isotropic", "is not finite"),
    ("x**2 + y**2", {}, ("1", "2", "1"), "not positive semi-definite"),
    ("x**2 + y**2", {}, ("x", "0", "1"), "not positive semi-definite"),
    ("x**2 + y**2", {}, ("1/x**2", "0", "1"), "noise S11 is not finite"),
    ("y**2", {}, "sgd", "coordinate theta1 is frozen"),
    ("0.5*(1 + 0*x)*y**2", {}, "sgd-diagonal", "coordinate theta1 is frozen"),
    ("x**2", {}, "sgd", "coordinate theta2 is frozen"),
])
def test_checks_on_the_disk(text, params, noise, words):
    m = Model.from_expression(text, params, noise)
    with pytest.raises(ModelError) as err:
        m.check_formulas(2.0, (0.0, 0.0))
    assert words in str(err.value)


def test_check_depends_on_the_disk():
    m = Model.from_expression("log(x + 3) + x**2 + y**2", noise="isotropic")
    m.check_formulas(2.0, (0.0, 0.0))  # log's branch point lies outside this disk
    with pytest.raises(ModelError, match="not finite"):
        m.check_formulas(4.0, (0.0, 0.0))


def test_frozen_valley_is_refused_as_preset_and_expression():
    with pytest.raises(ModelError, match="freezes theta1"):
        Model.preset("single-well", a2=0.0, eps=0.0)
    m = Model.from_expression("0.5*(1 + 0*x**2)*y**2 + 0*x**2")
    with pytest.raises(ModelError, match="frozen"):
        m.check_formulas()


def test_record_has_expression_constants_and_noise():
    m = Model.from_expression("k*(x - y)**2 + x**4 + y**4", {"k": 0.5}, ("Delta*(1 + x**2)", "0", "Delta"), T=0.1)
    d = m.as_dict()
    assert d["loss"] == "k*(x - y)**2 + x**4 + y**4" and d["constants"] == {"k": 0.5}
    assert d["noise"] == "covariance" and d["covariance"] == ["Delta*(1 + x**2)", "0", "Delta"]
    assert d["T"] == pytest.approx(0.1) and "k=0.5" in m.describe() and m.case_name().startswith("loss-k-x-y-2")
    # D = (alpha/2) Σ with Delta a symbol of the covariance
    d11, d12, d22 = m.evaluate("diffusion", np.array([0.5]), np.array([0.0]))
    assert d11[0] == pytest.approx(0.05 / 2 * 2.0 * 1.25) and d12[0] == 0 and d22[0] == pytest.approx(0.05)


def test_symbolic_work_is_bounded_in_time():
    """Issue 21.3: a block of sympy work on a user's expression that runs past its budget is
    refused with one line, and the timer is gone afterwards."""
    import signal
    import time

    start = time.perf_counter()
    with pytest.raises(ModelError, match="took more than 0.2 s"):
        with symbolic.symbolic_budget("loss 'slow'", 0.2):
            while True:
                time.sleep(0.01)
    assert time.perf_counter() - start < 2.0
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0.0 and signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


def test_valley_recognition_expands_only_low_degree_polynomials():
    import sympy

    x, y = sympy.symbols("x y")
    bound = symbolic.polynomial_degree_bound
    assert bound((x + y + 1) ** 200, (x, y)) == 200 and bound(x ** 2 * (y + 1) ** 3, (x, y)) == 5
    assert bound(sympy.exp(x) + y, (x, y)) is None and bound(3 * sympy.exp(2), (x, y)) == 0
    # of degree 200: not the valley, known without expanding its 20301 terms
    assert Model.from_expression("1e-9*(x + y + 1)**200 + 0.5*y**2*(1 + x**2) + 0.5*x**2").valley is None
    assert Model.from_expression("0.5*y**2*(1 + x**2) + 0.5*x**2").valley is not None


def test_an_expression_that_once_hung_is_refused_in_seconds():
    """`solve_fp.py --loss 'x**(10**10) + y**2'` grew by ~100 MB/s without a word."""
    code = ("from fpsolve.model.expression import Model\n"
            "Model.from_expression('x**(10**10) + y**2')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "exponent 1e+10 is larger than 256" in res.stderr


def test_a_loss_that_is_not_text_is_named():
    """A fresh user's try: Model.from_expression(42) raised TypeError "object of type 'int' has no len()"."""
    with pytest.raises(ModelError, match="loss must be text \\(got int 42\\)"):
        Model.from_expression(42, T=0.05)
