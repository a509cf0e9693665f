"""A coding assistant on one project over a week, with memory modes side by side.

The developer states conventions, decisions and their reasons, bugs and their fixes, where
things live and which commands to run; mid-week the formatter, the test command and the
default branch change. Each day starts with an empty context window.

    python examples/coding_agent.py                         # rag vs hybrid, LangChain agents
    python examples/coding_agent.py --framework llama-index --json

Same as `engram-agents demo coding`; the scenario is
engram_agents_demo/demo/scenarios/coding.json.
"""

import sys

from engram_agents.cli import main
from engram_agents_demo.demo.cli import add_parser

if __name__ == "__main__":
    raise SystemExit(main(["demo", "coding", *sys.argv[1:]], commands={"demo": add_parser}))
