"""Tunable behaviour of the store, validated by pydantic."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SearchDevice = Literal["cpu", "cuda", "auto"]


class FusionWeights(BaseModel):
    """Weights of the fused recall score; learned per user from `feedback`."""

    similarity: float = Field(default=1.0, ge=0)
    tags: float = Field(default=0.4, ge=0)
    usefulness: float = Field(default=0.1, ge=0)
    recency: float = Field(default=0.05, ge=0)
    time: float = Field(default=0.3, ge=0)
    strength: float = Field(default=0.05, ge=0)
    # A statement over a turn that ends by asking (sketch.is_asking): a user's past questions
    # resemble their new ones more than the facts that answer them, and would crowd those out.
    statement: float = Field(default=1.0, ge=0)
    # Said by the user / by the assistant (sketch.role_tag): whether users' turns or the
    # assistant's hold what gets used differs per deployment, so both start at 0 (no effect)
    # and only feedback and observed replies move them, per store and user.
    said_by_user: float = Field(default=0.0, ge=0)
    said_by_model: float = Field(default=0.0, ge=0)
    # A standing preference or instruction (sketch.PREFERS) when the query asks for something
    # to be done (query_reading.is_request): what the user said to always do applies to a
    # request that shares none of its words. No query about what was said or happened reads it.
    preference: float = Field(default=0.5, ge=0)
    # How much a memory says: its sketch tags, counted up to `StoreConfig.content_tags`. In
    # conversations the chit-chat that names a person or a topic and says nothing else ("Haha,
    # that's so Ollie.") matches many questions and answers none (benchmarks/RESULTS.md, s33).
    content: float = Field(default=0.4, ge=0)
    # Said by the user, when the query asks in the first person about the asker's own things
    # and speaks to no one else (query_reading.asks_about_self: "When is my talk?", not "What
    # did you suggest?" or "Where did we stay?"): what people ask about their own lives, they
    # mostly told the assistant themselves, but the assistant's answers hold what it worked
    # out for them (a deadline, a total). Measured split between blind chat sets, so it starts
    # at 0 and feedback and observed replies learn it per user (benchmarks/RESULTS.md, s36).
    first_person: float = Field(default=0.0, ge=0)
    # Said by the model, when the question asks what the assistant said, proposed or made
    # (query_reading.asks_about_model: "What did you suggest?", "Which tables did your query
    # use?"): the assistant's turns hold its own words.
    second_person: float = Field(default=0.5, ge=0)
    # Holds the kind of answer the query asks for (query_reading.asks_for, sketch.HOLDS): a
    # number for "How many...?", a date for "When...?", a name for "Who...?" or "Where...?".
    answer_kind: float = Field(default=0.15, ge=0)


class StoreConfig(BaseModel):
    redact: bool = True
    max_text_bytes: int = Field(default=1_000_000, gt=0)
    # write path
    dedup_similarity: float = Field(default=0.97, gt=0, le=1)
    dedup_window_s: float = Field(default=86_400.0, ge=0)
    # An update supersedes the one most similar earlier engram that is this similar and shares
    # this much of the smaller keyword set (see lifecycle.supersedes).
    supersede_similarity: float = Field(default=0.5, gt=0, le=1)
    supersede_keyword_overlap: float = Field(default=0.2, gt=0, le=1)
    # Whether a turn of the assistant (or another model role: sketch.MODEL_ROLES) may
    # supersede: its answer is not the world changing, and long answers share the words the rule
    # reads as change ("now", "actually"), so in user-assistant chats they hid each other.
    assistant_supersedes: bool = False
    # A turn longer than the encoder's window is also read as passages of at most this many
    # tokens, each with its own vector; recall scores the turn by its best (store.passages).
    # 0 reads every turn through the window alone.
    passage_tokens: int = Field(default=128, ge=0)
    # A long turn's keyword tags: each passage's this many most frequent (sketch.passage_sketch);
    # 0 keeps every keyword of the turn. Opt-in: measured mixed (benchmarks/RESULTS.md: 16
    # gained on beam_help, lost at R@5 on BEAM long and at R@25 on BEAM dev).
    passage_keywords: int = Field(default=0, ge=0)
    # How a long turn's best passage counts (Passages.turn_similarity): "shared" shares what it
    # reaches above the query's median with the other long turns whose best passages nearly
    # repeat it (boilerplate padding many answers), "max" takes it as it is ("shared" gained on
    # BEAM dev and beam_help and lost nowhere: benchmarks/RESULTS.md).
    passage_score: Literal["shared", "max"] = "shared"
    # What reads a long turn's passages: "model" runs the encoder on each; "static" looks up
    # token vectors distilled from the encoder (store.static_vectors; encoders with
    # `tokenize`, such as the embedded MiniLM): ingestion of long turns is far cheaper, recall
    # at k=5 a little lower (benchmarks/RESULTS.md). Kept with the store: a store written
    # under one setting refuses the other.
    passage_vectors: Literal["model", "static"] = "model"
    # The own vector of a turn longer than the encoder's window reads only its first this many
    # tokens (its passages read the rest; encoders with `tokenize`): a transformer's cost per
    # token grows with the sequence, so the shorter read is the cheaper. 0: the whole window.
    long_turn_tokens: int = Field(default=0, ge=0)
    # A short turn is also read sentence by sentence (store.sentences): its best question-free
    # sentence, calibrated to the query's similarities, lifts it by this much of what it
    # rises above the turn's own. 0 is off; so is an encoder without `tokenize`.
    sentence_weight: float = Field(default=0.35, ge=0, le=1)
    # retrieval
    full_scan_below: int = Field(default=5_000, ge=0)
    candidate_limit: int = Field(default=500, gt=0)
    common_tag_fraction: float = Field(default=0.05, gt=0, le=1)
    min_candidates: int = Field(default=50, ge=0)
    recency_half_life_days: float = Field(default=30.0, gt=0)
    # A memory with this many sketch tags or more says enough (FusionWeights.content is full);
    # fewer scale that signal down in proportion.
    content_tags: int = Field(default=8, gt=0)
    # How much of the preceding turn of the same session a turn is read with at recall time.
    context_weight: float = Field(default=0.3, ge=0)
    # A turn right after one that only asks (sketch.ASKS) takes this much of that question's
    # tag score when it is higher than its own: the reply answers the question's words
    # (SessionLinks.with_questions). 0 reads every turn by its own tags alone.
    reply_tags: float = Field(default=0.5, ge=0)
    # The dense floor: every prefix of a recall's results, of any length n, holds the
    # floor(dense_floor * n) engrams whose own vectors are most similar to the query (the order
    # plain dense retrieval with the same encoder would give), whatever the fused score says.
    # 0 is the fused order alone; 1 is the dense order alone (see fusion.with_dense_floor).
    # Exact in scopes below `full_scan_below` (every engram is a candidate there); above it, the
    # dense order is taken over the stage-1 candidates unless `dense_floor_full_scan`, which
    # costs one scan of every vector per recall (benchmarks/RESULTS.md: latency at 100k engrams).
    dense_floor: float = Field(default=0.5, ge=0, le=1)
    dense_floor_full_scan: bool = False
    # Diversity of the fused order (fusion.diversified): a candidate loses this much times its
    # highest cosine with a result ranked above it, so near-repeats of one turn make room for
    # other turns (questions about several events need one of each). 0 is the fused order as
    # it is. Measured (benchmarks/RESULTS.md): 0.4 and 0.5 gained or tied at R@10 on every data
    # set and conversation, 0.3 and 0.7 lost on one; 0.5 put one BEAM long question type below
    # dense at R@5, 0.4 nothing. The dense floor is applied after it.
    diversity: float = Field(default=0.4, ge=0)
    # A question about several things ("Put these in order: A, B, C"; "X and Y both") is also
    # ranked one part at a time, the parts taken in turn (store.query_parts); such a question
    # costs one encode and one ranking per part. False ranks every question as one.
    query_parts: bool = True
    # Where those full scans of a large scope run (store.device_search): "cpu" is numpy;
    # "cuda" keeps each large scope's vectors on the GPU in fp16 and ranks them with the
    # masked top-k kernel (opening the store fails without CUDA); "auto" is "cuda" where torch
    # sees a GPU, else "cpu". Off by default: it holds 2 bytes x dim per engram of GPU memory
    # per large scope, beside the LM, and fp16 may swap near-ties at the cut.
    search_device: SearchDevice = "cpu"
    # numpy's BLAS threads, set process-wide when the store opens (store.blas): its products
    # are small, where OpenBLAS's threads cost ~10x the CPU they save and spin on the other
    # cores. None leaves the process's setting (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS) alone.
    blas_threads: int | None = Field(default=1, gt=0)
    # Vectors of the most recently recalled (user, query text) pairs kept (store.query_vectors):
    # a query asked again, as an agent's tool loop does before every model call, is not encoded
    # again. 0 encodes every query.
    query_cache: int = Field(default=512, ge=0)
    weights: FusionWeights = Field(default_factory=FusionWeights)
    # Recall's access counts and audit entries are written behind, in one transaction per
    # `touch_buffer` recalls or `touch_flush_s` seconds, and before any other write or audit
    # read; a crash loses at most those (see backends.touches). 0 writes each recall's at once.
    touch_flush_s: float = Field(default=1.0, ge=0)
    touch_buffer: int = Field(default=256, gt=0)
    learning_rate: float = Field(default=0.1, ge=0)
    # What a reply's use of a recalled memory (`observe_reply`) counts for, as a share of one
    # explicit `feedback` judgement: it is inferred, so it moves weights and usefulness less.
    reply_feedback_share: float = Field(default=0.25, ge=0, le=1)
    # consolidation and forgetting
    short_term_capacity: int = Field(default=5_000, gt=0)
    promote_activations: int = Field(default=3, ge=1)
    merge_similarity: float = Field(default=0.9, gt=0, le=1)
    merge_keyword_overlap: float = Field(default=0.6, gt=0, le=1)
    decay: float = Field(default=0.9, gt=0, le=1)
