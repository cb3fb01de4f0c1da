"""The pipeline that ties the stages together; the one object serve.py holds.

    rec = Recommender.build(settings)                     # loads catalog, store, embedder, LLM
    prep = rec.prepare(RecRequest(messages=[...], user="42"))   # resolve + retrieve + render (no LLM)
    async for event in rec.stream(req): ...               # RankedItem as each is validated, then Recommendation
    result = await rec.recommend(req)

Request understanding (agent/understand, once per request: `Prepared.understanding`): films named
in the user's messages, found over the whole text first ("I loved Alien and Heat"), join the
history as liked, "I've seen X" as seen and "I didn't like X" as disliked; the user's history
comes from the interaction log when `user` is a known id; the search text is the latest user
turn that asks for something, with titles and exclusion/runtime/year phrases cut out; soft
preferences (genres, mood words, "hidden gem", a decade) go to a retriever that reads them
(`soft=`); what was taken as a film is said before the list (`remarks`). Hard constraints from every user turn (genres, runtime,
years, excluded films, a "which of these" choice set) are applied in retrieval, so every
candidate, and so every recommendation, satisfies them; when fewer than n films do, fewer come
back with a note saying so.

Ranking (settings.ranking):
  one-pass  the candidates get letters A, B, ...; one forward pass reads the log-probability of
            each letter as the answer's first token and orders all K candidates by it (LlamaRec's
            verbalizer ranking). Then one explanation request per top-n film runs concurrently
            (agent/explain: the film's evidence only, shared system prefix, prefix-cached; verified,
            two candidates at once, the best passing one, else the evidence fallback). The final order is yielded at once
            (a Ranking event: clients show the first film after one forward pass), then each film
            streams, in rank order, as soon as its explanation is checked. Output ids can only be candidates by
            construction. Requests with explain=False (or a tiny max_tokens) skip the explanation
            requests and return fact-only explanations: ranking costs one forward pass.
  generate  the model writes the whole ranked list as JSON under a schema whose id enum is the
            candidate set (structured decoding), parsed and validated as it streams.
Conversation (agent/conversation): films of earlier answers are never recommended again; "#2",
"the second one", "that one" point into the latest answer and act like named titles ("I've seen
#1" is history); "more like #2" / "something like Alien" anchor retrieval on that film's vector;
"something different" asks for genre-diverse candidates, away from the last answer. A new user
with a vague request ("something good") gets popular, varied films and, once per conversation,
one short clarifying question after the list (`Recommendation.question`); how remakes, typos and
references were read is said before the list (`Recommendation.remarks`).
Living profiles (agent/profiles): with a ProfileStore (serve.py's build opens one), a user's
stored interaction events join their catalog history on every request, so the next answer already
reflects them, and their profile text goes into the prompts ("Viewer profile: ...") and retrieval.
Left out: moods beyond the constraint words, cast (not in the data).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from agent.config import Settings
from agent.constraints import CHOICE, DISLIKED, HISTORY_ROLES, LIKED, Constraints
from agent.conversation import CLARIFYING_QUESTION
from agent.embedding import Embedder
from agent.errors import InvalidRequest, StoreError
from agent.explain import Evidence, EvidenceBuilder, Explainer, verbalize_prompt
from agent.explain.evidence import Centrality, NameCasing
from agent.llm.base import LLM, GenerationRequest, LabelRequest
from agent.profiles import ProfileStore, merge_history
from agent.prompts import Prompts, _clip
from agent.ranking import LABELS, StreamParser, Validator, order_by_label_scores, ranking_schema
from agent.retrieval import CoOccurrence, RetrievalWeights, Retriever, Transitions
from agent.store import ItemStore
from agent.titles import TitleIndex, TitleMatch
from agent.quality import Quality
from agent.types import Candidate, HistoryEntry, Item, RankedItem, Ranking, Recommendation, SoftPreferences, UserHistory
from agent.understand import Understanding, search_text, understand
from agent.vocab import TitleVectors, Vocabulary, read_soft

NO_MATCH = "no film matches"  # starts the note of an answer the constraints left empty


def merged_soft(read: SoftPreferences, understood: SoftPreferences) -> SoftPreferences:
    """The retrieval's reading of the search text (agent/vocab.read_soft: content words and the
    genres their vocabulary terms name; what the retrieval weights were tuned on) with what the
    understanding stage read from the whole conversation added: its genres after the text's own,
    its popularity cue and decade where the text gave none, and the moods it asks away.

    >>> merged_soft(SoftPreferences(genres=("Comedy",), terms=("light",)),
    ...             SoftPreferences(genres=("Animation", "Comedy"), popularity="obscure", decade=1990))
    SoftPreferences(genres=('Comedy', 'Animation'), terms=('light',), popularity='obscure', decade=1990, avoid=())
    """
    return replace(read, genres=tuple(dict.fromkeys((*read.genres, *understood.genres))),
                   popularity=read.popularity or understood.popularity, decade=read.decade or understood.decade,
                   avoid=tuple(dict.fromkeys((*read.avoid, *understood.avoid))))


@dataclass(frozen=True)
class RecRequest:
    messages: list[dict]  # [{"role": "user", "content": "..."}]; assistant turns may carry "marquee_recommendations"
    user: str | None = None
    n: int | None = None
    temperature: float = 0.0
    max_tokens: int | None = None
    adapter: str | None = None
    explain: bool | None = None  # None: explain unless max_tokens is too small for it
    ranking: str | None = None  # "one-pass" | "generate"; None: settings.ranking
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Prepared:
    request: RecRequest
    query: str
    history: UserHistory
    named: tuple[TitleMatch, ...]
    candidates: tuple[Candidate, ...]
    prompt: list[dict[str, str]]
    schema: dict
    n: int
    notes: tuple[str, ...] = ()
    constraints: Constraints = Constraints()  # what retrieval applied (agent/constraints)
    remarks: tuple[str, ...] = ()  # said to the user before the list (agent/conversation)
    question: str = ""  # one clarifying question after the list, or ""
    anchors: tuple[str, ...] = ()  # "more like" item ids retrieval anchored on
    understanding: Understanding | None = None  # the request as read once (agent/understand)


class Recommender:
    def __init__(
        self,
        settings: Settings,
        items: list[Item],
        histories: dict[str, UserHistory],
        store: ItemStore,
        embedder: Embedder,
        llm: LLM | None,
        *,
        collab: CoOccurrence | None = None,
        sequence: Transitions | None = None,
        prompts: Prompts | None = None,
        media_store: ItemStore | None = None,
        profiles: ProfileStore | None = None,
        sasrec=None,  # agent.sequential.SequentialModel: its list joins the fusion
        quality: Quality | None = None,
        vocab: Vocabulary | None = None,
        titles: TitleVectors | None = None,
    ):
        self.settings = settings
        self.items = {it.item_id: it for it in items}
        self.histories = histories
        self.store = store
        self.embedder = embedder
        self.llm = llm
        self.prompts = prompts or Prompts()
        self.profiles = profiles  # None (evals, finetune): the catalog's histories only
        pop = collab.popularity if collab else {}
        self.titles = TitleIndex(items, pop)
        self._casing: NameCasing | None = None  # evidence_builder(): the catalog's name casing
        self._centrality = Centrality(embedder.embed)  # evidence_builder(): keyword vectors, kept
        self.retriever = Retriever(
            store, embedder, self.items, collab, sequence,
            history_in_query=settings.history_in_query, rrf_k=settings.rrf_k,
            weights=RetrievalWeights(settings.weight_query, settings.weight_history,
                                     settings.weight_collab, settings.weight_sequence, profile=settings.weight_profile,
                                     sasrec=settings.weight_sasrec,
                                     genre=settings.weight_genre, theme=settings.weight_theme,
                                     quality=settings.weight_quality, quality_history=settings.weight_quality_history,
                                     quality_cue=settings.weight_quality_cue),
            media_store=media_store,
            dislike_push=settings.dislike_push,
            sasrec=sasrec,
            quality=quality, vocab=vocab, titles=titles, title_penalty=settings.title_penalty,
        )

    @classmethod
    def build(cls, settings: Settings, *, llm: LLM | None = None, embedder: Embedder | None = None,
              ingest_missing: bool = True, with_llm: bool = True) -> Recommender:
        """Load everything named by `settings` (with the weights tuned for its collection, agent/tuning).
        Ingests catalog items missing from the store."""
        from agent.tuning import apply_tuned

        settings = apply_tuned(settings)
        from agent.catalog import build_histories, load_catalog, load_interactions
        from agent.embedding import load_embedder
        from agent.ingest import ingest, open_store

        items = load_catalog(settings.catalog, settings.tmdb, settings.media)
        interactions = load_interactions(settings.interactions) if settings.interactions else []
        histories = build_histories(interactions, settings.like_threshold)
        embedder = embedder or load_embedder(settings.embedder)
        store = open_store(settings, embedder)
        if ingest_missing:
            report = ingest(items, store, embedder)
            if report.embedded:
                print(f"[marquee] embedded {report.embedded} new or changed items", flush=True)
            if report.restamped:
                print(f"[marquee] rewrote the metadata of {report.restamped} items (no embedding)", flush=True)
        elif store.count() == 0:
            raise StoreError(f"collection {settings.collection!r} is empty: run `python -m agent.ingest`")
        media_store = None
        if settings.media_vectors:
            from agent.ingest import ingest_media

            media_store = open_store(settings, embedder, media=True)
            if ingest_missing:
                m = ingest_media(items, media_store, embedder)
                if m.embedded:
                    print(f"[marquee] embedded {m.embedded} new or changed media texts", flush=True)
        collab = CoOccurrence(interactions) if interactions else None
        sequence = Transitions([[e.item_id for e in h.entries] for h in histories.values()]) if histories else None
        if llm is None and with_llm:
            from agent.llm import load_llm

            llm = load_llm(settings)
        profiles = ProfileStore(settings.profiles_file)
        sasrec = _served_sasrec(settings, interactions)
        quality = Quality(interactions, prior_count=settings.quality_prior_count) if interactions else None
        vocab = Vocabulary.build(items, embedder, settings.home / "vocab")
        titles = TitleVectors(items, embedder, settings.home / "vocab") if settings.title_penalty > 0 else None
        return cls(settings, items, histories, store, embedder, llm, collab=collab, sequence=sequence,
                   media_store=media_store, profiles=profiles, sasrec=sasrec, quality=quality, vocab=vocab,
                   titles=titles)

    def stored_history(self, user: str) -> UserHistory | None:
        """The catalog's history of `user` merged with their stored interaction events, with their
        profile text (cut to profile_prompt_chars); None when neither the catalog nor the store knows them."""
        base = self.histories.get(user)
        if self.profiles is None:
            return base
        events = self.profiles.events(user)
        prof = self.profiles.profile(user)
        if base is None and not events and prof is None:
            return None
        s = self.settings
        text = _clip(prof.text, s.profile_prompt_chars) if prof and prof.text and s.profile_prompt_chars else ""
        return merge_history(base, user, events, like_threshold=s.like_threshold,
                             dislike_threshold=s.dislike_threshold, skip_days=s.skip_days, profile=text)

    # ---- stage 1: understand the request, resolve the history -----------------------------
    def understand(self, messages: list[dict]) -> Understanding:
        """The conversation read once (agent/understand): films and roles, choice set, references,
        hard constraints, soft preferences, search text."""
        if not any(m.get("role") == "user" for m in messages):
            raise InvalidRequest("messages must contain at least one user message", param="messages")
        return understand(messages, self.titles, self.items)

    def resolve(self, messages: list[dict], user: str | None, u: Understanding | None = None
                ) -> tuple[str, UserHistory, tuple[TitleMatch, ...], list[str], Constraints]:
        """(query, history, named titles, notes, constraints). Named films (and films referred to,
        "#2") join the history by their role: liked, seen (not liked) or disliked; films in a choice
        set or "not X" do not."""
        u = u or self.understand(messages)
        notes = list(u.notes)
        base = self.stored_history(user) if user else None
        if user and base is None:
            notes.append(f"user {user!r} has no stored history; using the conversation only")
        entries = list(base.entries) if base else []
        known = {e.item_id for e in entries}
        constraints = u.constraints
        for iid, role in constraints.roles:
            if role in HISTORY_ROLES and iid not in known:
                entries.append(HistoryEntry(iid, liked=role == LIKED, disliked=role == DISLIKED))
                known.add(iid)
        for iid, role in constraints.roles:
            if role == CHOICE and iid in known and iid in self.items:
                notes.append(f"{self.items[iid].label} is in your history, so it is left out of the choice")
        history = replace(base, entries=tuple(entries)) if base else UserHistory(user, tuple(entries))
        return u.request, history, u.named, notes, constraints

    def search_text(self, query: str, typos: bool = True) -> str:
        """The query as embedded for semantic search (agent/understand.search_text): titles named in
        it cut out (they are history now, and their words would pull in namesakes: "Heat" -> "Dead
        Heat"), exclusion, runtime and year phrases cut out ("not horror" would pull horror closer),
        and nothing at all when only filler words remain ("I loved ... what should I watch tonight?")."""
        return search_text(query, self.titles) if query else query

    def conversation_search_text(self, messages: list[dict], u: Understanding | None = None) -> str:
        """search_text of the last user turn, or of the latest earlier one with content left
        ("a tense heist film like Heat" ... "something shorter": the heist film is still what is asked for)."""
        return (u or self.understand(messages)).search

    # ---- stages 2-3: retrieve and render --------------------------------------------------
    def prepare(self, req: RecRequest) -> Prepared:
        s = self.settings
        u = self.understand(req.messages)
        conv = u.conversation
        query, history, named, notes, constraints = self.resolve(req.messages, req.user, u)
        n = req.n or s.n_recommendations
        search, anchors = u.search, tuple(a for a in u.anchors if a in self.items)
        repeat = set(conv.shown) - set(constraints.only_items) - history.seen
        diverse = list(conv.last_answer) if conv.diverse else None
        soft = merged_soft(read_soft(search, self.retriever.vocab), u.soft)
        candidates = self.retriever.retrieve(search, history, max(s.k_candidates, n), exclude=repeat,
                                             constraints=constraints, anchors=anchors, diverse=diverse, soft=soft)
        notes += self.constraint_notes(constraints, candidates, n)
        if not candidates and repeat:  # the films left were all shown already: say so, as for constraints
            summary = "; ".join(x for x in (constraints.describe(self.items),
                                            f"other than the {len(repeat)} films already recommended") if x)
            notes = [x for x in notes if not x.startswith(NO_MATCH)] + [f"{NO_MATCH}: {summary}"]
        if repeat:
            notes.append(f"leaving out the {len(repeat)} film{'s' if len(repeat) != 1 else ''} already recommended "
                         "in this conversation")
        if anchors:
            notes.append("more like " + ", ".join(self.items[a].label for a in anchors))
        if conv.diverse:
            notes.append("something different: candidates spread over genres, away from the last answer")
        cold = not history.entries and not constraints and not anchors and not search
        question = CLARIFYING_QUESTION if cold and not conv.asked else ""
        if cold:
            notes.append("no history and a vague request: popular films across genres")
        extra = {"remarks": u.remarks, "question": question, "anchors": anchors, "understanding": u}
        if not candidates:
            if constraints or repeat:
                return Prepared(req, query, history, named, (), [], {}, 0, tuple(notes), constraints, **extra)
            raise StoreError("retrieval returned no candidates: is the catalog ingested? run `python -m agent.ingest`")
        n = min(n, len(candidates))
        summary = constraints.describe()
        if self.ranking_mode(req) == "one-pass":
            prompt = self.rank_prompt(query, history, candidates, summary)
        else:
            # Keep prompt + generation budget inside the context: drop media lines, then shorten
            # entries, before the engine would refuse the request.
            budget = min(req.max_tokens or self.token_budget(n), s.max_tokens)
            for compact in (0, 1, 2):
                prompt = self.prompts.render_request(
                    request=query, history=history, candidates=candidates, items=self.items,
                    n=n, history_limit=s.history_in_prompt, max_chars=s.explanation_chars, constraints=summary,
                    compact=compact,
                )
                used = self.llm.count_tokens(prompt) if self.llm is not None else None
                if used is None or used + budget <= s.max_model_len:
                    break
            if compact:
                notes.append(f"prompt shortened to fit the context (level {compact}: media lines dropped"
                             + (", entries shortened)" if compact == 2 else ")"))
        schema = ranking_schema([c.item.item_id for c in candidates], n, s.explanation_chars)
        return Prepared(req, query, history, named, tuple(candidates), prompt, schema, n, tuple(notes), constraints,
                        **extra)

    def constraint_notes(self, c: Constraints, candidates: list[Candidate], n: int) -> list[str]:
        """What was applied, and a warning when fewer films match than were asked for."""
        notes = list(c.notes)
        if not c:
            return notes
        summary = c.describe(self.items)
        notes.append(f"constraints: {summary}")
        if c.max_runtime is not None or c.min_runtime is not None:
            notes.append("films without a known runtime are left out")
        if not candidates:
            notes.append(f"{NO_MATCH}: {summary}")
        elif c.only_items and len(candidates) < len(c.only_items):
            notes.append(f"only {len(candidates)} of the {len(c.only_items)} named films can be recommended "
                         f"({summary})")
        elif not c.only_items and len(candidates) < n:
            m = len(candidates)
            notes.append(f"only {m} film{'s match' if m != 1 else ' matches'} ({summary})")
        return notes

    def rank_prompt(self, query: str, history: UserHistory, candidates: list[Candidate],
                    constraints: str = "") -> list[dict[str, str]]:
        """The one-pass prompt: the first len(LABELS) candidates, lettered in the order given
        (finetune/ renders its training prompts through this same method)."""
        k = min(len(candidates), len(LABELS))
        return self.prompts.render_rank(
            request=query, history=history, candidates=list(candidates[:k]), letters=LABELS[:k],
            items=self.items, history_limit=self.settings.history_in_prompt, keywords=self.settings.rank_keywords,
            constraints=constraints,
        )

    def explain_prompt(self, query: str, history: UserHistory, item: Item, *, evidence: Evidence | None = None
                       ) -> list[dict[str, str]]:
        """One film's verbalizer prompt: its evidence only (agent/explain); the system message is
        shared by the films of a request (prefix-cached)."""
        ev = evidence or self.evidence_builder().build(Candidate(item, 0.0), history, query)
        return verbalize_prompt(self.prompts, ev, self.settings.explanation_chars,
                                plot=self.settings.explanation_grammar != "frames")

    def evidence_builder(self) -> EvidenceBuilder:
        r = self.retriever
        if self._casing is None:  # the catalog's name casing, once (~0.3 s for 9.7k overviews)
            self._casing = NameCasing(self.items)
        return EvidenceBuilder(self.items, r.collab, r.sequence, vectors=self.store.vectors, casing=self._casing,
                               centrality=self._centrality)

    def evidence(self, req: RecRequest, prep: Prepared, candidates: list[Candidate] | None = None) -> dict[str, Evidence]:
        """item id -> Evidence for `candidates` (default: all of prep's), against the request's
        search words (titles and constraint phrases cut: agent/recommender.search_text)."""
        cands = list(prep.candidates) if candidates is None else candidates
        words = self.conversation_search_text(req.messages)
        evs = self.evidence_builder().build_all(cands, prep.history, words, prep.constraints, prep.anchors)
        return {e.item_id: e for e in evs}

    # ---- stage 4: LLM ranking, validated as it streams ------------------------------------
    def ranking_mode(self, req: RecRequest) -> str:
        mode = req.ranking or self.settings.ranking
        if mode == "one-pass" and not (self.llm is not None and self.llm.scores_labels):
            return "generate"  # e.g. a remote server that cannot return label log-probabilities
        return mode

    async def stream(self, req: RecRequest, prep: Prepared | None = None) -> AsyncIterator[RankedItem | Ranking | Recommendation]:
        if self.llm is None:
            raise InvalidRequest("this recommender was built without an LLM")
        prep = prep or await asyncio.to_thread(self.prepare, req)
        said = {"remarks": prep.remarks, "question": prep.question}
        if not prep.candidates:  # the constraints rule out every film: say so, ask no LLM
            yield Recommendation(items=(), query=prep.query, history=prep.history, candidates=(), notes=prep.notes,
                                 **said)
            return
        gen = self._stream_one_pass(req, prep) if self.ranking_mode(req) == "one-pass" else self._stream_generated(req, prep)
        async for ev in gen:
            yield replace(ev, **said) if isinstance(ev, Recommendation) else ev

    def _validator(self, prep: Prepared, evidence: dict[str, Evidence]) -> Validator:
        return Validator(list(prep.candidates), set(prep.history.seen), prep.n, evidence=evidence,
                         explainer=Explainer(self.prompts, self.titles, self.settings.explanation_chars,
                                             samples=self.settings.explanation_samples, retries=self.settings.explanation_retries,
                                             grammar=self.settings.explanation_grammar),
                         catalog=self.items)

    def explanation_tokens(self, req: RecRequest, n: int) -> int:
        """Tokens per explanation request; 0 means no LLM explanations (fact-only ones instead)."""
        if req.explain is False:
            return 0
        per_item = self.settings.explanation_chars // 3 + 10
        if req.max_tokens is not None:
            per_item = min(per_item, (req.max_tokens - 1) // max(n, 1))
        return per_item if per_item >= 16 else 0

    async def _stream_one_pass(self, req: RecRequest, prep: Prepared) -> AsyncIterator[RankedItem | Ranking | Recommendation]:
        s = self.settings
        cands = list(prep.candidates)
        letters = LABELS[: min(len(cands), len(LABELS))]
        scores = await self.llm.score_labels(LabelRequest(prep.prompt, letters, req.adapter, f"{req.request_id}-rank"))
        order = order_by_label_scores(cands, list(scores.logprobs), s.rank_prior_weight)
        top = [(c, p) for c, p in order if c.item.item_id not in prep.history.seen][: prep.n]
        evidence = await asyncio.to_thread(self.evidence, req, prep, [c for c, _ in top])
        v = self._validator(prep, evidence)
        budget = self.explanation_tokens(req, prep.n)
        tasks = []
        if budget:  # one verbalizer request per film, concurrent; each verifies, resamples once, falls back
            for c, _ in top:
                tasks.append(asyncio.create_task(v.explainer.explain(
                    self.llm, evidence[c.item.item_id], max_tokens=budget, temperature=req.temperature,
                    adapter=req.adapter, request_id=f"{req.request_id}-x{c.item.item_id}")))
        prompt_tokens, completion_tokens = scores.prompt_tokens, 1
        try:
            # the order is final now: clients can show the films while their explanations are written
            yield Ranking(tuple(c.item for c, _ in top), tuple(p for _, p in top))
            for i, (c, p) in enumerate(top):
                ev = evidence[c.item.item_id]
                done = await tasks[i] if tasks else v.explainer.fallback(ev)
                prompt_tokens += done.prompt_tokens
                completion_tokens += done.completion_tokens
                ranked = v.accept({"item_id": c.item.item_id}, score=p, explained=done)
                if ranked is not None:
                    yield ranked
        finally:
            for t in tasks:
                t.cancel()
        diagnostics = list(v.diagnostics)
        if not tasks:
            diagnostics.append("explanations are fact-only (explain=false or max_tokens too small for LLM explanations)")
        yield Recommendation(
            items=tuple(v.accepted), query=prep.query, history=prep.history, candidates=prep.candidates,
            filled=0, dropped=tuple(v.dropped), prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, notes=tuple(list(prep.notes) + v.notes),
            diagnostics=tuple(diagnostics),
        )

    async def _stream_generated(self, req: RecRequest, prep: Prepared) -> AsyncIterator[RankedItem | Ranking | Recommendation]:
        v = self._validator(prep, await asyncio.to_thread(self.evidence, req, prep))
        parser = StreamParser()
        usage = (0, 0)
        gen = GenerationRequest(
            messages=prep.prompt, json_schema=prep.schema, max_tokens=req.max_tokens or self.token_budget(prep.n),
            temperature=req.temperature, adapter=req.adapter, request_id=req.request_id,
        )
        async for chunk in self.llm.stream(gen):
            for obj in parser.feed(chunk.text):
                ranked = v.accept(obj)
                if ranked is not None:
                    yield ranked
            if chunk.finish_reason is not None:
                usage = (chunk.prompt_tokens, chunk.completion_tokens)
        notes = list(prep.notes) + v.notes
        if parser.bad_objects:
            notes.append(f"{parser.bad_objects} malformed item(s) in the LLM output")
        filled = v.fill()
        if filled:
            notes.append(f"{len(filled)} item(s) filled in from retrieval order (LLM gave too few valid ones)")
        for r in filled:
            yield r
        yield Recommendation(
            items=tuple(v.accepted), query=prep.query, history=prep.history, candidates=prep.candidates,
            filled=len(filled), dropped=tuple(v.dropped), prompt_tokens=usage[0],
            completion_tokens=usage[1], notes=tuple(notes), diagnostics=tuple(v.diagnostics),
        )

    def token_budget(self, n: int) -> int:
        """Default generation budget: room for n items of JSON with full-length explanations
        (about 3 characters a token), capped by settings.max_tokens."""
        return min(self.settings.max_tokens, 40 + n * (self.settings.explanation_chars // 3 + 20))

    async def recommend(self, req: RecRequest) -> Recommendation:
        final = None
        async for ev in self.stream(req):
            if isinstance(ev, Recommendation):
                final = ev
        assert final is not None
        return final


def _served_sasrec(settings: Settings, interactions: list):
    """The collection's trained sequential model when it was trained on this log, else None (no list)."""
    from agent.sequential import load_for, model_path

    if not interactions or settings.weight_sasrec <= 0 or not model_path(settings).is_file():
        return None
    from agent.protocol.data import leave_last_two

    try:
        split = leave_last_two([(x.user_id, x.item_id, x.rating, x.timestamp) for x in interactions])
    except ValueError:
        return None
    return load_for(settings, split.checksum, "serve")  # the refit on the whole log when one was made
