"""Figures written by the scripts keep every title and label inside the
picture (issue 21.6: the Monte Carlo marginals.png title, a model's loss in
one line, ran past both edges; search_time.py's maps cut a custom model's
case name)."""

from __future__ import annotations

import pytest

from fpsolve.cli import common as cli
from test_cli_models import _load


def texts_outside(fig) -> list[str]:
    """Texts (titles, labels, legends; not the tick labels matplotlib places
    beyond the axes and never draws) whose drawn box leaves the figure."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ticks = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for t in [*axis.get_ticklabels(which="both"), axis.get_offset_text()]}
    box = fig.bbox
    cut = []
    for text in fig.findobj(Text):
        if id(text) in ticks or not text.get_visible() or not text.get_text().strip():
            continue
        b = text.get_window_extent(renderer)
        if b.x0 < box.x0 - 0.5 or b.x1 > box.x1 + 0.5 or b.y0 < box.y0 - 0.5 or b.y1 > box.y1 + 0.5:
            cut.append(text.get_text())
    return cut


@pytest.mark.parametrize("script, args, figure", [
    ("sample_sgd.py", ["--walkers", "64", "--time", "10"], "marginals.png"),
    ("search_time.py", ["--loss", "0.5*(theta1**2 + 2*theta2**2)", "--noise", "isotropic", "--T", "0.25",
                        "--h-min", "0.2"], "tau.png"),
])
def test_script_figure_titles_fit(tmp_path, monkeypatch, script, args, figure):
    from matplotlib.figure import Figure

    cut: dict = {}
    savefig = Figure.savefig

    def checked(fig, path, *a, **k):
        cut[str(path).rsplit("/", 1)[-1]] = texts_outside(fig)
        return savefig(fig, path, *a, **k)

    monkeypatch.setattr(Figure, "savefig", checked)
    with pytest.raises(SystemExit) as exc:
        cli.main_guard(_load(script).main, [*args, "--out", str(tmp_path / "out")])
    assert exc.value.code == 0
    assert cut[figure] == [], cut
