"""Soft preferences (agent/vocab), the quality prior (agent/quality) and their lists in retrieval."""

import numpy as np
import pytest

from agent.catalog import load_interactions
from agent.ingest import ingest, open_store
from agent.quality import Quality
from agent.retrieval import CoOccurrence, RetrievalWeights, Retriever
from agent.types import HistoryEntry, Interaction, SoftPreferences, UserHistory
from agent.vocab import MAX_WORDS, Vocabulary, read_soft
from tests.conftest import SIX_FILMS, HashEmbedder

ITEMS = {i.item_id: i for i in SIX_FILMS}
SOFT_ON = RetrievalWeights(query=1, history=1, collab=1, sequence=1, genre=1, theme=1, quality=1,
                           quality_history=0.5, quality_cue=2)


class CountingEmbedder(HashEmbedder):
    def __init__(self):
        self.texts = 0

    def embed_batch(self, texts):
        self.texts += len(texts)
        return super().embed_batch(texts)


def test_vocabulary_terms_and_cache(tmp_path):
    emb = CountingEmbedder()
    v = Vocabulary.build(SIX_FILMS, emb, tmp_path)
    kinds = dict(zip(v.texts, v.kinds, strict=True))
    # every genre; a tag or keyword only when two films carry it (Heat's tag "heist" + Ronin's keyword)
    assert kinds["Horror"] == "genre" and kinds["aliens"] == kinds["alien"] == kinds["heist"] == "theme"
    assert "pixar" not in kinds and "toy" not in kinds
    first = emb.texts
    assert first == len(v) and list(tmp_path.glob("vocab-*.npy"))
    again = Vocabulary.build(SIX_FILMS, emb, tmp_path)
    assert emb.texts == first and np.allclose(again.vectors, v.vectors)  # read from the cache, nothing embedded


def test_themes_find_films_carrying_the_term(tmp_path):
    v = Vocabulary.build(SIX_FILMS, HashEmbedder(), tmp_path)
    assert set(v.themes(("alien",))) == {"1", "6"}  # keyword "alien" (Aliens has the tag "aliens", another word)
    assert set(v.themes(("heist",))) == {"2", "5"}  # Heat's tag, Ronin's keyword


@pytest.mark.parametrize("text, genres, terms, popularity", [
    ("a funny animated film for the whole family", ("Comedy", "Animation"), ("funny", "animated", "family"), None),
    ("any hidden gems? something quiet", (), ("quiet",), "obscure"),
    ("a popular heist movie", (), ("heist",), "popular"),
    ("what should I watch tonight?", (), (), None),
])
def test_read_soft(text, genres, terms, popularity):
    s = read_soft(text)
    assert (s.genres, s.terms, s.popularity) == (genres, terms, popularity)


# Alien rated 5, 5, 4; Aliens 4, 4, 4; Heat 4, 4.5; Ronin 5 (once); The Thing 3 (once)
LOG = [Interaction(u, i, r, 0) for u, i, r in (("a", "1", 5), ("b", "1", 5), ("c", "1", 4), ("a", "3", 4),
                                                ("b", "3", 4), ("c", "3", 4), ("a", "2", 4), ("b", "2", 4.5),
                                                ("d", "5", 5), ("e", "6", 3))]


def make(settings, embedder, ratings_csv, weights=SOFT_ON):
    store = open_store(settings, embedder)
    ingest(SIX_FILMS, store, embedder, progress=False)
    return Retriever(store, embedder, ITEMS, CoOccurrence(load_interactions(ratings_csv)), weights=weights,
                     quality=Quality(LOG, prior_count=5, obscure_share=0.4, obscure_min=1),
                     vocab=Vocabulary.build(SIX_FILMS, embedder, settings.home / "vocab"))


def test_genre_list_prefers_films_matching_more_genres(settings, embedder, ratings_csv):
    r = make(settings, embedder, ratings_csv)
    lists = r.lists("", UserHistory(None), 5, set(), soft=SoftPreferences(genres=("Action", "Sci-Fi")))
    assert lists["genre"][0][0] == "3"  # Aliens has both; Heat, Ronin, Alien, The Thing one each
    assert {i for i, _ in lists["genre"]} == {"1", "2", "3", "5", "6"}


def test_soft_lists_are_fused_and_off_at_weight_zero(settings, embedder, ratings_csv):
    soft = SoftPreferences(terms=("heist",))
    on = make(settings, embedder, ratings_csv).retrieve("", UserHistory(None), 3, soft=soft)
    assert {c.item.item_id for c in on[:2]} == {"2", "5"} and "theme" in on[0].sources
    off = make(settings, embedder, ratings_csv, weights=RetrievalWeights()).retrieve("", UserHistory(None), 3, soft=soft)
    assert not any({"theme", "genre", "quality"} & set(c.sources) for c in off)


@pytest.mark.parametrize("popularity, first", [(None, "1"), ("popular", "1"), ("obscure", "5")])
def test_quality_orders_the_pool_and_obscure_flips_it(settings, embedder, ratings_csv, popularity, first):
    # Bayesian means (5 prior ratings): Alien 4.41 > Ronin 4.38 > Heat 4.25 > Aliens 4.16; Ronin,
    # rated once, is outside the most-rated share: the hidden gem
    r = make(settings, embedder, ratings_csv)
    lists = r.lists("", UserHistory(None), 5, set(), soft=SoftPreferences(genres=("Sci-Fi", "Crime"),
                                                                        popularity=popularity))
    assert lists["quality"][0][0] == first


def test_quality_weight_depends_on_history_and_cue(settings, embedder, ratings_csv):
    r = make(settings, embedder, ratings_csv)
    hist = UserHistory("7", (HistoryEntry("1", True),))
    assert r._quality_weight(UserHistory(None), None) == 1
    assert r._quality_weight(hist, SoftPreferences()) == 0.5
    assert r._quality_weight(hist, SoftPreferences(popularity="popular")) == 2


def test_bayesian_mean_shrinks_rarely_rated_films():
    log = [Interaction(f"u{j}", "known", 4.4, 0) for j in range(300)] + [Interaction("a", "rare", 5.0, 0),
                                                                        Interaction("b", "rare", 5.0, 0)]
    log += [Interaction(f"v{j}", "meh", 2.0, 0) for j in range(50)]
    q = Quality(log, prior_count=10, obscure_share=0.34, obscure_min=2)
    assert q.bayes["known"] > q.bayes["rare"] > q.bayes["meh"]
    assert [i for i, _ in q.top(["meh", "rare", "known"], 3)] == ["known", "rare", "meh"]
    assert [i for i, _ in q.top(["meh", "rare", "known"], 3, "obscure")][0] == "rare"


def test_a_mood_word_is_read_as_its_seeds(tmp_path):
    v = Vocabulary.build(SIX_FILMS, HashEmbedder(), tmp_path)
    # no film is tagged "tense": its seeds ("suspense", "thriller") find the Thriller genre's films
    assert set(v.themes(("tense",))) == {"2", "5"}


def test_a_long_request_embeds_at_most_max_words(tmp_path):
    """An 8,000-character message has ~1,000 content words; embedding each one per request cost
    seconds of CPU (benchmarks/bad_input_bench.py), so only the first MAX_WORDS are looked up."""
    emb = CountingEmbedder()
    v = Vocabulary.build(SIX_FILMS, emb, tmp_path)
    words = ("heist", *(f"word{i}" for i in range(1000)), "alien")
    before = emb.texts
    found = v.themes(words)
    assert emb.texts - before <= MAX_WORDS
    assert {"2", "5"} <= set(found) and "1" not in found  # the first word counts; "alien", the 1002nd, is not read
    before = emb.texts
    v.genres_of(("horror", *words))
    assert emb.texts - before <= MAX_WORDS


def test_a_mood_asked_away_sends_the_films_carrying_it_last(settings, embedder, ratings_csv):
    r = make(settings, embedder, ratings_csv)
    wanted = SoftPreferences(genres=("Action", "Crime", "Thriller"))
    plain = [c.item.item_id for c in r.retrieve("", UserHistory(None), 3, soft=wanted)]
    assert "2" in plain  # Heat, tagged "heist", is among the action films
    away = [c.item.item_id for c in r.retrieve("", UserHistory(None), 6, soft=SoftPreferences(
        genres=("Action", "Crime", "Thriller"), avoid=("heist",)))]
    assert {"2", "5"} <= set(away) and away.index("2") > max(away.index(i) for i in away if i not in ("2", "5"))
