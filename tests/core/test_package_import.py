"""`import engram_agents` stays light: torch and nltk load when a name that needs them is used,
so a command or a caller that needs neither does not wait seconds for them."""

from __future__ import annotations

import subprocess
import sys


def imported_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


def test_the_package_imports_without_torch_or_nltk():
    loaded = imported_after("import engram_agents\nfrom engram_agents import EngramConfig")
    assert "engram_agents" in loaded
    assert not {"torch", "nltk"} & loaded


def test_every_public_name_resolves_and_loads_what_it_needs():
    loaded = imported_after(
        "import engram_agents\nassert all(getattr(engram_agents, n) for n in engram_agents.__all__)"
    )
    assert {"torch", "engram_agents.lm", "engram_agents.memory"} <= loaded


def test_stems_are_snowballs_on_first_use():
    from engram_agents.text import stem

    assert [stem(w) for w in ("appointments", "running", "generously")] == [
        "appoint",
        "run",
        "generous",
    ]
