"""The layers of ``jobs/batch_jobs`` (docs/explanation/layout.md, "Layers"): imports only go down.

The framework (with the backends) never imports the operations, the console scripts or the
console; the operations never import the console scripts or the console."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jobs" / "batch_jobs"

#: layer (a folder of batch_jobs) -> the layers it must not import
FORBIDDEN = {
    "framework": {"operations", "cli", "console"},
    "backends": {"operations", "cli", "console"},
    "operations": {"cli", "console"},
}


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path):
    """Every module ``path`` imports, absolute, wherever the import statement is."""
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            # `from batch_jobs import operations` imports the layer itself.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def layer_of(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "batch_jobs" else None


def violations(path, layer):
    return sorted(
        f"{module_name(path)} imports {name}"
        for name in imported(path)
        if layer_of(name) in FORBIDDEN[layer]
    )


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_layer_exists():
    for layer in {*FORBIDDEN, *set().union(*FORBIDDEN.values())}:
        assert (PACKAGE / layer / "__init__.py").is_file(), layer


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_never_imports_the_layers_above_it(layer):
    modules = [p for p in MODULES if p.relative_to(PACKAGE).parts[0] == layer]
    assert modules, f"no module in {layer}/"
    found = [v for p in modules for v in violations(p, layer)]
    assert found == [], found


def test_the_check_sees_every_kind_of_import(tmp_path, monkeypatch):
    # The rule could pass by reading nothing: these imports must each be caught.
    fake = tmp_path / "batch_jobs"
    (fake / "framework").mkdir(parents=True)
    cases = {
        "a.py": "from batch_jobs.operations import control\n",
        "b.py": "import batch_jobs.cli.jobctl\n",
        "c.py": "def f():\n    from batch_jobs import console\n",
        "d.py": "from ..operations.catalog import jobs\n",
    }
    for name, text in cases.items():
        (fake / "framework" / name).write_text(text)
    (fake / "framework" / "ok.py").write_text("from batch_jobs.framework import walk\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    for name in cases:
        assert violations(fake / "framework" / name, "framework"), name
    assert violations(fake / "framework" / "ok.py", "framework") == []
