"""Which rendered test files run in which variant, decided from the rendered files.

A rendered test file is keyed by its own bytes and by the bytes of its subject: every rendered
file it reaches, followed transitively,

- the package modules it imports (`from <package>.x import ...`, `import <package>.x`, and
  `from . import x` / `from .x import ...` inside the package; strings count too, so code a
  test writes out for a subprocess is followed), and `<package>/__main__.py` where it runs
  `-m <package>`;
- the helper modules of tests/ it imports (`import sample_data`);
- every other rendered file whose name it mentions (`train.yaml`, `train.sbatch`, ...);
- tests/conftest.py (with what it reaches) and pyproject.toml's `[tool.pytest...]` tables,
  which every test runs under.

A file runs in the first variant (in the order of variants.py) where its key appears, so a
file identical with its subject in several variants runs once, and a file that starts to vary,
or whose subject does, runs again by itself. The multi-process tests (marker `distributed`:
torchrun, SLURM, the sweep's workers) are the exception: they start several processes several
times, so a file's multi-process tests run in one variant of each training style, the first
that `variants.MULTI_PROCESS_HOMES` picks for it, whatever its key, and are deselected elsewhere.

Computing the plan needs every variant rendered (about a second each). The renders and the
plan are cached under build/variants/<hash>/, keyed by a hash of what a render depends on
(template/, copier.yml, hooks/, the variants, this file, copier's version); the first
process that needs them makes them while holding a file lock, the others wait and read them.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import textwrap
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import copier
import yaml
from plumbum import local
from variants import ROOT, is_multi_process_home, to_copier, variant_id, variants

CACHE = ROOT / "build" / "variants"
INPUTS = ("copier.yml", "template", "hooks", "tests/variants.py", "tests/plan.py")
# The project names the variants are rendered with, row by row (row 0, the default project, has
# the default name): names as users give them, short and long, spaced, with digits and unicode,
# whose packages sort before and after every module of the project and every helper of its tests
# (odd_things.py, sample_data.py, test_*.py), so that a name on which the project's lint or
# tests depend fails somewhere. (A name, and the package name when none can be derived from it.)
NAMES: tuple[dict[str, str], ...] = (
    {"project_name": "Digit Lab"},  # digit_lab
    {"project_name": "Zoo Lab"},  # zoo_lab: after every module and helper
    {"project_name": "AI"},  # ai: short, before every one
    {"project_name": "Ünïcødé Läb"},  # unicode_lab
    {"project_name": "3D Vision"},  # vision_3d
    {"project_name": "Odd Thingz"},  # odd_thingz: just after odd_things
    {"project_name": "Very long project name with many words"},  # very_long_project_name_with_many_wor
    {"project_name": "数字实验室", "package_name": "shuzi_lab"},  # no Latin letter: the package is typed
    {"project_name": "Test Lab"},  # test_lab: among the test files
    {"project_name": "Sample Data 2"},  # sample_data_2: just after sample_data
)


def names_of(index: int) -> dict[str, str]:
    """Row `index`'s names (the list is cycled when there are more rows than names)."""
    return NAMES[index % len(NAMES)]


def render(dst: Path, answers: dict[str, Any] | None = None) -> Path:
    """`copier copy --trust --defaults` of this checkout (with uncommitted changes) into dst."""
    copier.run_copy(
        str(ROOT),
        dst,
        data=dict(answers or {}),
        defaults=True,
        unsafe=True,  # the git-init task
        vcs_ref="HEAD",
        quiet=True,
    )
    return dst


def render_apart(dst: Path, answers: dict[str, Any]) -> Path:
    """render() into a folder inside this repository (build/) as if it were outside one: git
    looks no further up than dst's parent, so the git-init task makes the project's first commit.
    (Copier runs tasks with plumbum's copy of the environment, so the variable goes there.)"""
    with local.env(GIT_CEILING_DIRECTORIES=str(dst.parent)):
        return render(dst, answers)


@cache
def inputs_hash() -> str:
    """A hash of everything a variant's render depends on."""
    digest = hashlib.sha256(f"copier {copier.__version__}\n".encode())
    for name in INPUTS:
        path = ROOT / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(f"{file.relative_to(ROOT).as_posix()}\n".encode())
                digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:16]


# --- the subject of a test file: the top-level statements (and other files) it reaches


@dataclass
class Unit:
    """A top-level statement of a Python file: what it defines, uses and imports."""

    source: str
    defines: set[str]
    uses: set[str]
    imports: list[tuple[str, str | None, str]]  # (module, name or None for all of it, name bound)
    always: bool  # run whenever the module is: a statement that defines nothing, a pytest hook...
    attributes: set[tuple[str, str]]  # `x.y` it reads: (x, y)
    words: set[str]  # its strings that are identifiers: setattr(module, "name", ...), fixtures


Imported = tuple[str, str | None, str]


def absolute(sub: ast.Import | ast.ImportFrom, module: str, package: bool) -> list[Imported]:
    """(module, name or None, the name bound) of an import statement, made absolute."""
    if isinstance(sub, ast.Import):
        return [(alias.name, None, alias.asname or alias.name.split(".")[0]) for alias in sub.names]
    base = sub.module or ""
    if sub.level:
        parts = module.split(".")
        parts = parts if package else parts[:-1]
        parts = parts[: len(parts) - (sub.level - 1)]
        base = ".".join([*parts, *([base] if base else [])])
    return [(base, None if a.name == "*" else a.name, a.asname or a.name) for a in sub.names]


def code_in_string(value: object) -> ast.Module | None:
    """A string constant that is Python code with imports (what a test runs in a subprocess)."""
    if not isinstance(value, str) or "import" not in value:
        return None
    try:
        return ast.parse(textwrap.dedent(value))
    except SyntaxError:
        return None


def is_always(node: ast.stmt) -> bool:
    if isinstance(node, ast.FunctionDef) and node.name.startswith("pytest_"):
        return True  # a hook of a conftest
    for decorator in getattr(node, "decorator_list", []):
        if any(isinstance(k, ast.keyword) and k.arg == "autouse" for k in ast.walk(decorator)):
            return True  # an autouse fixture
    return False


def module_name(file: Path) -> str:
    """The dotted name a rendered Python file is imported as (src/ or tests/ on the path)."""
    if file.parent.name == "tests" or "src" not in file.parts:
        return file.stem
    parts = file.parts[len(file.parts) - file.parts[::-1].index("src") :]
    dotted = ".".join(parts)[: -len(".py")]
    return dotted.removesuffix(".__init__")


@cache
def units_of(file: Path) -> tuple[Unit, ...]:
    """The top-level statements of a rendered Python file (its docstring left out)."""
    text = file.read_text()
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    module = module_name(file)
    is_package = file.name == "__init__.py"
    units = []
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        defines: set[str] = set()
        uses: set[str] = set()
        imports: list[tuple[str, str | None, str]] = []
        attributes: set[tuple[str, str]] = set()
        words: set[str] = set()
        type_only = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        todo: list[tuple[ast.AST, bool]] = [(node, False)]  # (a node, whether inside a def)
        while todo:
            sub, inside = todo.pop()
            if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
                if not inside and not isinstance(sub, ast.Lambda):
                    defines.add(sub.name)
                body = sub.body if isinstance(sub.body, list) else [sub.body]
                for child in ast.iter_child_nodes(sub):
                    # decorators and defaults run where the def is; the body when it is called
                    todo.append((child, inside or any(child is b for b in body)))
                continue
            if isinstance(sub, ast.Import | ast.ImportFrom):
                for base, name, bound in absolute(sub, module, is_package):
                    if not inside:
                        defines.add(bound)
                    if not type_only:  # imports under `if TYPE_CHECKING:` never run
                        imports.append((base, name, "" if inside else bound))
            elif isinstance(sub, ast.Name):
                uses.add(sub.id)
                if isinstance(sub.ctx, ast.Store) and not inside:
                    defines.add(sub.id)
            elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
                attributes.add((sub.value.id, sub.attr))
            elif isinstance(sub, ast.arg):
                uses.add(sub.arg)  # a fixture asks for fixtures by its arguments' names
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                if sub.value.isidentifier():
                    uses.add(sub.value)  # request.getfixturevalue("x"), usefixtures("x"), getattr
                    words.add(sub.value)
                elif (code := code_in_string(sub.value)) is not None:
                    todo.append((code, inside))
            todo.extend((child, inside) for child in ast.iter_child_nodes(sub))
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        segment = "".join(lines[first - 1 : node.end_lineno])
        always = not type_only and (not defines or is_always(node))
        units.append(Unit(segment, defines, uses, imports, always, attributes, words))
    return tuple(units)


class Subject:
    """The rendered files and top-level statements a test file reaches, followed transitively."""

    def __init__(self, project: Path):
        self.project = project
        self.package = package_of(project)
        self.others: dict[str, list[Path]] = {}  # a name -> the rendered non-Python files of that name
        for path in rendered_files(project):
            if path.suffix != ".py":
                self.others.setdefault(path.name, []).append(path)
        names = "|".join(sorted(map(re.escape, self.others), key=len, reverse=True))
        self.mentions = re.compile(rf"(?<![\w.-])({names})(?![\w.-])")
        self.reached: dict[Path, set[int]] = {}  # a Python file -> its units reached
        self.whole: set[Path] = set()  # other files (configs, scripts), reached whole
        # (a Python file, a name it defines): None for all of it, "__init__" for what runs on import
        self.todo: list[tuple[Path, str | None]] = []
        self.modules_of: dict[Path, dict[str, Path]] = {}

    def module(self, dotted: str) -> Path | None:
        """The rendered file of a module: the package's (src/) or a helper of tests/."""
        parts = dotted.split(".")
        if parts[0] == self.package:
            base = self.project / "src" / Path(*parts)
        elif len(parts) == 1 and parts[0]:
            base = self.project / "tests" / parts[0]
        else:
            return None
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    def reach(self, dotted: str, name: str | None) -> None:
        """`import dotted` (name None) or `from dotted import name`. Of a module imported by
        `from package import module`, what runs on import; the names the importing file reads
        of it (`module.name`, or a string naming one) are reached where they are read."""
        parts = dotted.split(".")
        for end in range(1, len(parts)):  # the packages on the way run first
            if found := self.module(".".join(parts[:end])):
                self.todo.append((found, "__init__"))
        if name is not None and (found := self.module(f"{dotted}.{name}")):
            self.todo.append((found, "__init__"))
            name = "__init__"
        if found := self.module(dotted):
            self.todo.append((found, name))

    def bound_modules(self, file: Path) -> dict[str, Path]:
        """The names a file binds to modules of the project with `from package import module`."""
        if file not in self.modules_of:
            found = {}
            for unit in units_of(file):
                for base, name, bound in unit.imports:
                    if bound and name is not None and (module := self.module(f"{base}.{name}")):
                        found[bound] = module
            self.modules_of[file] = found
        return self.modules_of[file]

    def texts(self, source: str) -> None:
        """What a piece of text names: `-m <package>`, other rendered files."""
        if re.search(rf"-m\W{{0,4}}{self.package}\b", source):
            self.reach(f"{self.package}.__main__", None)
        for name in set(self.mentions.findall(source)):
            for other in self.others[name]:
                if other not in self.whole:
                    self.whole.add(other)
                    if other.suffix in (".sh", ".sbatch"):  # a script: what it runs
                        self.texts(other.read_text())

    def solve(self) -> Subject:
        while self.todo:
            file, name = self.todo.pop()
            units = units_of(file)
            chosen = self.reached.setdefault(file, set())
            before = set(chosen)
            if name is None:  # the whole module
                chosen.update(range(len(units)))
            else:
                chosen.update(i for i, u in enumerate(units) if u.always or name in u.defines)
            modules = self.bound_modules(file)
            for i in chosen - before:
                unit = units[i]
                for base, imported, _ in unit.imports:
                    self.reach(base, imported)
                for owner, attribute in unit.attributes:
                    if owner in modules:
                        self.todo.append((modules[owner], attribute))
                for owner in unit.uses & modules.keys():
                    self.todo += [(modules[owner], word) for word in unit.words]
                self.texts(units[i].source)
                self.follow_uses(file, units, chosen, i)
        return self

    def follow_uses(self, file: Path, units: tuple[Unit, ...], chosen: set[int], i: int) -> None:
        """A chosen statement's uses of names defined elsewhere in its module join the subject."""
        for j, other in enumerate(units):
            if j not in chosen:
                self.todo += [(file, name) for name in other.defines & units[i].uses]

    def digest(self) -> str:
        """A hash of the subject with the project's names left out, so that variants whose files
        differ only in the names they were given (NAMES) share a key."""
        digest, unnamed = hashlib.sha256(), names_left_out(self.project)
        for file in sorted({*self.reached, *self.whole}):
            digest.update(f"\n{unnamed(file.relative_to(self.project).as_posix())}\n".encode())
            if file in self.whole:
                text = file.read_bytes().decode("utf-8", "surrogateescape")
                digest.update(hashlib.sha256(unnamed(text).encode("utf-8", "surrogateescape")).digest())
                continue
            units = units_of(file)
            for i in sorted(self.reached[file]):
                digest.update(hashlib.sha256(unnamed(units[i].source).encode()).digest())
        return digest.hexdigest()

    def files(self) -> list[str]:
        return sorted(p.relative_to(self.project).as_posix() for p in {*self.reached, *self.whole})


def package_of(project: Path) -> str:
    (package,) = (p.name for p in (project / "src").iterdir() if (p / "__init__.py").is_file())
    return package


def names_left_out(project: Path) -> Callable[[str], str]:
    """A function that puts placeholders for the project's names (its project name, package and
    command) into a text."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    package = answers["package_name"]
    names = {
        answers["project_name"]: "<project name>",
        package: "<package>",
        package.replace("_", "-"): "<command>",
    }
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
    return lambda text: pattern.sub(lambda match: names[match.group()], text)


@cache
def rendered_files(project: Path) -> tuple[Path, ...]:
    return tuple(p for p in sorted(project.rglob("*")) if p.is_file() and ".git" not in p.parts)


def subject(project: Path, test_file: Path) -> Subject:
    """A test file's subject: the file itself whole, and what it reaches, conftest.py's fixtures
    (the ones it names, the autouse ones, and the hooks) included."""
    found = Subject(project)
    found.whole.add(test_file)  # hashed as it is, byte for byte
    found.todo.append((test_file, None))
    conftest = project / "tests" / "conftest.py"
    if conftest.is_file():
        for unit in units_of(test_file):
            for name in unit.uses:
                found.todo.append((conftest, name))
        found.todo.append((conftest, "__init__"))
    return found.solve()


def pytest_settings(project: Path) -> str:
    """pyproject.toml's [tool.pytest...] tables: every test runs under them."""
    tables = re.split(r"^(?=\[)", (project / "pyproject.toml").read_text(), flags=re.M)
    return "".join(table for table in tables if table.startswith("[tool.pytest"))


def rendered_tests(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "tests").glob("test_*.py"))


def keys_of(project: Path) -> dict[str, str]:
    """Each rendered test file's key: a hash of its bytes, its subject's and the pytest settings."""
    return analysed(project).keys


@dataclass
class Analysed:
    """A rendered project's test files: each one's key, torchrun_kind() and subject."""

    keys: dict[str, str]
    kinds: dict[str, str]
    subjects: dict[str, list[str]]


def analysed(project: Path) -> Analysed:
    result = Analysed({}, {}, {})
    for name in rendered_tests(project):
        found = subject(project, project / "tests" / name)
        digest = hashlib.sha256(pytest_settings(project).encode())
        digest.update(found.digest().encode())
        result.keys[name] = digest.hexdigest()[:16]
        result.kinds[name] = torchrun_kind(project / "tests" / name)
        result.subjects[name] = found.files()
    return result


# --- the plan


@dataclass(frozen=True)
class Row:
    """One variant: its answers, its id, its rendered project, and what of its tests runs."""

    index: int
    answers: dict[str, Any]
    id: str
    keys: dict[str, str]  # every rendered test file -> its key
    selected: list[str]  # the test files this variant runs
    distributed: list[str]  # those whose multi-process tests (marker `distributed`) run here too
    subjects: dict[str, list[str]]  # a selected test file -> its subject (paths in the project)


WHOLLY_DISTRIBUTED = re.compile(r"^pytestmark\s*=\s*pytest\.mark\.distributed\b", re.M)


def torchrun_kind(test_file: Path) -> str:
    """ "all" when every test of the file is marked `distributed` (a module-level pytestmark),
    "some" when some are, "" when none is."""
    text = test_file.read_text()
    if WHOLLY_DISTRIBUTED.search(text):
        return "all"
    return "some" if "mark.distributed" in text else ""


def plan_rows(projects: list[Analysed]) -> list[Row]:
    rows = variants()
    seen: set[str] = set()
    homes: set[tuple[str, str]] = set()  # (style, test file) whose multi-process tests have a variant
    result = []
    for index, (answers, project) in enumerate(zip(rows, projects, strict=True)):
        here = []
        for name, kind in project.kinds.items():
            home = (answers["framework"], name)
            if kind and home not in homes and is_multi_process_home(answers, name):
                homes.add(home)
                here.append(name)
        new = [name for name, key in project.keys.items() if key not in seen and project.kinds[name] != "all"]
        selected = [name for name in project.keys if name in here or name in new]
        seen.update(project.keys[name] for name in selected)
        subjects = {name: project.subjects[name] for name in selected}
        result.append(Row(index, answers, variant_id(answers), project.keys, selected, here, subjects))
    return result


def cache_dir() -> Path:
    return CACHE / inputs_hash()


def project_of(index: int) -> Path:
    """Variant `index`'s rendered project in the cache (read it, copy it; never change it)."""
    return cache_dir() / "projects" / str(index) / "digit-lab"


def prepared(index: int) -> Analysed:
    """Variant `index` rendered into the cache, and its test files analysed."""
    render_apart(project_of(index), {**names_of(index), **to_copier(variants()[index])})
    return analysed(project_of(index))


def plan() -> list[Row]:
    """The plan, from the cache or (under a file lock) rendered and computed now."""
    folder = cache_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "plan.json"
        if not done.is_file():
            for old in folder.parent.iterdir():  # renders of an older template
                if old.is_dir():
                    shutil.rmtree(old)
            # one process per core: rendering and reading the projects takes about 2 s each on one
            with ProcessPoolExecutor(os.cpu_count(), mp_context=multiprocessing.get_context("spawn")) as pool:
                rows = plan_rows(list(pool.map(prepared, range(len(variants())))))
            done.write_text(json.dumps([row.__dict__ for row in rows], indent=1))
    return [Row(**row) for row in json.loads(done.read_text())]


def check_lane() -> list[dict[str, Any]]:
    """The fast lane's variants (`make check`): the default project and the first Lightning
    variant with the most extras; each runs every one of its rendered test files, the torchrun
    tests included."""
    rows = variants()
    lightning = [row for row in rows if row["framework"] == "lightning"]
    return [rows[0], max(lightning, key=lambda row: len(row["extras"]))]


def main() -> None:
    """Print the plan: each variant and the test files it runs."""
    for row in plan():
        torchrun = f" (+ multi-process tests of {', '.join(row.distributed)})" if row.distributed else ""
        print(f"{row.index:2} {row.id}: {', '.join(row.selected) or '-'}{torchrun}")


if __name__ == "__main__":
    main()
