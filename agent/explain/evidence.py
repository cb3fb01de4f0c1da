"""Evidence: a small, frozen set of true, viewer-specific facts about one recommended film.

    builder = EvidenceBuilder(items, collab=co, sequence=tr, vectors=store.vectors)
    ev = builder.build(candidate, history, request="a tense heist film", constraints=c, anchors=())
    ev.as_dict() -> {"item_id": "5", "label": "Ronin (1998)", "genres": [...],
                     "links": [{"label": "Heat (1995)", "themes": ["heist"], "genres": ["Crime", ...]}],
                     "request_words": ["heist"], "reasons": [{"kind": "sequence", "film": "Heat (1995)",
                     "text": "commonly watched after Heat (1995)"}], "plot": "Mercenaries chase ...", ...}

What goes in (and nothing else; the verbalizer sees only this, the verifier checks against it):
  links          the one or two history films (recent, not disliked) closest to the film, with
                 what they concretely share: TMDB keywords / user tags, genres, and whether the
                 embedding puts them close (cosine >= SIMILAR)
  request_words  words of the request the film's own data contains ("heist", "space")
  constraints    the hard constraints it meets, as one line ("runtime <= 120 min"), and its runtime
                 when a runtime bound was asked for
  reasons        why retrieval proposed it, from Candidate.sources: "often watched by people who
                 watched X" (co-occurrence with the viewer's film X), "commonly watched after X"
                 (next-item transitions), "close to your request", "close to X, as you asked", "popular"
  plot           one complete sentence of the overview (two when the first is short; never cut
                 mid-phrase; none if every sentence is too long)
  themes         up to three of the film's own keywords/tags that no link already names: those
                 that read as a topic first, then by how close each is to the film's plot (`Centrality`:
                 E.T. is about "aliens", not "farewell"; Big about "new toy", not "bronx")
  media          a trailer transcript or caption line when the film has one (poster OCR text is
                 left out: it mostly repeats the title)
Left out: cast and crew (not in the data), reviews, anything about the viewer beyond their films.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from agent.constraints import Constraints
from agent.explain.words import CONNECTOR_LEMMAS, apart, lemma, tokens, topic_keywords
from agent.types import Candidate, HistoryEntry, Item, UserHistory

log = logging.getLogger(__name__)
SIMILAR = 0.5  # embedding cosine at which two films count as close (all-MiniLM-L6-v2 documents)
PLOT_CHARS = 220  # longest plot sentence kept
SHORT_SENTENCE = 9  # a first plot sentence of fewer words takes the next one with it
MEDIA_CHARS = 200  # a media line is cut at the last whole word before this
RECENT = 20  # history films considered as links (most recent first)
_NO_GENRE = "(no genres listed)"
_SENTENCE = re.compile(r"(.+?(?<!\bDr)(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bSt)(?<!\bJr)(?<!\bSr)(?<!\bvs)(?<!\b[A-Z])[.!?])(?:\s+|$)")
_MEDIA_KEEP = ("trailer", "caption", "says")  # media labels worth showing (lower-cased substrings)
_STOP_REQUEST = frozenset("""want watch something film films movie movies good great tonight next recommend
please like liked love loved seen show give need looking maybe really some any""".split())


@dataclass(frozen=True)
class Link:
    """A history film the recommended one is close to, and what they share."""
    item_id: str
    label: str
    themes: tuple[str, ...] = ()  # shared keywords / tags, lower-cased but names (`NameCasing`)
    genres: tuple[str, ...] = ()  # shared genres
    similar: bool = False  # embedding neighbours (cosine >= SIMILAR)
    liked: bool = False


@dataclass(frozen=True)
class Reason:
    """Why retrieval proposed the film. kind: collab | sequence | query | anchor | profile | history | popular."""
    kind: str
    film: str = ""  # the viewer's film the reason names, "" when none

    @property
    def text(self) -> str:
        """
        >>> Reason("collab", "Heat (1995)").text, Reason("query").text
        ('often watched by people who watched Heat (1995)', 'close to your request')
        """
        return {
            "collab": f"often watched by people who watched {self.film}",
            "sequence": f"commonly watched after {self.film}",
            "anchor": f"close to {self.film}, as you asked",  # "which is close to The Godfather (1972), as you asked"
            "query": "close to your request",
            "profile": "close to your profile",
            "history": "close to the films you liked",
            "popular": "popular with viewers",
        }[self.kind]


@dataclass(frozen=True)
class Evidence:
    item_id: str
    title: str
    label: str
    year: int | None
    genres: tuple[str, ...]
    links: tuple[Link, ...] = ()
    request_words: tuple[str, ...] = ()
    constraints: str = ""
    runtime: int | None = None  # only when a runtime bound was asked for
    reasons: tuple[Reason, ...] = ()
    plot: str = ""
    themes: tuple[str, ...] = ()
    media: tuple[tuple[str, str], ...] = ()  # (label, text)
    history_labels: tuple[str, ...] = field(default=(), compare=False)  # every history film (for role checks only)
    # head nouns of this evidence's topics that the catalog's prose counts ("a terrorist"): the
    # grammar gives them their article (`NameCasing.counted`; for the grammar only)
    counted: tuple[str, ...] = field(default=(), compare=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["reasons"] = [{"kind": r.kind, "film": r.film, "text": r.text} for r in self.reasons]
        d["links"] = [asdict(x) for x in self.links]
        d["media"] = [list(m) for m in self.media]
        d.pop("history_labels")
        d.pop("counted")
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> Evidence:
        """The inverse of `as_dict` (history_labels and counted, which it leaves out, come back empty).

        >>> ev = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Crime",), links=(Link("2", "Heat (1995)", ("heist",)),),
        ...               reasons=(Reason("collab", "Heat (1995)"),), media=(("Trailer", "a car chase"),))
        >>> Evidence.from_dict(ev.as_dict()) == ev
        True
        """
        d = dict(d)
        return cls(**{**d, "genres": tuple(d["genres"]), "request_words": tuple(d["request_words"]),
                      "themes": tuple(d["themes"]), "media": tuple(tuple(m) for m in d["media"]),
                      "links": tuple(Link(**{**x, "themes": tuple(x["themes"]), "genres": tuple(x["genres"])})
                                     for x in d["links"]),
                      "reasons": tuple(Reason(x["kind"], x["film"]) for x in d["reasons"])})

    @property
    def texts(self) -> list[str]:
        """Every string the evidence states (what a verified text may draw its words from)."""
        out = [self.title, self.label, *self.genres, self.request_words and " ".join(self.request_words) or "",
               self.constraints, self.plot, *self.themes, *(f"{lab} {t}" for lab, t in self.media)]
        for x in self.links:
            out += [x.label, *x.themes, *x.genres]
        out += [r.text for r in self.reasons]
        if self.runtime:
            out.append(f"{self.runtime} minutes min")
        if self.year:
            out.append(str(self.year))
        return [t for t in out if t]


_SUBORDINATOR = frozenset("as when while whilst after before although though because since if until unless once "
                          "whenever whereas".split())
_SUBJECT = frozenset("he she they it we i you his her their its a an the this that these those one two three four "
                     "five some several every each all both there most many".split())
_FINITE = frozenset("is are was were has have had must can will would could should may might do does did become became "
                    "find found get got take took make made go went come came run ran begin began fall fell "
                    "meet met".split())
# a sentence that goes on from one before it: alone, its first word is dropped (`_alone`)
_CONTINUES = re.compile(r"^(?:But|And|Yet|So|Then|Meanwhile|However)\b,?\s+(?=\S)")
_CLAUSE_SPLIT = re.compile(r",[\"”]? | -- | – | — ")


def _fragment(sentence: str) -> bool:
    """A subordinate clause alone: the sentence opens with a subordinating conjunction ("As",
    "When", "After") and no part after a comma or dash opens with a subject (a pronoun, a
    determiner or a name) or holds a finite-looking verb ("-s", "-ed", "can't", "is", "found").
    "As Rebel leaders map their strategy for an all-out attack on the Emperor's newer, bigger
    Death Star." is one (TMDB's first sentence of Return of the Jedi); of the 11,248 sentences of
    the TMDB 5000 overviews 4 are caught, 2 of them true fragments (the other two lose a sentence
    for the next). A sentence without a comma is kept.

    >>> [_fragment(s) for s in ("When Dr. Jones Sr. finds the map, he runs.", "Once a street smart, carefree young guy.",
    ...                         "After his wife dies, lazy Po moves to Paris.", "A thief steals a painting.",
    ...                         "As a child he ran.")]
    [False, True, False, False, False]
    """
    words = sentence.split()
    if not words or words[0].lower() not in _SUBORDINATOR:
        return False
    parts = _CLAUSE_SPLIT.split(sentence)[1:]
    return bool(parts) and not any(_clause(p) for p in parts)


def _clause(part: str) -> bool:
    words = re.findall(r"[A-Za-z'’-]+", part)
    if not words:
        return False
    head = re.split(r"['’]", words[0])[0]
    if head.lower() in _SUBJECT or head[:1].isupper():
        return True
    return any(re.search(r"['’](s|re|ll|ve|d)$|n['’]t$", w) or w in _FINITE or w.endswith(("s", "ed"))
               for w in words if not w[:1].isupper())


def plot_sentence(overview: str, limit: int = PLOT_CHARS) -> str:
    """The first complete sentence of `overview` no longer than `limit` (with the second when the
    first is short and both fit; the shortest one if the first is too long), or "" when none fits:
    never a sentence cut mid-phrase.

    >>> plot_sentence("A thief steals a painting from the museum at night. Then more happens.")
    'A thief steals a painting from the museum at night.'
    >>> plot_sentence("When Dr. Jones Sr. finds the map, he runs. Later on.")
    'When Dr. Jones Sr. finds the map, he runs.'
    >>> plot_sentence("A very long first sentence that goes on and on. A short one.", limit=20)
    'A short one.'
    >>> plot_sentence("Top London cop, PC Nicholas Angel is good. Too good. To stop the rest of his team")
    'Top London cop, PC Nicholas Angel is good. Too good.'
    >>> plot_sentence("No full stop here", limit=40), plot_sentence("No full stop here and far too long", limit=10)
    ('No full stop here.', '')

    A subordinate clause alone is no sentence (`_fragment`): the next one is taken.

    >>> plot_sentence("As Rebel leaders map their strategy for an attack on the newer, bigger Death Star. "
    ...               "Han Solo remains frozen.")
    'Han Solo remains frozen.'
    """
    text = " ".join(overview.split())
    sentences = [s for s in (m.group(1) for m in _SENTENCE.finditer(text)) if not _fragment(s)]
    rest = _SENTENCE.sub("", text).strip()
    if rest and rest[-1].isalnum() and not sentences:
        sentences = [rest + "."]
    fits = [s for s in sentences if len(s) <= limit and len(s.split()) >= 3]
    if not fits:
        return ""
    if fits[0] != sentences[0]:
        return _alone(min(fits, key=len))
    # a short first sentence reads as cut off alone ("Top London cop, PC Nicholas Angel is good."):
    # the next one goes with it when both fit
    if len(sentences[0].split()) < SHORT_SENTENCE and len(sentences) > 1 \
            and len(sentences[0]) + 1 + len(sentences[1]) <= limit:
        return _alone(sentences[0] + " " + sentences[1])
    return _alone(sentences[0])


def _alone(plot: str) -> str:
    """The plot without a first word that ties it to a sentence it does not show: "But a nasty
    piece of news hits the human resistance: ..." (the shortest sentence of The Matrix Reloaded's
    overview that fits) reads as "A nasty piece of news hits the human resistance: ...".

    >>> _alone("But even death can't stop these lovers."), _alone("Meanwhile, a drifter wins a ticket."), _alone("Nowhere.")
    ("Even death can't stop these lovers.", 'A drifter wins a ticket.', 'Nowhere.')
    """
    m = _CONTINUES.match(plot)
    if not m:
        return plot
    rest = plot[m.end():]
    return rest[:1].upper() + rest[1:]


def _words(text: str, limit: int) -> str:
    """`text` cut at the last whole word within `limit` characters (no ellipsis: it is evidence, not prose).

    >>> _words("the crew meets a detective", 18)
    'the crew meets a'
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0].rstrip(",;:")


def _distinct(features: Sequence[str], n: int) -> tuple[str, ...]:
    """The first `n` features that share no word's lemma with an earlier one: "aliens" then
    "alien", "orphan" then "orphanage" would fill two of three slots with one fact.

    >>> _distinct(["aliens", "alien", "hostage", "hostage drama", "commando", "ransom"], 3)
    ('aliens', 'hostage', 'commando')
    """
    out: list[str] = []
    for f in features:
        if all(apart(f, g) for g in out):
            out.append(f)
            if len(out) == n:
                break
    return tuple(out)


def _features(item: Item) -> list[str]:
    """Keywords then tags, lower-cased, de-duplicated, order kept."""
    out: list[str] = []
    for t in (*item.keywords, *item.tags):
        t = " ".join(t.lower().split())
        if len(t) >= 3 and t not in out and not t.isdigit():
            out.append(t)
    return out


def request_words(request: str, item: Item) -> tuple[str, ...]:
    """Content words of the request that the film's own data (genres, keywords, tags, overview,
    tagline) contains, compared by lemma; words of the film's title do not count.

    >>> request_words("a tense heist in space, please", Item("5", "Ronin", keywords=("heist",), overview="A space heist."))
    ('heist', 'space')
    """
    own = set()
    for text in (*item.genres, *item.keywords, *item.tags, item.overview, item.tagline):
        own |= {lemma(w) for w in tokens(text)}
    title = {lemma(w) for w in tokens(item.title)}
    out: list[str] = []
    for w in tokens(request):
        lw, low = lemma(w), w.lower()
        if (len(low) < 3 or low in _STOP_REQUEST or lw in CONNECTOR_LEMMAS or lw in title or lw not in own
                or low.isdigit() or low in out):
            continue
        out.append(low)
    return tuple(out)


Vectors = Callable[[Sequence[str]], Mapping[str, np.ndarray]]  # item ids -> stored vectors (missing ids absent)


class NameCasing:
    """Keywords in the casing the catalog's overviews write them (keywords are stored lower-cased,
    and "a film about paris" is no sentence a person writes): a phrase as the overviews most often
    write it inside a sentence ("new york city" -> "New York City", "world war ii" -> "World War
    II"); else each word that they write capitalised more than three times as often as not ("usa
    president" -> "USA president"); else as it is.

    >>> from agent.types import Item
    >>> films = [Item(str(i), "T", overview=o) for i, o in enumerate(["A spy in Paris meets the FBI in New York.",
    ...          "Two cops leave Paris. The FBI calls.", "A paris-bound train, a new car and a thief.", "Far from New York."])]
    >>> c = NameCasing(films)
    >>> c("paris"), c("fbi agent"), c("new york"), c("heist"), c("new car")
    ('Paris', 'FBI agent', 'New York', 'heist', 'new car')

    A word capitalised only inside a longer name stays as it is ("reality show", not "reality
    Show", though overviews write "The Truman Show" and "The Late Show"):

    >>> c = NameCasing([Item(str(i), "T", overview=o) for i, o in enumerate(["He hosts The Truman Show.",
    ...          "She loves The Late Show.", "A boy meets Jim Show.", "They fly to Paris. In Paris, he sings.",
    ...          "A reality show."])])
    >>> c("reality show"), c("show"), c("paris")
    ('reality show', 'show', 'Paris')

    A user tag of two or more words that is no keyword of the catalog and whose first and last
    words no overview writes in lower case reads as a person's name, which users tag in lower case
    ("macaulay culkin" -> "Macaulay Culkin"; "a film about a macaulay culkin" is then no topic).
    Of the demo catalog's 1,299 distinct tags 194 read so; of a seeded sample of 60, 59 are names
    (`python -m evals.evidence_stats`). TMDB keywords are not read so: of the 206 multi-word
    keywords the same rule would catch, a sample of 40 was half names ("saudi arabia", "mahatma
    gandhi") and half topics ("buddhist monk", "conscientious objector", "floppy disk"). A small
    catalog, whose overviews write few words, keeps fewer tags as topics: the safe side.

    >>> c = NameCasing([Item("1", "T", overview="A boy is left home alone. His family flies to Paris.", keywords=("kung fu",)),
    ...                 Item("2", "U", overview="A hard family time: he must travel.")])
    >>> c("macaulay culkin"), c("home alone"), c("family time"), c("time travel"), c("kung fu"), c("culkin")
    ('Macaulay Culkin', 'home alone', 'family time', 'time travel', 'kung fu', 'culkin')
    """

    def __init__(self, items: Mapping[str, Item] | Sequence[Item]):
        self._words: list[str] = []  # every overview word, sentence by sentence ("" between sentences)
        self._at: dict[str, list[int]] = {}  # lower-cased word -> its positions inside a sentence
        upper: dict[str, dict[str, int]] = {}
        lower: dict[str, int] = {}
        counted: set[str] = set()
        self._keywords: set[str] = set()  # the catalog's TMDB keywords, normalised
        for item in (items.values() if isinstance(items, Mapping) else items):
            counted.update(m.group(1).lower() for m in _COUNTED.finditer(item.overview or ""))
            self._keywords.update(" ".join(k.lower().split()) for k in item.keywords)
            for sentence in _SENTENCE_SPLIT.split(item.overview or ""):
                words = tokens(sentence)
                for i, w in enumerate(words):
                    low = w.lower()
                    if i:
                        self._at.setdefault(low, []).append(len(self._words))
                        if w[:1].isupper():
                            if not (i > 1 and words[i - 1][:1].isupper()):  # inside a longer name ("The Truman
                                forms = upper.setdefault(low, {})           # Show") it says nothing of the word alone
                                forms[w] = forms.get(w, 0) + 1
                        else:
                            lower[low] = lower.get(low, 0) + 1
                    self._words.append(w)
                self._words.append("")
        self.word = {low: max(forms, key=lambda f: (forms[f], f)) for low, forms in upper.items()
                     if sum(forms.values()) >= 2 and sum(forms.values()) > 3 * lower.get(low, 0)
                     and low not in CONNECTOR_LEMMAS}
        self._lower = set(lower)  # words some overview writes in lower case
        self.counted = frozenset(counted)
        self._cache: dict[str, str] = {}

    def __call__(self, keyword: str) -> str:
        if keyword not in self._cache:
            said = self._phrase(keyword) or " ".join(self.word.get(w, w) for w in keyword.split())
            self._cache[keyword] = said.title() if said == keyword and self._person(keyword) else said
        return self._cache[keyword]

    def counted_heads(self, keywords: Sequence[str]) -> tuple[str, ...]:
        """The last words of `keywords` that the overviews write as a whole noun phrase after
        "a"/"an" ("a terrorist who", "a spaceship."): count nouns, which "both are about
        terrorist" misuses. A word seen only before another noun ("a drug dealer") is not counted.

        >>> NameCasing([Item("1", "T", overview="A terrorist who hides, a drug dealer, and a spaceship.")]).counted_heads(
        ...     ["terrorist", "drug", "space ship", "spaceship", "cocaine"])
        ('spaceship', 'terrorist')
        """
        return tuple(sorted({k.split()[-1].lower() for k in keywords if k.split() and k.split()[-1].lower() in self.counted}))

    def _person(self, keyword: str) -> bool:
        parts = keyword.lower().split()
        return (len(parts) >= 2 and all(p.isalpha() for p in parts) and keyword.lower() not in self._keywords
                and parts[0] not in self._lower and parts[-1] not in self._lower)

    def _phrase(self, keyword: str) -> str:
        parts = keyword.lower().split()
        if len(parts) < 2:
            return ""
        forms: dict[str, int] = {}
        for i in self._at.get(parts[0], ()):
            got = self._words[i: i + len(parts)]
            if [w.lower() for w in got] == parts:
                forms[" ".join(got)] = forms.get(" ".join(got), 0) + 1
        return max(forms, key=lambda f: (forms[f], f)) if forms else ""


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
# "a/an X" closing a noun phrase (punctuation or a function word after it): X is a count noun
_COUNTED = re.compile(r"\b[Aa]n? ([a-z][a-z-]+)(?=[.,;:!?]|$| (?:who|whom|whose|that|which|and|or|but|in|of|with|from|to|"
                      r"for|on|at|by|as|is|was|are|were|has|had|when|while|where|after|before)\b)")


class Centrality:
    """Orders a film's keywords and tags by how central each is to its story: the cosine between
    the keyword's sentence embedding and the overview's. TMDB lists keywords in no order of
    importance, and the first three of Groundhog Day's are "deja vu", "groundhog" and "weather
    forecast"; by centrality E.T.'s come as "aliens", "extraterrestrial technology", "nasa"
    (first three: "farewell", "homesickness", "nasa"). `embed`: texts -> L2-normalised rows (the
    store's embedder). Vectors are kept in memory (a catalog's keyword vocabulary is small;
    `size` bounds it: the memory is dropped whole when full). An embedder failure leaves the
    catalog's order: it costs the ordering, never the answer.

    >>> import numpy as np
    >>> axes = {"aliens": [1, 0], "farewell": [0, 1], "A boy befriends an alien.": [0.9, 0.1]}
    >>> c = Centrality(lambda texts: np.array([axes[t] for t in texts], dtype=np.float32))
    >>> c.order([Item("1", "E.T.", overview="A boy befriends an alien.", keywords=("farewell", "aliens"))])
    {'1': ['aliens', 'farewell']}
    """

    def __init__(self, embed: Callable[[list[str]], np.ndarray], size: int = 100_000):
        self.embed = embed
        self.size = size
        self._vec: dict[str, np.ndarray] = {}

    def order(self, items: Sequence[Item]) -> dict[str, list[str]]:
        """item id -> its `_features`, most central first (ties and films without an overview keep
        the catalog's order)."""
        feats = {it.item_id: _features(it) for it in items}
        want = {t for it in items if it.overview and len(feats[it.item_id]) > 1 for t in (it.overview, *feats[it.item_id])}
        missing = sorted(want - self._vec.keys())
        if missing:
            try:  # plots and keywords apart: one batch pads every keyword to the longest plot
                plots = {it.overview for it in items}
                groups = [[t for t in missing if t in plots], [t for t in missing if t not in plots]]
                missing = [t for g in groups for t in g]
                rows = np.concatenate([self.embed(g) for g in groups if g])
            except Exception:  # an embedder hiccup costs the ordering only (logged)
                log.warning("keyword centrality unavailable; keeping the catalog's order", exc_info=True)
                return feats
            if len(self._vec) + len(missing) > self.size:
                self._vec.clear()
            self._vec.update(zip(missing, rows))
        out = {}
        for it in items:
            f = feats[it.item_id]
            if it.overview and len(f) > 1 and all(t in self._vec for t in (it.overview, *f)):
                plot = self._vec[it.overview]
                f = sorted(f, key=lambda t: -float(self._vec[t] @ plot))  # stable: ties keep their order
            out[it.item_id] = f
        return out


class EvidenceBuilder:
    """Builds Evidence from the catalog, the viewer's history, the request and retrieval's signals.
    `casing`: the catalog's `NameCasing` (built here when not given; the recommender keeps one)."""

    def __init__(self, items: Mapping[str, Item], collab=None, sequence=None, vectors: Vectors | None = None,
                 casing: NameCasing | None = None, centrality: Centrality | None = None):
        self.items = items
        self.centrality = centrality  # None: keywords in the catalog's order
        self.collab = collab  # agent.retrieval.CoOccurrence or None
        self.sequence = sequence  # agent.retrieval.Transitions or None
        self.vectors = vectors
        self.casing = NameCasing(items) if casing is None else casing

    def history_films(self, history: UserHistory, anchors: Sequence[str] = ()) -> list[tuple[Item, bool]]:
        """(film, liked) of the recent history, most recent first; disliked films are never links.
        A film the request anchors on comes first however old its place in the history ("I loved
        The Godfather. Something like it" from a viewer who rated it years ago)."""
        entries = [e for e in reversed(history.entries) if not e.disliked and e.item_id in self.items]
        latest: dict[str, HistoryEntry] = {}
        for e in entries:
            latest.setdefault(e.item_id, e)
        first = [latest[a] for a in dict.fromkeys(anchors) if a in latest]
        rest = [e for e in entries if e not in first][: max(0, RECENT - len(first))]
        return [(self.items[e.item_id], e.liked) for e in (*first, *rest)]

    def build_all(self, candidates: Sequence[Candidate], history: UserHistory, request: str = "",
                  constraints: Constraints | None = None, anchors: Sequence[str] = ()) -> list[Evidence]:
        """Evidence for each candidate; the vectors of the history and the candidates are read once."""
        films = self.history_films(history, anchors)
        sims: dict[str, dict[str, float]] = {}
        if self.vectors is not None and films:
            try:
                vecs = self.vectors([f.item_id for f, _ in films] + [c.item.item_id for c in candidates])
            except Exception:  # a store hiccup costs the "similar" fact, not the answer
                vecs = {}
            for c in candidates:
                v = vecs.get(c.item.item_id)
                if v is None:
                    continue
                sims[c.item.item_id] = {f.item_id: _cos(v, vecs[f.item_id]) for f, _ in films if f.item_id in vecs}
        order = self._order([c.item for c in candidates])
        return [self.build(c, history, request, constraints, anchors, films=films,
                           sims=sims.get(c.item.item_id, {}), features=order.get(c.item.item_id)) for c in candidates]

    def _order(self, items: Sequence[Item]) -> dict[str, list[str]]:
        return self.centrality.order(items) if self.centrality is not None else {}

    def build(self, cand: Candidate, history: UserHistory, request: str = "", constraints: Constraints | None = None,
              anchors: Sequence[str] = (), *, films: list[tuple[Item, bool]] | None = None,
              sims: Mapping[str, float] | None = None, features: Sequence[str] | None = None) -> Evidence:
        item = cand.item
        films = self.history_films(history, anchors) if films is None else films
        sims = sims or {}
        own = list(features) if features is not None else self._order([item]).get(item.item_id) or _features(item)
        links = self._links(item, own, films, sims, anchors)
        linked = {t for x in links for t in x.themes}
        unlinked = [self.casing(t) for t in own if t not in linked]
        topics = set(topic_keywords(unlinked, [item.overview], item.title))
        c = constraints or Constraints()
        runtime_asked = c.max_runtime is not None or c.min_runtime is not None
        summary = c.describe()  # genre, runtime and year bounds only: no film names
        return Evidence(
            item_id=item.item_id, title=item.title, label=item.label, year=item.year,
            genres=tuple(g for g in item.genres if g != _NO_GENRE),
            links=links,
            request_words=request_words(request, item) if request else (),
            constraints=summary, runtime=item.runtime if runtime_asked else None,
            reasons=self._reasons(cand, films, anchors),
            plot=plot_sentence(item.overview) if item.overview else "",
            themes=_distinct(sorted(unlinked, key=lambda t: t not in topics), 3),
            media=tuple((lab, _words(text, MEDIA_CHARS)) for lab, text in item.media_text
                        if any(k in lab.lower() for k in _MEDIA_KEEP) and text.strip())[:1],
            history_labels=tuple(f.label for f, _ in films),
            counted=self.casing.counted_heads([*unlinked, *(t for x in links for t in x.themes)]),
        )

    def _links(self, item: Item, own: list[str], films: list[tuple[Item, bool]], sims: Mapping[str, float],
               anchors: Sequence[str] = ()) -> tuple[Link, ...]:
        """The one or two history films closest to `item` and what they share; a film the request
        anchors on ("I loved The Godfather. Something like it") comes first when it shares anything:
        the person asked for films like it, not like the closest one of their history."""
        genres = [g for g in item.genres if g != _NO_GENRE]
        scored = []
        for rank, (f, liked) in enumerate(films):
            fset = set(_features(f))
            themes = tuple(t for t in own if t in fset)[:3]
            shared_g = tuple(g for g in genres if g in f.genres)
            sim = sims.get(f.item_id, 0.0)
            if not themes and not shared_g and sim < SIMILAR:
                continue
            score = 3 * len(themes) + len(shared_g) + 2 * sim + 0.5 * liked - 0.02 * rank + 20 * (f.item_id in anchors)
            scored.append((score, rank, Link(f.item_id, f.label, tuple(self.casing(t) for t in themes),
                                               shared_g, sim >= SIMILAR, liked)))
        scored.sort(key=lambda t: (-t[0], t[1]))
        best = [x for _, _, x in scored[:2]]
        if len(best) == 2 and not best[1].themes and not best[1].similar and best[0].themes:
            best = best[:1]  # a second film that shares only genres adds little
        return tuple(best)

    def _reasons(self, cand: Candidate, films: list[tuple[Item, bool]], anchors: Sequence[str]) -> tuple[Reason, ...]:
        out: list[Reason] = []
        iid = cand.item.item_id
        for src in cand.sources:
            if src == "collab" and self.collab is not None:
                pairs = [(self.collab.similarity(f.item_id, iid), f) for f, liked in films[:10]]
                best = max(pairs, key=lambda p: p[0], default=(0.0, None))
                if best[1] is not None and best[0] > 0:
                    out.append(Reason("collab", best[1].label))
            elif src == "sequence" and self.sequence is not None:
                pairs = [(self.sequence.count(f.item_id, iid), f) for f, _ in films[:3]]
                best = max(pairs, key=lambda p: p[0], default=(0.0, None))
                if best[1] is not None and best[0] > 0:
                    out.append(Reason("sequence", best[1].label))
            elif src == "anchor":
                out += [Reason("anchor", self.items[a].label) for a in anchors[:1] if a in self.items]
            elif src in ("query", "profile", "history"):
                out.append(Reason(src))
            elif src == "catalog":
                out.append(Reason("popular"))
        return tuple(out)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / ((np.linalg.norm(a) + 1e-9) * (np.linalg.norm(b) + 1e-9)))
