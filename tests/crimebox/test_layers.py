"""Layers point down only: crimebox ← audit ← cameras ← recordings ← sync (docs/architecture.md).

Walks the import statements of every source file (ast: nothing is imported or run) and fails
on any import of a higher layer. Apps not named in LAYERS (console, live, ...) sit on top: no
layer may import them.
"""

import ast
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["crimebox", "audit", "cameras", "recordings", "sync"]
# The composition roots name every app by design: the URLconf and the WSGI/ASGI entry points.
COMPOSITION_ROOTS = {"crimebox/urls.py", "crimebox/wsgi.py", "crimebox/asgi.py"}
NOT_APPS = {"tests", "bench", "deploy", "docs", "templates"}


def first_party(root: Path) -> set[str]:
    return {p.parent.name for p in root.glob("*/__init__.py")} - NOT_APPS


def rank(package: str) -> int:
    return LAYERS.index(package) if package in LAYERS else len(LAYERS)


def imports_of(relpath: str, source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in the file; relative imports resolved."""
    package = PurePosixPath(relpath).with_suffix("").parts[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=relpath)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append((node.lineno, (node.module or "").split(".")[0]))
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)]
            found.append((node.lineno, base[0] if base else (node.module or "").split(".")[0]))
    return sorted(found)


def violations(sources: dict[str, str], apps: set[str]) -> list[str]:
    """`sources` maps a path relative to the repository root to the file's text."""
    problems = []
    for relpath, source in sorted(sources.items()):
        own = PurePosixPath(relpath).parts[0]
        if relpath in COMPOSITION_ROOTS:
            continue
        for line, target in imports_of(relpath, source):
            if target in apps and target != own and rank(target) > rank(own):
                problems.append(f"{relpath}:{line} ({own}) imports {target}")
    return problems


def layer_sources(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for layer in LAYERS
        for p in (root / layer).rglob("*.py")
    }


def test_lower_layers_never_import_higher_ones() -> None:
    sources = layer_sources(ROOT)
    assert {PurePosixPath(p).parts[0] for p in sources} == set(LAYERS)
    assert len(sources) > 50
    assert violations(sources, first_party(ROOT)) == []


def test_an_upward_import_is_reported_with_its_line() -> None:
    apps = {*LAYERS, "console"}
    bad = (
        "from recordings.models import Segment\n"
        "from audit.log import record\n"
        "import sync.tasks\n"
        "from crimebox.utc import utc_iso\n"
        "def view():\n"
        "    from console import views\n"
    )
    assert violations({"cameras/probe.py": bad}, apps) == [
        "cameras/probe.py:1 (cameras) imports recordings",
        "cameras/probe.py:3 (cameras) imports sync",
        "cameras/probe.py:6 (cameras) imports console",
    ]
    assert violations({"crimebox/urls.py": bad}, apps) == []
    assert violations({"sync/x.py": bad}, apps) == ["sync/x.py:6 (sync) imports console"]


@pytest.mark.parametrize(
    "relpath,source,expected",
    [
        ("recordings/evidence/x.py", "from ..models import Segment\n", "recordings"),
        ("recordings/evidence/x.py", "from . import hashing\n", "recordings"),
        ("recordings/evidence/__init__.py", "from .hashing import x\n", "recordings"),
        ("audit/log.py", "import recordings.models as m\n", "recordings"),
    ],
)
def test_imports_resolve_to_their_top_level_package(
    relpath: str, source: str, expected: str
) -> None:
    assert imports_of(relpath, source) == [(1, expected)]
