"""Layers point down only: crimebox ← audit ← cameras ← recordings ← sync (docs/architecture.md).

Walks the import statements of every source file (ast: nothing is imported or run) and fails
on any import of a higher layer. Apps not named in LAYERS (console, live, ...) sit on top: no
layer may import them. Couplings by name that no import shows (a foreign key "app.Model", a
permission "app.codename", a URL name "app:name") are found in the string literals too, and in
each layer's templates (templates/<app>/, templates/admin/<app>/: `{% url 'app:…' %}`,
`perms.app.…`); only the few listed in NAMED_UPWARD, each with its reason, may point up.
The RTCC console (rtcc/) is a deployable of its own: it stands on crimebox and audit only.
"""

import ast
import re
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


# Upward couplings by name that are known and kept (docs/architecture.md, "Layers").
NAMED_UPWARD = {
    # An audit entry names the camera it is about (and its migration depends on cameras).
    ("audit/models.py", "cameras"): "AuditEvent.camera is a foreign key to cameras.Camera",
    ("audit/receivers.py", "cameras"): "the admin's camera changes: cameras/audit.py writes them",
    # One table of who may do what, for every app (docs/roles.md).
    ("audit/roles.py", "cameras"): "the roles' permissions",
    ("audit/roles.py", "recordings"): "the roles' permissions",
    ("audit/roles.py", "live"): "the roles' permissions",
    # The cameras list links each camera's still and live view.
    ("cameras/admin.py", "console"): "the still's URL",
    ("cameras/admin.py", "live"): "the live view's URL",
    # The exports admin hands over to the console's export pages.
    ("recordings/admin/exports.py", "console"): "redirects to the console's export pages",
    # The footage pages are part of the console's pages (its menu, its look): they link to it.
    ("templates/recordings/index.html", "console"): "each camera's still, the console's view",
    ("templates/recordings/index.html", "live"): "a Live link for those who may watch",
    ("templates/recordings/day.html", "live"): "a Live link for those who may watch",
    ("templates/recordings/day.html", "console"): "Export selection opens the export form",
    ("templates/recordings/player.html", "console"): "Export this opens the export form",
}
NAME = re.compile(r"^(?P<app>[a-z_]+)[.:][A-Za-z_][\w.]*$")
TEMPLATE_NAME = re.compile(
    r"""{%\s*url\s+['"](?P<url_app>[a-z_]+):[\w-]*|\bperms\.(?P<perm_app>[a-z_]+)\.\w+"""
)


def named_couplings(sources: dict[str, str], apps: set[str]) -> list[tuple[str, int, str, str]]:
    """(path, line, app, the string) of every string naming a higher app's model, permission,
    URL or module, outside migrations and the composition roots."""
    found = []
    for relpath, source in sorted(sources.items()):
        own = PurePosixPath(relpath).parts[0]
        if relpath in COMPOSITION_ROOTS or "migrations" in PurePosixPath(relpath).parts:
            continue
        for node in ast.walk(ast.parse(source, filename=relpath)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                m = NAME.match(node.value)
                if m and m["app"] in apps and m["app"] != own and rank(m["app"]) > rank(own):
                    found.append((relpath, node.lineno, m["app"], node.value))
    return found


def template_owner(relpath: str) -> str:
    """The app a template belongs to: templates/<app>/… or templates/admin/<app>/…"""
    parts = PurePosixPath(relpath).parts[1:]
    if parts[0] == "admin":
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else ""


def template_couplings(
    templates: dict[str, str], apps: set[str]
) -> list[tuple[str, int, str, str]]:
    """(path, line, app, the text) of every URL name or permission naming a higher app in a
    layer's templates."""
    found = []
    for relpath, text in sorted(templates.items()):
        own = template_owner(relpath)
        for m in TEMPLATE_NAME.finditer(text):
            app = m["url_app"] or m["perm_app"]
            if app in apps and app != own and rank(app) > rank(own):
                line = text.count("\n", 0, m.start()) + 1
                found.append((relpath, line, app, m.group()))
    return found


def layer_templates(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in (root / "templates").rglob("*")
        if p.is_file() and template_owner(p.relative_to(root).as_posix()) in LAYERS
    }


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


def test_upward_couplings_by_name_are_only_the_known_ones() -> None:
    apps = first_party(ROOT)
    templates = layer_templates(ROOT)
    assert {"templates/recordings/day.html", "templates/admin/cameras/camera/discover.html"} <= set(
        templates
    )
    found = named_couplings(layer_sources(ROOT), apps) + template_couplings(templates, apps)
    unknown = [f"{p}:{line} names {value!r}" for p, line, app, value in found
               if (p, app) not in NAMED_UPWARD]  # fmt: skip
    assert unknown == []
    # Each allowance is still needed: one that no longer matches anything is removed.
    assert {(p, app) for p, _, app, _ in found} == set(NAMED_UPWARD)


def test_a_coupling_by_name_is_found() -> None:
    apps = {*LAYERS, "console", "live"}
    source = (
        'segment = ForeignKey("recordings.Segment", on_delete=CASCADE)\n'
        'url = reverse("console:exports")\n'
        'ok = user.has_perm("live.view_live")\n'
        'fine = "crimebox.settings"\n'
        'text = "see recordings. Then"\n'
    )
    found = named_couplings({"cameras/x.py": source}, apps)
    assert [(line, value) for _, line, _, value in found] == [
        (1, "recordings.Segment"), (2, "console:exports"), (3, "live.view_live"),
    ]  # fmt: skip


def test_a_coupling_by_name_in_a_template_is_found() -> None:
    apps = {*LAYERS, "console", "live"}
    text = (
        "<a href=\"{% url 'recordings:day' c.pk %}\">day</a>\n"
        '{% if perms.live.view_live %}<a href="{% url  "live:camera" c.pk %}">Live</a>{% endif %}\n'
        "{% if perms.recordings.export_footage %}{% url 'console:export_new' %}{% endif %}\n"
        "{% url 'admin:index' %} perms.cameras.change_camera\n"
    )
    found = template_couplings({"templates/recordings/x.html": text}, apps)
    assert [(line, app) for _, line, app, _ in found] == [(2, "live"), (2, "live"), (3, "console")]
    assert template_couplings({"templates/admin/cameras/camera/x.html": text}, apps)[0][2] == (
        "recordings"
    )
    assert template_owner("templates/admin/app_list.html") == ""


def test_the_rtcc_console_stands_on_crimebox_and_audit_only() -> None:
    box_only = {"cameras", "recordings", "sync", "live", "console"}
    wrong = [
        f"{p.relative_to(ROOT)}:{line} imports {target}"
        for p in (ROOT / "rtcc").rglob("*.py")
        for line, target in imports_of(p.relative_to(ROOT).as_posix(), p.read_text())
        if target in box_only
    ]
    assert wrong == []


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
