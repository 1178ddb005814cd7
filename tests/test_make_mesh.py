"""scripts/make_mesh.py as a user runs it (the command behind `make meshes`):
the .msh it writes is a disk of area πR², recorded with its sizes, and a bad
--out is exit 2, one line, nothing written."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from conftest import run_script
from fpsolve.fem import meshfile


def test_make_mesh_writes_a_disk_with_its_sizes(tmp_path):
    out = tmp_path / "m" / "disk.msh"
    res = run_script("make_mesh.py", "--h-min", "0.05", "--radius", "1.5", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert str(out) in res.stdout
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["sizes"]["h_min"] == 0.05 and meta["sizes"]["radius"] == 1.5
    assert meta["case"]["landscape"]["preset"] == "double-well" and meta["triangles"] > 100
    msh, domain = meshfile.load(out, MPI.COMM_SELF)
    assert domain["domain"] == "disk" and domain["radius"] == pytest.approx(1.5, rel=1e-12)
    one = fem.Constant(msh, PETSc.ScalarType(1.0))
    area = fem.assemble_scalar(fem.form(one * ufl.dx(domain=msh)))
    # a polygon inscribed in the circle: below πR² by O(h_max²)
    assert area == pytest.approx(math.pi * 1.5 ** 2, rel=5e-3)
    assert area < math.pi * 1.5 ** 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["disk.json", "disk.msh"]  # no temp left
    # its own mesh is replaced; one changed since (its checksum in the record) never, --overwrite or not
    assert meta["msh_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    res = run_script("make_mesh.py", "--h-min", "0.1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    out.write_bytes(out.read_bytes() + b"\n$Comments edited $EndComments\n")
    edited = out.read_bytes()
    for extra in ((), ("--overwrite",)):
        res = run_script("make_mesh.py", "--h-min", "0.1", "--out", str(out), *extra)
        assert res.returncode == 2 and "was not written by this command" in res.stderr, res.stderr
        assert out.read_bytes() == edited


def test_make_mesh_bad_out_exit_2(tmp_path):
    res = run_script("make_mesh.py", "--out", str(tmp_path / "disk.txt"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--out must end in .msh" in lines[0]
    assert list(tmp_path.iterdir()) == []
