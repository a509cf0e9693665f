"""The `engram-agents` command line."""

import argparse
import importlib
import sys
from collections.abc import Sequence

BENCHMARKS = {"beam": "engram_agents.bench.beam", "locomo": "engram_agents.bench.locomo"}


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


def _bench(args: argparse.Namespace, rest: list[str]) -> int:
    module = importlib.import_module(BENCHMARKS[args.name])
    return module.cli(rest)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engram-agents", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="interactive chat with the local Engram model")
    chat.add_argument("--model", help="a local Hugging Face model folder (default: embedded)")
    chat.add_argument("--user", help="load this user's memorized facts")
    chat.add_argument("--system", help="a system prompt")
    chat.add_argument("--max-new-tokens", type=int, default=256)
    chat.add_argument("--temperature", type=float, default=0.0)
    from engram_agents.demo.cli import add_parser as add_demo

    add_demo(sub)
    bench = sub.add_parser("bench", help="run a benchmark (its own options follow its name)")
    bench.add_argument("name", choices=sorted(BENCHMARKS))
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        return _bench(args, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    from engram_agents.errors import EngramError

    try:
        if args.command == "demo":
            from engram_agents.demo.cli import run as demo

            return demo(args)
        return _chat(args)
    except (EngramError, KeyboardInterrupt, EOFError) as e:
        if isinstance(e, EngramError):
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
