"""The catalog's own vocabulary (genres, user tags, TMDB keywords), embedded once, and what a
request's words mean in it.

    vocab = Vocabulary.build(items, embedder, cache_dir)   # every term embedded once, cached on disk
    vocab.themes(("light", "heist"))   -> {item_id: score}  films carrying terms close to the words
    vocab.genres_of(("animated",))     -> ("Animation",)    words that name a catalog genre
    read_soft("a funny animated film for the whole family", vocab)
        -> SoftPreferences(genres=("Comedy", "Animation"), terms=("funny", "animated", "family"))

A term is a genre, or a tag or keyword (one term when both spell it alike: Heat's tag "heist"
and Ronin's keyword "heist") carried by at least `min_films` films; each term has its film set.
Terms and request words are embedded in the same frame, "a {word} movie": in that frame
"funny" lands at 0.89 of "Comedy", "romantic" at 0.91 of "Romance", "scary" at 0.90 of "Horror"
(all-MiniLM-L6-v2; the bare words were at 0.48-0.79). On single mood words it is weak: "calm" is
nearest to "panic" and "violence", "gentle" to "harsh" and "brutal" (measured). A word matches
its `per_word` nearest terms whose similarity is at least `min_sim` and within `margin` of its best
one; a mood word the vocabulary has no term for ("light", "quiet") is read as the few words of
MOODS (a small hand list of seeds: "light" -> lighthearted, feel-good, comedy), whose terms the
embedding finds in the same way; a film scores, per word, the best similarity among the matched
terms it carries, summed over the words. The embeddings are cached under `cache_dir` by a hash of the embedder name and the
term texts, so a restart embeds nothing and a catalog change embeds the vocabulary again.
Only the request's few words are embedded per request: at most MAX_WORDS of them (the first ones),
so a long message costs no more than a short one (an 8,000-character message of capitalised words
has ~1,000 content words, and embedding them all took 6-8 s of CPU per request on 2 cores).

`read_soft` is the small text reader retrieval uses until the request-understanding stage hands
it a SoftPreferences: content words (stop words dropped; a two-word catalog term such as "time
travel" kept whole), genre words (agent/phrases' lexicon, or a word whose nearest genre is very
close), "popular" / "hidden gem" cues. Left out: negation ("not scary" is a hard constraint and is
cut from the text before it gets here), antonyms (an embedding puts "gentle" near "brutal": the
seeds avoid the worst of it for the moods they cover), and phrases longer than two words.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from agent.embedding import Embedder
from agent.types import Item, SoftPreferences

FRAME = "a {} movie"
# Mood words the catalog's vocabulary has no term for (no film is tagged "light" in the sense of
# "lighthearted"), each read as a few words it does have; the embedding then finds their terms.
# A word's group scores a film by its best term, so a mood with three seeds counts once.
MOODS: dict[str, tuple[str, ...]] = {
    "light": ("lighthearted", "feel-good", "comedy"), "lighthearted": ("feel-good", "comedy"),
    # no calm-like term exists here and the embedding puts "calm" next to "panic" and "violence":
    # the quiet moods are read as heartwarming / bittersweet films
    "fun": ("comedy", "feel-good"), "gentle": ("heartwarming", "feel-good", "friendship"),
    "quiet": ("heartwarming", "bittersweet", "friendship"), "calm": ("heartwarming", "feel-good"),
    "cozy": ("heartwarming", "feel-good", "family"), "cosy": ("heartwarming", "feel-good", "family"),
    "relaxing": ("feel-good", "heartwarming", "comedy"), "uplifting": ("feel-good", "inspirational", "heartwarming"),
    "heartwarming": ("heartwarming", "feel-good", "friendship"), "tense": ("tense", "suspense", "thriller"),
    "sad": ("tearjerker", "tragedy", "melancholy"), "mind-bending": ("twist ending", "surreal", "psychological"),
    "thoughtful": ("philosophical", "thought-provoking"), "exciting": ("action", "adventure"),
}
_GENRE_TEXT = {"Sci-Fi": "science fiction", "Film-Noir": "film noir", "Children": "children's"}
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")
STOP = frozenset("""
a about above after again against all almost also am an and any anything are as at be because been before being
best both but by can could did do does doing each either else enough ever every few for from get give go
good great had has have having he her here hers him his how i i'd i'll i'm i've if in into is it it's its
just kind let like lot love maybe me might more most much must my need nice no nor not now of off on once
one only or other our out over perhaps please pretty quite rather really recommend same say see she should
show so some something sort than that the their them then there these they thing things this those
though through to too under tonight tomorrow today up us very want wanna was watch watching way we well were what
whatever when where which while who whole why will with without would yes yet you your
film films movie movies flick flicks picture pictures one ones suggest suggestion suggestions
two three four five six seven eight nine ten hour hours minute minutes min mins long short
evening night tonight weekend sunday saturday friday afternoon morning
""".split())
_POPULAR = re.compile(r"\b(?:popular|well[- ]known|crowd[- ]pleas\w*|blockbusters?|everyone\s+(?:has\s+)?(?:seen|loves)"
                      r"|mainstream|famous|big\s+hits?|(?:a\s+)?classics?)\b", re.I)
_OBSCURE = re.compile(r"\b(?:obscure|hidden\s+gems?|under[- ]?(?:rated|appreciated|the[- ]radar|seen)|lesser[- ]known"
                      r"|little[- ]known|not\s+(?:so\s+|very\s+|too\s+)?(?:well[- ]known|popular|famous|mainstream)"
                      r"|off\s+the\s+beaten\s+track|nobody\s+(?:has\s+)?(?:seen|heard\s+of)|niche|cult)\b", re.I)
# the cue words themselves ask for popularity, not for a theme
_CUE_WORDS = frozenset({"popular", "obscure", "hidden", "gem", "gems", "underrated", "classic", "classics",
                        "known", "well-known", "lesser-known", "little-known", "famous", "mainstream", "niche",
                        "cult", "blockbuster", "blockbusters"})


def normal(term: str) -> str:
    """Lower case, spaces for separators: how terms are compared.

    >>> normal("Time-Travel "), normal("world_war_ii")
    ('time travel', 'world war ii')
    """
    return " ".join(re.sub(r"[_\-/]+", " ", term.lower()).split())


MAX_WORDS = 32  # request words looked up (embedded) per call; a real request has a handful


class Vocabulary:
    def __init__(self, texts: list[str], kinds: list[str], films: list[frozenset[str]], vectors: np.ndarray,
                 embedder: Embedder, *, per_word: int = 8, min_sim: float = 0.68, margin: float = 0.1,
                 genre_sim: float = 0.85):
        self.texts, self.kinds, self.films, self.vectors = texts, kinds, films, vectors
        self.embedder = embedder
        self.per_word, self.min_sim, self.margin, self.genre_sim = per_word, min_sim, margin, genre_sim
        self.index = {(k, normal(t)): j for j, (k, t) in enumerate(zip(kinds, texts, strict=True))}
        self.phrases = frozenset(normal(t) for t in texts if " " in normal(t))

    @classmethod
    def build(cls, items: Iterable[Item], embedder: Embedder, cache_dir: Path | None = None, *,
              min_films: int = 2, **kw) -> Vocabulary:
        """Every genre, and every tag or keyword of at least `min_films` films, embedded (or read
        from the cache)."""
        films: dict[tuple[str, str], set[str]] = defaultdict(set)
        shown: dict[tuple[str, str], str] = {}
        for it in items:
            for kind, terms in (("genre", it.genres), ("theme", it.tags), ("theme", it.keywords)):
                for t in terms:
                    key = (kind, normal(t))
                    if key[1] and key[1] != "(no genres listed)":
                        films[key].add(it.item_id)
                        shown.setdefault(key, t)
        keys = sorted(k for k, f in films.items() if k[0] == "genre" or len(f) >= min_films)
        texts = [shown[k] for k in keys]
        framed = [FRAME.format(_GENRE_TEXT.get(t, t) if k[0] == "genre" else t)
                  for k, t in zip(keys, texts, strict=True)]
        vectors = _cached_embed(framed, embedder, cache_dir)
        return cls(texts, [k[0] for k in keys], [frozenset(films[k]) for k in keys], vectors, embedder, **kw)

    def __len__(self) -> int:
        return len(self.texts)

    def matches(self, words: Sequence[str]) -> list[list[tuple[int, float]]]:
        """Per word, its matched terms as (term index, similarity), nearest first."""
        words = [w for w in words if w.strip()]
        if not words or not len(self):
            return [[] for _ in words]
        sims = self.embedder.embed([FRAME.format(w) for w in words]) @ self.vectors.T
        out = []
        for row in sims:
            top = np.argsort(-row, kind="stable")[: self.per_word]
            best = float(row[top[0]])
            out.append([(int(j), float(row[j])) for j in top if row[j] >= max(self.min_sim, best - self.margin)])
        return out

    def themes(self, words: Sequence[str]) -> dict[str, float]:
        """item_id -> sum over the words of the best similarity among the terms of the word (of
        its MOODS seeds, for a mood word) that the film carries."""
        groups = [MOODS.get(normal(w), (w,)) for w in words if w.strip()][:MAX_WORDS]  # a mood word: its seeds
        flat = [w for g in groups for w in g]
        found = dict(zip(flat, self.matches(flat), strict=True))
        score: dict[str, float] = defaultdict(float)
        for group in groups:
            best: dict[str, float] = {}
            for w in group:
                for j, sim in found[w]:
                    for iid in self.films[j]:
                        if sim > best.get(iid, 0.0):
                            best[iid] = sim
            for iid, sim in best.items():
                score[iid] += sim
        return dict(score)

    def carrying(self, words: Sequence[str]) -> set[str]:
        """Item ids that carry a tag or keyword term (never a genre) matched by one of `words`
        ("violent" -> "violence", "brutal", ...): what "not too violent" asks away."""
        out: set[str] = set()
        for matched in self.matches([w for w in words if w.strip()][:MAX_WORDS]):
            for j, _ in matched:
                if self.kinds[j] != "genre":
                    out |= self.films[j]
        return out

    def genres_of(self, words: Sequence[str]) -> tuple[str, ...]:
        """The catalog genres that words name: a word with a genre among its terms at >= genre_sim."""
        out = []
        for matched in self.matches([w for w in words if w.strip()][:MAX_WORDS]):
            g = next((self.texts[j] for j, sim in matched if self.kinds[j] == "genre" and sim >= self.genre_sim), None)
            if g is not None and g not in out:
                out.append(g)
        return tuple(out)


class TitleVectors:
    """Every film's title embedded on its own (cached like the vocabulary), so that retrieval can
    tell a document that matches the request by its title ("A Family Thing" for "a family film")
    from one that matches by what it is about."""

    def __init__(self, items: Iterable[Item], embedder: Embedder, cache_dir: Path | None = None):
        items = list(items)
        self.index = {it.item_id: j for j, it in enumerate(items)}
        self.vectors = _cached_embed([it.title for it in items], embedder, cache_dir, "titles")

    def similarity(self, vector: np.ndarray, ids: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each film's title to `vector` (0 for films it does not know)."""
        rows = [self.index.get(i, -1) for i in ids]
        if not rows:
            return np.zeros(0, dtype=np.float32)
        sims = self.vectors[[max(r, 0) for r in rows]] @ (vector / (np.linalg.norm(vector) + 1e-9))
        return np.where(np.asarray(rows) >= 0, sims, 0.0)


def _cached_embed(texts: list[str], embedder: Embedder, cache_dir: Path | None, what: str = "vocab") -> np.ndarray:
    key = hashlib.sha256((embedder.name + "\n" + "\n".join(texts)).encode()).hexdigest()[:16]
    path = cache_dir / f"{what}-{key}.npy" if cache_dir is not None else None
    if path is not None and path.exists():
        vecs = np.load(path)
        if vecs.shape[0] == len(texts):
            return vecs
    vecs = embedder.embed(texts, batch_size=256) if texts else np.zeros((0, embedder.dim), dtype=np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vecs)
        tmp.replace(path)  # a reader never sees half a file
    return vecs


def content_words(text: str, phrases: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The words of a request that can say what it is about: stop words and popularity cues
    dropped, a two-word phrase kept whole when it is one of `phrases`.

    >>> content_words("Something light, under two hours?")
    ('light',)
    >>> content_words("a gentle time travel story", frozenset({"time travel"}))
    ('gentle', 'time travel', 'story')
    """
    words = [w for w in _WORD.findall(text.lower()) if w not in STOP and w not in _CUE_WORDS and len(w) > 1]
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = f"{words[i]} {words[i + 1]}" if i + 1 < len(words) else ""
        if pair and normal(pair) in phrases:
            out.append(pair)
            i += 2
        else:
            out.append(words[i])
            i += 1
    return tuple(dict.fromkeys(out))


def popularity_cue(text: str) -> str | None:
    """"obscure" for hidden gems, "popular" for crowd-pleasers, else None (obscure wins a tie).

    >>> popularity_cue("any hidden gems from the 70s?"), popularity_cue("a popular comedy"), popularity_cue("a comedy")
    ('obscure', 'popular', None)
    """
    if _OBSCURE.search(text):
        return "obscure"
    return "popular" if _POPULAR.search(text) else None


def read_soft(text: str, vocab: Vocabulary | None = None) -> SoftPreferences:
    """Soft preferences from a request's search text (see the module docstring)."""
    from agent.phrases import GENRE_LEXICON

    words = content_words(text, vocab.phrases if vocab is not None else frozenset())
    genres = [GENRE_LEXICON[w] for w in words if w in GENRE_LEXICON]
    if vocab is not None:
        genres += [g for g in vocab.genres_of([w for w in words if w not in GENRE_LEXICON]) if g not in genres]
    return SoftPreferences(genres=tuple(dict.fromkeys(genres)), terms=words, popularity=popularity_cue(text))
