"""A calendar assistant used over a working week, with memory modes side by side.

Maya tells her assistant about appointments, recurring events, people and preferences; some of
it changes later in the week (an appointment moves, a meeting is cancelled). Every morning the
assistant starts with an empty context window and is asked about what she said on earlier days.

    python examples/calendar_agent.py                       # rag vs hybrid, LangChain agents
    python examples/calendar_agent.py --mode all            # every memory mode
    python examples/calendar_agent.py --framework llama-index --mode rag hybrid --json
    python examples/calendar_agent.py --model /models/Qwen2.5-1.5B-Instruct

Same as `engram-agents demo calendar`; the scenario is
engram_agents_demo/demo/scenarios/calendar.json.
"""

import sys

from engram_agents.cli import main
from engram_agents_demo.demo.cli import add_parser

if __name__ == "__main__":
    raise SystemExit(main(["demo", "calendar", *sys.argv[1:]], commands={"demo": add_parser}))
