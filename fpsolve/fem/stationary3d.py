"""The stationary Fokker-Planck solve in three variables, end to end (docs/model.md §4, §9; issue 19).

:func:`solve` is what ``solve_fp.py --fast-directions 2`` (and a ``--loss``
in θ1, θ2, θ3) computes: the tetrahedral ball (:mod:`fpsolve.fem.ball`,
graded from the closed forms of §9 for the valley, uniform for an
expression model), the coefficients in UFL (:mod:`fpsolve.fem.nvalley_forms`
for the valley, :func:`expression_coefficients` converted from the model's
sympy derivation otherwise), the principal eigenpair by shift-and-invert
(:mod:`fpsolve.fem.solve3d`: MUMPS, or an iterative solver above
:data:`~fpsolve.fem.solve3d.ITERATIVE_DOFS`), and a JSON-ready summary:
λ0 and the wall-flux escape rate, the moments of every coordinate
(:mod:`fpsolve.fem.ndmoments`), negative mass, the eigenpair's residual and
gap, the solver options in effect and the warnings of
:mod:`fpsolve.fem.diagnostics` that apply in 3-D.  Time unit: α SGD steps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from fpsolve.fem import ball, diagnostics, meshfile, ndmoments, nvalley_forms, solve3d, spectrum, weight
from fpsolve.fem.forms import check_wall, to_ufl
from fpsolve.fem.model_mesh import DEFAULT_MAX_DOFS
from fpsolve.fem.operator import Operator
from fpsolve.fem.solution import evaluate_function
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import ModelError, Noise
from fpsolve.theory import nvalley as ntheory
from fpsolve.theory import nvalley_noise


#: Default uniform size of an expression model's ball, in units of its radius.
UNIFORM_DIVISOR = 8.0
#: The valley's default grading in 3-D (docs/numerics.md, *Three variables*): h_min =
#: fast width / 1.5 (:func:`fpsolve.fem.ball.valley_ball_sizes`' ``points_per_width``) ...
POINTS_PER_WIDTH = 1.5
#: ... and cells this factor thinner in θ1 than the widths' ratio σ*/w: the negative
#: mass at the steep outer flank falls with the θ1-thickness, not with the fast size
#: (m = 2, T = 0.05, plain P2: 59k dofs and 2.2 % at factor 1, 93k dofs and 0.25 % at
#: 0.6; weighted (fpsolve.fem.weight): 3.3e-4 at 0.6, 2.4e-5 at 0.45; moments equal to 3e-6).
STRETCH_FACTOR = 0.45
#: ... but never below this: at T = 5 the widths' ratio gave c = 0.009, a ball 110 times longer in the
#: mesher's ξ1, where gmsh sat for minutes (T = 1: 26 s to mesh); the default valley has c = 0.27.
STRETCH_MIN = 0.1
#: Bins of the slow marginal (marginals.csv): at most this many over the ball's θ1-extent.
MARGINAL_BINS = 400


def expression_coefficients(model: Any, msh: Any) -> Tuple[Any, Any, Any, Dict[str, Any]]:
    """(drift −∇L, D, ∇·D, constants) in UFL on the 3-D ``msh`` of a
    3-variable :class:`~fpsolve.model.expression.Model` (docs/model.md §7, §9):
    ∇L and D = (α/2) Σ (:meth:`~fpsolve.model.expression.NDerivation.diffusion`)
    converted by :func:`fpsolve.fem.forms.to_ufl`, ∇·D UFL's exact
    derivative.  Every number (the constants, alpha, Delta) is a
    ``fem.Constant``.  Raises ModelError when the model does not have 3
    variables or a formula has no UFL form."""
    import ufl
    from dolfinx import fem
    from petsc4py import PETSc

    n = model.n_variables
    if n != 3 or msh.geometry.dim != 3:
        raise ModelError(f"the 3-D FEM takes a model of N = 3 variables on a 3-D mesh (got N = {n}, "
                         f"a {msh.geometry.dim}-D mesh)")
    d = model.derivation
    xs = ufl.SpatialCoordinate(msh)
    names = [k for k, _ in model.params] + ["alpha", "Delta"]
    consts = {name: fem.Constant(msh, PETSc.ScalarType(v)) for name, v in zip(names, model.arguments)}
    mapping = {d.symbols[i]: xs[i] for i in range(n)}
    mapping.update({sym: consts[name] for sym, name in zip(d.symbols[n:], names)})
    grad = [to_ufl(e, mapping) for e in d.gradient]
    D = ufl.as_matrix([[to_ufl(e, mapping) for e in row] for row in d.diffusion()])
    return ufl.as_vector([-g for g in grad]), D, ufl.div(D), consts


def case_operator(case: Any, msh: Any, T: float, noise: str, *, degree: int = 2, wall: str = "absorbing") -> Operator:
    """The :class:`~fpsolve.fem.operator.Operator` of a 3-D case on ``msh``: the
    valley's coefficients (:func:`fpsolve.fem.nvalley_forms.nvalley_coefficients`
    at ``T``, ``noise``) for an :class:`~fpsolve.model.nvalley.NValley`, else
    :func:`expression_coefficients` (``T``, ``noise`` unused)."""
    if isinstance(case, NValley):
        drift, D, divD, _ = nvalley_forms.nvalley_coefficients(msh, case, T, noise)
    else:
        drift, D, divD, _ = expression_coefficients(case, msh)
    return Operator.build(msh, drift, D, divD, degree=degree, wall=wall)


@dataclasses.dataclass
class Result3D:
    """One 3-D stationary solve: ``solution`` (:class:`fpsolve.fem.solution.Solution`,
    density normalised to ∫ φ = 1), ``summary`` (summary.json's dict),
    ``valley`` (the :class:`~fpsolve.model.nvalley.NValley`, None for an
    expression model), ``T`` and ``operator``."""

    solution: Any
    summary: Dict[str, Any]
    valley: Optional[NValley]
    T: float
    operator: Operator
    #: the ball's sizes (None for a mesh file) and the operator of the same case on another mesh
    sizes: Optional[ball.BallSizes] = None
    make_operator: Optional[Callable[[Any], Operator]] = None
    #: the valley's noise kind (which closed form applies, :mod:`fpsolve.theory.nvalley_noise`)
    noise: str = "sgd"

    @property
    def mesh(self) -> Any:
        return self.solution.density.function_space.mesh

    @property
    def comm(self) -> Any:
        return self.mesh.comm

    def extent(self, k: int) -> Tuple[float, float]:
        """(lowest, highest) θ_{k+1} of the domain: the ball's centre ± radius,
        or a mesh file's bounding box."""
        s = self.summary
        if s.get("radius") is None:
            return tuple(s["mesh"]["bounding_box"][2 * k:2 * k + 2])  # type: ignore[return-value]
        return s["center"][k] - s["radius"], s["center"][k] + s["radius"]

    def middle(self, k: int) -> float:
        """The domain's centre in θ_{k+1} (a mesh file's bounding-box centre)."""
        return 0.5 * sum(self.extent(k))

    def marginal_edges(self) -> np.ndarray:
        """Bin edges of the slow marginal over the domain's θ1-extent: a quarter
        of the mesh's finest θ1-size (``stretch`` × ``h_min``, a mesh file's
        shortest edge; the quadrature points of a P2 solve are ample at that
        width), at most :data:`MARGINAL_BINS` bins."""
        m = self.summary["mesh"]
        lo, hi = self.extent(0)
        width = max(0.25 * m.get("stretch", 1.0) * m["h_min"], (hi - lo) / MARGINAL_BINS)
        return np.linspace(lo, hi, int(math.ceil((hi - lo) / width)) + 1)

    def marginals(self, edges: Sequence[float] | None = None) -> Dict[str, np.ndarray]:
        """{column: values} of marginals.csv: ``theta1`` (bin centres),
        ``fem_marginal`` (the θ1-marginal averaged over each bin,
        :func:`fpsolve.fem.ndmoments.slow_marginal`) and, for the valley, the
        closed form of its noise (:mod:`fpsolve.theory.nvalley_noise`,
        normalised on the ball's θ1-extent and averaged over the same bins):
        ``closed_form_landscape`` and ``closed_form_constant_D`` (§9's
        adiabatic elimination, sgd and sgd-diagonal) or ``closed_form_gibbs``
        (isotropic: the exact Gibbs marginal cut by the ball), each only where
        it exists.  Collective."""
        edges = self.marginal_edges() if edges is None else np.asarray(edges, dtype=float)
        out = {"theta1": 0.5 * (edges[1:] + edges[:-1]),
               "fem_marginal": ndmoments.slow_marginal(self.solution.density, edges,
                                                       self.operator.quadrature_degree + 2,
                                                       self.solution.density_expression)}
        if self.valley is not None:
            sub = 20  # points per bin for the bin average of the closed form
            fine = np.linspace(edges[0], edges[-1], sub * (len(edges) - 1) + 1)
            if nvalley_noise.form(self.noise) == "gibbs":
                r = self.summary.get("radius")
                forms = (("closed_form_gibbs", lambda: nvalley_noise.marginal_x(
                    self.valley, self.T, fine, self.noise, None if r is None else float(r))),)
            else:
                forms = tuple((column, (lambda kind=kind: ntheory.marginal_x(self.valley, self.T, fine, kind=kind)))
                              for column, kind in (("closed_form_landscape", "landscape"),
                                                   ("closed_form_constant_D", "constant")))
            for column, closed in forms:
                try:
                    with np.errstate(under="ignore", over="ignore"):
                        p = closed()
                except (ModelError, FloatingPointError):
                    continue
                if not np.all(np.isfinite(p)):
                    continue
                # trapezoid average of p over each bin (sub intervals each)
                seg = 0.5 * (p[1:] + p[:-1]).reshape(len(edges) - 1, sub).mean(axis=1)
                out[column] = seg
        return out

    def section(self, nx: int = 241, ny: int = 161, theta3: float | None = None,
                box: Sequence[float] | None = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(θ1 grid (nx,), θ2 grid (ny,), φ (ny, nx)) on the plane θ3 =
        ``theta3`` (default the domain's centre, :meth:`middle`): over ``box`` (x0, x1, y0, y1),
        default the domain's section clipped to where the moments put the
        density (8 standard deviations about the means, within the ball; in
        θ1 about ±mean ``|θ1|`` by 8 std ``|θ1|``, wider than the marginal's support).
        Collective: every rank gets the values (0 outside the mesh)."""
        s = self.summary
        z = self.middle(2) if theta3 is None else float(theta3)
        if box is None:
            def span(k: int) -> Tuple[float, float]:
                lo, hi = self.extent(k)
                half = 8.0 * math.sqrt(max(s[f"var_theta{k + 1}"], 0.0)) or (hi - lo)
                m = s[f"mean_theta{k + 1}"]
                return max(m - half, lo), min(m + half, hi)
            a, sa = s["mean_abs_theta1"], s["std_abs_theta1"]
            x_half = (min(a + 8.0 * sa, math.sqrt(max(s["var_theta1"], 0.0)) * 8.0) if sa > 0
                      else self.extent(0)[1] - self.extent(0)[0])
            x_lo, x_hi = span(0)
            box = (max(x_lo, s["mean_theta1"] - x_half), min(x_hi, s["mean_theta1"] + x_half), *span(1))
            if not box[1] - box[0] > 1e-9 * (x_hi - x_lo):  # moments of a broken density (Var θ1 < 0): the domain
                box = (*self.extent(0), *box[2:])
        xs, ys = np.linspace(box[0], box[1], nx), np.linspace(box[2], box[3], ny)
        X, Y = np.meshgrid(xs, ys)
        pts = np.column_stack([X.ravel(), Y.ravel(), np.full(X.size, z)])
        return xs, ys, evaluate_function(self.solution.density, pts).reshape(ny, nx)


#: Peak memory of a whole 3-D run with MUMPS (``solve_fp.py``, one rank, bytes):
#: MEMORY_BASE + MEMORY_DIRECT (dofs / 1e5)^MEMORY_EXPONENT, fitted to uniform balls
#: (a --loss in x, y, z, R = 2, --h-min 0.22 / 0.17 / 0.14: 23.0k / 47.3k / 82.1k
#: dofs, 0.42 / 0.73 / 1.31 GB peak RSS); the m = 2 valley's graded balls fill in less
#: (56.8k and 92.8k dofs: 0.7 and 1.2 GB, predicted 0.87 and 1.52 GB; the weighted
#: default, 122.6k: 1.4 GB, predicted 2.2 GB), so the figure errs on the safe side ...
MEMORY_BASE = 0.25e9
MEMORY_DIRECT = 1.41e9
MEMORY_EXPONENT = 1.44
#: ... and per dof above :data:`~fpsolve.fem.solve3d.ITERATIVE_DOFS` (GMRES(100) +
#: ASM/ILU(0): 100 Krylov vectors, the P2 matrix's ~60 entries a row and its ILU copy):
#: an estimate from those counts, not measured here.
MEMORY_ITERATIVE_PER_DOF = 5e3


def predicted_memory(dofs: int, ranks: int = 1) -> float:
    """Peak memory (bytes, all ranks together) of a 3-D solve of ``dofs``
    unknowns: :data:`MEMORY_BASE` a rank plus MUMPS's fill
    (:data:`MEMORY_DIRECT`) below :data:`~fpsolve.fem.solve3d.ITERATIVE_DOFS`,
    else :data:`MEMORY_ITERATIVE_PER_DOF` a dof."""
    if dofs >= solve3d.ITERATIVE_DOFS:
        return ranks * MEMORY_BASE + MEMORY_ITERATIVE_PER_DOF * dofs
    return ranks * MEMORY_BASE + MEMORY_DIRECT * (dofs / 1e5) ** MEMORY_EXPONENT


def machine_memory() -> Optional[float]:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    import os

    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_budget(dofs: int, max_dofs: int, where: str, ranks: int = 1,
                 memory: Optional[float] = None, remedy: str = "coarsen (--h-min, --h-max)",
                 option: Optional[str] = "--max-dofs") -> Dict[str, float]:
    """{dofs, memory_bytes} of a 3-D solve of about ``dofs`` unknowns
    (:func:`fpsolve.fem.ball.predicted_dofs`, or a mesh file's count), or
    ModelError, one line with the figure, when above ``max_dofs`` or when
    :func:`predicted_memory` is above ``memory`` (default
    :func:`machine_memory`).  ``where`` says what the figure comes from
    (e.g. "the ball's sizes: graded, h-min 0.078"), ``remedy`` what to do instead,
    ``option`` the command's option that sets ``max_dofs`` (None: it has none)."""
    if not (isinstance(max_dofs, (int, np.integer)) and max_dofs > 0):
        raise ModelError(f"--max-dofs must be an integer > 0 (got {max_dofs!r})")
    need = predicted_memory(dofs, ranks)
    if dofs > max_dofs:
        raise ModelError(f"the 3-D mesh would have about {dofs:.3g} dofs ({where}; about {need / 1e9:.2g} GB), "
                         + (f"above {option} {max_dofs}: raise {option} or {remedy}" if option else
                            f"above the budget of {max_dofs} dofs: {remedy}"))
    memory = machine_memory() if memory is None else memory
    if memory is not None and need > memory:
        raise ModelError(f"the 3-D solve would need about {need / 1e9:.3g} GB ({dofs:.3g} dofs, {where}), above this "
                         f"machine's {memory / 1e9:.3g} GB of memory: {remedy}")
    return {"dofs": dofs, "memory_bytes": need}


def sizes_source(sizes: ball.BallSizes) -> str:
    """How a predicted figure was reached, for :func:`check_budget`'s message."""
    return f"predicted from the ball's sizes: {sizes.rule}, h-min {sizes.h_min:.3g}, R {sizes.radius:g}"


#: What a too large --mesh file asks of the user (:func:`check_budget`).
MESH_FILE_REMEDY = "give a coarser mesh file"


def mesh_file_dofs(data: Any, degree: int) -> int:
    """P``degree`` Lagrange dofs of a tetrahedral :class:`~fpsolve.fem.meshfile.MeshData`
    (its counted vertices, and edges for P2)."""
    d = data.domain
    return int(d["vertices"] + (d["edges"] if degree == 2 else 0))


def ball_sizes(case: Any, T: float, radius: float, center: Sequence[float], h_min: float | None = None,
               h_max: float | None = None, geometry_order: int = 1, noise: str = "sgd") -> ball.BallSizes:
    """The ball's :class:`~fpsolve.fem.ball.BallSizes`: graded from §9's
    widths of the closed form of ``noise`` (:mod:`fpsolve.theory.nvalley_noise`) for the valley (:data:`POINTS_PER_WIDTH`, :data:`STRETCH_FACTOR`;
    ``h_min``/``h_max`` override the fine and far sizes, in the fast
    directions' units; θ1-sizes are ``stretch`` times them), uniform ``h_min`` (default radius/:data:`UNIFORM_DIVISOR`) for an
    expression model (``h_max`` refused).  Raises ModelError naming a bad
    value (sizes not finite and > 0, h_min > h_max, a ball that misses the
    valley's minimum)."""
    r, c = ball.check_ball(radius, center)
    for name, v in (("h-min", h_min), ("h-max", h_max)):
        if v is not None and not (math.isfinite(float(v)) and 0 < float(v) <= r):
            raise ModelError(f"--{name} must be a finite number in (0, radius = {r:g}] (got {v!r})")
    if isinstance(case, NValley):
        if math.sqrt(sum(v * v for v in c)) >= r:
            raise ModelError(f"the ball (--radius {r:g}, --center {' '.join(f'{v:g}' for v in c)}) does not "
                             "contain the loss's minimum (0, 0, 0), around which the density lives")
        sizes = ball.valley_ball_sizes(case, T, r, c, points_per_width=POINTS_PER_WIDTH,
                                       geometry_order=geometry_order, noise=noise)
        sizes = dataclasses.replace(sizes, stretch=max(sizes.stretch * STRETCH_FACTOR, STRETCH_MIN))
        h_lo = sizes.h_min if h_min is None else float(h_min)
        h_hi = max(sizes.h_max, h_lo) if h_max is None else float(h_max)
        if h_lo > h_hi:
            raise ModelError(f"--h-min {h_lo:g} must not exceed --h-max {h_hi:g}")
        return dataclasses.replace(sizes, h_min=h_lo, h_max=h_hi)
    if h_max is not None:
        raise ModelError("--h-max applies to the valley's graded ball (an expression model's ball is uniform: "
                         "--h-min)")
    return ball.uniform_ball_sizes(r, c, h_min if h_min is not None else r / UNIFORM_DIVISOR,
                                   geometry_order=geometry_order)


#: On a --mesh file the valley's wells must hold equal mass (``abs(mean θ1) ≤ this × mean |θ1|``), else a warning.
SPLIT_LIMIT = 1e-2


def off_centre_warning(cx: float | None, mean: float, mean_abs: float) -> str:
    """The warning of a valley's ball off-centre in θ1 (``cx`` ≠ 0): its
    principal eigenfunction is not symmetric in θ1 (the wells are at
    different distances from the absorbing wall), so the split of mass
    between the wells θ1 ≷ 0 (``mean`` θ1, against ``mean_abs`` ``|θ1|``) is set
    by the escape and hopping rates, exponentially small and resolved only
    roughly by the mesh (λ0 of the centred ball: 6.9e-10 at --h-min 0.15
    --h-max 0.5, 1.6e-10 at the default), and the whole, not mirrored, mesh
    no longer makes it exact by symmetry: measured mean θ1 0.12 at (0.1, 0,
    0), -0.39 at (-0.5, 0, 0) on the coarse ball.  The moments of ``|θ1|``, θ2,
    θ3 agree with the centred ball's (within 2.3e-3 there).  ``cx`` None: a
    ``--mesh`` file, which nothing makes mirror-symmetric (a gmsh ball of
    size 0.25 gave mean θ1 1.34 and Var θ1 −1.12: two nearly equal
    eigenvalues mixed)."""
    if cx is None:
        return (f"the --mesh file is not mirror-symmetric in theta1: the two wells' nearly equal eigenvalues "
                f"mix (mean theta1 {mean:.2g} against mean|theta1| {mean_abs:.3g}), so the density, its moments "
                "in theta1 and its negative mass are not the stationary ones; the generated ball (--radius, "
                "--center 0 0 0) is mirror-symmetric and splits the mass exactly")
    return (f"the ball is off-centre in theta1 (--center {cx:g}): the split of mass between the wells "
            f"(mean theta1 {mean:.2g}, Var theta1; against mean|theta1| {mean_abs:.3g}) depends on the ball and on "
            "exponentially small rates the mesh resolves only roughly; trust the moments of |theta1|, theta2, "
            "theta3, or centre it on theta1 = 0 (split exact by symmetry)")


def check_case(case: Any, level: Noise | None, noise: str, what: str) -> Tuple[Optional[NValley], float, float, dict]:
    """(valley or None, T, alpha, record) of a 3-D case, the one rule of the
    stationary, transient and backward solves in 3-D: the valley with m = 2
    fast directions, its :class:`~fpsolve.model.valley.Noise` and a noise of
    :data:`fpsolve.fem.nvalley_forms.FEM_NOISES`; or a 3-variable expression
    Model, which carries its noise (``level`` None, ``noise`` "sgd").  T > 0
    either way.  ``record``: summary.json's ``case``.
    ``what`` names the solve in the messages.  Raises ModelError naming the
    bad value."""
    if isinstance(case, NValley):
        if case.m != 2:
            raise ModelError(f"the 3-D {what} takes the valley with m = 2 fast directions (got m = {case.m}; "
                             "the FEM is 3-D at most)")
        if not isinstance(level, Noise):
            raise ModelError("the valley needs its noise level: a Noise (alpha, Delta)")
        if noise not in nvalley_forms.FEM_NOISES:
            raise ModelError(f"noise must be one of {', '.join(nvalley_forms.FEM_NOISES)} (got {noise!r})")
        level.require_positive_T()
        return case, level.T, level.alpha, {"kind": "valley", "valley": case.as_dict(), "fast_directions": case.m,
                                            "noise": noise, "alpha": level.alpha, "Delta": level.Delta,
                                            "T": level.T}
    if level is not None or noise != "sgd":
        raise ModelError("an expression model carries its noise: leave level and noise out")
    if getattr(case, "n_variables", None) != 3:
        raise ModelError(f"the 3-D {what} takes a model of N = 3 variables (got N = "
                         f"{getattr(case, 'n_variables', None)})")
    case.noise_level.require_positive_T()
    return None, case.T, case.alpha, {"kind": "expression", **case.record()}


def solve(case: Any, level: Noise | None = None, *, noise: str = "sgd", radius: float = 2.0,
          center: Sequence[float] = (0.0, 0.0, 0.0), degree: int = 2, wall: str = "absorbing",
          h_min: float | None = None, h_max: float | None = None, petsc_options: Dict[str, Any] | None = None,
          iterative: bool | None = None, weighted: bool = True, comm: Any = None,
          progress: Callable[[str], None] | None = None, sizes: ball.BallSizes | None = None,
          mesh: Any = None, max_dofs: int | None = None) -> Result3D:
    """The principal eigenpair of the Fokker-Planck operator in three variables.

    ``case``: the valley with two fast directions (an
    :class:`~fpsolve.model.nvalley.NValley` with m = 2, with ``level`` its
    :class:`~fpsolve.model.valley.Noise` (α, Δ) and ``noise`` one of
    :data:`fpsolve.fem.nvalley_forms.FEM_NOISES`), or a 3-variable
    :class:`~fpsolve.model.expression.Model` (it carries its noise; ``level``
    and ``noise`` must be left out).  The ball: ``radius``, ``center`` (three
    numbers), sizes of :func:`ball_sizes`; P``degree`` Lagrange on
    tetrahedra (for an expression model at P2 quadratic ones, so the wall is
    the sphere; the valley's are straight: its density is ~0 at the wall);
    ``wall`` absorbing or reflecting.  ``petsc_options`` (keys without the
    ``fpsolve_eig_`` prefix) and ``iterative`` go to
    :func:`fpsolve.fem.solve3d.solve`.  ``weighted`` (the valley only): the
    density is ``w u`` with w the §9 closed form (:mod:`fpsolve.fem.weight`),
    which keeps it non-negative where plain P2 oscillates; False gives the
    plain P2 density.  ``sizes``: a
    :class:`~fpsolve.fem.ball.BallSizes` of one's own (e.g. an expression
    model's ball graded by refinement boxes about where its density lives)
    instead of :func:`ball_sizes`' (then ``radius``, ``center``, ``h_min``,
    ``h_max`` are the ball's own and must be left at their defaults).
    ``mesh``: a tetrahedral mesh file meshio reads, or the 3-D
    :class:`~fpsolve.fem.meshfile.MeshData` of
    :func:`fpsolve.fem.meshfile.read_on_root` (``dim=3``), instead of the
    ball (the same rule: ``radius`` … ``h_max`` left at their defaults, no
    ``sizes``); summary.json's ``domain`` is the file's ("ball" with its
    fitted ``radius``/``center``, or "mesh": both None, the bounding box in
    ``mesh``).  ``max_dofs`` (default
    :data:`fpsolve.fem.model_mesh.DEFAULT_MAX_DOFS`): the dofs, predicted
    from the sizes before meshing (a file's counted), and the memory they
    need are checked first (:func:`check_budget`: ModelError, one line).
    Collective over ``comm`` (default COMM_WORLD).  Raises ModelError /
    InputError naming a bad value.
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD if comm is None else comm
    say = progress or (lambda message: None)
    wall = check_wall(wall)
    if degree not in (1, 2):
        raise ModelError(f"degree must be 1 or 2 (got {degree!r})")
    valley, T, alpha, record = check_case(case, level, noise, "FEM")
    if valley is None:
        noise = case.noise
    # quadratic tetrahedra (the wall on the sphere) where the density reaches the wall: the
    # uniform ball of an expression model; the valley's density is ~0 there, and its thin,
    # stretched cells curved at the wall break DOLFINx's pull-back (XDMF output: "Newton
    # method failed to converge for non-affine geometry"), so its ball is straight
    # (as in docs/numerics.md's measurements)
    order = 2 if degree == 2 and valley is None else 1
    own = (h_min, h_max) != (None, None) or (float(radius), tuple(center)) != (2.0, (0.0, 0.0, 0.0))
    if (sizes is not None or mesh is not None) and (own or (sizes is not None and mesh is not None)):
        raise ModelError("give the domain one way: sizes, a mesh, or radius/center/h_min/h_max")
    budget = DEFAULT_MAX_DOFS if max_dofs is None else max_dofs
    t0 = time.perf_counter()
    if mesh is not None:
        data = mesh if isinstance(mesh, meshfile.MeshData) else meshfile.read_on_root(mesh, comm, dim=3)
        if data.dim != 3:
            raise ModelError(f"--mesh {data.source}: a 2-D mesh; the 3-D solve needs a tetrahedral mesh")
        check_budget(mesh_file_dofs(data, degree), budget, f"counted in {data.source}", comm.size,
                     remedy=MESH_FILE_REMEDY)
        msh, mesh_info = meshfile.load(data, comm)
        mesh_info["cells"] = comm.allreduce(msh.topology.index_map(3).size_local, op=MPI.SUM)
        t_mesh = time.perf_counter() - t0
        domain = {"domain": mesh_info["domain"], "radius": mesh_info["radius"], "center": mesh_info["center"]}
        rule = "file"
        say(f"mesh read: {mesh_info['cells']} tetrahedra from {data.source} ({mesh_info['domain']}) "
            f"in {t_mesh:.2f}s")
    else:
        if sizes is None:
            sizes = ball_sizes(case, T, radius, center, h_min, h_max, geometry_order=order, noise=noise)
        else:
            sizes = dataclasses.replace(sizes, geometry_order=order)
        check_budget(ball.predicted_dofs(sizes, degree), budget, sizes_source(sizes), comm.size)
        msh, mesh_info, t_mesh = ball.create_ball(sizes, comm)
        domain = {"domain": "ball", "radius": sizes.radius, "center": list(sizes.center)}
        rule = sizes.rule
        say(f"ball meshed: {mesh_info['cells']} tetrahedra ({sizes.rule}, h_min {sizes.h_min:.3g}, "
            f"stretch {sizes.stretch:.3g}) in {t_mesh:.2f}s")
    def make_operator(on: Any) -> Operator:
        built = case_operator(case, on, T, noise, degree=degree, wall=wall)
        if valley is not None and weighted:
            built = built.with_log_weight(weight.valley_log_weight(built.V, valley, T, noise))
        return built

    op = make_operator(msh)
    sol, mom, timings = solve3d.solve(op, petsc_options=petsc_options, iterative=iterative)
    lam = sol.eigenvalue
    say(f"eigen-solve: {op.dofs} dofs, lambda0 = {lam.real:.6g}, residual {sol.info['residual']:.1e} "
        f"in {timings['solve_seconds']:.2f}s")
    eigen = {k: v for k, v in sol.info.items()
             if k not in ("dofs", "degree", "wall", "assemble_seconds", "solve_seconds")}
    summary: Dict[str, Any] = {
        "case": record, "variables": 3, "T": T,
        **domain,
        "degree": degree, "wall": wall, "noise": noise, "cross_diffusion": noise != "sgd-diagonal",
        "trial_space": (f"P{degree} times the closed-form density of docs/model.md §9 for noise {noise} "
                        f"({nvalley_noise.form(noise)}; fpsolve.fem.weight)"
                        if op.log_weight is not None else f"P{degree}"),
        "mesh": mesh_info, "mesh_rule": rule,
        "escape_rate": lam.real, "escape_rate_imag": lam.imag,
        "escape_rate_flux": sol.boundary_escape_rate(),
        "escape_rate_flux_method": "weak-form residual against the wall's basis functions (solver.wall_flux)",
        "escape_rate_per_step": alpha * lam.real,
        "eigen_residual": sol.info["residual"],
        "eigen_residual_relative_to_Kphi": sol.info["residual_relative_to_Kphi"],
        "eigen_gap": sol.info["gap"],
        **mom,
        "dofs": op.dofs, "ranks": comm.size, "eigen": eigen,
        "mesh_seconds": t_mesh, "assemble_seconds": timings["assemble_seconds"],
        "solve_seconds": timings["solve_seconds"], "moments_seconds": timings["moments_seconds"],
    }
    closed_warning = None
    if valley is not None:
        summary["var_y"] = [mom["var_theta2"], mom["var_theta3"]]
        summary["closed_form"], closed_warning = nvalley_noise.closed_form_record(
            valley, T, noise, domain["radius"] if domain["radius"] is not None else ntheory.DEFAULT_HALF_WIDTH,
            ("mean_abs_theta1", "std_abs_theta1", "mode_theta1", "var_y"))
    # the 2-D rules, with the 3-D ball's remedy (no adaptive --tol here yet)
    remedy = "(refine: --h-min)" if mesh is None else "(refine: a finer --mesh file)"
    summary["warnings"] = [w.replace("(refine: --tol, --h-min)", remedy) for w in diagnostics.warnings_for(summary)]
    if closed_warning:
        summary["warnings"].append(closed_warning)
    if valley is not None and mesh is None and sizes.center[0] != 0.0:
        summary["warnings"].append(off_centre_warning(sizes.center[0], mom["mean_theta1"], mom["mean_abs_theta1"]))
    elif valley is not None and mesh is not None and abs(mom["mean_theta1"]) > SPLIT_LIMIT * mom["mean_abs_theta1"]:
        summary["warnings"].append(off_centre_warning(None, mom["mean_theta1"], mom["mean_abs_theta1"]))
    summary["wall_seconds"] = time.perf_counter() - t0
    say(f"moments: mean|theta1| = {mom['mean_abs_theta1']:.6g}, std|theta1| = {mom['std_abs_theta1']:.6g}, "
        f"Var theta2 = {mom['var_theta2']:.6g}, Var theta3 = {mom['var_theta3']:.6g}; "
        f"negative mass {mom['negative_mass']:.3g}")
    return Result3D(sol, summary, valley, T, op, sizes if mesh is None else None, make_operator, noise)


#: The spectrum's mesh check in 3-D solves again on the ball with every size divided by
#: this (about twice the dofs), not on the uniformly refined mesh of 2-D (eight times the
#: dofs on tetrahedra).
SPECTRUM_FINE_FACTOR = 2.0 ** (1.0 / 3.0)
#: The spectrum's LU in 3-D (keys without the ``fpsolve_spec_`` prefix; user options override).
SPECTRUM_LU = {"st_pc_factor_mat_solver_type": "mumps"}


def add_spectrum(result: Result3D, k: int, *, progress: Callable[[str], None] | None = None,
                 **options: Any) -> Any:
    """The first ``k`` eigenpairs of the 3-D solve's operator, judged as in 2-D
    (:func:`fpsolve.fem.spectrum.check`: a second shift, and a finer ball of
    sizes / :data:`SPECTRUM_FINE_FACTOR`), recorded in ``result.summary["spectrum"]``
    with a warning when some eigenvalue is not trusted (docs/model.md §10;
    1/time units).  Collective; returns the Spectrum.  Raises ModelError on a
    mesh file (no finer ball to compare with) and InputError on a bad ``k``."""
    if result.sizes is None or result.make_operator is None:
        raise ModelError("--eigenpairs in 3-D needs the ball (--radius/--center/--h-min): a --mesh file has no "
                         "finer ball to judge the eigenvalues against")
    k = spectrum.check_count(k)
    say = progress or (lambda message: None)
    f = SPECTRUM_FINE_FACTOR
    sizes = dataclasses.replace(result.sizes, h_min=result.sizes.h_min / f, h_max=result.sizes.h_max / f)
    msh, _, _ = ball.create_ball(sizes, result.comm)
    # MUMPS, as the 3-D eigen-solve: PETSc's own LU fills in badly on tetrahedra (16.2k + 30.7k dofs: 55 s)
    options["petsc_options"] = {**SPECTRUM_LU, **(options.get("petsc_options") or {})}
    spec = spectrum.check(result.operator, k, fine=result.make_operator(msh), **options)
    spec.fine_mesh = "a ball of every size / 2^(1/3) (uniform refinement would give 8x the dofs)"
    say(f"spectrum ({spec.dofs} and {spec.fine_dofs} dofs, {spec.seconds:.2f}s): "
        f"{spectrum.format_values(spec)}")
    result.summary["spectrum"] = spec.record()
    warning = spectrum.untrusted_warning(spec)
    if warning:
        result.summary["warnings"].append(warning)
    return spec
