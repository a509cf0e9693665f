"""EngramMemory (BaseMemory): short-term history plus recalled engrams, scoped by user."""

from __future__ import annotations

import pytest
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import ChatMessage, MockLLM, TextBlock
from llama_index.core.memory import ChatMemoryBuffer, Memory
from llamaindex_models import RecallingLLM
from pydantic import ValidationError

from engram_agents import EngramMemory as CoreMemory
from engram_agents.errors import InvalidInputError
from engram_agents.memory_context import HEADER
from llama_index.memory.engram import EngramMemory, RecalledTextBlock


def user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def bot(text: str) -> ChatMessage:
    return ChatMessage(role="assistant", content=text)


def texts(store: CoreMemory, user_id: str) -> list[str]:
    return sorted(e.text for e in store.list(user_id))


def test_put_remembers_user_messages_and_keeps_history(store):
    memory = EngramMemory.from_defaults("ana", store, session_id="s1")
    memory.put(user("I adopted a greyhound called Pixel"))
    memory.put(bot("Congratulations on adopting Pixel!"))

    assert texts(store, "ana") == ["user: I adopted a greyhound called Pixel"]
    assert [e.scope.session_id for e in store.list("ana")] == ["s1"]
    assert [m.content for m in memory.get_all()] == [
        "I adopted a greyhound called Pixel",
        "Congratulations on adopting Pixel!",
    ]
    # what the history already shows is not repeated as a memory
    assert memory.get() == memory.get_all()


def _two_sessions(store, **fields):
    first = EngramMemory.from_defaults("ana", store, session_id="s1")
    first.put_messages([user("I adopted a greyhound called Pixel"), bot("Lovely!")])
    first.put(user("My sister Priyanka lives in Lisbon"))
    later = EngramMemory.from_defaults("ana", store, session_id="s2", **fields)
    later.put(user("Which city does my sister live in?"))
    return later


def test_a_later_session_gets_the_memories_before_its_question(store):
    later = _two_sessions(store)
    (question,) = later.get()

    assert question.role == "user"
    recalled, asked_block = question.blocks  # the memories in a block of their own, first
    assert isinstance(recalled, RecalledTextBlock) and type(asked_block) is TextBlock
    block, asked = question.content.split("\n\n")
    assert block.startswith(HEADER) and asked == "Which city does my sister live in?"
    assert block.splitlines()[-1].endswith("user: My sister Priyanka lives in Lisbon")  # best last
    # input overrides the query; the stored history is not touched
    assert "greyhound" in later.get(input="what is my greyhound called?")[0].content
    assert [m.content for m in later.get_all()] == ["Which city does my sister live in?"]


def test_a_later_session_gets_the_memories_as_a_system_message(store):
    later = _two_sessions(store, placement="system")
    system, question = later.get()

    assert system.role == "system" and system.content.startswith(HEADER)
    assert system.content.splitlines()[-1].endswith("user: My sister Priyanka lives in Lisbon")
    assert question.content == "Which city does my sister live in?"
    assert [m.role for m in later.get_all()] == ["user"]
    with pytest.raises(ValueError, match="placement"):
        EngramMemory.from_defaults("ana", store, placement="footer")


def test_memories_go_first_in_a_user_message_of_several_blocks(store):
    EngramMemory.from_defaults("ana", store).put(user("My favourite tea is genmaicha"))
    memory = EngramMemory.from_defaults("ana", store)
    parts = [TextBlock(text="Which tea do I like?"), TextBlock(text="Be brief.")]
    memory.put(ChatMessage(role="user", blocks=parts))
    (question,) = memory.get()
    assert isinstance(question.blocks[0], RecalledTextBlock)
    assert question.blocks[0].text.startswith(HEADER) and "genmaicha" in question.blocks[0].text
    assert question.blocks[1:] == parts and memory.get_all()[0].blocks == parts


def test_memories_are_scoped_by_user(store):
    EngramMemory.from_defaults("ana", store).put(user("My locker code is 4471"))
    bob = EngramMemory.from_defaults("bob", store)
    bob.put(user("What is my locker code?"))
    assert [m.role for m in bob.get()] == ["user"]
    assert texts(store, "bob") == ["user: What is my locker code?"]


def test_memory_text_joins_a_leading_system_message_without_changing_it(store):
    EngramMemory.from_defaults("ana", store).put(user("My favourite tea is genmaicha"))
    memory = EngramMemory.from_defaults("ana", store, placement="system")
    memory.set([ChatMessage(role="system", content="Be brief."), user("Which tea do I like?")])

    system, _ = memory.get()
    assert system.content.startswith("Be brief.\n\n" + HEADER)
    assert "genmaicha" in system.content
    assert memory.get_all()[0].content == "Be brief."


def test_set_remembers_only_new_messages_and_reset_keeps_long_term(store):
    memory = EngramMemory.from_defaults("ana", store)
    memory.put(user("Standup moved to 9:30"))
    memory.set([*memory.get_all(), bot("Noted."), user("Tax forms are due Friday")])
    assert texts(store, "ana") == ["user: Standup moved to 9:30", "user: Tax forms are due Friday"]
    assert len(memory.get_all()) == 3
    assert store.list("ana")[0].stats.activations == 0  # set did not re-remember the first

    memory.reset()
    assert memory.get_all() == []
    assert len(store.list("ana")) == 2
    memory.put(user("When are the tax forms due?"))
    assert "Friday" in memory.get()[0].content


def test_remember_roles_k_and_min_score(store):
    memory = EngramMemory.from_defaults(
        "ana", store, remember_roles=["user", "assistant"], k=1, session_id="s1"
    )
    memory.put_messages([user("Book the dentist"), bot("Dentist booked for 5 June at 3 pm")])
    assert texts(store, "ana") == [
        "assistant: Dentist booked for 5 June at 3 pm",
        "user: Book the dentist",
    ]
    later = EngramMemory.from_defaults("ana", store, k=1)
    assert len(later.get(input="when is the dentist?")[0].content.splitlines()) == 2
    strict = EngramMemory.from_defaults("ana", store, min_score=1e9)
    assert strict.get(input="when is the dentist?") == []


def test_k_counts_memories_not_echoes_of_the_history(store):
    EngramMemory.from_defaults("ana", store).put(user("My passport expires in March 2027"))
    memory = EngramMemory.from_defaults("ana", store, k=1)
    memory.put(user("When does my passport expire?"))  # stored too, and its own best match
    (question,) = memory.get()
    assert question.content.split("\n\n")[0].splitlines()[1:] == [
        f"- [{store.list('ana')[0].when.date()}] user: My passport expires in March 2027"
    ]


async def test_async_twins(store):
    first = EngramMemory.from_defaults("ana", store)
    await first.aput(user("Our wifi network is called Gandalf"))
    await first.aput_messages([bot("Got it."), user("The router is in the hallway")])
    assert len(await first.aget_all()) == 3
    await first.areset()
    assert await first.aget_all() == []

    later = EngramMemory.from_defaults("ana", store)
    await later.aset([user("What is the wifi network called?")])
    (question,) = await later.aget()
    assert "Gandalf" in question.content
    assert len(store.list("ana")) == 3


def test_from_defaults_builds_the_store_and_short_term_memory(tmp_path, encoder):
    llm = MockLLM(max_tokens=8)
    memory = EngramMemory.from_defaults(
        "ana",
        path=tmp_path / "m.db",
        encoder=encoder,
        llm=llm,
        chat_history=[user("I live in Porto")],
    )
    assert isinstance(memory.primary_memory, Memory)
    assert memory.primary_memory.token_limit == int(llm.metadata.context_window * 0.75)
    assert texts(memory.store, "ana") == ["user: I live in Porto"]
    assert (tmp_path / "m.db").exists()
    config = memory.to_dict()
    assert config["user_id"] == "ana" and config["class_name"] == "EngramMemory"
    assert "store" not in config  # the store is live state, not config

    buffer = ChatMemoryBuffer.from_defaults(token_limit=500)
    other = EngramMemory.from_defaults("ana", memory.store, primary_memory=buffer)
    other.put(user("Where do I live?"))
    assert "Porto" in other.get()[0].content
    assert buffer.get_all()[-1].content == "Where do I live?"


def test_bad_input_raises_and_changes_nothing(store):
    memory = EngramMemory.from_defaults("ana", store)
    memory.put(user("My bike is a blue Brompton"))
    before_history, before_store = memory.get_all(), texts(store, "ana")

    with pytest.raises(InvalidInputError, match="ChatMessage"):
        memory.put("plain text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="message 1 must be a llama_index ChatMessage"):
        memory.put_messages([user("fine"), {"role": "user", "content": "a dict"}])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="bytes"):
        memory.put(user("x" * 1_100_000))  # over the store's size limit
    with pytest.raises(InvalidInputError, match="ChatMessage"):
        memory.set(user("not a list"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="input must be a string"):
        memory.get(input=42)  # type: ignore[arg-type]

    assert memory.get_all() == before_history
    assert texts(store, "ana") == before_store


def test_config_is_validated(store):
    with pytest.raises(ValidationError, match="unknown roles"):
        EngramMemory(store=store, user_id="ana", remember_roles=["human"])
    with pytest.raises(ValidationError, match="user_id"):
        EngramMemory(store=store, user_id="")
    with pytest.raises(ValidationError, match="k"):
        EngramMemory(store=store, user_id="ana", k=0)
    with pytest.raises(ValueError, match="either store or path"):
        EngramMemory.from_defaults("ana", store, path="other.db")


def test_put_keeps_nothing_once_the_user_switched_memory_off(store):
    memory = EngramMemory.from_defaults("ana", store, session_id="s1")
    memory.put(user("I adopted a greyhound called Pixel"))
    store.set_consent("ana", False)
    memory.put(user("My locker code is 4471"))
    assert texts(store, "ana") == ["user: I adopted a greyhound called Pixel"]
    assert [m.content for m in memory.get_all()][-1] == "My locker code is 4471"  # chat history


FACTS = [
    "I adopted a greyhound called Pixel from the shelter in Leeds",
    "My pottery class meets on Thursdays at the community centre",
    "I am training for the Berlin marathon in September",
]


@pytest.mark.parametrize("observe", [True, False])
def test_a_reply_that_uses_a_memory_raises_its_usefulness(store, observe):
    stored = [store.remember(f, "ana") for f in FACTS]
    weights = (lambda: store.store.weights("ana")) if store.in_process else (lambda: None)
    before = weights()  # the learned weights are read in this process only
    memory = EngramMemory.from_defaults("ana", store, k=3, observe_replies=observe)
    engine = SimpleChatEngine.from_defaults(llm=RecallingLLM(), memory=memory)
    answer = engine.chat("Which dog did I adopt from the shelter?")
    assert "Pixel" in str(answer)  # the model quoted the recalled memory

    usefulness = [store.get(e.id, "ana").stats.usefulness for e in stored]
    if observe:
        assert usefulness[0] > 0 and usefulness[1:] == [0, 0]
        assert weights() != before or not store.in_process
    else:
        assert usefulness == [0, 0, 0]
        assert weights() == before


async def test_each_recall_is_observed_once(store):
    stored = [store.remember(f, "ana") for f in FACTS]
    memory = EngramMemory.from_defaults("ana", store, k=3)
    await memory.aput(user("How is my training for Berlin going?"))
    await memory.aget()
    await memory.aput(bot("Your Berlin marathon is in September, keep going!"))
    await memory.aput(bot("Berlin in September, as I said."))  # no recall since: not observed
    usefulness = [store.get(e.id, "ana").stats.usefulness for e in stored]
    share = store.config.reply_feedback_share  # once: at most one share
    assert usefulness[:2] == [0, 0] and 0 < usefulness[2] <= share
