"""EngramMemoryMiddleware in real create_agent loops, across two sessions: what the user said
in the first session reaches the model in the second (before the question, or in the system
prompt)."""

from __future__ import annotations

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from typing_extensions import TypedDict

from engram_agents.chat import RECALLED
from engram_agents.memory_context import HEADER
from engram_agents.model.memorize import TrainConfig
from langchain_engram import ChatEngram, EngramMemoryMiddleware
from langchain_engram.chat_models import to_engram_messages

PET = "I adopted a greyhound called Pixel"
QUICK = TrainConfig(epochs=1, batch_size=8, min_steps=1)


class UserContext(TypedDict):
    user_id: str


@tool
def lookup_breed(breed: str) -> str:
    """Facts about a dog breed."""
    return f"{breed}s are fast and gentle."


def _ask(agent, text: str, user: str, recorder, **config):
    return agent.invoke(
        {"messages": [HumanMessage(text)]},
        context={"user_id": user},
        config={"callbacks": [recorder], **config},
    )


def test_fake_model_two_sessions(core_memory, scripted, recorder):
    first = EngramMemoryMiddleware(core_memory)
    agent = create_agent(
        scripted("What a lovely name!"), middleware=[first], context_schema=UserContext
    )
    _ask(agent, PET, "ana", recorder)
    assert recorder.questions() == [PET]  # nothing known yet
    assert [e.text for e in core_memory.list("ana")] == [PET]
    assert first.end_session("ana").decayed == 1  # no EngramLM given: the store only

    # session 2: a new agent and middleware over the same store, with a tool round trip
    recorder.calls.clear()
    second = create_agent(
        scripted(("lookup_breed", {"breed": "greyhound"}), "Pixel is a greyhound."),
        tools=[lookup_breed],
        middleware=[EngramMemoryMiddleware(core_memory)],
        context_schema=UserContext,
    )
    question = "Which breed is my dog, and what is it like?"
    out = _ask(second, question, "ana", recorder)
    asked = recorder.questions()
    assert len(asked) == 2  # memories go into every model call of the loop
    assert all(a.startswith(HEADER) and f"] {PET}\n\n{question}" in a for a in asked)
    assert not recorder.system_prompts()
    assert out["messages"][0].text == question  # the conversation itself is untouched
    assert out["messages"][-1].text == "Pixel is a greyhound."
    said = [e.text for e in core_memory.list("ana")]
    assert said == [PET, "Which breed is my dog, and what is it like?"]  # not tool output

    # another user sees none of ana's memories
    recorder.calls.clear()
    _ask(create_agent(scripted("Hi"), middleware=[first]), "Which breed?", "bob", recorder)
    assert recorder.questions() == ["Which breed?"]


async def test_async_agent_and_user_from_config(core_memory, scripted, recorder):
    core_memory.remember(PET, "ana")
    middleware = EngramMemoryMiddleware(core_memory, placement="system")
    agent = create_agent(scripted("Pixel!"), system_prompt="Be brief.", middleware=[middleware])
    await agent.ainvoke(
        {"messages": [HumanMessage("What is my dog called?")]},
        config={"callbacks": [recorder], "configurable": {"user_id": "ana", "thread_id": "t9"}},
    )
    (prompt,) = recorder.system_prompts()
    assert prompt.startswith("Be brief.\n\n" + HEADER) and PET in prompt
    assert recorder.questions() == ["What is my dog called?"]
    asked = core_memory.list("ana", session_id="t9")  # the thread is the session
    assert [e.text for e in asked] == ["What is my dog called?"]
    report = await middleware.aend_session("ana")
    assert report.decayed >= 1


def test_missing_user_is_a_clear_error(core_memory, scripted):
    agent = create_agent(scripted("x"), middleware=[EngramMemoryMiddleware(core_memory)])
    with pytest.raises(ValueError, match="needs a user id"):
        agent.invoke({"messages": [HumanMessage("hi")]})
    assert core_memory.list("ana") == []
    default = create_agent(
        scripted("x"), middleware=[EngramMemoryMiddleware(core_memory, user_id="ana")]
    )
    default.invoke({"messages": [HumanMessage("hi there")]})
    assert [e.text for e in core_memory.list("ana")] == ["hi there"]
    with pytest.raises(ValueError, match="k must be"):
        EngramMemoryMiddleware(core_memory, k=0)
    with pytest.raises(ValueError, match="placement must be"):
        EngramMemoryMiddleware(core_memory, placement="footer")


def test_chat_engram_agent_two_sessions_and_memorize(core_memory, tiny_lm, recorder):
    middleware = EngramMemoryMiddleware(core_memory, lm=tiny_lm, train_config=QUICK)
    model = ChatEngram(lm=tiny_lm, max_tokens=4)
    agent = create_agent(model, middleware=[middleware], context_schema=UserContext)
    _ask(agent, PET, "ana", recorder)
    _ask(agent, "Is that a good name?", "ana", recorder)
    report = middleware.end_session("ana")
    assert report.memorized == 1  # the statement; the question is not a fact
    assert [f.statement for f in tiny_lm.facts("ana")] == [PET]

    recorder.calls.clear()
    out = _ask(agent, "What is my greyhound called?", "ana", recorder)
    (prompt,) = recorder.system_prompts()  # beside in-model recall: the unkeyed system prompt
    assert prompt.startswith(HEADER) and f"] {PET}" in prompt
    assert recorder.questions() == ["What is my greyhound called?"]
    reply = out["messages"][-1]
    question = {"role": "user", "content": "What is my greyhound called?"}
    prompt_tokens = tiny_lm.count_tokens([{"role": "system", "content": prompt}, question])
    assert reply.type == "ai" and reply.usage_metadata["input_tokens"] == prompt_tokens
    assert tiny_lm.user_id == "ana"  # the middleware had ChatEngram load ana's tables


def test_user_reaches_only_a_chat_engram_over_the_middlewares_own_model(
    core_memory, tiny_lm, recorder
):
    core_memory.remember(PET, "ana")
    plain = EngramMemoryMiddleware(core_memory, user_id="ana")  # no lm: store memory only
    agent = create_agent(ChatEngram(lm=tiny_lm, max_tokens=2), middleware=[plain])
    agent.invoke({"messages": [HumanMessage("What is my dog called?")]}, {"callbacks": [recorder]})
    assert tiny_lm.user_id is None  # ChatEngram kept its own choice: the shared tables
    assert PET in recorder.system_prompts()[0]


def test_chat_engram_gets_the_block_in_the_system_prompt_marked_recalled(
    core_memory, tiny_lm, recorder
):
    core_memory.remember(PET, "ana")
    middleware = EngramMemoryMiddleware(core_memory, user_id="ana")
    agent = create_agent(
        ChatEngram(lm=tiny_lm, max_tokens=2), system_prompt="Be brief.", middleware=[middleware]
    )
    question = "What is my dog called?"
    agent.invoke({"messages": [HumanMessage(question)]}, {"callbacks": [recorder]})
    (call,) = recorder.calls
    lead, block = call[0].content
    assert lead["text"] == "Be brief.\n\n" and "extras" not in lead
    assert block["extras"] == RECALLED and block["text"].startswith(HEADER)
    assert recorder.questions() == [question]
    system, user = to_engram_messages(call)
    assert system["content"][1] == {"text": block["text"], "keyed": False, "recalled": True}
    without, _ = tiny_lm.encoder.encode([system, user], recalled=False)
    bare = [{"role": "system", "content": "Be brief.\n\n"}, {"role": "user", "content": question}]
    assert without == tiny_lm.encoder.encode(bare)[0]  # what memory_weight decodes against


def test_block_goes_first_in_a_message_of_content_blocks(core_memory, scripted, recorder):
    core_memory.remember(PET, "ana")
    agent = create_agent(
        scripted("Pixel!"), middleware=[EngramMemoryMiddleware(core_memory, user_id="ana")]
    )
    parts = [{"type": "text", "text": "What is my dog called?"}]
    out = agent.invoke({"messages": [HumanMessage(parts)]}, config={"callbacks": [recorder]})
    (call,) = recorder.calls
    given = call[-1].content
    assert given[0]["text"].startswith(HEADER) and PET in given[0]["text"] and given[1:] == parts
    assert out["messages"][0].content == parts


def test_chat_engram_reads_the_block_before_the_question_without_keying_it(
    core_memory, tiny_lm, recorder
):
    core_memory.remember(PET, "ana")
    middleware = EngramMemoryMiddleware(core_memory, user_id="ana", placement="question")
    model = ChatEngram(lm=tiny_lm, max_tokens=2, user_id="ana")
    agent = create_agent(model, middleware=[middleware])
    question = "What is my dog called?"
    out = agent.invoke({"messages": [HumanMessage(question)]}, {"callbacks": [recorder]})
    (call,) = recorder.calls
    first, rest = call[-1].content[0], call[-1].content[1:]
    assert first["extras"] == RECALLED and f"] {PET}\n\n" in first["text"]
    assert rest == [{"type": "text", "text": question}]
    assert out["messages"][0].content == question  # the stored conversation is untouched

    (user,) = [m for m in to_engram_messages(call) if m["role"] == "user"]
    ids, mask = tiny_lm.encoder.encode([user])
    assert tiny_lm.tokenizer.decode([i for i, k in zip(ids, mask, strict=True) if k]) == question
    reply = out["messages"][-1]
    assert reply.usage_metadata["input_tokens"] == tiny_lm.count_tokens(to_engram_messages(call))


FACTS = [
    PET + " from the shelter in Leeds",
    "My pottery class meets on Thursdays at the community centre",
    "I am training for the Berlin marathon in September",
]


@pytest.mark.parametrize("observe", [True, False])
def test_reply_that_uses_a_memory_raises_its_usefulness(core_memory, scripted, observe):
    stored = core_memory.remember_many(FACTS, "ana")
    local = core_memory.in_process  # the learned weights are read in this process only
    weights = (lambda: core_memory.store.weights("ana")) if local else (lambda: None)
    before = weights()
    middleware = EngramMemoryMiddleware(core_memory, k=3, observe_replies=observe)
    reply = "Pixel is a greyhound you adopted from the shelter in Leeds."
    agent = create_agent(scripted(reply), middleware=[middleware], context_schema=UserContext)
    agent.invoke({"messages": [HumanMessage("Tell me about my dog")]}, context={"user_id": "ana"})

    # only the quoted memory gained usefulness, and the weights learned: when observing
    gained = [core_memory.get(e.id, "ana").stats.usefulness > 0 for e in stored]
    learned = weights() != before
    assert gained == ([True, False, False] if observe else [False] * 3)
    assert learned == (observe and local)


async def test_async_agent_observes_replies(core_memory, scripted):
    stored = core_memory.remember_many(FACTS, "ana")
    agent = create_agent(
        scripted("Good luck in Berlin this September!"),
        middleware=[EngramMemoryMiddleware(core_memory, k=3)],
        context_schema=UserContext,
    )
    await agent.ainvoke({"messages": [HumanMessage("Any race soon?")]}, context={"user_id": "ana"})
    usefulness = [core_memory.get(e.id, "ana").stats.usefulness for e in stored]
    assert usefulness[2] > 0 and usefulness[:2] == [0, 0]
