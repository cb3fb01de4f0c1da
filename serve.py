"""Marquee's OpenAI-compatible server: `python serve.py [--host 127.0.0.1] [--port 8000]`.

Thin by design: create_app(settings) -> FastAPI app with routes only; request/response models
are in agent/api/protocol.py, the logic in agent/api/logic.py, the pipeline in agent/recommender.py.

Routes: GET /health, GET /v1/models, POST /v1/chat/completions (stream or not),
POST /v1/render (dry run: the rendered prompt and candidates, no LLM call; beyond the OpenAI spec).
The model loads in the background after start-up: /health answers 503 until it is ready, 200 after.
Every error is OpenAI-shaped JSON: {"error": {"message", "type", "param", "code"}}.

The web chat page: GET / (static files in agent/web/, under /web/) and GET /v1/items/{item_id}/poster
(the item's poster image from the catalog's media paths, see agent/posters.py; beyond the OpenAI spec).

Users (beyond the OpenAI spec; logic in agent/api/users.py): POST /v1/users/{user_id}/interactions,
GET and PUT /v1/users/{user_id}/profile.

The edge (README "Security and limits"): agent/api/security.Guard checks the Host header, the API
key (`--api-key`, every /v1/* route) and the content type of user writes before any route runs;
chat requests pass agent/api/admission (bounded slots and queue: 429 with Retry-After) under a
per-request deadline (504, the LLM work is cancelled); bodies are parsed with limits
(agent/api/protocol.parse_json). Without a key the server binds loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

import agent
from agent.api import logic
from agent.api.admission import Admission, Busy, DeadlineExceeded
from agent.api.protocol import BadJSON, ChatCompletionRequest, ModelCard, ModelList, error_body, openapi_body, parse_json
from agent.api.security import LOOPBACK_NAMES, Guard, default_hosts
from agent.config import Settings
from agent.errors import InvalidRequest, MarqueeError, NotReady, PosterNotFound, RequestTooLarge
from agent.explain import opener

log = logging.getLogger("marquee")
WEB = Path(agent.__file__).resolve().parent / "web"  # the chat page: plain HTML, CSS and JS, no build step
POSTER_CACHE = {"Cache-Control": "public, max-age=86400"}


def _err(status: int, message: str, type_: str, param: str | None = None, code=None) -> JSONResponse:
    return JSONResponse(error_body(message, type_, param=param, code=code), status_code=status)


def _validation_message(e: ValidationError | RequestValidationError) -> tuple[str, str | None]:
    first = e.errors()[0]
    loc = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
    return (f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))), (loc or None)


class GatedStream(StreamingResponse):
    """A stream that gives back its admission slot however it ends (finished, failed, client gone),
    closing its generator first so the LLM work behind it is cancelled."""

    def __init__(self, content, release, **kw):
        super().__init__(content, **kw)
        self._release = release

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                await self.body_iterator.aclose()
            finally:
                await self._release()


def deadline_error(settings: Settings) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"the answer was not ready within the {settings.request_timeout_s:g} s deadline "
        "(MARQUEE_REQUEST_TIMEOUT_S) and was cancelled: the server is busy; retry later, or ask with "
        '"explain": false for a faster answer')


def create_app(settings: Settings, recommender=None, *, builder=None) -> FastAPI:
    """`recommender` given: serve it (tests). Otherwise `builder()` (default: Recommender.build)
    runs in the background at start-up and the app reports ready when it returns."""
    state: dict = {"rec": recommender, "error": None}
    gate = Admission(settings.max_active_requests, settings.max_queued_requests)

    async def load() -> None:
        try:
            if builder is not None:
                rec = await asyncio.to_thread(builder)
                await rec.llm.start()
            else:
                from agent.llm import load_llm
                from agent.recommender import Recommender

                # The engine loads while the catalog, embedder and store are prepared.
                llm = load_llm(settings)
                engine = asyncio.create_task(llm.start())
                try:
                    rec = await asyncio.to_thread(Recommender.build, settings, llm=llm)
                except BaseException:
                    # Let the engine finish loading (it runs in a thread) so close() really
                    # stops its processes; then report the build failure.
                    await asyncio.gather(engine, return_exceptions=True)
                    await llm.close()
                    raise
                try:
                    await asyncio.shield(engine)  # a shutdown during start waits for the engine, then closes it
                except asyncio.CancelledError:
                    await asyncio.gather(engine, return_exceptions=True)
                    await llm.close()
                    raise
            from agent.prompts import protect_special_tokens

            protect_special_tokens(rec.prompts, rec.llm)  # the tokenizer's control tokens never come from data
            state["rec"] = rec
            log.warning("marquee ready: model %s", settings.model)
        except Exception as e:  # reported by /health and every route
            state["error"] = e
            log.exception("marquee failed to start")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = None
        if state["rec"] is None:
            task = asyncio.create_task(load())
        yield
        if task is not None and not task.done():
            task.cancel()  # load() closes an engine it had started (see its except)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        if state.get("users") is not None:
            await state["users"].updater.close()  # pending profile rewrites resume on the next GET
        rec = state["rec"]
        if rec is not None and rec.llm is not None:
            await rec.llm.close()

    app = FastAPI(title="Marquee", version="0.1.0", lifespan=lifespan)
    from agent.api.users import EventIn, InteractionsIn, ProfileIn

    # The routes read their bodies themselves (size and JSON limits first); the schema still says what they take.
    chat_body, defs = openapi_body(ChatCompletionRequest)
    served = [settings.served_model_name, *([settings.lora_name] if settings.lora else [])]
    chat_body["requestBody"]["content"]["application/json"]["schema"]["properties"]["model"]["enum"] = served
    events_body, more = openapi_body(InteractionsIn | EventIn | list[EventIn])
    profile_body, _ = openapi_body(ProfileIn)
    defs.update(more)
    fastapi_openapi = app.openapi

    def openapi():
        if app.openapi_schema is None:
            fastapi_openapi().setdefault("components", {}).setdefault("schemas", {}).update(defs)
        return app.openapi_schema

    app.openapi = openapi
    app.add_middleware(Guard, api_keys=settings.api_key,
                       allowed_hosts=settings.allowed_hosts or default_hosts(settings.host))
    app.state.admission = gate

    def ready():
        if state["rec"] is not None:
            return state["rec"]
        if state["error"] is not None:
            err = state["error"]
            if isinstance(err, MarqueeError):
                raise err
            raise NotReady(f"start-up failed: {type(err).__name__}: {err}")
        raise NotReady("the model is still loading; retry when GET /health answers 200")

    @app.exception_handler(MarqueeError)
    async def _marquee_error(_: Request, e: MarqueeError):
        resp = _err(e.status, e.message, e.type, e.param, e.code)
        if isinstance(e, Busy):
            resp.headers["Retry-After"] = str(e.retry_after)
        return resp

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, e: RequestValidationError):
        msg, param = _validation_message(e)
        return _err(400, msg, "invalid_request_error", param)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, e: StarletteHTTPException):
        type_ = "not_found_error" if e.status_code == 404 else "invalid_request_error"
        return _err(e.status_code, str(e.detail), type_)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, e: Exception):
        log.exception("unhandled error")
        return _err(500, f"internal error: {type(e).__name__}", "server_error")

    async def read_json(request: Request):
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_request_bytes:
            raise RequestTooLarge(f"request body is {declared} bytes; the limit is {settings.max_request_bytes}")
        raw = bytearray()
        async for part in request.stream():
            raw += part
            if len(raw) > settings.max_request_bytes:
                raise RequestTooLarge(f"request body exceeds the limit of {settings.max_request_bytes} bytes")
        try:
            return parse_json(bytes(raw), settings.max_json_depth, settings.max_json_number_chars)
        except BadJSON as e:
            raise InvalidRequest(str(e), param=e.param) from None

    async def parse_body(request: Request) -> ChatCompletionRequest:
        data = await read_json(request)
        if not isinstance(data, dict):
            raise InvalidRequest("request body must be a JSON object")
        try:
            return ChatCompletionRequest.model_validate(data)
        except ValidationError as e:
            msg, param = _validation_message(e)
            raise InvalidRequest(msg, param=param) from None

    @app.get("/health")
    async def health():
        if state["rec"] is not None:
            return {"status": "ok", "model": settings.model}
        if state["error"] is not None:
            return _err(503, f"start-up failed: {state['error']}", "server_error", code="startup_failed")
        return _err(503, "loading the model", "server_error", code="not_ready")

    @app.get("/v1/models")
    async def models():
        rec = ready()
        adapters = rec.llm.adapters if rec.llm else ()
        cards = [ModelCard(id=settings.served_model_name, root=settings.model)]
        cards += [ModelCard(id=a, root=str(settings.lora), parent=settings.served_model_name) for a in adapters]
        return ModelList(data=cards)

    @app.post("/v1/render", openapi_extra=chat_body)
    async def render(request: Request):
        rec = ready()
        body = await parse_body(request)
        req = logic.to_rec_request(body, settings, rec.llm.adapters if rec.llm else ())
        prep = await asyncio.to_thread(rec.prepare, req)
        # One-pass ranking shows the LLM only labels, genres and keywords; each film's evidence
        # (agent/explain) is what its explanation is written from: the verbalizer prompt of the first
        # candidate is rendered here, and every candidate's evidence is listed.
        one_pass = rec.ranking_mode(req) == "one-pass"
        explain, explain_prefix = None, None
        evidence = await asyncio.to_thread(rec.evidence, req, prep) if prep.candidates else {}
        if one_pass and prep.candidates:
            first = prep.candidates[0].item
            explain = rec.explain_prompt(prep.query, prep.history, first, evidence=evidence[first.item_id])
            if getattr(rec.llm, "continues_prefix", False):  # the answer start the model continues (agent/explain)
                explain_prefix = opener(evidence[first.item_id])
        return {
            "messages": prep.prompt,
            "explain_messages": explain,
            "explain_prefix": explain_prefix,  # extension: the explanation's first words, written by code
            "prompt_tokens": rec.llm.count_tokens(prep.prompt) if rec.llm else None,
            "query": prep.query,
            "history": [{"item_id": e.item_id, "liked": e.liked} for e in prep.history.entries],
            "profile": prep.history.profile,  # extension: the stored profile text the prompt shows ("" none)
            "named_titles": [{"text": m.text, "item_id": m.item.item_id, "label": m.item.label} for m in prep.named],
            "candidates": [
                {"item_id": c.item.item_id, "title": c.item.title, "year": c.item.year, "score": c.score,
                 "sources": list(c.sources)} for c in prep.candidates
            ],
            "evidence": [evidence[c.item.item_id].as_dict() for c in prep.candidates],  # extension
            "response_schema": prep.schema,
            "constraints": prep.constraints.as_dict(),  # extension: what retrieval applied
            # extension: the request as read once (agent/understand): films and roles, choice set, soft preferences
            "understanding": prep.understanding.as_dict() if prep.understanding else None,
            "notes": list(prep.notes),
        }

    @app.post("/v1/chat/completions", openapi_extra=chat_body)
    async def chat(request: Request):
        rec = ready()
        body = await parse_body(request)
        req = logic.to_rec_request(body, settings, rec.llm.adapters if rec.llm else ())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.request_timeout_s  # queue wait included
        if not body.stream:
            try:
                async with asyncio.timeout_at(deadline):
                    async with gate.slot():
                        return await logic.complete(rec, body, req)
            except TimeoutError:
                raise deadline_error(settings) from None
        held = AsyncExitStack()
        try:
            async with asyncio.timeout_at(deadline):
                await held.enter_async_context(gate.slot())
                # Resolve and retrieve before the first byte, so bad input still gets a proper HTTP error.
                prep = await asyncio.to_thread(rec.prepare, req)
        except BaseException as e:
            await held.aclose()
            if isinstance(e, TimeoutError):
                raise deadline_error(settings) from None
            raise
        events = logic.stream_events(rec, body, req, prep)

        async def sse():
            try:
                while True:
                    try:
                        ev = await asyncio.wait_for(anext(events), max(0.0, deadline - loop.time()))
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        raise deadline_error(settings) from None
                    yield f"data: {json.dumps(ev, ensure_ascii=False)}\n\n"
            except MarqueeError as e:
                yield f"data: {json.dumps(error_body(e.message, e.type, param=e.param, code=e.code))}\n\n"
            except Exception as e:  # headers are sent: report in-band, as OpenAI does
                log.exception("stream failed")
                yield f"data: {json.dumps(error_body(f'internal error: {type(e).__name__}', 'server_error'))}\n\n"
            finally:
                await events.aclose()  # cancels the LLM work of an abandoned stream
            yield "data: [DONE]\n\n"

        return GatedStream(sse(), held.aclose, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/web", StaticFiles(directory=WEB), name="web")

    @app.get("/v1/items/{item_id}/poster")
    async def poster(item_id: str, request: Request):
        rec = ready()
        if item_id not in rec.items:
            raise PosterNotFound(f"no catalog item with id {item_id!r}", param="item_id", code="item_not_found")
        if state.get("posters") is None:
            from agent.posters import PosterIndex

            state["posters"] = await asyncio.to_thread(PosterIndex.build, settings)
        path = state["posters"].find(item_id)
        if path is None:
            raise PosterNotFound(f"no poster image for item {item_id!r} (set MARQUEE_POSTERS_DIR to a poster folder)",
                                 param="item_id")
        resp = FileResponse(path, media_type=state["posters"].media_type(path), headers=POSTER_CACHE,
                            stat_result=path.stat())  # sets ETag and Last-Modified now
        if request.headers.get("if-none-match") == resp.headers["etag"]:  # the browser's copy is current
            return Response(status_code=304, headers={"ETag": resp.headers["etag"], **POSTER_CACHE})
        return resp

    def users():
        rec = ready()
        if state.get("users") is None:
            from agent.api.users import Users

            state["users"] = Users(rec)
        return state["users"]

    @app.post("/v1/users/{user_id}/interactions", openapi_extra=events_body)
    async def interactions(user_id: str, request: Request):
        u = users()
        return await u.add(user_id, await read_json(request))

    @app.get("/v1/users/{user_id}/profile")
    async def get_profile(user_id: str):
        return await users().get(user_id)

    @app.put("/v1/users/{user_id}/profile", openapi_extra=profile_body)
    async def put_profile(user_id: str, request: Request):
        u = users()
        return await u.put(user_id, await read_json(request))

    app.state.marquee = state
    return app


def exposure(settings: Settings) -> list[str]:
    """What the start-up says about who can reach the server (printed before it binds)."""
    hosts = settings.allowed_hosts or default_hosts(settings.host)
    said = [f"[marquee] Host headers served: {', '.join(hosts)} (MARQUEE_ALLOWED_HOSTS)"]
    if settings.api_key:
        return said + [f"[marquee] API key required on /v1/* ({len(settings.api_key)} key(s) configured)"]
    if settings.host in LOOPBACK_NAMES:
        return said + [f"[marquee] no API key: binding {settings.host} (loopback) only; anyone on this machine can "
                       "read and change every user's data. Set --api-key / MARQUEE_API_KEY before exposing it."]
    return said + [f"[marquee] WARNING: no API key and binding {settings.host}: anyone who can reach this port can "
                   "read and change every user's data. Set --api-key / MARQUEE_API_KEY."]


def uvicorn_options(settings: Settings) -> dict:
    """uvicorn.run keywords: bind address and the keep-alive idle time (agent/config.keep_alive_s)."""
    return {"host": settings.host, "port": settings.port, "log_level": "info", "timeout_keep_alive": settings.keep_alive_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Marquee OpenAI-compatible recommender server")
    ap.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=None, help="port (default 8000)")
    ap.add_argument("--model", help="HF id, local dir or pack:<name> (default: settings)")
    ap.add_argument("--lora", help="LoRA adapter directory to serve")
    ap.add_argument("--llm-url", help="use a remote OpenAI-compatible server instead of in-process vLLM")
    ap.add_argument("--catalog", help="catalog (MovieLens dir or JSONL)")
    ap.add_argument("--tmdb", help="TMDB facts JSONL keyed by movieId (MovieLens catalogs; default: the demo's, "
                    "or none when --catalog is given)")
    ap.add_argument("--interactions", help="interaction log for user histories")
    ap.add_argument("--collection", help="Chroma collection name")
    ap.add_argument("--chroma-url", help="Chroma server URL (default: embedded on disk)")
    ap.add_argument("--api-key", action="append", help="key clients send as `Authorization: Bearer <key>` on /v1/*; "
                    "repeat or comma-separate for several (default: MARQUEE_API_KEY; none: loopback only)")
    ap.add_argument("--allowed-host", action="append", dest="allowed_hosts",
                    help="Host header name to serve (repeatable; default: loopback names and the bound host; * any)")
    args = ap.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None and k != "llm_url"}
    if args.llm_url:
        overrides.update(llm_backend="openai", llm_url=args.llm_url)
    # --catalog without --tmdb / --interactions / --collection: the demo's files describe only the demo,
    # so they are dropped, unless the environment names them (MARQUEE_TMDB, ...: the operator's choice)
    if args.catalog and not args.tmdb and "MARQUEE_TMDB" not in os.environ:
        overrides["tmdb"] = None
    if args.catalog and not args.interactions and "MARQUEE_INTERACTIONS" not in os.environ:
        overrides["interactions"] = None
    try:
        settings = Settings(**overrides)
    except ValidationError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    for name in ("catalog", "tmdb", "interactions", "lora"):
        path = getattr(settings, name)
        if path is not None and not path.exists():
            print(f"configuration error: {name} path {path} does not exist", file=sys.stderr)
            return 2
    if args.catalog and not args.collection and "MARQUEE_COLLECTION" not in os.environ:  # a catalog of its own gets a collection of its own, by content hash
        from agent.catalog import load_catalog
        from agent.ingest import collection_name

        try:
            items = load_catalog(settings.catalog, settings.tmdb, settings.media)
        except MarqueeError as e:
            print(f"catalog error: {e}", file=sys.stderr)
            return 2
        settings = settings.model_copy(update={"collection": collection_name(items, settings.embedder)})
        print(f"[marquee] catalog {settings.catalog}: collection {settings.collection!r}", file=sys.stderr)
    for line in exposure(settings):
        print(line, file=sys.stderr, flush=True)
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    uvicorn.run(app, **uvicorn_options(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
