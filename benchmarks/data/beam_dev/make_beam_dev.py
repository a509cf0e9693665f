"""Writes the BEAM-format development set: four long user–assistant chats (requests with the
user's facts inside them, code, long assistant answers) and their probing questions, under
`chats/dev/<n>/`. Deterministic; rerun after editing the scripts below:

    python benchmarks/data/beam_dev/make_beam_dev.py

Written by hand for this project (no BEAM text); a development set, not a tuning target."""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent

# Generic material an assistant pads long answers with; shared across chats on purpose, so
# long answers look alike and share vocabulary with every question.
ADVICE = [
    "Start small and verify each step before moving on; it is much easier to find a mistake "
    "when only one thing changed since the last time everything worked.",
    "Keep a short log of what you tried and what happened. Two weeks from now you will not "
    "remember why a setting has the value it has, and the log answers that in seconds.",
    "If something feels slow, measure before optimizing: the bottleneck is rarely where it "
    "seems to be, and a quick profile saves hours of guessing.",
    "Write down the assumptions you are making. Most plans fail at an assumption nobody "
    "noticed, not at the step everybody worried about.",
    "Automate the boring, repeated parts first. A script you run every day pays for itself "
    "long before the clever parts do.",
    "Review the plan once a week and adjust it; a plan that never changes is usually a plan "
    "nobody is following any more.",
    "Ask for feedback early. A rough version shown on day two beats a polished one that "
    "turns out to solve the wrong problem on day twenty.",
    "Keep backups of anything you cannot recreate, and test that you can actually restore "
    "from them; an untested backup is a hope, not a backup.",
]


def answer(lead: str, steps: list[str], code: str | None, rng: random.Random) -> str:
    """A long assistant reply: a lead, numbered steps, optional code, padded advice."""
    parts = [lead, ""]
    parts += [f"{i}. {step}" for i, step in enumerate(steps, 1)]
    if code:
        parts += ["", "Here is a version you can start from:", "", "```", code.strip(), "```"]
    parts += ["", "A few general points that help here:", ""]
    parts += [f"- {tip}" for tip in rng.sample(ADVICE, 7)]
    parts += ["", "Let me know how it goes and we can refine it from there."]
    return "\n".join(parts)


FLASK_ROUTE = """
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/preorders", methods=["POST"])
def create_preorder():
    data = request.get_json(force=True)
    item, pickup = data.get("item"), data.get("pickup_date")
    if not item or not pickup:
        return jsonify(error="item and pickup_date are required"), 400
    order_id = save_preorder(item, pickup, data.get("quantity", 1))
    return jsonify(id=order_id, item=item, pickup_date=pickup), 201
"""

SQL_MIGRATION = """
import os

import psycopg

DATABASE_URL = os.environ["DATABASE_URL"]

with psycopg.connect(DATABASE_URL) as conn:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS preorders ("
        " id SERIAL PRIMARY KEY, item TEXT NOT NULL, pickup_date DATE NOT NULL,"
        " quantity INTEGER NOT NULL DEFAULT 1)"
    )
"""

BUDGET_FORMULA = """
=SUMIFS(Transactions!C:C, Transactions!B:B, "Groceries", Transactions!A:A, ">="&DATE(2024,3,1))
=B2-SUM(C2:C9)                      # what is left this month
=IF(D2<0, "over budget", "on track")
"""

TRAINING_TABLE = """
| week | mon  | wed            | fri  | sat       |
|------|------|----------------|------|-----------|
| 1    | rest | 6 km easy      | rest | 10 km long|
| 2    | rest | 5 x 800 m      | rest | 12 km long|
| 3    | rest | 7 km tempo     | rest | 14 km long|
| 4    | rest | 6 km easy      | rest | 10 km easy|
"""

R_MIGRATION = """
library(dplyr)
library(ggplot2)

obs <- read.csv("ebird_storks_2015_2023.csv") |>
  filter(species == "White Stork") |>
  mutate(week = lubridate::isoweek(observation_date))

ggplot(obs, aes(week, latitude)) + geom_point(alpha = 0.2) + geom_smooth()
"""

PANDAS_MIGRATION = """
import pandas as pd

obs = pd.read_csv("ebird_storks_2015_2023.csv", parse_dates=["observation_date"])
storks = obs[obs["species"] == "White Stork"].copy()
storks["week"] = storks["observation_date"].dt.isocalendar().week
weekly = storks.groupby("week")["latitude"].median()
weekly.plot(title="Median latitude of White Stork sightings per week")
"""


# Requests without personal facts, as users send between the ones that matter; each chat gets
# a share of them (distractors that ask, like most real chat turns do).
FILLER = [
    ("What's the difference between a list and a tuple in Python?", "code"),
    ("Can you explain what a database index is and when it helps?", "code"),
    ("How do I undo the last git commit but keep the changes?", "code"),
    ("Explain async and await like I'm five.", "code"),
    ("What is a reasonable way to structure a small Python project?", "code"),
    ("Why does my regular expression match too much text?", "code"),
    ("How do environment variables work in a web app?", "code"),
    ("What are good habits for writing unit tests?", "code"),
    ("Can you explain how HTTP caching headers work?", "code"),
    ("What does a 502 Bad Gateway error usually mean?", "code"),
    ("How do I read a CSV file that has a weird encoding?", "code"),
    ("What's the best way to learn SQL joins?", "code"),
    ("How does compound interest work over ten years?", "money"),
    ("What is an index fund?", "money"),
    ("How do credit scores work in general?", "money"),
    ("Is it better to pay off debt or invest first?", "money"),
    ("What does inflation do to savings?", "money"),
    ("How do people usually split bills with roommates?", "money"),
    ("How long should a warm-up be before exercise?", "body"),
    ("What are the benefits of stretching after a workout?", "body"),
    ("How much water should an adult drink per day?", "body"),
    ("What's a simple core workout I can do at home?", "body"),
    ("How does sleep affect recovery?", "body"),
    ("Is it bad to exercise when you have a cold?", "body"),
    ("How do I write a clear email asking for feedback?", "work"),
    ("Can you suggest a structure for a short presentation?", "work"),
    ("What's the Pomodoro technique?", "work"),
    ("How do I say no to extra work politely?", "work"),
    ("What makes a good meeting agenda?", "work"),
    ("How do I summarize a long paper quickly?", "work"),
    ("Give me a quick recipe for a weeknight pasta.", "life"),
    ("How do I keep basil alive indoors?", "life"),
    ("What should I pack for a weekend city trip?", "life"),
    ("How do I get rid of condensation on windows?", "life"),
    ("Can you recommend a way to learn a new language faster?", "life"),
    ("What's a good way to start journaling?", "life"),
]

FILLER_CODE = {
    "code": "def example(values):\n    seen = set()\n    for value in values:\n"
    "        if value in seen:\n            continue\n        seen.add(value)\n"
    "        yield value",
}


def filler_answer(question: str, kind: str, rng: random.Random) -> str:
    steps = [
        f"First, be clear about what you want out of this: {question.rstrip('?.').lower()}.",
        "Then try the simplest approach that could work and check the result.",
        "Compare with one alternative so you know why you chose the first.",
        "Write down what you learned so the next time takes minutes.",
    ]
    return answer("Good question, here is an overview.", steps, FILLER_CODE.get(kind), rng)


def u(text: str) -> tuple[str, str]:
    return ("user", text)


def a(text: str) -> tuple[str, str]:
    return ("assistant", text)


def chats(rng: random.Random) -> list[dict]:
    """Each chat: batches of messages, and questions whose evidence names messages by label."""
    bakery = [
        [
            u(
                "Hi! I run a small bakery called Crumb & Co in Leeds with my sister Mara, and I'm "
                "building a Flask app so customers can pre-order sourdough. Can you help me add a "
                "route that accepts pre-orders?"
            ),
            a(
                answer(
                    "Happy to help with the pre-order route for Crumb & Co.",
                    [
                        "Create the Flask app object and a POST route for /preorders.",
                        "Validate the JSON body: item and pickup date are required.",
                        "Store the order and return its id with status 201.",
                        "Add a GET route later so Mara can see the day's orders.",
                    ],
                    FLASK_ROUTE,
                    rng,
                )
            ),
            u(
                "Thanks. Right now everything is stored in a SQLite file on my laptop, is that "
                "ok for a first version?"
            ),
            a(
                answer(
                    "SQLite is fine for a first version with one writer.",
                    [
                        "Keep the database file outside the code folder.",
                        "Open one connection per request and close it at teardown.",
                        "Plan the move to a server database before you deploy.",
                    ],
                    None,
                    rng,
                )
            ),
            u(
                "We bake only on Fridays and Saturdays, so pickup dates must be one of those two "
                "days. How do I check that in the route?"
            ),
            a(
                answer(
                    "You can check the weekday of the parsed pickup date.",
                    [
                        "Parse pickup_date with date.fromisoformat.",
                        "Reject it unless weekday() is 4 (Friday) or 5 (Saturday).",
                        "Return a 400 with a message that names the allowed days.",
                    ],
                    "from datetime import date\n\nday = date.fromisoformat(pickup)\n"
                    "if day.weekday() not in (4, 5):\n"
                    "    return jsonify(error='pickups are on Fridays and Saturdays'), 400",
                    rng,
                )
            ),
        ],
        [
            u(
                "Quick update: we decided to move from SQLite to PostgreSQL because Mara wants to "
                "check orders from the shop's tablet too. Could you write the table migration?"
            ),
            a(
                answer(
                    "Here is a migration for PostgreSQL with psycopg.",
                    [
                        "Read the connection string from the DATABASE_URL environment variable.",
                        "Create the preorders table if it does not exist.",
                        "Run it once at deploy time, not on every request.",
                    ],
                    SQL_MIGRATION,
                    rng,
                )
            ),
            u("What's the difference between SERIAL and IDENTITY columns in Postgres?"),
            a(
                answer(
                    "Both give you auto-incrementing integers; IDENTITY is the SQL-standard way.",
                    [
                        "SERIAL creates a sequence and a default behind the scenes.",
                        "IDENTITY columns are part of the column definition and easier to manage.",
                        "For a new table, GENERATED ALWAYS AS IDENTITY is the modern choice.",
                    ],
                    None,
                    rng,
                )
            ),
            u(
                "I'm planning to host it on Render, the free tier, since the budget is basically "
                "zero until Easter. Will the free tier sleep and lose orders?"
            ),
            a(
                answer(
                    "The free tier sleeps when idle, but it does not lose stored orders.",
                    [
                        "The web service spins down when idle and wakes on the next request.",
                        "Data lives in the database, which does not sleep with the web service.",
                        "Expect the first request after a pause to take several seconds.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
        [
            u(
                "The Easter rush starts on March 28th, so I need pre-orders live a week before "
                "that. Can you give me a checklist for launch day?"
            ),
            a(
                answer(
                    "Here is a launch checklist for the pre-order site.",
                    [
                        "Run the migration against the production database.",
                        "Place one test order for each bake day and delete it.",
                        "Check the confirmation email reaches a real inbox.",
                        "Print the day's orders for the shop in case the tablet fails.",
                    ],
                    None,
                    rng,
                )
            ),
            u(
                "Also, hot cross buns should be orderable only during Easter week, everything else "
                "all year. How would you model seasonal items?"
            ),
            a(
                answer(
                    "Give each item an optional availability window.",
                    [
                        "Add available_from and available_until columns to the items table.",
                        "Filter the menu by today's date when rendering it.",
                        "Validate the pickup date against the item's window in the route.",
                    ],
                    "SELECT name FROM items\nWHERE (available_from IS NULL OR available_from "
                    "<= %s)\n  AND (available_until IS NULL OR available_until >= %s);",
                    rng,
                )
            ),
        ],
    ]
    bakery_q = {
        "information_extraction": [
            ("What is the name of my bakery?", [(0, 0)]),
            ("Which days of the week do we bake?", [(0, 4)]),
        ],
        "knowledge_update": [
            ("Which database does the pre-order app use now?", [(1, 0)]),
        ],
        "multi_session_reasoning": [
            (
                "Who wanted to check orders from the shop's tablet, and what did that change "
                "in the app?",
                [(0, 0), (1, 0)],
            ),
        ],
        "temporal_reasoning": [
            ("When does the Easter rush start, and by when should pre-orders be live?", [(2, 0)]),
        ],
        "instruction_following": [
            ("Where am I going to host the app, and why that plan?", [(1, 4)]),
        ],
        "event_ordering": [
            (
                "Which did we handle first: seasonal hot cross buns or the pickup-day check?",
                [(0, 4), (2, 2)],
            ),
        ],
        "abstention": [("What oven brand does the bakery use?", [])],
    }

    budget = [
        [
            u(
                "I just started a new job as a nurse in Porto and take home 2,150 euros a month. "
                "Can you help me set up a monthly budget in Google Sheets?"
            ),
            a(
                answer(
                    "Let's set up a simple budget sheet.",
                    [
                        "One tab for transactions: date, category, amount, note.",
                        "One tab for the monthly plan: category, planned, spent, left.",
                        "Use SUMIFS to total each category for the current month.",
                    ],
                    BUDGET_FORMULA,
                    rng,
                )
            ),
            u(
                "My rent is 780 euros and I still pay 160 a month on my student loan. How much "
                "should I aim to save?"
            ),
            a(
                answer(
                    "With rent and the loan fixed, a savings target of 15 to 20 percent is "
                    "realistic.",
                    [
                        "Fixed costs: 780 rent plus 160 loan is 940 euros.",
                        "That leaves 1,210 for everything else.",
                        "Aim for 350 to 400 euros of savings, automated on payday.",
                    ],
                    None,
                    rng,
                )
            ),
            u("What's a good way to categorize transactions so the sheet stays readable?"),
            a(
                answer(
                    "Keep the categories few and stable.",
                    [
                        "Housing, groceries, transport, health, fun, savings, other.",
                        "Use a dropdown (data validation) so spelling stays consistent.",
                        "Review the 'other' category monthly and split it if it grows.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
        [
            u(
                "I want to buy a small apartment in Porto in about three years, so I'm saving for "
                "a 20 percent down payment. Could you help me work out the monthly amount?"
            ),
            a(
                answer(
                    "Let's work backwards from the down payment.",
                    [
                        "Estimate the price range you are looking at.",
                        "Take 20 percent of it plus about 7 percent for taxes and fees.",
                        "Divide by 36 months and compare with your current savings rate.",
                    ],
                    "=((Price*0.20)+(Price*0.07)-CurrentSavings)/36",
                    rng,
                )
            ),
            u("Should I keep the savings in a normal account or something else?"),
            a(
                answer(
                    "For a goal three years away, keep it safe and accessible.",
                    [
                        "A high-yield savings account or term deposits fit a three-year goal.",
                        "Avoid putting a down payment in stocks on such a short horizon.",
                        "Keep a separate emergency fund so you never raid the house money.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
        [
            u(
                "Change of plans: my partner Inês and I are moving in together, so the apartment "
                "goal is now a joint one and the down payment target went up to 45,000 euros. "
                "Can you redo the monthly amount?"
            ),
            a(
                answer(
                    "With a joint target of 45,000 euros over 36 months:",
                    [
                        "45,000 / 36 is 1,250 euros a month for the two of you.",
                        "Split it by income share rather than half-half if incomes differ.",
                        "Open a joint savings account just for the apartment.",
                    ],
                    None,
                    rng,
                )
            ),
            u("Which day of the month should the automatic transfer run?"),
            a(
                answer(
                    "Run it the day after payday.",
                    [
                        "Salary lands, the transfer runs the next morning.",
                        "You never see the money as spendable.",
                        "Adjust the date if payday moves.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
    ]
    budget_q = {
        "information_extraction": [
            ("How much do I take home each month?", [(0, 0)]),
            ("How much is my rent?", [(0, 2)]),
        ],
        "knowledge_update": [
            ("What is the down payment target for the apartment now?", [(2, 0)]),
        ],
        "multi_session_reasoning": [
            ("What are my fixed monthly costs, and what am I saving for?", [(0, 2), (1, 0)]),
        ],
        "preference_following": [
            ("Which spreadsheet tool do I keep my budget in?", [(0, 0)]),
        ],
        "summarization": [
            ("Summarize how my savings goal changed over time.", [(1, 0), (2, 0)]),
        ],
        "abstention": [("What car do I drive?", [])],
    }

    running = [
        [
            u(
                "I signed up for the Lisbon half marathon on October 13th. I'm 34, I run about "
                "15 km a week now, and I've never raced further than 10 km. Can you make me a "
                "training plan?"
            ),
            a(
                answer(
                    "Here is a first block for the half marathon.",
                    [
                        "Three runs a week: one easy, one quality session, one long run.",
                        "Grow the long run by 1 to 2 km a week, with an easier fourth week.",
                        "Add a short strength routine twice a week.",
                    ],
                    TRAINING_TABLE,
                    rng,
                )
            ),
            u(
                "I can only train in the mornings before work, around 6 am. Is that ok for the "
                "interval sessions?"
            ),
            a(
                answer(
                    "Morning intervals work if you warm up well.",
                    [
                        "Take 15 minutes of easy running before the first repeat.",
                        "Eat something small, like a banana, 30 minutes before.",
                        "Keep the hard days away from nights with little sleep.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
        [
            u(
                "My left knee has been aching after the long runs, on the outside of the knee. "
                "Could it be the IT band, and what should I change?"
            ),
            a(
                answer(
                    "Pain on the outside of the knee after long runs often points to the IT band.",
                    [
                        "Cut the long run back for a week and see if the ache settles.",
                        "Add hip strength work: side planks, clamshells, single-leg squats.",
                        "See a physiotherapist if it persists or hurts when walking.",
                    ],
                    None,
                    rng,
                )
            ),
            u("I'm vegetarian, what should I eat after a long run to recover?"),
            a(
                answer(
                    "A vegetarian recovery meal needs carbohydrates and about 20 g of protein.",
                    [
                        "Greek yoghurt with oats and fruit.",
                        "Lentil soup with bread.",
                        "Tofu scramble on toast, or a chickpea wrap.",
                    ],
                    None,
                    rng,
                )
            ),
            u("How do I pick running shoes? Mine have about 800 km on them."),
            a(
                answer(
                    "At 800 km it is time for new shoes.",
                    [
                        "Try shoes at the end of the day when your feet are largest.",
                        "Pick comfort over brand or looks.",
                        "Rotate two pairs if you run often.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
        [
            u(
                "New job hours mean mornings are gone, so from now on I'll train in the evenings "
                "after 7 pm. Can you adjust the plan?"
            ),
            a(
                answer(
                    "Evening training works well; here is the adjusted week.",
                    [
                        "Move the quality session to Wednesday evening.",
                        "Keep the long run on Saturday morning if you can.",
                        "Finish hard sessions at least two hours before bed.",
                    ],
                    None,
                    rng,
                )
            ),
            u("What pace should I aim for on race day if I want to finish under two hours?"),
            a(
                answer(
                    "Under two hours means about 5:41 per kilometre.",
                    [
                        "Start the first 5 km at 5:45 to settle in.",
                        "Hold 5:40 through the middle.",
                        "Pick it up after 17 km if you feel good.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
    ]
    running_q = {
        "information_extraction": [
            ("Which race am I training for, and when is it?", [(0, 0)]),
            ("What is my diet?", [(1, 2)]),
        ],
        "knowledge_update": [
            ("When in the day do I train now?", [(2, 0)]),
        ],
        "multi_session_reasoning": [
            ("What injury did I mention, and what did you suggest for it?", [(1, 0), (1, 1)]),
        ],
        "temporal_reasoning": [
            ("How many kilometres had my old shoes done when I asked about new ones?", [(1, 4)]),
        ],
        "instruction_following": [
            ("What finish time am I aiming for and what pace does it need?", [(2, 2), (2, 3)]),
        ],
        "abstention": [("What is my marathon personal best?", [])],
    }

    thesis = [
        [
            u(
                "I'm a master's student in ecology at Wageningen, writing my thesis on how White "
                "Stork migration timing changed between 2015 and 2023, using eBird data. My "
                "advisor is Dr. Okafor. Can you help me plot sightings per week in R?"
            ),
            a(
                answer(
                    "Here is a start in R with dplyr and ggplot2.",
                    [
                        "Read the eBird export and keep White Stork rows.",
                        "Compute the ISO week of each observation.",
                        "Plot latitude against week with a smoother.",
                    ],
                    R_MIGRATION,
                    rng,
                )
            ),
            u(
                "The eBird file is 4 GB and R runs out of memory on my laptop with 8 GB RAM. "
                "What can I do?"
            ),
            a(
                answer(
                    "A 4 GB file on 8 GB of RAM needs streaming or a smaller read.",
                    [
                        "Read only the needed columns.",
                        "Filter to the species while reading with data.table or arrow.",
                        "Convert the file to Parquet once and work from that.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
        [
            u(
                "Dr. Okafor suggested I switch to Python because the lab's pipeline is in pandas, "
                "so I'm moving the analysis over. Could you translate the weekly plot?"
            ),
            a(
                answer(
                    "Here is the same analysis in pandas.",
                    [
                        "Parse the observation date while reading.",
                        "Filter to White Stork and compute the ISO week.",
                        "Plot the median latitude per week.",
                    ],
                    PANDAS_MIGRATION,
                    rng,
                )
            ),
            u(
                "What statistical test should I use to check whether arrival dates got earlier "
                "over the years?"
            ),
            a(
                answer(
                    "A trend in arrival dates over years suggests a regression.",
                    [
                        "Define arrival as the date a threshold share of sightings is reached.",
                        "Regress arrival day of year on year.",
                        "Check residuals; consider a Mann-Kendall test as a robust alternative.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
        [
            u(
                "My thesis is due on June 30th and I still have to write the methods and results "
                "chapters. Can you help me plan the next weeks?"
            ),
            a(
                answer(
                    "Let's plan backwards from June 30th.",
                    [
                        "Finish the analysis and freeze the figures first.",
                        "Write methods while the analysis is fresh.",
                        "Send a full draft to your advisor three weeks before the deadline.",
                    ],
                    None,
                    rng,
                )
            ),
            u("How should I cite eBird data properly?"),
            a(
                answer(
                    "eBird asks for a specific citation that includes the download date.",
                    [
                        "Cite the eBird Basic Dataset with its version and release date.",
                        "Name the date you downloaded it.",
                        "Mention the Cornell Lab of Ornithology as the source.",
                    ],
                    None,
                    rng,
                )
            ),
        ],
    ]
    thesis_q = {
        "information_extraction": [
            ("Which bird species is my thesis about?", [(0, 0)]),
            ("How much RAM does my laptop have?", [(0, 2)]),
        ],
        "knowledge_update": [
            ("Which programming language am I using for the analysis now?", [(1, 0)]),
        ],
        "multi_session_reasoning": [
            ("Who is my advisor, and what change did they suggest?", [(0, 0), (1, 0)]),
        ],
        "temporal_reasoning": [
            ("When is my thesis due?", [(2, 0)]),
        ],
        "contradiction_resolution": [
            ("Did I do the weekly sightings plot in R or in Python?", [(0, 0), (1, 0)]),
        ],
        "abstention": [("What grade did I get on the thesis?", [])],
    }
    return [
        {"batches": bakery, "questions": bakery_q},
        {"batches": budget, "questions": budget_q},
        {"batches": running, "questions": running_q},
        {"batches": thesis, "questions": thesis_q},
    ]


def write(root: Path) -> None:
    rng = random.Random(20)
    for n, chat in enumerate(chats(rng), 1):
        for messages in chat["batches"]:
            # fillers after the batch's own exchanges, so message labels stay as written
            for question, kind in rng.sample(FILLER, 12):
                messages += [u(question), a(filler_answer(question, kind, rng))]
        folder = root / "chats" / "dev" / str(n)
        (folder / "probing_questions").mkdir(parents=True, exist_ok=True)
        ids: dict[tuple[int, int], int] = {}
        batches, next_id = [], 0
        for b, messages in enumerate(chat["batches"]):
            turns = []
            for m in range(0, len(messages), 2):
                pair = []
                for j, (role, content) in enumerate(messages[m : m + 2]):
                    ids[(b, m + j)] = next_id
                    pair.append(
                        {
                            "role": role,
                            "id": next_id,
                            "content": content,
                            "time_anchor": f"April-{b * 9 + 1:02d}-2024",
                        }
                    )
                    next_id += 1
                turns.append(pair)
            batches.append({"batch_number": b + 1, "turns": turns})
        probing = {
            kind: [
                {
                    "question": q,
                    "answer": "",
                    "source_chat_ids": {
                        "first": [ids[e] for e in evidence[:1]],
                        "rest": [ids[e] for e in evidence[1:]],
                    }
                    if len(evidence) > 1
                    else [ids[e] for e in evidence],
                }
                for q, evidence in items
            ]
            for kind, items in chat["questions"].items()
        }
        (folder / "chat.json").write_text(json.dumps(batches, indent=1, ensure_ascii=False))
        (folder / "probing_questions" / "probing_questions.json").write_text(
            json.dumps(probing, indent=1, ensure_ascii=False)
        )


if __name__ == "__main__":
    write(HERE)
