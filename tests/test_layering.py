"""The method's page and what sits below it: rgd_utils.py stays one page, the packages it needs
never import it back (lazily or not), and importing it prints no warning."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BELOW = ("manifolds", "numerics", "validation", "training/base.py", "training/engine.py",
         "training/multistart.py", "__init__.py")


def below_files():
    for name in BELOW:
        path = ROOT / "rgdkit" / name
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def imported_modules(path):
    """Every module a file imports, at any depth (lazy imports in functions included)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("path", list(below_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_what_rgd_utils_needs_never_imports_it(path):
    assert "rgd_utils" not in set(imported_modules(path))


def test_rgd_utils_imports_only_what_sits_below_it():
    allowed = ("rgdkit", "rgdkit.manifolds", "rgdkit.numerics", "rgdkit.validation",
               "rgdkit.training")
    own = [m for m in imported_modules(ROOT / "rgd_utils.py") if m.startswith("rgdkit")]
    assert own and all(m == "rgdkit" or m.startswith(tuple(a + "." for a in allowed[1:]))
                       or m in allowed for m in own), own


def test_the_packages_below_import_without_rgd_utils():
    """With rgd_utils made unimportable, everything it needs still imports."""
    code = ("import sys; sys.modules['rgd_utils'] = None\n"
            "import rgdkit.manifolds, rgdkit.numerics, rgdkit.validation\n"
            "import rgdkit.training.engine, rgdkit.training.base, rgdkit.training.multistart\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_rgd_utils_is_one_page_without_lab_notes():
    text = (ROOT / "rgd_utils.py").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 500
    for note in ("issue #", "slower", "faster", "Pearson", "Spearman"):
        assert note not in text


def test_importing_rgd_utils_prints_no_warning():
    result = subprocess.run([sys.executable, "-W", "default", "-c", "import rgd_utils"],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stderr == ""
