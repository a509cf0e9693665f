"""The web console over HTTP (no browser): sign-in and its cookie, CSRF and cross-site refusal,
escaping, tenant scoping, the no-JavaScript delete confirmation, and the Engram tables section
with a real (tiny) EngramLM. The browser tests (test_console_browser.py) drive the same pages in
Chromium."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

import httpx
import pytest

from engram_agents.errors import InvalidInputError
from engram_agents.memory import EngramMemory
from engram_agents.model.memorize import TrainConfig
from engram_agents.server import create_app
from engram_agents.server.console import links, views
from engram_agents.store.encoders import HashingEncoder

XSS = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


@contextmanager
def signed_in(url: str, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.post("/console/sign-in", data={"key": key})
        assert response.status_code == 303, response.text
        yield client


def squeezed(response: httpx.Response) -> str:
    """The page with its runs of white space made one space, as a reader sees it."""
    return re.sub(r"\s+", " ", response.text)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)


def test_root_leads_to_the_sign_in_page(server):
    response = httpx.get(server.url + "/", follow_redirects=True)
    assert response.status_code == 200
    assert '<label for="key">API key</label>' in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert httpx.get(server.url + "/console/static/console.js").status_code == 200


def test_sign_in_sets_a_strict_httponly_cookie_the_api_ignores(server):
    response = httpx.post(server.url + "/console/sign-in", data={"key": server.acme})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    name, value = cookie.split(";")[0].split("=", 1)
    api = httpx.get(server.url + "/v1/users/ana/memories", cookies={name: value})
    assert api.status_code == 401  # the cookie is no credential for the REST API


@pytest.mark.parametrize("key", ["", "nonsense", "ek_0123456789abcdef_" + "A" * 43])
def test_a_wrong_key_is_refused_with_a_message(server, key):
    response = httpx.post(server.url + "/console/sign-in", data={"key": key})
    assert response.status_code == 401
    assert "That key is not valid" in response.text
    assert "set-cookie" not in response.headers


def test_a_revoked_key_signs_the_console_out(server):
    key = server.keys.create("acme", name="to revoke")
    with signed_in(server.url, key) as client:
        assert client.get("/console/users/ana").status_code == 200
        server.keys.revoke(key.split("_")[1])
        response = client.get("/console/users/ana")
        assert response.status_code == 401
        assert "Please sign in" in response.text


def test_user_text_is_escaped_everywhere(server):
    server.memory.remember(XSS, "acme:ana", evidence=[{"uri": XSS, "session_id": XSS}])
    hostile_user = '<img src=x onerror="alert(1)">'
    server.memory.remember("hello", f"acme:{hostile_user}")
    with signed_in(server.url, server.acme) as client:
        for path in ("/console/users/ana", "/console/users/ana?q=pwned%20script"):
            page = client.get(path).text
            assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
            assert "<script>window" not in page and "<img src=x" not in page
        for path in ("/console/", f"/console/users/{hostile_user}"):
            page = client.get(path).text
            assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
            assert "<img src=x" not in page


def test_the_timeline_shows_tags_tier_time_usefulness_and_evidence(server):
    memory = server.memory
    memory.remember(
        "Ana's flight to Lisbon leaves on 2026-05-04",
        "acme:ana",
        session_id="trip",
        event_time="2026-04-20T10:00:00Z",
        evidence=[{"session_id": "trip", "turn_id": "t7", "uri": "mail://inbox/42"}],
    )
    with signed_in(server.url, server.acme) as client:
        page = client.get("/console/users/ana").text
    assert "Ana&#39;s flight to Lisbon" in page
    assert "<li>kw:lisbon</li>" in page  # sketch tags as chips
    assert "short-term" in page and "2026-04-20 10:00 UTC" in page and "usefulness 0.00" in page
    assert "turn <code>t7</code>" in page and "<code>mail://inbox/42</code>" in page


def test_search_explains_and_says_why_superseded_items_are_hidden(server):
    memory = server.memory
    old = memory.remember("My dog is called Pixel", "acme:ana")
    new = memory.remember("My dog is called Rex now", "acme:ana")
    assert memory.get(old.id, "acme:ana").superseded_by == new.id
    with signed_in(server.url, server.acme) as client:
        page = squeezed(client.get("/console/users/ana", params={"q": "what is my dog called"}))
        assert "matched tags: kw:call, kw:dog" in page and "<dt>similarity</dt>" in page
        assert "1 superseded memory is hidden" in page and "My dog is called Pixel" not in page
        both = client.get("/console/users/ana", params={"q": "dog", "superseded": "true"}).text
        assert "My dog is called Pixel" in both and "superseded by" in both


def test_forms_without_the_token_or_from_another_site_change_nothing(server):
    engram = server.memory.remember("keep me", "acme:ana")
    with signed_in(server.url, server.acme) as client:
        token = csrf_of(client.get("/console/users/ana").text)
        base = f"/console/users/ana/memories/{engram.id}"
        forged = [
            (base + "/delete", {"confirm": "yes"}, {}),
            (base + "/delete", {"confirm": "yes", "csrf": "0" * 64}, {}),
            (base + "/edit", {"text": "pwned", "csrf": token}, {"Origin": "https://evil.example"}),
            (base + "/delete", {"confirm": "yes", "csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
        ]
        for path, data, headers in forged:
            response = client.post(path, data=data, headers=headers)
            assert response.status_code == 403, (path, data, headers)
            assert "AccessDeniedError" in response.text
    assert server.memory.get(engram.id, "acme:ana").text == "keep me"


def test_edit_then_delete_without_javascript_asks_on_a_page(server):
    engram = server.memory.remember("I live in Porto", "acme:ana")
    with signed_in(server.url, server.acme) as client:
        token = csrf_of(client.get("/console/users/ana").text)
        base = f"/console/users/ana/memories/{engram.id}"
        edited = client.post(
            base + "/edit",
            data={"csrf": token, "text": "I live in Lisbon", "event_time": "2026-03-01"},
            follow_redirects=True,
        )
        assert "Memory updated." in edited.text and "I live in Lisbon" in edited.text
        ask = client.post(base + "/delete", data={"csrf": token})
        assert ask.status_code == 200 and "Delete this memory?" in ask.text
        assert server.memory.list("acme:ana")  # asking deleted nothing
        done = client.post(base + "/delete", data={"csrf": token, "confirm": "yes"})
        assert done.status_code == 303
    assert server.memory.list("acme:ana") == []


def action_of(page: str, route: str) -> str:
    """The URL the page's form posting to `route` (a path's end) posts to."""
    return html.unescape(re.search(rf'action="([^"]*/{route}(?:\?[^"]*)?)"', page).group(1))


def test_a_delete_without_javascript_returns_to_the_page_it_came_from(server):
    server.memory.remember("My dog is called Pixel", "acme:ana")
    server.memory.remember("My dog is called Rex now", "acme:ana")
    porto = server.memory.remember("I live in Porto", "acme:ana")
    server.memory.delete(server.memory.remember("I drink tea", "acme:ana").id, "acme:ana")
    state = "q=dog&superseded=true&erasures_before=5"
    with signed_in(server.url, server.acme) as client:
        page = client.get(f"/console/users/ana?{state}").text
        form = action_of(page, f"memories/{porto.id}/delete")
        assert form == f"/console/users/ana/memories/{porto.id}/delete?{state}"
        ask = client.post(form, data={"csrf": csrf_of(page)})
        assert ask.status_code == 200 and "I live in Porto" in ask.text
        assert action_of(ask.text, f"memories/{porto.id}/delete") == form
        assert f'href="/console/users/ana?{state.replace("&", "&amp;")}">Cancel' in ask.text
        done = client.post(form, data={"csrf": csrf_of(page), "confirm": "yes"})
        assert done.status_code == 303
        assert done.headers["location"] == f"/console/users/ana?{state}&notice=deleted"
        back = squeezed(client.get(done.headers["location"]))
    assert "Memory deleted." in back and 'value="dog"' in back
    assert 'value="true" checked' in back and "My dog is called Pixel" in back
    assert [e.text for e in server.memory.list("acme:ana", include_superseded=True)] == [
        "My dog is called Pixel",
        "My dog is called Rex now",
    ]


def test_a_forms_page_state_is_checked_and_leads_only_back_to_the_user(server):
    user = "@evil.example"  # a valid id: its redirect must still be a path on this server
    engram = server.memory.remember("I live in Porto", f"acme:{user}")
    edit = f"/console/users/{quote(user, safe='')}/memories/{engram.id}/edit"
    with signed_in(server.url, server.acme) as client:
        token = csrf_of(client.get(f"/console/users/{quote(user, safe='')}").text)
        for bad in ("superseded=maybe", "erasures_before=abc"):
            refused = client.post(f"{edit}?{bad}", data={"csrf": token, "text": "changed"})
            page = client.get(f"/console/users/ana?{bad}")
            assert refused.status_code == page.status_code == 400
            assert refused.json() == page.json()  # the GET page's error, word for word
        assert server.memory.get(engram.id, f"acme:{user}").text == "I live in Porto"
        crafted = {"q": "//evil.example/\r\nLocation: https://evil.example"}
        done = client.post(edit, params=crafted, data={"csrf": token, "text": "I live in Braga"})
    assert done.status_code == 303
    assert server.memory.get(engram.id, f"acme:{user}").text == "I live in Braga"
    where = urlsplit(done.headers["location"])
    assert (where.scheme, where.netloc, where.path) == ("", "", "/console/users/%40evil.example")
    assert "\r" not in done.headers["location"] and "evil.example%2F" in where.query


@pytest.mark.parametrize("user", ["@evil.example", "https:evil.example", "evil.example:443"])
def test_a_redirect_is_built_on_the_users_path_whatever_the_state_says(user):
    state = links.PageState(user, q="https://evil.example", superseded=True)
    path, query = f"/console/users/{quote(user, safe='')}", "q=https%3A%2F%2Fevil.example"
    where = urlsplit(state.after("deleted"))
    assert (where.scheme, where.netloc, where.path) == ("", "", path)
    assert where.query == f"{query}&superseded=true&notice=deleted"
    assert state.action("facts/forget") == f"{path}/facts/forget?{query}&superseded=true"


@pytest.mark.parametrize("user", ["//evil.example", "\\\\evil.example", "..", "a\r\nX: y"])
def test_a_page_state_refuses_a_user_id_that_would_leave_the_users_path(user):
    with pytest.raises(InvalidInputError, match="user_id may not contain"):
        links.PageState(user)


def test_tenants_and_user_grants_hold_in_the_console(server):
    secret = server.memory.remember("acme's secret", "acme:bob")
    with signed_in(server.url, server.globex) as client:
        users = client.get("/console/").text
        assert "bob" not in users
        assert "acme&#39;s secret" not in client.get("/console/users/bob").text
        token = csrf_of(client.get("/console/users/bob").text)
        theirs = client.post(
            f"/console/users/bob/memories/{secret.id}/delete",
            data={"csrf": token, "confirm": "yes"},
        )
        unknown = client.post(
            f"/console/users/bob/memories/{'0' * 32}/delete",
            data={"csrf": token, "confirm": "yes"},
        )
        assert theirs.status_code == unknown.status_code == 404  # the same answer
        assert "NotFoundError" in theirs.text and "acme" not in theirs.text
    assert server.memory.get(secret.id, "acme:bob").text == "acme's secret"
    with signed_in(server.url, server.acme_alice) as client:
        refused = client.get("/console/users/bob")
        assert refused.status_code == 403 and "may not access that user" in refused.text
        assert 'href="/console/users/alice"' in client.get("/console/").text


def test_sign_out_ends_the_session(server):
    with signed_in(server.url, server.acme) as client:
        token = csrf_of(client.get("/console/users/ana").text)
        assert client.post("/console/sign-out", data={"csrf": token}).status_code == 303
        assert client.get("/console/users/ana").status_code == 401


def test_export_downloads_the_users_json(server):
    server.memory.remember("exported fact", "acme:ana")
    with signed_in(server.url, server.acme) as client:
        response = client.get("/console/users/ana/export")
    assert response.headers["content-disposition"] == 'attachment; filename="engrams-ana.json"'
    data = response.json()
    assert data["user_id"] == "ana" and data["engrams"][0]["text"] == "exported fact"
    assert data["engrams"][0]["scope"]["user_id"] == "ana"


def test_an_open_server_signs_in_without_a_key(tmp_path, serve_app):
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(256))
    memory.remember("open fact", "ana")
    with httpx.Client(base_url=serve_app(create_app(memory))) as c:
        assert "Open the console" in c.get("/console/").text
        assert c.get("/console/users/ana").status_code == 401
        assert c.post("/console/sign-in").status_code == 303
        assert "open fact" in c.get("/console/users/ana").text
    memory.close()


def test_engram_tables_list_the_models_facts_and_forget_one(tmp_path, tiny_lm, serve_app):
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(256))
    quick = TrainConfig(epochs=2, batch_size=8, min_steps=1)
    tiny_lm.memorize(
        [("Where does Ana live?", "Lisbon <b>old town</b>"), "Ana's dog is Rex"],
        "ana",
        train_config=quick,
    )
    with httpx.Client(base_url=serve_app(create_app(memory, lm=tiny_lm))) as client:
        client.post("/console/sign-in")
        page = client.get("/console/users/ana?q=Lisbon&erasures_before=3").text
        assert "<strong>Where does Ana live?</strong> → Lisbon &lt;b&gt;old town&lt;/b&gt;" in page
        assert "Ana&#39;s dog is Rex" in page
        form = action_of(page, "facts/forget")  # the page's state travels with the form
        data = {"csrf": csrf_of(page), "statement": "Ana's dog is Rex"}
        done = client.post(form, data=data)
        assert done.headers["location"] == (
            "/console/users/ana?q=Lisbon&erasures_before=3&notice=forgot"
        )
        back = client.get(done.headers["location"]).text
        assert "Fact forgotten" in back and "Ana&#39;s dog is Rex" not in back
        assert 'value="Lisbon"' in back
    assert [f.question for f in tiny_lm.facts("ana")] == ["Where does Ana live?"]
    memory.close()


def test_without_a_model_the_tables_section_says_so(server):
    with signed_in(server.url, server.acme) as client:
        assert "No model loaded" in client.get("/console/users/ana").text


def _erasures(page: str) -> list[tuple[int, str, str]]:
    """The erasure section's rows: (position, action, ids shown)."""
    section = page.split('id="erasures-h"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(
        r'<li><span class="seq">#(\d+)</span> <strong>(\w+)</strong>.*?<code>(.*?)</code>',
        section,
        re.S,
    )
    return [(int(n), action, ids.strip()) for n, action, ids in rows]


def test_the_erasure_feed_newest_first_in_pages(server, monkeypatch):
    monkeypatch.setattr(views, "ERASURES_SHOWN", 2)
    a, b, c = (server.memory.remember(t, "acme:ana") for t in ("I live in Porto", "Tea", "Cats"))
    server.memory.delete(a.id, "acme:ana")
    server.memory.remember("My sister is Eva", "acme:ana", session_id="s")
    server.memory.forget("acme:ana", session_id="s")
    server.memory.delete([b.id, c.id], "acme:ana")
    feed = server.memory.erasures("acme:ana")
    newest_first = [(e.position, e.action, " ".join(e.engram_ids)) for e in feed.erasures][::-1]
    with signed_in(server.url, server.acme) as client:
        first = client.get("/console/users/ana").text
        assert 'Erasures <span class="count">3</span>' in first
        assert _erasures(first) == newest_first[:2]
        assert "Porto" not in first.split('id="erasures-h"')[1]  # ids, never text
        older = re.search(r'href="([^"]+)">Older erasures</a>', first).group(1)
        assert older == f"/console/users/ana?erasures_before={newest_first[1][0]}#erasures"
        second = client.get(older).text
        assert _erasures(second) == newest_first[2:]
        assert "Older erasures" not in second and "Newest erasures" in second
    with signed_in(server.url, server.globex) as client:  # another tenant's "ana": her own
        page = client.get("/console/users/ana").text
        assert "Nothing erased yet." in page and _erasures(page) == []
