"""``make setup`` keyed to the checkout, and never through another checkout's virtualenv.

``pip install -e .`` through a ``.venv`` shared by two checkouts (a symlinked ``.venv`` in a
second clone) re-points the editable install and the kernel to the checkout that ran it last:
a batch started in the other one then imports this one's code and writes its reports here. So
``make setup``

* names its stamp after :func:`setup_key` (a hash of the checkout's absolute path and of the
  dependency lists in ``pyproject.toml``): a changed dependency list or a moved checkout sets
  up again, an edit elsewhere in ``pyproject.toml`` does not; the stamp file records both;
* refuses, before anything is installed, a ``.venv`` that belongs to another checkout
  (:func:`venv_problem`: a symbolic link, a ``pyvenv.cfg`` created for another path, an
  editable install or a kernel pointing elsewhere), with a message saying what to do.

Standard library only, and run as a script by the Makefile before the virtualenv exists::

    python3.11 -P src/helpers/runner/checkout.py key
    python3.11 -P src/helpers/runner/checkout.py guard .venv
    python3.11 -P src/helpers/runner/checkout.py stamp .venv/.installed-<key>
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

#: The project's checkout when this file is run from it (``src/helpers/runner/checkout.py``).
CHECKOUT = Path(__file__).resolve().parents[3]
KERNEL = "b2b-insights"


def dependencies(checkout: Path = CHECKOUT) -> dict[str, list[str]]:
    """The dependency lists of ``pyproject.toml``: ``dependencies`` and each optional group."""
    project = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lists = {"dependencies": list(project.get("dependencies", []))}
    for group, items in sorted(project.get("optional-dependencies", {}).items()):
        lists[f"optional-dependencies.{group}"] = list(items)
    return lists


def setup_key(checkout: Path = CHECKOUT) -> str:
    """16 hex digits of a hash of the checkout's absolute path and its dependency lists."""
    text = json.dumps(
        {"checkout": str(Path(checkout).resolve()), "dependencies": dependencies(checkout)},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _fix(venv: Path) -> str:
    return (
        f"Give this checkout its own virtualenv: remove {venv} (`rm -rf {venv}`, or `rm {venv}` "
        "for a link) and run `make setup` again. Nothing was installed."
    )


def _editable_targets(site: Path) -> list[str]:
    """Where the editable install of the project in ``site`` (site-packages) points."""
    targets = []
    for pth in site.glob("__editable__.b2b_insights-*.pth"):
        for line in pth.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip() and not line.startswith(("import ", "#")):
                targets.append(str(Path(line.strip()) / "helpers"))
    for finder in site.glob("__editable___b2b_insights_*_finder.py"):
        text = finder.read_text(encoding="utf-8", errors="replace")
        targets += re.findall(r"""['"]helpers['"]\s*:\s*['"]([^'"]+)['"]""", text)
    return targets


def venv_problem(checkout: Path, venv: Path) -> str | None:
    """Why ``venv`` must not be set up from ``checkout`` (it belongs to another checkout), or
    None (it is this checkout's, or it does not exist yet)."""
    checkout, venv = Path(checkout).absolute(), Path(venv)
    venv = venv if venv.is_absolute() else checkout / venv
    if venv.is_symlink():
        return (
            f"{venv} is a symbolic link to {os.readlink(venv)}: a virtualenv shared with "
            f"another checkout. Installing through it would point that checkout's editable "
            f"install and kernel at this one. {_fix(venv)}"
        )
    if not venv.exists():
        return None
    cfg = venv / "pyvenv.cfg"
    if cfg.exists():
        match = re.search(r"^command\s*=.*\s-m\s+venv\s+(.+)$", cfg.read_text(), re.MULTILINE)
        if match and not _same(match.group(1).strip(), venv):
            return (
                f"{venv} was created for {match.group(1).strip()} (its pyvenv.cfg), not for "
                f"this checkout. {_fix(venv)}"
            )
    own = checkout / "src" / "helpers"
    for site in venv.glob("lib/python3*/site-packages"):
        for target in _editable_targets(site):
            if not _same(target, own):
                return (
                    f"{venv} has the project installed from {Path(target).parent.parent} "
                    f"(editable install), not from this checkout: another checkout shares it. "
                    f"{_fix(venv)}"
                )
    spec = venv / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    if spec.exists():
        python = Path(json.loads(spec.read_text())["argv"][0])
        if not _same(python.parent.parent, venv):
            return f"the {KERNEL} kernel of {venv} runs {python}, another virtualenv. {_fix(venv)}"
    return None


def write_stamp(path: Path, checkout: Path = CHECKOUT) -> Path:
    """The stamp of a finished set-up: the checkout, its key and the dependency lists."""
    doc = {
        "checkout": str(Path(checkout).resolve()),
        "key": setup_key(checkout),
        "dependencies": dependencies(checkout),
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``key`` | ``guard VENV`` | ``stamp FILE`` (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["key"]:
        print(setup_key())
        return 0
    if args[:1] == ["guard"] and len(args) == 2:
        problem = venv_problem(CHECKOUT, Path(args[1]))
        if problem:
            print(f"make setup: {problem}", file=sys.stderr)
            return 1
        return 0
    if args[:1] == ["stamp"] and len(args) == 2:
        write_stamp(Path(args[1]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
