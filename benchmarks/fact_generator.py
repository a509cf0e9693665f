"""Personal- and coding-assistant facts, each with the question memorized and a reworded one.

    python benchmarks/fact_generator.py --facts 5    # print a sample, one JSON object a line

The reworded question is never trained on: it measures whether recall generalizes.
"""

import argparse
import itertools
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

# The templates and the values they are filled with are data: fact_templates.json beside this.
_TEMPLATES = json.loads((Path(__file__).parent / "fact_templates.json").read_text())
PROJECTS: list[str] = _TEMPLATES["projects"]
VALUES: dict[str, list[str]] = _TEMPLATES["values"]


@dataclass(frozen=True)
class GeneratedFact:
    question: str
    paraphrase: str
    answer: str


def generate_facts(n: int, seed: int = 0) -> list[GeneratedFact]:
    """n facts with distinct questions, mixing personal and coding templates."""
    rng = random.Random(seed)
    slots = [(t, a) for t in _TEMPLATES["personal"] for a in t["subjects"]]
    slots += [(t, p) for t in _TEMPLATES["coding"] for p in PROJECTS]
    if n > len(slots):
        raise ValueError(f"the generator has {len(slots)} distinct facts, asked for {n}")
    rng.shuffle(slots)
    out = []
    for t, a in itertools.islice(slots, n):
        fill = {k: rng.choice(v) for k, v in VALUES.items()}
        question, paraphrase = t["question"].format(a=a), t["paraphrase"].format(a=a)
        out.append(GeneratedFact(question, paraphrase, t["answer"].format(**fill)))
    return out


UNRELATED_PROMPTS = [
    "What is the capital of Japan?",
    "How do I boil an egg?",
    "Name three primary colors.",
    "What is 12 times 7?",
    "Write a haiku about autumn.",
    "Why is the sky blue?",
    "How many legs does a spider have?",
    "What is photosynthesis?",
    "Translate 'good morning' into Spanish.",
    "Who wrote Romeo and Juliet?",
    "Give me a tip for sleeping better.",
    "What is the boiling point of water?",
    "Explain what a noun is.",
    "What is the largest ocean on Earth?",
    "How do bees make honey?",
    "Suggest a name for a pet goldfish.",
    "What does a compass do?",
    "List two benefits of walking.",
    "What is a prime number?",
    "How do I make a paper airplane?",
    "What causes rain?",
    "Tell me a fun fact about owls.",
    "What is the opposite of 'ancient'?",
    "How many continents are there?",
    "What is the freezing point of water in Fahrenheit?",
    "Describe a rainbow.",
    "Why do leaves change color in the fall?",
    "What is gravity?",
    "How do I write a thank-you note?",
    "What is the tallest mountain in the world?",
    "Can you help me plan my weekend?",
    "What should I cook for dinner tonight?",
    "How can I improve my handwriting?",
    "What is a good stretching routine for my back?",
    "Recommend a book for a long train ride.",
    "How do I keep my houseplants alive?",
    "What is the difference between weather and climate?",
    "Explain recursion simply.",
    "What is a variable in programming?",
    "How do I reverse a list in Python?",
    "What does HTTP stand for?",
    "What is the speed of light?",
    "Who painted the Mona Lisa?",
    "How do volcanoes form?",
    "What is a haiku?",
    "How many days are in a leap year?",
    "What is the chemical symbol for gold?",
    "How do I tie a bowline knot?",
    "What is the main ingredient in guacamole?",
    "Why do cats purr?",
]

HELD_OUT_TEXT = (
    "The river wound slowly through the valley, past fields of wheat and small stone houses. "
    "In the early morning the mist rose from the water and the farmers walked out to check "
    "their crops. Children ran along the bank, throwing pebbles and watching the ripples "
    "spread. By noon the sun was high and the air smelled of cut grass. Markets in the nearby "
    "town opened their stalls, selling bread, cheese, apples and honey. Travelers stopped to "
    "rest under the old oak tree in the square, where a fountain had stood for two hundred "
    "years. In the evening, lamps were lit in the windows and the sound of music drifted from "
    "the inn. Software engineers often say that naming things is one of the hardest problems "
    "in computer science. A good name tells the reader what a function does without making "
    "them read its body. Tests that check real behavior catch regressions early, and small "
    "commits make reviews faster and history easier to follow."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=5, help="how many facts to print")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for fact in generate_facts(args.facts, args.seed):
        print(json.dumps(asdict(fact)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
