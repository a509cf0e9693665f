"""Every verb of the REST API against a real server, checked against what the store holds."""

from __future__ import annotations

import httpx

U = "/v1/users/alice"


def remember(client: httpx.Client, text: str, **body) -> dict:
    response = client.post(f"{U}/memories", json={"content": text, **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_remember_get_list_and_recall_with_explanations(server, acme: httpx.Client):
    pixel = remember(acme, "My dog is called Pixel", session_id="s1", metadata={"src": "chat"})
    remember(acme, "The dentist appointment is on Tuesday at 3pm", session_id="s2")
    assert pixel["scope"] == {"user_id": "alice", "agent_id": None, "session_id": "s1"}
    assert "name:pixel" in pixel["sketch"]
    # stored in the tenant's namespace, shown back in the caller's
    assert server.memory.get(pixel["id"], "acme:alice").text == "My dog is called Pixel"

    got = acme.get(f"{U}/memories/{pixel['id']}").json()
    assert got["text"] == "My dog is called Pixel" and got["metadata"]["extra"] == {"src": "chat"}
    listed = acme.get(f"{U}/memories").json()
    assert [e["text"] for e in listed] == [
        "My dog is called Pixel",
        "The dentist appointment is on Tuesday at 3pm",
    ]
    only_s2 = acme.get(f"{U}/memories", params={"session_id": "s2"}).json()
    assert [e["session_id"] for e in (x["scope"] for x in only_s2)] == ["s2"]

    hits = acme.post(f"{U}/recall", json={"query": "what is my dog called", "k": 1}).json()
    assert len(hits) == 1
    assert hits[0]["engram"]["id"] == pixel["id"]
    assert hits[0]["engram"]["scope"]["user_id"] == "alice"
    assert "kw:dog" in hits[0]["matched_tags"] and hits[0]["explanation"]
    filtered = acme.post(
        f"{U}/recall", json={"query": "dog", "filters": {"session_id": "s2"}}
    ).json()
    assert [h["engram"]["scope"]["session_id"] for h in filtered] == ["s2"]
    by_args = acme.post(f"{U}/recall", json={"query": "dog", "session_id": "s2", "tier": "short"})
    assert [h["engram"]["id"] for h in by_args.json()] == [h["engram"]["id"] for h in filtered]


def test_chat_messages_and_batch(acme: httpx.Client):
    messages = [
        {"role": "user", "content": "I moved to Lisbon"},
        {"role": "assistant", "content": "Nice city"},
    ]
    stored = acme.post(f"{U}/memories", json={"content": messages}).json()
    assert [e["text"] for e in stored] == ["user: I moved to Lisbon", "assistant: Nice city"]
    batch = acme.post(
        f"{U}/memories/batch",
        json={"items": ["I like tea", {"text": "My sister is Ana", "session_id": "s9"}]},
    )
    assert batch.status_code == 201
    assert [(e["text"], e["scope"]["session_id"]) for e in batch.json()] == [
        ("I like tea", None),
        ("My sister is Ana", "s9"),
    ]
    assert len(acme.get(f"{U}/memories").json()) == 4


def test_update_delete_and_forget(server, acme: httpx.Client):
    a = remember(acme, "My car is red")
    b = remember(acme, "I play the cello", session_id="music")
    c = remember(acme, "I collect stamps")
    updated = acme.patch(f"{U}/memories/{a['id']}", json={"text": "My car is blue"}).json()
    assert updated["text"] == "My car is blue"
    assert updated["history"][-1]["text"] == "My car is red"

    assert acme.delete(f"{U}/memories/{c['id']}").json() == {"deleted": 1}
    assert acme.get(f"{U}/memories/{c['id']}").status_code == 404
    assert acme.post(f"{U}/forget", json={"session_id": "music"}).json() == {"deleted": 1}
    assert [e["id"] for e in acme.get(f"{U}/memories").json()] == [a["id"]]
    assert acme.post(f"{U}/memories/delete", json={"ids": [a["id"]]}).json() == {"deleted": 1}
    assert server.memory.list("acme:alice") == []
    assert b  # forgotten with its session


def test_feedback_consolidate_export_and_audit(acme: httpx.Client, tmp_path):
    a = remember(acme, "My dog is called Pixel")
    weights = acme.post(f"{U}/feedback", json={"ids": [a["id"]], "useful": True}).json()
    assert set(weights) >= {"similarity", "tags", "usefulness"}
    report = acme.post(f"{U}/consolidate").json()
    assert set(report) == {"promoted", "merged", "evicted", "decayed"}

    exported = acme.get(f"{U}/export").json()
    assert exported["user_id"] == "alice"
    assert [e["scope"]["user_id"] for e in exported["engrams"]] == ["alice"]
    assert {"remember", "feedback"} <= {event["action"] for event in exported["audit"]}

    audit = acme.get("/v1/audit/verify").json()
    assert audit["verified"] is True and audit["entries"] >= 3


def test_openapi_lists_every_verb(server):
    assert httpx.get(f"{server.url}/docs").status_code == 200
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {
        "/v1/users/{user_id}/memories",
        "/v1/users/{user_id}/memories/batch",
        "/v1/users/{user_id}/recall",
        "/v1/users/{user_id}/memories/{engram_id}",
        "/v1/users/{user_id}/memories/delete",
        "/v1/users/{user_id}/forget",
        "/v1/users/{user_id}/export",
        "/v1/users/{user_id}/feedback",
        "/v1/users/{user_id}/consolidate",
        "/v1/users/{user_id}/erasures",
        "/v1/audit/verify",
    } <= set(paths)
