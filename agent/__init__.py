"""Marquee: an LLM recommender agent for "what should I watch".

The package is a one-way pipeline (see README, Architecture):
catalog -> ingest (embed) -> Chroma; request -> resolve -> retrieve -> prompt -> LLM -> validate.
"""

__version__ = "0.1.0"
