"""The checkout's `.env`: what `bootstrap.sh start` was given, for every later `manage.py`.

    python -m crimebox.envfile PATH [BASE]   (no Django needed; run before anything else)

Every `CRIMEBOX_*` variable of the environment is written to PATH, over what it already held;
relative paths are made absolute from BASE (the directory `start` was run from), so a
`manage.py` run later from anywhere, in a second terminal, opens the same data directory instead
of making a new one. One `KEY=value` a line, no comments or quotes (systemd's EnvironmentFile=
and django-environ read it alike); mode 0600, as it may hold a secret key.
"""

import os
import sys
from pathlib import Path

PREFIX = "CRIMEBOX_"
# Variables naming files or directories: relative values are resolved from BASE.
PATH_SUFFIXES = ("_DIR", "_FILE", "_DATABASE", "_ROOT")
NOT_WRITTEN = {"CRIMEBOX_ENV_FILE", "CRIMEBOX_VENV"}


class EnvFileError(ValueError):
    pass


def parse(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def given(environ: dict[str, str], base: Path) -> dict[str, str]:
    """The CRIMEBOX_* settings of `environ`, paths made absolute from `base`."""
    out = {}
    for key, value in environ.items():
        if not key.startswith(PREFIX) or key in NOT_WRITTEN:
            continue
        if any(c in value for c in "\n\r\0") or " #" in value or value.startswith("#"):
            raise EnvFileError(f"{key}: a value may not hold a newline or a '#' comment")
        if key.endswith(PATH_SUFFIXES) and value and not Path(value).is_absolute():
            value = str((base / value).resolve())
        out[key] = value
    return out


def write(path: Path, environ: dict[str, str], base: Path) -> dict[str, str]:
    """Merge the given settings into `path` (existing keys kept unless given again)."""
    values = parse(path.read_text()) if path.is_file() else {}
    values.update(given(environ, base))
    text = "".join(f"{k}={v}\n" for k, v in sorted(values.items()))
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# Written by deploy/bootstrap.sh start: the settings every manage.py here uses.\n")
        f.write(text)
    os.replace(tmp, path)
    return values


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    base = Path(argv[2]) if len(argv) == 3 else Path.cwd()
    try:
        values = write(Path(argv[1]), dict(os.environ), base)
    except EnvFileError as e:
        print(f"envfile: {e}", file=sys.stderr)
        return 1
    shown = ", ".join(k for k in values if "SECRET" not in k) or "nothing yet"
    print(f"bootstrap: {argv[1]} holds {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
