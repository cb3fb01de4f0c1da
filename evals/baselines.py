"""Non-LLM rankers fit on the training split: popularity, EASE, item transitions, and their blend.

Each scorer is fit on per-user sequences (split.fit_sequences(target): everything before the
target) and maps a user's history (oldest first) to a score for every item of the split:
    s = EASE(split.fit_sequences("test"), split.items); s.score(history) -> np.ndarray of len(items)
Full ranking then masks the history and takes the top k (see evals/run.py).

  Popularity   training counts
  EASE         Steck 2019: B = I - P / diag(P), P = (X^T X + lambda I)^-1 on the binary train matrix
  Transitions  counts of (a -> b) at distance 1 and 2 in training sequences; the last 3 history
               items vote with weights 1, 0.5, 0.25
  Blend        z-scored EASE + w * z-scored transitions, w chosen on the validation split
  Sequential   a trained SASRec (agent/sequential.py), trained on the training split only
"""

from __future__ import annotations

import numpy as np
from scipy import sparse



class Scorer:
    name = "scorer"

    def __init__(self, sequences: dict[str, list[str]], items: list[str]):
        self.items = items
        self.index = {it: j for j, it in enumerate(items)}

    def ids(self, history: list[str]) -> list[int]:
        return [self.index[i] for i in history if i in self.index]

    def score(self, history: list[str]) -> np.ndarray:
        raise NotImplementedError


def train_matrix(sequences: dict[str, list[str]], index: dict[str, int]) -> sparse.csr_matrix:
    users = sorted(sequences)
    rows, cols = [], []
    for r, u in enumerate(users):
        for it in set(sequences[u]):
            rows.append(r)
            cols.append(index[it])
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(len(users), len(index)))


class Popularity(Scorer):
    name = "popularity"

    def __init__(self, sequences: dict[str, list[str]], items: list[str]):
        super().__init__(sequences, items)
        self.counts = np.asarray(train_matrix(sequences, self.index).sum(axis=0)).ravel()

    def score(self, history: list[str]) -> np.ndarray:
        return self.counts.astype(np.float64)


class EASE(Scorer):
    def __init__(self, sequences: dict[str, list[str]], items: list[str], lam: float = 100.0):
        super().__init__(sequences, items)
        self.name = f"ease(lambda={lam:g})"
        x = train_matrix(sequences, self.index)
        g = (x.T @ x).toarray()
        g[np.diag_indices_from(g)] += lam
        p = np.linalg.inv(g)
        self.b = -p / np.diag(p)
        self.b[np.diag_indices_from(self.b)] = 0.0

    def score(self, history: list[str]) -> np.ndarray:
        ids = list(set(self.ids(history)))
        return self.b[ids].sum(axis=0) if ids else np.zeros(len(self.items))


class Transitions(Scorer):
    """The agent's own sequence signal (agent.retrieval.Transitions), as a full-ranking scorer."""

    name = "transitions"

    def __init__(self, sequences: dict[str, list[str]], items: list[str], weights=(1.0, 0.5, 0.25)):
        from agent.retrieval import Transitions as AgentTransitions

        super().__init__(sequences, items)
        self.t = AgentTransitions(list(sequences.values()), weights=weights)
        # positions of the agent's item order inside this split's item order
        self._pos = np.array([self.index.get(i, -1) for i in self.t.item_ids])
        self._known = self._pos >= 0

    def score(self, history: list[str]) -> np.ndarray:
        out = np.zeros(len(self.items))
        out[self._pos[self._known]] = self.t.scores(history)[self._known]
        return out


def zscore(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std, or zeros for a constant vector.

    >>> zscore(np.array([1.0, 2.0, 3.0])).round(3).tolist()
    [-1.225, 0.0, 1.225]
    """
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


class Blend(Scorer):
    def __init__(self, parts: list[Scorer], weights: list[float]):
        super().__init__({}, parts[0].items)
        self.parts, self.weights = parts, weights
        self.name = " + ".join(f"{w:g}*{p.name}" for p, w in zip(parts, weights))

    def score(self, history: list[str]) -> np.ndarray:
        return sum(w * zscore(p.score(history)) for p, w in zip(self.parts, self.weights))


class Sequential(Scorer):
    """A trained SASRec (agent.sequential.SequentialModel) as a full-ranking scorer; items it never
    saw get the lowest score."""

    name = "sasrec (trained sequential)"

    def __init__(self, model, items: list[str]):
        super().__init__({}, items)
        self.model = model
        self._pos = np.array([self.index.get(i, -1) for i in model.item_ids])
        self._known = self._pos >= 0

    def score(self, history: list[str]) -> np.ndarray:
        s = self.model.scores(history)
        out = np.full(len(self.items), s.min() - 1.0 if len(s) else 0.0)
        out[self._pos[self._known]] = s[self._known]
        return out
