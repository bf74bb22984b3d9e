"""Configuration: typed dataclasses, a YAML file and `key=value` overrides, merged by OmegaConf.

The dataclasses below are the whole vocabulary. `configs/train.yaml` sets values for them,
and the command line overrides single keys with dotted names:

    python -m <package> train optim.lr=0.05 data.batch_size=128 epochs=20

A key that does not exist, or a value of the wrong type, is a `UserError` that names the key
and what it accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import reduce
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from .config_errors import (
    as_given,
    bad_value,
    misfit,
    one_line,
    section_of,
    unreadable,
    unresolved,
    yaml_problem,
)
from .errors import UserError
from .model_config import CHOICES as MODEL_CHOICES
from .model_config import LIMITS as MODEL_LIMITS
from .model_config import ModelConfig
from .project import DATASET, MODEL
from .tracker import CHOICES as TRACKER_CHOICES
from .tracker import TrackerConfig


@dataclass
class DataConfig:
    name: str = DATASET
    root: str = "data"  # where datasets that download are kept
    batch_size: int = 32
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0  # the split stays fixed when `seed` changes
    classes: list[int] | None = None  # keep only these labels, e.g. [0, 1, 2, 3, 4]
    train_size: int | None = None  # use only this many training images (few-shot, quick checks)
    image_size: int | None = None  # resize images to this square size (null: the dataset's own)
    augment: bool = False  # random crops (and flips, for photos) of the training images
    num_workers: int = 2  # processes that decode images (folder datasets only)
    skip_unreadable: bool = False  # leave out files that are not images, with a warning (folder datasets)


@dataclass
class OptimConfig:
    name: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "none"  # or "cosine": decays the learning rate to 0 over `epochs`


@dataclass
class FinetuneConfig:
    # A run folder or .pt file of this project, `pretrained` (torchvision's ImageNet weights,
    # resnet and vit), or a torchvision weights file (.pth) for machines without internet.
    checkpoint: str | None = None
    freeze_epochs: int = 0  # train only the head for this many epochs first
    backbone_lr_scale: float = 1.0  # the backbone's learning rate is optim.lr times this


@dataclass
class Config:
    run_name: str | None = None  # default: the start time and the model name
    runs_dir: str = "runs"
    seed: int = 0
    epochs: int = 10
    device: str = "auto"  # auto picks the accelerator torch finds, else the CPU
    precision: str = "auto"  # auto: bf16 (or fp16) autocast on a GPU, fp32 on the CPU; see device.py
    compile: bool = False  # torch.compile the model: faster steps on a GPU after a slower start
    deterministic: bool = False  # deterministic algorithms only, for bitwise-repeatable GPU runs
    fsdp: bool = False  # under torchrun, shard resnet/vit weights over the ranks (FSDP2); see distributed.py
    resume: str | None = None  # a run folder or checkpoint to continue exactly
    early_stopping: int = 0  # stop after this many epochs without a better val accuracy (0: off)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)  # tracker.py: its settings


# Keys whose value must be one of a few words.
CHOICES: dict[str, tuple[str, ...]] = {
    "data.name": (DATASET,),
    "model.name": (MODEL,),
    "optim.name": ("sgd", "adamw"),
    "optim.scheduler": ("none", "cosine"),
    "device": ("auto", "cpu", "cuda", "mps", "xpu"),
    "precision": ("auto", "fp32", "bf16", "fp16"),
    **MODEL_CHOICES,
    **TRACKER_CHOICES,
}


# Keys whose value must lie in a range: (test, what to say).
LIMITS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": (lambda v: 0 <= v < 2**63, "a whole number from 0 to 2**63 - 1"),
    "epochs": (lambda v: 1 <= v <= 1_000_000, "from 1 to 1000000"),
    "early_stopping": (lambda v: v >= 0, "0 (off) or more"),
    "data.batch_size": (lambda v: v >= 1, "at least 1"),
    "optim.lr": (lambda v: math.isfinite(v) and v > 0, "a number above 0"),
    "optim.momentum": (lambda v: 0 <= v < 1, "at least 0 and below 1"),
    "optim.weight_decay": (lambda v: math.isfinite(v) and v >= 0, "0 or more"),
    "finetune.freeze_epochs": (lambda v: v >= 0, "0 or more"),
    "finetune.backbone_lr_scale": (lambda v: math.isfinite(v) and v >= 0, "0 or more"),
    "data.num_workers": (lambda v: v >= 0, "0 or more"),
    "data.train_size": (lambda v: v is None or v >= 1, "null (all of them) or at least 1"),
    "data.image_size": (lambda v: v is None or v >= 1, "null (the dataset's own size) or at least 1"),
    **MODEL_LIMITS,
}


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the YAML file (if any), then the overrides; checked and typed."""
    merged = OmegaConf.structured(Config)
    if path is not None:
        merged = merge(merged, read_yaml(path), source=str(path))
    if overrides:
        merged = merge(merged, parse_overrides(overrides), source="the command line")
    return to_config(merged)


def config_from_dict(values: dict[str, Any], overrides: list[str] | None = None) -> Config:
    """A config saved in a checkpoint, with optional overrides on top (used by resume)."""
    merged = merge(OmegaConf.structured(Config), OmegaConf.create(values), source="the checkpoint")
    if overrides:
        merged = merge(merged, parse_overrides(overrides), source="the command line")
    return to_config(merged)


def to_dict(cfg: Config) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.structured(cfg))  # type: ignore[return-value]


def to_yaml(cfg: Config) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def read_yaml(path: str | Path) -> DictConfig:
    path = Path(path)
    if path.is_dir():
        raise UserError(f"config file {path} is a folder: name a .yaml file")
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        loaded = OmegaConf.load(path)
    except Exception as error:  # YAML syntax errors come in several types
        raise UserError(f"{path} is not valid YAML: {yaml_problem(error)}") from None
    if not isinstance(loaded, DictConfig):
        raise UserError(f"{path} must hold a mapping of keys to values")
    return loaded


def parse_overrides(overrides: list[str]) -> DictConfig:
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise UserError(f"'{item}' is not an override: write key=value, e.g. optim.lr=0.05")
        if "[" in item.partition("=")[0]:
            raise UserError(f"'{item}': a list is given whole, e.g. data.classes=[1,2], not item by item")
        if "" in item.partition("=")[0].split("."):
            raise UserError(f"'{item}': a key is names joined by single dots, e.g. optim.lr=0.05")
    for item in overrides:  # one by one, to name the one that cannot be read
        try:
            OmegaConf.from_dotlist([item])
        except Exception as error:  # OmegaConf's errors, and YAML's for a value such as epochs=[1
            raise UserError(unreadable(item, error)) from None
    return OmegaConf.from_dotlist(overrides)


def merge(base: DictConfig, update: DictConfig, source: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, update)  # type: ignore[return-value]
    except ConfigKeyError as error:
        raise UserError(unknown_key_message(error.full_key or "", source)) from None
    except ValidationError as error:
        raise UserError(bad_value(error, update, source, Config)) from None
    except TypeError as error:  # OmegaConf's for a mapping given where a list is, as in data.classes.x=1
        shape = misfit(as_given(update), source, Config)
        raise UserError(
            shape or f"{source} sets keys inside a list: give it whole ({one_line(error)})"
        ) from None


def to_config(merged: DictConfig) -> Config:
    try:
        cfg: Config = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as error:  # e.g. an interpolation such as ${nope}
        raise UserError(unresolved(error, merged, Config)) from None
    # The checks read the typed dataclass, its interpolations resolved.
    for key, allowed in CHOICES.items():
        value = reduce(getattr, key.split("."), cfg)
        if value not in allowed:
            raise UserError(f"{key} must be one of {', '.join(map(str, allowed))} (got '{value}')")
    for key, (test, wanted) in LIMITS.items():
        value = reduce(getattr, key.split("."), cfg)
        if not test(value):
            raise UserError(f"{key} must be {wanted} (got {value})")
    return cfg


def unknown_key_message(full_key: str, source: str) -> str:
    parent = full_key.rpartition(".")[0]
    section = section_class(parent)
    if section is None or not fields(section):
        return f"unknown key '{full_key}' in {source}: {parent or 'the config'} takes no keys in this project"
    valid = ", ".join(f.name for f in fields(section))
    where = f"under {parent}" if parent else "at the top level"
    return f"unknown key '{full_key}' in {source}; valid keys {where}: {valid}"


def section_class(dotted: str) -> type | None:
    """The dataclass of a section of the config ("optim": OptimConfig), or None."""
    return section_of(Config, dotted)
