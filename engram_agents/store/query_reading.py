"""What a query asks for, read from its words: something to be done (a request, which the
speaker's standing preferences apply to), the asker's own things, what the assistant said, or a
kind of answer (a number, a time, a name). Recall reads each as a prior for the turns that
answer it (`FusionWeights.preference`, `first_person`, `second_person`, `answer_kind`)."""

from __future__ import annotations

import re

from engram_agents.store.sketch import REQUEST

# A query that asks for something to be done or decided rather than what was: it opens with a
# verb (no question word, subject or preposition before it), or asks someone to, or asks what
# to do.
_ASKS_TO_DO = re.compile(
    rf"{REQUEST}|\b(?:help me|should (?:i|we)|shall (?:i|we)|let's|i need|i want|i'd like)\b"
    r"|\bhow (?:do|can|could|would) (?:i|we)\b|\bwhat(?:'s| is) the best way\b"
    r"|\bdo you (?:suggest|recommend|think)\b|\bany (?:tips|ideas|advice|suggestions)\b",
    re.I,
)
# ... but asking for an account of what was ("Summarise the move", "List the trips in order",
# "Can you remind me when ...", "Adding up the bills, how much ...?") is a question about the
# past in a request's words.
_REPORTS_THE_PAST = re.compile(
    r"^\W*(?:(?:please|(?:can|could|would|will) you)\s+)?(?:summari[sz]e|sum up|add(?:ing)? up|"
    r"recap|list|remind|recount|order|sort|rank|put|tell|describe|name|walk me through|"
    r"give me (?:a|an|the) (?:summary|recap|list|timeline|rundown|overview|history))\b",
    re.I,
)
_NOT_A_VERB_FIRST = re.compile(
    r"^\W*(?:i|i'm|i've|i'd|my|we|our|you|your|he|she|it|they|the|this|that|there|a|an|if|on|in|"
    r"at|for|during|after|before|since|around|according|by|from|of|with|about|between|within|"
    r"over|until|roughly|approximately|exactly)\b"
    r"|^\W*(?:[\w'’]+[\s,]+){0,4}?(?:what|when|where|who|whom|whose|which|why|how|am|is|are|"
    r"was|were|do|does|did|has|have|had|can|could|would|will|should|might|may)\b",
    re.I,
)
# A last sentence that asks what is or was ("Dad's allowance started on a date. How did that
# relate to his stroke?"): the sentence before it set the scene, it did not give an order.
_ENDS_ASKING = re.compile(
    r"(?:^|[.!?]\s+)(?:what|when|where|who|which|why|how|am|is|are|was|were|do|does|did|has|"
    r"have|had)\b[^.!?]*\?\W*$",
    re.I,
)
# A query about the asker's own things: the first person singular, and no one else spoken to
# or included (`asks_about_self`). "US", the country, is not "us".
_ME = re.compile(r"\b(?:i|my|mine|me|myself)\b", re.I)
_YOU_OR_WE = re.compile(r"\b(?:(?i:you|your|yours|yourself|we|our|ours|ourselves|let[’']s)|us)\b")
# A question about what the assistant said, proposed or made (`asks_about_model`).
_YOUR_WORDS = re.compile(
    r"\byou(?:\s+\w+){0,2}?\s+(?:suggest|recommend|say|said|tell|told|propos|estimat|plan|warn|"
    r"advis|gave|give|wrote|write|draft|mention|call|name|use|set|pick|chose|choose)\w*|\byour\b",
    re.I,
)

# The kind of answer a question asks for, read from its first question word and the word after
# it (`asks_for`): "How many...", "What year..." and "Who..." ask for a kind; "What did..." none.
_QUESTION_WORD = re.compile(r"\b(who|whom|whose|where|when|how|what|which)\b(?:\W+(\w+))?", re.I)
_HOW_MUCH = frozenset("many much long old far often big tall".split())
_WHAT_TIME = frozenset("time date day days month months year years week weeks weekend".split())
_WHAT_NUMBER = frozenset("percentage percent number amount price cost score size age total".split())


def is_request(query: str) -> bool:
    """The query asks for something to be done ("Add a Supplier model", "Could you draft the
    letter?", "What should I pack?") rather than what was said or happened ("When is my
    talk?"): the speaker's standing preferences apply to it."""
    if _REPORTS_THE_PAST.match(query):
        return False
    if _ASKS_TO_DO.search(query):
        return True
    return not _NOT_A_VERB_FIRST.match(query) and not _ENDS_ASKING.search(query)


def asks_about_self(query: str) -> bool:
    """The query speaks of the asker in the first person singular and to no one else ("When is
    my talk?", "Summarise my running so far"), unlike "What did you suggest for my knee?" or
    "Where did we stay?": what people ask about their own lives, they told the assistant
    themselves, so the user's turns of a chat answer it (`FusionWeights.first_person`)."""
    return bool(_ME.search(query)) and not _YOU_OR_WE.search(query)


def asks_about_model(query: str) -> bool:
    """The query asks what the assistant said, proposed or made ("What did you suggest for my
    knee?", "What was chapter 3 called in the structure you proposed?", "Which statuses did
    your query count?") and asks for nothing to be done ("Can you write the tests?" is a
    request): the assistant's turns of a chat answer it (`FusionWeights.second_person`)."""
    return _about_model(query, is_request(query))


def asks_for(query: str) -> str | None:
    """The kind of answer the query asks for, a key of `sketch.HOLDS`: "number" ("How many
    tickets...?", "What percentage...?"), "time" ("When did...?", "Which year...?") or "name"
    ("Who...?", "Where...?"); None for any other ("What did Ana bake?", "Why...?"). Read from
    its first question word only: "What did she do when it rained?" asks for no time."""
    match = _QUESTION_WORD.search(query)
    if not match:
        return None
    word, after = match[1].lower(), (match[2] or "").lower()
    if word in ("who", "whom", "whose", "where"):
        return "name"
    if word == "when":
        return "time"
    if word == "how":
        return "number" if after in _HOW_MUCH else None
    return "time" if after in _WHAT_TIME else "number" if after in _WHAT_NUMBER else None


def reading(query: str) -> tuple[bool, bool, bool, str | None]:
    """Whether the query is a request (`is_request`), asks about the asker's own things
    (`asks_about_self`) and asks what the assistant said (`asks_about_model`), the request
    read once for both that need it; and the kind of answer it asks for (`asks_for`)."""
    request = is_request(query)
    return request, asks_about_self(query), _about_model(query, request), asks_for(query)


def _about_model(query: str, request: bool) -> bool:
    return bool(_YOUR_WORDS.search(query)) and not request
