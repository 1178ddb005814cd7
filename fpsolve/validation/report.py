"""Validation reports: tables of FEM | closed form | MC ± error | verdict.

A :class:`Report` collects named tables of :class:`Row` and free text, and
writes ``report.md`` (human) and ``report.json`` (machine, with the run's
parameters and versions) into a folder.  The sweep helper
:func:`map_points` runs the points of a parameter sweep across MPI ranks.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from fpsolve.tools import io
from fpsolve.validation.metrics import Verdict


__all__ = ["Row", "Report", "fmt", "map_points"]


def fmt(value: Any, err: Any = None, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, ``± err`` if given; '' for None."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    text = f"{v:.{digits}g}"
    if err is not None and math.isfinite(float(err)):
        text += f" ± {float(err):.2g}"
    return text


@dataclasses.dataclass
class Row:
    """One quantity compared across the three methods.

    ``verdict`` is a :class:`compare.Verdict` (or a plain word such as
    'n/a' with the reason in ``note``); ``checks`` says which pair it judged.
    """

    quantity: str
    fem: Optional[float] = None
    closed: Optional[float] = None
    mc: Optional[float] = None
    mc_err: Optional[float] = None
    verdict: Any = None
    note: str = ""

    @property
    def agree(self) -> Optional[bool]:
        return self.verdict.agree if isinstance(self.verdict, Verdict) else None

    def cells(self) -> list[str]:
        if isinstance(self.verdict, Verdict):
            v = self.verdict
            word = f"{v.word} (|Δ| {fmt(abs(v.difference), digits=2)} vs tol {fmt(v.tolerance, digits=2)}, {v.rule})"
        else:
            word = "" if self.verdict is None else str(self.verdict)
        return [self.quantity, fmt(self.fem), fmt(self.closed), fmt(self.mc, self.mc_err), word, self.note]

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("quantity", "fem", "closed", "mc", "mc_err", "note")}
        out["verdict"] = (self.verdict.as_dict() if isinstance(self.verdict, Verdict) else self.verdict)
        return out


HEADER = ["quantity", "FEM", "closed form", "MC ± err", "verdict", "note"]


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row.cells()) + " |")
    return "\n".join(lines)


@dataclasses.dataclass
class Report:
    """Tables and text of one validation or reproduction run."""

    title: str
    parameters: dict
    sections: list = dataclasses.field(default_factory=list)  # (heading, text, rows)
    figures: list = dataclasses.field(default_factory=list)  # (file, caption)

    def add(self, heading: str, rows: Sequence[Row] = (), text: str = "") -> None:
        self.sections.append((heading, text, list(rows)))

    def figure(self, filename: str, caption: str) -> None:
        self.figures.append((filename, caption))

    def rows(self) -> list[Row]:
        return [r for _, _, rows in self.sections for r in rows]

    def failures(self) -> list[Row]:
        return [r for r in self.rows() if r.agree is False]

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        judged = [r for r in self.rows() if r.agree is not None]
        out.append(f"{sum(r.agree for r in judged)} of {len(judged)} checks agree.")
        out.append("")
        for heading, text, rows in self.sections:
            out += [f"## {heading}", ""]
            if text:
                out += [text.strip(), ""]
            if rows:
                out += [markdown_table(rows), ""]
        if self.figures:
            out += ["## Figures", ""]
            for name, caption in self.figures:
                out += [f"![{caption}]({name})", "", f"*{name}*: {caption}", ""]
        return "\n".join(out)

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "parameters": self.parameters,
            "sections": [{"heading": h, "text": t, "rows": [r.as_dict() for r in rows]}
                         for h, t, rows in self.sections],
            "figures": [{"file": f, "caption": c} for f, c in self.figures],
            "checks_total": sum(r.agree is not None for r in self.rows()),
            "checks_failed": [r.quantity for r in self.failures()],
            "versions": io.versions(),
        }

    def write(self, folder: Path, stem: str = "report") -> None:
        io.write_text_atomic(Path(folder) / f"{stem}.md", self.markdown())
        io.write_json(Path(folder) / f"{stem}.json", self.as_dict())


def map_points(func: Callable[[Any], Any], points: Sequence[Any], comm: Any = None,
               progress: Optional[Callable[[int, int, Any], None]] = None) -> list:
    """``[func(p) for p in points]``, the points dealt round-robin over MPI ranks.

    Every rank returns the full list in the order of ``points``.  ``func``
    must be deterministic per point (seeded by the point, not the rank), so
    the result is identical to the serial one whatever the number of ranks.
    ``progress(done, total, point)`` is called on rank 0 after each of its
    points, with ``done`` its estimate of finished points over all ranks.
    """
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    mine = list(range(rank, len(points), size))
    local = {}
    for k, i in enumerate(mine, start=1):
        local[i] = func(points[i])
        if progress is not None and rank == 0:
            progress(min(len(points), k * size), len(points), points[i])
    if comm is None:
        return [local[i] for i in range(len(points))]
    _polite_barrier(comm)
    merged: dict = {}
    for part in comm.allgather(local):
        merged.update(part)
    return [merged[i] for i in range(len(points))]


def _polite_barrier(comm: Any, nap: float = 0.01) -> None:
    """A barrier that sleeps while it waits.

    Open MPI busy-polls in blocking collectives: a rank that finished its
    points early would spin at full speed and steal a core from the ranks
    still computing (2 cores shared by several ranks here).
    """
    import time

    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(nap)
