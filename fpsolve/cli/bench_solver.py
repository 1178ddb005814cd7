"""Benchmark of the FEM solver: dofs, mesh/assemble/solve seconds and the L1
error against a finer P2 reference, for P1 and P2 on two mesh levels.

Default case: preset double-well, α = 0.05, Δ = 1 (T = 0.05), full D.  A
mesh level is a factor dividing every size of the graded mesh (1 = the
default mesh).  L1 = ∫|φ − φ_ref| over the reference mesh's quadrature
points; "L1 sym." compares the θ1 → −θ1 symmetric averages (the split of
mass between the wells, also listed, is a mesh-asymmetry effect).  Writes ``bench.json`` and ``bench.md`` (the table) into ``--out``
atomically and prints the table; ``--quick`` uses coarse levels (for tests).

``--adaptive``: the four docs/model.md §6 cases instead, graded meshes (x0.65,
x1 = default, x1.5) and the adaptive loop at ``--tols``, each row in its own
process, against the graded mesh x2.5 (cycles, dofs, core and CPU seconds,
true error, estimate, negative mass, peak memory; fpsolve.validation.benchmark), and
the wall time of a whole default ``solve_fp.py`` run with its stages.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from fpsolve.cli import common as cli
from fpsolve.model.expression import Model
from fpsolve.tools import io


def l1_distance(solution, reference, symmetrise: bool = False) -> float:
    """∫ |φ − φ_ref| by the reference's quadrature points (collective).

    ``symmetrise`` compares the θ1 → −θ1 averages ½(φ(θ1, θ2) + φ(−θ1, θ2))
    instead: in the double well the split of mass between the two wells is
    set by the mesh's asymmetry over the tiny tunnelling gap (λ1 ≈ 1.8e-7
    at T = 0.05), which the symmetric average removes."""
    x, y, w, p = reference.quadrature_samples()
    comm = reference.comm
    pts = np.concatenate(comm.allgather(np.column_stack([x, y])))
    counts = comm.allgather(len(x))
    start = sum(counts[:comm.rank])
    mine = slice(start, start + len(x))
    vals = solution.evaluate(pts)[mine]
    if symmetrise:
        mirrored = pts * np.array([-1.0, 1.0])
        vals = 0.5 * (vals + solution.evaluate(mirrored)[mine])
        p = 0.5 * (p + reference.evaluate(mirrored)[mine])
    return comm.allreduce(float(np.sum(np.abs(vals - p) * w)))


def sol_model(landscape, noise, cross: bool) -> Model:
    """The Model of a valley case (docs/model.md §7)."""
    return Model.from_landscape(landscape, noise, cross)


def main(argv: Sequence[str] | None = None) -> int:
    from mpi4py import MPI

    logging.getLogger().setLevel(logging.WARNING)
    parser = cli.Parser(prog="bench_solver.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser)
    cli.add_domain_arguments(parser)
    parser.add_argument("--levels", type=float, nargs=2, default=(1.0, 1.5), metavar=("L1", "L2"),
                        help="the two mesh refinement factors (default 1 1.5)")
    parser.add_argument("--reference", type=float, default=2.5, help="refinement factor of the P2 reference (default 2.5)")
    cli.add_cross_diffusion_argument(parser)
    parser.add_argument("--quick", action="store_true", help="coarse levels 0.3 0.45, reference 0.7 (for tests)")
    cli.add_output_arguments(parser, "results/bench")
    parser.add_argument("--adaptive", action="store_true",
                        help="instead: the four docs/model.md §6 cases, graded meshes and the adaptive loop at --tols, "
                             "each row in its own process, against the graded mesh x2.5; and a default "
                             "solve_fp.py run's wall time (issue 11)")
    parser.add_argument("--tols", type=float, nargs="+", default=(1e-2, 1e-3, 1e-4),
                        help="adaptive tolerances (default 1e-2 1e-3 1e-4)")
    args = parser.parse_args(argv)
    if args.adaptive:
        return adaptive_main(args)
    landscape, noise = cli.model_from_args(args)
    radius, center = cli.domain_from_args(args)
    for name, values, what in (("--levels", args.levels, "finite numbers"),
                               ("--reference", [args.reference], "a finite number")):  # even with --quick
        for value in values:
            if not (np.isfinite(value) and value > 0):
                raise cli.UsageError(f"{name} must be {what} > 0 (got {value!r})")
    levels, ref_level = (list(args.levels), args.reference) if not args.quick else ([0.3, 0.45], 0.7)
    if ref_level <= max(levels):
        raise cli.UsageError(f"--reference ({ref_level:g}) must be finer than every level ({max(levels):g})")
    from fpsolve.fem import mesh as fmesh
    from fpsolve.fem import stationary as solver

    fmesh.graded_sizes(landscape, noise, radius, center)  # validates T > 0
    comm = MPI.COMM_WORLD
    out = io.claim_output(args.out or io.RESULTS_ROOT / "bench", "bench", args.overwrite, comm)
    progress = cli.Progress("bench_solver.py", enabled=comm.rank == 0)
    cross = not args.no_cross_diffusion
    common = dict(radius=radius, center=center, cross=cross, comm=comm)
    progress(f"reference: P2 at level {ref_level:g}")
    ref = solver.solve(landscape, noise, degree=2, refine=ref_level, **common)
    rows = []
    for degree in (1, 2):
        for level in levels:
            t0 = time.perf_counter()
            sol = solver.solve(landscape, noise, degree=degree, refine=level, **common)
            s = sol.summary
            rows.append({
                "degree": degree, "level": level, "h_min": s.mesh["h_min"], "dofs": s.dofs,
                "mesh_seconds": s.mesh_seconds, "assemble_seconds": s.assemble_seconds,
                "solve_seconds": s.solve_seconds, "solver_wall_seconds": time.perf_counter() - t0,
                "l1_vs_reference": l1_distance(sol, ref),
                "l1_symmetrised_vs_reference": l1_distance(sol, ref, symmetrise=True),
                "mass_theta1_positive": float(sol.bin_integrals([0.0, 2 * radius + abs(center[0])],
                                                                [-2 * radius - abs(center[1]), 2 * radius + abs(center[1])]).sum()),
                "mean_abs_theta1": s.mean_abs_theta1, "std_abs_theta1": s.std_abs_theta1,
                "var_theta2": s.var_theta2, "negative_mass": s.negative_mass,
                "min_density_relative": s.min_density_relative,
            })
            progress(f"P{degree} level {level:g}: {s.dofs} dofs, L1 {rows[-1]['l1_vs_reference']:.3g}")
    # issue 20: the first 10 eigenpairs (fem.spectrum, one solve, no trust check) against the λ0 solve,
    # on the finest P2 level's mesh (target: at most 3x)
    from fpsolve.fem import spectrum
    from fpsolve.fem.operator import Operator

    spec = spectrum.eigenpairs(Operator.of_model(sol.mesh, sol_model(landscape, noise, cross), degree=2), 10)
    spectrum_row = {"k": 10, "dofs": spec.dofs, "seconds": spec.seconds,
                    "lambda0_solve_seconds": s.assemble_seconds + s.solve_seconds,
                    "ratio": spec.seconds / (s.assemble_seconds + s.solve_seconds)}
    progress(f"10 eigenpairs: {spec.seconds:.2f}s, {spectrum_row['ratio']:.2f}x the lambda0 assemble + solve")
    header = ("| P | level | h_min | dofs | mesh s | assemble s | solve s | L1 vs ref | L1 sym. vs ref | mass θ1>0 "
              "| mean abs θ1 | std abs θ1 | Var θ2 | negative mass |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    table = header + "".join(
        f"| {r['degree']} | {r['level']:g} | {r['h_min']:.4g} | {r['dofs']} | {r['mesh_seconds']:.2f} | "
        f"{r['assemble_seconds']:.2f} | {r['solve_seconds']:.2f} | {r['l1_vs_reference']:.2e} | "
        f"{r['l1_symmetrised_vs_reference']:.2e} | {r['mass_theta1_positive']:.5f} | "
        f"{r['mean_abs_theta1']:.5g} | {r['std_abs_theta1']:.5g} | {r['var_theta2']:.5g} | {r['negative_mass']:.1e} |\n"
        for r in rows)
    rs = ref.summary
    ref_right = float(ref.bin_integrals([0.0, 2 * radius + abs(center[0])],
                                        [-2 * radius - abs(center[1]), 2 * radius + abs(center[1])]).sum())
    note = (f"\nreference: P2, level {ref_level:g}, h_min {rs.mesh['h_min']:.4g}, {rs.dofs} dofs, "
            f"mean abs θ1 {rs.mean_abs_theta1:.6g}, std abs θ1 {rs.std_abs_theta1:.6g}, "
            f"Var θ2 {rs.var_theta2:.6g}, mass θ1>0 {ref_right:.5f}; case T={noise.T:g}, {'full D' if cross else 'no cross-diffusion'}, "
            f"{comm.size} rank(s)\n"
            f"spectrum: 10 eigenpairs on the P2 level {levels[-1]:g} mesh ({spectrum_row['dofs']} dofs) in "
            f"{spectrum_row['seconds']:.2f} s, {spectrum_row['ratio']:.2f}x its lambda0 assemble + solve "
            f"({spectrum_row['lambda0_solve_seconds']:.2f} s)\n")
    reference = {k: rs[k] for k in ("dofs", "mean_abs_theta1", "std_abs_theta1", "var_theta2", "negative_mass")}
    with io.atomic_output_dir(out, comm, "bench", args.overwrite) as tmp:
        if comm.rank == 0:
            io.write_json(tmp / "bench.json", {
                "case": {"landscape": landscape.as_dict(), "noise": noise.as_dict()}, "cross_diffusion": cross,
                "radius": radius, "center": list(center), "levels": levels, "reference_level": ref_level,
                "reference": {**reference, "h_min": rs.mesh["h_min"]}, "rows": rows, "ranks": comm.size,
                "spectrum": spectrum_row,
                "versions": io.versions()})
            io.write_text_atomic(tmp / "bench.md", table + note)
    if comm.rank == 0:
        print(table + note, end="")
        print(f"benchmark written to {out}")
    return 0


def adaptive_main(args) -> int:
    """The table of fpsolve.validation.benchmark for the §6 cases (``--quick``: T = 0.05
    without cross-diffusion, graded x1 and tol 1e-2 against graded x1.5),
    and the wall time of a whole default solve_fp.py run."""
    import tempfile

    from mpi4py import MPI

    from fpsolve.validation import benchmark

    for value in args.tols:  # the given ones even with --quick
        cli.check_tolerance(value, "--tols")
    tols = [1e-2] if args.quick else list(args.tols)
    comm = MPI.COMM_WORLD
    if comm.size > 1:
        raise cli.UsageError("--adaptive runs each row in its own serial process: start it without mpirun")
    out = io.claim_output(args.out or io.RESULTS_ROOT / "bench", "bench", args.overwrite, comm)
    progress = cli.Progress("bench_solver.py", enabled=True)
    cases = [(0.05, False)] if args.quick else benchmark.SECTION6_CASES
    levels, ref_level = ((1.0,), 1.5) if args.quick else (benchmark.GRADED_LEVELS, benchmark.REFERENCE_LEVEL)
    rows, refs = [], []
    for T, cross in cases:
        ref, case_rows = benchmark.run_case(T, cross, tols, args.alpha, progress, levels, ref_level)
        rows += case_rows
        refs.append(ref)
    with tempfile.TemporaryDirectory() as tmpdir:
        default = benchmark.default_run_seconds(str(Path(tmpdir) / "fem"))
    progress(f"default solve_fp.py run: {default['wall_seconds']:.2f}s wall")
    text = benchmark.table(rows) + "\nreferences (graded mesh x{:g}):\n".format(ref_level) + "".join(
        f"- T={r['T']:g} {'full' if r['cross'] else 'no cross'}: {r['dofs']} dofs, mean abs θ1 "
        f"{r['mean_abs_theta1']:.8g}, std abs θ1 {r['std_abs_theta1']:.8g}, Var θ2 {r['var_theta2']:.8g}\n"
        for r in refs) + (
        "\ndefault `solve_fp.py` run (new process, all outputs): {wall_seconds:.2f} s wall = startup "
        "{startup_seconds:.2f} + mesh {mesh_seconds:.2f} + assembly {assemble_seconds:.2f} + eigen-solve "
        "{solve_seconds:.2f} + post-processing {postprocess_seconds:.2f} + imports of the writing step "
        "{imports_seconds:.2f} + other {other_seconds:.2f}\n".format(**default))
    with io.atomic_output_dir(out, comm, "bench", args.overwrite) as tmp:
        if comm.rank == 0:
            io.write_json(tmp / "bench.json", {"rows": rows, "references": refs, "reference_level": ref_level,
                                               "default_run": default, "ranks": comm.size,
                                               "versions": io.versions()})
            io.write_text_atomic(tmp / "bench.md", text)
    if comm.rank == 0:
        print(text, end="")
        print(f"benchmark written to {out}")
    return 0

