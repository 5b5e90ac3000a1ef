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
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from hiermodel.errors import DiagnosticsError, HiermodelError, InternalError, SpecError

log = logging.getLogger("hiermodel.cli")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DIAGNOSTICS = 2
EXIT_SOME_FAILED = 3
EXIT_INTERNAL = 70  # sysexits EX_SOFTWARE: an InternalError, i.e. a bug in hiermodel
EXIT_INTERRUPTED = 130

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    success
  {EXIT_ERROR}    user error (bad spec, formula, data, priors, missing run, bad arguments)
  {EXIT_DIAGNOSTICS}    fit --strict: a fit failed the convergence diagnostics (R-hat, ESS,
       divergences); the run is still written
  {EXIT_SOME_FAILED}    fit with several specs: some failed (each named with its error); the
       others completed and were written
  {EXIT_INTERNAL}   internal error: a bug in hiermodel (the traceback is printed)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
"""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on exit code 1 (2 means failed diagnostics here)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"error: {message}\n")


def _progress(quiet: bool) -> Callable[[str], None] | None:
    if quiet:
        return None

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    return say


def _progressbar(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


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
    result = run_specs(specs, client=args.cluster, refit=args.refit,
                       progress=_progress(args.quiet), out=args.out,
                       progressbar=_progressbar(args.quiet) and args.cluster is None)
    failed: list[str] = []
    for i, fit in sorted(result.runs.items()):
        spec = specs[i]
        if several:
            print(f"== {spec.label} ({fit.run_dir})")
        print(str(fit.summary()).rstrip("\n"))
        if several and i < len(specs) - 1:
            print()
        diag = fit.diagnostics()
        if args.strict and not diag.get("ok", False):
            failed.append(str(diagnostics_error(spec.label, diag, fit.run_dir)))
    result.raise_failures()
    if failed:
        raise DiagnosticsError("\n".join(failed))
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """Pooled vs unpooled vs hierarchical variants of a spec's model."""
    (spec,) = _load_all([args.spec])
    from hiermodel.runs import run_compare

    comparison = run_compare(spec, out=args.out, progress=_progress(args.quiet),
                             progressbar=_progressbar(args.quiet) and args.cluster is None,
                             client=args.cluster)
    print(str(comparison).rstrip("\n"))
    return EXIT_OK


def cmd_translate(args: argparse.Namespace) -> int:
    """Show what hiermodel builds for a formula."""
    import hiermodel as hm

    print(hm.translate(args.formula))
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
    """Print a stored run's summary and diagnostics (or a stored comparison's report)."""
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
        return EXIT_OK
    fit = load_run(directory)
    d = fit.diagnostics()
    print(str(fit.summary()).rstrip("\n"))
    print()
    verdict = "ok" if d.get("ok") else "FAILED"
    print(f"Diagnostics ({verdict}): max R-hat {d['max_rhat']:.4f}, min bulk ESS "
          f"{d['min_ess_bulk']:.0f}, min tail ESS {d['min_ess_tail']:.0f}, divergences "
          f"{d['divergences']}")
    versions = ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())
    print(f"Run: {directory} (spec {manifest['spec']['label']}, created {manifest['created']}, "
          f"seed {manifest.get('seed')}, backend {manifest.get('backend')})")
    print(f"Versions: {versions}")
    return EXIT_OK


# -- the parser ------------------------------------------------------------------------------------

def _sub(subs: Any, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subs.add_parser(
        name, help=help_text, description=help_text,
        epilog=f"example:\n{example}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


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
    p.add_argument("--strict", action="store_true", help="exit with code 2 if the convergence "
                   "diagnostics fail (max R-hat > 1.01, bulk ESS < 400 or divergences)")
    _cluster_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress messages or progress bars")
    p.set_defaults(func=cmd_fit)

    p = _sub(subs, "compare", "fit pooled, unpooled and hierarchical variants of a spec's model "
             "and compare them (LOO, leave-one-group-out, pooling)",
             "  hiermodel compare specs/maize_yield.toml   # -> specs/runs/maize_yield/compare")
    p.add_argument("spec", metavar="SPEC", help="spec file (.toml); its [compare] section "
                   "sets variants and options")
    p.add_argument("--out", metavar="DIR", help="output directory instead of the spec's "
                   "[output] dir; the comparison goes to DIR/compare")
    _cluster_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress messages or progress bars")
    p.set_defaults(func=cmd_compare)

    p = _sub(subs, "translate", "show what hiermodel builds for an lme4 formula",
             "  hiermodel translate \"Reaction ~ Days + (Days || Subject)\"")
    p.add_argument("formula", metavar="FORMULA", help="an lme4 formula (quote it)")
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
             "comparison's report)",
             "  hiermodel report specs/runs/sleepstudy/fit\n"
             "  hiermodel report specs/runs/maize_yield/compare")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, or a spec's output "
                   "directory")
    p.set_defaults(func=cmd_report)
    return parser


def _quiet_libraries() -> None:
    """--quiet: no log messages below ERROR (PyMC resets its logger's level on import, so a
    per-logger level would not stick) and no Python warnings (reset when :func:`main`
    returns)."""
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 user error, 2 failed diagnostics under
    ``--strict``, 3 some of several fits failed, 70 internal error with its traceback, 130
    interrupted)."""
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
    try:
        with warnings.catch_warnings():
            if getattr(args, "quiet", False):
                _quiet_libraries()
            return int(args.func(args))
    except HiermodelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except InternalError:
        traceback.print_exc()
        print("internal error: this is a bug in hiermodel, not in your model or data; please "
              "report it with the traceback above", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        root.removeHandler(handler)
        logging.disable(logging.NOTSET)


__all__ = ["EXIT_DIAGNOSTICS", "EXIT_ERROR", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK",
           "EXIT_SOME_FAILED",
           "build_parser",
           "main"]
