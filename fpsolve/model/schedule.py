"""Training schedules: a step α_k and a noise Δ_k that change with the SGD step k (docs/model.md §10).

SGD with a schedule is ``θ_{k+1} = θ_k − α_k ∇L_μ(θ_k)`` with the shift
variance Δ_k; its continuous limit has the noise level ``T(t) = α(t) Δ(t)``.

**Time and step.**  Step k starts at ``t_k = Σ_{j<k} α_j`` (time in units of
the SGD step, as everywhere in fpsolve; with a constant α this is t = α k).
A law written in the step k (every named schedule, and an expression in
``k``) is piecewise constant in time: ``α(t) = α_k`` for ``t_k ≤ t < t_{k+1}``,
exactly what SGD sees.  A law written in ``t`` (an expression in ``t``) is a
function of time: the continuous models (FEM, SDE) read ``α(t)`` and SGD
step k uses ``α_k = α(t_k)``, with ``t_{k+1} = t_k + α_k``.

**Named laws** (``k`` the step; parameters by name, ``alpha0`` defaults to
the model's α):

============  ==============================================  =====================
name          α_k                                             parameters
============  ==============================================  =====================
constant      α0                                              alpha0
step          α0 γ^⌊k/k_s⌋                                    alpha0, gamma, ks
exponential   α0 γ^k                                          alpha0, gamma
inverse-time  α0 / (1 + k/k0)                                 alpha0, k0
cosine        α_min + ½(α0 − α_min)(1 + cos(π min(k, K)/K))   alpha0, alpha_min, K
warmup        α_w + (α0 − α_w) k/k_w for k < k_w,             alpha_w, kw, then, and
              then the law ``then`` at step k − k_w            the parameters of then
============  ==============================================  =====================

A named law sets α; Δ stays the model's unless given as an expression.
User expressions (``'0.1 - 0.09*Heaviside(t - 20)'``) are parsed by
:func:`fpsolve.model.expression.parse` with ``t`` or ``k`` (not both) and
``Heaviside`` (½ at 0).

The **jumps** of T(t) (:meth:`Schedule.jumps`) are the times a time stepper
must land on: the roots of every Heaviside argument of a law in t, and the
steps k where T changes by more than :data:`JUMP_RELATIVE` at once for a law
in k (a step schedule's drops; a smooth law's per-step changes are smaller).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from fpsolve.model.expression import parse
from fpsolve.tools.errors import InputError


#: The named laws and their parameters (all required, except ``alpha0``, the
#: model's α by default, and ``then``, ``constant`` by default; α_min, α_w > 0
#: so that every step moves time on).
NAMES = ("constant", "step", "exponential", "inverse-time", "cosine", "warmup")
PARAMETERS: Dict[str, Tuple[str, ...]] = {
    "constant": ("alpha0",),
    "step": ("alpha0", "gamma", "ks"),
    "exponential": ("alpha0", "gamma"),
    "inverse-time": ("alpha0", "k0"),
    "cosine": ("alpha0", "alpha_min", "K"),
    "warmup": ("alpha_w", "kw", "then"),
}
DEFAULTS = {"then": "constant"}
#: Parameters that count steps (whole numbers ≥ 1).
STEP_COUNTS = ("ks", "kw", "K")
#: A change of α or Δ by more than this (relative) from one SGD step to the next is a jump
#: (a step schedule's drops; a smooth law changes less per step unless it is a few steps long).
JUMP_RELATIVE = 0.05
#: Most SGD steps a schedule is tabulated for (a run longer than this is refused).
MAX_STEPS = 20_000_000


def _number(key: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"schedule parameter {key}={value!r} is not a number") from None
    if not math.isfinite(v):
        raise InputError(f"schedule parameter {key}={value!r} is not a finite number")
    return v


def _check_named(name: str, params: Mapping[str, Any], alpha: float) -> Dict[str, Any]:
    """The full parameter set of a named law (defaults filled in), checked."""
    if name not in NAMES:
        raise InputError(f"unknown schedule {name!r} (one of {', '.join(NAMES)})")
    keys = set(PARAMETERS[name])
    if name == "warmup":
        inner = params.get("then", "constant")
        if inner not in NAMES or inner == "warmup":
            raise InputError(f"schedule parameter then={inner!r} is not a schedule to follow a warm-up "
                             f"(one of {', '.join(n for n in NAMES if n != 'warmup')})")
        keys |= set(PARAMETERS[inner])
    for key in params:
        if key not in keys:
            raise InputError(f"unknown schedule parameter {key!r} for schedule {name!r} "
                             f"(parameters: {', '.join(sorted(keys))})")
    out: Dict[str, Any] = {}
    for key in sorted(keys):
        if key == "then":
            out[key] = params.get(key, "constant")
            continue
        if key in params:
            v = _number(key, params[key])
        elif key == "alpha0":
            v = float(alpha)
        elif key in DEFAULTS:
            v = float(DEFAULTS[key])
        else:
            raise InputError(f"schedule {name!r} needs the parameter {key} (--schedule-param {key}=VALUE)")
        if key in STEP_COUNTS and not (v >= 1 and v == int(v)):
            raise InputError(f"schedule parameter {key}={v:g} must be a whole number of steps >= 1")
        if key in ("gamma", "k0", "alpha0", "alpha_min", "alpha_w") and not v > 0:
            raise InputError(f"schedule parameter {key}={v:g} must be > 0")
        out[key] = v
    if "alpha_min" in out and out["alpha_min"] > out["alpha0"]:
        raise InputError(f"schedule parameter alpha_min={out['alpha_min']:g} exceeds alpha0={out['alpha0']:g}")
    return out


def named_value(name: str, p: Mapping[str, Any], k: np.ndarray) -> np.ndarray:
    """α_k of a named law with the (checked) parameters ``p`` at the steps
    ``k`` (array of whole numbers ≥ 0); the formulas of the module table."""
    k = np.asarray(k, dtype=float)
    if name == "constant":
        return np.full(k.shape, p["alpha0"])
    if name == "step":
        return p["alpha0"] * p["gamma"] ** np.floor(k / p["ks"])
    if name == "exponential":
        return p["alpha0"] * p["gamma"] ** k
    if name == "inverse-time":
        return p["alpha0"] / (1.0 + k / p["k0"])
    if name == "cosine":
        return p["alpha_min"] + 0.5 * (p["alpha0"] - p["alpha_min"]) * (1.0 + np.cos(np.pi * np.minimum(k, p["K"])
                                                                                     / p["K"]))
    # warmup: linear from alpha_w to the next law's start over kw steps
    kw = p["kw"]
    after = named_value(p["then"], p, np.maximum(k - kw, 0.0))
    start = named_value(p["then"], p, np.zeros(1))[0]
    return np.where(k < kw, p["alpha_w"] + (start - p["alpha_w"]) * k / kw, after)


@dataclasses.dataclass(frozen=True)
class Law:
    """One quantity's law (α or Δ): ``name`` (a named law, ``expression`` or
    ``constant``), ``params`` (sorted (key, value) pairs, checked),
    ``text`` (the expression as given) and ``variable`` (``k`` or ``t``)."""

    name: str
    params: Tuple[Tuple[str, Any], ...] = ()
    text: Optional[str] = None
    variable: str = "k"

    @property
    def in_time(self) -> bool:
        return self.variable == "t"

    def as_dict(self) -> dict:
        if self.name == "expression":
            return {"expression": self.text, "variable": self.variable}
        return {"name": self.name, **dict(self.params)}


def _expression(text: str, what: str) -> Tuple[Law, Any, Any]:
    """(law, sympy expression, numpy function of one variable) of a user expression."""
    import sympy

    t, k = sympy.symbols("t k", real=True)
    expr = parse(text, (), what=what, extra={"t": t, "k": k, "Heaviside": sympy.Heaviside})
    free = expr.free_symbols
    if free - {t, k}:
        raise InputError(f"{what} {text!r} may depend on t or k only (got {', '.join(sorted(map(str, free)))})")
    if {t, k} <= free:
        raise InputError(f"{what} {text!r} depends on both t and k; write it in one of them")
    var = k if k in free else t
    raw = sympy.lambdify(var, expr, modules=[{"Heaviside": lambda x, h=0.5: np.heaviside(x, h)}, "numpy"])

    def f(x: Any) -> Any:
        # a log(t) at t = 0 or a sqrt(t - 1) at t < 1 is -inf/nan, which the callers refuse by name
        # (Schedule._check_value): no numpy RuntimeWarning besides that one error line
        with np.errstate(all="ignore"):
            return raw(x)

    return Law("expression", (), text, str(var)), expr, f


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The step and noise schedules of a training run (docs/model.md §10).

    Build it with :meth:`constant`, :meth:`named` or :meth:`expressions`.
    ``alpha_law``/``Delta_law``: the two :class:`Law` objects; ``alpha``,
    ``Delta``: the model's values (the constant laws' values).  Times are in
    units of SGD steps of the schedule (module doc: t_k = Σ_{j<k} α_j).
    Raises :class:`~fpsolve.tools.errors.InputError` on a bad name, parameter
    or expression.
    """

    alpha_law: Law
    Delta_law: Law
    alpha: float
    Delta: float
    _funcs: Dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)
    _table: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    # ---- construction --------------------------------------------------
    @classmethod
    def constant(cls, alpha: float, Delta: float) -> "Schedule":
        """α_k = alpha, Δ_k = Delta (today's runs)."""
        return cls.build(alpha, Delta)

    @classmethod
    def named(cls, name: str, params: Mapping[str, Any] | None = None, *, alpha: float, Delta: float,
              Delta_expression: str | None = None) -> "Schedule":
        """A named α law (module table) with ``params``; Δ constant or ``Delta_expression``."""
        return cls.build(alpha, Delta, name=name, params=params, Delta_expression=Delta_expression)

    @classmethod
    def expressions(cls, *, alpha: float, Delta: float, alpha_expression: str | None = None,
                    Delta_expression: str | None = None) -> "Schedule":
        """α and/or Δ as user expressions in t or k (the others constant)."""
        return cls.build(alpha, Delta, alpha_expression=alpha_expression, Delta_expression=Delta_expression)

    @classmethod
    def build(cls, alpha: float, Delta: float, *, name: str | None = None, params: Mapping[str, Any] | None = None,
              alpha_expression: str | None = None, Delta_expression: str | None = None) -> "Schedule":
        """The one constructor behind the others (the CLI's options map onto it)."""
        alpha, Delta = _number("alpha", alpha), _number("Delta", Delta)
        if not alpha > 0:
            raise InputError(f"alpha must be > 0 (got alpha={alpha:g})")
        if not Delta > 0:
            raise InputError(f"Delta must be > 0 (got Delta={Delta:g}; T = alpha*Delta must be > 0)")
        if name is not None and alpha_expression is not None:
            raise InputError("give a schedule name or an alpha expression, not both")
        funcs: Dict[str, Any] = {}
        if alpha_expression is not None:
            a_law, _, funcs["alpha"] = _expression(alpha_expression, "alpha schedule")
        elif name is not None:
            p = _check_named(name, dict(params or {}), alpha)
            a_law = Law(name, tuple(sorted(p.items())))
        else:
            if params:
                raise InputError(f"schedule parameters {', '.join(sorted(params))} need --schedule NAME")
            a_law = Law("constant", (("alpha0", alpha),))
        if Delta_expression is not None:
            d_law, _, funcs["Delta"] = _expression(Delta_expression, "Delta schedule")
        else:
            d_law = Law("constant", (("Delta0", Delta),))
        return cls(a_law, d_law, alpha, Delta, funcs)

    # ---- values ---------------------------------------------------------
    @property
    def is_constant(self) -> bool:
        """Both laws constant (α_k = α, Δ_k = Δ for every k)."""
        return (self.alpha_law.name == "constant" and self.Delta_law.name == "constant"
                and dict(self.alpha_law.params)["alpha0"] == self.alpha)

    def _law_in_k(self, which: str, k: np.ndarray) -> np.ndarray:
        law = self.alpha_law if which == "alpha" else self.Delta_law
        if law.name == "expression":
            return np.broadcast_to(np.asarray(self._funcs[which](np.asarray(k, dtype=float)), dtype=float),
                                   np.shape(k)).astype(float)
        if which == "Delta":  # a constant Δ
            return np.full(np.shape(k), self.Delta)
        return named_value(law.name, dict(law.params), k)

    def _law_in_t(self, which: str, t: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.asarray(self._funcs[which](np.asarray(t, dtype=float)), dtype=float),
                               np.shape(t)).astype(float)

    def table(self, t_end: float) -> Dict[str, np.ndarray]:
        """The SGD steps up to the first k with t_k ≥ ``t_end``: {"t": t_k
        (n+1 values, t_0 = 0), "alpha": α_k, "Delta": Δ_k (n values)}.
        Raises InputError when t_end is not reached within :data:`MAX_STEPS`
        steps (e.g. an exponential decay whose total time Σ α_k is shorter)
        or on an α_k, Δ_k that is not finite and > 0 (naming it)."""
        if not (math.isfinite(t_end) and t_end >= 0):
            raise InputError(f"t-end must be a finite number >= 0 (got {t_end!r})")
        tab = self._table
        if tab and tab["t"][-1] >= t_end:
            n = int(np.searchsorted(tab["t"], t_end, side="left"))
            return {"t": tab["t"][:n + 1], "alpha": tab["alpha"][:n], "Delta": tab["Delta"][:n]}
        if self.alpha_law.in_time:
            t_list, a_list = [0.0], []
            f = self._funcs["alpha"]
            while t_list[-1] < t_end:
                a = float(f(np.float64(t_list[-1])))
                self._check_value("alpha", a, t_list[-1], len(a_list))
                if a < 1e-12 * max(t_end, self.alpha):  # Zeno: t_k creeps towards a limit short of t_end
                    raise InputError(f"alpha schedule {self.alpha_law.text!r} falls to {a:g} at t = {t_list[-1]:g}: "
                                     f"the steps do not reach t-end {t_end:g}")
                a_list.append(a)
                t_list.append(t_list[-1] + a)
                if len(a_list) > MAX_STEPS:
                    raise InputError(f"the alpha schedule needs more than {MAX_STEPS} steps to reach t = {t_end:g}")
            t, alpha = np.array(t_list), np.array(a_list)
        else:
            n = max(16, int(2 * t_end / self.alpha) + 2)
            while True:
                alpha = self._law_in_k("alpha", np.arange(n))
                t = np.concatenate([[0.0], np.cumsum(alpha)])
                bad = np.flatnonzero(~(alpha > 0))
                if bad.size and t[bad[0]] < t_end:
                    j = int(bad[0])
                    if alpha[j] == 0 and j > 0 and alpha[j - 1] > 0:  # a decay that underflowed: its total time
                        raise InputError(f"the alpha schedule {self.describe_law('alpha')} reaches only "
                                         f"t = {t[j]:.6g} (t-end {t_end:g})")
                    self._check_value("alpha", float(alpha[j]), float(t[j]), j)
                if t[-1] >= t_end or n >= MAX_STEPS:
                    break
                n = min(4 * n, MAX_STEPS)
            if t[-1] < t_end:
                raise InputError(f"the alpha schedule {self.describe_law('alpha')} reaches only t = {t[-1]:.6g} "
                                 f"after {len(alpha)} steps (t-end {t_end:g})")
            n = int(np.searchsorted(t, t_end, side="left"))
            t, alpha = t[:n + 1], alpha[:n]
        Delta = (self._law_in_t("Delta", t[:-1]) if self.Delta_law.in_time
                 else self._law_in_k("Delta", np.arange(len(alpha))))
        bad = np.flatnonzero(~(Delta > 0))
        if bad.size:
            j = int(bad[0])
            self._check_value("Delta", float(Delta[j]), float(t[j]), j)
        tab.update({"t": t, "alpha": alpha, "Delta": Delta})
        return {"t": t, "alpha": alpha, "Delta": Delta}

    def _check_value(self, which: str, v: float, t: float, k: int) -> None:
        law = self.alpha_law if which == "alpha" else self.Delta_law
        # α_k > 0 and Δ_k > 0, so T_k = α_k Δ_k > 0: the rule of Noise.require_positive_T (at T = 0
        # the FEM has no diffusion and the Monte Carlo no noise)
        if not (v > 0 and math.isfinite(v)):
            desc = self.describe_law(which)
            why = "" if which == "alpha" else " (T = alpha*Delta must stay > 0)"
            raise InputError(f"{which} schedule {desc!r} is {v:g} at step k = {k} (t = {t:g}); it must be "
                             f"finite and > 0{why}")

    def alpha_k(self, k: Any) -> np.ndarray:
        """α_k at the SGD steps ``k`` (whole numbers ≥ 0)."""
        return self._at_steps("alpha", k)

    def Delta_k(self, k: Any) -> np.ndarray:
        """Δ_k at the SGD steps ``k``."""
        return self._at_steps("Delta", k)

    def _at_steps(self, which: str, k: Any) -> np.ndarray:
        k = np.asarray(k, dtype=np.int64)
        law = self.alpha_law if which == "alpha" else self.Delta_law
        if not law.in_time and not self.alpha_law.in_time:
            return self._law_in_k(which, k)
        n = int(np.max(k)) + 1 if k.size else 0
        while len(self._table.get("alpha", ())) < n:
            self.table(2.0 * (self._table["t"][-1] if self._table else n * self.alpha) + self.alpha)
        return self._table[which][k]

    def step_of(self, t: Any) -> np.ndarray:
        """The SGD step k with t_k ≤ t < t_{k+1} (time units; t ≥ 0)."""
        t = np.asarray(t, dtype=float)
        tab = self.table(float(np.max(t)) * (1 + 1e-12) + self.alpha)
        return np.clip(np.searchsorted(tab["t"], t, side="right") - 1, 0, len(tab["alpha"]) - 1)

    def time_of(self, k: Any) -> np.ndarray:
        """t_k = Σ_{j<k} α_j of the SGD steps ``k``."""
        k = np.asarray(k, dtype=np.int64)
        if self.is_constant:
            return k * self.alpha
        n = int(np.max(k)) if k.size else 0
        if not self.alpha_law.in_time:
            return np.concatenate([[0.0], np.cumsum(self.alpha_k(np.arange(n)))])[k]
        self._at_steps("alpha", n)
        return self._table["t"][k]

    def alpha_t(self, t: Any) -> np.ndarray:
        """α(t): the law at time t (a law in t), or α_k of the step holding t."""
        if self.alpha_law.in_time:
            return self._law_in_t("alpha", t)
        if self.alpha_law.name == "constant":
            return np.full(np.shape(t), dict(self.alpha_law.params)["alpha0"])
        return self.alpha_k(self.step_of(t))

    def Delta_t(self, t: Any) -> np.ndarray:
        """Δ(t): the law at time t (a law in t), or Δ_k of the step holding t."""
        if self.Delta_law.in_time:
            return self._law_in_t("Delta", t)
        if self.Delta_law.name == "constant":
            return np.full(np.shape(t), self.Delta)
        return self.Delta_k(self.step_of(t))

    def T(self, t: Any) -> np.ndarray:
        """T(t) = α(t) Δ(t), the noise level (docs/model.md §10)."""
        return self.alpha_t(t) * self.Delta_t(t)

    def T_k(self, k: Any) -> np.ndarray:
        """T_k = α_k Δ_k of the SGD steps ``k``."""
        return self.alpha_k(k) * self.Delta_k(k)

    def jumps(self, t_end: float) -> np.ndarray:
        """Times in (0, t_end) where T(t) jumps (module doc), sorted."""
        if self.is_constant:
            return np.zeros(0)
        out = []
        for which, law in (("alpha", self.alpha_law), ("Delta", self.Delta_law)):
            if law.in_time:
                out += _heaviside_roots(law.text)
            elif law.name != "constant":
                tab = self.table(t_end)
                v = tab[which]
                if v.size > 1:
                    big = np.flatnonzero(np.abs(np.diff(v)) > JUMP_RELATIVE * np.maximum(np.abs(v[:-1]), 1e-300)) + 1
                    out += list(tab["t"][big])
        return np.array(sorted({float(s) for s in out if 0 < s < t_end}))

    def T_range(self, t_end: float) -> Tuple[float, float]:
        """(min, max) of T over [0, t_end] (at the SGD steps and, for a law in t, at those times)."""
        tab = self.table(t_end)
        T = tab["alpha"] * tab["Delta"]
        return float(T.min()), float(T.max())

    def check(self, t_end: float, alpha_max: float | None = None) -> None:
        """Refuse (InputError naming the value) an α_k, Δ_k not finite and > 0 up
        to ``t_end``, or an α_k above ``alpha_max`` (the stability bound of
        docs/model.md §5, computed by the caller)."""
        tab = self.table(t_end)
        if alpha_max is not None and tab["alpha"].size:
            j = int(np.argmax(tab["alpha"]))
            if tab["alpha"][j] > alpha_max:
                raise InputError(f"the schedule's alpha {tab['alpha'][j]:.6g} (step k = {j}, t = {tab['t'][j]:.6g}) "
                                 f"exceeds the SGD stability bound alpha < {alpha_max:.6g} (docs/model.md §5)")

    def as_dict(self) -> dict:
        """The schedule for summary.json (laws, the model's α and Δ, the time convention)."""
        return {"alpha": self.alpha_law.as_dict(), "Delta": self.Delta_law.as_dict(),
                "model_alpha": self.alpha, "model_Delta": self.Delta,
                "time": "t_k = sum of alpha_j over j < k (time units of SGD steps)"}

    def describe_law(self, which: str) -> str:
        """One law as text: the expression, or ``name(key=value, ...)``."""
        law = self.alpha_law if which == "alpha" else self.Delta_law
        if law.name == "expression":
            return law.text or ""
        return law.name + "(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in law.params) + ")"

    def describe(self) -> str:
        """One line for logs and figure titles."""
        return f"alpha: {self.describe_law('alpha')}; Delta: {self.describe_law('Delta')}"


def _heaviside_roots(text: str | None) -> list:
    """Real roots in t of the Heaviside arguments of an expression (where it jumps)."""
    import sympy

    t, k = sympy.symbols("t k", real=True)
    expr = parse(text, (), what="schedule", extra={"t": t, "k": k, "Heaviside": sympy.Heaviside})
    roots = []
    for h in expr.atoms(sympy.Heaviside):
        try:
            sol = sympy.solve(sympy.Eq(h.args[0], 0), t)
        except Exception:  # a transcendental argument: no landing point (the stepper still resolves it)
            sol = []
        roots += [float(s) for s in sol if s.is_real]
    return roots


def parse_params(items: Sequence[str]) -> Dict[str, Any]:
    """``KEY=VALUE`` strings (``--schedule-param``) to a dict: numbers as
    floats, ``then`` as text.  Raises InputError on an item without ``=`` or
    a repeated key."""
    out: Dict[str, Any] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--schedule-param {item!r} is not KEY=VALUE")
        if key in out:
            raise InputError(f"--schedule-param {key} given twice")
        out[key] = value.strip() if key == "then" else _number(key, value)
    return out
