"""The integrations reach the core only through its public modules and their exported names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    ROOT / "integrations" / "langchain" / "langchain_engram",
    ROOT / "integrations" / "llama-index" / "llama_index",
)
PUBLIC = ("engram_agents", "engram_agents.chat")


def core_imports(source: str) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for each import of engram_agents in the source; name is None for
    `import engram_agents...`."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "engram_agents":
                found += [(node.lineno, node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name, None)
                for a in node.names
                if a.name.split(".")[0] == "engram_agents"
            ]
    return found


def violations(source: str) -> list[str]:
    """Each import that is not a name listed in a public module's `__all__`."""
    bad = []
    for line, module, name in core_imports(source):
        if module not in PUBLIC:
            bad.append(f"line {line}: {module} is not a public module ({', '.join(PUBLIC)})")
        elif name is None or name not in importlib.import_module(module).__all__:
            bad.append(f"line {line}: {module} does not export {name!r} in __all__")
    return bad


def test_integrations_import_only_public_names():
    files = sorted(p for package in PACKAGES for p in package.rglob("*.py"))
    assert len(files) >= 10  # both integrations were walked
    imported = {(module, name) for f in files for _, module, name in core_imports(f.read_text())}
    assert ("engram_agents.chat", "stream_in_thread") in imported  # the walk sees them
    bad = [f"{f.relative_to(ROOT)} {v}" for f in files for v in violations(f.read_text())]
    assert bad == []


def test_an_internal_import_is_reported():
    source = (
        "from engram_agents.store.store import ConsolidationReport\n"
        "from engram_agents.chat import _cached_lm\n"
        "import engram_agents.lm\n"
        "from engram_agents.chat import RECALLED\n"
    )
    assert [v.split(":")[0] for v in violations(source)] == ["line 1", "line 2", "line 3"]


def test_public_names_resolve():
    for module in PUBLIC:
        loaded = importlib.import_module(module)
        assert all(hasattr(loaded, name) for name in loaded.__all__)
