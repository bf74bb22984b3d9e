"""The command line: train | evaluate | finetune | predict | export | runs | doctor, and the
commands of the project's extras (project.EXTRA_COMMANDS).

    python -m <package> train [--config configs/train.yaml] [key=value ...]
    python -m <package> train resume=runs/<run> [epochs=20]
    python -m <package> finetune runs/<run>|pretrained|weights.pth [--config FILE] [key=value ...]
    python -m <package> evaluate runs/<run>
    python -m <package> predict runs/<run> image.png folder/ [--top-k 3] [--output predictions.csv]
    python -m <package> export runs/<run> [--output model.safetensors]  (default: best.safetensors)
                        [--format ...]  (an extra's formats: project.EXPORT_FORMATS)
    python -m <package> runs [folder]   (the runs in runs/ or folder, newest first)
    python -m <package> doctor

A mistake (a bad key or value, a missing file, a wrong checkpoint) is one line on stderr and
exit code 2; nothing is overwritten. errors.py lists the other exit codes (3: the loss diverged,
75: stopped by a signal after a checkpoint, to be resumed).

Under torchrun every rank runs this same command line (distributed.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import replace
from importlib import import_module
from pathlib import Path
from types import FrameType, ModuleType

from .errors import (
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_REQUEUE,
    EXIT_USER_ERROR,
    Diverged,
    Preempted,
    StoppedOutsideTraining,
    UserError,
    describe_os_error,
)
from .project import BACKENDS, EXPORT_FORMATS, EXTRA_COMMANDS, PACKAGE, PROJECT_NAME

DEFAULT_CONFIGS = {
    "train": Path("configs/train.yaml"),
    "finetune": Path("configs/finetune.yaml"),
}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and still exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> Parser:
    parser = Parser(prog=program(), description=f"{PROJECT_NAME}: train and use models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = commands.add_parser("train", help="train a model (or resume=runs/<run> to continue one)")
    train.add_argument("--config", type=Path, help="YAML config (default: configs/train.yaml)")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. optim.lr=0.05 epochs=20")

    finetune = commands.add_parser("finetune", help="train starting from a checkpoint's weights")
    finetune.add_argument(
        "checkpoint", help="a run folder (its best.pt), a .pt file, `pretrained` or a torchvision .pth file"
    )
    finetune.add_argument("--config", type=Path, help="YAML config (default: configs/finetune.yaml)")
    finetune.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. data.classes=[5,6,7,8,9]")

    evaluate = commands.add_parser("evaluate", help="test accuracy of a checkpoint")
    evaluate.add_argument("checkpoint", help="a run folder (its best.pt) or a .pt file")
    evaluate.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. device=cpu")

    predict = commands.add_parser("predict", help="classify image files; writes a CSV")
    predict.add_argument("checkpoint", help="a run folder (its best.pt) or a .pt file")
    predict.add_argument("inputs", nargs="+", help="image files (.png, .jpg) or folders of them")
    predict.add_argument("--top-k", type=int, default=3, help="classes per image (default: 3)")
    predict.add_argument("--output", type=Path, default=Path("predictions.csv"), help="CSV to write")

    export = commands.add_parser(
        "export", help=f"write a checkpoint's model as {' or '.join(EXPORT_FORMATS)}"
    )
    export.add_argument("checkpoint", help="a run folder (its best.pt) or a .pt file")
    export.add_argument("--output", type=Path, help="default: beside the checkpoint, as .safetensors")
    export.set_defaults(format="safetensors")
    if len(EXPORT_FORMATS) > 1:  # an extra's formats (deploy's): see project.EXPORT_FORMATS
        formats = ", ".join(EXPORT_FORMATS)
        export.add_argument(
            "--format",
            choices=EXPORT_FORMATS,
            default="safetensors",
            help=f"{formats} (default: safetensors); any but safetensors: --output is a folder",
        )

    runs = commands.add_parser("runs", help="list past runs with their key figures, newest first")
    runs.add_argument("folder", nargs="?", type=Path, default=Path("runs"), help="default: runs")

    doctor = commands.add_parser("doctor", help="check the torch build against the hardware")
    doctor.add_argument("--backend", choices=BACKENDS, help="check for this backend, not the rendered one")

    for extra in extra_commands().values():
        extra.add_parser(commands)
    return parser


def extra_commands() -> dict[str, ModuleType]:
    """The commands the project's extras add, each with the module that holds its parser and
    what it runs (`add_parser`, `run`): project.EXTRA_COMMANDS, written when it was rendered."""
    return {command: import_module(f".{module}", __package__) for command, module in EXTRA_COMMANDS.items()}


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR1") if hasattr(signal, name))


def stop_now(number: int, frame: FrameType | None) -> None:
    raise StoppedOutsideTraining(signal.Signals(number).name)


def program() -> str:
    """How the user started this: the console script's name, or `python -m <package>`."""
    name = Path(sys.argv[0]).name
    script = name and name != "-c" and not name.endswith(".py")  # not `python -m`, `-c` or a file
    return name if script else f"python -m {PACKAGE}"


def main(argv: list[str] | None = None) -> int:
    # First of all, so that a scheduler's signal during start-up also ends in exit code 75
    # (signals.py says what a signal in a run folder leaves).
    previous = {number: signal.signal(number, stop_now) for number in STOP_SIGNALS}
    try:
        return run(build_parser().parse_args(argv))
    except UserError as error:
        return say(f"error: {error}", EXIT_USER_ERROR)
    except Diverged as error:
        return say(f"error: {error}", EXIT_DIVERGED)
    except Preempted as error:
        return say(str(error), EXIT_REQUEUE)
    except StoppedOutsideTraining as error:
        return say(error.message, error.code)
    except ModuleNotFoundError as error:  # e.g. a tracker added by `copier update`, not installed yet
        return say(
            f"error: the module '{error.name}' is not installed here: run `python bootstrap.py` again "
            "(pyproject.toml lists what the project needs)",
            EXIT_USER_ERROR,
        )
    except OSError as error:  # a full disk, a read-only folder, a path through a file, a name too long
        message, code = describe_os_error(error)
        return say(f"error: {message}", code)
    except KeyboardInterrupt:
        return say("interrupted", EXIT_INTERRUPTED)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def say(message: str, code: int) -> int:
    """One line on stderr (from rank 0 only, when every rank has the same to say) and the code."""
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0 or code == EXIT_USER_ERROR:
        print(f"[rank {rank}] {message}" if rank else message, file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    # Imports are here so that `--help` and bad usage answer before torch loads.
    if args.command == "doctor":
        from .doctor import report

        return report(args.backend) if args.backend else report()

    if args.command in ("train", "finetune"):
        from .config import load_config

        config_file = args.config or existing(DEFAULT_CONFIGS[args.command])
        cfg = load_config(config_file, args.overrides)
        if args.command == "finetune":
            cfg = replace(cfg, finetune=replace(cfg.finetune, checkpoint=args.checkpoint))
        from .train import fit  # after the config is checked: a mistake answers before Lightning loads

        fit(cfg, args.overrides)
        return 0

    if args.command == "evaluate":
        from .evaluate import evaluate_checkpoint

        evaluate_checkpoint(args.checkpoint, args.overrides)
        return 0

    if args.command == "predict":
        from .predict import check_csv_output, format_predictions, predict, write_csv

        if args.top_k < 1:
            raise UserError(f"--top-k must be at least 1 (got {args.top_k})")
        check_csv_output(args.output)  # before any work
        rows = predict(args.checkpoint, args.inputs, args.top_k)
        path = write_csv(rows, args.output)
        print(format_predictions(rows, path))
        print(f"wrote {len(rows)} predictions to {path}")
        return 0
    if args.command == "export":  # the module that writes the format: project.EXPORT_FORMATS
        return import_module(f".{EXPORT_FORMATS[args.format]}", __package__).run(args)
    if args.command == "runs":
        from .runs_table import show_runs

        show_runs(args.folder)
        return 0
    return extra_commands()[args.command].run(args)


def existing(path: Path) -> Path | None:
    """The default config file when run from the project root, else the built-in defaults."""
    return path if path.is_file() else None
