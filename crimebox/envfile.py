"""The checkout's `.env`: what `bootstrap.sh start` was given, for every later `manage.py`.

    python -m crimebox.envfile [--print] PATH [BASE]   (no Django needed; run before anything)

Every `CRIMEBOX_*` variable of the environment is written to PATH, over what it already held;
relative paths are made absolute from BASE (the directory `start` was run from), so a
`manage.py` run later from anywhere, in a second terminal, opens the same data directory instead
of making a new one. One `KEY=value` a line, no comments or quotes (systemd's EnvironmentFile=
and django-environ read it alike; systemd keeps an inline `# comment` as part of the value, so
one is refused, also in a file being updated); mode 0600, as it may hold a secret key.
`bootstrap.sh install` writes /etc/crimebox.env the same way; `--print` shows the result only.
"""

import os
import sys
from pathlib import Path

from crimebox.atomic import write_atomic

PREFIX = "CRIMEBOX_"
# Variables naming files or directories: relative values are resolved from BASE.
PATH_SUFFIXES = ("_DIR", "_FILE", "_DATABASE", "_ROOT")
NOT_WRITTEN = {"CRIMEBOX_ENV_FILE", "CRIMEBOX_VENV"}


class EnvFileError(ValueError):
    pass


def check_value(key: str, value: str) -> None:
    if any(c in value for c in "\n\r\0") or " #" in value or "\t#" in value or value[:1] == "#":
        raise EnvFileError(f"{key}: a value may not hold a newline or a '#' comment")


def parse(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            check_value(key.strip(), value.strip())
            values[key.strip()] = value.strip()
    return values


def given(environ: dict[str, str], base: Path) -> dict[str, str]:
    """The CRIMEBOX_* settings of `environ`, paths made absolute from `base`."""
    out = {}
    for key, value in environ.items():
        if not key.startswith(PREFIX) or key in NOT_WRITTEN:
            continue
        check_value(key, value)
        if key.endswith(PATH_SUFFIXES) and value and not Path(value).is_absolute():
            value = str((base / value).resolve())
        out[key] = value
    return out


HEADER = "# crimebox settings (deploy/bootstrap.sh); one KEY=value a line, no inline comments.\n"


def merged(path: Path, environ: dict[str, str], base: Path) -> str:
    """The file's text once the given settings are merged in (existing keys kept)."""
    values = parse(path.read_text()) if path.is_file() else {}
    values.update(given(environ, base))
    return HEADER + "".join(f"{k}={v}\n" for k, v in sorted(values.items()))


def write(path: Path, environ: dict[str, str], base: Path) -> str:
    """Merge the given settings into `path`, written whole, 0600."""
    text = merged(path, environ, base)
    write_atomic(path, text, 0o600)
    return text


def main(argv: list[str]) -> int:
    show = argv[1:2] == ["--print"]
    args = argv[2:] if show else argv[1:]
    if len(args) not in (1, 2):
        print("usage: python -m crimebox.envfile [--print] PATH [BASE]", file=sys.stderr)
        return 2
    path, base = Path(args[0]), Path(args[1]) if len(args) == 2 else Path.cwd()
    try:
        text = merged(path, dict(os.environ), base) if show else write(path, dict(os.environ), base)
    except EnvFileError as e:
        print(f"envfile: {path}: {e}", file=sys.stderr)
        return 1
    if show:
        print(text, end="")
    else:
        keys = [line.split("=")[0] for line in text.splitlines()[1:]]
        print(f"bootstrap: {path} holds {', '.join(keys) or 'no settings'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
