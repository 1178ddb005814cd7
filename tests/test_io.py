"""Atomic result folders: all or nothing, serial and collective under MPI."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from mpi4py import MPI

from fpsolve import io


def test_atomic_dir_appears_only_on_success(tmp_path):
    final = tmp_path / "res"
    with pytest.raises(RuntimeError):
        with io.atomic_output_dir(final) as tmp:
            (tmp / "a.txt").write_text("partial")
            raise RuntimeError("solver failed")
    assert list(tmp_path.iterdir()) == []
    with io.atomic_output_dir(final) as tmp:
        io.write_json(tmp / "s.json", {"x": np.float64(1.5), "v": np.arange(3)})
    assert json.loads((final / "s.json").read_text()) == {"x": 1.5, "v": [0, 1, 2]}
    # ordinary permissions, not mkstemp's 0600 / mkdtemp's 0700
    mask = os.umask(0o022)
    os.umask(mask)
    assert (final / "s.json").stat().st_mode & 0o777 == 0o666 & ~mask
    assert final.stat().st_mode & 0o777 == 0o777 & ~mask
    # a failed rerun leaves the earlier result intact; a good one replaces it
    with pytest.raises(RuntimeError):
        with io.atomic_output_dir(final) as tmp:
            raise RuntimeError
    assert (final / "s.json").exists()
    with io.atomic_output_dir(final) as tmp:
        (tmp / "new.txt").write_text("x")
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_versions_name_the_stack():
    v = io.versions()
    assert {"fpsolve", "python", "numpy", "dolfinx", "petsc"} <= set(v)


@pytest.mark.mpi
def test_atomic_dir_is_collective(tmp_path_factory):
    comm = MPI.COMM_WORLD
    assert comm.size >= 2, "run under mpirun -n 2"
    base = comm.bcast(str(tmp_path_factory.mktemp("mpi")) if comm.rank == 0 else None)
    final = f"{base}/res"
    with io.atomic_output_dir(final, comm) as tmp:
        (tmp / f"rank{comm.rank}.txt").write_text(str(comm.rank))
    import os

    assert sorted(os.listdir(final)) == [f"rank{r}.txt" for r in range(comm.size)]
    # one failing rank: nothing appears
    final2 = f"{base}/res2"
    raised = False
    try:
        with io.atomic_output_dir(final2, comm):
            if comm.rank == 1:
                raise RuntimeError("rank 1 failed")
    except RuntimeError:
        raised = True
    assert raised == (comm.rank == 1)
    comm.barrier()
    assert not os.path.exists(final2)


def test_atomic_file_for_writers_that_take_a_name(tmp_path):
    target = tmp_path / "mesh.msh"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_file(target, suffix=".msh") as tmp:
            assert tmp.suffix == ".msh" and tmp.parent == tmp_path
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["mesh.msh"]
    with io.atomic_file(target, suffix=".msh") as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["mesh.msh"]
