"""The ``hiermodel`` command line: a thin layer over the public API.

Every command calls the same functions a Python user would (:func:`hiermodel.spec.load_spec`,
:func:`hiermodel.runs.run_spec`, :func:`hiermodel.runs.run_compare`, :func:`hiermodel.translate`,
:mod:`hiermodel.priors`, :func:`hiermodel.runs.load_run`). :func:`main` is the one place that
turns a :class:`~hiermodel.errors.HiermodelError` into ``error: <message>`` on stderr and the
error's exit code. See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NoReturn

from hiermodel.errors import (
    ConvergenceError,
    ConvergenceWarning,
    HiermodelError,
    InternalError,
    Interrupted,
    SpecError,
)

log = logging.getLogger("hiermodel.cli")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DIAGNOSTICS = 2
EXIT_SOME_FAILED = 3
EXIT_INTERNAL = 70  # sysexits EX_SOFTWARE: an InternalError, i.e. a bug in hiermodel
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    success
  {EXIT_ERROR}    user error (bad spec, formula, data, priors, missing run, bad arguments)
  {EXIT_DIAGNOSTICS}    fit --strict: a fit failed the convergence checks (R-hat, ESS, divergences,
       tree depth, E-BFMI); the run is still written
  {EXIT_SOME_FAILED}    fit with several specs: some failed (each named with its error); the
       others completed and were written
  {EXIT_INTERNAL}   internal error: a bug in hiermodel (the traceback is printed)
  {EXIT_INTERRUPTED}  interrupted by SIGINT (Ctrl-C); no partial run is left
  {EXIT_TERMINATED}  terminated by SIGTERM (timeout, a scheduler); no partial run is left
"""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on exit code 1 (2 means failed diagnostics here)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"error: {message}\n")


@contextmanager
def _display(args: argparse.Namespace) -> Iterator[None]:
    """Where progress goes while a command works (:mod:`hiermodel.console`): by default a live
    line per stage on a terminal (one line per step otherwise) and no sampler output;
    ``--verbose``: one line per step plus the samplers' own log lines and progress bars;
    ``--quiet``: nothing."""
    from hiermodel.console import LineDisplay, LiveDisplay, listening, sampler_output

    verbose, quiet = getattr(args, "verbose", False), getattr(args, "quiet", False)
    with ExitStack() as stack:
        stack.enter_context(sampler_output(verbose))
        if not quiet:
            display: LineDisplay | LiveDisplay = LineDisplay()
            if not verbose and sys.stderr.isatty():
                display = stack.enter_context(LiveDisplay())
            stack.enter_context(listening(display))
        yield


def _progressbar(args: argparse.Namespace) -> bool:
    """The samplers' own progress bars: only with --verbose, on a terminal."""
    return bool(getattr(args, "verbose", False)) and sys.stderr.isatty()


def _load_all(paths: Sequence[str]) -> list[Any]:
    """Validate every spec before any work; all problems of all files in one error."""
    from hiermodel.spec import load_spec

    specs, errors = [], []
    for path in paths:
        try:
            specs.append(load_spec(path))
        except SpecError as exc:
            errors.append(str(exc))
    if errors:
        raise SpecError("\n".join(errors))
    return specs


# -- commands -----------------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    """Validate specs, load their data and build their models (no sampling)."""
    from hiermodel.spec import load_spec

    errors = []
    for path in args.specs:
        try:
            spec = load_spec(path)
            frame, built = spec.check()
        except HiermodelError as exc:
            errors.append(str(exc))
            continue
        n_over = len(spec.priors.overrides)
        template = built.prior_table.template
        print(f"ok: {spec.label}: {built.formula} ({built.family.name}, "
              f"{built.prepared.n} observations of {len(frame)} rows; priors '{template}'"
              + (f" + {n_over} override(s)" if n_over else "")
              + f"; {spec.sampler.chains} chains x {spec.sampler.draws} draws; run dir "
              f"{spec.output_dir / 'fit'})")
    if errors:
        raise SpecError("\n".join(errors))
    return EXIT_OK


def cmd_fit(args: argparse.Namespace) -> int:
    """Fit each spec into its run directory (reusing unchanged runs), in this process or on a
    Dask cluster (``--cluster``); the others go on when one fails."""
    specs = _load_all(args.specs)  # validate every spec before importing PyMC or sampling
    from hiermodel.runs import diagnostics_error, run_specs

    several = len(specs) > 1
    try:
        with _display(args):
            result = run_specs(specs, client=args.cluster, refit=args.refit, out=args.out,
                               progressbar=_progressbar(args) and args.cluster is None)
    except KeyboardInterrupt as exc:
        stage = getattr(exc, "what", "") or "fitting"
        if not several:
            stage += f" of {specs[0].label}"
        raise Interrupted(getattr(exc, "signum", signal.SIGINT),
                          f"{stage}; no run was written for it and earlier runs are "
                          "unchanged") from None
    failed: list[str] = []
    for i, fit in sorted(result.runs.items()):
        spec = specs[i]
        if several:
            print(f"== {spec.label} ({fit.run_dir})")
        print(str(fit.summary()).rstrip("\n"))
        if several and i < len(specs) - 1:
            print()
        table = fit.checks()
        if args.strict and (table["status"] == "failed").any():
            failed.append(str(diagnostics_error(spec.label, table, fit.run_dir)))
    result.raise_failures()
    if failed:
        raise ConvergenceError("\n".join(failed))
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """Pooled vs unpooled vs hierarchical variants of a spec's model."""
    (spec,) = _load_all([args.spec])
    from hiermodel.runs import compare_dir, run_compare

    with _display(args):
        comparison = run_compare(spec, out=args.out,
                                 progressbar=_progressbar(args) and args.cluster is None,
                                 client=args.cluster)
    target = compare_dir(spec, args.out)
    if args.quiet:
        print(target)
        print("\n".join(comparison.verdict()))
    else:
        print(comparison.terminal_summary(target))
    return EXIT_OK


def _graph_model(formula: str, data: str, family: str) -> Any:
    """The model of ``formula`` on ``data`` (a built-in dataset name or a CSV / Parquet file),
    built through a spec so data errors read as in spec files."""
    import json

    from hiermodel.spec import parse_spec
    from hiermodel.spec.sources import dataset_names

    source = (f"dataset = {json.dumps(data)}" if data in dataset_names()
              else f"path = {json.dumps(str(Path(data).resolve()))}")
    text = (f"[data]\n{source}\n\n[model]\nformula = {json.dumps(formula)}\n"
            f"family = {json.dumps(family)}\n")
    spec = parse_spec(text, file=Path.cwd() / "translate.toml", label=f"--data {data}")
    return spec.build(spec.load_data())


def cmd_translate(args: argparse.Namespace) -> int:
    """Show what hiermodel builds for a formula (and with --graph, draw its model graph)."""
    import hiermodel as hm

    print(hm.translate(args.formula))
    if args.graph is not None:
        if args.data is None:
            raise SpecError("--graph needs --data: the model graph is built on data (a "
                            "built-in dataset such as sleepstudy, or a CSV / Parquet file)")
        built = _graph_model(args.formula, args.data, args.family)
        built.graph(path=args.graph)
        print(f"model graph: {args.graph}")
    return EXIT_OK


def cmd_priors(args: argparse.Namespace) -> int:
    """List or show prior templates."""
    from hiermodel import priors

    if args.priors_command == "list":
        table = priors.list_templates()
        width = max(len(str(n)) for n in table["name"]) + (len(" (default)"))
        for row in table.itertuples(index=False):
            name = f"{row.name} (default)" if row.default else str(row.name)
            print(f"{name.ljust(width)}  {row.description}")
        return EXIT_OK
    print(priors.show(args.name, raw=args.raw).rstrip("\n"))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Print a stored run's summary and diagnostics (or a stored comparison's report) and
    (re)write its HTML report."""
    from hiermodel.report import write_run_report
    from hiermodel.runs import MANIFEST, find_run, load_run, read_manifest

    path = Path(args.run_dir)
    if not (path / MANIFEST).is_file() and not (path / "fit" / MANIFEST).is_file() \
            and (path / "compare" / MANIFEST).is_file():
        path = path / "compare"
    directory = find_run(path)
    manifest = read_manifest(directory)
    if manifest.get("kind") == "compare":
        report = directory / "report.txt"
        if not report.is_file():
            from hiermodel.errors import RunError

            raise RunError(f"comparison {directory} has no report.txt; run "
                           "`hiermodel compare SPEC` again")
        print(report.read_text(encoding="utf-8").rstrip("\n"))
        print(f"\nComparison of {manifest['spec']['label']}, created {manifest['created']}; "
              f"tables and figures in {directory}")
        _html_report(write_run_report(directory), args.open)
        return EXIT_OK
    from hiermodel.posterior.diagnostics import failure_lines

    fit = load_run(directory)
    d = fit.diagnostics()
    failures = failure_lines(fit.checks())
    print(str(fit.summary()).rstrip("\n"))
    print()
    verdict = "ok" if not failures else "FAILED"
    print(f"Diagnostics ({verdict}): max R-hat {d['max_rhat']:.4f}, min bulk ESS "
          f"{d['min_ess_bulk']:.0f}, min tail ESS {d['min_ess_tail']:.0f}, divergences "
          f"{d['divergences']}")
    for line in failures:
        print(f"  {line}")
    versions = ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())
    print(f"Run: {directory} (spec {manifest['spec']['label']}, created {manifest['created']}, "
          f"seed {manifest.get('seed')}, backend {manifest.get('backend')})")
    print(f"Versions: {versions}")
    _html_report(write_run_report(directory), args.open)
    return EXIT_OK


def _html_report(path: Path, open_it: bool) -> None:
    print(f"HTML report: {path}")
    if open_it:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            log.warning("no web browser found to open %s", path)


# -- the parser ------------------------------------------------------------------------------------

def _sub(subs: Any, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subs.add_parser(
        name, help=help_text, description=help_text,
        epilog=f"example:\n{example}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _output_options(parser: argparse.ArgumentParser, quiet: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", action="store_true", help=quiet)
    group.add_argument("--verbose", action="store_true", help="progress one line per step, "
                       "plus the samplers' own log lines and progress bars (PyMC, nutpie)")


def _cluster_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster", metavar="ADDRESS", help="run the independent fits as Dask "
                        "tasks: a scheduler address (tcp://host:8786) or local[:N] for N local "
                        "worker processes (default 2); needs hiermodel[dask]; docs/cluster.md")


def build_parser() -> argparse.ArgumentParser:
    """The ``hiermodel`` argument parser (all subcommands)."""
    from hiermodel import __version__

    parser = _Parser(
        prog="hiermodel",
        description="Bayesian hierarchical models from lme4 formulas (through Bambi into PyMC).",
        epilog="examples:\n"
               "  hiermodel check specs/sleepstudy.toml\n"
               "  hiermodel fit specs/sleepstudy.toml\n"
               "  hiermodel compare specs/maize_yield.toml\n"
               "  hiermodel translate \"Reaction ~ Days + (Days | Subject)\"\n"
               "  hiermodel priors show maize_talk\n"
               "  hiermodel report specs/runs/sleepstudy\n\n"
               f"{EXIT_CODES}\nSpec files: specs/README.md; this CLI: docs/cli.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hiermodel {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = _sub(subs, "check", "validate spec files, load their data and build their models "
             "(no sampling)",
             "  hiermodel check specs/sleepstudy.toml specs/radon.toml")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec file(s) (.toml)")
    p.set_defaults(func=cmd_check)

    p = _sub(subs, "fit", "fit spec files into run directories (an unchanged spec and data "
             "reuse the stored run)",
             "  hiermodel fit specs/sleepstudy.toml            # -> specs/runs/sleepstudy/fit\n"
             "  hiermodel fit specs/*.toml --out runs --strict  # -> runs/<spec>/fit")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec file(s) (.toml)")
    p.add_argument("--out", metavar="DIR", help="output directory instead of the spec's [output] "
                   "dir (with several specs: DIR/<spec name>); the run goes to DIR/fit")
    p.add_argument("--refit", action="store_true", help="sample even if a stored run of the "
                   "same spec and data exists")
    p.add_argument("--strict", action="store_true", help="exit with code 2 if a convergence "
                   "check fails (R-hat > 1.01, bulk or tail ESS < 100 per chain, divergences, "
                   "tree depth saturation, E-BFMI < 0.2)")
    _cluster_option(p)
    _output_options(p, quiet="no progress, no library logging; the summary is still printed")
    p.set_defaults(func=cmd_fit)

    p = _sub(subs, "compare", "fit pooled, unpooled and hierarchical variants of a spec's model "
             "and compare them (LOO, leave-one-group-out, pooling)",
             "  hiermodel compare specs/maize_yield.toml   # -> specs/runs/maize_yield/compare")
    p.add_argument("spec", metavar="SPEC", help="spec file (.toml); its [compare] section "
                   "sets variants and options")
    p.add_argument("--out", metavar="DIR", help="output directory instead of the spec's "
                   "[output] dir; the comparison goes to DIR/compare")
    _cluster_option(p)
    _output_options(p, quiet="print only where the comparison was written and the verdict")
    p.set_defaults(func=cmd_compare)

    p = _sub(subs, "translate", "show what hiermodel builds for an lme4 formula",
             "  hiermodel translate \"Reaction ~ Days + (Days || Subject)\"\n"
             "  hiermodel translate \"Reaction ~ Days + (Days | Subject)\" --data sleepstudy "
             "--graph model.svg")
    p.add_argument("formula", metavar="FORMULA", help="an lme4 formula (quote it)")
    p.add_argument("--graph", metavar="FILE", help="also draw the model graph to FILE (.svg, "
                   ".png or .pdf; needs Graphviz's dot and --data)")
    p.add_argument("--data", metavar="DATA", help="with --graph: a built-in dataset "
                   "(sleepstudy, radon, maize_yield, ...) or a CSV / Parquet file")
    p.add_argument("--family", default="gaussian", help="with --graph: the model family "
                   "(default gaussian)")
    p.set_defaults(func=cmd_translate)

    p = _sub(subs, "priors", "list the shipped prior templates or show one",
             "  hiermodel priors list\n  hiermodel priors show maize_talk\n"
             "  hiermodel priors show my_priors.toml --raw")
    psubs = p.add_subparsers(dest="priors_command", metavar="{list,show}",
                             parser_class=_Parser, required=True)
    q = psubs.add_parser("list", help="the shipped templates",
                         epilog="example:\n  hiermodel priors list",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    q.set_defaults(func=cmd_priors)
    q = psubs.add_parser("show", help="a template's priors (name or .toml file)",
                         epilog="example:\n  hiermodel priors show weakly_informative",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("name", metavar="NAME", help="template name or .toml file")
    q.add_argument("--raw", action="store_true", help="the TOML file text with its comments")
    q.set_defaults(func=cmd_priors)

    p = _sub(subs, "report", "print a stored run's summary and diagnostics (or a stored "
             "comparison's report) and (re)write its HTML report (report.html)",
             "  hiermodel report specs/runs/sleepstudy/fit\n"
             "  hiermodel report specs/runs/maize_yield/compare --open")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, or a spec's output "
                   "directory")
    p.add_argument("--open", action="store_true", help="open the HTML report in a web browser")
    p.set_defaults(func=cmd_report)
    return parser


def _quiet_libraries() -> None:
    """--quiet: no log messages below ERROR (PyMC resets its logger's level on import, so a
    per-logger level would not stick) and no Python warnings (reset when :func:`main`
    returns)."""
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")


def _terminate(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """hiermodel's own warnings (failed convergence checks) as ``warning: <message>``; any
    other warning as Python shows it."""
    if issubclass(category, ConvergenceWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        SHOW_WARNING(message, category, filename, lineno, file, line)


SHOW_WARNING = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 user error, 2 failed diagnostics under
    ``--strict``, 3 some of several fits failed, 70 internal error with its traceback, 130
    SIGINT, 143 SIGTERM).

    SIGTERM raises :class:`~hiermodel.errors.Interrupted` like Ctrl-C does, so cleanup runs
    (temporary run directories are removed, sampler workers stopped) before the exit."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("hiermodel")
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    sigterm = signal.getsignal(signal.SIGTERM)
    if sigterm is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            if getattr(args, "quiet", False):
                _quiet_libraries()
                warnings.simplefilter("ignore", ConvergenceWarning)  # the summary lists them
            return int(args.func(args))
    except HiermodelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except InternalError:
        traceback.print_exc()
        print("internal error: this is a bug in hiermodel, not in your model or data; please "
              "report it with the traceback above", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        what = getattr(exc, "what", "") or f"hiermodel {args.command}"
        print(f"interrupted by {signal.Signals(signum).name}: {what}", file=sys.stderr)
        return 128 + int(signum)
    finally:
        if sigterm is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, sigterm)
        root.removeHandler(handler)
        logging.disable(logging.NOTSET)


__all__ = ["EXIT_DIAGNOSTICS", "EXIT_ERROR", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK",
           "EXIT_SOME_FAILED", "EXIT_TERMINATED", "build_parser",
           "main"]
