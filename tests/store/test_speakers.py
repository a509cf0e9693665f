"""A question that names a person is about that person's own turns: a named speaker's turn
carries their name as a tag, so it matches the question's name as a mention would; a name
spoken to ("Wow, Melanie, ...") is no such tag."""

from __future__ import annotations

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.sketch import engram_sketch, extract_sketch, stem

DIALOGUE = [
    "Melanie: We finally went camping up at the lake, the kids caught their first fish.",
    "Caroline: Wow, Melanie, that sounds so lovely!",
    "Melanie: I also signed up for a pottery class on Thursdays.",
    "Caroline: Thanks, Melanie, you always cheer me up.",
    "Caroline: I went to a support group yesterday, it was powerful.",
    "Caroline: Oh Melanie, I love that for you!",
    "Melanie: Thanks Caroline! It means a lot.",
    "Caroline: Have a great week, Melanie!",
]


def test_a_named_speakers_turn_carries_their_name_and_a_role_does_not():
    text = "Melanie: I painted a lake sunrise last year."
    assert "name:melanie" not in engram_sketch(text)  # a sentence start is no name by itself
    assert "name:melanie" in engram_sketch(text, speaker="Melanie")
    assert {"name:mary", "name:jo"} <= set(engram_sketch("Mary Jo: hi", speaker="Mary Jo"))
    for role in ("user", "assistant"):
        assert not any(t.startswith("name:") for t in engram_sketch(f"{role}: hi", speaker=role))


def test_a_question_naming_a_speaker_finds_their_statements_before_turns_addressing_them(
    tmp_path, hashing
):
    """The other speaker's replies ("Wow, Melanie, ...") mention the name; the named person's
    own turns, where the facts are, do not. Without the speaker's tag the name was rare, held
    only by those replies, and ranked them above her statements (3rd and 5th here)."""
    mem = EngramMemory(tmp_path / "m.db", encoder=hashing, config=StoreConfig(dense_floor=0))
    stored = mem.remember_many(DIALOGUE, "u", session_id="s1")
    hits = mem.recall("What has Melanie been up to lately?", "u", k=8)
    ids = [h.engram.id for h in hits]
    assert {stored[0].id, stored[2].id} <= set(ids[:3])  # camping, pottery
    assert all("name:melanie" in h.matched_tags for h in hits if h.engram.speaker == "Melanie")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Caroline: Wow, Melanie, what a beautiful moment!", False),
        ("Jon: Hey Gina! Congrats on the store.", False),
        ("Maria: That's awesome, John!", False),
        ("Yeah John, it's super important.", False),
        ("I met Melanie at the park.", True),
        ("Gina: Remember Jon, just do it!", True),
        ("What did Melanie paint?", True),
        ("Caroline: Thanks, Melanie, you always cheer me up.", False),
        ("Gina: Well, you know, Jon, it is hard.", False),
        # set off by commas after a longer clause: an apposition, a mention
        ("Gina: There's this new guy on my team, John, who fixed it.", True),
        ("I told my boss, Melanie, about the move.", True),
    ],
)
def test_a_name_spoken_to_is_not_a_name_tag(text, named):
    """Direct address names the listener, not whom the turn is about; the keyword stays."""
    name = next(w for w in ("melanie", "gina", "john", "jon") if w in text.lower().split(":")[-1])
    tags = extract_sketch(text)
    assert (f"name:{name}" in tags) is named
    assert f"kw:{stem(name)}" in tags


def test_resketch_gives_an_older_store_todays_tags_once(tmp_path, hashing, monkeypatch):
    """A store written before speaker tags gains them from `migrate.resketch`, audited; a second
    run changes nothing, and texts and recall's vectors are untouched."""
    from engram_agents.store import sketch
    from engram_agents.store.migrate import resketch

    path = tmp_path / "m.db"
    monkeypatch.setattr(sketch, "speaker_tag", lambda who: [])  # the rules before speaker tags
    with EngramMemory(path, encoder=hashing) as mem:
        mem.remember_many(DIALOGUE[:3], "friends", session_id="day-1")
        before = {e.id: e for e in mem.list("friends")}
    monkeypatch.undo()
    assert not any("name:melanie" in e.sketch for e in before.values())
    assert resketch(path) == 3  # each turn gains its speaker's name
    assert resketch(path) == 0
    with EngramMemory(path, encoder=hashing) as mem:
        after = {e.id: e for e in mem.list("friends")}
        assert mem.verify_audit() and mem.export("friends")  # the audit chain still holds
    assert {i for i, e in after.items() if "name:melanie" in e.sketch} == {
        i for i, e in before.items() if e.text.startswith("Melanie:")
    }
    assert [i for i, e in after.items() if "name:caroline" in e.sketch] == [
        i for i, e in before.items() if e.text.startswith("Caroline:")
    ]
    assert {i: e.text for i, e in after.items()} == {i: e.text for i, e in before.items()}
    with pytest.raises(InvalidInputError, match="no engram store"):
        resketch(tmp_path / "missing.db")
