"""The config's refusals in this project's words, not OmegaConf's: which key, what it takes, what
to type, e.g. "optim.lr takes a number, e.g. optim.lr=0.01 (the command line gives no value)".
`root` is a config.Config(): its sections are dataclasses, its values the defaults."""

from __future__ import annotations

import json
import re
from dataclasses import fields, is_dataclass
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import GrammarParseError, InterpolationKeyError, OmegaConfBaseException, ValidationError

from .errors import UserError

# A key's type, as its dataclass writes it: in words, and an example for a key whose default is null.
KINDS = {
    "int": ("a whole number", "1"),
    "float": ("a number", "0.5"),
    "bool": ("true or false", "true"),
    "str": ("a text", "name"),
    "list[int]": ("a list of whole numbers", "[0, 1]"),
}
INTERPOLATION = "an interpolation names another key, e.g. ${runs_dir}"


def check_override(item: str) -> str:
    key = item.partition("=")[0]
    if "=" not in item or not key:
        raise UserError(f"'{item}' is not an override: write key=value, e.g. optim.lr=0.05")
    if "[" in key:
        raise UserError(f"'{item}': a list is given whole, e.g. data.classes=[1,2], not item by item")
    if "" in key.split("."):
        raise UserError(f"'{item}': a key is names joined by single dots, e.g. optim.lr=0.05")
    try:
        OmegaConf.from_dotlist([item])
    except Exception as error:  # YAML's for a value such as epochs=[1, OmegaConf's for epochs=${
        why = "its value is not valid YAML: " + yaml_problem(error, where=False)
        if isinstance(error, GrammarParseError):
            why = "its ${...} is not complete: " + INTERPOLATION
        raise UserError(f"cannot read the override '{item}': {why}") from None
    return item


def check_keys(values: dict[str, Any], section: Any, source: str, prefix: str = "") -> None:
    """Each key in `values` is one of `section`'s, given keys where it is a section, else a value."""
    names, where = [f.name for f in fields(section)], prefix[:-1]
    for name, value in values.items():
        key, inner, gives = f"{prefix}{name}", getattr(section, name, None), f"{source} gives {prefix}{name}"
        if name not in names and not names:
            raise UserError(f"unknown key '{key}' in {source}: {where} takes no keys in this project")
        if name not in names:
            listed = f"valid keys {f'under {where}' if where else 'at the top level'}: {', '.join(names)}"
            raise UserError(f"unknown key '{key}' in {source}; {listed}")
        if is_dataclass(inner) and isinstance(value, dict):
            check_keys(value, inner, source, f"{key}.")
        elif is_dataclass(inner) and not fields(inner):
            raise UserError(f"{key} takes no value and no keys in this project ({gives}={as_typed(value)})")
        elif is_dataclass(inner):
            first, inside = fields(inner)[0].name, ", ".join(f.name for f in fields(inner))
            one = f"{key}.{first}={as_typed(getattr(inner, first))}"
            what = f"{key} is a section ({inside}), not a value: set its keys one by one, e.g. {one}"
            raise UserError(f"{what} ({gives}={as_typed(value)})")
        elif isinstance(value, dict):
            inside = f"{gives}.{next(iter(value), '')}"
            raise UserError(f"{key} takes {takes(section, key)}, not keys under it ({inside})")
        elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):  # OmegaConf lets by
            raise UserError(f"{key} takes {takes(section, key)} ({gives}={as_typed(value)})")


def refusal(error: OmegaConfBaseException, values: Any, root: Any, source: str = "") -> str:
    """A value OmegaConf refused: given by `source` in a merge, or an interpolation (${...}) resolved."""
    key = re.sub(r"\[\d+\]$", "", error.full_key or "")  # model.hidden[0]: an item of the list
    raw = values
    for part in key.split("."):
        raw = raw.get(part) if isinstance(raw, dict) else None
    if isinstance(error, ValidationError) and key:
        gives = f"{source} gives {given(raw)}" if source else f"it is {raw}, which gives {given(error.value)}"
        return f"{key} takes {takes(section_of(root, key), key)} ({gives})"
    if isinstance(error, InterpolationKeyError):
        return f"{key} is {raw}, which names no key of the config: {INTERPOLATION}"
    return f"{key or 'a value'} is {raw}, which this project cannot resolve: {INTERPOLATION}"


def section_of(root: Any, key: str) -> Any:
    """The section (a dataclass of defaults) that holds a dotted key, or None."""
    for part in filter(None, key.split(".")[:-1]):
        root = getattr(root, part, None)
    return root if is_dataclass(root) else None


def takes(section: Any, key: str) -> str:
    """What a key takes, with an example: "a number, e.g. optim.lr=0.01"."""
    name = key.rpartition(".")[2]
    kind = str(next(f.type for f in fields(section) if f.name == name))
    words, example = KINDS.get(kind.removesuffix(" | None"), (f"a value of type {kind}", ""))
    example = example if getattr(section, name) is None else as_typed(getattr(section, name))
    words += " or null" if kind.endswith(" | None") else ""
    return f"{words}, e.g. {key}={example}" if example else words


def as_typed(value: Any) -> str:
    """A value as it is typed on the command line: null, true, 0.01, [128, 64]."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(as_typed, value)) + "]"
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)


def given(value: Any) -> str:
    return "no value" if value is None else f"'{value}'" if isinstance(value, str) else as_typed(value)


def yaml_problem(error: Exception, where: bool = True) -> str:
    """What YAML's error says it expected, and where: "expected ',' or ']' (line 2, column 9)"."""
    problem, mark = getattr(error, "problem", None) or one_line(error), getattr(error, "problem_mark", None)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark and where else problem


def one_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
