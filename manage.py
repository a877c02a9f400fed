#!/usr/bin/env python3
"""Django's command-line utility for administrative tasks.

Run from any terminal (`./manage.py …`, `python3 manage.py …`): without Django on the Python
that started it, it runs itself again with the checkout's virtualenv (`.venv` beside it, or
CRIMEBOX_VENV), which `deploy/bootstrap.sh` made.
"""

import os
import sys


def venv_python() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    venv = os.environ.get("CRIMEBOX_VENV") or os.path.join(here, ".venv")
    python = os.path.join(venv, "bin", "python")
    return python if os.path.exists(python) else None


def main() -> None:
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crimebox.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        python = venv_python()
        if python and not os.environ.get("CRIMEBOX_MANAGE_REEXEC"):
            os.environ["CRIMEBOX_MANAGE_REEXEC"] = "1"  # once: never a loop
            os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])
        raise ImportError(
            "Couldn't import Django, and there is no .venv beside manage.py: run "
            "`deploy/bootstrap.sh start` once (it creates .venv), or set CRIMEBOX_VENV."
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
