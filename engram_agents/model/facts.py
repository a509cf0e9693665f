"""Facts to memorize, and the chat-formatted training pairs each one turns into."""

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from engram_agents.errors import InvalidInputError
from engram_agents.model.compression import canonical_form

_COPULA = re.compile(
    r"^(?P<subj>.+?)\s+(?P<verb>is|are|was|were|will be|has been)\s+(?P<pred>.+?)[.!]*$", re.I
)
_PERSON = {"my": "your", "i": "you", "me": "you", "mine": "yours", "am": "are", "i'm": "you're"}
_WORDS = re.compile(r"[\w']+")

# Framings around the question: they teach the memory to fire on the fact's content words
# whatever surrounds them. Their own words never get table rows (only the fact's N-grams do).
WRAPPERS = (
    "{q}",
    "Quick question: {q}",
    "{q} Thanks!",
    "Hey, {q_lower}",
    "Can you tell me this: {q}",
    "I forgot. {q}",
    "{phrase}?",
    "What about {phrase}?",
)


def second_person(text: str) -> str:
    return _WORDS.sub(lambda m: _PERSON.get(m.group(0).lower(), m.group(0)), text)


class Fact(BaseModel):
    """A question with its answer, a statement, or both."""

    model_config = ConfigDict(frozen=True)

    question: str | None = None
    answer: str | None = None
    statement: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "Fact":
        for name in ("question", "answer", "statement"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v.strip()):
                raise ValueError(f"fact {name} must be a non-empty string")
        if self.statement is None and (self.question is None or self.answer is None):
            raise ValueError("a fact needs a statement, or both a question and an answer")
        return self

    @classmethod
    def coerce(cls, item: Any) -> "Fact":
        """Accept a Fact, a statement string, a (question, answer) pair or a dict."""
        try:
            if isinstance(item, Fact):
                return item
            if isinstance(item, str):
                return cls(statement=item)
            if isinstance(item, tuple | list) and len(item) == 2:
                return cls(question=item[0], answer=item[1])
            if isinstance(item, dict):
                return cls(**item)
        except ValueError as e:
            raise InvalidInputError(f"invalid fact {item!r}: {e}") from e
        raise InvalidInputError(
            f"a fact must be a string, a (question, answer) pair, a dict or a Fact, got {item!r}"
        )

    def qa(self) -> tuple[str, str]:
        """The question and answer, derived from the statement when not given."""
        if self.question and self.answer:
            return self.question.strip(), self.answer.strip()
        s = self.statement.strip()
        m = _COPULA.match(s)
        if m and content_phrase(m.group("subj")):
            subj = m.group("subj")
            verb = "are" if m.group("verb").lower() in ("are", "were") else "is"
            return f"What {verb} {subj[0].lower() + subj[1:]}?", second_person(s)
        return f"What do you know about {content_phrase(s, limit=4)}?", second_person(s)

    def identity(self) -> str:
        """What `forget` matches on: the question, else the statement, case-folded."""
        return " ".join((self.question or self.statement or "").lower().split())


def content_phrase(text: str, limit: int | None = None) -> str:
    """The content words of a text in their original spelling ("my dentist appointment" ->
    "dentist appointment")."""
    words = [w for w in _WORDS.findall(text) if canonical_form(w)]
    return " ".join(words[:limit] if limit else words)


def training_pairs(fact: Fact) -> list[tuple[str, str]]:
    """(user prompt, assistant answer) pairs for one fact."""
    q, a = fact.qa()
    phrase = content_phrase(q) or q.rstrip("?")
    fields = {"q": q, "q_lower": q[0].lower() + q[1:], "phrase": phrase}
    pairs = [(w.format(**fields), a) for w in WRAPPERS]
    if fact.statement:
        pairs.append((f"What do you know about {phrase}?", second_person(fact.statement)))
    return pairs
