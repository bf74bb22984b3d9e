"""The `license` answer: each value renders the licence it names, with the year and the author
in its copyright line, and pyproject.toml declares the same SPDX id (PEP 639)."""

from __future__ import annotations

import pytest
import tomllib
from conftest import render
from packaging.licenses import canonicalize_license_expression
from variants import choice_values, copier_config

# What identifies each licence's text: its title line and the lines that set it apart.
BSD_CLAUSE_2 = "2. Redistributions in binary form must reproduce the above copyright notice,"
TEXTS = {
    "MIT": ("MIT License", ["Permission is hereby granted, free of charge, to any person obtaining a copy"]),
    "Apache-2.0": ("Apache License", ["TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"]),
    "BSD-3-Clause": (
        "BSD 3-Clause License",
        [BSD_CLAUSE_2, "3. Neither the name of the copyright holder nor the names of its"],
    ),
    "BSD-2-Clause": ("BSD 2-Clause License", [BSD_CLAUSE_2]),
    "ISC": ("ISC License", ["Permission to use, copy, modify, and/or distribute this software for any"]),
}
ANSWERS = {"author_name": "Ada Lovelace", "copyright_year": "2031"}


def test_every_offered_licence_has_its_text_here():
    assert set(choice_values(copier_config()["license"])) == {*TEXTS, "none"}


@pytest.mark.parametrize("spdx", sorted(TEXTS))
def test_the_licence_file_is_the_one_chosen(spdx, tmp_path):
    project = render(tmp_path / "p", {**ANSWERS, "license": spdx})
    text = (project / "LICENSE").read_text()
    title, lines = TEXTS[spdx]
    assert text.strip().splitlines()[0].strip() == title
    for line in {line for _, others in TEXTS.values() for line in others}:
        assert (line in text) == (line in lines), f"{spdx}'s LICENSE and {line!r}"
    copyright_lines = [line.strip() for line in text.splitlines() if line.strip().startswith("Copyright ")]
    assert len(copyright_lines) == 1 and "2031" in copyright_lines[0] and "Ada Lovelace" in copyright_lines[0]
    assert "[yyyy]" not in text and "<year>" not in text
    project_table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert project_table["license"] == canonicalize_license_expression(spdx) == spdx
    assert project_table["license-files"] == ["LICENSE"]


def test_no_licence_means_no_file_and_no_claim(tmp_path):
    project = render(tmp_path / "p", {"license": "none"})
    assert not (project / "LICENSE").exists()
    project_table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert "license" not in project_table and "license-files" not in project_table
