import io
import subprocess
import sys

from engram_agents.cli import main


def test_chat_streams_replies_and_resets(tiny_dirs, monkeypatch, capsys):
    monkeypatch.setattr(
        sys, "stdin", io.StringIO("Hello there\n/reset\nAgain\n/exit\nnever read\n")
    )
    assert main(["chat", "--model", str(tiny_dirs["llama"]), "--max-new-tokens", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("engram-agents chat")
    assert len(out) == 3  # banner and one reply line per message before /exit


def test_chat_with_a_bad_model_path_names_it(tmp_path, capsys):
    assert main(["chat", "--model", str(tmp_path / "missing")]) == 2
    assert "Model folder not found" in capsys.readouterr().err


def test_console_script_is_installed():
    out = subprocess.run(["engram-agents", "--help"], capture_output=True, text=True, check=True)
    assert "chat" in out.stdout and "bench" in out.stdout
