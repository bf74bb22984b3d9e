"""mkdocs hook: the tables that come from copier.yml, so the docs cannot drift from it.

A page asks for a table with a marker line:

    <!-- copier:questions -->   every question: key, what it asks, its values, its default
    <!-- copier:backends -->    every hardware target: index, platforms, driver needed, when to pick it
    <!-- copier:variants -->    every variant the template's suite renders, and the rendered test
                                files it runs (tests/plan.py; renders the variants, or reads the
                                suite's cache of them in build/variants/)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COPIER_YML = ROOT / "copier.yml"


def load() -> dict[str, Any]:
    return yaml.safe_load(COPIER_YML.read_text())


def questions(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        key: spec
        for key, spec in config.items()
        if not key.startswith("_") and isinstance(spec, dict) and spec.get("when") is not False
    }


def values_of(spec: dict[str, Any]) -> str:
    if spec.get("type") == "bool":
        return "`yes`, `no`"
    choices = spec.get("choices")
    if choices is None:
        return "free text"
    values = choices.values() if isinstance(choices, dict) else choices
    return ", ".join(f"`{v}`" for v in values)


def default_of(spec: dict[str, Any]) -> str:
    if spec.get("type") == "bool":
        return "`yes`" if spec.get("default") else "`no`"
    if spec.get("multiselect"):
        return "none"
    default = str(spec.get("default", ""))
    return "derived" if "{{" in default else f"`{default}`"


def questions_table(config: dict[str, Any]) -> str:
    rows = ["| key | asks | values | default |", "| --- | --- | --- | --- |"]
    for key, spec in questions(config).items():
        link = f"[`{key}`](#{key})"
        rows.append(f"| {link} | {spec['help']} | {values_of(spec)} | {default_of(spec)} |")
    return "\n".join(rows)


OS_NAMES = {"linux": "Linux", "win32": "Windows", "darwin": "macOS"}


def wheels_of(backend: dict[str, Any]) -> str:
    where = [f"{OS_NAMES[os]} {'/'.join(arches)}" for os, arches in backend["wheels"].items()]
    return ", ".join(where) or "any (decided on the machine)"


def needs_of(backend: dict[str, Any]) -> str:
    if "driver" not in backend:
        return backend["needs"]
    driver = backend["driver"]
    needs = f"NVIDIA driver {driver['linux']}+"
    if driver["win32"] != driver["linux"]:
        needs += f" (Windows {driver['win32']}+)"
    return f"{needs}, GPU compute capability {backend['compute']}+"


def backends_table(config: dict[str, Any]) -> str:
    rows = [
        "| backend | wheel index | wheels for | driver / needs | pick it when |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, backend in config["backends"]["default"].items():
        index = backend["index"] or "PyPI's default wheels"
        if name == "auto":
            index = "chosen by bootstrap.py"
        rows.append(
            f"| `{name}` | {index} | {wheels_of(backend)} | {needs_of(backend)} | {backend['pick']} |"
        )
    return "\n".join(rows)


def variants_table() -> str:
    """The suite's variants (tests/variants.py) and which of their rendered test files each
    runs (tests/plan.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import plan

    rows = plan.plan()
    files = sorted({name for row in rows for name in row.keys})
    short = [name.removeprefix("test_").removesuffix(".py") for name in files]
    table = [
        "| # | variant: the answers that differ from the default | " + " | ".join(short) + " |",
        "| --- | --- | " + " | ".join("---" for _ in files) + " |",
    ]
    ran: set[str] = set()  # the keys run so far
    for row in rows:
        cells = []
        for name in files:
            if name not in row.keys:
                cells.append("")  # not rendered in this variant
            elif name in row.distributed:
                cells.append("**run** + mp")
            elif name in row.selected:
                cells.append("**run**")
            elif row.keys[name] in ran:
                cells.append("=")
            else:
                cells.append("t")
        ran.update(row.keys[name] for name in row.selected)
        answers = ", ".join(f"`{answer}`" for answer in row.id.split(","))
        table.append(f"| {row.index} | {answers} | " + " | ".join(cells) + " |")
    count = sum(len(row.selected) for row in rows)
    rendered = sum(len(row.keys) for row in rows)
    table += ["", f"{len(rows)} variants; {count} of their {rendered} rendered test files run."]
    return "\n".join(table)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    config = load()
    markdown = markdown.replace("<!-- copier:questions -->", questions_table(config))
    markdown = markdown.replace("<!-- copier:backends -->", backends_table(config))
    if "<!-- copier:variants -->" in markdown:
        markdown = markdown.replace("<!-- copier:variants -->", variants_table())
    return markdown
