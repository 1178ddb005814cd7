"""Write the graded disk mesh of a case as a gmsh ``.msh`` (binary).

Sizes follow from the model's widths (``fpsolve.fem.mesh``, docs/model.md §5-6) unless
``--h-min``/``--h-max`` are given; ``--order 2`` curves the boundary.  The
committed meshes in ``meshes/`` are made by ``make meshes``.  The file is
written atomically; its sizes are recorded in ``<out>.json``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Sequence

from fpsolve.cli import common as cli
from fpsolve.tools import io
from fpsolve.fem import mesh as fmesh


def _written_here(path: Path, overwrite: bool = False) -> bool:
    """Whether the .msh/.json pair at ``path`` is an earlier make_mesh.py result, unchanged.

    Its JSON record names the .msh's SHA-256; a record of an older make_mesh
    without one counts only with ``overwrite``.
    """
    msh, record_path = path.with_suffix(".msh"), path.with_suffix(".json")
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return False
    if not (isinstance(record, dict) and {"sizes", "triangles", "versions"} <= set(record)):
        return False
    if "msh_sha256" not in record:
        return overwrite
    if not msh.exists():
        return True
    return msh.is_file() and io.file_sha256(msh) == record["msh_sha256"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.Parser(prog="make_mesh.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser)
    cli.add_domain_arguments(parser)
    cli.add_mesh_size_arguments(parser)
    parser.add_argument("--order", type=int, choices=(1, 2), default=1, help="geometric order (2: curved boundary)")
    parser.add_argument("--out", required=True, help="output .msh file (and a .json record beside it)")
    parser.add_argument("--overwrite", action="store_true",
                        help="also replace a mesh written by an older make_mesh.py whose record has no checksum "
                             "(a file make_mesh.py did not write is never replaced)")
    args = parser.parse_args(argv)
    landscape, noise = cli.model_from_args(args)
    radius, center = cli.domain_from_args(args)
    if not args.out.endswith(".msh"):
        raise cli.UsageError(f"--out must end in .msh (got {args.out})")
    # every input check first: claim_file probes --out's folder (a temporary folder made and removed,
    # which touches its mtime), so it comes last of the checks
    sizes = fmesh.graded_sizes(landscape, noise, radius, center, args.h_min, args.h_max)
    ours = functools.partial(_written_here, overwrite=args.overwrite)
    out = io.claim_file(args.out, ours)
    io.claim_file(out.with_suffix(".json"), ours)
    sizes = dataclasses.replace(sizes, geometry_order=args.order)
    progress = cli.Progress("make_mesh.py")
    out.parent.mkdir(parents=True, exist_ok=True)
    with io.atomic_file(out, suffix=".msh") as tmp:
        triangles = fmesh.write_msh(sizes, str(tmp))
    io.write_json(out.with_suffix(".json"), {"case": {"landscape": landscape.as_dict(), "noise": noise.as_dict()},
                                             "sizes": sizes.as_dict(), "triangles": triangles,
                                             "msh_sha256": io.file_sha256(out), "versions": io.versions()})
    progress(f"{triangles} triangles")
    print(f"mesh written to {out}")
    return 0

