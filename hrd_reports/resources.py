"""Where the templates, static files and translations are, installed or in a checkout.

They live at the top of the repository; a wheel built by ``pip install .`` carries them
inside the package (see ``pyproject.toml``).
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name!r} folder is missing from this installation")
