"""The typed summary of a stationary solve (``Solution.summary``; docs/api.md, *Typed results*).

:class:`StationarySummary` is what :func:`fpsolve.fem.stationary.solve`
measures, as attributes (escape rate, moments, negativity, mesh, solver and
PETSc options in effect, error estimate, symmetry, the case), over the dict
that ``summary.json`` writes (:meth:`~fpsolve.tools.record.Record.as_dict`,
unchanged keys and values).  Times in seconds; rates per unit time t = α k.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from fpsolve.tools.record import Entry, Record


#: The moments of the density (:meth:`fpsolve.fem.solution.Solution.moments`), in summary.json's order.
MOMENT_KEYS = ("mass", "mean_abs_theta1", "var_abs_theta1", "std_abs_theta1", "mean_theta1", "var_theta1",
               "mean_theta2", "var_theta2")
#: The negativity checks (:meth:`fpsolve.fem.solution.Solution.negativity`).
NEGATIVITY_KEYS = ("min_density", "max_density", "min_density_relative", "negative_mass")


class StationarySummary(Record):
    """What one stationary solve measured (docs/model.md §4-6), attribute by
    attribute; ``as_dict()`` is summary.json's dict.  An entry the solve did
    not record (``adaptivity`` on one mesh, ``spectrum`` unless asked for)
    reads as None."""

    # ---- the case and the discretisation -------------------------------------
    case = Entry[Dict[str, Any]]("The model case (:meth:`fpsolve.model.expression.Model.record`): "
                                 "landscape, noise, model.")
    T = Entry[float]("Temperature T = α Δ.")
    domain = Entry[str]('"disk" or "mesh" (a mesh file\'s own domain).')
    radius = Entry[Optional[float]]("Disk radius (θ units); None for a mesh domain.")
    center = Entry[Optional[List[float]]]("Disk centre (θ units).")
    degree = Entry[int]("Lagrange degree (1 or 2).")
    cross_diffusion = Entry[bool]("Whether the off-diagonal diffusion is kept.")
    wall = Entry[str]('"absorbing" or "reflecting".')
    mesh = Entry[Dict[str, Any]]("Mesh info: source, rule, sizes or bounds, cells, domain.")
    mesh_rule = Entry[str]('"graded", "adaptive" or "file".')
    # ---- the eigenpair ---------------------------------------------------------
    escape_rate = Entry[float]("λ0, the principal eigenvalue's real part (per unit time).")
    escape_rate_imag = Entry[float]("Imaginary part of λ0 (round-off).")
    escape_rate_flux = Entry[float]("Escape rate from the boundary flux ∮ J·n / ∫ φ.")
    escape_rate_flux_method = Entry[str]("How the boundary flux is computed.")
    escape_rate_per_step = Entry[float]("α λ0: the escape rate per SGD step.")
    eigen_residual = Entry[float]("Backward error of the eigenpair.")
    eigen_residual_relative_to_Kphi = Entry[float]("Residual relative to ‖Kφ‖.")
    eigen_gap = Entry[Optional[float]]("(λ1 − λ0)/``|λ1|``.")
    # ---- moments and negativity (also as the dicts ``moments``, ``negativity``)
    mass = Entry[float]("∫ φ (1 up to round-off).")
    mean_abs_theta1 = Entry[float]("Mean ``|θ1|``.")
    var_abs_theta1 = Entry[float]("Raw variance of ``|θ1|`` (negative flags negative mass).")
    std_abs_theta1 = Entry[float]("Standard deviation of ``|θ1|``.")
    mean_theta1 = Entry[float]("Mean θ1.")
    var_theta1 = Entry[float]("Variance of θ1.")
    mean_theta2 = Entry[float]("Mean θ2.")
    var_theta2 = Entry[float]("Variance of θ2.")
    min_density = Entry[float]("Most negative density (dofs and quadrature points).")
    max_density = Entry[float]("Largest density.")
    min_density_relative = Entry[float]("min_density / max_density.")
    negative_mass = Entry[float]("∫ max(−φ, 0).")
    mode_theta1 = Entry[float]("``|θ1|`` of the θ1-marginal's maximum.")
    flatness_at_mode = Entry[Optional[float]]("The valley's flatness at the mode (None for a custom model).")
    # ---- solver -------------------------------------------------------------
    dofs = Entry[int]("Degrees of freedom.")
    ranks = Entry[int]("MPI ranks.")
    eigen = Entry[Dict[str, Any]]("Eigen-solver info (method, LU, tolerances, options in effect, "
                                  "symmetrisation, hopping, gap, wall density).")
    symmetry = Entry[Dict[str, Any]]("Symmetries found and used, means zero by symmetry, hopping rate "
                                     "(:func:`fpsolve.fem.stationary.symmetry_summary`).")
    error_estimate = Entry[float]("Relative error estimate of the density.")
    error_estimate_method = Entry[str]("How ``error_estimate`` was computed.")
    adaptivity = Entry[Optional[Dict[str, Any]]]("The adaptive loop's cycles (adaptive rule only).")
    spectrum = Entry[Optional[Dict[str, Any]]]("The generator's eigenpairs (``--eigenpairs``, docs/model.md §10).")
    warnings = Entry[List[str]]("One line per failed check (:mod:`fpsolve.fem.diagnostics`).")
    # ---- timings (seconds) ------------------------------------------------------
    mesh_seconds = Entry[float]("Meshing time.")
    assemble_seconds = Entry[float]("Assembly time.")
    solve_seconds = Entry[float]("Eigen-solve time.")
    error_estimate_seconds = Entry[Optional[float]]("Error estimate time (one mesh).")
    adapt_seconds = Entry[Optional[float]]("Adaptive loop time.")
    postprocess_seconds = Entry[float]("Moments, negativity and mode time.")
    wall_seconds = Entry[float]("Wall time of the solve.")

    # ---- grouped views --------------------------------------------------------
    @property
    def moments(self) -> Dict[str, float]:
        """Mass and moments (:data:`MOMENT_KEYS`) as a dict."""
        return {k: self._data[k] for k in MOMENT_KEYS if k in self._data}

    @property
    def negativity(self) -> Dict[str, float]:
        """The negativity checks (:data:`NEGATIVITY_KEYS`) as a dict."""
        return {k: self._data[k] for k in NEGATIVITY_KEYS if k in self._data}

    @property
    def case_name(self) -> Optional[str]:
        """The model's name (``case.model.name``), None when not recorded."""
        return ((self.case or {}).get("model") or {}).get("name")

    @property
    def petsc_options(self) -> Optional[Dict[str, Any]]:
        """The PETSc/SLEPc options in effect in the eigen-solve (``eigen.options_in_effect``)."""
        return (self.eigen or {}).get("options_in_effect")

    @property
    def solver_gap(self) -> Optional[float]:
        """The eigen-solver's spectral gap (``eigen.gap``)."""
        return (self.eigen or {}).get("gap")

    @property
    def mirror_symmetrised(self) -> bool:
        """Whether the eigen-solve used a mirror symmetry (``eigen.mirror_symmetrised``)."""
        return bool((self.eigen or {}).get("mirror_symmetrised"))

    @property
    def wall_density_relative(self) -> Optional[float]:
        """Largest density on the wall relative to the peak (``eigen.wall_density_relative``)."""
        return (self.eigen or {}).get("wall_density_relative")

    @property
    def solver_residual(self) -> Optional[float]:
        """The eigen-solver's own residual (``eigen.residual``)."""
        return (self.eigen or {}).get("residual")

    @classmethod
    def of(cls, summary: Mapping[str, Any]) -> "StationarySummary":
        """``summary`` itself when it is a StationarySummary, else one over a
        copy of the dict (no warning)."""
        return summary if isinstance(summary, cls) else cls(summary)
