"""Bad input over HTTP: each case is a clear JSON error of our shape, never pydantic's, and
leaves the store exactly as it was."""

from __future__ import annotations

import json

import httpx
import pytest

MAX_BODY = 256 * 1024  # the `server` fixture's body limit
U = "/v1/users/alice"


@pytest.fixture
def seeded(server, acme):
    """One engram already stored, so "nothing changed" is checked against something."""
    acme.post(f"{U}/memories", json={"content": "My dog is called Pixel"})
    return lambda: [(e.id, e.text) for e in server.memory.list("acme:alice")]


def _error(response: httpx.Response, status: int, type_name: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == type_name
    assert "pydantic" not in response.text and "errors.pydantic.dev" not in response.text
    return body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "content", "says"),
    [
        (f"{U}/memories", b'{"content": "unclosed', "not valid JSON"),
        (f"{U}/memories", b"[1, 2, 3]", "must be a JSON object"),
        (f"{U}/memories", b"\xff\xfe garbage", "not valid JSON"),
        (f"{U}/recall", b"", "body"),
    ],
    ids=["unclosed", "array", "binary", "empty"],
)
def test_malformed_json(acme, seeded, path, content, says):
    before = seeded()
    response = acme.post(path, content=content, headers={"Content-Type": "application/json"})
    assert says in _error(response, 400, "InvalidInputError")
    assert seeded() == before


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        (f"{U}/memories", {"content": 42}, "content"),
        (f"{U}/memories", {"content": ""}, "empty"),
        (f"{U}/memories", {"content": "x", "redact": "yes"}, "redact"),
        (f"{U}/memories", {"content": "x", "colour": "red"}, "colour"),
        (f"{U}/memories", {"content": [{"role": "user"}]}, "no 'content'"),
        (f"{U}/memories", {"content": "x", "event_time": "not a date"}, "not a date"),
        (f"{U}/memories/batch", {"items": []}, "items"),
        (f"{U}/memories/batch", {"items": [{"text": 5}]}, "items"),
        (f"{U}/recall", {"query": "dog", "k": "3"}, "k"),
        (f"{U}/recall", {"query": "dog", "k": 0}, "k must be"),
        (f"{U}/recall", {"query": ["dog"]}, "query"),
        (f"{U}/recall", {"query": "dog", "tier": "medium"}, "tier"),
        (f"{U}/recall", {"query": "dog", "time_range": "whenever"}, "time_range"),
        (f"{U}/forget", {}, "selector"),
        (f"{U}/feedback", {"ids": "abc"}, "ids"),
        (f"{U}/observe_reply", {"reply": "Pixel", "recalled": "abc"}, "recalled"),
        (f"{U}/observe_reply", {"reply": " ", "recalled": ["abc"]}, "reply"),
        (f"{U}/memories/delete", {"ids": []}, "ids"),
    ],
)
def test_wrong_types_and_values(acme, seeded, path, body, says):
    before = seeded()
    message = _error(acme.post(path, json=body), 400, "InvalidInputError")
    assert says in message
    assert seeded() == before


def test_update_needs_a_change_and_valid_text(acme, seeded):
    before = seeded()
    engram_id = before[0][0]
    for body, says in [({}, "needs text"), ({"text": "\x00"}, "NUL"), ({"text": 3}, "text")]:
        response = acme.patch(f"{U}/memories/{engram_id}", json=body)
        assert says in _error(response, 400, "InvalidInputError")
    assert seeded() == before


def test_huge_bodies_are_413_announced_or_streamed(acme, seeded):
    before = seeded()
    huge = json.dumps({"content": "x" * (MAX_BODY + 1)}).encode()
    message = _error(acme.post(f"{U}/memories", content=huge), 413, "PayloadTooLargeError")
    assert str(MAX_BODY) in message

    def chunks():  # no Content-Length: the limit must hold while streaming
        yield b'{"content": "'
        for _ in range(MAX_BODY // 4096 + 1):
            yield b"y" * 4096
        yield b'"}'

    streamed = acme.post(
        f"{U}/memories", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _error(streamed, 413, "PayloadTooLargeError")
    assert seeded() == before


def test_text_over_the_store_limit_but_under_the_body_limit(server, acme, seeded):
    before = seeded()
    limit = server.memory.store.config.max_text_bytes
    server.memory.store.config.max_text_bytes = 1000
    try:
        response = acme.post(f"{U}/memories", json={"content": "z" * 2000})
        assert "limit is 1000 bytes" in _error(response, 400, "InvalidInputError")
    finally:
        server.memory.store.config.max_text_bytes = limit
    assert seeded() == before


@pytest.mark.parametrize(
    "raw_path",
    [
        "/v1/users/%2E%2E/memories",
        "/v1/users/..%2F..%2Fetc/memories",
        "/v1/users/alice/memories/%2E%2E",
        "/v1/users/alice/memories/..%2F..%2Fetc%2Fpasswd",
        "/v1/users/alice/memories/%5C..%5Cwin.ini",
        "/v1/users/a%00b/memories",
        "/v1/users/alice/memories/%01",
    ],
)
def test_path_traversal_in_ids(acme, seeded, raw_path):
    """Ids that read as paths are refused (400) or match no route (404, 405); nothing is
    touched."""
    before = seeded()
    for method in ("GET", "DELETE", "PATCH"):
        request = acme.build_request(method, "/", json={"text": "pwned"})
        request.url = request.url.copy_with(raw_path=raw_path.encode())
        response = acme.send(request)
        status = response.status_code
        assert status in (400, 404, 405), (method, raw_path, response.text)
        if status == 400:
            message = _error(response, 400, "InvalidInputError")
            assert "may not contain" in message or "contains a NUL" in message  # check_id first
        else:
            _error(response, status, "NotFoundError" if status == 404 else "MethodNotAllowedError")
    assert seeded() == before


def test_unknown_routes_and_methods(acme, seeded):
    before = seeded()
    assert "no route GET /v2/nothing" in _error(acme.get("/v2/nothing"), 404, "NotFoundError")
    _error(acme.post("/v1/users/alice"), 404, "NotFoundError")
    _error(acme.put(f"{U}/memories", json={"content": "x"}), 405, "MethodNotAllowedError")
    assert seeded() == before


def test_longest_user_id_fits_the_longest_tenant(server):
    key = server.keys.create("t" * 63)
    with server.client(key) as client:
        fits = client.post(f"/v1/users/{'u' * 192}/memories", json={"content": "hello"})
        assert fits.status_code == 201, fits.text
        too_long = client.post(f"/v1/users/{'u' * 193}/memories", json={"content": "hello"})
        assert "longer than 192" in _error(too_long, 400, "InvalidInputError")
