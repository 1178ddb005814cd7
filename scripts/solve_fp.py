#!/usr/bin/env python3
"""Stationary Fokker-Planck density of SGD on the disk (MODEL.md §4).

Until the finite-element solver lands, this prints the model summary of the
case (preset, parameters, T, T_c, flattest points) and writes it as
``model.json`` in ``--out`` (default ``results/<case-name>``).  It does not
solve anything yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from fpsolve import cli, io, model


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.Parser(prog="solve_fp.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser)
    parser.add_argument("--out", default=None, help="output folder (default results/<case-name>)")
    args = parser.parse_args(argv)
    landscape, noise = cli.model_from_args(args)
    out = Path(args.out or Path("results") / cli.case_name(landscape, noise))
    summary = model.describe(landscape, noise)
    summary["versions"] = io.versions()
    print(f"case {cli.case_name(landscape, noise)}: preset {landscape.name}, "
          "a0={:g} a2={:g} a4={:g} eps={:g}".format(*landscape.coefficients))
    print(f"  alpha={noise.alpha:g} Delta={noise.Delta:g} T={noise.T:g} "
          f"T_c(constant D)={summary['T_c_constant']}")
    print("  flattest theta1: " + ", ".join(f"{x:+.6g}" for x in summary["flattest_theta1"])
          + f" (F={summary['flatness_at_flattest']:.6g}; F(0)={summary['flatness_at_global_minimum']:.6g})")
    with io.atomic_output_dir(out) as tmp:
        io.write_json(tmp / "model.json", summary)
    print(f"model summary written to {out / 'model.json'} (the FEM solve is not implemented yet)")
    return 0


if __name__ == "__main__":
    cli.main_guard(main)
