"""The recommender for LangChain apps: a Runnable with typed input and output, and a StructuredTool.

    runnable = MarqueeRunnable(recommender)            # or MarqueeRunnable.from_settings(Settings())
    out = runnable.invoke({"query": "I loved Alien and Heat. Something tense, not horror", "n": 3})
    out.recommendations[0].title, out.content          # RecommendOutput: the typed list + the served text
    for chunk in runnable.stream("something funny"): ...   # one film per chunk; chunks add up to invoke's output
    runnable.batch([...]); await runnable.ainvoke(...)
    tool = recommend_tool(runnable)                     # StructuredTool(args_schema=RecommendInput)

Input: a RecommendInput, its dict, or a plain string (the query). `messages` carries the earlier
turns (OpenAI roles), so "#2" and "something shorter" work here exactly as in the chat API.
Every call runs on one event loop owned by the runnable (a background thread): a vLLM engine is
bound to the loop it started on, and LangChain calls sync and async methods from anywhere.
Left out: LangChain callbacks inside a stream (invoke and ainvoke report runs as usual).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from typing import Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from agent.api.logic import item_out, lead_in, line_for, render_content, tail_question
from agent.api.protocol import RecommendationOut
from agent.recommender import Recommender, RecRequest
from agent.types import RankedItem, Recommendation


class ChatTurn(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class RecommendInput(BaseModel):
    """What to ask Marquee for."""

    query: str = Field(min_length=1, description="what the viewer asks for, in plain words, e.g. "
                                                  "'I loved Alien. Something tense, not horror, under two hours'")
    user: str | None = Field(None, description="a known user id: their rated films are history, never recommended")
    messages: list[ChatTurn] = Field(default_factory=list,
                                     description="earlier turns of the conversation, oldest first (optional)")
    n: int | None = Field(None, ge=1, le=20, description="how many films to recommend (default: the server's, 5)")
    explain: bool = Field(True, description="false: ranking only, fact-only explanations (faster)")
    ranking: Literal["one-pass", "generate"] | None = Field(None, description="ranking mode; default: the server's")


class RecommendOutput(BaseModel):
    """Marquee's answer: the typed list, the text the chat API would write, and what it noted.
    Stream chunks add up (`a + b`) to the whole answer."""

    recommendations: list[RecommendationOut] = Field(default_factory=list)
    content: str = ""
    notes: list[str] = Field(default_factory=list)
    remarks: list[str] = Field(default_factory=list)
    question: str | None = None

    def __add__(self, other: RecommendOutput) -> RecommendOutput:
        return RecommendOutput(recommendations=self.recommendations + other.recommendations,
                               content=self.content + other.content, notes=self.notes + other.notes,
                               remarks=self.remarks + other.remarks, question=self.question or other.question)


def to_request(inp: RecommendInput | dict | str) -> RecRequest:
    inp = coerce(inp)
    messages = [t.model_dump() for t in inp.messages] + [{"role": "user", "content": inp.query}]
    return RecRequest(messages=messages, user=inp.user, n=inp.n, explain=inp.explain, ranking=inp.ranking)


def coerce(inp: RecommendInput | dict | str) -> RecommendInput:
    if isinstance(inp, RecommendInput):
        return inp
    if isinstance(inp, str):
        return RecommendInput(query=inp)
    return RecommendInput.model_validate(inp)


def final_output(rec: Recommendation) -> RecommendOutput:
    return RecommendOutput(recommendations=[item_out(r) for r in rec.items],
                           content=render_content(rec.items, False, rec.notes, rec.remarks, rec.question),
                           notes=list(rec.notes), remarks=list(rec.remarks), question=rec.question or None)


class _Loop:
    """One event loop in a daemon thread; coroutines from any thread or loop run on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="marquee-langchain", daemon=True).start()

    def submit(self, coro) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


class MarqueeRunnable(Runnable[RecommendInput, RecommendOutput]):
    """Marquee's Recommender as a LangChain Runnable (invoke, ainvoke, stream, astream, batch)."""

    def __init__(self, recommender: Recommender, *, name: str = "marquee"):
        self.recommender = recommender
        self.name = name
        self._loop = _Loop()

    @classmethod
    def from_settings(cls, settings=None) -> MarqueeRunnable:
        """Build the Recommender named by `settings` (default: Settings()) and start its LLM on the
        runnable's own loop."""
        from agent.config import Settings

        settings = settings or Settings()
        runnable = cls.__new__(cls)
        runnable.name, runnable._loop = "marquee", _Loop()

        async def build() -> Recommender:
            rec = await asyncio.to_thread(Recommender.build, settings)
            await rec.llm.start()
            return rec

        runnable.recommender = runnable._loop.submit(build()).result()
        return runnable

    @property
    def InputType(self) -> type[RecommendInput]:  # noqa: N802 (LangChain's name)
        return RecommendInput

    @property
    def OutputType(self) -> type[RecommendOutput]:  # noqa: N802
        return RecommendOutput

    # ---- one answer ----------------------------------------------------------------------------
    async def _answer(self, inp: RecommendInput | dict | str) -> RecommendOutput:
        return final_output(await self.recommender.recommend(to_request(inp)))

    def _invoke(self, inp: RecommendInput | dict | str) -> RecommendOutput:
        return self._loop.submit(self._answer(inp)).result()

    async def _ainvoke(self, inp: RecommendInput | dict | str) -> RecommendOutput:
        return await asyncio.wrap_future(self._loop.submit(self._answer(inp)))

    def invoke(self, input: RecommendInput | dict | str, config: RunnableConfig | None = None,  # noqa: A002
               **kwargs: Any) -> RecommendOutput:
        return self._call_with_config(self._invoke, input, config)

    async def ainvoke(self, input: RecommendInput | dict | str, config: RunnableConfig | None = None,  # noqa: A002
                      **kwargs: Any) -> RecommendOutput:
        return await self._acall_with_config(self._ainvoke, input, config)

    # ---- streaming -----------------------------------------------------------------------------
    async def _chunks(self, inp: RecommendInput | dict | str) -> AsyncIterator[RecommendOutput]:
        """Lead-in, then one chunk per film as it is explained and checked, then notes (and the question)."""
        req = to_request(inp)
        rec = self.recommender
        prep = await asyncio.to_thread(rec.prepare, req)
        yield RecommendOutput(content=lead_in(prep.notes, prep.remarks))
        async for ev in rec.stream(req, prep):
            if isinstance(ev, RankedItem):
                yield RecommendOutput(recommendations=[item_out(ev)], content=line_for(ev))
            elif isinstance(ev, Recommendation):
                yield RecommendOutput(content=tail_question(ev.question), notes=list(ev.notes),
                                      remarks=list(ev.remarks), question=ev.question or None)

    def _pump(self, inp, put) -> Future:
        """Run _chunks on the runnable's loop, handing each chunk (then None, or the error) to `put`."""
        async def run() -> None:
            try:
                async for c in self._chunks(inp):
                    put(c)
            except BaseException as e:  # noqa: BLE001 (handed to the consumer, which raises it)
                put(e)
                return
            put(None)

        return self._loop.submit(run())

    def stream(self, input: RecommendInput | dict | str, config: RunnableConfig | None = None,  # noqa: A002
               **kwargs: Any) -> Iterator[RecommendOutput]:
        q: queue.Queue = queue.Queue()
        fut = self._pump(input, q.put)
        try:
            while (c := q.get()) is not None:
                if isinstance(c, BaseException):
                    raise c
                yield c
        finally:
            fut.cancel()

    async def astream(self, input: RecommendInput | dict | str, config: RunnableConfig | None = None,  # noqa: A002
                      **kwargs: Any) -> AsyncIterator[RecommendOutput]:
        q: asyncio.Queue = asyncio.Queue()
        here = asyncio.get_running_loop()
        fut = self._pump(input, lambda c: here.call_soon_threadsafe(q.put_nowait, c))
        try:
            while (c := await q.get()) is not None:
                if isinstance(c, BaseException):
                    raise c
                yield c
        finally:
            fut.cancel()


def recommend_tool(runnable: MarqueeRunnable, name: str = "recommend_films",
                   description: str = ("Recommend films from the catalog for a viewer's request in plain words "
                                       "(films they loved, genres, runtime, decade, films to avoid). Returns a "
                                       "ranked list with a short grounded explanation for each film.")) -> StructuredTool:
    """A StructuredTool with RecommendInput as its typed schema. The tool's content is the answer
    text (what an LLM reads); its artifact is the RecommendOutput dict (what code reads)."""

    def run(**kwargs: Any) -> tuple[str, dict]:
        out = runnable.invoke(RecommendInput.model_validate(kwargs))
        return out.content, out.model_dump()

    async def arun(**kwargs: Any) -> tuple[str, dict]:
        out = await runnable.ainvoke(RecommendInput.model_validate(kwargs))
        return out.content, out.model_dump()

    return StructuredTool.from_function(func=run, coroutine=arun, name=name, description=description,
                                        args_schema=RecommendInput, response_format="content_and_artifact")
