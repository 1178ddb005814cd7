"""Command-line plumbing shared by the scripts in ``scripts/``.

The model options (names are a contract between the scripts): ``--preset``,
``--a0 --a2 --a4 --eps``, ``--alpha``, ``--Delta`` or ``--T`` (with a fixed
``--alpha``); in the scripts that take any model (docs/model.md §7) also
``--loss EXPR``, ``--param NAME=VALUE`` (repeatable), ``--noise
{sgd,sgd-diagonal,isotropic}`` or ``--noise-covariance S11 S12 S22``.  Bad
input ends the program with exit status 2 and one line on stderr naming the
bad value, before anything is written; Ctrl-C, in any phase (importing this
module installs a ``sys.excepthook`` for the import phase, :func:`main_guard`
covers the rest), is exit status 130 and one line.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

import numpy as np


#: The one line of an interrupted command (exit status 130).
INTERRUPTED = "interrupted (Ctrl-C)"


def interrupted(exc: BaseException) -> bool:
    """True if ``exc`` is, or was raised while handling, a KeyboardInterrupt."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _script_hook(exc_type, exc, tb) -> None:
    """sys.excepthook of the scripts, for what goes wrong while a script
    imports its modules (before main_guard runs): Ctrl-C is one line and
    exit status 130, an InputError (e.g. no writable cache) one line and 2.
    It runs while this module may still be importing: it reads only what
    exists by then."""
    prog = globals().get("_PROG") or sys.argv[0].rsplit("/", 1)[-1]
    errors = sys.modules.get("fpsolve.tools.errors")
    if exc is not None and interrupted(exc):
        sys.stderr.write(f"{prog}: {INTERRUPTED}\n")
        code = 130
    elif errors is not None and isinstance(exc, errors.InputError):
        sys.stderr.write(f"{prog}: error: {exc}\n")
        code = 2
    else:
        sys.__excepthook__(exc_type, exc, tb)
        return
    sys.stderr.flush()
    os._exit(code)


if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _script_hook


# after the hook, so that Ctrl-C while numpy loads is one line too
from fpsolve.fem.forms import WALLS, check_wall  # noqa: E402
from fpsolve.fem.mesh import DEFAULT_RADIUS, check_disk  # noqa: E402
from fpsolve.model.expression import FUNCTIONS, NOISES, Model, check_constant_name  # noqa: E402
from fpsolve.model.valley import DEFAULT_PRESET, PRESETS, Landscape, ModelError, Noise  # noqa: E402
from fpsolve.model.nvalley import NValley  # noqa: E402
from fpsolve.tools.errors import InputError  # noqa: E402
from fpsolve.tools.signals import keep_sigint_handler  # noqa: E402
from fpsolve.fem import meshfile  # noqa: E402
from fpsolve.fem.model_mesh import model_mesh_sizes  # noqa: E402
from fpsolve.tools.io import DISK_FULL  # noqa: E402
from fpsolve.model.schedule import NAMES as SCHEDULES, Schedule, parse_params as schedule_params  # noqa: E402
from fpsolve.theory.stability import alpha_bound  # noqa: E402

#: Valley coefficient options (docs/model.md §1).
VALLEY_OPTIONS = ("a0", "a2", "a4", "eps")

#: Default noise of the default case: alpha = 0.05, Delta = 1 (T = 0.05 > T_c).
DEFAULT_ALPHA = 0.05
DEFAULT_DELTA = 1.0


class UsageError(InputError):
    """A bad command-line value; the message is the one line the user sees."""


#: The program name in messages when a tool runs as ``fpsolve TOOL`` (None: the script's own).
_PROG: str | None = None


def set_prog(prog: str | None) -> None:
    """Name the running tool ``prog`` in its usage and error lines (``fpsolve solve``)."""
    global _PROG
    _PROG = prog


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit status 2."""

    def __init__(self, *args: Any, prog: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, prog=_PROG or prog, **kwargs)
        # a comma list of numbers starting with a minus sign (--a0 -1,1) is a value, not an option:
        # argparse's own rule knows only single numbers (-1, -.5)
        self._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-\d*\.?\d+([eE][-+]?\d+)?(,[-+]?[\d.eE+-]+)+$")

    def error(self, message: str) -> NoReturn:  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message}\n")


#: The tools with ``--fast-directions`` (docs/model.md §9), named where another tool refuses a comma list.
FAST_DIRECTION_TOOLS = "sample_sgd.py, validate.py, theory.py, solve_fp.py, evolve_fp.py"


def add_model_arguments(parser: argparse.ArgumentParser, fast_directions: bool = False) -> None:
    """Landscape and noise options (docs/model.md §1–2); ``fast_directions``:
    the tool has ``--fast-directions`` (then ``--a0/--a2/--a4`` also take comma
    lists, :func:`coefficient_list`; elsewhere one number, :func:`one_coefficient`)."""
    group = parser.add_argument_group("model (docs/model.md §1-2)")
    group.add_argument("--preset", default=None,
                       help=f"landscape preset: {', '.join(PRESETS)} (default {DEFAULT_PRESET})")
    for name in ("a0", "a2", "a4"):
        if fast_directions:
            group.add_argument(f"--{name}", type=coefficient_list, default=None,
                               help=f"override the preset's {name}; with --fast-directions m also a comma list "
                                    f"of m values, one per fast direction (e.g. --{name} 1,1.2,0.8)")
        else:
            group.add_argument(f"--{name}", type=one_coefficient, default=None,
                               help=f"override the preset's {name}")
    group.add_argument("--eps", type=float, default=None, help="override the preset's eps")
    group.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                       help=f"learning rate alpha (default {DEFAULT_ALPHA:g})")
    noise = group.add_mutually_exclusive_group()
    noise.add_argument("--Delta", type=float, default=None,
                       help=f"minibatch shift variance Delta (default {DEFAULT_DELTA:g})")
    noise.add_argument("--T", type=float, default=None,
                       help="effective noise level T = alpha*Delta, at fixed --alpha")


def coefficient_list(text: str) -> float | tuple[float, ...]:
    """``--a0`` style value: one number, or a comma list of numbers (one per
    fast direction, docs/model.md §9); argparse reports a bad one in one line."""
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or a comma list of numbers") from None
    return values[0] if len(values) == 1 else values


def one_coefficient(text: str) -> float:
    """``--a0`` style value of a tool without ``--fast-directions``: one number
    (a comma list is refused, naming the tools that take one)."""
    if "," in text:
        raise argparse.ArgumentTypeError(f"{text!r} is a comma list: this tool takes one number (per-direction "
                                         f"lists need --fast-directions, in {FAST_DIRECTION_TOOLS})")
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _no_lists(args: argparse.Namespace) -> None:
    """UsageError for a ``--a0/--a2/--a4`` comma list without ``--fast-directions``."""
    for k in VALLEY_OPTIONS:
        v = getattr(args, k, None)
        if isinstance(v, tuple):
            raise UsageError(f"--{k} {','.join(f'{x:g}' for x in v)} is a comma list of {len(v)} values: it needs "
                             f"--fast-directions {len(v)} (one value per fast direction), else give one number")


def add_fast_direction_arguments(parser: argparse.ArgumentParser) -> None:
    """``--fast-directions m``: the valley of docs/model.md §9 with m fast
    directions (the ``--a0/--a2/--a4`` lists give each its own g_i); read
    with :func:`nvalley_from_args`."""
    parser.add_argument("--fast-directions", type=int, default=None, metavar="m",
                        help="the valley in N = m+1 dimensions (docs/model.md §9): m fast directions, each with "
                             "the preset's g or its own from --a0/--a2/--a4 comma lists")


def nvalley_from_args(args: argparse.Namespace, radius: float):
    """The :class:`~fpsolve.model.nvalley.NValley` of ``--preset``, ``--fast-directions``
    and ``--a0 … --eps`` (numbers or lists of m), with every g_i > 0 on
    ``|x| ≤ radius``; raises ModelError naming the bad value."""
    try:
        nv = NValley.from_preset(args.preset or DEFAULT_PRESET, fast_directions=args.fast_directions,
                                 **{k: getattr(args, k) for k in VALLEY_OPTIONS})
    except InputError as exc:  # name the option: "a0 needs 1 or m = 2 values" -> "--a0 ..."
        if str(exc).split(" ", 1)[0].split("[", 1)[0] in VALLEY_OPTIONS:
            raise type(exc)(f"--{exc}") from None
        raise
    return nv.check_positive(radius)


def add_expression_arguments(parser: argparse.ArgumentParser) -> None:
    """Any model (docs/model.md §7): ``--loss``, ``--param``, ``--noise``,
    ``--noise-covariance``; read them with :func:`user_model_from_args`."""

    group = parser.add_argument_group("any model (docs/model.md §7)")
    group.add_argument("--loss", default=None, metavar="EXPR",
                       help="loss in theta1, theta2 (aliases x, y), the --param constants and "
                            "(theta3 or z makes the solve, evolve and search 3-D on a ball) "
                            f"{', '.join(FUNCTIONS)}; instead of --preset/--a0...")
    group.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="a named constant of --loss/--noise-covariance (repeatable)")
    noise = group.add_mutually_exclusive_group()
    noise.add_argument("--noise", choices=NOISES, default=None,
                       help="gradient-noise model: sgd (Delta H^2, default), sgd-diagonal (its diagonal, "
                            "= --no-cross-diffusion), isotropic (Delta I)")
    noise.add_argument("--noise-covariance", nargs=3, default=None, metavar=("S11", "S12", "S22"),
                       help="noise covariance Sigma as three expressions (may use alpha, Delta); D = (alpha/2) Sigma")


def parse_params(items: Sequence[str]) -> dict:
    """{name: value} from ``NAME=VALUE`` strings; ModelError names a bad one."""

    out: dict = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        check_constant_name(name)
        if not sep or not value.strip():
            raise ModelError(f"constant {name!r} has no value (give --param {name}=VALUE)")
        try:
            number = float(value)
        except ValueError:
            raise ModelError(f"--param {item!r}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise ModelError(f"--param {item!r}: the value must be finite")
        if name in out:
            raise ModelError(f"--param {name} is given twice")
        out[name] = number
    return out


def user_model_from_args(args: argparse.Namespace, *, cross_option: bool = True):
    """The :class:`~fpsolve.model.expression.Model` of the options (a preset or
    ``--loss``); raises UsageError / ModelError naming the bad value.
    ``--no-cross-diffusion`` (when the script has it) is ``--noise sgd-diagonal``."""

    no_cross = bool(getattr(args, "no_cross_diffusion", False)) and cross_option
    noise = args.noise
    if args.noise_covariance is not None:
        noise = tuple(args.noise_covariance)
    if no_cross:
        if noise not in (None, "sgd-diagonal"):
            raise UsageError("--no-cross-diffusion is --noise sgd-diagonal; it cannot be combined with another --noise")
        noise = "sgd-diagonal"
    noise = "sgd" if noise is None else noise
    _no_lists(args)
    overrides = {k: getattr(args, k) for k in VALLEY_OPTIONS}
    level = dict(alpha=args.alpha, T=args.T,
                 Delta=None if args.T is not None else (DEFAULT_DELTA if args.Delta is None else args.Delta))
    if args.loss is not None:
        given = ["--preset"] if args.preset is not None else []
        given += [f"--{k}" for k, v in overrides.items() if v is not None]
        if given:
            raise UsageError(f"--loss cannot be combined with {', '.join(given)} (write the preset as an expression)")
        return Model.from_expression(args.loss, parse_params(args.param), noise, **level)
    if args.param:
        raise UsageError("--param gives the constants of --loss (use --a0 ... --eps for a preset)")
    return Model.preset(args.preset or DEFAULT_PRESET, noise=noise, **level, **overrides)


def model_and_domain(args: argparse.Namespace):
    """(Model, radius, (cx, cy)) of the options, the model checked on the
    disk (finite, Σ ⪰ 0, no frozen coordinate); raises UsageError /
    ModelError naming the bad value."""
    model = user_model_from_args(args)
    if model.n_variables != 2:  # the callers' FEM / closed forms are 2-D (N-variable runs branch off before)
        prog = _PROG or sys.argv[0].rsplit("/", 1)[-1]
        raise UsageError(f"{prog} is two-dimensional: --loss may use theta1, theta2 only (got theta"
                         f"{model.n_variables}); sample_sgd.py and validate.py take N-variable losses")
    radius, center = domain_from_args(args)
    model.check_formulas(radius, center)
    check_minimum_inside(model, radius, center)
    return model, radius, center


def whole_number(text: str) -> int:
    """argparse ``type`` of a count such as ``--max-dofs``: an integer written
    as one (``100000``) or as a number of integral value (``1e5``, ``2.5e5``);
    ArgumentTypeError (one line, the text given) for ``1.5``, ``nan``, ``inf``
    or a word.  The sign is the caller's to check (``-3`` is returned)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value == int(value)):
        raise argparse.ArgumentTypeError(f"must be a whole number such as 100000 or 1e5 (got {text!r})")
    return int(value)


def check_tolerance(value: float, option: str = "--tol") -> None:
    """Refuse (UsageError naming ``option``) an FEM error tolerance outside the
    open interval (0, 1) (docs/commands.md, solve_fp.py --tol): one rule for
    every tool that takes one (``--tol``, ``--tols``).  ``value``: the number
    given (nan and ±inf are refused too)."""
    if not (0 < value < 1):
        raise UsageError(f"{option} must be in (0, 1) (got {value!r})")


def check_minimum_inside(model, radius: float, center: tuple[float, float]) -> None:
    """Refuse (ModelError) a valley model (docs/model.md §1) whose disk Ω
    (docs/model.md §4) misses the loss's minimum θ = (0, 0): the density lives
    around that minimum, so on such a disk every solver returns the
    quasi-stationary density of a walk swept into the wall (e.g. ``--center
    100 0``: λ0 ≈ 5e13, negative mass 6.8, eigen-solve not converged).
    A custom ``--loss`` has no known minimum and is not checked."""
    if model.valley is None:
        return
    cx, cy = center
    if math.hypot(cx, cy) >= radius:
        raise ModelError(f"the disk (--radius {radius:g}, --center {cx:g} {cy:g}) does not contain the loss's "
                         "minimum (0, 0), around which the density lives; centre the disk within "
                         f"{radius:g} of it")


def domain_tag(radius: float | None = None, center: Sequence[float] | None = None,
               mesh: str | os.PathLike | None = None) -> str:
    """The part of a case name that tells a non-default domain (docs/model.md §4):
    ``""`` for the default disk, else ``_R<radius>``, ``_c<cx>,<cy>`` (each
    only where it differs from the default) or ``_mesh-<file stem>-<8 hex
    of its SHA-1>``."""


    if mesh is not None:
        import hashlib

        # the stem says which file; a short hash of its bytes keeps two files
        # of one name (or a file edited since) from sharing a folder
        try:
            digest = "-" + hashlib.sha1(Path(mesh).read_bytes()).hexdigest()[:8]
        except OSError:
            digest = ""
        return f"_mesh-{Path(mesh).stem}{digest}"
    tag = ""
    if radius is not None and float(radius) != DEFAULT_RADIUS:
        tag += f"_R{_tag_value(float(radius))}"
    if center is not None and any(float(c) != 0.0 for c in center):
        tag += "_c" + _tag_value([float(c) for c in center])
    return tag


#: Options that change a result, and how a value other than the script's
#: default shows in the case folder name (:func:`run_tag`).
RUN_TAGS = {"wall": "_{}", "degree": "_P{}", "h_min": "_hmin{}", "h_max": "_hmax{}", "mesh_rule": "_{}",
            "tol": "_tol{}", "max_dofs": "_maxdofs{}", "start": "_start{}",
            "start_width": "_width{}", "target": "_target{}", "target_theta1": "_target-theta1{}",
            "target_box": "_target-box{}", "target_ball": "_target-ball{}", "t_end": "_t{}",
            "committor": "_committor"}


def _tag_value(value) -> str:
    """A number or list of numbers as ``1.2`` / ``0.66,0,0.1,0.1``; anything else as text."""
    if isinstance(value, (list, tuple)):
        return ",".join(_tag_value(v) for v in value)
    if isinstance(value, float):
        return f"{value + 0.0:.10g}"
    return str(value)


def run_tag(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """``_<value>`` for each :data:`RUN_TAGS` option of ``parser`` that
    ``args`` sets to other than its default, in that order (e.g.
    ``_absorbing``, ``_start1.2,0.3_target0.66,0,0.1,0.1``): two experiments of one
    case must not share (and so replace) one folder; the default run adds nothing."""
    tag = ""
    for dest, form in RUN_TAGS.items():
        value = getattr(args, dest, None)
        if value is not None and _tag_value(value) != _tag_value(parser.get_default(dest)):
            tag += form.format(_tag_value(value))
    spec = [getattr(args, k, None) for k in ("schedule", "schedule_param", "alpha_schedule", "Delta_schedule")]
    if any(spec):  # a schedule (docs/model.md §10): its name and a hash of every schedule option
        import hashlib

        digest = hashlib.sha1(repr([spec[0], sorted(spec[1] or []), *spec[2:]]).encode()).hexdigest()[:8]
        tag += f"_schedule-{spec[0] or 'expr'}-{digest}"
    return tag


def case_folder_name(name: str, args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> str:
    """``name`` (``Model.case_name()`` or :func:`case_name`) with the
    :func:`domain_tag` of the options ``--radius``, ``--center``, ``--mesh``
    (those a script does not have count as not given) and, given the script's
    ``parser``, its :func:`run_tag`: the ``<case>`` of
    ``results/<case>/<tool>/`` for every script."""
    tag = domain_tag(getattr(args, "radius", None), getattr(args, "center", None), getattr(args, "mesh", None))
    return name + tag + (run_tag(args, parser) if parser is not None else "")


def add_domain_arguments(parser: argparse.ArgumentParser, ball: bool = False) -> None:
    """The disk Ω (docs/model.md §4): ``--radius`` and ``--center CX CY``;
    ``ball``: ``--center`` takes two or three numbers (the 3-D ball of a
    3-variable model; the 2-D path refuses three, naming them)."""
    group = parser.add_argument_group("domain (docs/model.md §4)")
    # default None: "not given" (a --mesh file brings its own domain)
    group.add_argument("--radius", type=float, default=None,
                       help=f"radius R of the disk (default {DEFAULT_RADIUS:g})" + (
                           "; of the ball for a 3-variable model" if ball else ""))
    if ball:
        group.add_argument("--center", type=float, nargs="+", default=None, metavar="C",
                           help="centre of the disk, CX CY (default 0 0); of the ball for a 3-variable model, "
                                "CX CY CZ (default 0 0 0)")
    else:
        group.add_argument("--center", type=float, nargs=2, default=None, metavar=("CX", "CY"),
                           help="centre of the disk (default 0 0)")


def add_mesh_size_arguments(parser: argparse.ArgumentParser) -> None:
    """``--h-min`` and ``--h-max``: the graded disk's sizes (``fpsolve.fem.mesh``)."""
    parser.add_argument("--h-min", type=float, default=None,
                        help="fine mesh size in the density's box (default: from the model's widths); "
                             "for a custom --loss the size of its uniform mesh (default radius/40; radius/8 "
                             "for a 3-variable loss's ball)")
    parser.add_argument("--h-max", type=float, default=None,
                        help="mesh size far from the density (default: radius/13 for the disk, radius/8 for the "
                             "valley's ball; presets only)")


def add_cross_diffusion_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-cross-diffusion``: drop D12 of D = (T/2) H² (docs/model.md §3)."""
    parser.add_argument("--no-cross-diffusion", action="store_true",
                        help="drop the cross-diffusion D12 (what the seed's MATLAB solve did; "
                             "= --noise sgd-diagonal); for the Monte Carlo: the SDE with independent "
                             "noises sqrt(2 D11), sqrt(2 D22)")


def _output_path(text: str) -> str:
    """``--out``'s value: an empty one is refused (the scripts took it for "not given")."""
    if not text:
        raise argparse.ArgumentTypeError(f"{text!r} is an empty path; give a folder, or leave --out out "
                                         "for the default")
    return text


def add_output_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    """``--out DIR`` and ``--overwrite`` (README, *Where results go*); ``default`` is for the help."""
    parser.add_argument("--out", default=None, metavar="DIR", type=_output_path,
                        help=f"output folder (default {default}); refused if it holds anything this tool did not write")
    parser.add_argument("--overwrite", action="store_true",
                        help="let this tool replace another fpsolve tool's unchanged result at --out "
                             "(a file fpsolve did not write is never replaced)")


def domain_from_args(args: argparse.Namespace) -> tuple[float, tuple[float, float]]:
    """(radius, (cx, cy)), validated, defaults filled in; raises ModelError
    naming the bad value."""
    radius = DEFAULT_RADIUS if args.radius is None else args.radius
    return check_disk(radius, (0.0, 0.0) if args.center is None else args.center, "--")


def model_from_args(args: argparse.Namespace) -> tuple[Landscape, Noise]:
    """Validated (Landscape, Noise); raises ModelError naming the bad value."""
    if getattr(args, "loss", None) is not None:
        raise UsageError("this command takes the valley presets only (drop --loss)")
    _no_lists(args)
    landscape = Landscape.from_preset(args.preset or DEFAULT_PRESET, a0=args.a0, a2=args.a2, a4=args.a4, eps=args.eps)
    return landscape, noise_from_args(args)


def noise_from_args(args: argparse.Namespace) -> Noise:
    """The noise level of ``--T`` (with ``--alpha``) or ``--alpha``/``--Delta``;
    raises ModelError naming the bad value."""
    if args.T is not None:
        return Noise.from_temperature(args.T, args.alpha)
    return Noise(args.alpha, DEFAULT_DELTA if args.Delta is None else args.Delta)


def case_name(landscape: Landscape, noise: Noise) -> str:
    """Folder-friendly name of a case, e.g. ``double-well_alpha0.05_Delta1``."""
    if landscape.name == "custom":
        land = "a0{:g}_a2{:g}_a4{:g}_eps{:g}".format(*landscape.coefficients)
    else:
        land = landscape.name
    return f"{land}_alpha{noise.alpha:g}_Delta{noise.Delta:g}"


def nvalley_case_name(valley, noise: Noise, noise_model: str | None = None) -> str:
    """Folder-friendly name of an N-dimensional valley case (docs/commands.md
    "Where results go"): :meth:`NValley.case_name <fpsolve.model.nvalley.NValley.case_name>`
    (every coefficient that differs from the preset), the noise model if given,
    and the noise level, e.g. ``double-well_m2_sgd_alpha0.05_Delta1`` or
    ``double-well_m2_a01,2_a2-1,-0.5_sgd_alpha0.05_Delta1``.  The one place
    every script names the valley's case."""
    model = f"_{noise_model}" if noise_model else ""
    return f"{valley.case_name()}{model}_alpha{noise.alpha:g}_Delta{noise.Delta:g}"


def main_guard(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``main`` and turn bad input into exit status 2 with one line,
    Ctrl-C into exit status 130 with one line.

    Bad input (ModelError, UsageError, OutputError) is detected alike on every
    rank, so each rank exits 2 and only rank 0 speaks.  Any other exception
    under MPI with more than one rank ends **all** ranks (``Abort``): a rank
    that raised alone would otherwise leave the others waiting in a
    collective forever.
    """

    prog = _PROG or sys.argv[0].rsplit("/", 1)[-1]
    import signal

    import fpsolve.cli

    if signal.getsignal(signal.SIGINT) is fpsolve.cli._interrupted_while_importing:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # imports done: KeyboardInterrupt from here
    try:
        with keep_sigint_handler():  # e.g. io.versions() imports gmsh
            code = main(argv)
    except InputError as exc:  # ModelError, UsageError and OutputError are InputErrors
        if _world_rank() == 0:
            sys.stderr.write(f"{prog}: error: {exc}\n")
        code = 2
    except BaseException as exc:
        comm = _world_if_parallel()
        if interrupted(exc):
            # Ctrl-C, also when an extension module's import turned it into
            # an ImportError ("initialization failed")
            if _world_rank() == 0:
                sys.stderr.write(f"{prog}: {INTERRUPTED}\n")
                sys.stderr.flush()
            if comm is not None:
                comm.Abort(130)  # a rank interrupted alone must not leave the others waiting
            sys.exit(130)
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            # an environment failure, not bad input: one line (HDF5's error stack is
            # held back by io.hdf5_errors) and exit 1; the unfinished result is removed
            where = f" on rank {comm.rank}" if comm is not None else ""
            what = Path(exc.filename).name if exc.filename else "the results"
            sys.stderr.write(f"{prog}: error{where}: disk full (no space left on device) while writing "
                             f"{what}; no result was written\n")
            sys.stderr.flush()
            if comm is not None:
                comm.Abort(1)
            sys.exit(1)
        if comm is None or isinstance(exc, SystemExit):
            raise
        import traceback

        traceback.print_exc()
        sys.stderr.write(f"{prog}: error on rank {comm.rank}: {type(exc).__name__}: {exc}; ending all ranks\n")
        sys.stderr.flush()
        comm.Abort(1)
    sys.exit(code)


def _world_if_parallel():
    """MPI.COMM_WORLD when mpi4py is initialised with more than one rank, else None."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or not mpi.Is_initialized() or mpi.Is_finalized():
        return None
    return mpi.COMM_WORLD if mpi.COMM_WORLD.size > 1 else None


def _world_rank() -> int:
    comm = _world_if_parallel()
    return 0 if comm is None else comm.rank


def add_wall_argument(group: Any, default: str, help: str) -> None:
    """``--wall absorbing|reflecting`` (``--boundary`` and ``dirichlet`` are accepted as the older names)."""
    def wall(value: str) -> str:
        try:
            return check_wall(value)
        except ModelError:
            raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from {', '.join(WALLS)})") from None

    group.add_argument("--wall", "--boundary", dest="wall", type=wall, default=default,
                       metavar="{absorbing,reflecting}", help=help)


def time_bar(total: float, enabled: bool):
    """(bar, on_time) of a run in time to ``total`` (time units): a tqdm bar
    on stderr when ``enabled`` (else None) and the callback that moves it to
    t; close the bar (when not None) after the run, also on an error."""
    bar = None
    if enabled:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="t", file=sys.stderr, desc="evolving", mininterval=0.5,
                   bar_format="{l_bar}{bar}| t={n:.4g}/{total:g} [{elapsed}<{remaining}]")

    def on_time(t: float) -> None:
        if bar is not None:
            bar.update(t - bar.n)
    return bar, on_time


class Progress:
    """One line per stage on stderr, with elapsed seconds (rank 0 only)."""

    def __init__(self, prog: str, enabled: bool = True) -> None:
        self.prog = _PROG or prog
        self.enabled = enabled
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.start
            sys.stderr.write(f"[{self.prog} {elapsed:7.2f}s] {message}\n")
            sys.stderr.flush()


def add_mesh_arguments(parser: argparse.ArgumentParser) -> None:
    """Discretisation options of the FEM scripts on a model case (docs/model.md
    §4): ``--degree``, ``--mesh``, ``--h-min``, ``--h-max`` and
    ``--no-cross-diffusion``; check them with :func:`check_mesh_arguments`."""
    fem = parser.add_argument_group("discretisation")
    fem.add_argument("--degree", type=int, choices=(1, 2), default=2, help="Lagrange degree (default 2)")
    fem.add_argument("--mesh", default=None, metavar="FILE",
                     help="a gmsh .msh of the disk instead of the graded mesh (2-D only)")
    fem.add_argument("--h-min", type=float, default=None, help="fine mesh size (default: from the model's widths); for a custom --loss "
                          "the size of its uniform disk (default radius/40; radius/8 for a 3-variable loss's ball)")
    fem.add_argument("--h-max", type=float, default=None,
                     help="far mesh size (default: radius/13 for the disk, radius/8 for the valley's ball; presets only)")
    fem.add_argument("--no-cross-diffusion", action="store_true", help="drop D12")


def read_mesh_option(args: argparse.Namespace, comm):
    """The ``--mesh`` file read on rank 0 (:func:`fpsolve.fem.meshfile.read_on_root`,
    collective), or None without the option: a bad file is a ModelError on
    every rank here, exit 2 before any computation."""
    if args.mesh is None:
        return None

    return meshfile.read_on_root(args.mesh, comm)


def check_mesh_arguments(args: argparse.Namespace, model: Model, radius: float,
                         center: tuple[float, float]) -> None:
    """Validate :func:`add_mesh_arguments`' options before anything is
    written (UsageError / ModelError naming the bad value): the valley's
    graded disk, or a custom model's (docs/model.md §7) uniform disk of
    :func:`fpsolve.fem.model_mesh.model_mesh_sizes` (``--h-min``; ``--h-max`` refused)."""


    if args.mesh is not None and (args.h_min is not None or args.h_max is not None):
        raise UsageError("--mesh cannot be combined with --h-min/--h-max")
    if args.mesh is not None:
        meshfile.check_path(args.mesh)
    if args.mesh is None:
        model_mesh_sizes(model, radius, center, args.h_min, args.h_max)
    else:
        model.noise_level.require_positive_T()



def add_schedule_arguments(parser: argparse.ArgumentParser) -> None:
    """Training schedules (docs/model.md §10): ``--schedule NAME``,
    ``--schedule-param KEY=VALUE`` (repeatable), ``--alpha-schedule EXPR``,
    ``--Delta-schedule EXPR``; read them with :func:`schedule_from_args`."""
    g = parser.add_argument_group("training schedule (docs/model.md §10)")
    g.add_argument("--schedule", default=None, metavar="NAME",
                   help=f"step-size schedule alpha_k: {', '.join(SCHEDULES)} (parameters with --schedule-param)")
    g.add_argument("--schedule-param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of --schedule (repeatable): alpha0 (default --alpha), gamma, ks, k0, "
                        "alpha_min, K, alpha_w, kw, then=NAME (the schedule after a warm-up)")
    g.add_argument("--alpha-schedule", default=None, metavar="EXPR",
                   help="alpha as an expression in t or k (and Heaviside), e.g. '0.1 - 0.09*Heaviside(t - 20)'")
    g.add_argument("--Delta-schedule", default=None, metavar="EXPR",
                   help="Delta as an expression in t or k (batch-size schedules)")


def schedule_from_args(args: argparse.Namespace, model: Any, t_end: float | None, radius: float,
                       center: Sequence[float], steps: int | None = None, noise: Noise | None = None):
    """The :class:`~fpsolve.model.schedule.Schedule` of the schedule options
    (None when none is given), tabulated to ``t_end`` (or over ``steps`` SGD
    steps when t_end is None) and checked (``model`` a Model, or in 3-D an
    NValley, whose α and Δ are ``noise``'s; the disk, or the ball when
    ``center`` has three numbers): a
    α_k or Δ_k that is not finite and > 0 (T_k = α_k Δ_k > 0, the FEM's rule), or an α_k above the model's SGD stability
    bound (:func:`fpsolve.theory.stability.alpha_bound` at the largest Δ_k),
    raise InputError naming the value."""
    given = (args.schedule, args.alpha_schedule, args.Delta_schedule)
    if all(v is None for v in given):
        if args.schedule_param:
            raise UsageError("--schedule-param needs --schedule NAME")
        return None
    if args.schedule is not None and args.alpha_schedule is not None:
        raise UsageError("give --schedule or --alpha-schedule, not both")
    alpha, Delta = (model.alpha, model.Delta) if noise is None else (noise.alpha, noise.Delta)
    sched = Schedule.build(alpha, Delta, name=args.schedule,
                           params=schedule_params(args.schedule_param),
                           alpha_expression=args.alpha_schedule, Delta_expression=args.Delta_schedule)
    if t_end is None:
        sched.alpha_k(np.arange(int(steps)))  # names a bad α_k over the run
        t_end = float(sched.time_of(int(steps)))
    tab = sched.table(t_end)
    Delta_top = float(tab["Delta"].max()) if tab["Delta"].size else Delta
    sched.check(t_end, alpha_bound(model, Delta_top, radius, tuple(center)))
    return sched


def run_record(argv: Sequence[str] | None, args: argparse.Namespace, wall_start: float) -> dict:
    """What every summary.json records of its command: ``versions``
    (:func:`fpsolve.tools.io.versions`), ``command`` (``argv``, or the
    process's own arguments when ``argv`` is None, and every parsed option,
    tuples as lists) and ``wall_seconds`` since ``wall_start`` (perf_counter)."""
    from fpsolve.tools import io

    options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()}
    return {"versions": io.versions(), "command": {"argv": list(argv) if argv is not None else sys.argv[1:], **options},
            "wall_seconds": time.perf_counter() - wall_start}
