"""The variants the suite renders and trains, derived from copier.yml's choices.

A new choice in copier.yml joins the matrix by itself:

- `CROSSED` (framework x model) is crossed fully: every training style trains every model;
- `EVERY_FRAMEWORK` (dataset, tracker, extras): each value trains in every framework too, cycled over
  that framework's rows, each further framework's two places on (`FRAMEWORK_SHIFT`: with
  copier.yml's order of datasets, three grayscale ones and then two in colour, every model
  then trains on one of each kind); where a framework has fewer rows than values, a row with
  the default model is added for each value left over (today: one dataset per framework);
- every other question is covered by a covering array of strength 1: each of its values
  appears in at least one variant, and the values are spread so that variants differ;
- a yes/no question is an axis of two values;
- a combination copier.yml's validators refuse (mps + docker) is moved to a value they accept;
- a follow-up question (copier's `when`: slurm, asked with the cluster extra) is answered yes
  wherever it is asked, and has its default elsewhere.

Model x dataset is not crossed: each model's test_model.py builds it for grayscale and colour
images of several sizes whatever the dataset, and each dataset's loader is tested with every
framework, so a pair adds a training run, not a code path. Crossing it made 24 rows where this
makes 10, and each row runs most of its project's tests (plan.py).

Row 0 is the default project.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

ROOT = Path(__file__).resolve().parents[1]
CROSSED = ("framework", "model")
EVERY_FRAMEWORK = ("dataset", "tracker", "extras")
FRAMEWORK_SHIFT = 2


@cache
def copier_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "copier.yml").read_text())


def questions() -> dict[str, dict[str, Any]]:
    """The questions a user is asked (settings and never-asked facts left out)."""
    return {
        key: spec
        for key, spec in copier_config().items()
        if not key.startswith("_") and isinstance(spec, dict) and spec.get("when") is not False
    }


def choice_values(spec: dict[str, Any]) -> list[str]:
    choices = spec["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


def axes() -> dict[str, list[Any]]:
    """Each multiple-choice or yes/no question and its values, the default first. A question of
    several choices (`multiselect`, the extras) has for values none, then each choice alone, then
    every choice together (where there are several: they must work side by side, and the rows
    of each choice then cover every model: deploy's exports differ by model), as tuples
    (to_copier() gives copier lists)."""
    result: dict[str, list[Any]] = {}
    for key, spec in questions().items():
        if spec.get("type") == "bool":
            result[key] = [bool(spec["default"]), not spec["default"]]
            continue
        if "choices" not in spec:
            continue
        if spec.get("multiselect"):
            values = choice_values(spec)
            together = [tuple(values)] if len(values) > 1 else []
            result[key] = [(), *((value,) for value in values), *together]
            continue
        values = choice_values(spec)
        default = str(spec["default"])
        result[key] = [default] + [v for v in values if v != default]
    return result


def refusal(row: dict[str, Any]) -> str:
    """What copier.yml's validators of these questions say to the row ('' when they accept it)."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for key, spec in questions().items():
        if key in row and spec.get("validator"):
            said = environment.from_string(spec["validator"]).render(**row).strip()
            if said:
                return said
    return ""


def accepted(row: dict[str, Any], others: dict[str, list[Any]]) -> dict[str, Any]:
    """The row, with the last axes moved to the first values the validators accept."""
    for key in reversed(others):
        if not refusal(row):
            break
        for value in others[key]:
            if not refusal({**row, key: value}):
                row[key] = value
                break
    assert not refusal(row), (row, refusal(row))
    return row


def variants() -> list[dict[str, Any]]:
    """The rows (a fresh copy: computing them takes a while, so it is done once)."""
    return [dict(row) for row in computed_variants()]


@cache
def computed_variants() -> tuple[dict[str, Any], ...]:
    all_axes = axes()
    style, model = CROSSED
    rows: list[dict[str, Any]] = []
    for index, framework in enumerate(all_axes[style]):
        shift = index * FRAMEWORK_SHIFT
        own = [{style: framework, model: value} for value in all_axes[model]]
        for key in EVERY_FRAMEWORK:
            values = all_axes[key]
            for i, row in enumerate(own):  # rows added for an earlier key too; row 0 keeps the defaults
                row[key] = values[(i + shift) % len(values)]
            taken = {row[key] for row in own}
            for value in (v for v in values if v not in taken):  # more values than rows: a row each
                own.append({style: framework, model: all_axes[model][0], key: value})
        rows += own
    covered = {*CROSSED, *EVERY_FRAMEWORK}
    others = {key: values for key, values in all_axes.items() if key not in covered}
    for offset, (key, values) in enumerate(others.items()):
        for i, row in enumerate(rows):
            # Row 0 keeps every default; later rows shift each axis by its own offset.
            row[key] = values[0] if i == 0 else values[(i + offset) % len(values)]
        for i, value in enumerate(values):  # strength 1: each value somewhere
            if value not in (row[key] for row in rows):
                rows[i % len(rows)][key] = value
    return tuple(follow_ups(accepted(row, others)) for row in rows)


def follow_ups(row: dict[str, Any]) -> dict[str, Any]:
    """A question copier asks only `when` an earlier answer calls for it (slurm, with the
    cluster extra) takes its last value (yes) wherever it is asked, so that its files render
    with the extra they belong to, and its default elsewhere, as copier answers it there."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for key, spec in questions().items():
        if key in row and "when" in spec:
            asked = environment.from_string(str(spec["when"])).render(**to_copier(row)) == "True"
            row[key] = axes()[key][-1] if asked else axes()[key][0]
    return row


def variant_id(row: dict[str, Any]) -> str:
    defaults = variants()[0]
    changed = [
        f"{k}={'+'.join(v) if isinstance(v, tuple) else v}" for k, v in row.items() if v != defaults[k]
    ]
    return "default" if not changed else ",".join(changed)


def to_copier(row: dict[str, Any]) -> dict[str, Any]:
    """A row as copier takes its answers (the choices of a multiselect question as a list)."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in row.items()}


# The multi-process tests (pytest marker `distributed`) start several processes several times
# each, so a test file's multi-process tests run in the first variant of each training style
# that has the file and that the rule below picks (plan.py applies it; a file not listed: the
# first variant):
MULTI_PROCESS_HOMES: dict[str, Callable[[dict[str, Any]], bool]] = {
    # torchrun: the loader it strains most, files read by DataLoader workers under a DistributedSampler
    "test_distributed.py": lambda row: row["dataset"] == "imagefolder",
    "test_slurm.py": lambda row: row["slurm"],  # rendered with slurm=yes only
    "test_sweep.py": lambda row: True,  # the sweep's worker processes, the same in every variant
}


def is_multi_process_home(row: dict[str, Any], test_file: str) -> bool:
    return MULTI_PROCESS_HOMES.get(test_file, lambda row: True)(row)
