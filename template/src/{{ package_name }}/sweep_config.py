"""A sweep's settings: configs/sweep.yaml and `key=value` overrides, all checked before the
first trial. The keys (configs/sweep.yaml says the same, with the defaults):

    trials      how many trials end finished or pruned, over however many runs of `sweep`
    workers     processes on this machine, each taking the study's next trial
    sampler     tpe | random: Optuna's sampler that draws each trial's values
    sampler_seed   its seed (null: a new one each time)
    pruner      median | hyperband | none: stops trials whose validation accuracy lags
    objective   best_val_accuracy | last_val_accuracy: the figure of a trial the sweep maximises
    storage     null: sqlite:///runs/<sweep>/study.db; or a database URL Optuna takes
                (postgresql://..., mysql://...), or a journal file (a path ending in .log)
    config      the training config every trial starts from (null: the built-in defaults)
    train       training keys every trial uses, on top of `config` (e.g. epochs: 5)
    space       the training keys each trial draws, each from one distribution:
                  optim.lr: {log_uniform: [1.0e-4, 1.0e-1]}    a float, evenly on a log scale
                  optim.momentum: {uniform: [0.8, 0.99]}       a float, evenly
                  data.batch_size: {choice: [32, 64, 128]}     one of the values
                  model.hidden: {int: [32, 256]}               a whole number (log_int: on a log scale)

On the command line a sweep key (trials=4) sets the sweep, any other key (epochs=2) is a
training key every trial uses, and run_name names the sweep's folder, runs/<run_name>.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from .config import (
    Config,
    load_config,
    parse_overrides,
    read_yaml,
    section_class,
    with_values,
)
from .errors import UserError

DISTRIBUTIONS = ("uniform", "log_uniform", "int", "log_int", "choice")
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
OBJECTIVES = ("best_val_accuracy", "last_val_accuracy")
NOT_IN_SPACE = ("run_name", "runs_dir", "resume")  # the sweep sets them for each trial


@dataclass
class SweepConfig:
    trials: int = 20
    workers: int = 1
    sampler: str = "tpe"
    sampler_seed: int | None = 0
    pruner: str = "median"
    objective: str = "best_val_accuracy"
    storage: str | None = None
    config: str | None = None
    train: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)


SWEEP_KEYS = tuple(f.name for f in fields(SweepConfig))


@dataclass
class Sweep:
    """The checked settings: the sweep's own, its folder, and the config each trial starts from."""

    settings: SweepConfig
    folder: Path
    base: Config  # the training config of every trial, before the space's values


def load_sweep(path: str | Path | None, overrides: list[str]) -> Sweep:
    values: dict[str, Any] = {}
    if path is not None:
        values = OmegaConf.to_container(read_yaml(path))  # type: ignore[assignment]
    sweep_items, train_items = split_overrides(overrides)
    if sweep_items:
        values.update(OmegaConf.to_container(parse_overrides(sweep_items)))  # type: ignore[arg-type]
    source = str(path or "the defaults")
    settings = check_settings(values, source)
    # The training config: its file, then the sweep's `train` keys, then the command line's.
    base = load_config(settings.config, train_items, values=(flatten(settings.train), f"train in {source}"))
    for key, spec in settings.space.items():
        check_dimension(base, key, spec)
    folder = Path(base.runs_dir) / (base.run_name or "sweep")
    if base.run_name in (".", "..") or any(sep in (base.run_name or "") for sep in "/\\"):
        raise UserError(f"run_name is a folder name, without / or \\ (got '{base.run_name}')")
    return Sweep(settings, folder, base)


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """The overrides of the sweep's own keys, and those of the training keys."""
    parse_overrides(overrides)  # one line for a malformed one
    ours = [item for item in overrides if item.partition("=")[0].split(".")[0] in SWEEP_KEYS]
    return ours, [item for item in overrides if item not in ours]


def check_settings(values: dict[str, Any], source: str) -> SweepConfig:
    unknown = [key for key in values if key not in SWEEP_KEYS]
    if unknown:
        raise UserError(f"unknown sweep key '{unknown[0]}' in {source}; valid keys: {', '.join(SWEEP_KEYS)}")
    settings = SweepConfig(**values)
    whole(settings.trials, "trials", 1)
    whole(settings.workers, "workers", 1)
    if settings.sampler_seed is not None:
        whole(settings.sampler_seed, "sampler_seed", 0)
    for key, allowed in (("sampler", SAMPLERS), ("pruner", PRUNERS), ("objective", OBJECTIVES)):
        if getattr(settings, key) not in allowed:
            raise UserError(f"{key} must be one of {', '.join(allowed)} (got '{getattr(settings, key)}')")
    for key in ("storage", "config"):
        value = getattr(settings, key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise UserError(f"{key} takes a text (or null for the default); got {value!r}")
    for key in ("train", "space"):
        if not isinstance(getattr(settings, key), dict):
            raise UserError(
                f"{key} takes a mapping of training keys to values; got {getattr(settings, key)!r}"
            )
    if not settings.space:
        raise UserError(
            "space is empty: name a training key to draw, e.g. optim.lr: {log_uniform: [1.0e-4, 0.1]}"
        )
    return settings


def whole(value: Any, key: str, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UserError(f"{key} must be a whole number of at least {least} (got {value!r})")


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"optim": {"lr": 0.1}} as {"optim.lr": 0.1}."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_dimension(base: Config, key: str, spec: Any) -> None:
    """One key of the space: a training key, one known distribution, and values it takes."""
    wanted = f"one of {', '.join(DISTRIBUTIONS)} with its values, e.g. " + "{log_uniform: [1.0e-4, 0.1]}"
    field_type = key_type(key)
    if not isinstance(spec, dict) or len(spec) != 1:
        raise UserError(f"space: {key} takes {wanted}; got {spec!r}")
    (kind, values), where = next(iter(spec.items())), f"space: {key}: {next(iter(spec))}"
    if kind not in DISTRIBUTIONS:
        raise UserError(f"space: {key}: unknown distribution '{kind}'; it takes {wanted}")
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise UserError(f"{where} takes a list of one or more values, e.g. [32, 64, 128]; got {values!r}")
        if any(isinstance(value, (list, dict)) for value in values):
            raise UserError(f"{where}: each value is one number, word, true/false or null; got {values!r}")
    else:
        numbers = isinstance(values, list) and len(values) == 2
        if not numbers or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise UserError(f"{where} takes [low, high], two numbers; got {values!r}")
        low, high = values
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise UserError(f"{where} takes [low, high] with low below high; got {values!r}")
        if kind.startswith("log") and low <= 0:
            raise UserError(f"{where} takes [low, high] above 0 (a log scale); got {values!r}")
        if kind.endswith("int") and not all(isinstance(v, int) for v in values):
            raise UserError(f"{where} takes [low, high], two whole numbers; got {values!r}")
        if kind.endswith("uniform") and "float" not in field_type:
            raise UserError(f"{where}: {key} takes {field_type}, not any number: use int or choice")
        if kind.endswith("int") and not ({"int", "float"} & set(field_type.replace("|", " ").split())):
            raise UserError(f"{where}: {key} takes {field_type}, not a number: use choice")
    for value in values:
        try:
            with_values(base, {key: value}, source="the sweep's space")
        except UserError as error:
            raise UserError(f"{where}: {value!r} is not a value {key} takes: {error}") from None


def key_type(key: str) -> str:
    """The type a training key takes (as written in config.py), or UserError naming the keys."""
    parent, _, name = key.rpartition(".")
    section = section_class(parent)
    names = [f.name for f in fields(section)] if section is not None else []
    if key in NOT_IN_SPACE or name not in names:
        choices = ", ".join(n for n in names if n not in NOT_IN_SPACE) or "optim.lr, data.batch_size, ..."
        where = f"under {parent}" if parent else "at the top level"
        raise UserError(f"space: unknown training key '{key}'; the keys a sweep can draw {where}: {choices}")
    section_type = next(f.type for f in fields(section) if f.name == name)  # type: ignore[arg-type]
    return str(section_type)
