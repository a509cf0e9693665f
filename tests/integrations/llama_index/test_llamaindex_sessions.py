"""Real LlamaIndex chat engines and agents over two sessions: the second recalls the first.

Each session gets a fresh memory object (a new process would look the same: only the SQLite
store is shared), and the models are rule-based stand-ins that answer from what reaches them.
"""

from __future__ import annotations

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.core.chat_engine import CondensePlusContextChatEngine, SimpleChatEngine
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import Memory
from llama_index.core.tools import FunctionTool
from llamaindex_models import RecallingLLM, tool_agent_llm

from llama_index.memory.engram import EngramMemory, EngramMemoryBlock

FACT = "I adopted a greyhound called Pixel"
QUESTION = "What is the name of the greyhound I adopted?"


def session(store, user_id: str = "ana", session_id: str = "s1") -> EngramMemory:
    return EngramMemory.from_defaults(user_id, store, session_id=session_id)


def test_simple_chat_engine(store):
    llm = RecallingLLM()
    first = SimpleChatEngine.from_defaults(llm=llm, memory=session(store, session_id="s1"))
    first.chat(FACT)

    llm.prompts.clear()
    second = SimpleChatEngine.from_defaults(
        llm=llm, memory=session(store, session_id="s2"), system_prompt="You are a helpful pal."
    )
    answer = second.chat(QUESTION)
    assert str(answer) == f"You told me: {FACT}"
    prompt = llm.prompts[-1]
    assert prompt.startswith("system: You are a helpful pal.\nuser: Relevant memories")
    assert f"user: {FACT}" in prompt

    streamed = second.stream_chat("And what is the greyhound called again?")
    assert "".join(streamed.response_gen) == f"You told me: {FACT}"

    stranger = SimpleChatEngine.from_defaults(llm=llm, memory=session(store, "bob", "s3"))
    assert str(stranger.chat(QUESTION)) == "I don't know."


async def test_simple_chat_engine_async(store):
    llm = RecallingLLM()
    await SimpleChatEngine.from_defaults(llm=llm, memory=session(store)).achat(FACT)
    second = SimpleChatEngine.from_defaults(llm=llm, memory=session(store, session_id="s2"))
    assert str(await second.achat(QUESTION)) == f"You told me: {FACT}"
    streamed = await second.astream_chat(QUESTION)
    assert "".join([t async for t in streamed.async_response_gen()]) == f"You told me: {FACT}"


async def test_condense_plus_context_chat_engine(store):
    index = VectorStoreIndex.from_documents(
        [Document(text="Greyhounds need two walks a day.")], embed_model=MockEmbedding(embed_dim=8)
    )

    def engine(memory: EngramMemory, llm: RecallingLLM) -> CondensePlusContextChatEngine:
        return CondensePlusContextChatEngine.from_defaults(
            index.as_retriever(similarity_top_k=1), llm=llm, memory=memory
        )

    engine(session(store), RecallingLLM()).chat(FACT)
    llm = RecallingLLM()
    answer = engine(session(store, session_id="s2"), llm).chat(QUESTION)
    assert str(answer) == f"You told me: {FACT}"
    final = llm.prompts[-1]
    assert "Greyhounds need two walks a day." in final  # retrieved context
    assert f"user: {FACT}" in final  # recalled memory

    await engine(session(store, "cy", "s1"), llm).achat(FACT)  # the async path, another user
    assert str(await engine(session(store, "cy", "s2"), llm).achat(QUESTION)) == (
        f"You told me: {FACT}"
    )


async def test_function_agent_with_a_tool(store):
    calls = []

    def vet_record(note: str) -> str:
        """Look up the vet record of the pet a note is about."""
        calls.append(note)
        return "Pixel is vaccinated"

    llm, seen = tool_agent_llm("vet_record", asks_tool="vet")
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(vet_record)], llm=llm)
    await agent.run(FACT, memory=session(store))

    seen.clear()
    result = await agent.run(
        "Is the greyhound I adopted fine at the vet?", memory=session(store, session_id="s2")
    )
    assert calls == [FACT]  # the argument came from the recalled memory
    assert str(result) == "The tool says: Pixel is vaccinated"
    first_call, after_tool = seen
    assert FACT in first_call[0].content  # memory reached the model on both calls
    assert FACT in after_tool[0].content and after_tool[-1].role == "tool"


async def test_agent_workflow(store):
    llm, _ = tool_agent_llm("none", asks_tool="never")
    workflow = AgentWorkflow(agents=[FunctionAgent(name="pal", description="Helps.", llm=llm)])
    await workflow.run(FACT, memory=session(store))
    result = await workflow.run(QUESTION, memory=session(store, session_id="s2"))
    assert str(result) == f"You told me: {FACT}"
    other = await workflow.run(QUESTION, memory=session(store, "bob", "s3"))
    assert str(other) == "I don't know."


async def test_memory_block_in_memory_with_an_agent(store):
    """Memory flushes old turns into the block; a later session's Memory recalls them."""

    def memory(session_id: str) -> Memory:
        block = EngramMemoryBlock(store=store, user_id="ana")
        return Memory.from_defaults(
            session_id=session_id, token_limit=20, token_flush_size=5, memory_blocks=[block]
        )

    llm, seen = tool_agent_llm("none", asks_tool="never")
    agent = FunctionAgent(llm=llm)
    first = memory("s1")
    await agent.run(FACT, memory=first)
    await agent.run("I also like long walks by the river", memory=first)
    flushed = store.list("ana")
    assert [e.text for e in flushed] == [f"user: {FACT}"]  # flushed from the short-term queue
    assert flushed[0].scope.session_id == "s1"  # Memory's session id, stamped by the block

    result = await agent.run(QUESTION, memory=memory("s2"))
    assert str(result) == f"You told me: {FACT}"
    system = seen[-1][0]
    assert system.role == "system" and "<engram_memory>" in system.content


async def test_memory_block_direct(store):
    block = EngramMemoryBlock(store=store, user_id="ana", session_id="s1", name="long_term")
    await block.aput([ChatMessage(role="user", content=FACT), ChatMessage(role="assistant")])
    assert [e.text for e in store.list("ana")] == [f"user: {FACT}"]
    text = await block.aget([ChatMessage(role="user", content=QUESTION)])
    assert text.splitlines()[1].endswith(f"user: {FACT}")
    assert await block.aget([ChatMessage(role="user", content=FACT)]) == ""  # shown already
    assert await block.aget([]) == ""
