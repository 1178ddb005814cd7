"""Any two-variable model (docs/model.md §7): a loss and a noise written as expressions.

A :class:`Model` is a loss ``L(θ1, θ2)`` written as text, named constants with
values, a noise model (``sgd``, ``sgd-diagonal``, ``isotropic`` or a user
covariance ``Σ11, Σ12, Σ22``) and the SGD hyper-parameters ``alpha``,
``Delta`` (``T = alpha Delta``)::

    θ_{k+1} = θ_k − α (∇L(θ_k) + η_k),   Cov η = Σ(θ_k),   D = (α/2) Σ

    noise          Σ                 (Σ = Δ R Rᵀ with the factor R)
    sgd            Δ H²              R = H
    sgd-diagonal   diag of Δ H²      R = diag sqrt((H²)_ii)
    isotropic      Δ I               R = I
    covariance     as given          (symmetric square root, numerically)

The formulas (∇L, H, D, ∇·D, R) are derived **once**, symbolically with
sympy, from the parsed expression (:class:`Derivation`, cached by the
expression's canonical form and the noise); the numpy, UFL and numba
callables are generated from those same symbolic objects.  Numbers (the
constants, ``alpha``, ``Delta``) stay arguments: a sweep over them reuses one
derivation, one compiled form and one compiled kernel.

Parsing is restricted: the text may hold numbers, ``+ - * / ** ^ ( ) ,``, the
coordinates ``theta1``, ``theta2`` (aliases ``x``, ``y``; ``z`` is ``theta3``
of a model of three or more variables), the declared
constants and the elementary functions of :data:`FUNCTIONS`; anything else
(attribute access, strings, other names) is refused with one line before
sympy sees the text.  The symbolic work is bounded (:data:`MAX_TEXT`,
:data:`MAX_NODES`, :data:`MAX_EXPONENT`, numbers within double precision, a
valley is recognised only up to degree 6, :data:`SYMBOLIC_SECONDS`): a short text such
as ``x**(10**10)`` once made sympy expand a polynomial of 10^10 terms.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io as _io
import keyword
import math
import re
import tokenize
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from fpsolve.model.valley import PRESETS, DEFAULT_PRESET, Landscape, ModelError, Noise, check_case


__all__ = ["Model", "Derivation", "NOISES", "FUNCTIONS", "parse", "derivation", "as_model"]

#: Noise models of docs/model.md §7 (names are the contract of the CLI and the API);
#: a user covariance is ``noise="covariance"`` with ``covariance=(S11, S12, S22)``.
NOISES = ("sgd", "sgd-diagonal", "isotropic")
COVARIANCE = "covariance"

#: Bounds on the symbolic work one expression may ask for (refused beyond them
#: with one line): characters of text, nodes of its syntax tree, the size of a
#: numeric exponent, and the seconds that parsing, deriving and checking a
#: model may take.  A number beyond double precision is refused as well.
MAX_TEXT = 4000
MAX_NODES = 3000
MAX_EXPONENT = 256
SYMBOLIC_SECONDS = 10.0
#: Largest |loss|, |gradient|, |Σ|, |∇·D| on the disk's sample points: the
#: solvers multiply two coefficients (LU pivots, D ∇φ · ∇w), and beyond about
#: 1e154 the product overflows ((x+y)**200 on the default disk: Σ 1e187, the
#: eigen-solve divided by a zero norm).
MAX_MAGNITUDE = 1e150

#: Coordinates and their aliases (θ3 … θN too in an N-variable model, docs/model.md §9).
COORDINATES = {"theta1": 0, "theta2": 1, "x": 0, "y": 1, "z": 2}
#: The aliases of θ1, θ2, θ3 (``z`` makes a loss 3-variable: :func:`count_variables`).
ALIASES = {"x": 1, "y": 2, "z": 3}
#: A coordinate name θk of an N-variable model (k = 1 … N).
_THETA = re.compile(r"^theta([1-9][0-9]*)$")
#: Most variables an expression model may have: its Hessian is derived
#: symbolically entry by entry (N² derivatives) and evaluated in O(N²) per step.
MAX_VARIABLES = 256
#: Names that are not constants: the noise symbols usable in a covariance.
NOISE_SYMBOLS = ("alpha", "Delta")


def _functions() -> Dict[str, Any]:
    import sympy

    return {"exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "sin": sympy.sin, "cos": sympy.cos,
            "tan": sympy.tan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
            "atan": sympy.atan, "pi": sympy.pi, "E": sympy.E}


#: Elementary functions and constants a model may use.
FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan", "pi", "E")
_RESERVED = set(FUNCTIONS) | set(COORDINATES) | set(NOISE_SYMBOLS) | {"T"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_OPS = {"+", "-", "*", "/", "**", "^", "(", ")", ","}


def _symbols():
    import sympy

    x, y = sympy.symbols("theta1 theta2", real=True)
    alpha, delta = sympy.symbols("alpha Delta", positive=True)
    return x, y, alpha, delta


def _coordinates(n: int) -> tuple:
    """The sympy symbols θ1 … θn (θ1, θ2 are those of :func:`_symbols`)."""
    import sympy

    return tuple(sympy.Symbol(f"theta{k}", real=True) for k in range(1, n + 1))


def count_variables(text: Any) -> int:
    """N of a loss text: the largest k of the names ``theta<k>`` it uses, at
    least 2 (``x``, ``y`` are θ1, θ2; ``z`` is θ3, so a text in x, y, z counts 3).
    Text that is not a string counts 2 (:func:`parse` names the problem)."""
    if not isinstance(text, str):
        return 2
    found = [int(k) for k in re.findall(r"(?<![A-Za-z0-9_])theta([1-9][0-9]*)(?![A-Za-z0-9_])", text)]
    found += [ALIASES[a] for a in re.findall(r"(?<![A-Za-z0-9_])([xyz])(?![A-Za-z0-9_])", text)]
    return max([2] + found)


def check_constant_name(name: str) -> None:
    """Refuse a constant name that is not an identifier or that is reserved."""
    if not _NAME.match(name or "") or keyword.iskeyword(name):
        raise ModelError(f"constant name {name!r} is not a name (letters, digits, _)")
    if name in _RESERVED or _THETA.match(name):
        raise ModelError(f"constant name {name!r} is reserved (coordinates, functions, alpha, Delta, T)")


def parse(text: str, constants: Sequence[str], *, what: str = "loss", noise_symbols: bool = False,
          variables: int = 2, extra: Mapping[str, Any] | None = None) -> Any:
    """Parse ``text`` into a sympy expression in a restricted namespace.

    Allowed: numbers, ``+ - * / ** ^ ( ) ,``, ``theta1``/``theta2`` (``x``/``y``;
    ``z`` for ``theta3`` where N >= 3),
    the names in ``constants``, the functions of :data:`FUNCTIONS`, with
    ``noise_symbols`` ``alpha`` and ``Delta``, and the names of ``extra``
    (name → sympy object, e.g. a schedule's ``t``, ``k`` and ``Heaviside``,
    docs/model.md §10).  Raises ModelError (one line
    naming the problem) on anything else: syntax errors, unknown names,
    attribute access, strings, complex numbers.  ``variables`` = N admits
    ``theta3`` … ``thetaN`` as well (an N-variable model, docs/model.md §9).
    """
    import sympy
    from sympy.parsing.sympy_parser import auto_number, convert_xor, parse_expr

    if not isinstance(text, str):
        raise ModelError(f"{what} must be text (got {type(text).__name__} {text!r})")
    if not text.strip():
        raise ModelError(f"{what} is empty")
    if len(text) > MAX_TEXT:
        raise ModelError(f"{what} {_short(text)} has {len(text)} characters; at most {MAX_TEXT} are read")
    allowed = (set(FUNCTIONS) | {c for c, k in COORDINATES.items() if k < variables} | set(constants)
               | {f"theta{k}" for k in range(3, variables + 1)} | set(extra or {}))
    if noise_symbols:
        allowed |= set(NOISE_SYMBOLS)
    try:
        tokens = list(tokenize.generate_tokens(_io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise ModelError(f"{what} {text!r}: syntax error ({exc.args[0] if exc.args else exc})") from None
    for tok in tokens:
        kind, s = tok.type, tok.string
        if kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT):
            continue
        if kind == tokenize.NAME:
            if s not in allowed:
                hint = "" if s in _RESERVED or extra else f" (declare a constant with --param {s}=VALUE)"
                if _THETA.match(s) or s in COORDINATES:
                    hint = f" (the model has N = {variables} variables theta1 ... theta{variables})"
                raise ModelError(f"{what} {text!r}: unknown name {s!r}{hint}")
        elif kind == tokenize.NUMBER:
            if not re.fullmatch(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
                raise ModelError(f"{what} {text!r}: number {s!r} is not a real decimal number")
        elif kind == tokenize.OP:
            if s not in _OPS:
                raise ModelError(f"{what} {text!r}: operator {s!r} is not allowed (use + - * / ** ^ and parentheses)")
        else:
            raise ModelError(f"{what} {text!r}: {s!r} is not allowed")
    x, y, alpha, delta = _symbols()
    local = dict(_functions())
    local.update({"theta1": x, "theta2": y, "x": x, "y": y})
    local.update({f"theta{k + 1}": s for k, s in enumerate(_coordinates(variables)) if k >= 2})
    if variables >= 3:
        local["z"] = local["theta3"]
    local.update({c: sympy.Symbol(c, real=True) for c in constants})
    if noise_symbols:
        local.update({"alpha": alpha, "Delta": delta})
    local.update(extra or {})
    glob = {"__builtins__": {}, "Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational}
    try:
        _check_work(text, f"{what} {_short(text)}")  # before sympy computes 10**(10**10)
        expr = parse_expr(text, local_dict=local, global_dict=glob, transformations=(auto_number, convert_xor))
    except ModelError:
        raise
    except Exception as exc:  # SyntaxError, TypeError (e.g. exp(x, y)), TokenError ...
        raise ModelError(f"{what} {_short(text)}: syntax error ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    if (not isinstance(expr, sympy.Expr) or expr.is_Relational
            or isinstance(expr, sympy.logic.boolalg.BooleanFunction) or expr.has(sympy.I)):
        raise ModelError(f"{what} {text!r} is not a real expression")
    if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
        raise ModelError(f"{what} {text!r} is not finite")
    return expr


def _short(text: Any, width: int = 60) -> str:
    text = text if isinstance(text, str) else repr(text)  # a number passed as the loss is named, not len()-ed
    return repr(text if len(text) <= width else text[:width - 3] + "...")


class _TooLarge(Exception):
    pass


_FLOAT_FUNCTIONS = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos,
                    "tan": math.tan, "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh, "atan": math.atan}
_FLOAT_CONSTANTS = {"pi": math.pi, "E": math.e}


def _check_work(text: str, label: str) -> None:
    """Refuse (ModelError) a checked text whose evaluation by sympy would be
    unbounded work: more than :data:`MAX_NODES` nodes, a numeric exponent
    beyond :data:`MAX_EXPONENT` in size, or a number beyond double precision.

    Judged on Python's syntax tree, children before their parent, with the
    numbers evaluated in floating point: ``10**(10**10)`` is refused before
    anything computes it.  Iterative, so a long sum does not recurse.
    """
    import ast

    try:
        tree = ast.parse(text.replace("^", "**").strip(), mode="eval")
    except SyntaxError:
        return  # sympy's parser names the syntax error
    order, stack = [], [tree.body]
    while stack:
        node = stack.pop()
        order.append(node)
        if len(order) > MAX_NODES:
            raise ModelError(f"{label} is too large: more than {MAX_NODES} nodes")
        stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
    value: Dict[int, Optional[float]] = {}  # a node's float value; None: depends on a coordinate or constant
    for node in reversed(order):  # every child before its parent
        kids = [value.get(id(c)) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
        v: Optional[float] = None
        try:
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
                v = float(node.value)
            elif isinstance(node, ast.Name):
                v = _FLOAT_CONSTANTS.get(node.id)
            elif isinstance(node, ast.UnaryOp) and kids[0] is not None:
                v = -kids[0] if isinstance(node.op, ast.USub) else kids[0]
            elif isinstance(node, ast.BinOp):
                left, right = value.get(id(node.left)), value.get(id(node.right))
                if isinstance(node.op, ast.Pow) and right is not None and abs(right) > MAX_EXPONENT:
                    raise _TooLarge(f"{label}: exponent {right:.6g} is larger than {MAX_EXPONENT} in size "
                                    "(fpsolve bounds the symbolic work)")
                if left is not None and right is not None:
                    op = type(node.op)
                    v = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__,
                         ast.Div: float.__truediv__, ast.Pow: float.__pow__}[op](left, right)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in _FLOAT_FUNCTIONS and kids[1:] and None not in kids[1:]):
                v = _FLOAT_FUNCTIONS[node.func.id](*kids[1:])
        except _TooLarge as exc:
            raise ModelError(str(exc)) from None
        except OverflowError:
            v = math.inf
        except (ArithmeticError, ValueError, TypeError, KeyError):
            v = None  # 1/0, log(-1), a complex power: sympy's checks name these
        if isinstance(v, complex):
            v = None
        if v is not None and math.isinf(v):
            raise ModelError(f"{label}: the number {ast.unparse(node)[:60]} is beyond double precision (1.8e308)")
        value[id(node)] = v


class _OverBudget(Exception):
    pass


@contextlib.contextmanager
def symbolic_budget(label: str, seconds: float = SYMBOLIC_SECONDS):
    """Raise ModelError when the block (sympy work on a user's expression) runs
    longer than ``seconds``.  A SIGALRM timer, so only in the main thread and
    only where nobody else uses SIGALRM; elsewhere the block runs unbounded
    (the structural bounds of :func:`parse` still hold)."""
    import signal
    import threading

    usable = (threading.current_thread() is threading.main_thread()
              and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0)
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise _OverBudget

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _OverBudget:
        raise ModelError(f"{label}: the symbolic work took more than {seconds:g} s; "
                         "simplify the expression (fpsolve bounds the symbolic work)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def polynomial_degree_bound(expr: Any, symbols: Sequence[Any]) -> Optional[int]:
    """An upper bound of the total degree of ``expr`` in ``symbols`` without
    expanding it, or None when it is not visibly a polynomial in them."""
    if not expr.free_symbols & set(symbols):
        return 0
    if expr in symbols:
        return 1
    if expr.is_Add:
        parts = [polynomial_degree_bound(a, symbols) for a in expr.args]
        return None if None in parts else max(parts)
    if expr.is_Mul:
        parts = [polynomial_degree_bound(a, symbols) for a in expr.args]
        return None if None in parts else sum(parts)
    if expr.is_Pow and expr.exp.is_Integer and int(expr.exp) >= 0:
        inner = polynomial_degree_bound(expr.base, symbols)
        return None if inner is None else inner * int(expr.exp)
    return None


# --------------------------------------------------------------------------
# The symbolic derivation, cached by canonical form
# --------------------------------------------------------------------------

@dataclasses.dataclass
class Derivation:
    """∇L, H, Σ-factor, D and ∇·D of a model as sympy expressions in the
    symbols ``(θ1, θ2, *constants, alpha, Delta)`` (docs/model.md §7).

    ``factor`` is R (2×2, row-major) with Σ = Δ R Rᵀ for the built-in noises;
    ``None`` for a user covariance (its square root is taken numerically).
    ``sigma`` = (Σ11, Σ12, Σ22).  ``key`` is the canonical form (cache key).
    """

    key: str
    constants: Tuple[str, ...]
    noise: str
    symbols: tuple
    loss: Any
    gradient: Tuple[Any, Any]
    hessian: Tuple[Any, Any, Any]
    sigma: Tuple[Any, Any, Any]
    factor: Optional[Tuple[Any, Any, Any, Any]]
    diffusion: Tuple[Any, Any, Any]
    divergence: Tuple[Any, Any]
    seconds: float = 0.0
    _numpy: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    def numpy(self, name: str):
        """numpy callable ``f(θ1, θ2, *constant values, alpha, Delta)`` of the
        named tuple of expressions (``loss``, ``gradient``, ``hessian``,
        ``sigma``, ``diffusion``, ``divergence``), generated by lambdify."""
        if name not in self._numpy:
            import sympy

            exprs = getattr(self, name)
            single = not isinstance(exprs, tuple)
            f = sympy.lambdify(self.symbols, [exprs] if single else list(exprs), modules="numpy", cse=True)

            def call(*args, _f=f, _single=single):
                shape = np.broadcast(*[np.asarray(a) for a in args[:2]]).shape
                out = [np.broadcast_to(np.asarray(v, dtype=float), shape) + 0.0 for v in _f(*args)]
                return out[0] if _single else tuple(out)

            self._numpy[name] = call
        return self._numpy[name]


_DERIVATIONS: Dict[str, Derivation] = {}
_BY_TEXT: Dict[tuple, Derivation] = {}


def _key(loss: Any, constants: Sequence[str], noise: str, covariance: Optional[Sequence[Any]]) -> str:
    import sympy

    parts = [sympy.srepr(loss), noise, ",".join(constants)]
    if covariance is not None:
        parts += [sympy.srepr(c) for c in covariance]
    return "|".join(parts)


def derivation(loss: Any, constants: Sequence[str], noise: str,
               covariance: Optional[Sequence[Any]] = None) -> Derivation:
    """The :class:`Derivation` of a parsed loss and noise, derived once per
    canonical form (later calls return the cached object)."""
    import time

    import sympy

    constants = tuple(constants)
    key = _key(loss, constants, noise, covariance)
    if key in _DERIVATIONS:
        return _DERIVATIONS[key]
    start = time.perf_counter()
    x, y, alpha, delta = _symbols()
    consts = tuple(sympy.Symbol(c, real=True) for c in constants)
    gx, gy = sympy.diff(loss, x), sympy.diff(loss, y)
    h11, h12, h22 = sympy.diff(gx, x), sympy.diff(gx, y), sympy.diff(gy, y)
    factor = None
    if noise == "sgd":
        factor = (h11, h12, h12, h22)
        s = (delta * (h11 ** 2 + h12 ** 2), delta * h12 * (h11 + h22), delta * (h12 ** 2 + h22 ** 2))
    elif noise == "sgd-diagonal":
        s11, s22 = h11 ** 2 + h12 ** 2, h12 ** 2 + h22 ** 2
        factor = (sympy.sqrt(s11), sympy.Integer(0), sympy.Integer(0), sympy.sqrt(s22))
        s = (delta * s11, sympy.Integer(0), delta * s22)
    elif noise == "isotropic":
        factor = (sympy.Integer(1), sympy.Integer(0), sympy.Integer(0), sympy.Integer(1))
        s = (delta, sympy.Integer(0), delta)
    elif noise == COVARIANCE:
        if covariance is None or len(covariance) != 3:
            raise ModelError("a user covariance needs three expressions S11 S12 S22")
        s = tuple(covariance)
    else:
        raise ModelError(f"noise must be one of {', '.join(NOISES)} or a covariance (got {noise!r})")
    d = tuple(alpha / 2 * si for si in s)
    div = (sympy.diff(d[0], x) + sympy.diff(d[1], y), sympy.diff(d[1], x) + sympy.diff(d[2], y))
    out = Derivation(key=key, constants=constants, noise=noise, symbols=(x, y, *consts, alpha, delta),
                     loss=loss, gradient=(gx, gy), hessian=(h11, h12, h22), sigma=s, factor=factor,
                     diffusion=d, divergence=div)
    out.seconds = time.perf_counter() - start
    _DERIVATIONS[key] = out
    return out


@dataclasses.dataclass
class NDerivation:
    """∇L and H of an N-variable model (N > 2, docs/model.md §9) as sympy
    expressions in ``(θ1 … θN, *constants, alpha, Delta)``, derived once.

    ``hessian[i][j]`` (a full N × N nested tuple, symmetric: each entry is
    derived once).  The diffusion tensor D = (α/2) Σ (for ``sgd``:
    (T/2) H², N × N; ``sgd-diagonal`` its diagonal; ``isotropic`` (T/2) I) is
    derived on request (:meth:`diffusion`, O(N³) symbolic work): the Monte
    Carlo needs only the factor R (Σ = Δ R Rᵀ: H, diag sqrt((H²)_ii) or I),
    which it takes from ``hessian`` in the compiled kernel.
    """

    key: str
    constants: Tuple[str, ...]
    noise: str
    variables: int
    symbols: tuple
    loss: Any
    gradient: Tuple[Any, ...]
    hessian: Tuple[Tuple[Any, ...], ...]
    seconds: float = 0.0
    _numpy: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    def diffusion(self) -> Tuple[Tuple[Any, ...], ...]:
        """D = (α/2) Σ as an N × N nested tuple of sympy expressions (docs/model.md §7, §9)."""
        import sympy

        n, h = self.variables, self.hessian
        alpha, delta = self.symbols[-2:]
        if self.noise == "isotropic":
            return tuple(tuple(alpha * delta / 2 if i == j else sympy.Integer(0) for j in range(n)) for i in range(n))
        h2 = [[sum(h[i][k] * h[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
        diagonal = self.noise == "sgd-diagonal"
        return tuple(tuple(alpha * delta / 2 * h2[i][j] if (i == j or not diagonal) else sympy.Integer(0)
                           for j in range(n)) for i in range(n))

    def numpy(self, name: str):
        """numpy callable ``f(theta, *constant values, alpha, Delta)`` with
        ``theta`` of shape (..., N): ``loss`` → (...), ``gradient`` → (..., N),
        ``hessian`` → (..., N, N); lambdify of the symbolic objects."""
        if name not in self._numpy:
            import sympy

            exprs = {"loss": [self.loss], "gradient": list(self.gradient),
                     "hessian": [e for row in self.hessian for e in row]}[name]
            f = sympy.lambdify(self.symbols, exprs, modules="numpy", cse=True)
            n = self.variables

            def call(theta, *args, _f=f, _name=name):
                theta = np.asarray(theta, dtype=float)
                shape = theta.shape[:-1]
                out = np.stack([np.broadcast_to(np.asarray(v, dtype=float), shape) + 0.0
                                for v in _f(*np.moveaxis(theta, -1, 0), *args)], axis=-1)
                return out[..., 0] if _name == "loss" else (out.reshape(shape + (n, n)) if _name == "hessian"
                                                             else out)

            self._numpy[name] = call
        return self._numpy[name]


def derivation_n(loss: Any, constants: Sequence[str], noise: str, variables: int) -> NDerivation:
    """The :class:`NDerivation` of a parsed loss in θ1 … θN (N = ``variables``),
    derived once per canonical form; the noise must be a built-in one
    (a user covariance in N > 2 dimensions is refused, naming N)."""
    import time

    import sympy

    if noise not in NOISES:
        raise ModelError(f"noise for a model of N = {variables} variables must be one of {', '.join(NOISES)} "
                         f"(got {noise!r}; a user covariance needs N = 2)")
    constants = tuple(constants)
    key = _key(loss, constants, noise, None) + f"|N={variables}"
    if key in _DERIVATIONS:
        return _DERIVATIONS[key]
    start = time.perf_counter()
    theta = _coordinates(variables)
    _, _, alpha, delta = _symbols()
    consts = tuple(sympy.Symbol(c, real=True) for c in constants)
    grad = tuple(sympy.diff(loss, t) for t in theta)
    rows = [[None] * variables for _ in range(variables)]
    for i in range(variables):
        for j in range(i, variables):
            rows[i][j] = rows[j][i] = sympy.diff(grad[i], theta[j])
    out = NDerivation(key=key, constants=constants, noise=noise, variables=variables,
                      symbols=(*theta, *consts, alpha, delta), loss=loss, gradient=grad,
                      hessian=tuple(tuple(r) for r in rows))
    out.seconds = time.perf_counter() - start
    _DERIVATIONS[key] = out
    return out


def ball_points(radius: float, center: Sequence[float], n_random: int = 64) -> np.ndarray:
    """Sample points (P, N) of the closed ball ``|θ − center| ≤ radius`` in N
    = len(center) dimensions: the centre, 4 radii along each axis (both
    signs) and ``n_random`` fixed pseudo-random points (uniform in the ball,
    seed 0: the same points every call)."""
    c = np.asarray(center, dtype=float)
    n = len(c)
    axes = np.concatenate([s * r * np.eye(n) for r in radius * np.arange(1, 5) / 4 for s in (1.0, -1.0)])
    rng = np.random.default_rng(0)
    u = rng.standard_normal((n_random, n))
    u *= (radius * rng.random(n_random) ** (1.0 / n) / np.linalg.norm(u, axis=1))[:, None]
    return c + np.concatenate([np.zeros((1, n)), axes, u])


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------

#: The valley of docs/model.md §1 written as an expression in its coefficients.
VALLEY_EXPRESSION = "0.5*(a0 + a2*theta1**2 + a4*theta1**4)*theta2**2 + 0.5*eps*theta1**2"
#: How sympy prints the parsed VALLEY_EXPRESSION (tests/test_symbolic.py checks it).
VALLEY_CANONICAL = "0.5*eps*theta1**2 + theta2**2*(0.5*a0 + 0.5*a2*theta1**2 + 0.5*a4*theta1**4)"


def _noise_level(alpha: float, Delta: Optional[float], T: Optional[float]) -> Noise:
    """The Noise of ``alpha`` with ``Delta`` or ``T`` (Delta = T / alpha;
    default Delta = 1); ModelError when both are given or a value is bad."""
    if Delta is not None and T is not None:
        raise ModelError("give Delta or T, not both")
    return Noise.from_temperature(T, alpha) if T is not None else Noise(alpha, 1.0 if Delta is None else Delta)


def _with_preset_name(land: Landscape) -> Landscape:
    """``land`` named after the preset whose coefficients it has (if any)."""
    for preset, values in PRESETS.items():
        if all(values[k] == getattr(land, k) for k in values):
            return dataclasses.replace(land, name=preset)
    return land


def _disk_points(radius: float, center: Tuple[float, float], n_r: int = 12, n_a: int = 24) -> Tuple[np.ndarray, np.ndarray]:
    """Sample points of the closed disk: the centre and a polar grid to the wall."""
    r = radius * np.arange(1, n_r + 1) / n_r
    a = 2 * np.pi * (np.arange(n_a) + 0.5) / n_a
    rr, aa = np.meshgrid(r, a, indexing="ij")
    x = np.concatenate([[center[0]], (center[0] + rr * np.cos(aa)).ravel()])
    y = np.concatenate([[center[1]], (center[1] + rr * np.sin(aa)).ravel()])
    return x, y


@dataclasses.dataclass(frozen=True)
class Model:
    """A two-variable model of docs/model.md §7: loss, constants, noise, alpha, Delta.

    Build it with :meth:`from_expression` or :meth:`preset` (which validate);
    ``valley`` is the :class:`~fpsolve.model.valley.Landscape` when the loss is the
    valley family of docs/model.md §1 (recognised from the expression), else None.
    Time is in units of alpha SGD steps; θ in the loss's units.
    """

    loss: str
    params: Tuple[Tuple[str, float], ...]
    noise: str
    covariance: Optional[Tuple[str, str, str]]
    alpha: float
    Delta: float
    name: str = "custom"
    valley: Optional[Landscape] = None
    variables: int = 2

    # ---- construction -------------------------------------------------------
    @classmethod
    def from_expression(cls, loss: str, params: Optional[Mapping[str, Any]] = None, noise: Any = "sgd", *,
                        alpha: float = 0.05, Delta: Optional[float] = None, T: Optional[float] = None,
                        name: str = "custom", variables: Optional[int] = None) -> "Model":
        """A model from the loss text (docs/model.md §7).

        ``params``: {name: value} of the constants the text uses (a value of
        None is refused as "constant without value"); ``noise``: one of
        :data:`NOISES` or three expressions ``(S11, S12, S22)`` of the
        covariance Σ (may use ``alpha``, ``Delta``, the constants); give
        ``Delta`` or ``T`` (``Delta = T/alpha``; default Delta = 1).
        Raises ModelError naming the problem.  Finiteness, Σ ⪰ 0 and frozen
        coordinates depend on the domain: :meth:`check_formulas` (called by
        the solvers and the CLI with their disk).

        ``variables`` = N (default: the largest k of the names ``theta<k>``
        in the text, at least 2): N > 2 makes an N-variable model
        (docs/model.md §9) whose ∇L and H sympy derives here, once, within
        the symbolic bounds; its noise must be a built-in one, N at most
        :data:`MAX_VARIABLES`.  Only the N-dimensional Monte Carlo
        (:mod:`fpsolve.mc.nensemble`) samples it; the FEM and the
        two-variable tools refuse it (:func:`as_model`).
        """
        found = count_variables(loss)
        if variables is None:
            variables = found
        if not (isinstance(variables, (int, np.integer)) and not isinstance(variables, bool) and variables >= 2):
            raise ModelError(f"variables must be an integer N >= 2 (got {variables!r})")
        variables = int(variables)
        if found > variables:
            raise ModelError(f"loss {_short(loss)} uses theta{found} but the model has N = {variables} variables")
        if variables > MAX_VARIABLES:
            raise ModelError(f"a loss of N = {variables} variables is beyond the {MAX_VARIABLES} an expression model "
                             "may have (its Hessian is derived entry by entry: N^2 derivatives)")
        params = dict(params or {})
        for k, v in params.items():
            check_constant_name(k)
            if v is None:
                raise ModelError(f"constant {k!r} has no value (give --param {k}=VALUE)")
            try:
                ok = math.isfinite(float(v))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ModelError(f"constant {k}={v!r} must be a finite number")
        nz = _noise_level(alpha, Delta, T)
        if isinstance(noise, str):
            if noise not in NOISES:
                raise ModelError(f"noise must be one of {', '.join(NOISES)} or three covariance expressions (got {noise!r})")
            kind, cov = noise, None
        else:
            cov = tuple(str(c) for c in noise)
            if len(cov) != 3:
                raise ModelError(f"a noise covariance needs three expressions S11 S12 S22 (got {len(cov)})")
            kind = COVARIANCE
        consts = tuple(sorted(params))
        if variables > 2:
            if cov is not None:
                raise ModelError(f"a user noise covariance needs N = 2 variables (the loss has N = {variables}); "
                                 f"use noise {', '.join(NOISES)}")
            with symbolic_budget(f"loss {_short(loss)}"):
                model = cls(loss=loss, params=tuple((k, float(params[k])) for k in consts), noise=kind,
                            covariance=None, alpha=nz.alpha, Delta=nz.Delta, name=name, variables=variables)
                d = model.derivation  # derived once, here, within the budget
            if kind != "isotropic":  # the rule of check_formulas in 2-D (Landscape: a frozen theta1), symbolically
                free = d.loss.free_symbols
                for i, t in enumerate(d.symbols[:variables]):
                    if t not in free:
                        raise ModelError(f"theta{i + 1} does not appear in the loss: it would stay frozen (no drift, "
                                         f"no {kind} noise; no unique stationary density, docs/model.md §7); "
                                         "use it in the loss, or number the variables without gaps")
            return model
        with symbolic_budget(f"loss {_short(loss)}"):
            parse(loss, consts, what="loss")  # raises on bad text
            if cov is not None:
                for label, c in zip(("S11", "S12", "S22"), cov):
                    parse(c, consts, what=f"noise covariance {label}", noise_symbols=True)
            model = cls(loss=loss, params=tuple((k, float(params[k])) for k in consts), noise=kind,
                        covariance=cov, alpha=nz.alpha, Delta=nz.Delta, name=name)
            object.__setattr__(model, "valley", model._recognise_valley())
        return model

    @classmethod
    def preset(cls, preset: str = DEFAULT_PRESET, *, noise: str = "sgd", alpha: float = 0.05,
               Delta: Optional[float] = None, T: Optional[float] = None, **overrides: Optional[float]) -> "Model":
        """A preset of docs/model.md §1 (coefficients overridable, None = keep) as
        the expression :data:`VALLEY_EXPRESSION`; refused like a Landscape.

        With noise ``sgd`` / ``sgd-diagonal`` the model is the valley by
        construction: it is built without sympy (whose import and parse cost
        about 0.5 s of a 3 s run), and its derivation is made only when
        something asks for it (tests check it equals the recognised valley)."""
        land = Landscape.from_preset(preset, **overrides)  # validates (incl. a frozen θ1)
        if noise not in ("sgd", "sgd-diagonal"):
            params = {"a0": land.a0, "a2": land.a2, "a4": land.a4, "eps": land.eps}
            return cls.from_expression(VALLEY_EXPRESSION, params, noise, alpha=alpha, Delta=Delta, T=T,
                                       name=land.name)
        return cls._valley(land, noise, _noise_level(alpha, Delta, T))

    @classmethod
    def from_landscape(cls, landscape: Landscape, noise: Noise, cross: bool = True) -> "Model":
        """The Model of the valley (Landscape, Noise) of docs/model.md §1-3 (``cross``
        False: the ``sgd-diagonal`` noise); built without sympy, like :meth:`preset`."""
        if not isinstance(landscape, Landscape) or not isinstance(noise, Noise):
            raise ModelError(f"a valley is a Landscape and a Noise (got {type(landscape).__name__}, "
                             f"{type(noise).__name__})")
        return cls._valley(landscape, "sgd" if cross else "sgd-diagonal", noise)

    @classmethod
    def _valley(cls, land: Landscape, noise: str, level: Noise) -> "Model":
        params = {"a0": land.a0, "a2": land.a2, "a4": land.a4, "eps": land.eps}
        model = cls(loss=VALLEY_EXPRESSION, params=tuple(sorted((k, float(v)) for k, v in params.items())),
                    noise=noise, covariance=None, alpha=level.alpha, Delta=level.Delta, name=land.name)
        object.__setattr__(model, "valley", _with_preset_name(land))
        return model

    def with_noise_level(self, *, alpha: Optional[float] = None, Delta: Optional[float] = None,
                         T: Optional[float] = None) -> "Model":
        """The same model at other alpha / Delta (or T at the new alpha)."""
        a = self.alpha if alpha is None else alpha
        nz = Noise.from_temperature(T, a) if T is not None else Noise(a, self.Delta if Delta is None else Delta)
        return dataclasses.replace(self, alpha=nz.alpha, Delta=nz.Delta)

    # ---- derived objects -----------------------------------------------------
    @property
    def constants(self) -> Dict[str, float]:
        return dict(self.params)

    @property
    def T(self) -> float:
        return self.alpha * self.Delta

    @property
    def noise_level(self) -> Noise:
        return Noise(self.alpha, self.Delta)

    @property
    def n_variables(self) -> int:
        """The number of coordinates θ1 … θN of the model."""
        return self.variables

    @property
    def cross(self) -> bool:
        """False when D12 is dropped by construction (``sgd-diagonal``)."""
        return self.noise != "sgd-diagonal"

    @property
    def derivation(self) -> Any:
        """The symbolic derivation (cached by canonical form): a
        :class:`Derivation`, or an :class:`NDerivation` when N > 2."""
        names = tuple(k for k, _ in self.params)
        text_key = (self.loss, names, self.noise, self.covariance, self.variables)
        if text_key in _BY_TEXT:
            return _BY_TEXT[text_key]
        if self.variables > 2:
            loss = parse(self.loss, names, what="loss", variables=self.variables)
            _BY_TEXT[text_key] = derivation_n(loss, names, self.noise, self.variables)
            return _BY_TEXT[text_key]
        loss = parse(self.loss, names, what="loss")
        cov = None
        if self.covariance is not None:
            cov = [parse(c, names, what="noise covariance", noise_symbols=True) for c in self.covariance]
        _BY_TEXT[text_key] = derivation(loss, names, self.noise, cov)
        return _BY_TEXT[text_key]

    @property
    def arguments(self) -> Tuple[float, ...]:
        """Numbers after (θ1, θ2) in every generated callable: constants, alpha, Delta."""
        return tuple(v for _, v in self.params) + (self.alpha, self.Delta)

    def evaluate(self, what: str, x: Any, y: Any = None):
        """numpy values of ``loss``, ``gradient``, ``hessian``, ``sigma``,
        ``diffusion`` (D11, D12, D22) or ``divergence`` at arrays x, y; for
        an N-variable model ``x`` is θ of shape (..., N) (``y`` None) and
        ``what`` one of ``loss``, ``gradient``, ``hessian`` (:meth:`NDerivation.numpy`)."""
        if self.variables > 2:
            return self.derivation.numpy(what)(x, *self.arguments)
        return self.derivation.numpy(what)(np.asarray(x, float), np.asarray(y, float), *self.arguments)

    # ---- recognition and checks ---------------------------------------------
    def _recognise_valley(self) -> Optional[Landscape]:
        """The Landscape when L = ½ g(θ1) θ2² + ½ ε θ1² with a valid quartic g
        and the noise is sgd / sgd-diagonal, else None."""
        import sympy

        if self.noise not in ("sgd", "sgd-diagonal") or self.variables > 2:
            return None
        d = self.derivation
        x, y = d.symbols[:2]
        values = {sympy.Symbol(k, real=True): v for k, v in self.params}
        loss = d.loss.subs(values)
        degree = polynomial_degree_bound(loss, (x, y))
        if degree is None or degree > 6:  # the valley is of degree 6; expand nothing bigger
            return None
        try:
            poly = sympy.Poly(sympy.expand(loss), x, y)
        except (sympy.PolynomialError, sympy.GeneratorsNeeded):
            return None
        terms = {m: float(c) for m, c in poly.terms()}
        allowed = {(0, 2): "a0", (2, 2): "a2", (4, 2): "a4", (2, 0): "eps"}
        if not set(terms) <= set(allowed):
            return None
        coef = {name: 2.0 * terms.get(m, 0.0) for m, name in allowed.items()}
        try:
            land = Landscape(**coef)
        except ModelError:
            return None
        return _with_preset_name(land)

    def is_valley(self) -> bool:
        """The valley of docs/model.md §1-3 with its SGD noise: everything about
        it is known without sympy (model.py's formulas, Landscape's rules)."""
        return self.valley is not None and self.noise in ("sgd", "sgd-diagonal") and self.covariance is None

    def check_formulas(self, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0)) -> None:
        """Refuse (ModelError) a model that is not finite, whose Σ is not
        symmetric positive semi-definite, or that has a frozen coordinate
        (neither drift nor diffusion) at the sample points of the disk.
        The valley with SGD noise passes by construction: polynomial (finite),
        Σ = H² or its diagonal (⪰ 0), and :class:`Landscape` refuses a frozen θ1."""
        if self.is_valley():
            return
        if self.variables > 2:
            self._check_formulas_n(radius, center)
            return
        x, y = _disk_points(radius, center)
        with np.errstate(all="ignore"), symbolic_budget(f"loss {_short(self.loss)}"):
            L = self.evaluate("loss", x, y)
            grad = self.evaluate("gradient", x, y)
            s11, s12, s22 = self.evaluate("sigma", x, y)
            div = self.evaluate("divergence", x, y)
        where = f"on the disk |theta - ({center[0]:g}, {center[1]:g})| <= {radius:g}"
        checks = [(f"loss {self.loss!r}", L)]
        checks += [(f"the gradient of loss {self.loss!r}", v) for v in grad]
        checks += [(f"noise {label}", v) for label, v in zip(("S11", "S12", "S22"), (s11, s12, s22))]
        checks += [("the divergence of D", v) for v in div]
        for label, values in checks:
            bad = ~np.isfinite(values)
            if bad.any():
                i = int(np.argmax(bad))
                raise ModelError(f"{label} is not finite at theta = ({x[i]:.3g}, {y[i]:.3g}) {where}")
            big = np.abs(values) > MAX_MAGNITUDE
            if big.any():
                i = int(np.argmax(big))
                raise ModelError(f"{label} reaches {values[i]:.3g} at theta = ({x[i]:.3g}, {y[i]:.3g}) {where}: "
                                 f"beyond {MAX_MAGNITUDE:.0e}, products of two such numbers overflow double "
                                 "precision in the solvers")
        scale = max(float(np.max(np.abs(s11))), float(np.max(np.abs(s22))), 1e-300)
        tol = 1e-12 * scale
        with np.errstate(all="ignore"):
            det = s11 * s22 - s12 * s12
        bad = (s11 < -tol) | (s22 < -tol) | (det < -tol * scale)
        if bad.any():
            i = int(np.argmax(bad))
            raise ModelError(f"noise covariance is not positive semi-definite at theta = ({x[i]:.3g}, {y[i]:.3g}) "
                             f"(S11={s11[i]:.3g}, S12={s12[i]:.3g}, S22={s22[i]:.3g})")
        for i, label in ((0, "theta1"), (1, "theta2")):
            diag = s11 if i == 0 else s22
            if np.all(grad[i] == 0) and np.all(diag == 0):
                raise ModelError(f"coordinate {label} is frozen: neither drift nor diffusion anywhere {where} "
                                 "(no unique stationary density, docs/model.md §7)")

    def _check_formulas_n(self, radius: float, center: Any) -> None:
        """N-variable twin of :meth:`check_formulas`: loss, ∇L and H finite
        and below :data:`MAX_MAGNITUDE` at :func:`ball_points` of the ball
        (``center`` a point of N numbers or a scalar for every coordinate;
        ``radius`` inf: the ball of radius 2)."""
        n = self.variables
        c = np.broadcast_to(np.asarray(center, dtype=float), (n,)) if np.size(center) in (1, n) else None
        if c is None:
            raise ModelError(f"center must have N = {n} coordinates (got {np.size(center)})")
        pts = ball_points(radius if math.isfinite(radius) else 2.0, c)
        with np.errstate(all="ignore"), symbolic_budget(f"loss {_short(self.loss)}"):
            checks = [(f"loss {self.loss!r}", self.evaluate("loss", pts)[:, None]),
                      (f"the gradient of loss {self.loss!r}", self.evaluate("gradient", pts)),
                      (f"the Hessian of loss {self.loss!r}", self.evaluate("hessian", pts).reshape(len(pts), -1))]
        for label, values in checks:
            bad = ~np.isfinite(values) | (np.abs(values) > MAX_MAGNITUDE)
            if bad.any():
                i = int(np.argmax(bad.any(axis=1)))
                raise ModelError(f"{label} is not finite (or beyond {MAX_MAGNITUDE:.0e}) at theta = "
                                 f"({', '.join(f'{v:.3g}' for v in pts[i][:6])}{', ...' if n > 6 else ''}) "
                                 f"in the ball of radius {radius:g}")

    # ---- records ------------------------------------------------------------
    def canonical_loss(self) -> str:
        """The parsed loss as sympy prints it (the canonical form);
        :data:`VALLEY_CANONICAL` for the valley expression (a test checks
        it is sympy's print)."""
        if self.loss == VALLEY_EXPRESSION:
            return VALLEY_CANONICAL
        return str(self.derivation.loss)

    def record(self) -> dict:
        """The ``case`` entry of a summary.json: the valley's coefficients (when
        it is one), the noise level and the model's expression."""
        case = {"landscape": self.valley.as_dict()} if self.valley is not None else {}
        return {**case, "noise": self.noise_level.as_dict(), "model": self.as_dict()}

    def as_dict(self) -> dict:
        """What summaries record: expression, constants, noise, alpha, Delta, T."""
        d = {"loss": self.loss, "loss_canonical": self.canonical_loss(), "constants": dict(self.params),
             "noise": self.noise, "alpha": self.alpha, "Delta": self.Delta, "T": self.T, "name": self.name}
        if self.covariance is not None:
            d["covariance"] = list(self.covariance)
        d["valley"] = None if self.valley is None else self.valley.as_dict()
        if self.variables > 2:
            d["variables"] = self.variables
        return d

    def describe(self) -> str:
        """One line for figure titles: loss, constants, noise, T."""
        consts = ", ".join(f"{k}={v:g}" for k, v in self.params)
        noise = self.noise if self.covariance is None else "Σ=(" + ", ".join(self.covariance) + ")"
        return f"L = {self.loss}" + (f" ({consts})" if consts else "") + f"; noise {noise}; T={self.T:g}"

    def case_name(self) -> str:
        """Folder-friendly name: the preset's name for a recognised preset,
        else a slug of the expression and a short hash of everything."""
        suffix = f"_alpha{self.alpha:g}_Delta{self.Delta:g}"
        if self.valley is not None and self.noise in ("sgd", "sgd-diagonal"):
            land = self.valley
            head = land.name if land.name != "custom" else "a0{:g}_a2{:g}_a4{:g}_eps{:g}".format(*land.coefficients)
            return head + suffix + ("" if self.noise == "sgd" else "_nocross")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.loss).strip("-")[:32]
        digest = hashlib.sha1(repr((self.derivation.key, self.params)).encode()).hexdigest()[:8]
        return f"loss-{slug}-{digest}_{self.noise}{suffix}"


def as_model(case: Any, noise: Optional[Noise] = None, cross: bool = True) -> Model:
    """The one door of every solver: ``case`` as a :class:`Model`.

    A Model passes as it is (``noise`` must be None: the model carries its
    noise); a :class:`~fpsolve.model.valley.Landscape` with a
    :class:`~fpsolve.model.valley.Noise` (and ``cross``) is converted once
    (:meth:`Model.from_landscape`, no sympy).  Anything else raises
    :class:`~fpsolve.tools.errors.InputError` naming what was given (a preset
    name is ``Model.preset(name)``), and so does a Model of N > 2 variables,
    naming N (every caller is a two-variable solver: the FEM needs N <= 3 and
    takes N = 2 until the 3-D FEM lands; N dimensions: :mod:`fpsolve.mc.nensemble`).
    """
    if isinstance(case, Model):
        if case.variables > 2:
            n = case.variables
            why = "the FEM needs N <= 3" if n > 3 else "the 3-D FEM is not built yet"
            raise ModelError(f"this model has N = {n} variables: the FEM and the two-variable tools take N = 2 "
                             f"({why}); sample it with the N-dimensional Monte Carlo (fpsolve.mc.nensemble, "
                             "sample_sgd.py --loss)")
        if noise is not None:
            raise ModelError("a Model carries its noise (drop the noise argument)")
        if not cross:
            raise ModelError("cross=False goes with a Landscape; a Model's noise decides (noise 'sgd-diagonal' "
                             "drops D12)")
        return case
    if isinstance(case, Landscape):
        if noise is None:
            raise ModelError("a Landscape needs a Noise (or give a Model: Model.from_landscape(landscape, noise))")
        check_case(case, noise)
        return Model.from_landscape(case, noise, cross)
    hint = f" (a preset: Model.preset({case!r}))" if isinstance(case, str) else ""
    raise ModelError(f"the model must be a Model or a Landscape with a Noise (got {type(case).__name__} "
                     f"{case!r}){hint}")
