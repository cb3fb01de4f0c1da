"""The web chat page end to end in headless Chromium (Debian's `chromium` driven by Playwright's
Python package through `executable_path`): serve.py's app with a scripted fake LLM runs under
uvicorn in a thread; the test types a question, waits for the streamed film cards, checks titles,
explanations, the poster image and its placeholder, the buttons, the follow-up conversation, an
error shown from the server's OpenAI error JSON, the interaction POST, and a screenshot.

The interactions and profile routes come from the profiles work (contract in the README's API
table). Where this app has no such route yet, the test answers those two requests itself with
Playwright's `page.route` and checks the page's request body; where it has them, the requests go
to the real server and the test checks its answers. Skips only when chromium or playwright is
missing (`scripts/install.sh` installs both).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from serve import create_app
from tests.conftest import LabelLLM, ScriptedLLM, answer_json, serve_in_thread

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: apt-get install -y chromium "
                                "(scripts/install.sh does it when run as root)")

GOOD_3 = "A 1986 sci-fi action film: Ripley returns with space marines to fight the aliens, like Alien."
GOOD_6 = "A 1982 horror sci-fi film: a research team meets a shape-shifting alien, close to Alien."
POSTER_RGB = (255, 0, 255)  # the fake poster's colour, looked for in the screenshot
VIEW = {"width": 1280, "height": 900}
INTERACTIONS = "/v1/users/{user_id}/interactions"


@pytest.fixture
def server(make_recommender, settings, tmp_path):
    """serve.py's app on a free port: item 3 (Aliens) has a poster record, item 6 (The Thing) none."""
    from PIL import Image

    folder = tmp_path / "art" / "posters"
    folder.mkdir(parents=True)
    Image.new("RGB", (170, 256), POSTER_RGB).save(folder / "aliens.png")
    media = tmp_path / "media.jsonl"
    media.write_text(json.dumps({"item_id": "3", "task": "poster", "source": "posters/aliens.png",
                                 "texts": {"Poster text": "ALIENS"}}) + "\n")
    s = settings.model_copy(update={"posters_dir": folder, "media": [media], "max_input_chars": 1500})
    app = create_app(s, make_recommender(ScriptedLLM([answer_json(("3", GOOD_3), ("6", GOOD_6))]), media=[media]))
    srv, thread, base = serve_in_thread(app)
    yield app, base
    srv.should_exit = True
    thread.join(20)


def test_one_pass_cards_appear_ranked_then_explanations_fill_in(make_recommender, settings, page):
    """One-pass ranking: every film shows as soon as the order is known, each explanation fills its
    card when written (The Thing's takes 2 s here)."""
    def explain(request):
        return GOOD_3 if "Recommended film: Aliens" in request.messages[1]["content"] else GOOD_6

    llm = LabelLLM({"Aliens (1986)": -0.1, "The Thing (1982)": -0.5}, [explain], delays={"The Thing": 2.0})
    srv, thread, base = serve_in_thread(create_app(settings, make_recommender(llm)))
    try:
        page.goto(base + "/")
        page.get_by_label("Ask for a film").fill("I loved Alien. What next?")
        page.get_by_label("Ask for a film").press("Enter")
        cards = page.get_by_role("log").locator("article.film")
        expect = sync_api.expect
        expect(cards).to_have_count(2)
        aliens, thing = cards.nth(0), cards.nth(1)
        expect(aliens.locator(".explanation")).to_have_text(GOOD_3)
        # ranked but not yet explained: shown, marked busy, no actions yet
        expect(thing.get_by_role("heading")).to_have_text("2. The Thing (1982)")
        expect(thing).to_have_attribute("aria-busy", "true")
        expect(thing.locator(".explanation")).to_have_text("Writing why this fits…")
        expect(thing.get_by_role("button")).to_have_count(0)
        expect(thing.locator(".explanation")).to_have_text(GOOD_6)  # then filled in
        expect(thing).to_have_attribute("aria-busy", "false")
        expect(thing.get_by_role("button", name="Seen it")).to_be_visible()
        # the lead: what was taken as a film, then the list's heading; no film title after it
        expect(page.locator(".said").last).to_have_text(re.compile(r"(as a film you liked\.\s+)?Here is what I would watch next:$"))
        expect(cards).to_have_count(2)
    finally:
        srv.should_exit = True
        thread.join(20)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEW)  # fresh cookies and localStorage per test
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


def _has_route(app, path: str) -> bool:
    return any(getattr(r, "path", None) == path for r in app.routes)


# colour contrast of an element's text against the first opaque background behind it (WCAG 2 formula)
CONTRAST_JS = """el => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126*r + 0.7152*g + 0.0722*b; };
  let n = el, bg = null;
  while (n && n.nodeType === 1) { const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length < 4 || c[3] > 0) { bg = c; break; } n = n.parentElement; }
  bg = bg || [255, 255, 255];
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def test_chat_page_end_to_end(server, page, tmp_path):
    expect = sync_api.expect
    app, base = server
    real_profiles = _has_route(app, INTERACTIONS)
    requests, posted = [], []
    page.on("request", lambda r: requests.append(r.url))
    if not real_profiles:  # answer as the contract says, and keep what the page sent
        def interactions(route):
            body = route.request.post_data_json
            posted.append(body)
            route.fulfill(status=200, json={"object": "marquee.interactions", "user": "u-web", "accepted": 1,
                                            "duplicates": [], "history_size": 1})

        def profile(route):
            route.fulfill(status=200, json={"object": "marquee.profile", "user": "u-web", "history": [],
                                            "profile": {"text": "Likes tense science fiction.", "source": "facts",
                                                        "updated_at": 0, "events_seen": len(posted)}})

        page.route("**/v1/users/*/interactions", interactions)
        page.route("**/v1/users/*/profile", profile)

    page.goto(base + "/")
    expect(page).to_have_title("Marquee: what should I watch?")
    page.get_by_label("User id").fill("u-web")
    page.get_by_role("button", name="Use this id").click()
    assert page.evaluate("localStorage.getItem('marquee.user')") == "u-web"

    # ask with the keyboard: Enter sends; the answer streams in as cards inside the live log
    with page.expect_request("**/v1/chat/completions") as first:
        page.get_by_label("Ask for a film").fill("I loved Alien and Heat. What next?")
        page.get_by_label("Ask for a film").press("Enter")
    sent = first.value.post_data_json
    assert sent["stream"] is True and sent["user"] == "u-web" and sent["model"] == "marquee"
    assert sent["messages"] == [{"role": "user", "content": "I loved Alien and Heat. What next?"}]
    log = page.get_by_role("log")
    assert log.get_attribute("aria-live") == "polite"
    cards = log.locator("article.film")
    expect(cards).to_have_count(2)
    expect(page.locator("#status")).to_have_text("")  # no longer busy
    aliens, thing = cards.nth(0), cards.nth(1)
    expect(aliens.get_by_role("heading")).to_have_text("1. Aliens (1986)")
    expect(aliens.locator(".explanation")).to_have_text(GOOD_3)
    expect(thing.get_by_role("heading")).to_have_text("2. The Thing (1982)")
    expect(thing.locator(".explanation")).to_have_text(GOOD_6)
    for card in (aliens, thing):
        for name in ("Seen it", "More like this", "Not for me"):
            expect(card.get_by_role("button", name=name)).to_be_visible()
    poster = aliens.get_by_role("img", name="Poster of Aliens (1986)")
    expect(poster).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 170", arg=poster.element_handle())
    expect(thing.locator(".poster.placeholder")).to_have_text("No poster")  # 404 -> text placeholder
    expect(thing.get_by_role("img")).to_have_count(0)

    # "Seen it", pressed from the keyboard, posts a watched event for the user
    with page.expect_response(lambda r: r.url.endswith("/v1/users/u-web/interactions")) as resp:
        aliens.get_by_role("button", name="Seen it").press("Enter")
    assert resp.value.status == 200
    expect(aliens.get_by_role("button", name="Seen it")).to_have_attribute("aria-pressed", "true")
    expect(aliens.locator(".feedback")).to_have_text("Saved: you have seen it.")
    if real_profiles:
        answer = resp.value.json()
        assert answer["accepted"] == 1 and answer["user"] == "u-web"
        expect(page.locator("#profile-text")).not_to_have_text("Enter a user id to see your profile.")
        expect(page.locator("#profile-text")).not_to_contain_text("Profile unavailable")
    else:
        (body,) = posted
        (event,) = body["events"]
        assert event["item_id"] == "3" and event["type"] == "watched" and event["rating"] is None
        assert isinstance(event["event_id"], str) and event["event_id"] and isinstance(event["timestamp"], int)
        expect(page.locator("#profile-text")).to_have_text("Likes tense science fiction.")

    # screenshot: right size, not blank, header colour on top, the poster's pixels where its box is
    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot))
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    assert img.size == (VIEW["width"], VIEW["height"])
    assert len(img.getcolors(maxcolors=1 << 20)) > 50  # text, borders, poster: not a blank page
    assert img.getpixel((5, 5)) == (0x0B, 0x4F, 0x8A)  # the header band (--accent)
    for loc in (aliens.get_by_role("heading"), aliens.locator(".explanation"), thing.locator(".poster.placeholder"),
                *(aliens.get_by_role("button", name=n) for n in ("Seen it", "More like this", "Not for me"))):
        box = loc.bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= VIEW["width"] and box["y"] + box["height"] <= VIEW["height"]
    box = poster.bounding_box()
    centre = (int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2))
    assert img.getpixel(centre) == POSTER_RGB
    for loc in (aliens.get_by_role("heading"), aliens.locator(".explanation"), aliens.locator(".genres"),
                aliens.get_by_role("button", name="More like this"), page.locator(".top h1"),
                page.get_by_role("button", name="Send")):
        assert loc.evaluate(CONTRAST_JS) >= 4.5, loc

    # "More like this" asks a follow-up with the whole conversation so far
    with page.expect_request("**/v1/chat/completions") as follow:
        thing.get_by_role("button", name="More like this").click()
    msgs = follow.value.post_data_json["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert "1. Aliens (1986): " + GOOD_3 in msgs[1]["content"]
    assert msgs[2] == {"role": "user", "content": "More like The Thing (1982)"}
    expect(log.locator("li.turn.user")).to_have_count(2)
    expect(log.locator("li.turn.assistant").nth(1).locator("article.film")).not_to_have_count(0)

    # a server error is shown from its OpenAI error JSON, and the question comes back to retry
    too_long = "a film please " * 120
    page.get_by_label("Ask for a film").fill(too_long)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("the limit is 1500")
    expect(page.get_by_label("Ask for a film")).to_have_value(too_long.strip())

    assert all(u.startswith(base + "/") for u in requests), "the page loads nothing from other hosts"


def _sse(*events) -> str:
    return "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)


CARD = {"choices": [{"index": 0, "delta": {"content": "1. Heat (1995): A heist.\n"}, "finish_reason": None}],
        "marquee_recommendation": {"rank": 1, "item_id": "2", "title": "Heat", "year": 1995, "genres": ["Crime"],
                                   "explanation": "A heist.", "explanation_source": "facts", "from_llm": True}}
BAD = {"error": {"message": "LLM backend failed: connection refused", "type": "llm_error", "param": None, "code": None}}


@pytest.mark.parametrize("status, body, shown", [
    (502, json.dumps(BAD), "LLM backend failed: connection refused"),          # HTTP error, OpenAI JSON
    (200, _sse(CARD, BAD, "[DONE]"), "LLM backend failed: connection refused"),  # in-band, after a card
    (200, _sse(CARD, "[DONE]"), "the answer stopped before it was complete"),   # no finish_reason
    (500, "<html>proxy error</html>", "HTTP 500"),                              # not JSON at all
])
def test_chat_errors_are_shown(server, page, status, body, shown):
    """What the page does with failures the fake LLM cannot produce: the chat route is answered here."""
    expect = sync_api.expect
    _, base = server
    ctype = "text/event-stream" if body.startswith("data:") else "application/json"
    page.route("**/v1/chat/completions", lambda route: route.fulfill(status=status, body=body, content_type=ctype))
    page.goto(base + "/")
    page.get_by_label("Ask for a film").fill("a heist film")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text(shown)
    expect(page.get_by_label("Ask for a film")).to_have_value("a heist film")  # back in the box to retry
    expect(page.locator(".failed")).to_have_count(1)
    # the failed turn is not part of the conversation: the retry sends only the new question
    with page.expect_request("**/v1/chat/completions") as retry:
        page.get_by_role("button", name="Send").click()
    assert retry.value.post_data_json["messages"] == [{"role": "user", "content": "a heist film"}]


def test_the_page_asks_for_the_api_key_once_and_keeps_it(make_recommender, settings, tmp_path, page):
    """A server with --api-key: the page's first requests get 401, it asks for the key once (a
    native prompt), keeps it in localStorage, sends it on every request and fetches the poster
    with it (an <img> cannot carry the header). A wrong stored key is asked for again."""
    from PIL import Image

    expect = sync_api.expect
    folder = tmp_path / "keyed"
    folder.mkdir()
    Image.new("RGB", (170, 256), POSTER_RGB).save(folder / "3.png")  # named <item_id>.png
    s = settings.model_copy(update={"api_key": ["k-web"], "posters_dir": folder, "media": []})
    srv, thread, base = serve_in_thread(create_app(s, make_recommender(
        ScriptedLLM([answer_json(("3", GOOD_3), ("6", GOOD_6))]), media=[])))
    asked, unauthorised = [], []
    page.on("dialog", lambda d: (asked.append(d.message), d.accept("k-web")))
    page.on("response", lambda r: unauthorised.append(r.url) if r.status == 401 else None)
    try:
        page.goto(base + "/")
        expect(page.locator("#status")).to_have_text("")  # /v1/models answered once the key was given
        assert len(asked) == 1 and "API key" in asked[0]
        assert page.evaluate("localStorage.getItem('marquee.apiKey')") == "k-web"
        with page.expect_request("**/v1/chat/completions") as chat:
            page.get_by_label("Ask for a film").fill("I loved Alien. What next?")
            page.get_by_label("Ask for a film").press("Enter")
        assert chat.value.headers["authorization"] == "Bearer k-web"
        cards = page.get_by_role("log").locator("article.film")
        expect(cards).to_have_count(2)
        poster = cards.nth(0).get_by_role("img", name="Poster of Aliens (1986)")
        page.wait_for_function("img => img.complete && img.naturalWidth === 170", arg=poster.element_handle())
        assert len(asked) == 1  # the chat and the poster used the kept key

        page.reload()
        expect(page.locator("#status")).to_have_text("")
        assert len(asked) == 1  # kept across reloads, like the user id
        page.evaluate("localStorage.setItem('marquee.apiKey', 'stale')")
        page.reload()
        expect(page.locator("#status")).to_have_text("")
        assert len(asked) == 2 and page.evaluate("localStorage.getItem('marquee.apiKey')") == "k-web"
        assert unauthorised and all("/v1/" in u for u in unauthorised)
    finally:
        srv.should_exit = True
        thread.join(20)
