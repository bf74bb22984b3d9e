"""The command line (`--help` lists the commands, the extras' among them). A mistake is one line
on stderr and exit code 2, and overwrites nothing; errors.py lists the other exit codes."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import replace
from importlib import import_module
from pathlib import Path
from types import FrameType, ModuleType

from . import errors
from .project import BACKENDS, EXPORT_FORMATS, EXTRA_COMMANDS, PACKAGE, PROJECT_NAME, TORCH_BACKEND

DEFAULT_CONFIGS = {"train": Path("configs/train.yaml"), "finetune": Path("configs/finetune.yaml")}
CHECKPOINT = "a run folder (its best.pt) or a .pt file"


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
    finetune.add_argument("checkpoint", help=f"{CHECKPOINT}, `pretrained` or a torchvision .pth file")
    finetune.add_argument("--config", type=Path, help="YAML config (default: configs/finetune.yaml)")
    finetune.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. data.classes=[5,6,7,8,9]")
    evaluate = commands.add_parser("evaluate", help="test accuracy of a checkpoint")
    evaluate.add_argument("checkpoint", help=CHECKPOINT)
    evaluate.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. device=cpu")
    predict = commands.add_parser("predict", help="classify image files; writes a CSV")
    predict.add_argument("checkpoint", help=CHECKPOINT)
    predict.add_argument("inputs", nargs="+", help="image files (.png, .jpg) or folders of them")
    predict.add_argument("--top-k", type=int, default=3, help="classes per image (default: 3)")
    predict.add_argument("--output", type=Path, default=Path("predictions.csv"), help="CSV to write")
    export = commands.add_parser("export", help="write a checkpoint's model for sharing and serving")
    export.add_argument("checkpoint", help=CHECKPOINT)
    export.add_argument("--output", type=Path, help="default: beside the checkpoint, as .safetensors")
    export.set_defaults(format="safetensors")
    if len(EXPORT_FORMATS) > 1:  # an extra's formats (deploy's)
        export.add_argument("--format", choices=EXPORT_FORMATS, help="default: %(default)s; others: a folder")
    runs = commands.add_parser("runs", help="list past runs with their key figures, newest first")
    runs.add_argument("folder", nargs="?", type=Path, default=Path("runs"), help="default: runs")
    doctor = commands.add_parser("doctor", help="check the torch build against the hardware")
    doctor.add_argument("--backend", choices=BACKENDS, default=TORCH_BACKEND, help="default: %(default)s")
    for name in EXTRA_COMMANDS.values():
        module(name).add_parser(commands)
    return parser


def module(name: str) -> ModuleType:
    """A module of this package, by the name project.EXTRA_COMMANDS or EXPORT_FORMATS gives."""
    return import_module(f".{name}", __package__)


def stop_now(number: int, frame: FrameType | None) -> None:
    raise errors.StoppedOutsideTraining(signal.Signals(number).name)


def program() -> str:
    """How the user started this: the console script's name, or `python -m <package>`."""
    name = Path(sys.argv[0]).name
    script = name and name != "-c" and not name.endswith(".py")  # not `python -m`, `-c` or a file
    return name if script else f"python -m {PACKAGE}"


def main(argv: list[str] | None = None) -> int:
    # First of all, so that a scheduler's signal during start-up also ends in exit code 75.
    previous = {number: signal.signal(number, stop_now) for number in errors.SIGNALS}
    try:
        return run(build_parser().parse_args(argv))
    except errors.UserError as error:
        return say(f"error: {error}", errors.EXIT_USER_ERROR)
    except errors.Diverged as error:
        return say(f"error: {error}", errors.EXIT_DIVERGED)
    except errors.Preempted as error:
        return say(str(error), errors.EXIT_REQUEUE)
    except errors.StoppedOutsideTraining as error:
        return say(error.message, error.code)
    except ModuleNotFoundError as error:  # e.g. a tracker added by `copier update`, not installed yet
        fix = "run `python bootstrap.py` again (pyproject.toml lists what the project needs)"
        return say(f"error: the module '{error.name}' is not installed here: {fix}", errors.EXIT_USER_ERROR)
    except OSError as error:  # a full disk, a read-only folder, a path through a file, a name too long
        message, code = errors.describe_os_error(error)
        return say(f"error: {message}", code)
    except KeyboardInterrupt:
        return say("interrupted", errors.EXIT_INTERRUPTED)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def say(message: str, code: int) -> int:
    """One line on stderr (from rank 0 only, when every rank has the same to say) and the code."""
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0 or code == errors.EXIT_USER_ERROR:
        print(f"[rank {rank}] {message}" if rank else message, file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    # Imports are here so that `--help` and bad usage answer before torch loads.
    if args.command == "doctor":
        from .doctor import report

        return report(args.backend)
    if args.command in ("train", "finetune"):
        from .config import load_config

        cfg = load_config(args.config or existing(DEFAULT_CONFIGS[args.command]), args.overrides)
        if args.command == "finetune":
            cfg = replace(cfg, finetune=replace(cfg.finetune, checkpoint=args.checkpoint))
        from .train import fit  # after the config is checked: a mistake answers before Lightning loads

        fit(cfg, args.overrides)
    elif args.command == "evaluate":
        from .evaluate import evaluate_checkpoint

        evaluate_checkpoint(args.checkpoint, args.overrides)
    elif args.command == "export":  # the module that writes the format
        return module(EXPORT_FORMATS[args.format]).run(args)
    else:  # a module's run(args): predict, runs, an extra's command
        return module({"predict": "predict", "runs": "runs_table", **EXTRA_COMMANDS}[args.command]).run(args)
    return 0


def existing(path: Path) -> Path | None:
    """The default config file when run from the project root, else the built-in defaults."""
    return path if path.is_file() else None
