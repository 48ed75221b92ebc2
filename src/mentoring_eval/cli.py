"""``python -m mentoring_eval run``: raw records in, rendered report out.

Exit status 0 on success, 2 on bad input (one line on standard error), 1 on
anything else; with ``--no-wait``, 75 when another run is using an output
folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from mentoring_eval import paths
from mentoring_eval.bundle import DEFAULT_OUT
from mentoring_eval.errors import InputError
from mentoring_eval.kernels import STAGE_KERNEL_ENVIRONMENT
from mentoring_eval.locking import FolderBusy
from mentoring_eval.pipeline import (
    KERNEL_LOG,
    PUBLISHED_AS_OF,
    STAGES,
    RunSettings,
    StageFailed,
    execute_notebook,
)
from mentoring_eval.render import RENDERERS, RenderError
from mentoring_eval.runs import run_pipeline
from mentoring_eval.verify import CannotJudge, PipelineFailed, verify
from mentoring_eval.wording import plural

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_BUSY = 75  # EX_TEMPFAIL of sysexits.h: try again later (another run is using the folders)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a run stopped by Ctrl-C
EXIT_CANNOT_JUDGE = 3  # verify: this machine cannot re-run the archive as it was made
EXIT_STATUSES = (
    f"exit status: {EXIT_OK} success; {EXIT_BAD_INPUT} bad input (one line on standard error); "
    f"{EXIT_BUSY} another run is using an output folder (with --no-wait); {EXIT_INTERRUPTED} "
    f"interrupted (Ctrl-C); {EXIT_FAILED} anything else"
)


VERIFY_EXIT_STATUSES = (
    f"exit status: {EXIT_OK} every output byte-identical; {EXIT_FAILED} an output differs (the first ones named) or "
    f"the archived pipeline failed; {EXIT_BAD_INPUT} the archive or the records are not what it says (one line); "
    f"{EXIT_CANNOT_JUDGE} cannot judge here (another Python version, no wheels for this platform); "
    f"{EXIT_INTERRUPTED} interrupted"
)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date of the form YYYY-MM-DD") from None


def _positive_minutes(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number of minutes")
    return int(text)


class OneLineErrors(argparse.ArgumentParser):
    """Bad arguments are bad input: one line on standard error, exit status 2."""

    def error(self, message: str) -> None:
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see --help)\n")


def _site_number(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a site number")
    return int(text)


def _add_run_options(command: argparse.ArgumentParser) -> None:
    """The options of a run, shared by ``run`` and ``sites``."""
    command.add_argument("--raw", metavar="DIR", help="raw records folder (default: data/raw)")
    command.add_argument("--processed", metavar="DIR", help="stage outputs folder (default: data/processed)")
    command.add_argument("--report", metavar="DIR", help="report folder (default: report)")
    command.add_argument(
        "--as-of",
        type=_iso_date,
        default=PUBLISHED_AS_OF,
        metavar="YYYY-MM-DD",
        help=f"cut-off date (default: {PUBLISHED_AS_OF.isoformat()}, the publication's)",
    )
    command.add_argument(
        "--expected-minutes",
        type=_positive_minutes,
        default=60,
        metavar="N",
        help="expected mentoring minutes per site per month (default: 60)",
    )
    command.add_argument(
        "--renderer",
        choices=RENDERERS,
        default="auto",
        help="auto: Quarto when installed, else nbconvert (default: auto)",
    )
    command.add_argument("--force", action="store_true", help="rerun every stage even if nothing changed")
    command.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="if another run is using the output folders, exit at once with status "
        f"{EXIT_BUSY} instead of waiting for it to finish (default: wait)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="python -m mentoring_eval", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrors)
    run = commands.add_parser("run", help="clean, compute, draw and render the report", epilog=EXIT_STATUSES)
    _add_run_options(run)
    sites = commands.add_parser(
        "sites",
        help="the run, then a feedback page for every site (or those named) and report/sites/index.html",
        epilog=EXIT_STATUSES,
    )
    _add_run_options(sites)
    sites.add_argument(
        "--site",
        type=_site_number,
        action="append",
        metavar="N",
        help="only this site (repeat for several; default: every site open at the cut-off)",
    )
    bundle = commands.add_parser(
        "bundle",
        help="the run, then one archive a reviewer can check (report, outputs, code, pins, input hashes)",
        epilog=EXIT_STATUSES,
    )
    _add_run_options(bundle)
    bundle.add_argument("--out", metavar="FILE", default=DEFAULT_OUT, help=f"the archive (default: {DEFAULT_OUT})")
    bundle.add_argument(
        "--include-records",
        action="store_true",
        help="put the records in even though they are not the bundled synthetic ones (participants' records: "
        "only when you may share them)",
    )
    verify = commands.add_parser(
        "verify",
        help="re-run an archive from the archive alone and say whether every output is byte-identical",
        epilog=VERIFY_EXIT_STATUSES,
    )
    verify.add_argument("archive", metavar="ARCHIVE", help="the archive bundle wrote")
    verify.add_argument("--raw", metavar="DIR", help="your copy of the records (checked against the archived SHA-256)")
    verify.add_argument(
        "--reuse-env",
        metavar="PATH",
        help="an existing environment (its folder or its python) instead of a fresh one; it must hold exactly "
        "the archive's pins (checked)",
    )
    commands.add_parser(
        "baselines",
        help="re-execute the notebooks in place with their default parameters "
        "(the nbval baselines), after an intended change",
    )
    return parser


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _settings(args: argparse.Namespace) -> RunSettings:
    # The user's folders are relative to where they typed the command.
    given = [str(Path(folder).resolve()) if folder else None for folder in (args.raw, args.processed, args.report)]
    return RunSettings(paths=paths.resolve(*given), as_of=args.as_of, expected_minutes=args.expected_minutes)


def _say(line: str) -> None:
    print(line, flush=True)


def _announced(args: argparse.Namespace, what: str) -> RunSettings:
    """The run's settings, after the line saying what is made, as of when, from what."""
    settings = _settings(args)
    _say(f"{settings.trial.heading} {what} as of {settings.as_of.isoformat()} from {_shown(settings.paths.raw)}")
    return settings


def command_run(args: argparse.Namespace) -> int:
    settings = _announced(args, "report")
    rendered = run_pipeline(settings, args.renderer, args.force, say=_say, wait=args.wait)
    for output in rendered.outputs:
        print(f"report: {_shown(output)}")
    return EXIT_OK


def command_sites(args: argparse.Namespace) -> int:
    from mentoring_eval.site_pages import run_site_pages

    settings = _announced(args, "site pages")
    rendered, pages = run_site_pages(settings, args.site, args.renderer, args.force, say=_say, wait=args.wait)
    for output in rendered.outputs:
        print(f"report: {_shown(output)}")
    print(f"site pages: {_shown(pages.index)} ({plural(len(pages.pages), 'site')}, {pages.renderer})")
    return EXIT_OK


def command_bundle(args: argparse.Namespace) -> int:
    from mentoring_eval.bundle import make_bundle

    settings = _announced(args, "bundle")
    made = make_bundle(
        settings, Path(args.out).resolve(), args.renderer, args.force, args.include_records, say=_say, wait=args.wait
    )
    print(f"bundle: {_shown(made.path)} ({made.files} files, {made.path.stat().st_size / 1e6:.1f} MB)")
    return EXIT_OK


def command_verify(args: argparse.Namespace) -> int:
    return verify(
        Path(args.archive),
        Path(args.raw).resolve() if args.raw else None,
        Path(args.reuse_env).absolute() if args.reuse_env else None,
        _say,
    )


def command_baselines(_: argparse.Namespace) -> int:
    """Execute each notebook in place, in order, with its default parameters
    (the site report's: the canonical site)."""
    from mentoring_eval.site_pages import SITE_NOTEBOOK

    project = paths.resolve()
    for name, notebook_name in [(stage.name, stage.notebook) for stage in STAGES] + [("site report", SITE_NOTEBOOK)]:
        notebook = project.notebooks / notebook_name
        started = time.perf_counter()
        execute_notebook(notebook, notebook, None, project.root, name, project.report / KERNEL_LOG)
        print(f"{notebook.relative_to(project.root)} re-executed in {time.perf_counter() - started:.1f} s", flush=True)
    print("Review the change with `git diff notebooks/` before committing it.")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # For the notebook kernels this process starts, unless the user set their own.
    for name, value in STAGE_KERNEL_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    try:
        command = {
            "run": command_run,
            "sites": command_sites,
            "bundle": command_bundle,
            "verify": command_verify,
            "baselines": command_baselines,
        }[args.command]
        return command(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StageFailed as error:
        print(
            f"error: stage {error.stage} failed: {error.error_name}: {error.error_value}\n"
            f"  the failed notebook is {_shown(error.notebook)}; the last good report is untouched",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except (RenderError, PipelineFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except CannotJudge as error:
        print(f"cannot judge: {error}", file=sys.stderr)
        return EXIT_CANNOT_JUDGE
    except FolderBusy as error:
        print(f"busy: {error}; not waiting (--no-wait)", file=sys.stderr)
        return EXIT_BUSY
    except KeyboardInterrupt:
        print("interrupted: the last good outputs are untouched", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:  # the machine's, not the input's: a full disk, a folder removed mid-run
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # a bug: one line, never a traceback (MENTORING_EVAL_TRACEBACK=1 shows it)
        if os.environ.get("MENTORING_EVAL_TRACEBACK") == "1":
            raise
        message = " ".join(str(error).split())
        print(
            f"error: unexpected {type(error).__name__}: {message} (a bug, not your input: please report it with "
            "the command you ran; MENTORING_EVAL_TRACEBACK=1 shows where it happened)",
            file=sys.stderr,
        )
        return EXIT_FAILED
