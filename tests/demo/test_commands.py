"""`engram-agents demo|bench` come from the engram-agents-demo distribution through the
`engram_agents.commands` entry-point group: the core finds them, never imports them, and says
what to install when they are missing."""

import ast
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution
from pathlib import Path

import pytest

from engram_agents import cli

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "benchmarks" / "data" / "locomo_sample.json"


def declared_commands() -> list[EntryPoint]:
    """The entry points examples/pyproject.toml declares, as an installed copy would list them."""
    meta = tomllib.loads((ROOT / "examples" / "pyproject.toml").read_text())
    group = meta["project"]["entry-points"][cli.COMMANDS]
    return [EntryPoint(name, value, cli.COMMANDS) for name, value in group.items()]


def test_declared_commands_are_found_and_run(monkeypatch, capsys):
    monkeypatch.setattr(cli, "entry_points", lambda group: declared_commands())
    assert set(cli.installed_commands()) == {"demo", "bench"}
    with pytest.raises(SystemExit) as done:
        cli.main(["bench", "locomo", "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("usage: engram-agents bench locomo")
    argv = ["bench", "locomo", str(SAMPLE), "--encoder", "hashing", "--systems", "engram"]
    assert cli.main(argv) == 0
    assert "engram" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "demo" in capsys.readouterr().out


def test_a_missing_command_names_the_distribution(monkeypatch, capsys):
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    assert cli.installed_commands() == {}
    for command in (["demo", "calendar"], ["bench", "locomo", "--help"]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert "engram-agents-demo" in err and "pip install" in err, err
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "install engram-agents-demo" in capsys.readouterr().out


def test_the_core_depends_on_none_of_it():
    """No module of engram_agents imports the demo, a framework or BM25, and the core's
    distribution requires none of them (they would make a loop: the integrations need it)."""
    banned = ("engram_agents_demo", "langchain", "llama_index", "rank_bm25", "matplotlib")
    for path in (ROOT / "engram_agents").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0].startswith(banned)], path
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = core.get("optional-dependencies", {}).values()
    needs = " ".join(core["dependencies"] + [d for extra in extras for d in extra])
    for dist in ("langchain", "llama-index", "rank-bm25", "matplotlib"):
        assert dist not in needs, dist


def demo_installed() -> bool:
    try:
        distribution("engram-agents-demo")
    except PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not demo_installed(), reason="engram-agents-demo is not installed")
def test_installed_commands_run_from_the_console_script():
    exe = shutil.which("engram-agents")
    assert exe
    for command in (["bench", "locomo"], ["demo"]):
        done = subprocess.run([exe, *command, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: engram-agents {' '.join(command)} ")


@pytest.mark.parametrize("script", ["calendar_agent.py", "coding_agent.py"])
def test_example_scripts_run_from_a_checkout(script):
    """`python examples/X.py` needs no installed entry point (the script names its command)."""
    done = subprocess.run(
        [sys.executable, f"examples/{script}", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: engram-agents demo")
    assert "default: rag hybrid" in " ".join(done.stdout.split())
