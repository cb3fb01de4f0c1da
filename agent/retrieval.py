"""Query + history -> candidates: semantic (Chroma) and collaborative signals, fused by RRF.

Ranked lists, each optional, fused with weighted reciprocal-rank fusion:
  query     the request text embedded, nearest items in Chroma, each less `title_penalty` times
            the similarity of its title alone (agent/vocab.TitleVectors): what a film is about
            counts, a title word does not ("a family film" is not "A Family Thing")
  history   recency-weighted mean of the stored vectors of the user's recent liked items, minus
            `dislike_push` times the mean vector of the films they disliked (pushed away)
  profile   the user's profile text embedded (agent/profiles; only users with a stored profile)
  collab    item-to-item co-occurrence (cosine over the user x item matrix of the interaction
            log): items watched by the same people as the user's recent items
  sequence  what people watched right after the user's last 3 items (transition counts at
            distance 1 and 2; weights 1, 0.5, 0.25) -- on MovieLens the order of recent items
            carries much of the signal (see evals/)
  sasrec    a trained SASRec's next-item scores over the whole recent history (agent/sequential;
            only when a model was trained for the catalog and `weights.sasrec` > 0)
Soft preferences (agent/types.SoftPreferences: genres, mood/theme words, "popular" / "obscure",
a decade), each list only when the request has them:
  genre     films of the preferred genres, most of them matched first, then by the quality prior
  theme     films carrying the catalog tags, keywords or genres nearest to the request's words
            and preferred genres (agent/vocab: the vocabulary embedded once; "heist", "music";
            mood words through a few seeds: "light" -> lighthearted, feel-good, comedy),
            best matched first, then by the quality prior; a film of the preferred decade counts
            one term more in both
  quality   every film the other lists found, re-ordered by the quality prior (agent/quality:
            Bayesian mean rating); weight `quality` without history, `quality_history` with it,
            `quality_cue` when the request says "popular" or "hidden gem" (the prior then
            favours crowd-pleasers, or well-liked but rarely rated films)
Seen items and the history's `excluded` ones (recently skipped) never come back (excluded in
every list). With a per-media collection (MARQUEE_MEDIA_VECTORS, agent.ingest.ingest_media) the
two semantic lists score an item by its best similarity over its document and each of its media
texts (max-similarity fusion).

Hard constraints (agent/constraints: genres, runtime, years, excluded films, a choice set) hold
for every candidate: the semantic lists ask Chroma with a `where` filter when the store carries
filterable metadata (`meta_version` >= agent.ingest.METADATA_VERSION) and otherwise fetch deeper
and filter; the collaborative lists skip non-matching items; every list is checked against the
catalog item. When the signals find fewer than k matching items, matching catalog items fill up
by the quality prior (popularity without one; source "catalog"), so fewer than k come back only
when fewer exist. A choice set
("which of A, B or C?") ranks exactly those films.

Conversation signals (agent/conversation): `anchors` ("more like #2") add a fifth list, the
nearest items to the anchors' stored vectors mixed with the query vector (ANCHOR_MIX), weighted
by `RetrievalWeights.anchor`; disliked history items push the history vector away from them
(`dislike_push`, see above); `diverse` ("something different") fetches 3k and keeps k by genre MMR
(`diversify`), away from the films given. With no signal at all (a new user asking "something
good") the most popular matching films are taken, diversified the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agent.constraints import Constraints
from agent.embedding import Embedder
from agent.ingest import METADATA_VERSION, genre_flag
from agent.store import ItemStore
from agent.quality import Quality
from agent.types import Candidate, Interaction, Item, SoftPreferences, UserHistory
from agent.vocab import TitleVectors, Vocabulary

Keep = Callable[[str], bool]  # item_id -> may it be a candidate?
ANCHOR_MIX = 0.7  # anchor list vector: 0.7 * anchors' mean + 0.3 * query (when there is a query)
MMR_LAMBDA = 0.5  # diversify: relevance vs genre overlap


def genre_overlap(a: Item, b: Item) -> float:
    """Jaccard similarity of two films' genres, 0-1 (0 when either has none).

    >>> genre_overlap(Item("1", "a", genres=("Action", "Crime")), Item("2", "b", genres=("Crime", "Drama")))
    0.3333333333333333
    """
    x, y = set(a.genres), set(b.genres)
    return len(x & y) / len(x | y) if x and y else 0.0


def diversify(cands: list[Candidate], k: int, avoid: Sequence[Item] = (), lam: float = MMR_LAMBDA) -> list[Candidate]:
    """Maximal marginal relevance over genres: k candidates, each chosen for its rank (1 at the
    top, falling linearly) minus its largest genre overlap with those already chosen and `avoid`.

    >>> it = lambda i, g: Candidate(Item(i, i, genres=g), 0.0)
    >>> cs = [it("a", ("Horror",)), it("b", ("Horror",)), it("c", ("Comedy",)), it("d", ("Drama",))]
    >>> [c.item.item_id for c in diversify(cs, 3)], [c.item.item_id for c in diversify(cs, 2, [cs[0].item])]
    (['a', 'c', 'd'], ['c', 'd'])
    """
    n = len(cands)
    rel = {c.item.item_id: 1.0 - r / max(n, 1) for r, c in enumerate(cands)}
    chosen: list[Candidate] = []
    rest = list(cands)
    while rest and len(chosen) < k:
        def gain(c: Candidate) -> float:
            others = [x.item for x in chosen] + list(avoid)
            return lam * rel[c.item.item_id] - (1 - lam) * max((genre_overlap(c.item, o) for o in others), default=0.0)
        best = max(rest, key=gain)  # max keeps the first (best-ranked) of equal gains
        chosen.append(best)
        rest.remove(best)
    return chosen


def top_positive(scores: np.ndarray, item_ids: list[str], k: int, exclude: set[str],
                 keep: Keep | None = None) -> list[tuple[str, float]]:
    """The k best (item_id, score) with score > 0, skipping excluded ids (and ids `keep` rejects);
    ties keep item order.

    >>> top_positive(np.array([0.5, 2.0, 0.0, 2.0]), ["a", "b", "c", "d"], 2, {"b"})
    [('d', 2.0), ('a', 0.5)]
    >>> top_positive(np.array([0.5, 2.0, 0.0, 2.0]), ["a", "b", "c", "d"], 2, set(), keep=lambda i: i != "d")
    [('b', 2.0), ('a', 0.5)]
    """
    out = []
    for j in np.argsort(-scores, kind="stable"):
        if scores[j] <= 0:
            break
        if item_ids[j] not in exclude and (keep is None or keep(item_ids[j])):
            out.append((item_ids[j], float(scores[j])))
            if len(out) == k:
                break
    return out


class CoOccurrence:
    """Item-item cosine similarity over who-watched-what, computed per request (sparse, cheap).

    score(j) = sum_h w_h * |U_h ∩ U_j| / sqrt(|U_h| |U_j|) for the user's recent items h.
    """

    def __init__(self, interactions: list[Interaction]):
        from scipy import sparse

        users = {u: i for i, u in enumerate(sorted({x.user_id for x in interactions}))}
        self.item_ids = sorted({x.item_id for x in interactions})
        self._col = {it: j for j, it in enumerate(self.item_ids)}
        rows = [users[x.user_id] for x in interactions]
        cols = [self._col[x.item_id] for x in interactions]
        m = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(self.item_ids)))
        m.data[:] = 1.0  # repeated events count once
        self._m = m.tocsc()
        counts = np.asarray(self._m.sum(axis=0)).ravel()  # viewers per item
        self._norm = np.sqrt(counts) + 1e-9
        self.popularity = {it: int(c) for it, c in zip(self.item_ids, counts, strict=True)}

    def scores(self, weighted_items: dict[str, float]) -> np.ndarray:
        known = [(self._col[i], w) for i, w in weighted_items.items() if i in self._col]
        if not known:
            return np.zeros(len(self.item_ids), dtype=np.float32)
        cols, weights = zip(*known, strict=True)
        sub = self._m[:, list(cols)]  # users x H
        sub = sub.multiply(np.asarray(weights, dtype=np.float32) / self._norm[list(cols)]).tocsr()
        user_weight = np.asarray(sub.sum(axis=1)).ravel()  # users
        co = self._m.T.dot(user_weight)  # items
        return (co / self._norm).astype(np.float32)

    def top(self, weighted_items: dict[str, float], k: int, exclude: set[str],
            keep: Keep | None = None) -> list[tuple[str, float]]:
        return top_positive(self.scores(weighted_items), self.item_ids, k, exclude, keep)

    def similarity(self, a: str, b: str) -> float:
        """Cosine of two items' viewer sets, 0 when either is unknown (explanations: "people who watched a")."""
        if a not in self._col or b not in self._col:
            return 0.0
        ja, jb = self._col[a], self._col[b]
        both = self._m[:, ja].multiply(self._m[:, jb]).sum()
        return float(both / (self._norm[ja] * self._norm[jb]))


class Transitions:
    """Sparse next-item counts from time-ordered user sequences (oldest first).

    scores(recent) = sum_j w_j * T[recent[-1 - j]] with T[a, b] = times b followed a within 2 steps.
    """

    def __init__(self, sequences: list[list[str]], weights=(1.0, 0.5, 0.25), distances=(1, 2)):
        from scipy import sparse

        self.item_ids = sorted({i for seq in sequences for i in seq})
        self._col = {it: j for j, it in enumerate(self.item_ids)}
        rows, cols = [], []
        for seq in sequences:
            ids = [self._col[i] for i in seq]
            for d in distances:
                rows += ids[:-d]
                cols += ids[d:]
        n = len(self.item_ids)
        self._t = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
        self.weights = weights

    def scores(self, recent: list[str]) -> np.ndarray:
        """Score of every item in `item_ids` order, from the last len(weights) known items."""
        known = [self._col[i] for i in recent if i in self._col]
        s = np.zeros(len(self.item_ids), dtype=np.float32)
        for w, j in zip(self.weights, reversed(known[-len(self.weights):])):
            s += w * self._t[j].toarray().ravel()
        return s

    def top(self, recent: list[str], k: int, exclude: set[str], keep: Keep | None = None) -> list[tuple[str, float]]:
        return top_positive(self.scores(recent), self.item_ids, k, exclude, keep)

    def count(self, a: str, b: str) -> float:
        """How often b followed a (within the distances counted); 0 when either is unknown."""
        if a not in self._col or b not in self._col:
            return 0.0
        return float(self._t[self._col[a], self._col[b]])


def where_filter(c: Constraints, flags: bool = True) -> dict | None:
    """A Chroma `where` for the constraints; without `flags` (an older store) only the choice set.

    >>> where_filter(Constraints(exclude_genres=frozenset({"Horror"}), max_runtime=120))
    {'$and': [{'genre_horror': {'$ne': True}}, {'runtime': {'$lte': 120}}]}
    >>> where_filter(Constraints(include_genres=frozenset({"Comedy", "Sci-Fi"})))
    {'$or': [{'genre_comedy': True}, {'genre_sci_fi': True}]}
    >>> where_filter(Constraints(year_min=1980), flags=False) is None
    True
    """
    clauses: list[dict] = []
    if flags:
        clauses += [{genre_flag(g): {"$ne": True}} for g in sorted(c.exclude_genres)]
        include = [{genre_flag(g): True} for g in sorted(c.include_genres)]
        clauses += [include[0]] if len(include) == 1 else [{"$or": include}] if include else []
        for key, op, value in (("runtime", "$lte", c.max_runtime), ("runtime", "$gte", c.min_runtime),
                               ("year", "$gte", c.year_min), ("year", "$lte", c.year_max)):
            if value is not None:
                clauses.append({key: {op: value}})
    if c.only_items:
        clauses.append({"item_id": {"$in": list(c.only_items)}})
    return None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}


def theme_words(soft: SoftPreferences) -> tuple[str, ...]:
    """The words the theme list looks up: the terms, and each preferred genre no term names
    already (a reader that keeps genre words out of `terms` still gets its genres looked up).

    >>> theme_words(SoftPreferences(genres=("Animation", "Comedy"), terms=("animated", "family")))
    ('animated', 'family', 'Comedy')
    """
    from agent.phrases import GENRE_LEXICON

    named = {GENRE_LEXICON.get(t.lower()) for t in soft.terms}
    return (*soft.terms, *(g for g in soft.genres if g not in named))


@dataclass
class RetrievalWeights:
    query: float = 1.0
    history: float = 1.0
    collab: float = 1.0
    sequence: float = 1.0
    anchor: float = 2.0  # "more like #2": the conversation's own pointer outweighs the other lists
    profile: float = 0.0  # off unless asked for: evals and finetune never carry a profile anyway
    sasrec: float = 0.0  # the trained sequential model's list (agent/sequential); used only when one is given
    genre: float = 0.0  # soft preferences and the quality prior: off unless asked for (Settings turns them on)
    theme: float = 0.0
    quality: float = 0.0  # the quality list for a request without history
    quality_history: float = 0.0  # ... with history: a weak prior beside the collaborative lists
    quality_cue: float = 0.0  # ... when the request asks for popular films or hidden gems


class Retriever:
    def __init__(
        self,
        store: ItemStore,
        embedder: Embedder,
        items: dict[str, Item],
        collab: CoOccurrence | None = None,
        sequence: Transitions | None = None,
        *,
        history_in_query: int = 10,
        rrf_k: int = 60,
        weights: RetrievalWeights | None = None,
        media_store: ItemStore | None = None,
        dislike_push: float = 0.0,
        sasrec=None,  # agent.sequential.SequentialModel or None: one more ranked list, "sasrec"
        quality: Quality | None = None,
        vocab: Vocabulary | None = None,
        titles: TitleVectors | None = None,
        title_penalty: float = 0.0,
    ):
        self.store = store
        self.media_store = media_store
        self.embedder = embedder
        self.items = items
        self.collab = collab
        self.sequence = sequence
        self.history_in_query = history_in_query
        self.rrf_k = rrf_k
        self.weights = weights or RetrievalWeights()
        self.dislike_push = dislike_push
        self.sasrec = sasrec
        self.popularity = collab.popularity if collab is not None else {}
        self.quality = quality
        self.vocab = vocab
        self.titles = titles
        self.title_penalty = title_penalty
        self._filterable: bool | None = None

    def prior(self, item_id: str, mode: str | None = None) -> float:
        """The quality prior of a film (agent/quality), its viewer count without one."""
        if self.quality is not None:
            return self.quality.score(item_id, mode)
        return float(self.popularity.get(item_id, 0))

    def _history_weights(self, history: UserHistory) -> dict[str, float]:
        """Recent liked items (all recent items but disliked ones if none is liked), newer ones weigh more."""
        recent = [e for e in history.entries if e.liked][-self.history_in_query :]
        if not recent:
            recent = [e for e in history.recent(self.history_in_query) if not e.disliked]
        n = len(recent)
        return {e.item_id: 0.85 ** (n - 1 - i) for i, e in enumerate(recent)}

    @property
    def filterable(self) -> bool:
        """Does every stored item carry the metadata `where_filter` reads? (asked once; the
        server ingests, and so rewrites old metadata, before it builds the retriever)."""
        if self._filterable is None:
            self._filterable = self.store.any({"meta_version": METADATA_VERSION}) and not self.store.any(
                {"meta_version": {"$ne": METADATA_VERSION}})
        return self._filterable

    def _nearest(self, vector: np.ndarray, n: int, exclude: set[str], where: dict | None) -> list[tuple[str, float]]:
        """Top-n items by similarity to their document or, with a media store, to any of their media texts."""
        hits = self.store.query(vector, n, exclude, where)
        if self.media_store is None:
            return hits
        best = dict(hits)
        for i, sim in self.media_store.query_items(vector, n, exclude, where):
            if sim > best.get(i, -2.0):
                best[i] = sim
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def _semantic(self, vector: np.ndarray, depth: int, exclude: set[str], where: dict | None,
                  keep: Keep | None) -> list[tuple[str, float]]:
        """Nearest stored items; with `keep`, fetched deeper until `depth` of them pass it (or none are left)."""
        if keep is None:
            return self._nearest(vector, depth, exclude, None)
        n, total = depth, self.store.count()
        while True:
            hits = self._nearest(vector, n, exclude, where)
            kept = [(i, s) for i, s in hits if keep(i)]
            if len(kept) >= depth:
                return kept[:depth]
            if len(hits) < n or n >= total:
                # Fewer match than asked for, or Chroma's HNSW index (approximate) skipped some:
                # asked for all 76 items of a small store it returned 70 or 75 now and then. So
                # the last step is exact: every matching catalog item, scored against its vector.
                return self._exact(vector, depth, exclude, keep)
            n = min(total, n * 4)

    def _about(self, vector: np.ndarray, depth: int, exclude: set[str], where: dict | None,
               keep: Keep | None) -> list[tuple[str, float]]:
        """The query list: nearest documents, each less `title_penalty` times the similarity of its
        title alone, so a film matches by what it is about rather than by a word of its title."""
        if self.titles is None or self.title_penalty <= 0:
            return self._semantic(vector, depth, exclude, where, keep)
        hits = self._semantic(vector, depth * 3, exclude, where, keep)
        ts = self.titles.similarity(vector, [i for i, _ in hits])
        scored = [(i, s - self.title_penalty * float(t)) for (i, s), t in zip(hits, ts, strict=True)]
        return sorted(scored, key=lambda kv: (-kv[1], kv[0]))[:depth]

    def _exact(self, vector: np.ndarray, depth: int, exclude: set[str], keep: Keep) -> list[tuple[str, float]]:
        """Cosine similarity of every stored item that `keep` accepts, best first (ties: item id)."""
        vecs = self.store.vectors([i for i in self.items if i not in exclude and keep(i)])
        if not vecs:
            return []
        ids = list(vecs)
        m = np.stack([vecs[i] for i in ids])
        sims = m @ vector / ((np.linalg.norm(m, axis=1) + 1e-9) * (np.linalg.norm(vector) + 1e-9))
        order = sorted(range(len(ids)), key=lambda j: (-sims[j], ids[j]))[:depth]
        return [(ids[j], float(sims[j])) for j in order]

    def lists(self, query: str, history: UserHistory, k: int, exclude: set[str],
              constraints: Constraints | None = None, anchors: Sequence[str] = (),
              soft: SoftPreferences | None = None) -> dict[str, list[tuple[str, float]]]:
        """Each signal's ranked (item_id, score) list; the raw material of `retrieve`."""
        depth = max(k * 3, 50)
        out: dict[str, list[tuple[str, float]]] = {}
        weights = self.weights
        keep, where = None, None
        if constraints:
            keep = lambda i: i in self.items and constraints.allows(self.items[i])  # noqa: E731
            if constraints.metadata or constraints.only_items:
                where = where_filter(constraints, flags=self.filterable)
        qv = self.embedder.embed_one(query) if query.strip() else None
        if qv is not None and weights.query > 0:
            out["query"] = self._about(qv, depth, exclude, where, keep)
        if anchors and weights.anchor > 0:
            avecs = self.store.vectors(anchors)
            if avecs:
                a = sum(v / (np.linalg.norm(v) + 1e-9) for v in avecs.values())
                a = a / (np.linalg.norm(a) + 1e-9)
                if qv is not None:
                    a = ANCHOR_MIX * a + (1 - ANCHOR_MIX) * qv / (np.linalg.norm(qv) + 1e-9)
                out["anchor"] = self._semantic(a / (np.linalg.norm(a) + 1e-9), depth, exclude, where, keep)
        hw = self._history_weights(history)
        if hw:
            vecs = self.store.vectors(hw) if weights.history > 0 else {}
            if vecs:
                v = sum(vecs[i] * w for i, w in hw.items() if i in vecs)
                v = v / (np.linalg.norm(v) + 1e-9)
                v = self._push_away(v, history)
                out["history"] = self._semantic(v, depth, exclude, where, keep)
            if self.collab is not None and weights.collab > 0:
                top = self.collab.top(hw, depth, exclude, keep)
                if top:
                    out["collab"] = top
        if history.profile.strip() and weights.profile > 0:
            out["profile"] = self._semantic(self.embedder.embed_one(history.profile), depth, exclude, where, keep)
        recent = [e.item_id for e in history.entries if not e.disliked][-3:]
        if self.sequence is not None and recent and weights.sequence > 0:
            top = self.sequence.top(recent, depth, exclude, keep)
            if top:
                out["sequence"] = top
        if self.sasrec is not None and weights.sasrec > 0:
            top = self.sasrec.top([e.item_id for e in history.entries if not e.disliked], depth, exclude, keep)
            if top:
                out["sasrec"] = top
        if soft is not None:
            out.update(self._soft_lists(soft, depth, exclude, keep))
        if out and self._quality_weight(history, soft) > 0:
            # last, so that every list above (and any added later) is in the pool it re-orders
            pool = dict.fromkeys(i for ranked in out.values() for i, _ in ranked if i in self.items)
            out["quality"] = self._by_prior(pool, depth, soft.popularity if soft else None)
        return out

    def _by_prior(self, ids, n: int, mode: str | None) -> list[tuple[str, float]]:
        scored = [(i, self.prior(i, mode)) for i in ids]
        return sorted(scored, key=lambda kv: (-kv[1], kv[0]))[:n]

    def _soft_lists(self, soft: SoftPreferences, depth: int, exclude: set[str],
                    keep: Keep | None) -> dict[str, list[tuple[str, float]]]:
        """The genre and theme lists (module docstring); a list is left out when it finds nothing."""
        out: dict[str, list[tuple[str, float]]] = {}
        ok = lambda i: i not in exclude and (keep is None or keep(i))  # noqa: E731
        decade = (lambda i: 1.0 if self.items[i].year is not None and soft.decade <= self.items[i].year  # noqa: E731
                  < soft.decade + 10 else 0.0) if soft.decade else (lambda i: 0.0)
        mode = soft.popularity
        scored: dict[str, dict[str, float]] = {}
        wanted = set(soft.genres)
        if wanted and self.weights.genre > 0:
            scored["genre"] = {i: len(wanted & set(it.genres)) / len(wanted) + decade(i)
                               for i, it in self.items.items() if wanted & set(it.genres) and ok(i)}
        words = theme_words(soft)
        if words and self.vocab is not None and self.weights.theme > 0:
            scored["theme"] = {i: v + decade(i) for i, v in self.vocab.themes(words).items()
                               if i in self.items and ok(i)}
        for name, sc in scored.items():
            # scores within 0.01 tie ("horror" is 1.0 to the genre and to the keyword, give or take
            # float noise): among equally good matches the quality prior decides
            ranked = sorted(sc, key=lambda i: (-round(sc[i], 2), -self.prior(i, mode), i))[:depth]
            if ranked:
                out[name] = [(i, sc[i]) for i in ranked]
        return out

    def _quality_weight(self, history: UserHistory, soft: SoftPreferences | None) -> float:
        if self.quality is None and not self.popularity:
            return 0.0
        if soft is not None and soft.popularity:
            return self.weights.quality_cue
        return self.weights.quality_history if history.entries else self.weights.quality

    def _push_away(self, v: np.ndarray, history: UserHistory) -> np.ndarray:
        """v - dislike_push * mean(disliked vectors), renormalised; v itself when nothing is disliked."""
        disliked = [e.item_id for e in history.entries if e.disliked][-self.history_in_query:]
        if not disliked or self.dislike_push <= 0:
            return v
        vecs = self.store.vectors({i: 1.0 for i in disliked})
        if not vecs:
            return v
        v = v - self.dislike_push * np.mean(list(vecs.values()), axis=0)
        return v / (np.linalg.norm(v) + 1e-9)

    def retrieve(self, query: str, history: UserHistory, k: int, exclude: set[str] | None = None,
                 constraints: Constraints | None = None, *, anchors: Sequence[str] = (),
                 diverse: Sequence[Item] | None = None, soft: SoftPreferences | None = None) -> list[Candidate]:
        """Up to k fused candidates, never seen or excluded; all of them satisfy `constraints`.
        `anchors`: item ids to find more like; `diverse`: pick k of 3k by genre MMR, away from these films;
        `soft`: preferences that add the genre, theme and quality lists (module docstring)."""
        exclude = (set(exclude or ()) | history.seen | history.excluded
                   | set(constraints.exclude_items if constraints else ()))
        if constraints and constraints.only_items:
            k = max(k, len(constraints.only_items))
        lists = self.lists(query, history, k, exclude, constraints, anchors, soft)
        if not lists and not (constraints and constraints.only_items):
            diverse = diverse if diverse is not None else ()  # nothing to go on: popular, but varied
        final_k, k = k, (k * 3 if diverse is not None else k)
        fused: dict[str, float] = defaultdict(float)
        sources: dict[str, list[str]] = defaultdict(list)
        for name, ranked in lists.items():
            w = self._quality_weight(history, soft) if name == "quality" else getattr(self.weights, name)
            for rank, (iid, _) in enumerate(ranked):
                if iid in self.items:  # the store may hold items a newer catalog dropped
                    fused[iid] += w / (self.rrf_k + rank + 1)
                    sources[iid].append(name)
        avoided = self.vocab.carrying(soft.avoid) if soft is not None and soft.avoid and self.vocab is not None else set()
        # a film carrying a mood asked away ("not too violent": violence, brutal) goes after every other
        best = sorted(fused.items(), key=lambda kv: (kv[0] in avoided, -kv[1], kv[0]))[:k]
        out = [Candidate(self.items[i], s, tuple(sources[i])) for i, s in best]
        if (constraints or not lists) and len(out) < k:
            out += self._fill(constraints or Constraints(), exclude | {c.item.item_id for c in out}, k - len(out),
                              soft.popularity if soft else None)
        return diversify(out, final_k, diverse) if diverse is not None else out

    def _fill(self, constraints: Constraints, exclude: set[str], n: int, mode: str | None = None) -> list[Candidate]:
        """Matching catalog items no signal found: a choice set in the order named, else by the
        quality prior (`mode`: "popular" / "obscure"; popularity without a prior)."""
        if constraints.only_items:
            ids = [i for i in constraints.only_items if i in self.items]
        else:
            ids = sorted(self.items, key=lambda i: -self.prior(i, mode))  # stable: catalog order on ties
        picked = [i for i in ids if i not in exclude and constraints.allows(self.items[i])][:n]
        return [Candidate(self.items[i], 0.0, ("catalog",)) for i in picked]
