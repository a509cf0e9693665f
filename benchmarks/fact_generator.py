"""Personal- and coding-assistant facts, each with the question memorized and a reworded one.

    python benchmarks/fact_generator.py --facts 5    # print a sample, one JSON object a line

The reworded question is never trained on: it measures whether recall generalizes.
"""

import argparse
import itertools
import json
import random
from dataclasses import asdict, dataclass

PERSONAL = [
    (
        "When is my {a} appointment?",
        "What time am I booked in with the {a}?",
        "{day} at {time}",
        [
            "dentist",
            "dermatologist",
            "physiotherapist",
            "optometrist",
            "accountant",
            "barber",
            "vet",
            "lawyer",
            "therapist",
            "orthodontist",
        ],
    ),
    (
        "What is my {a}'s name?",
        "What's the name of my {a}?",
        "{name}",
        [
            "sister",
            "brother",
            "manager",
            "landlord",
            "neighbor",
            "cousin",
            "nephew",
            "niece",
            "trainer",
            "mentor",
        ],
    ),
    (
        "Where did I put my {a}?",
        "Where are my {a} kept?",
        "{place}",
        [
            "passport",
            "spare keys",
            "headphones",
            "tax documents",
            "charger",
            "umbrella",
            "sunglasses",
            "library card",
        ],
    ),
    (
        "What is the wifi password at the {a}?",
        "What's the {a} wifi password?",
        "{code}",
        ["cabin", "office", "studio", "beach house", "gym", "lake house"],
    ),
    (
        "Which airline am I flying to {a}?",
        "What airline is my flight to {a} with?",
        "{airline}",
        ["Lisbon", "Osaka", "Denver", "Nairobi", "Oslo", "Santiago", "Dublin", "Hanoi"],
    ),
    (
        "When is my {a}'s birthday?",
        "What day was my {a} born?",
        "{date}",
        ["mother", "father", "grandmother", "godson", "stepdaughter", "aunt", "uncle", "boss"],
    ),
    (
        "Which restaurant is booked for the {a} dinner?",
        "Where are we eating for the {a}?",
        "{restaurant}",
        [
            "anniversary",
            "graduation",
            "retirement",
            "engagement",
            "farewell",
            "reunion",
            "promotion",
            "housewarming",
        ],
    ),
    (
        "What is my membership number at the {a}?",
        "Which member number do I have with the {a}?",
        "{member}",
        ["climbing gym", "library", "museum", "golf club", "co-op", "pool", "book club", "zoo"],
    ),
    (
        "What is my {a}'s favorite flower?",
        "Which flowers does my {a} like best?",
        "{flower}",
        ["wife", "husband", "partner", "daughter", "son", "grandfather", "godmother", "roommate"],
    ),
]
CODING = [
    (
        "Which test framework does the {a} project use?",
        "What do we run tests with in {a}?",
        "{framework}",
        None,
    ),
    (
        "Which database does the {a} service use?",
        "What database backs the {a} service?",
        "{database}",
        None,
    ),
    (
        "Where are the migrations in the {a} repo?",
        "In {a}, which folder holds the migrations?",
        "{path}",
        None,
    ),
    ("Who owns the {a} deploy pipeline?", "Who is responsible for deploying {a}?", "{name}", None),
    ("What command starts the {a} dev server?", "How do I run {a} locally?", "{command}", None),
    ("Which linter does the {a} codebase use?", "What do we lint {a} with?", "{linter}", None),
    (
        "Which branch does {a} release from?",
        "From what branch do {a} releases ship?",
        "{branch}",
        None,
    ),
    (
        "Where is the CI config for {a}?",
        "Which file sets up continuous integration for {a}?",
        "{ci}",
        None,
    ),
]
PROJECTS = [
    "Atlas",
    "Hermes",
    "Orion",
    "Ledger",
    "Phoenix",
    "Nimbus",
    "Quartz",
    "Zephyr",
    "Falcon",
    "Juniper",
    "Kestrel",
    "Mosaic",
    "Tundra",
    "Beacon",
    "Cobalt",
    "Sierra",
]
VALUES = {
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
    "time": ["9 am", "10:30 am", "noon", "2 pm", "3:15 pm", "4:45 pm", "6 pm"],
    "name": [
        "Priyanka",
        "Tomasz",
        "Ingrid",
        "Kwame",
        "Lucia",
        "Haruto",
        "Fatima",
        "Dmitri",
        "Beatriz",
        "Oluwaseun",
        "Marguerite",
        "Svetlana",
    ],
    "place": [
        "the blue box in the hall closet",
        "the top drawer of the desk",
        "the glovebox of the car",
        "the kitchen cabinet above the fridge",
        "the backpack's front pocket",
        "the shelf by the front door",
    ],
    "code": [
        "blue-otter-42",
        "maple-sky-17",
        "quiet-fjord-88",
        "amber-lynx-05",
        "copper-owl-63",
        "velvet-moth-29",
    ],
    "airline": ["KLM", "Qantas", "Lufthansa", "Emirates", "Aer Lingus", "Icelandair"],
    "date": ["3 March", "17 June", "29 August", "11 November", "2 January", "24 September"],
    "restaurant": ["Casa Lupita", "The Copper Kettle", "Sakura House", "Le Petit Zinc", "Mezze"],
    "linter": ["ruff", "ESLint", "golangci-lint", "RuboCop", "Clippy", "flake8"],
    "branch": ["main", "release/stable", "trunk", "prod", "deploy", "master"],
    "member": ["M-20417", "88-3190", "LB-5521", "A7731", "CO-0942", "P-6650"],
    "flower": ["peonies", "tulips", "sunflowers", "lilies", "orchids", "ranunculus"],
    "ci": [
        ".github/workflows/ci.yml",
        ".gitlab-ci.yml",
        "Jenkinsfile",
        ".circleci/config.yml",
        "buildkite/pipeline.yml",
    ],
    "framework": ["pytest", "Jest", "Vitest", "JUnit", "RSpec", "Go's testing package"],
    "database": ["PostgreSQL", "SQLite", "MongoDB", "Cassandra", "DynamoDB", "MariaDB"],
    "path": [
        "db/migrations",
        "src/schema/migrations",
        "infra/sql",
        "backend/alembic",
        "migrations/versions",
    ],
    "command": [
        "make dev",
        "npm run dev",
        "just serve",
        "docker compose up web",
        "poetry run serve",
        "cargo run --bin server",
    ],
}


@dataclass(frozen=True)
class GeneratedFact:
    question: str
    paraphrase: str
    answer: str


def generate_facts(n: int, seed: int = 0) -> list[GeneratedFact]:
    """n facts with distinct questions, mixing personal and coding templates."""
    rng = random.Random(seed)
    slots = [(t, a) for t in PERSONAL for a in t[3]]
    slots += [(t, p) for t in CODING for p in PROJECTS]
    if n > len(slots):
        raise ValueError(f"the generator has {len(slots)} distinct facts, asked for {n}")
    rng.shuffle(slots)
    out = []
    for (question, paraphrase, answer, _), a in itertools.islice(slots, n):
        fill = {k: rng.choice(v) for k, v in VALUES.items()}
        out.append(
            GeneratedFact(question.format(a=a), paraphrase.format(a=a), answer.format(**fill))
        )
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
