"""OmegaConf's refusals in this project's words: which key, what it takes, what to type.

config.py merges the config with OmegaConf, whose messages speak of its own machinery
("Incompatible value 'None' for field of type 'float'", "AnyNode is not a ListConfig"). Here
each becomes a sentence that names the key, says what it takes with an example to type, and
says what was given:

    optim.lr takes a number, e.g. optim.lr=0.01 (the command line gives no value)

The functions read the keys from the config's dataclasses (`root`: config.Config).
"""

from __future__ import annotations

import re
from dataclasses import MISSING, Field, fields, is_dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    GrammarParseError,
    InterpolationKeyError,
    OmegaConfBaseException,
    ValidationError,
)

# A key's type, as its dataclass writes it, in words and with an example of a value.
KINDS = {
    "int": ("a whole number", "1"),
    "float": ("a number", "0.5"),
    "bool": ("true or false", "true"),
    "str": ("a text", "name"),
    "list[int]": ("a list of whole numbers", "[0, 1]"),
    "list[str]": ("a list of names", "[a, b]"),
}
INTERPOLATION = "an interpolation names another key, e.g. ${data.root}"


def section_of(root: type, dotted: str) -> type | None:
    """The dataclass of the section a dotted path names ("" for the top level), or None."""
    cls = root
    for part in filter(None, dotted.split(".")):
        match = {f.name: f for f in fields(cls)}.get(part)
        if match is None:
            return None
        inner = getattr(cls(), part)
        if not is_dataclass(inner):
            return None
        cls = type(inner)
    return cls


def field_of(root: type, key: str) -> Field[Any] | None:
    """The dataclass field of a key that holds a value (not a section), or None."""
    parent, _, name = key.rpartition(".")
    section = section_of(root, parent)
    found = [f for f in fields(section) if f.name == name] if section else []
    return found[0] if found and section_of(root, key) is None else None


def takes(root: type, key: str) -> str:
    """What a key takes, with an example: "a number, e.g. optim.lr=0.01"."""
    field = field_of(root, key)
    if field is None:
        return "another value"
    kind = str(field.type)
    words = KINDS.get(kind.removesuffix(" | None"), (f"a value of type {kind}", ""))[0]
    words += " or null" if kind.endswith(" | None") else ""
    return f"{words}, e.g. {key}={example(field)}" if example(field) else words


def example(field: Field[Any]) -> str:
    """The field's default as typed (or, for a null or no default, a value of its type)."""
    default = field.default_factory() if field.default_factory is not MISSING else field.default
    if default is MISSING or default is None:
        return KINDS.get(str(field.type).removesuffix(" | None"), ("", ""))[1]
    return as_typed(default)


def as_typed(value: Any) -> str:
    """A value as it is typed on the command line: null, true, 0.01, [128, 64]."""
    if value is None or isinstance(value, bool):
        return str(value).lower().replace("none", "null")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(as_typed, value)) + "]"
    return str(value)


def given(value: Any) -> str:
    return "no value" if value is None else f"'{value}'" if isinstance(value, str) else as_typed(value)


def misfit(values: dict[str, Any], source: str, root: type, prefix: str = "") -> str | None:
    """The first key in `values` whose shape does not fit the config: a section given a single
    value (optim=3), or a value given keys (data.classes.x=1). None if all fit."""
    for name, value in values.items():
        key = f"{prefix}{name}"
        section = section_of(root, key)
        if section is not None and isinstance(value, dict):
            found = misfit(value, source, root, f"{key}.")
            if found:
                return found
        elif section is not None:
            keys, gives = fields(section), f"{source} gives {key}={as_typed(value)}"
            if not keys:
                return f"{key} takes no value and no keys in this project ({gives})"
            names, one = ", ".join(f.name for f in keys), f"{key}.{keys[0].name}={example(keys[0])}"
            return f"{key} is a section ({names}), not a value: set its keys one by one, e.g. {one} ({gives})"
        elif isinstance(value, dict) and field_of(root, key) is not None:
            inner = next(iter(value), "")
            return f"{key} takes {takes(root, key)}, not keys under it ({source} gives {key}.{inner})"
    return None


def bad_value(error: ValidationError, update: DictConfig, source: str, root: type) -> str:
    """A value OmegaConf refused in a merge: what the key takes and what `source` gave."""
    values = as_given(update)
    key = re.sub(r"\[\d+\]$", "", error.full_key or "")  # model.hidden[0]: an item of the list
    shape = misfit(values, source, root)
    if shape or not key:
        return shape or f"{source} gives a value the config cannot take ({one_line(error)})"
    return f"{key} takes {takes(root, key)} ({source} gives {given(pick(values, key))})"


def as_given(config: DictConfig) -> dict[str, Any]:
    """A config as plain values, its interpolations unresolved: what the user wrote."""
    return OmegaConf.to_container(config, resolve=False)  # type: ignore[return-value]


def pick(values: Any, key: str) -> Any:
    for part in key.split("."):
        values = values.get(part) if isinstance(values, dict) else None
    return values


def unresolved(error: OmegaConfBaseException, merged: DictConfig, root: type) -> str:
    """An interpolation (${...}) that cannot be resolved, or resolves to a value of a wrong type."""
    key = error.full_key or ""
    raw = pick(as_given(merged), key)
    what = f"{key} is {raw}" if isinstance(raw, str) else f"{key or 'a value'} holds an interpolation"
    if isinstance(error, ValidationError) and key:
        return f"{key} takes {takes(root, key)} (it is {raw}, which gives {given(error.value)})"
    if isinstance(error, InterpolationKeyError):
        return f"{what}, which names no key of the config: {INTERPOLATION}"
    return f"{what}, which this project cannot resolve: {INTERPOLATION}"


def unreadable(item: str, error: Exception) -> str:
    """An override whose value is not YAML (epochs=[1) or holds a broken ${...}."""
    if isinstance(error, GrammarParseError):
        why = "its ${...} is not complete: " + INTERPOLATION
    else:
        why = f"its value is not valid YAML: {yaml_problem(error, where=False)}"
    return f"cannot read the override '{item}': {why}"


def yaml_problem(error: Exception, where: bool = True) -> str:
    """What YAML's error says it expected, and where: "expected ',' or ']' (line 2, column 9)"."""
    problem, mark = getattr(error, "problem", None), getattr(error, "problem_mark", None)
    if not problem:
        return one_line(error)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark and where else problem


def one_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
