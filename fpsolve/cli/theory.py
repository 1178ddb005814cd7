"""Closed-form predictions of adiabatic elimination for one case (docs/model.md §5, §9).

Prints a table and writes ``theory.json`` in ``--out`` (default
``results/<case-name>/theory``): T_c both ways, the most probable |θ1| and its
flatness, the moments of the slow marginal (landscape-dependent and
constant-D), Var θ2, the search time (time units and SGD steps), the
adiabatic ratio and the divergence boundaries Δ_max(α).  With
``--sweep-T a:b:n`` it also writes ``sweep.csv`` and ``sweep.png`` (θ1*,
F(θ1*), Var θ1, Var θ2 and the search time against T, T_c marked).

With ``--fast-directions m`` the valley has m fast directions (docs/model.md
§9; ``--a0 1,1.2,0.8`` style lists give each its own g_i) and theory.json holds
its closed forms (T_c(m) both ways, mode, moments, Var y_i per direction, the
search time and the divergence bounds per direction) on x ∈ [−R, R].

The θ1 interval of the moments is the disk's chord on the valley floor
θ2 = 0 (``--radius``, ``--center``).  Time unit: alpha SGD steps.
"""

from __future__ import annotations

import csv
import io as _io
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from fpsolve.cli import common as cli
from fpsolve.model import exact as gibbs
from fpsolve.tools import io
from fpsolve.theory import valley as theory
from fpsolve.theory import nvalley as ntheory
from fpsolve.model.valley import Landscape, ModelError, Noise
from fpsolve.plots.stationary import pyplot, save_figure

#: Largest number of temperatures of a sweep.
MAX_SWEEP = 2000
SWEEP_COLUMNS = ("T", "Delta", "mode_theta1", "flatness_at_mode", "mean_abs_theta1", "std_abs_theta1",
                 "var_theta1", "var_theta2", "search_time", "search_time_steps", "adiabatic_ratio")


def parse_sweep(text: str) -> np.ndarray:
    """``a:b:n`` → n temperatures evenly spaced in [a, b], 0 < a < b, 2 ≤ n ≤ MAX_SWEEP."""
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise cli.UsageError(f"--sweep-T must be a:b:n with numbers a, b and an integer n (got {text!r})") from None
    if not (math.isfinite(a) and math.isfinite(b) and 0 < a < b):
        raise cli.UsageError(f"--sweep-T needs finite 0 < a < b (got {text!r})")
    if not 2 <= n <= MAX_SWEEP:
        raise cli.UsageError(f"--sweep-T needs 2 <= n <= {MAX_SWEEP} (got n={n})")
    return np.linspace(a, b, n)


def theta1_interval(radius: float, center: tuple[float, float]) -> tuple[float, float]:
    """The disk's chord on θ2 = 0; it contains θ1 = 0 because
    ``cli.model_and_domain`` refused a disk without the minimum (0, 0)."""
    cx, cy = center
    half = math.sqrt(radius * radius - cy * cy)
    return cx - half, cx + half


def table(pred: dict) -> str:
    """The predictions of one case as an aligned text table."""
    rows = [
        ("T = alpha*Delta", pred["T"]),
        ("T_c constant D (2 eps/(a0|a2|))", pred["T_c_constant"]),
        ("T_c landscape (A'(0) = B''(0))", pred["T_c_landscape"]),
        ("mode |theta1|*", pred["mode_theta1"]),
        ("flatness F(theta1*)", pred["flatness_at_mode"]),
        ("mean |theta1|", pred["mean_abs_theta1"]),
        ("std |theta1|", pred["std_abs_theta1"]),
        ("Var theta1", pred["var_theta1"]),
        ("Var theta2 (Gaussian s2)", pred["var_theta2"]),
        ("Var theta2 (exact s2)", pred["var_theta2_exact"]),
        ("mean |theta1|, constant D", pred.get("mean_abs_theta1_constant")),
        ("std |theta1|, constant D", pred.get("std_abs_theta1_constant")),
        ("search time (time units)", pred["search_time"]),
        ("search time (SGD steps)", pred["search_time_steps"]),
        ("adiabatic ratio tau2/tau1 at mode", pred["adiabatic_ratio"]),
        ("heavy-tail index T g'^2/(2g) at mode", pred["heavy_tail_index_at_mode"]),
        ("anisotropy D22/D11 at mode", pred["anisotropy_at_mode"]),
    ]
    for cond, value in pred.get("Delta_max", {}).items():
        rows.append((f"Delta range(alpha), {cond}", f"[{pred['Delta_min'][cond]:.6g}, {'inf' if value is None else f'{value:.6g}'}]"))
    return aligned(rows)


def aligned(rows: list) -> str:
    """(name, value) rows as an aligned text table (numbers to 6 digits, None as 'none')."""
    def fmt(value):
        if value is None:
            return "none"
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {fmt(value)}" for name, value in rows)


def sweep_rows(landscape: Landscape, alpha: float, Ts: np.ndarray, interval: tuple[float, float],
               progress: cli.Progress) -> list[dict]:
    rows = []
    for i, T in enumerate(Ts):
        noise = Noise.from_temperature(float(T), alpha)
        pred = theory.predictions(landscape, noise, interval, with_boundaries=False)
        rows.append({"Delta": noise.Delta, **{k: pred[k] for k in SWEEP_COLUMNS if k in pred}})
        if (i + 1) % max(1, len(Ts) // 5) == 0:
            progress(f"sweep {i + 1}/{len(Ts)} (T={T:g})")
    return rows


def write_sweep(tmp: Path, rows: list[dict], tcs: dict) -> None:
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SWEEP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: repr(float(row[k])) for k in SWEEP_COLUMNS})
    io.write_text_atomic(tmp / "sweep.csv", buf.getvalue())

    plt = pyplot()

    T = np.array([r["T"] for r in rows])
    panels = [("mode_theta1", r"$|\theta_1|^*$"), ("flatness_at_mode", r"$F(\theta_1^*)$"),
              ("var_theta1", r"Var $\theta_1 = \langle\theta_1^2\rangle$"), ("var_theta2", r"Var $\theta_2$"),
              ("search_time", r"search time $\tau_s$ (time units)")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6, 11), sharex=True)
    for ax, (key, label) in zip(axes, panels):
        ax.plot(T, [r[key] for r in rows], "o-", ms=3, label=label)
        if key == "var_theta1":
            # the fluctuation around the peak, which the seed (II.2) sees peak at T_c
            ax.plot(T, [r["std_abs_theta1"] ** 2 for r in rows], "s-", ms=3, label=r"Var $|\theta_1|$")
            ax.set_yscale("log")
            ax.legend(fontsize=8)
        ax.set_ylabel(label)
        if key == "search_time":
            ax.set_yscale("log")
        for name, style in (("T_c_constant", "--"), ("T_c_landscape", ":")):
            if tcs[name] is not None:
                ax.axvline(tcs[name], color="k", ls=style, lw=1,
                           label=f"{name.replace('_', ' ')} = {tcs[name]:.4g}")
    axes[0].legend(fontsize=8)  # the T_c lines
    axes[-1].set_xlabel(r"$T = \alpha\Delta$")
    save_figure(fig, tmp / "sweep.png", dpi=120)


def exact_density_main(args, model, radius: float, center: tuple[float, float]) -> int:
    """A model with an exact density P ∝ exp(−U) (docs/model.md §7): its moments
    on the disk by 2-D quadrature, in theory.json."""
    name = cli.case_folder_name(model.case_name(), args)
    out = io.claim_output(args.out or io.default_out(name, "theory"), "theory", args.overwrite)
    progress = cli.Progress("theory.py")
    progress(f"case {name}: exact density exp(-U) on the disk")
    mom = gibbs.moments(model, radius, center)
    result = {"closed_forms": {"adiabatic": False, "exact_density": True}, "exact_density": mom,
              "model": model.as_dict(), "T": model.T,
              "domain": {"radius": radius, "center": list(center)},
              "conventions": {"exact_density": "P ∝ exp(-U), D^-1 (grad L + div D) = grad U (docs/model.md §7); "
                                               "stationary density of the reflecting disk"},
              "versions": io.versions()}
    print(f"case {name}: {model.describe()}")
    print("\n".join(f"{k:>18s}  {v:.6g}" for k, v in mom.items()))
    with io.atomic_output_dir(out, None, "theory", args.overwrite) as tmp:
        io.write_json(tmp / "theory.json", result)
    progress(f"wrote {out}")
    print(f"written to {out / 'theory.json'}")
    return 0


#: Largest m of the closed forms (theory.json lists m per-direction values; 1e6 is ~60 MB).
MAX_FAST_DIRECTIONS = 1_000_000


def nvalley_table(pred: dict) -> str:
    """The closed forms for m fast directions as an aligned table (per-direction lists summarised)."""
    div = pred["divergence"]
    rows = [
        ("T = alpha*Delta", pred["T"]),
        ("fast directions m", pred["fast_directions"]),
        ("T_c constant D (2 eps/(-sum a0 a2))", pred["T_c_constant"]),
        ("T_c landscape (A'(0) = B''(0))", pred["T_c_landscape"]),
        ("mode |x|*", pred["mode_theta1"]),
        ("flatness (sum g_i(x*))^-1/2", pred["flatness_at_mode"]),
        ("mean |x|", pred["mean_abs_theta1"]),
        ("std |x|", pred["std_abs_theta1"]),
        ("Var y_i, mean over i", pred["var_y_mean"]),
        ("Var y_i, min .. max", f"{min(pred['var_y']):.6g} .. {max(pred['var_y']):.6g}"),
        ("mean |x|, constant D", pred.get("mean_abs_theta1_constant")),
        ("search time (time units)", pred.get("search_time")),
        ("search time (SGD steps)", pred.get("search_time_steps")),
        ("adiabatic ratio, largest over i", pred["adiabatic_ratio"]),
        ("heavy-tail index, largest over i", pred["heavy_tail_index_at_mode"]),
        ("first-order margin alpha<g_i>-2, worst", max(div["first_order"]) if "first_order" in div else None),
    ]
    return aligned(rows)


def nvalley_main(args) -> int:
    """``--fast-directions m``: the closed forms of docs/model.md §9 in theory.json."""
    m = args.fast_directions
    if not 1 <= m <= MAX_FAST_DIRECTIONS:
        raise cli.UsageError(f"--fast-directions must be an integer in [1, {MAX_FAST_DIRECTIONS}] (got {m})")
    for flag, given in (("--loss", args.loss is not None), ("--param", bool(args.param)),
                        ("--noise-covariance", args.noise_covariance is not None),
                        ("--sweep-T", args.sweep_T is not None)):
        if given:
            raise cli.UsageError(f"--fast-directions does not take {flag} (the closed forms of docs/model.md §9 "
                                 "are for the valley presets with sgd noise)")
    if args.noise not in (None, "sgd", "sgd-diagonal"):
        raise cli.UsageError(f"--fast-directions closed forms need --noise sgd or sgd-diagonal (got {args.noise})")
    radius, center = cli.domain_from_args(args)
    if tuple(center) != (0.0, 0.0):
        raise cli.UsageError(f"--fast-directions uses the ball of --radius around 0 (got --center {center[0]:g} {center[1]:g})")
    valley = cli.nvalley_from_args(args, radius)
    noise = (Noise.from_temperature(args.T, args.alpha) if args.T is not None
             else Noise(args.alpha, cli.DEFAULT_DELTA if args.Delta is None else args.Delta)).require_positive_T()
    name = cli.case_folder_name(cli.nvalley_case_name(valley, noise), args)
    out = io.claim_output(args.out or io.default_out(name, "theory"), "theory", args.overwrite)
    progress = cli.Progress("theory.py")
    progress(f"case {name}: closed forms for {m} fast directions on x in [{-radius:g}, {radius:g}]")
    pred = ntheory.predictions(valley, noise, radius)
    result = {
        **pred,
        "closed_forms": {"adiabatic": True, "exact_density": False, "fast_directions": m},
        "valley": valley.as_dict(),
        "noise": noise.as_dict(),
        "domain": {"radius": radius, "center": [0.0, 0.0], "x_interval": [-radius, radius]},
        "conventions": {"time_unit": "alpha SGD steps (t = alpha k)",
                        "marginal": "landscape-dependent P1 of x with Gaussian fast moments s_i = T g_i/2 "
                                    "(docs/model.md §9); theta1 keys are the slow coordinate x",
                        "var_y": "per fast direction, (T/2) <g_i(x)>"},
        "versions": io.versions(),
    }
    print(f"case {name}: preset {valley.name}, {m} fast directions, eps={valley.eps:g}, "
          f"alpha={noise.alpha:g} Delta={noise.Delta:g}")
    print(nvalley_table(pred))
    with io.atomic_output_dir(out, None, "theory", args.overwrite) as tmp:
        io.write_json(tmp / "theory.json", result)
    progress(f"wrote {out}")
    print(f"written to {out / 'theory.json'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.Parser(prog="theory.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser, fast_directions=True)
    cli.add_expression_arguments(parser)
    cli.add_domain_arguments(parser)
    cli.add_output_arguments(parser, "results/<case-name>/theory")
    parser.add_argument("--sweep-T", default=None, metavar="a:b:n",
                        help="also sweep n values of T evenly in [a, b] at fixed --alpha: sweep.csv, sweep.png")
    parser.add_argument("--no-boundaries", action="store_true",
                        help="skip the divergence boundaries Delta_max(alpha) (three root-findings)")
    cli.add_fast_direction_arguments(parser)
    args = parser.parse_args(argv)
    if args.fast_directions is not None:
        return nvalley_main(args)
    # every check before anything is computed or written
    model, radius, center = cli.model_and_domain(args)
    model.noise_level.require_positive_T()
    forms = gibbs.closed_forms(model, radius, center)
    if not forms["adiabatic"]:
        if not forms["exact_density"]:
            raise ModelError(gibbs.refusal(model))
        if args.sweep_T is not None:
            raise cli.UsageError("--sweep-T applies to the valley's closed forms (docs/model.md §5)")
        return exact_density_main(args, model, radius, center)
    landscape, noise = model.valley, model.noise_level
    interval = theta1_interval(radius, center)
    Ts = parse_sweep(args.sweep_T) if args.sweep_T is not None else None
    name = cli.case_folder_name(cli.case_name(landscape, noise), args)
    out = io.claim_output(args.out or io.default_out(name, "theory"), "theory", args.overwrite)
    progress = cli.Progress("theory.py")

    progress(f"case {name}: closed forms on theta1 in [{interval[0]:g}, {interval[1]:g}]")
    pred = theory.predictions(landscape, noise, interval, with_boundaries=not args.no_boundaries)
    result = {
        **pred,
        "closed_forms": forms,
        "model": model.as_dict(),
        "landscape": landscape.as_dict(),
        "noise": noise.as_dict(),
        "domain": {"radius": radius, "center": list(center), "theta1_interval": list(interval)},
        "conventions": {"time_unit": "alpha SGD steps (t = alpha k)",
                        "marginal": "landscape-dependent P1 with Gaussian theta2 moments (docs/model.md §5)",
                        "search": "mean first passage from search_start to search_target, reflecting at search_reflect"},
        "versions": io.versions(),
    }
    rows = None
    if Ts is not None:
        progress(f"sweep of {len(Ts)} temperatures in [{Ts[0]:g}, {Ts[-1]:g}] at alpha={noise.alpha:g}")
        rows = sweep_rows(landscape, noise.alpha, Ts, interval, progress)
        result["sweep"] = {"T_min": float(Ts[0]), "T_max": float(Ts[-1]), "n": int(len(Ts)),
                           "files": ["sweep.csv", "sweep.png"]}

    print(f"case {name}: preset {landscape.name}, "
          "a0={:g} a2={:g} a4={:g} eps={:g}, alpha={:g} Delta={:g}".format(
              *landscape.coefficients, noise.alpha, noise.Delta))
    print(table(pred))
    with io.atomic_output_dir(out, None, "theory", args.overwrite) as tmp:
        io.write_json(tmp / "theory.json", result)
        if rows is not None:
            write_sweep(tmp, rows, pred)
    progress(f"wrote {out}")
    print(f"written to {out / 'theory.json'}" + (" and sweep.csv, sweep.png" if rows is not None else ""))
    return 0

