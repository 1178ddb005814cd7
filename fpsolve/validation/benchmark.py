"""Accuracy per cost of the solve on the docs/model.md §6 reference cases
(issue 11): for each case and tolerance, the adaptive loop's cycles, dofs,
seconds, estimate, true error against a fine reference, negative mass and
peak memory, next to the graded mesh's row.  ``scripts/bench_solver.py
--adaptive`` prints and writes the table.

True error: the largest relative error of mean ``|θ1|``, std ``|θ1|`` and Var θ2
against the reference (the graded mesh refined REFERENCE_LEVEL times).
Each row runs in its own process (:func:`run_isolated`), so its peak
memory is its own; core seconds are the solve's wall times of mesh,
assembly and eigen-solve (all cycles), CPU seconds the process time of the
solve, steadier on a busy shared machine.
"""

from __future__ import annotations

import resource
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

from fpsolve.fem import stationary as solver
from fpsolve.model.valley import Landscape, Noise


#: The four §6 cases: (T, cross-diffusion), α = 0.05.
SECTION6_CASES: Tuple[Tuple[float, bool], ...] = ((0.01, True), (0.01, False), (0.05, True), (0.05, False))
MOMENTS = ("mean_abs_theta1", "std_abs_theta1", "var_theta2")


def true_error(summary: Dict[str, Any], reference: Dict[str, Any]) -> float:
    """max over MOMENTS of ``|x − x_ref|`` / ``|x_ref|``."""
    return max(abs(summary[k] - reference[k]) / abs(reference[k]) for k in MOMENTS)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB; Linux ru_maxrss is kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


#: Refinement factors of the graded rows (1 = the default mesh) and of the reference.
GRADED_LEVELS: Tuple[float, ...] = (0.65, 1.0, 1.5)
REFERENCE_LEVEL = 2.5


def solve_row(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One row in this process: ``spec`` = {T, cross, alpha, rule ("graded"
    or "adaptive"), level (graded refinement factor) or tol}.  Core seconds
    are the solve's mesh + assembly + eigen-solve (+ indicator: all cycles)
    wall times; CPU seconds the process time of the whole ``solve`` call."""
    from mpi4py import MPI


    noise = Noise.from_temperature(spec["T"], spec["alpha"])
    kw = ({"mesh_rule": "adaptive", "tol": spec["tol"]} if spec["rule"] == "adaptive"
          else {"mesh_rule": "graded", "refine": spec["level"]})
    cpu = time.process_time()
    s = solver.solve(Landscape.from_preset(spec.get("preset", "double-well")), noise, cross=spec["cross"],
                     comm=MPI.COMM_SELF, **kw).summary
    cpu = time.process_time() - cpu
    core = (s.adapt_seconds if spec["rule"] == "adaptive"
            else s.mesh_seconds + s.assemble_seconds + s.solve_seconds)
    return {**spec, "cycles": len(s.adaptivity["cycles"]) if spec["rule"] == "adaptive" else 1,
            "dofs": s.dofs, "core_seconds": core, "cpu_seconds": cpu, "estimate": s.error_estimate,
            "negative_mass": s.negative_mass, "mesh_rule_detail": s.mesh.get("rule"),
            "peak_memory_mb": peak_memory_mb(), **{k: getattr(s, k) for k in MOMENTS}}


def run_isolated(spec: Dict[str, Any]) -> Dict[str, Any]:
    """:func:`solve_row` in a fresh Python process, so that its peak memory
    is the row's own (the process's ``ru_maxrss``, imports included)."""
    import json
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "fpsolve.validation.benchmark", json.dumps(spec)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"benchmark row {spec} failed: {res.stderr.strip().splitlines()[-1:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_case(T: float, cross: bool, tols: Sequence[float], alpha: float,
             progress: Callable[[str], None], levels: Sequence[float] = GRADED_LEVELS,
             reference_level: float = REFERENCE_LEVEL) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """(reference row, rows) for one case: graded meshes at ``levels`` and
    the adaptive loop at each of ``tols``, each in its own process, against
    the graded mesh refined ``reference_level`` times (converged to about
    1e-6 on the §6 cases: levels 2 and 2.5 agree to 2e-6 at T = 0.01)."""
    base = {"T": T, "cross": cross, "alpha": alpha}
    progress(f"T={T:g} {'full D' if cross else 'no cross'}: reference (graded x{reference_level:g})")
    ref = run_isolated({**base, "rule": "graded", "level": reference_level, "tol": None})
    specs = ([{**base, "rule": "graded", "level": lv, "tol": None} for lv in levels]
             + [{**base, "rule": "adaptive", "level": None, "tol": t} for t in tols])
    rows = []
    for spec in specs:
        r = run_isolated(spec)
        r["true_error"] = true_error(r, ref)
        rows.append(r)
        progress(f"  {r['rule']} {'x' + format(r['level'], 'g') if r['rule'] == 'graded' else 'tol ' + format(r['tol'], 'g')}: "
                 f"{r['dofs']} dofs, true error {r['true_error']:.2e}, {r['core_seconds']:.2f}s core, "
                 f"{r['cpu_seconds']:.2f}s CPU, {r['peak_memory_mb']:.0f} MB")
    return ref, rows


def default_run_seconds(out: str) -> Dict[str, float]:
    """Wall seconds of the whole default ``scripts/solve_fp.py`` run (a new
    process: imports, mesh, solve, post-processing, every output written to
    ``out``) and the stages its summary.json records."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "solve_fp.py"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(script), "--out", out, "--overwrite"], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    s = json.loads((Path(out) / "summary.json").read_text())
    stages = {k: s[k] for k in ("mesh_seconds", "assemble_seconds", "solve_seconds")}
    post = s["postprocess_seconds"] + s["output_seconds"]  # moments, mode; grid, marginals, files, figures
    # the rest of the script's wall: reading options, loading libgmsh, imports
    # made on the way (the writing step's: matplotlib with its fonts, theory, timed apart); startup: interpreter and
    # imports before main()
    return {"wall_seconds": wall, "startup_seconds": wall - s["wall_seconds"], **stages,
            "postprocess_seconds": post, "imports_seconds": s["imports_seconds"],
            "other_seconds": s["wall_seconds"] - sum(stages.values()) - post - s["imports_seconds"]}


def table(rows: Sequence[Dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    head = ("| T | D | mesh | level / tol | cycles | dofs | core s | CPU s | true error | estimate | negative mass "
            "| peak MB |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['T']:g} | {'full' if r['cross'] else 'no cross'} | {r['rule']} | "
        f"{('x' + format(r['level'], 'g')) if r['rule'] == 'graded' else format(r['tol'], 'g')} | {r['cycles']} | "
        f"{r['dofs']} | {r['core_seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['true_error']:.1e} | "
        f"{'-' if r['estimate'] is None else format(r['estimate'], '.1e')} | {r['negative_mass']:.1e} | "
        f"{r['peak_memory_mb']:.0f} |\n" for r in rows)


if __name__ == "__main__":  # one isolated row: python -m fpsolve.validation.benchmark '{"T": ...}'
    import json
    import logging
    import sys

    logging.getLogger().setLevel(logging.WARNING)
    print(json.dumps(solve_row(json.loads(sys.argv[1]))))
