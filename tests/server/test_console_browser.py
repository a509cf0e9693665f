"""The web console in a real headless Chromium (Debian's `chromium` and `chromium-driver`, driven
by Selenium), against a real server on 127.0.0.1: a person signs in, reads the timeline,
searches and reads why a memory came back, edits, deletes after a confirmation dialog (by
keyboard), exports, sees the audit chain's status; a wrong key shows an error; hostile text stays
text; the page fits a phone's width.

Run: `python -m pytest -m browser tests/server`. With ENGRAM_CONSOLE_SCREENSHOTS=<folder> the
screenshot test also saves the README's pictures there (console.png, console-phone.png).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from engram_agents.server.console import views  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
WAIT_S = 30  # how long a step may take to appear (a bound, never asserted on)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator:
    if CHROMIUM is None or not os.path.exists(CHROMEDRIVER):
        pytest.skip(
            "the browser tests need Chromium and its driver: "
            "apt-get install -y chromium chromium-driver"
        )
    options = Options()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    options.add_argument("--window-size=1280,800")
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    # The driver's path is given, so Selenium Manager never looks for (or downloads) one.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    yield driver
    driver.quit()


@pytest.fixture
def browser(chrome, server):
    """The shared Chromium, signed out, at a 1280×800 window."""
    chrome.set_window_size(1280, 800)
    chrome.get(server.url + "/console/")
    chrome.delete_all_cookies()
    chrome.get(server.url + "/")
    return chrome


def wait(driver, condition):
    return WebDriverWait(driver, WAIT_S).until(condition)


def sign_in(driver, key: str) -> None:
    """Type the key and press Enter, as a person at a keyboard would."""
    field = wait(driver, ec.presence_of_element_located((By.ID, "key")))
    field.send_keys(key, Keys.ENTER)


def open_user(driver, server, key: str, user: str) -> None:
    sign_in(driver, key)
    wait(driver, ec.presence_of_element_located((By.LINK_TEXT, user))).click()
    wait(driver, ec.presence_of_element_located((By.ID, "timeline-h")))


def memories(driver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".timeline .memory > .text")]


def seed(server) -> None:
    remember = server.memory.remember
    remember("My dog is called Pixel", "acme:ana", event_time="2026-03-02T08:00:00Z")
    remember("My dog is called Rex now", "acme:ana", event_time="2026-04-11T18:30:00Z")
    remember(
        "Ana's flight to Lisbon leaves on May 4 at 9:40",
        "acme:ana",
        session_id="trip-planning",
        event_time="2026-04-20T10:00:00Z",
        evidence=[{"session_id": "trip-planning", "turn_id": "t7", "uri": "mail://inbox/42"}],
    )
    remember("Ana is allergic to peanuts", "acme:ana", event_time="2026-01-15T12:00:00Z")
    remember("Ana prefers window seats on long flights", "acme:ana")
    remember("globex's own user", "globex:zed")


def test_a_wrong_key_shows_an_error(browser):
    sign_in(browser, "ek_0123456789abcdef_" + "A" * 43)
    alert = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
    assert "That key is not valid" in alert.text
    assert browser.get_cookie("engram_console") is None
    assert browser.find_element(By.ID, "key").get_attribute(
        "aria-describedby"
    ) == alert.get_attribute("id")


def test_sign_in_pick_a_user_and_read_the_timeline(browser, server):
    seed(server)
    sign_in(browser, server.acme)
    users = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, "ul.users")))
    assert users.text.split() == ["ana"]  # not globex's user
    cookie = browser.get_cookie("engram_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert browser.execute_script("return document.cookie") == ""  # scripts cannot read the key
    browser.find_element(By.LINK_TEXT, "ana").click()
    wait(browser, ec.presence_of_element_located((By.ID, "timeline-h")))
    assert memories(browser) == [  # newest event first; the superseded dog name hidden
        "Ana prefers window seats on long flights",
        "Ana's flight to Lisbon leaves on May 4 at 9:40",
        "My dog is called Rex now",
        "Ana is allergic to peanuts",
    ]
    flight = browser.find_elements(By.CSS_SELECTOR, ".timeline .memory")[1]
    chips = [c.text for c in flight.find_elements(By.CSS_SELECTOR, ".chips li")]
    assert "kw:lisbon" in chips and "date:2026-05-04" in chips
    assert "2026-04-20 10:00 UTC" in flight.text and "short-term" in flight.text
    assert "usefulness 0.00" in flight.text and "turn t7" in flight.text
    stats = browser.find_element(By.CSS_SELECTOR, "dl.stats").text.split("\n")
    assert stats[:6] == ["short-term", "4", "long-term", "0", "superseded", "1"]
    assert stats[6] == "on disk" and stats[7].endswith(("bytes", "kB"))


def test_search_and_read_the_explanation(browser, server):
    seed(server)
    open_user(browser, server, server.acme, "ana")
    box = browser.find_element(By.ID, "q")
    box.send_keys("what is my dog called", Keys.ENTER)
    first = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, ".hits .hit-card")))
    assert first.find_element(By.CSS_SELECTOR, ".text").text == "My dog is called Rex now"
    assert "matched tags: kw:call, kw:dog" in first.find_element(By.CSS_SELECTOR, ".why").text
    matched = [c.text for c in first.find_elements(By.CSS_SELECTOR, ".chips li.hit")]
    assert matched == ["kw:call", "kw:dog"]
    score = float(first.find_element(By.CSS_SELECTOR, ".score strong").text.split()[1])
    names = [e.text for e in first.find_elements(By.CSS_SELECTOR, ".parts dt")]
    values = [float(e.text) for e in first.find_elements(By.CSS_SELECTOR, ".parts dd")]
    assert {"similarity", "tags", "statement"} <= set(names)
    assert sum(values) == pytest.approx(score, abs=0.01)  # the parts add up to the score
    note = browser.find_element(By.ID, "superseded-note").text
    assert "1 superseded memory is hidden" in note and "replaced by a newer memory" in note


def test_edit_a_memory(browser, server):
    seed(server)
    open_user(browser, server, server.acme, "ana")
    card = browser.find_elements(By.CSS_SELECTOR, ".timeline .memory")[3]
    assert card.find_element(By.CSS_SELECTOR, ".text").text == "Ana is allergic to peanuts"
    card.find_element(By.CSS_SELECTOR, "details.edit summary").send_keys(Keys.ENTER)
    text = card.find_element(By.TAG_NAME, "textarea")
    text.clear()
    text.send_keys("Ana is allergic to peanuts and cashews")
    card.find_element(By.CSS_SELECTOR, "details.edit button[type=submit]").click()
    notice = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, ".notice")))
    assert notice.text == "Memory updated."
    assert "Ana is allergic to peanuts and cashews" in memories(browser)
    stored = [e.text for e in server.memory.list("acme:ana")]
    assert "Ana is allergic to peanuts and cashews" in stored


def test_delete_asks_first_and_can_be_cancelled(browser, server):
    seed(server)
    open_user(browser, server, server.acme, "ana")
    before = len(server.memory.list("acme:ana"))
    dialog = browser.find_element(By.ID, "confirm-delete")

    def ask_to_delete_the_last_card() -> None:
        card = browser.find_elements(By.CSS_SELECTOR, ".timeline .memory")[-1]
        card.find_element(By.CSS_SELECTOR, "form.delete button").send_keys(Keys.ENTER)
        wait(browser, lambda d: dialog.get_attribute("open") is not None)
        assert browser.find_element(By.ID, "confirm-text").text == "Ana is allergic to peanuts"

    ask_to_delete_the_last_card()
    assert browser.switch_to.active_element.text == "Cancel"  # the safe choice has the focus
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait(browser, lambda d: dialog.get_attribute("open") is None)
    assert len(server.memory.list("acme:ana")) == before

    ask_to_delete_the_last_card()
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.text == "Delete"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    notice = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, ".notice")))
    assert notice.text == "Memory deleted."
    assert "Ana is allergic to peanuts" not in memories(browser)
    assert len(server.memory.list("acme:ana")) == before - 1
    (erased,) = browser.find_elements(By.CSS_SELECTOR, ".erasures li")
    assert erased.text.startswith("#") and " delete 1 engram" in erased.text


def follow(driver, act) -> None:
    """Do `act` (click a link, submit a form) and wait for the next page to load."""
    old = driver.find_element(By.TAG_NAME, "html")
    act()
    # Asked about the old page while it is being replaced, Chrome may answer with an inspector
    # error ("Node ... does not belong to the document") instead of a stale reference: ask again.
    waiting = WebDriverWait(driver, WAIT_S, ignored_exceptions=(WebDriverException,))
    waiting.until(ec.staleness_of(old))
    wait(driver, ec.presence_of_element_located((By.ID, "timeline-h")))


def shown(driver) -> tuple[str, bool, list[str], list[str]]:
    """What the page shows: the search box, the superseded box, the hits and the erasure rows."""
    return (
        driver.find_element(By.ID, "q").get_attribute("value"),
        driver.find_element(By.NAME, "superseded").is_selected(),
        [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".hits .hit-card > .text")],
        [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".erasures .seq")],
    )


def test_paging_the_erasures_keeps_the_search_and_the_toggle(browser, server, monkeypatch):
    monkeypatch.setattr(views, "ERASURES_SHOWN", 2)
    seed(server)
    for text in ("I live in Porto", "I drink tea", "I like cats"):
        server.memory.delete(server.memory.remember(text, "acme:ana").id, "acme:ana")
    open_user(browser, server, server.acme, "ana")
    newest = shown(browser)[3]
    browser.find_element(By.NAME, "superseded").click()
    follow(browser, lambda: browser.find_element(By.ID, "q").send_keys("dog", Keys.ENTER))
    box, ticked, hits, erasures = shown(browser)
    assert (box, ticked, erasures) == ("dog", True, newest) and "My dog is called Pixel" in hits

    follow(browser, browser.find_element(By.LINK_TEXT, "Older erasures").click)
    older = shown(browser)[3]
    assert older and set(older).isdisjoint(newest)
    assert shown(browser) == (box, ticked, hits, older)  # the search card is as it was

    follow(browser, browser.find_element(By.LINK_TEXT, "Hide them").click)  # the timeline's
    box, ticked, hits, erasures = shown(browser)
    assert (box, ticked, erasures) == ("dog", False, older)
    assert "My dog is called Pixel" not in hits and "My dog is called Rex now" in hits

    search = browser.find_element(By.ID, "q")
    search.clear()
    follow(browser, lambda: search.send_keys("flight to Lisbon", Keys.ENTER))
    box, _, hits, erasures = shown(browser)
    assert erasures == older and hits[0].startswith("Ana's flight to Lisbon")

    follow(browser, browser.find_element(By.LINK_TEXT, "Newest erasures").click)
    assert shown(browser) == (box, False, hits, newest)


def search_dogs_with_superseded(browser, server) -> tuple[str, bool, list[str], list[str]]:
    seed(server)
    open_user(browser, server, server.acme, "ana")
    browser.find_element(By.NAME, "superseded").click()
    follow(browser, lambda: browser.find_element(By.ID, "q").send_keys("dog", Keys.ENTER))
    page = shown(browser)
    assert page[:2] == ("dog", True) and "My dog is called Pixel" in page[2]
    return page


def card_of(driver, text: str):
    cards = driver.find_elements(By.CSS_SELECTOR, ".timeline .memory")
    return next(c for c in cards if c.find_element(By.CSS_SELECTOR, ".text").text == text)


def test_an_edit_returns_to_the_search_and_the_toggle(browser, server):
    box, ticked, _, erasures = search_dogs_with_superseded(browser, server)
    card = card_of(browser, "Ana is allergic to peanuts")
    card.find_element(By.CSS_SELECTOR, "details.edit summary").click()
    text = card.find_element(By.TAG_NAME, "textarea")
    text.clear()
    text.send_keys("Ana is allergic to peanuts and cashews")
    follow(browser, card.find_element(By.CSS_SELECTOR, "details.edit button[type=submit]").click)
    assert browser.find_element(By.CSS_SELECTOR, ".notice").text == "Memory updated."
    after = shown(browser)
    assert after[:2] == (box, ticked) and after[3] == erasures
    assert {"My dog is called Pixel", "My dog is called Rex now"} <= set(after[2])
    assert "Ana is allergic to peanuts and cashews" in memories(browser)


def test_deletes_one_by_one_return_to_the_search_and_the_toggle(browser, server):
    box, ticked, _, _ = search_dogs_with_superseded(browser, server)
    for n, text in enumerate(
        ["Ana prefers window seats on long flights", "Ana is allergic to peanuts"]
    ):
        card_of(browser, text).find_element(By.CSS_SELECTOR, "form.delete button").click()
        dialog = browser.find_element(By.ID, "confirm-delete")
        wait(browser, lambda d: d.find_element(By.ID, "confirm-delete").get_attribute("open"))
        follow(browser, dialog.find_element(By.CSS_SELECTOR, "button[value=delete]").click)
        assert browser.find_element(By.CSS_SELECTOR, ".notice").text == "Memory deleted."
        now_box, now_ticked, hits, erasures = shown(browser)
        assert (now_box, now_ticked, len(erasures)) == (box, ticked, n + 1)
        assert "My dog is called Pixel" in hits and text not in hits + memories(browser)


def test_export_downloads_json(browser, server, downloads):
    seed(server)
    open_user(browser, server, server.acme, "ana")
    target = downloads / "engrams-ana.json"
    target.unlink(missing_ok=True)
    browser.find_element(By.LINK_TEXT, "Export JSON").click()
    try:
        # Chromium writes `.crdownload` and renames it when complete.
        wait(browser, lambda d: target.exists() and target.stat().st_size > 0)
    except TimeoutException:
        pytest.fail(f"no download in {downloads}: {os.listdir(downloads)}")
    data = json.loads(target.read_text("utf-8"))
    assert data["user_id"] == "ana"
    assert {e["text"] for e in data["engrams"]} >= {
        "My dog is called Pixel",
        "My dog is called Rex now",
    }


def test_audit_log_shows_the_chains_status(browser, server, tmp_path):
    seed(server)
    open_user(browser, server, server.acme, "ana")
    status = browser.find_element(By.ID, "chain-status").text
    assert status.startswith("✓ hash chain verified")
    actions = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".audit li strong")]
    assert "remember" in actions and "supersede" in actions and actions[0] == "list"
    with sqlite3.connect(tmp_path / "memory.db") as db:  # tamper with one logged event
        db.execute("UPDATE audit SET action = 'get' WHERE seq = 1")
    browser.refresh()
    broken = wait(browser, ec.presence_of_element_located((By.ID, "chain-status")))
    assert broken.text.startswith("✗ hash chain broken") and broken.get_attribute("role") == "alert"


def test_hostile_text_renders_as_text(browser, server):
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    server.memory.remember(hostile, "acme:ana")
    open_user(browser, server, server.acme, "ana")
    assert memories(browser) == [hostile]
    assert browser.execute_script("return window.pwned === undefined")
    browser.find_element(By.ID, "q").send_keys("pwned script", Keys.ENTER)
    hit = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, ".hit-card .text")))
    assert hit.text == hostile
    assert browser.execute_script("return window.pwned === undefined")


def test_pages_fit_a_phone_and_screenshots(browser, server):
    """The timeline at 1280×800 and a search on a 390 px phone render without sideways
    scrolling; with ENGRAM_CONSOLE_SCREENSHOTS set, the pictures are saved there (README)."""
    seed(server)
    open_user(browser, server, server.acme, "ana")
    page = browser.current_url
    out = os.environ.get("ENGRAM_CONSOLE_SCREENSHOTS")
    shots = (
        ("console.png", 1280, 800, ""),
        ("console-phone.png", 390, 844, "?q=flight+to+Lisbon"),
    )
    for name, width, height, query in shots:
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        browser.get(page + query)
        wait(browser, ec.presence_of_element_located((By.ID, "timeline-h")))
        inner = browser.execute_script("return window.innerWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert inner == width and scroll <= inner, f"{name}: {scroll}px of page in {inner}px"
        if out:
            browser.save_screenshot(str(Path(out) / name))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
