"""The typed summary of a Monte Carlo run (``result.summary``; docs/api.md, *Typed results*).

:class:`MonteCarloSummary` is what :func:`fpsolve.mc.ensemble.run` (two
variables) and :func:`fpsolve.mc.nensemble.run` (N variables) measured, as
attributes (settings, moments over the stationary window with their standard
errors, survival, the mean first-passage time, throughput), over the dict
that ``summary.json`` writes (:meth:`~fpsolve.tools.record.Record.as_dict`).
Times in time units t = α k; an entry a run did not record reads as None.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from fpsolve.tools.record import Entry, Record


#: The window moments both runs record (each with a ``_se`` twin), in summary.json's order.
MOMENT_KEYS = ("mean_theta1", "var_theta1", "mean_abs_theta1", "std_abs_theta1")


class MonteCarloSummary(Record):
    """What one Monte Carlo run measured, attribute by attribute;
    ``as_dict()`` is summary.json's dict.  ``mean_first_passage_time`` is the
    one name of the mean first-passage time (the two-variable run also writes
    it as ``first_passage_mean_time``, its former key)."""

    # ---- settings -------------------------------------------------------------
    method = Entry[str]('"sgd", "em" (Euler-Maruyama) or "milstein".')
    shift = Entry[Optional[str]]("SGD's noise shift (None for the SDE methods).")
    cross_diffusion = Entry[Optional[bool]]("Whether the off-diagonal diffusion is kept (two variables).")
    engine = Entry[Optional[str]]('"numba" or "numpy" (two variables).')
    noise_model = Entry[Optional[str]]("The noise model (N variables).")
    family = Entry[Optional[str]]('"valley", "quadratic" or "expression" (N variables).')
    N = Entry[Optional[int]]("Number of variables (N-variable run).")
    fast_directions = Entry[Optional[int]]("Fast directions of the N-variable valley.")
    landscape = Entry[Optional[Dict[str, Any]]]("The valley's coefficients (two-variable valley run).")
    model = Entry[Optional[Dict[str, Any]]]("The model's record (custom or N-variable run).")
    noise = Entry[Dict[str, Any]]("alpha, Delta, T.")
    T = Entry[float]("Temperature T = α Δ.")
    walkers = Entry[int]("Number of walkers.")
    steps = Entry[int]("Steps per walker.")
    step_time = Entry[float]("Time per step (α for SGD).")
    time = Entry[float]("Time run.")
    seed = Entry[int]("Random seed.")
    radius = Entry[Optional[float]]("Absorbing radius (None: none).")
    center = Entry[Optional[List[float]]]("Centre of the absorbing ball.")
    divergence_bound = Entry[float]("``|θ|`` beyond which a walker counts as diverged.")
    brownian_bridge = Entry[bool]("Whether the Brownian-bridge exit test is on.")
    burn_in_time = Entry[float]("Start of the stationary window.")
    sample_interval_time = Entry[float]("Time between window samples.")
    schedule = Entry[Optional[Dict[str, Any]]]("The noise schedule (annealed run).")
    # ---- the stationary window (``_se``: standard errors) ------------------------
    samples = Entry[float]("Window samples pooled.")
    sampled_walkers = Entry[int]("Walkers that contributed samples.")
    mean_theta1 = Entry[Optional[float]]("Mean θ1.")
    mean_theta1_se = Entry[Optional[float]]("Its standard error.")
    var_theta1 = Entry[Optional[float]]("Variance of θ1.")
    var_theta1_se = Entry[Optional[float]]("Its standard error.")
    mean_theta2 = Entry[Optional[float]]("Mean θ2 (two variables).")
    mean_theta2_se = Entry[Optional[float]]("Its standard error.")
    var_theta2 = Entry[Optional[float]]("Variance of θ2 (two variables).")
    var_theta2_se = Entry[Optional[float]]("Its standard error.")
    cov_theta12 = Entry[Optional[float]]("Covariance of θ1 and θ2 (two variables).")
    cov_theta12_se = Entry[Optional[float]]("Its standard error.")
    mean_abs_theta1 = Entry[Optional[float]]("Mean ``|θ1|``.")
    mean_abs_theta1_se = Entry[Optional[float]]("Its standard error.")
    std_abs_theta1 = Entry[Optional[float]]("Standard deviation of ``|θ1|``.")
    std_abs_theta1_se = Entry[Optional[float]]("Its standard error.")
    mean_loss = Entry[Optional[float]]("Mean loss (N variables).")
    mean_theta = Entry[Optional[List[float]]]("Mean of every coordinate (N variables).")
    mean_theta_se = Entry[Optional[List[float]]]("Their standard errors (N variables).")
    var_theta = Entry[Optional[List[float]]]("Variance of every coordinate (N variables).")
    var_theta_se = Entry[Optional[List[float]]]("Their standard errors (N variables).")
    var_y_mean = Entry[Optional[float]]("Mean variance of the valley's fast directions (N variables).")
    # ---- symmetries (N variables; docs/model.md §9) -----------------------------
    symmetry = Entry[Optional[Dict[str, Any]]](
        "The model's sign flips and classes of interchangeable coordinates on the ball, the means they make 0 "
        "(with standard errors and z), the pooled variance of each class and ``broken_sampler`` "
        "(fpsolve.mc.nensemble.symmetry_statistics).")
    var_theta_pooled = Entry[Optional[List[float]]](
        "Every coordinate's variance pooled over its class of interchangeable coordinates (its own where none).")
    var_theta_pooled_se = Entry[Optional[List[float]]]("Their standard errors.")
    symmetry_seconds = Entry[Optional[float]]("Time the symmetry search took (fpsolve.model.nsymmetry.find).")
    # ---- survival and first passage ---------------------------------------------
    survival_fraction = Entry[float]("Fraction of walkers alive at the end.")
    absorbed_fraction = Entry[float]("Fraction absorbed at the radius.")
    diverged_fraction = Entry[float]("Fraction diverged.")
    first_passage_target = Entry[Optional[Dict[str, Any]]]("The target box (two variables).")
    target_abs_theta1 = Entry[Optional[List[float]]]("The ``|θ1|`` target interval (N variables).")
    first_passage_hit_fraction = Entry[Optional[float]]("Fraction of walkers that reached the target "
                                                        "(two variables).")
    mean_first_passage_time = Entry[Optional[float]](
        "Mean first-passage time into the target (two variables: over the walkers that arrived; "
        "N variables: walkers not arrived count at the horizon).")
    mean_first_passage_time_se = Entry[Optional[float]]("Its standard error.")
    passage_censored = Entry[Optional[int]]("Walkers that had not arrived by the end (N variables).")
    # ---- cost ----------------------------------------------------------------------
    walker_steps_done = Entry[Optional[int]]("Walker steps taken (N variables).")
    walker_steps_per_second = Entry[Optional[float]]("Throughput.")
    coordinate_updates_per_second = Entry[Optional[float]]("Throughput × N (N variables).")
    kernel_load_seconds = Entry[Optional[float]]("Kernel compile/load time (generated kernels).")
    wall_seconds = Entry[float]("Wall time of the run.")
    mpi_ranks = Entry[int]("MPI ranks.")
    numba_threads = Entry[int]("numba threads.")

    @property
    def moments(self) -> Dict[str, Optional[float]]:
        """The window moments of :data:`MOMENT_KEYS` (and ``mean_theta2``,
        ``var_theta2``, ``cov_theta12`` where recorded) as a dict."""
        keys = MOMENT_KEYS + ("mean_theta2", "var_theta2", "cov_theta12")
        return {k: self._data[k] for k in keys if k in self._data}

    @property
    def case_name(self) -> Optional[str]:
        """The model's name (``model.name``, or the valley's ``landscape.preset``), None when not recorded."""
        return (self.model or {}).get("name") or (self.landscape or {}).get("preset")

    def standard_error(self, name: str) -> Optional[float]:
        """The standard error of the entry ``name`` (its ``_se`` twin), None when not recorded."""
        return self._data.get(name + "_se")
