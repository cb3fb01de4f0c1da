"""LLM backends behind one interface (see base.py). Chosen by name in Settings.llm_backend."""

from agent.llm.base import LLM, GenerationChunk, GenerationRequest

__all__ = ["LLM", "GenerationChunk", "GenerationRequest", "load_llm"]


def load_llm(settings) -> LLM:
    """Build the backend named by `settings.llm_backend` (imports vLLM only when asked for)."""
    if settings.llm_backend == "vllm":
        from agent.llm.vllm_engine import VLLMEngine

        return VLLMEngine.from_settings(settings)
    if settings.llm_backend == "openai":
        from agent.llm.openai_remote import OpenAIRemote

        return OpenAIRemote.from_settings(settings)
    raise ValueError(f"unknown llm_backend {settings.llm_backend!r}")
