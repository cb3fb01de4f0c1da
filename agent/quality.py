"""A quality prior over the catalog: how well liked each film is, from the interaction log.

    q = Quality(interactions, prior_count=10)   # computed once at start-up
    q.bayes["1"]            # Bayesian mean rating of Toy Story, shrunk towards the global mean
    q.count["1"]            # how many people rated (or watched) it
    q.score("1", mode)      # the prior that retrieval orders by; mode None | "popular" | "obscure"
    q.top(ids, n, mode)     # ids ordered by that prior, best first

Bayesian mean with a count prior: bayes(i) = (C * m + sum of i's ratings) / (C + n_i), m the
mean of all ratings, C = `prior_count`; a film rated 5 by two people (3.75 at C=10) stays below
one rated 4.4 by 300 (4.40). Implicit events (no rating) count as viewers but carry no rating.
The three orders:
  None       bayes: well liked, and so mostly well known (a new user's "something good")
  popular    bayes + `popular_mix` * log(1 + n) / log(1 + max n): the crowd-pleasers first
  obscure    bayes among films rated by fewer people than the `obscure_share` most-rated ones
             (and by at least `obscure_min` people), every other film after them: "hidden gems",
             well liked but rarely rated
Left out: time decay, per-user calibration of ratings, and anything from the request text
(agent/retrieval decides where the prior applies, agent/vocab reads "popular" / "obscure").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from agent.types import Interaction

MODES = (None, "popular", "obscure")


class Quality:
    """
    >>> log = [Interaction("u1", "a", 5.0, 0), Interaction("u2", "a", 5.0, 0), Interaction("u1", "b", 4.0, 0),
    ...        Interaction("u2", "b", 4.5, 0), Interaction("u3", "b", 4.0, 0), Interaction("u3", "c", 2.0, 0)]
    >>> q = Quality(log, prior_count=2, popular_mix=3.0, obscure_share=0.34, obscure_min=1)
    >>> round(q.mean, 3), round(q.bayes["a"], 3), round(q.bayes["b"], 3), round(q.bayes["c"], 3)
    (4.083, 4.542, 4.133, 3.389)
    >>> [[i for i, _ in q.top("abc", 3, mode)] for mode in (None, "popular", "obscure")]
    [['a', 'b', 'c'], ['b', 'a', 'c'], ['c', 'a', 'b']]
    """

    def __init__(self, interactions: Iterable[Interaction], *, prior_count: float = 10.0, popular_mix: float = 1.0,
                 obscure_share: float = 0.1, obscure_min: int = 3):
        total: dict[str, float] = defaultdict(float)
        rated: dict[str, int] = defaultdict(int)
        viewers: dict[str, set[str]] = defaultdict(set)
        for x in interactions:
            viewers[x.item_id].add(x.user_id)
            if x.rating is not None:
                total[x.item_id] += x.rating
                rated[x.item_id] += 1
        n_ratings = sum(rated.values())
        self.mean = sum(total.values()) / n_ratings if n_ratings else 0.0
        self.prior_count = prior_count
        self.count = {i: len(u) for i, u in viewers.items()}
        # without any rating (an implicit log) every film is "liked" alike and the count decides
        self.bayes = {i: (prior_count * self.mean + total[i]) / (prior_count + rated[i]) for i in viewers}
        counts = sorted(self.count.values(), reverse=True)
        cut = min(len(counts) - 1, int(obscure_share * len(counts))) if counts else 0
        self.obscure_below = counts[cut] if counts else 0  # fewer viewers than this: not among the most rated
        self.obscure_min = obscure_min
        self.popular_mix = popular_mix
        self._logmax = math.log1p(counts[0]) if counts else 1.0
        self._scores = {mode: {i: self._score(i, mode) for i in viewers} for mode in MODES}

    def _score(self, item_id: str, mode: str | None) -> float:
        b = self.bayes[item_id]
        n = self.count.get(item_id, 0)
        if mode == "popular":
            return b + self.popular_mix * math.log1p(n) / self._logmax
        if mode == "obscure":
            return b if self.obscure_min <= n < self.obscure_below else b - 10.0
        return b + 1e-3 * math.log1p(n) / self._logmax  # equal means: the better known first

    def score(self, item_id: str, mode: str | None = None) -> float:
        """The prior of one film (films nobody rated or watched: below every known film)."""
        return self._scores[mode if mode in MODES else None].get(item_id, -20.0)

    def top(self, ids: Iterable[str], n: int, mode: str | None = None) -> list[tuple[str, float]]:
        """(item_id, prior) of the n best of `ids`, best first (ties: the order given)."""
        scored = [(i, self.score(i, mode)) for i in ids]
        return sorted(scored, key=lambda kv: -kv[1])[:n]

