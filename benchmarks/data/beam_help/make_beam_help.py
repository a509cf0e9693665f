"""Writes a second hand-written BEAM-format set, `chats/help/<n>/`: four user–assistant chats
(a clinic's reminder app, a cycling trip, a thesis, household money) where the user's facts
sit inside requests, the assistant answers at length (code, steps, background it repeats), and
some questions are about what the assistant said. Written for the project without BEAM text and
without looking at the store's signals, so the long-chat evidence is not only `beam_dev`.
Deterministic; rerun after editing:

    python benchmarks/data/beam_help/make_beam_help.py"""

from __future__ import annotations

import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "beam_dev"))
from make_beam_dev import write_layout  # noqa: E402

# Per chat, background an assistant keeps coming back to: its long answers look alike within a
# chat (as real ones do), not across chats.
BACKGROUND = {
    "clinic": [
        "Django keeps the data model, the admin and the scheduled work in one place, which "
        "suits a small clinic: the admin site is already a usable screen for the front desk, "
        "and a model change comes with a migration you can review before it reaches the data.",
        "Text messages cost money per segment, so keep reminders short: one segment is 160 "
        "plain characters, and a single emoji or accented letter switches the whole message to "
        "a 70-character encoding.",
        "Keep the phone numbers in E.164 form (+44 followed by the number without its leading "
        "zero); every SMS provider accepts it and it makes duplicates easy to spot.",
        "Log every message you send with the provider's message id and status. When an owner "
        "says they never got a reminder, that log is the only way to answer.",
        "Test with the provider's test credentials first; they accept the same requests but "
        "send nothing, so a loop bug does not text every client twice.",
        "Owners move and change numbers; an unsubscribe keyword (STOP) is required in the UK "
        "and it also keeps your sender reputation healthy.",
    ],
    "trip": [
        "The Danube cycle path (EuroVelo 6) is mostly flat and well signposted, but surfaces "
        "change from asphalt to gravel between villages, so tyres of 35 mm or wider are more "
        "comfortable than road tyres.",
        "Trains in Austria and Hungary take bicycles on most regional services with a bike "
        "ticket; long-distance trains need a reservation, which sells out in summer.",
        "Plan daily distances on the slowest day, not the average: headwind on an open river "
        "valley can halve your speed, and a day that is too long stops being a holiday.",
        "Carry some cash in forints for Hungary; small guesthouses and ferries along the river "
        "often take cards, but not always, and the machines are in the towns.",
        "Book the first and last nights and keep the middle flexible; the stretch between "
        "towns has enough guesthouses outside the August holidays.",
        "A simple daily check of chain, brakes and tyre pressure takes five minutes and "
        "prevents most of the stops you would otherwise make at the roadside.",
    ],
    "thesis": [
        "Land surface temperature from Landsat is not air temperature: it is the skin "
        "temperature of roofs, roads and fields at the moment of the overpass, around 10:30 "
        "local time, so state this limitation early in the methods chapter.",
        "Cloud masking decides more of the result than the retrieval formula; use the QA_PIXEL "
        "band's cloud and cloud-shadow bits and keep a record of how many scenes each step "
        "removes.",
        "Examiners look for a clear line from the research question to each figure; a figure "
        "that answers no question belongs in an appendix.",
        "Keep the processing in scripts, not in clicks: a script can be rerun when the study "
        "area or the date range changes, and it documents the method for the appendix.",
        "Compare seasons separately. The monsoon changes vegetation and soil moisture so much "
        "that a single annual mean hides the pattern you are looking for.",
        "Write the limitations as you go; by the end you will have forgotten which choices "
        "were compromises and why you made them.",
    ],
    "money": [
        "A budget that survives is one you can keep in ten minutes a week: categories you "
        "actually use, and one number to look at, the amount left this month.",
        "Cash you will need within a few years belongs in savings, not shares: a fall of 20 "
        "percent in the year you need the deposit would delay the purchase by years.",
        "Interest on savings is taxable above the personal savings allowance, which is one "
        "reason to fill tax-free accounts first.",
        "Automate the saving on payday with a standing order; money that is moved before you "
        "see it is not missed, and the habit does not depend on willpower.",
        "Check your credit file before you apply for a mortgage; a wrong address or an old "
        "phone contract in arrears is easy to fix months ahead and hard to fix in a week.",
        "Keep an emergency fund of three months of essential spending separate from the "
        "deposit savings, or the first broken boiler eats into the deposit.",
    ],
}


# Cautions an assistant adds to any long answer, across chats.
CAUTIONS = [
    "Change one thing at a time. When two changes go in together and something breaks, you "
    "cannot tell which one did it without undoing both.",
    "Keep the first version boring. The clever version is easier to write once the boring "
    "one works and you know where it actually falls short.",
    "Write the decision down with its date. Plans change, and a dated note tells you later "
    "which version of the plan a choice belonged to.",
    "Ask someone who has done it before for ten minutes of their time; most problems have "
    "a known answer that is hard to find and easy to tell.",
    "Leave slack in every estimate. Things take longer than planned far more often than "
    "they take less, and slack is cheaper than a rushed finish.",
    "Check the result against something you know independently, even roughly; a number "
    "that is off by ten times usually looks fine until someone compares it.",
    "Keep copies of anything that would be painful to recreate, in a second place, and try "
    "restoring one of them now and then.",
]


def answer(spec: dict, chat: str, rng: random.Random) -> str:
    """A long reply: a lead, numbered steps, optional code, then background for the chat."""
    parts = [spec["lead"], ""]
    parts += [f"{i}. {step}" for i, step in enumerate(spec.get("steps", []), 1)]
    if spec.get("code"):
        parts += ["", "```" + spec.get("lang", "python"), spec["code"].strip(), "```"]
    parts += ["", "Some background that matters here:", ""]
    parts += rng.sample(BACKGROUND[chat], 5)
    parts += ["", "Things to watch for:", ""]
    parts += [f"- {caution}" for caution in rng.sample(CAUTIONS, 3)]
    parts += ["", spec.get("close", "Tell me what you decide and we can take the next step.")]
    return "\n".join(parts)


# Requests without personal facts, with the topic they come up in; each gets a long answer.
FILLER = {
    "clinic": [
        "What is the difference between a ForeignKey and a ManyToManyField in Django?",
        "How do I write a Django management command?",
        "Why do people say not to store secrets in settings.py?",
        "How do database transactions work in Django?",
        "What does select_related do?",
        "How should I name Django apps?",
        "What is a good way to test a view that sends an email?",
        "How do time zones work in Django?",
    ],
    "trip": [
        "How do I fix a puncture on the road?",
        "What is a good daily distance for a touring beginner?",
        "Are panniers better than a backpack for touring?",
        "How do I keep a phone charged on a bike trip?",
        "What should be in a basic bike repair kit?",
        "How do I pack a bike for a train journey?",
        "What are the rules for cycling in Austria?",
        "How much water should I carry on a hot day of cycling?",
    ],
    "thesis": [
        "How do I write a good abstract?",
        "What is the difference between a literature review and related work?",
        "How do I cite a dataset properly?",
        "How do I make figures readable in a printed thesis?",
        "What is a reasonable way to organize a thesis folder?",
        "How do I deal with writer's block?",
        "What should a methods chapter contain?",
        "How do I prepare for a thesis defence?",
    ],
    "money": [
        "What is the difference between a fixed and a tracker mortgage?",
        "How does compound interest work?",
        "What is a stocks and shares ISA?",
        "How do I read a payslip?",
        "What are pension contributions and why do they matter?",
        "What is a credit score made of?",
        "How do I split rent fairly with a housemate?",
        "Should I overpay my student loan?",
    ],
}


def filler_answer(question: str, chat: str, rng: random.Random) -> str:
    subject = question.rstrip("?").removeprefix("How do I ").removeprefix("What is ").lower()
    spec = {
        "lead": f"Good question. In short, about {subject}:",
        "steps": [
            "Start from what you need it for, and look at the simplest option first.",
            "Try it on a small example and check that the result is what you expected.",
            "Write a note of the choice and the reason, so you do not redo the research.",
        ],
    }
    return answer(spec, chat, rng)


def _chat(key: str, batches: list[list], questions: dict) -> dict:
    return {"key": key, "batches": batches, "questions": questions}


U = "user"
CHATS = [
    _chat(
        "clinic",
        [
            [
                (
                    U,
                    "I'm a vet nurse at Harbour Vets in Falmouth and I'm building a small Django "
                    "app that texts owners when their pet's vaccination is due. Could you sketch "
                    "the models for pets, owners and vaccinations?",
                ),
                {
                    "lead": "Here is a starting data model for the reminder app.",
                    "steps": [
                        "An Owner with a name and a phone number.",
                        "A Pet that belongs to an Owner, with species and date of birth.",
                        "A VaccinationDue model: pet, vaccine name, due date and whether "
                        "the reminder was sent.",
                    ],
                    "code": """
from django.db import models


class Owner(models.Model):
    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=20)


class Pet(models.Model):
    owner = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="pets")
    name = models.CharField(max_length=60)
    species = models.CharField(max_length=30)
    born = models.DateField(null=True, blank=True)


class VaccinationDue(models.Model):
    pet = models.ForeignKey(Pet, on_delete=models.CASCADE)
    vaccine = models.CharField(max_length=60)
    due = models.DateField()
    reminded = models.BooleanField(default=False)
""",
                },
                (
                    U,
                    "We want the text to go out 14 days before the due date, and my boss "
                    "Dr Penrose insists we never text anyone before 9 in the morning. How should "
                    "I schedule that?",
                ),
                {
                    "lead": "Run one daily job at a fixed time and let it pick the due reminders.",
                    "steps": [
                        "Use a management command, send_reminders, that selects "
                        "VaccinationDue rows due in exactly 14 days and not yet reminded.",
                        "Run it from cron at 09:15 every day, after the 9 o'clock limit.",
                        "Mark each row reminded only after the provider accepts it.",
                    ],
                    "code": """
# crontab -e
15 9 * * * /srv/harbour/venv/bin/python /srv/harbour/manage.py send_reminders
""",
                    "lang": "bash",
                },
            ],
            [
                (
                    U,
                    "We signed up with Twilio for the texts. Our clinic sender name has to be "
                    "HARBOURVET. Can you write the sending function?",
                ),
                {
                    "lead": "Here is a sending function with Twilio's Python client.",
                    "steps": [
                        "Read the account SID and auth token from environment variables.",
                        "Send from the alphanumeric sender ID HARBOURVET.",
                        "Return the message SID so it can be logged.",
                    ],
                    "code": """
import os

from twilio.rest import Client

client = Client(os.environ["TWILIO_ACCOUNT_SID"], os.environ["TWILIO_AUTH_TOKEN"])


def send_reminder(phone: str, pet_name: str, vaccine: str, due: str) -> str:
    body = f"Harbour Vets: {pet_name} is due a {vaccine} vaccination on {due}. Reply STOP to stop."
    message = client.messages.create(to=phone, from_="HARBOURVET", body=body)
    return message.sid
""",
                },
                (
                    U,
                    "Most of our patients are cats, and cat owners ignore the first text. Could "
                    "we send a second reminder?",
                ),
                {
                    "lead": "Yes: add a second, shorter reminder a few days before the due date.",
                    "steps": [
                        "Add a second_reminded flag to VaccinationDue.",
                        "In send_reminders, also select rows due in 3 days that have "
                        "reminded=True and second_reminded=False.",
                        "Keep the second text under 160 characters.",
                    ],
                    "code": None,
                },
            ],
            [
                (
                    U,
                    "Change of plan: Dr Penrose thinks 14 days is too early, owners forget. "
                    "We'll send the first text 10 days before instead. What do I change?",
                ),
                {
                    "lead": "Only the number of days in the daily selection changes.",
                    "steps": [
                        "Replace the 14-day offset in send_reminders with a setting, "
                        "REMINDER_DAYS = 10.",
                        "Rows already reminded at 14 days stay as they are.",
                        "Run the command once by hand to check the new selection.",
                    ],
                    "code": """
from datetime import date, timedelta

from django.conf import settings

target = date.today() + timedelta(days=settings.REMINDER_DAYS)
due = VaccinationDue.objects.filter(due=target, reminded=False).select_related("pet__owner")
""",
                },
                (
                    U,
                    "The practice manager wants a weekly report of how many reminders failed. "
                    "Can you write the query?",
                ),
                {
                    "lead": "Count the failed messages of the last seven days from the log table.",
                    "steps": [
                        "Keep a ReminderLog row per message with its status.",
                        "Filter on status in failed or undelivered and the last 7 days.",
                        "Group by day for the report.",
                    ],
                    "code": """
SELECT date(sent_at) AS day, count(*) AS failed
FROM reminders_reminderlog
WHERE status IN ('failed', 'undelivered') AND sent_at >= date('now', '-7 days')
GROUP BY day ORDER BY day;
""",
                    "lang": "sql",
                },
            ],
        ],
        {
            "information_extraction": [
                (
                    "Where do I work and what is the clinic called?",
                    [[0, 0]],
                    "You're a vet nurse at Harbour Vets in Falmouth.",
                ),
                (
                    "What sender name do our reminder texts use?",
                    [[1, 0]],
                    "The texts go out from the sender name HARBOURVET, through Twilio.",
                ),
                (
                    "Which animals are most of our patients?",
                    [[1, 2]],
                    "Most of your patients are cats.",
                ),
            ],
            "knowledge_update": [
                (
                    "How many days before the due date does the first reminder go out?",
                    [[2, 0]],
                    "10 days before the due date; Dr Penrose found 14 days too early.",
                ),
            ],
            "assistant_recall": [
                (
                    "What time of day did you suggest running the reminder job from cron?",
                    [[0, 3]],
                    "At 09:15 every day, after the 9 o'clock limit.",
                ),
                (
                    "What was the model for due vaccinations called in your data model?",
                    [[0, 1]],
                    "VaccinationDue, with pet, vaccine, due date and a reminded flag.",
                ),
                (
                    "Which statuses did your failed-reminders query count?",
                    [[2, 3]],
                    "Messages with status failed or undelivered in the last 7 days.",
                ),
            ],
            "multi_session_reasoning": [
                (
                    "Who set the rules for when reminders may be sent, and what were they?",
                    [[0, 2], [2, 0]],
                    "Dr Penrose: no texts before 9 in the morning; first reminder 10 days before.",
                ),
            ],
        },
    ),
    _chat(
        "trip",
        [
            [
                (
                    U,
                    "My partner Jonas and I are cycling the Danube from Vienna to Budapest, "
                    "starting on June 3rd. We have eight days. Can you split the route into "
                    "daily stages?",
                ),
                {
                    "lead": "Eight days from Vienna to Budapest gives comfortable stages.",
                    "steps": [
                        "Day 1: Vienna to Hainburg, 50 km.",
                        "Day 2: Hainburg to Bratislava, 20 km, with a rest afternoon.",
                        "Day 3: Bratislava to Gyor, 80 km on the Slovak side.",
                        "Day 4: Gyor to Komarom, 45 km.",
                        "Day 5: Komarom to Esztergom, 55 km.",
                        "Day 6: Esztergom to Visegrad, 25 km, a short day for the castle.",
                        "Day 7: Visegrad to Szentendre, 25 km.",
                        "Day 8: Szentendre to Budapest, 20 km.",
                    ],
                },
                (
                    U,
                    "Jonas is coeliac, so he can't eat gluten at all. How do we handle food on "
                    "the way?",
                ),
                {
                    "lead": "Plan food ahead for the small towns and carry a reserve.",
                    "steps": [
                        "Carry a translated card in German, Slovak and Hungarian that "
                        "explains coeliac disease.",
                        "Shop in supermarkets in the bigger towns (Bratislava, Gyor) for "
                        "gluten-free bread and snacks.",
                        "Keep one day of gluten-free food in the panniers at all times.",
                    ],
                },
            ],
            [
                (
                    U,
                    "Our budget for the whole trip is 1,800 euros for both of us, not counting "
                    "the trains. Is that realistic?",
                ),
                {
                    "lead": "1,800 euros for two over eight days is realistic with guesthouses.",
                    "steps": [
                        "Guesthouses: about 90 euros a night for two, 630 for seven nights.",
                        "Food: about 60 euros a day for two, 480 in total.",
                        "E-bike rental, if you choose it: about 300 for two.",
                        "That leaves around 390 for ferries, museums and surprises.",
                    ],
                    "code": None,
                },
                (U, "We're renting e-bikes in Vienna. What spare parts should we carry?"),
                {
                    "lead": "Rental e-bikes come serviced, so carry what fixes a roadside stop.",
                    "steps": [
                        "Two inner tubes in the right size and a patch kit.",
                        "A spare derailleur hanger for the rental model; ask the shop.",
                        "A chain quick link and a multitool with a chain breaker.",
                        "The charger, and a plug adapter is not needed in either country.",
                    ],
                },
            ],
            [
                (
                    U,
                    "Bad news, Jonas can't get time off that week, so we moved the start to "
                    "June 10th. Does anything in the plan need to change?",
                ),
                {
                    "lead": "A week later changes little on the route itself.",
                    "steps": [
                        "Move the first and last guesthouse bookings by seven days.",
                        "Rebook the return train from Budapest for June 17th.",
                        "Check the Visegrad castle opening days for the new dates.",
                    ],
                },
                (
                    U,
                    "Can you write a tiny Python script that adds up our daily spending from a "
                    "CSV so we can see where the budget goes?",
                ),
                {
                    "lead": "Here is a script that totals spending by day and by category.",
                    "steps": [
                        "Keep a CSV with date, category and amount columns.",
                        "Run the script each evening.",
                    ],
                    "code": """
import csv
from collections import defaultdict

by_day, by_category = defaultdict(float), defaultdict(float)
with open("spending.csv", newline="") as f:
    for row in csv.DictReader(f):
        by_day[row["date"]] += float(row["amount"])
        by_category[row["category"]] += float(row["amount"])
for day, total in sorted(by_day.items()):
    print(day, round(total, 2))
print(dict(by_category))
""",
                },
            ],
        ],
        {
            "information_extraction": [
                ("Who am I doing the cycling trip with?", [[0, 0]], "With your partner Jonas."),
                (
                    "What is our total budget for the trip?",
                    [[1, 0]],
                    "1,800 euros for both of you, not counting the trains.",
                ),
                (
                    "What dietary restriction do we have to plan around?",
                    [[0, 2]],
                    "Jonas is coeliac, so no gluten at all.",
                ),
            ],
            "knowledge_update": [
                (
                    "What date does the Danube trip start?",
                    [[2, 0]],
                    "June 10th; it moved from June 3rd because Jonas couldn't get time off.",
                ),
            ],
            "assistant_recall": [
                (
                    "Which day did you plan as a short day for the castle?",
                    [[0, 1]],
                    "Day 6, Esztergom to Visegrad, 25 km.",
                ),
                (
                    "What spare part did you say to ask the rental shop about?",
                    [[1, 3]],
                    "A spare derailleur hanger for the rental model.",
                ),
                (
                    "How much did you estimate the guesthouses would cost in total?",
                    [[1, 1]],
                    "About 630 euros for seven nights, 90 a night for two.",
                ),
            ],
            "multi_session_reasoning": [
                (
                    "Where do we pick up the bikes and where does the ride end?",
                    [[1, 2], [0, 0]],
                    "You rent the e-bikes in Vienna and the ride ends in Budapest.",
                ),
            ],
        },
    ),
    _chat(
        "thesis",
        [
            [
                (
                    U,
                    "I'm doing a master's thesis on urban heat islands in Pune using Landsat 8 "
                    "thermal data, supervised by Prof. Kulkarni. Could you help me compute land "
                    "surface temperature in R?",
                ),
                {
                    "lead": "Here is the standard single-channel workflow in R with terra.",
                    "steps": [
                        "Convert band 10 digital numbers to top-of-atmosphere radiance.",
                        "Convert radiance to brightness temperature with K1 and K2.",
                        "Correct for emissivity estimated from NDVI.",
                    ],
                    "code": """
library(terra)
b10 <- rast("LC08_B10.TIF")
radiance <- 0.0003342 * b10 + 0.1
bt <- 1321.0789 / log(774.8853 / radiance + 1) - 273.15
ndvi <- (rast("LC08_B5.TIF") - rast("LC08_B4.TIF")) / (rast("LC08_B5.TIF") + rast("LC08_B4.TIF"))
pv <- ((ndvi - 0.2) / (0.5 - 0.2))^2
emissivity <- 0.004 * pv + 0.986
lst <- bt / (1 + (10.895e-6 * (bt + 273.15) / 1.4388e-2) * log(emissivity))
""",
                    "lang": "r",
                },
                (
                    U,
                    "My study period is 2014 to 2023, and I only want the pre-monsoon months, "
                    "March to May. How do I filter the scenes?",
                ),
                {
                    "lead": "Filter on the acquisition date in the scene metadata.",
                    "steps": [
                        "Read the DATE_ACQUIRED field from each MTL file.",
                        "Keep scenes with a month of 3, 4 or 5 and a year from 2014 to 2023.",
                        "Drop scenes whose cloud cover over Pune is above 20 percent.",
                    ],
                    "code": None,
                },
            ],
            [
                (
                    U,
                    "Prof. Kulkarni asked how I'll structure the thesis. Can you propose chapters?",
                ),
                {
                    "lead": "A five-chapter structure fits a remote sensing thesis well.",
                    "steps": [
                        "Chapter 1, Introduction: the heat island problem in Pune and the "
                        "research questions.",
                        "Chapter 2, Literature review: heat islands and thermal remote sensing.",
                        "Chapter 3, Data and methods: scenes, cloud masking, LST retrieval.",
                        "Chapter 4, Results: LST patterns and their change 2014-2023.",
                        "Chapter 5, Discussion and conclusions, with limitations.",
                    ],
                },
                (
                    U,
                    "My submission deadline is 15 March. I have about 11 weeks left. How should "
                    "I plan the writing?",
                ),
                {
                    "lead": "Eleven weeks is enough if processing finishes first.",
                    "steps": [
                        "Weeks 1-3: finish processing and all figures.",
                        "Weeks 4-6: write methods and results.",
                        "Weeks 7-8: introduction and literature review.",
                        "Weeks 9-10: discussion, then a full draft to your supervisor.",
                        "Week 11: corrections and formatting.",
                    ],
                },
            ],
            [
                (
                    U,
                    "Good news, the department extended my deadline to 2 April because of the "
                    "server outage. Can you adjust the plan?",
                ),
                {
                    "lead": "The extension adds about two and a half weeks.",
                    "steps": [
                        "Give the results chapter one more week.",
                        "Add a week for the supervisor's comments on the full draft.",
                        "Keep the last days free for printing and binding.",
                    ],
                },
                (
                    U,
                    "One examiner asked why I didn't use the split-window method. Can you "
                    "explain the difference in two paragraphs I can adapt?",
                ),
                {
                    "lead": "Here are two paragraphs on single-channel versus split-window.",
                    "steps": [
                        "Split-window methods use two thermal bands (10 and 11) to correct "
                        "for atmospheric water vapour from their difference.",
                        "Landsat 8 band 11 suffers from stray light, which USGS advises "
                        "against using for quantitative work, so the single-channel method "
                        "on band 10 is the safer choice for this study.",
                    ],
                },
            ],
        ],
        {
            "information_extraction": [
                (
                    "Which city is my thesis about?",
                    [[0, 0]],
                    "Pune: urban heat islands from Landsat 8 thermal data.",
                ),
                ("Who is my supervisor?", [[0, 0]], "Prof. Kulkarni."),
                (
                    "Which months of the year does my study use?",
                    [[0, 2]],
                    "The pre-monsoon months, March to May.",
                ),
            ],
            "knowledge_update": [
                (
                    "When is my thesis due?",
                    [[2, 0]],
                    "2 April, after the department extended it from 15 March.",
                ),
            ],
            "assistant_recall": [
                (
                    "What was chapter 3 called in the structure you proposed?",
                    [[1, 1]],
                    "Data and methods: scenes, cloud masking, LST retrieval.",
                ),
                (
                    "Why did you say band 11 should not be used?",
                    [[2, 3]],
                    "Band 11 suffers from stray light, and USGS advises against quantitative use.",
                ),
                ("Which R package did your LST code use?", [[0, 1]], "terra."),
            ],
            "multi_session_reasoning": [
                (
                    "What years does my study cover, and how many chapters will the thesis have?",
                    [[0, 2], [1, 1]],
                    "2014 to 2023, and five chapters.",
                ),
            ],
        },
    ),
    _chat(
        "money",
        [
            [
                (
                    U,
                    "I'm 29, I earn 42,000 pounds a year and I want to save a 30,000 pound "
                    "deposit for a flat in Manchester within four years. How much do I need to "
                    "put away each month?",
                ),
                {
                    "lead": "30,000 pounds in 48 months is 625 pounds a month before interest.",
                    "steps": [
                        "At about 4 percent interest you need roughly 575 a month.",
                        "A Lifetime ISA adds a 25 percent bonus on up to 4,000 a year.",
                        "With the bonus, about 480 a month of your own money is enough.",
                    ],
                },
                (
                    U,
                    "I'm already paying 850 a month in rent for a room in Salford. Could you "
                    "suggest a budget split?",
                ),
                {
                    "lead": "A 50/30/20 split is a reasonable start, adjusted for the deposit.",
                    "steps": [
                        "Needs (rent, bills, food, transport): about 50 percent.",
                        "Wants: about 20 percent while you save for the deposit.",
                        "Savings: about 30 percent, which covers the 575 a month.",
                    ],
                },
            ],
            [
                (
                    U,
                    "Can you write a Python script that sorts my bank's CSV export into "
                    "categories? My bank is Monzo.",
                ),
                {
                    "lead": "Here is a script that maps merchants to categories with keywords.",
                    "steps": [
                        "Export the CSV from the Monzo app.",
                        "Edit the KEYWORDS table to your own merchants.",
                        "Run it monthly and compare the totals with your budget.",
                    ],
                    "code": """
import csv
from collections import Counter

KEYWORDS = {"tesco": "food", "aldi": "food", "tfgm": "transport", "netflix": "wants"}
totals = Counter()
with open("monzo.csv", newline="") as f:
    for row in csv.DictReader(f):
        name = row["Name"].lower()
        category = next((c for k, c in KEYWORDS.items() if k in name), "other")
        totals[category] += -float(row["Amount"])
for category, amount in totals.most_common():
    print(f"{category:10} {amount:8.2f}")
""",
                },
                (
                    U,
                    "I also have 3,200 pounds left on my student loan, Plan 2. Should I pay it "
                    "off first?",
                ),
                {
                    "lead": "Usually not: Plan 2 loans are written off after 30 years.",
                    "steps": [
                        "Repayments are 9 percent of income above the threshold.",
                        "Many Plan 2 borrowers never repay in full, so overpaying is often "
                        "money lost.",
                        "Put the money towards the deposit instead.",
                    ],
                },
            ],
            [
                (
                    U,
                    "Great news, I got a raise to 46,000 from next month. Should I change the "
                    "plan?",
                ),
                {
                    "lead": "The raise lets you reach the deposit sooner.",
                    "steps": [
                        "After tax, the raise adds about 230 pounds a month.",
                        "Putting it all into savings brings the deposit about seven months closer.",
                        "Keep the Lifetime ISA contribution at its 4,000 a year limit.",
                    ],
                },
                (
                    U,
                    "My sister Hannah says I should buy with a friend to afford more. What are "
                    "the risks?",
                ),
                {
                    "lead": "Buying with a friend can work, with a written agreement.",
                    "steps": [
                        "Choose tenants in common so each share is defined.",
                        "Write a declaration of trust that says who paid what.",
                        "Agree what happens if one of you wants to sell.",
                    ],
                },
            ],
        ],
        {
            "information_extraction": [
                (
                    "How big a deposit am I saving for?",
                    [[0, 0]],
                    "30,000 pounds, for a flat in Manchester within four years.",
                ),
                (
                    "Where do I rent a room now and for how much?",
                    [[0, 2]],
                    "In Salford, for 850 a month.",
                ),
                ("Which bank do I use?", [[1, 0]], "Monzo."),
            ],
            "knowledge_update": [
                ("What is my salary?", [[2, 0]], "46,000 pounds after your raise (it was 42,000)."),
            ],
            "assistant_recall": [
                (
                    "How much did you say I need to save each month before interest?",
                    [[0, 1]],
                    "625 pounds a month, 30,000 over 48 months.",
                ),
                (
                    "What budget split did you suggest?",
                    [[0, 3]],
                    "A 50/30/20 split adjusted to 50 needs, 20 wants, 30 savings.",
                ),
                (
                    "What did you say about overpaying my student loan?",
                    [[1, 3]],
                    "Usually not: Plan 2 loans are written off after 30 years.",
                ),
            ],
            "multi_session_reasoning": [
                (
                    "Who suggested buying with a friend, and what city is the flat in?",
                    [[2, 2], [0, 0]],
                    "Your sister Hannah, and the flat is in Manchester.",
                ),
            ],
        },
    ),
]


def chats(rng: random.Random) -> list[dict]:
    """(role, text) batches with fillers after each batch's own exchanges."""
    out = []
    for chat in CHATS:
        batches = []
        for batch in chat["batches"]:
            messages = [
                ("user", turn[1])
                if isinstance(turn, tuple)
                else ("assistant", answer(turn, chat["key"], rng))
                for turn in batch
            ]
            for question in rng.sample(FILLER[chat["key"]], 6):
                messages += [
                    ("user", question),
                    ("assistant", filler_answer(question, chat["key"], rng)),
                ]
            batches.append(messages)
        questions = {
            kind: [(q, [tuple(e) for e in evidence], a) for q, evidence, a in items]
            for kind, items in chat["questions"].items()
        }
        out.append({"batches": batches, "questions": questions})
    return out


if __name__ == "__main__":
    write_layout(HERE, "help", chats(random.Random(27)))
