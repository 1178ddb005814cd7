"""Accuracy per cost of the solve on the MODEL.md §6 reference cases
(issue 11): for each case and tolerance, the adaptive loop's cycles, dofs,
seconds, estimate, true error against a fine reference, negative mass and
peak memory, next to the graded mesh's row.  ``scripts/bench_solver.py
--adaptive`` prints and writes the table.

True error: the largest relative error of mean |θ1|, std |θ1| and Var θ2
against the reference (an adaptive solve at a much smaller tolerance, whose
own estimate is printed with it).  Seconds are the process's CPU time of
the solve (mesh + assembly + eigen-solve + indicator, all cycles), so a
busy shared machine inflates them less than wall time.
"""

from __future__ import annotations

import resource
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

#: The four §6 cases: (T, cross-diffusion), α = 0.05.
SECTION6_CASES: Tuple[Tuple[float, bool], ...] = ((0.01, True), (0.01, False), (0.05, True), (0.05, False))
MOMENTS = ("mean_abs_theta1", "std_abs_theta1", "var_theta2")


def true_error(summary: Dict[str, Any], reference: Dict[str, Any]) -> float:
    """max over MOMENTS of |x − x_ref| / |x_ref|."""
    return max(abs(summary[k] - reference[k]) / abs(reference[k]) for k in MOMENTS)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB; Linux ru_maxrss is kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_case(landscape: Any, noise: Any, cross: bool, tols: Sequence[float], reference_tol: float,
             comm: Any, progress: Callable[[str], None]) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """(reference summary, rows) for one case: the graded mesh and the
    adaptive loop at each tolerance, against an adaptive reference."""
    from . import solver

    def timed(**kw: Any) -> Tuple[Dict[str, Any], float]:
        cpu = time.process_time()
        s = solver.solve(landscape, noise, cross=cross, comm=comm, **kw).summary
        return s, time.process_time() - cpu

    progress(f"T={noise.T:g} {'full D' if cross else 'no cross'}: reference at tol {reference_tol:g}")
    ref, _ = timed(mesh_rule="adaptive", tol=reference_tol)
    rows = []
    for rule, tol in [("graded", None)] + [("adaptive", t) for t in tols]:
        s, cpu = timed(mesh_rule=rule, tol=tol)
        core = (s.get("adapt_seconds") if rule == "adaptive"
                else s["mesh_seconds"] + s["assemble_seconds"] + s["solve_seconds"])
        rows.append({
            "T": noise.T, "cross_diffusion": cross, "rule": rule, "tol": tol,
            "cycles": len(s["adaptivity"]["cycles"]) if rule == "adaptive" else 1,
            "dofs": s["dofs"], "core_seconds": core, "cpu_seconds": cpu,
            "true_error": true_error(s, ref), "estimate": s.get("error_estimate"),
            "negative_mass": s["negative_mass"], "peak_memory_mb": peak_memory_mb(),
            **{k: s[k] for k in MOMENTS},
        })
        r = rows[-1]
        progress(f"  {rule} tol {tol}: {r['dofs']} dofs, true error {r['true_error']:.2e}, "
                 f"estimate {r['estimate']}, {r['core_seconds']:.2f}s")
    return ref, rows


def table(rows: Sequence[Dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    head = ("| T | D | mesh | tol | cycles | dofs | core s | CPU s | true error | estimate | negative mass "
            "| peak MB |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['T']:g} | {'full' if r['cross_diffusion'] else 'no cross'} | {r['rule']} | "
        f"{'-' if r['tol'] is None else format(r['tol'], 'g')} | {r['cycles']} | {r['dofs']} | "
        f"{r['core_seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['true_error']:.1e} | "
        f"{'-' if r['estimate'] is None else format(r['estimate'], '.1e')} | {r['negative_mass']:.1e} | "
        f"{r['peak_memory_mb']:.0f} |\n" for r in rows)
