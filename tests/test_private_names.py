"""No module of app/ uses another module's private names: what is shared is declared
public. Checked on the source (AST), for `from X import _name` and for `mod._name` where
`mod` is an app module the file imported."""

from __future__ import annotations

import ast
import pathlib
import sys

from .conftest import ROOT

APP = ROOT / "app"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The absolute module an ImportFrom names (relative ones resolved against `package`)."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _offences(path: pathlib.Path) -> list[str]:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = path.relative_to(ROOT)
    out, modules = [], set()   # local names bound to app modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, package)
            if source.split(".")[0] != "app":
                continue
            for alias in node.names:
                if _private(alias.name):
                    out.append(f"{where}:{node.lineno} imports {alias.name} from {source}")
                # `from . import stats` binds a module; `from .x import Y` may too: the
                # attribute rule below only fires on private attributes, so both are kept
                modules.add(alias.asname or alias.name)
            for part in source.split(".")[1:]:
                if _private(part):
                    out.append(f"{where}:{node.lineno} imports from private module {source}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "app":
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in modules):
            out.append(f"{where}:{node.lineno} uses {node.value.id}.{node.attr}")
    return out


def test_no_module_uses_another_modules_private_names():
    offences = [o for path in sorted(APP.rglob("*.py")) for o in _offences(path)]
    assert not offences, "\n".join(offences)


def test_the_scan_sees_both_forms(tmp_path, monkeypatch):
    """The checker itself: both forms of reaching into a module are caught, stdlib ones
    (os._exit) and a module's use of its own privates are not."""
    pkg = tmp_path / "app" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    src = pkg / "mod.py"
    src.write_text("import os\nfrom . import other\nfrom .other import _hidden, shown\n"
                   "from app.pkg import other as o2\n"
                   "def _mine():\n    pass\n"
                   "x = other._peek + o2._poke + shown + _mine() + os._exit\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = _offences(src)
    assert len(found) == 3, found
    assert "imports _hidden from app.pkg.other" in found[0]
    assert any("other._peek" in f for f in found) and any("o2._poke" in f for f in found)
