"""The serving edge's guards (agent/api/security.Guard) on serve.py's real app with a scripted LLM:
API keys on every /v1/* route, open /health and page files, foreign Host headers refused (DNS
rebinding), cross-site simple-request writes to a user refused (415), and what the start-up says."""

from __future__ import annotations

import httpx
import pytest

from agent.config import Settings
from serve import create_app, exposure
from tests.conftest import ScriptedLLM, answer_json

KEYS = ["k-one", "k-two"]
ASK = {"model": "marquee", "messages": [{"role": "user", "content": "I loved Alien. What next?"}]}
EVENT = {"event_id": "e1", "item_id": "3", "type": "liked"}


@pytest.fixture
def app(make_recommender, settings):
    rec = make_recommender(ScriptedLLM([answer_json(("3", "A film."))]), profile_debounce_s=30)
    return create_app(settings.model_copy(update={"api_key": KEYS}), rec)


@pytest.fixture
async def http(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c
    users = app.state.marquee.get("users")
    if users is not None:
        await users.updater.close()


ROUTES = [  # every /v1 route of the app, with a body where it takes one
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", ASK),
    ("POST", "/v1/render", ASK),
    ("GET", "/v1/items/3/poster", None),
    ("POST", "/v1/users/u1/interactions", EVENT),
    ("GET", "/v1/users/7/profile", None),
    ("PUT", "/v1/users/u1/profile", {"text": "Space films."}),
]


def test_the_table_covers_every_v1_route(app):
    served = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ()) if r.path.startswith("/v1/")}
    ours = {(m, p.replace("/3/", "/{item_id}/").replace("/u1/", "/{user_id}/").replace("/7/", "/{user_id}/"))
            for m, p, _ in ROUTES}
    assert served == ours


@pytest.mark.parametrize("method, path, body", ROUTES)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "k-one", "Basic k-one", "Bearer k-one-and-more"])
async def test_every_v1_route_needs_a_key(http, method, path, body, auth):
    headers = {"authorization": auth} if auth else {}
    r = await http.request(method, path, json=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["code"] == "invalid_api_key"


@pytest.mark.parametrize("method, path, body", ROUTES)
@pytest.mark.parametrize("key", KEYS)
async def test_each_configured_key_opens_every_route(http, method, path, body, key):
    r = await http.request(method, path, json=body, headers={"authorization": f"Bearer {key}"})
    assert r.status_code != 401, r.text
    assert r.status_code < 500, r.text


@pytest.mark.parametrize("path", ["/health", "/", "/web/app.js", "/web/style.css", "/openapi.json"])
async def test_health_and_the_page_stay_open(http, path):
    assert (await http.get(path)).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "", "localhost.:80"])
async def test_a_foreign_host_header_is_refused(http, host):
    """DNS rebinding: a page on evil.example re-points its name at 127.0.0.1; the browser then sends
    `Host: evil.example` (and would carry no key of ours, but a key-less server has none to check)."""
    for path in ("/health", "/", "/v1/models"):
        r = await http.get(path, headers={"host": host, "authorization": "Bearer k-one"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "host_not_allowed", (path, r.text)


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:8000", "LOCALHOST"])
async def test_loopback_names_are_served(http, host):
    assert (await http.get("/health", headers={"host": host})).status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
@pytest.mark.parametrize("method, path", [("POST", "/v1/users/u1/interactions"), ("PUT", "/v1/users/u1/profile")])
async def test_a_cross_site_simple_request_cannot_change_a_user(make_recommender, settings, content_type, method, path):
    """What a form or `fetch(..., {mode: "no-cors"})` on another site can send without a CORS
    preflight: a JSON body labelled text/plain (or a form). Refused before any route runs, even
    without an API key (the loopback default), and nothing is stored."""
    app = create_app(settings, make_recommender(ScriptedLLM(["x"]), profile_debounce_s=30))
    body = b'{"event_id": "e1", "item_id": "3", "type": "liked"}' if "interactions" in path else b'{"text": "pwned"}'
    headers = {"origin": "https://evil.example"} | ({"content-type": content_type} if content_type else {})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.request(method, path, content=body, headers=headers)
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", r.text
        assert (await c.get("/v1/users/u1/profile")).status_code == 404  # nothing was stored
        ok = await c.request(method, path, content=body, headers={"content-type": "application/json"})
        assert ok.status_code == 200, ok.text  # the same body as JSON is served


@pytest.mark.parametrize("env, expected", [
    ("k1", ["k1"]), ("k1,k2", ["k1", "k2"]), (" k1 , k2 ,", ["k1", "k2"]), ("", None),
])
def test_api_key_setting(monkeypatch, env, expected):
    monkeypatch.setenv("MARQUEE_API_KEY", env)
    assert Settings().api_key == expected


def test_repeated_cli_keys_and_hosts():
    s = Settings(api_key=["a", "b,c"], allowed_hosts=["films.example"])
    assert s.api_key == ["a", "b", "c"] and s.allowed_hosts == ["films.example"]


@pytest.mark.parametrize("host, keys, says", [
    ("127.0.0.1", None, "no API key: binding 127.0.0.1 (loopback) only"),
    ("0.0.0.0", None, "WARNING: no API key and binding 0.0.0.0"),
    ("0.0.0.0", ["k"], "API key required on /v1/* (1 key(s) configured)"),
])
def test_startup_says_who_can_reach_it(host, keys, says):
    lines = exposure(Settings(host=host, api_key=keys))
    assert any(says in line for line in lines), lines
    assert "Host headers served: localhost, 127.0.0.1, ::1" in lines[0]


async def test_a_host_allow_list_of_star_accepts_any(make_recommender, settings):
    app = create_app(settings.model_copy(update={"allowed_hosts": ["*"]}), make_recommender())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://films.example") as c:
        assert (await c.get("/health")).status_code == 200
