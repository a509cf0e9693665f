"""Every way a request can lack the right to what it asks: each is refused with 401/403 (or the
404 an unknown id gets), tells nothing about what exists, and changes nothing."""

from __future__ import annotations

import httpx
import pytest

U = "/v1/users/alice"
UNAUTHORIZED = {
    "error": {"type": "AuthenticationError", "message": "missing, invalid or revoked API key"}
}


def _stored(server) -> list:
    return server.memory.list("acme:alice") + server.memory.list("acme:bob")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"Authorization": "Bearer ek_0123456789abcdef_" + "A" * 43},  # well-formed, unknown
    ],
    ids=["none", "empty", "garbage", "basic", "unknown"],
)
def test_missing_or_invalid_key_is_401_for_every_route(server, headers):
    with httpx.Client(base_url=server.url, headers=headers) as client:
        for method, path in [
            ("POST", f"{U}/memories"),
            ("GET", f"{U}/memories"),
            ("POST", f"{U}/recall"),
            ("GET", f"{U}/erasures"),
            ("GET", "/v1/audit/verify"),
            ("GET", "/no/such/route"),  # unknown routes too: nothing about routes leaks
            ("POST", "/mcp"),
        ]:
            response = client.request(method, path, json={"content": "hi", "query": "hi"})
            assert response.status_code == 401, (method, path)
            assert response.json() == UNAUTHORIZED
            assert response.headers["www-authenticate"] == "Bearer"
    assert _stored(server) == []


def test_wrong_secret_of_a_real_key_and_a_revoked_key(server):
    key_id = server.keys.list("globex")[0].id
    wrong = server.globex[:-4] + ("AAAA" if not server.globex.endswith("AAAA") else "BBBB")
    with server.client(wrong) as client:
        assert client.get(f"{U}/memories").json() == UNAUTHORIZED
    with server.client(server.globex) as client:
        assert client.get(f"{U}/memories").status_code == 200
        server.keys.revoke(key_id)
        response = client.post(f"{U}/memories", json={"content": "after revoke"})
        assert response.status_code == 401 and response.json() == UNAUTHORIZED
    assert server.memory.list("globex:alice") == []


def test_key_limited_to_some_users_gets_403_for_others(server):
    with server.client(server.acme_alice) as client:
        assert client.post(f"{U}/memories", json={"content": "I am Alice"}).status_code == 201
        for method, path in [
            ("POST", "/v1/users/bob/memories"),
            ("GET", "/v1/users/bob/memories"),
            ("POST", "/v1/users/bob/recall"),
            ("GET", "/v1/users/bob/export"),
            ("GET", "/v1/users/bob/erasures"),
            ("POST", "/v1/users/bob/forget"),
        ]:
            response = client.request(method, path, json={"content": "x", "query": "x"})
            assert response.status_code == 403, (method, path)
            assert response.json() == {
                "error": {
                    "type": "AccessDeniedError",
                    "message": "this API key may not access that user",
                }
            }
    assert [e.text for e in _stored(server)] == ["I am Alice"]


def test_tenants_never_meet(server):
    """Both tenants have an "alice"; neither sees, finds, changes or deletes the other's."""
    with server.client(server.acme) as acme, server.client(server.globex) as globex:
        ours = acme.post(f"{U}/memories", json={"content": "Acme secret: the vault code is 1234"})
        acme_id = ours.json()["id"]
        globex.post(f"{U}/memories", json={"content": "Globex note about lunch"})

        assert [e["text"] for e in globex.get(f"{U}/memories").json()] == [
            "Globex note about lunch"
        ]
        hits = globex.post(f"{U}/recall", json={"query": "vault code secret"}).json()
        assert all("vault" not in h["engram"]["text"] for h in hits)
        assert "vault" not in globex.get(f"{U}/export").text

        unknown_id = "0" * 32
        for method, path, body in [
            ("GET", f"{U}/memories/{{}}", None),
            ("PATCH", f"{U}/memories/{{}}", {"text": "pwned"}),
            ("DELETE", f"{U}/memories/{{}}", None),
        ]:
            theirs = globex.request(method, path.format(acme_id), json=body)
            missing = globex.request(method, path.format(unknown_id), json=body)
            assert theirs.status_code == missing.status_code == 404
            # the same answer as for an id that exists nowhere, down to the message
            assert (
                theirs.json()["error"]["message"].replace(acme_id, unknown_id)
                == (missing.json()["error"]["message"])
            )
            assert "acme" not in theirs.text
        deleted = globex.post(f"{U}/memories/delete", json={"ids": [acme_id]})
        assert deleted.status_code == 404
        assert globex.post(f"{U}/forget", json={"everything": True}).json() == {"deleted": 1}
        assert acme.get(f"{U}/memories/{acme_id}").json()["text"].startswith("Acme secret")


def test_key_file_holds_no_secret(server):
    raw = server.keys.path.read_bytes()
    for key in (server.acme, server.globex, server.acme_alice):
        assert key.split("_", 2)[2].encode() not in raw
    assert oct(server.keys.path.stat().st_mode & 0o777) == "0o600"
