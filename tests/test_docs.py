"""The documentation builds cleanly and covers every question copier.yml asks."""

from __future__ import annotations

import re
import sys

from conftest import ROOT, run
from plan import plan
from variants import axes, questions

DOCS = ROOT / "docs"


def test_mkdocs_build_is_strict_clean(tmp_path):
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", tmp_path / "site"]
    result = run(build, ROOT, env={"NO_MKDOCS_2_WARNING": "1"})
    page = (tmp_path / "site" / "questions" / "index.html").read_text()
    for key, values in axes().items():  # the generated table made it into the page
        assert f"<code>{key}</code>" in page
        for value in values:
            shown = ("yes" if value else "no") if isinstance(value, bool) else value
            for each in shown if isinstance(shown, tuple) else [shown]:  # a multiselect's choices
                assert f"<code>{each}</code>" in page, (key, value)
    hardware = (tmp_path / "site" / "hardware" / "index.html").read_text()
    for backend in axes()["torch_backend"]:  # the generated table of backends
        assert f"<code>{backend}</code>" in hardware, backend
    assert "https://download.pytorch.org/whl/cpu" in hardware and "NVIDIA driver 580+" in hardware
    matrix = (tmp_path / "site" / "variants" / "index.html").read_text()
    rows = plan()  # the generated table of variants and the rendered test files each runs
    for row in rows:
        assert all(f"<code>{answer}</code>" in matrix for answer in row.id.split(",")), row.id
    ran = sum(len(row.selected) for row in rows)
    assert f"{len(rows)} variants; {ran} of their {sum(len(r.keys) for r in rows)} rendered" in matrix
    assert "WARNING" not in result.stderr


def test_every_question_has_a_section_that_explains_it():
    text = (DOCS / "questions.md").read_text()
    for key in questions():
        match = re.search(rf"^### `{key}`\n\n(.+?)(?=^### |^## |\Z)", text, re.M | re.S)
        assert match, f"docs/questions.md has no section for {key}"
        assert len(match.group(1).split()) >= 8, f"the section for {key} says too little"


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in DOCS.glob("*.md"):
        assert page.name in nav, f"{page.name} is not in mkdocs.yml's nav"
