"""The `engram-agents` command line: `chat`, plus the commands other distributions add through
the `engram_agents.commands` entry-point group (`demo` and `bench` come with
engram-agents-demo). Each entry point is a function that adds its subparser and sets a
`handler(args) -> int` default; the core never imports those packages itself."""

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points

COMMANDS = "engram_agents.commands"
# Commands that other distributions provide, named so that a missing one says what to install.
ELSEWHERE = {"demo": "engram-agents-demo", "bench": "engram-agents-demo"}


def _chat(args: argparse.Namespace) -> int:
    from engram_agents import EngramLM

    lm = EngramLM.from_pretrained(args.model) if args.model else EngramLM.from_default()
    if args.user:
        lm.load_user(args.user)
    print("engram-agents chat: /reset clears the conversation, /exit quits.", flush=True)
    history: list[dict[str, str]] = []
    if args.system:
        history.append({"role": "system", "content": args.system})
    base = len(history)
    for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: input("> "), None):
        text = line.strip()
        if text in ("/exit", "/quit"):
            break
        if text == "/reset":
            del history[base:]
            continue
        if not text:
            continue
        history.append({"role": "user", "content": text})
        reply = []
        for piece in lm.stream(
            history, max_new_tokens=args.max_new_tokens, temperature=args.temperature
        ):
            print(piece, end="", flush=True)
            reply.append(piece)
        print(flush=True)
        history.append({"role": "assistant", "content": "".join(reply)})
    return 0


AddParser = Callable[[argparse._SubParsersAction], None]


def installed_commands() -> dict[str, AddParser]:
    """The subcommands installed distributions add (none when only the core is installed)."""
    return {ep.name: ep.load() for ep in entry_points(group=COMMANDS)}


def missing_command(name: str) -> str:
    dist = ELSEWHERE[name]
    return (
        f"`engram-agents {name}` comes with the {dist} distribution, which is not installed: "
        f"pip install {dist} (in a source checkout: pip install -e ./examples)"
    )


def main(argv: Sequence[str] | None = None, commands: Mapping[str, AddParser] | None = None) -> int:
    """Runs one command; `commands` replaces the installed ones (scripts of a source checkout)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = installed_commands() if commands is None else commands
    if argv and argv[0] in ELSEWHERE and argv[0] not in commands:
        print(f"error: {missing_command(argv[0])}", file=sys.stderr)
        return 2
    absent = [name for name in ELSEWHERE if name not in commands]
    parser = argparse.ArgumentParser(
        prog="engram-agents",
        description=__doc__.split(":")[0] + ".",
        epilog=f"{', '.join(absent)}: install {ELSEWHERE[absent[0]]}" if absent else None,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="interactive chat with the local Engram model")
    chat.add_argument("--model", help="a local Hugging Face model folder (default: embedded)")
    chat.add_argument("--user", help="load this user's memorized facts")
    chat.add_argument("--system", help="a system prompt")
    chat.add_argument("--max-new-tokens", type=int, default=256)
    chat.add_argument("--temperature", type=float, default=0.0)
    chat.set_defaults(handler=_chat)
    for add_parser in commands.values():
        add_parser(sub)
    args = parser.parse_args(argv)
    from engram_agents.errors import EngramError

    try:
        return args.handler(args)
    except (EngramError, KeyboardInterrupt, EOFError) as e:
        if isinstance(e, EngramError):
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
