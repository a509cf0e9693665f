"""A turn that says "he" or "she" carries the names of whom its session named last, a few turns
before (store.referents): "He's a sound engineer" answers "What does Callum do?"."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.crypto import generate_key
from engram_agents.store.records import Engram, Scope
from engram_agents.store.referents import REACH, SessionNames, named
from engram_agents.store.sketch import engram_sketch, extract_sketch, names_of
from engram_agents_demo.bench import beam, locomo

DIALOGUE = [
    "Hannah: I met a guy called Callum from the team next door today.",
    "Fiona: Ooh! Tell me everything.",
    "Hannah: He's a sound engineer at one of the big theatres in town.",
    "Fiona: That sounds like a fun job for him.",
]


def _engram(text: str) -> Engram:
    engram = Engram(scope=Scope(user_id="u", session_id="s"), text=text)
    engram.sketch = engram_sketch(text, speaker=engram.speaker)
    return engram


def _referred(texts: list[str], earlier: list[str] = ()) -> list[set[str]]:
    names = SessionNames(_engram(t) for t in earlier)
    return [names.referred(_engram(t)) for t in texts]


def test_a_pronoun_refers_to_whom_the_session_named_last_not_to_a_speaker():
    assert named(_engram(DIALOGUE[0])) == {"name:callum"}  # Hannah speaks: not her own name
    assert _referred(DIALOGUE) == [set(), set(), {"name:callum"}, {"name:callum"}]
    # "Fiona: Ooh!" has no pronoun; nor does a turn that already names him
    assert _referred([DIALOGUE[0], "Fiona: Oh, I know Callum! He is nice."]) == [set(), set()]
    # a later name replaces the earlier one
    later = [DIALOGUE[0], "Fiona: My brother Tom met Priya at work.", "Hannah: Did she like it?"]
    assert _referred(later)[2] == {"name:tom", "name:priya"}


def test_a_family_name_is_meant_only_by_a_pronoun_that_agrees():
    mum = [DIALOGUE[0], "Gordon: Don't tell Mum yet."]
    # "he" skips "Mum" for the nearest name it can mean; "she" takes her
    assert _referred([*mum, "Hannah: He's a sound engineer."])[-1] == {"name:callum"}
    assert _referred([*mum, "Hannah: She'll find out."])[-1] == {"name:mum"}
    # "they", or both pronouns, can mean anyone
    assert _referred([*mum, "Hannah: They'll get on."])[-1] == {"name:mum"}
    assert _referred([*mum, "Hannah: He and her will get on."])[-1] == {"name:mum"}
    dad = ["Hannah: I asked Nadia round.", "Gordon: Ask Dad first."]
    assert _referred([*dad, "Hannah: She said yes."])[-1] == {"name:nadia"}
    # with no name a pronoun can mean within reach, none is taken
    assert _referred(["Gordon: Don't tell Mum yet.", "Hannah: He knows."])[-1] == set()


def test_a_pronoun_past_the_reach_refers_to_nobody():
    filler = ["Fiona: Ha, I know.", "Hannah: Right?"] * REACH
    got = _referred([DIALOGUE[0], *filler[: REACH - 1], "Hannah: He is lovely."])
    assert got[-1] == {"name:callum"}
    got = _referred([DIALOGUE[0], *filler[:REACH], "Hannah: He is lovely."])
    assert got[-1] == set()
    # the turns read before count the same as the batch's own
    got = _referred(["Hannah: He is lovely."], earlier=[DIALOGUE[0], *filler[: REACH - 1]])
    assert got == [{"name:callum"}]


def _tags(mem: EngramMemory, engrams: list[Engram]) -> list[set[str]]:
    return [{t for t in mem.get(e.id, "u").sketch if t.startswith("name:")} for e in engrams]


def test_one_at_a_time_and_in_one_batch_give_the_same_sketches(make_memory):
    batch, single = make_memory(), make_memory()
    together = batch.remember_many(DIALOGUE, "u", session_id="s1")
    alone = [single.remember(t, "u", session_id="s1") for t in DIALOGUE]
    expected = [
        {"name:hannah", "name:callum"},
        {"name:fiona"},
        {"name:hannah", "name:callum"},
        {"name:fiona", "name:callum"},
    ]
    assert _tags(batch, together) == expected
    assert _tags(single, alone) == expected


def test_other_sessions_and_turns_without_a_session_refer_to_nobody(tmp_path, hashing):
    mem = EngramMemory(tmp_path / "m.db", encoder=hashing)
    mem.remember(DIALOGUE[0], "u", session_id="s1")
    other = mem.remember(DIALOGUE[2], "u", session_id="s2")
    none = mem.remember_many(DIALOGUE[:3], "u")
    assert _tags(mem, [other, none[2]]) == [{"name:hannah"}, {"name:hannah"}]


def test_a_question_about_the_person_ranks_the_turn_that_says_he_higher(tmp_path, minilm):
    """Sessions on and off, with the context signal off (it also reads sessions): only the
    referred name differs."""
    turns = [
        *DIALOGUE,
        "Hannah: The theatre in town has a new musical on.",
        "Fiona: I saw a sound engineer fix the mics at the concert.",
        "Hannah: Callum said hi again.",
    ]
    cfg = StoreConfig(dense_floor=0, context_weight=0)
    ranks = []
    for session in ("s1", None):
        mem = EngramMemory(tmp_path / f"{session}.db", encoder=minilm, config=cfg)
        answer = mem.remember_many(turns, "u", session_id=session)[2]
        hits = mem.recall("What does Callum do for a living?", "u", k=len(turns))
        ranks.append(next(n for n, h in enumerate(hits) if h.engram.id == answer.id))
        assert ("name:callum" in hits[ranks[-1]].matched_tags) == (session is not None)
    assert ranks[0] < ranks[1]


def test_an_update_reads_the_turns_before_it_again(tmp_path, hashing):
    key = generate_key()  # names are read from the decrypted turns
    mem = EngramMemory(tmp_path / "m.db", encoder=hashing, encryption_key=key)
    stored = mem.remember_many(DIALOGUE, "u", session_id="s1")
    mem.update(stored[2].id, "u", metadata={"checked": True})
    assert _tags(mem, [stored[2]]) == [{"name:hannah", "name:callum"}]
    mem.update(stored[2].id, "u", text="Hannah: Honestly, he's a sound engineer.")
    assert _tags(mem, [stored[2]]) == [{"name:hannah", "name:callum"}]
    mem.update(stored[2].id, "u", text="Hannah: Sound engineering, at the big theatre.")
    assert _tags(mem, [stored[2]]) == [{"name:hannah"}]  # no pronoun left


@pytest.mark.parametrize("text", ["Hannah: They are great.", "Hannah: I like her style."])
def test_every_third_person_pronoun_refers(text):
    assert _referred([DIALOGUE[0], text])[1] == {"name:callum"}


def test_deleting_the_turn_that_named_someone_takes_the_name_out_of_the_turns_after(
    make_memory,
):
    mem = make_memory()
    stored = mem.remember_many(DIALOGUE, "u", session_id="s1")
    assert _tags(mem, stored[2:]) == [{"name:hannah", "name:callum"}, {"name:fiona", "name:callum"}]
    mem.delete(stored[0].id, "u")
    assert _tags(mem, stored[1:]) == [{"name:fiona"}, {"name:hannah"}, {"name:fiona"}]
    assert [e.id for e in mem.list("u")] == [e.id for e in stored[1:]]


def test_an_erased_name_leaves_no_byte_in_the_turns_after(tmp_path, hashing):
    path = tmp_path / "m.db"
    mem = EngramMemory(path, encoder=hashing)
    turns = ["Ana: My cousin Zarquon came to visit.", "Ana: He brought a cake."]
    first, second = mem.remember_many(turns, "u", session_id="s1")
    assert "name:zarquon" in mem.get(second.id, "u").sketch
    mem.delete(first.id, "u")
    on_disk = path.read_bytes() + (tmp_path / "m.db-wal").read_bytes()
    assert b"zarquon" not in on_disk.lower()
    assert mem.get(second.id, "u").sketch == engram_sketch(turns[1], speaker="Ana")


def test_resketch_gives_an_older_store_the_names_its_pronouns_refer_to(
    tmp_path, hashing, monkeypatch
):
    from engram_agents.store.migrate import resketch

    path = tmp_path / "m.db"
    monkeypatch.setattr(SessionNames, "referred", lambda self, engram: set())  # the old rules
    with EngramMemory(path, encoder=hashing) as mem:
        stored = mem.remember_many(DIALOGUE, "u", session_id="s1")
        assert "name:callum" not in mem.get(stored[2].id, "u").sketch
    monkeypatch.undo()
    assert resketch(path) == 2
    assert resketch(path) == 0
    with EngramMemory(path, encoder=hashing) as mem:
        assert _tags(mem, stored[2:]) == [
            {"name:hannah", "name:callum"},
            {"name:fiona", "name:callum"},
        ]


def test_after_a_delete_a_pronoun_may_take_the_name_said_before_the_erased_turn(tmp_path, hashing):
    mem = EngramMemory(tmp_path / "m.db", encoder=hashing)
    turns = [
        "Ana: I had lunch with my brother Tom.",
        "Ben: Nice.",
        "Ana: Then I met a guy called Callum.",
        "Ben: Oh?",
        "Ana: He works in a theatre.",
    ]
    stored = mem.remember_many(turns, "u", session_id="s1")
    assert "name:callum" in mem.get(stored[4].id, "u").sketch
    mem.update(stored[0].id, "u", metadata={"seen": True})  # the links are rebuilt after it
    mem.delete(stored[2].id, "u")
    got = mem.get(stored[4].id, "u").sketch
    assert "name:callum" not in got and "name:tom" in got  # as if Callum was never mentioned
    later = mem.remember("Ben: Is he nice?", "u", session_id="s1")
    assert "name:tom" in later.sketch  # the chain still ends where it did


def test_names_of_reads_the_names_extract_sketch_gives():
    """The cheap scan the writer reads earlier turns with finds exactly the sketch's names, on
    every turn of the project's LoCoMo-format and long-chat files and on the hard cases."""
    data = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
    conversations = [
        *locomo.conversations(data / "locomo_dev_a.json"),
        *beam.conversations(data / "beam_blind"),
    ]
    texts = [t["text"] for c in conversations for t in c.turns]
    texts += [
        "Wow, Melanie, that's lovely! I met [NAME] and Two Sisters at Café Nero’s.",
        "this guy on another team, Callum, who came over. Ten of us; Tom's and Ana’s dogs.",
    ]
    assert len(texts) > 800
    for text in texts:
        assert names_of(text) == {t for t in extract_sketch(text) if t.startswith("name:")}, text
