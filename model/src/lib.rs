//! tensormap-model: the V-LLM of the seed (sections 2.1, 2.2, 4, 6.2) in candle — a small
//! spatial transformer that reads text and objects (an embedding at a 3-D position) — with
//! the `.vllm` file format, batched inference for query functions, and training.
//!
//! ```
//! use tensormap_model::{Model, ModelConfig, Sampling, ScoreInput};
//!
//! # fn main() -> tensormap_model::Result<()> {
//! // CREATE MODEL tiny WITH (layers = 2, dim = 64, heads = 4, channels = 32, seed = 7)
//! let model = Model::new(ModelConfig::small(2, 64, 4, 32), 7)?;
//! let q = model.embed(&["red cube"])?;                      // m_embed: 32 values
//! assert_eq!(q[0].len(), 32);
//! let e = vec![0.1f32; 32];
//! let rows = [ScoreInput { text: "red cube", embedding: &e, position: [100.0, 50.0, -30.0] }];
//! let s = model.score(&rows, 500.0)?;                        // m_score, map bounds 500
//! let text = model.generate("the", 8, &Sampling { temperature: 0.7, top_k: 50, seed: 1 })?;
//! let bytes = model.to_vllm()?;                              // the blob phase 2 stores
//! assert_eq!(Model::from_vllm(&bytes)?.embed(&["red cube"])?, q);
//! # let _ = (s, text);
//! # Ok(())
//! # }
//! ```
//!
//! # The network
//! Token ids come from a byte-level tokenizer (256 bytes, optional BPE merges, then the
//! specials `PAD BOS EOS SPATIAL`; see [`Tokenizer`]). Every token has a 3-D position; its
//! input is `E[id] + PE(position)`, plus `W_obj e + b_obj` for a `SPATIAL` token carrying an
//! object embedding `e`. `layers` post-norm transformer layers follow (seed
//! `VectorTransformerLayer`): attention scores `QKᵀ/√hd − β_h · dist(i, j)` with a learned
//! distance penalty `β_h` per head and layer (seed `spatial_bias`), causal, then GELU
//! feed-forward; a final LayerNorm gives `h`, and three heads read it: `tensor_projection`
//! (the `channels`-wide spatial features), `output_head` (next-token logits) and
//! `score_head` (one number). A spatial token is seen by no other token, so objects placed
//! after a text are read independently. Exact definitions: `network.rs`, `batch.rs`,
//! `positions.rs`; weight names and shapes: `weights.rs` and docs/FORMATS.md.
//!
//! # Pretrained sentence encoders
//! Beside the V-LLM, [`SentenceEncoder`] runs a pretrained BERT-family checkpoint (BERT,
//! MiniLM, BGE/E5 of that shape) from a Hugging Face folder: WordPiece via the `tokenizers`
//! crate, a BERT forward pass on candle-core, mean or CLS pooling and L2 normalisation as
//! the sentence-transformers files say. It is what a database model of kind `"bert"` runs
//! for `m_embed(text)`: store [`SentenceEncoder::to_bytes`] as the blob, rebuild it with
//! [`SentenceEncoder::from_bytes`]. Details: the `encoder` module.
//!
//! # Positions
//! The network works in the seed's coordinate frame: a cube of half-width `max_position`
//! (500, the seed's value and the default map `bounds`). A map's world position `p` is fed as
//! `p · max_position / bounds`, so one model serves maps of any size and a map of the
//! default bounds is fed unchanged. Text tokens are placed by the seed SDK's schedule,
//! index `i` from `BOS = 0`: `(10 i − 250, 100 sin 0.1 i, 100 cos 0.1 i)`. The encoding of a
//! position uses the raw model units (its highest frequency resolves one unit); distances —
//! the attention bias and the spatial loss — are measured in units of `max_position`, so
//! that `β` and the loss are O(1) whatever the scale (the seed used raw distances: hundreds
//! of units, a spatial loss of ~10⁵ that would swamp the language loss).
//!
//! # What the query functions compute
//! - `m_embed(text)` = [`Model::embed`]: the spatial features at `EOS` of `[BOS] text
//!   [EOS]`, `channels` values. It does not depend on any map.
//! - `m_score(text, embedding, position)` = [`Model::score`]: the score head at a `SPATIAL`
//!   token carrying the row's embedding and position, placed after `[BOS] text [EOS]`. After
//!   training it is the logit of "this object is a `text`" (positive: likely). The text is
//!   run once per distinct text; each row costs one token.
//! - `m_generate(text, max_tokens, temperature, top_k, seed)` = [`Model::generate`]:
//!   continues `[BOS] text` with seeded sampling (temperature 0: greedy) until `EOS`,
//!   `max_tokens` or the context's end; generated tokens are placed by the text schedule.
//!
//! # Training
//! [`Model::train`] fine-tunes on [`TrainSample`]s (a map object's type, position and
//! embedding) with AdamW (decoupled weight decay on every weight), clipping to a global
//! gradient norm of 1.0, warm-up then cosine decay, seeded shuffling and dropout. The loss
//! is the seed's `lm + 0.1 · spatial`, plus LANGUAGE.md's alignment term in two parts:
//! `attention`, the attention mass `m_embed(type)` puts on objects of its own type within
//! the batch (what `ORDER BY ATTENTION(m_embed(type)) DESC` ranks by), and `match`, a
//! binary cross-entropy that makes `m_score(type, object)` positive for objects of the type
//! and negative for another object of the batch. Definitions: `train/loss.rs`.
//! [`Model::loss`] evaluates the same loss without changing the model.
//!
//! # Fixes to the seed (its Python sketches had bugs; their intent is kept)
//! 1. `SpatialPositionalEncoding3D` wrote channels `3i … 3i+5` for `i < d_model/3`: past
//!    `d_model` (an index error) and each axis overwriting the last. Here each axis owns a
//!    band of `2⌊d/6⌋` channels of sine/cosine pairs; the rest are 0 (`positions.rs`).
//! 2. `_predict_next_position` built a fresh, randomly initialized `nn.Linear` on every call,
//!    so generated positions were untrainable noise. Generated tokens take the text schedule
//!    (`generate.rs`).
//! 3. The seed's model had no way to take an object in, though the product needs the model
//!    "run on the text together with the row": a `SPATIAL` token with an `object_projection`
//!    was added, and a `score_head` for `m_score`.
//! 4. The language loss was a cross-entropy over every position of the padded batch, padding
//!    included; here nothing is predicted from or to padding, `EOS` or a spatial token.
//! 5. The spatial loss used `cdist`, whose gradient is NaN where two features coincide (the
//!    diagonal); here `sqrt(Σ Δ² + 1e-8)` over pairs `i ≠ j`, with distances in units of
//!    `max_position` (see Positions).
//! 6. The seed's `generate` sampled with `torch.multinomial` unseeded and divided by a
//!    temperature that could be 0; here sampling is seeded (ChaCha8) and temperature 0 is
//!    greedy. `top_k` larger than the vocabulary is allowed.
//! 7. `CosineAnnealingWarmRestarts(T_0 = warmup_steps)` restarted the learning rate every
//!    2,000 steps with no warm-up; section 4.2's intent, linear warm-up then cosine decay,
//!    is what is implemented.
//!
//! # For phase 2 (the database)
//! - `CREATE MODEL m WITH (…)`: [`Model::create`] with the options as `(name, value)` pairs
//!   (or [`ModelConfig::set_option`] per option, then [`Model::new`]`(config, seed)`);
//!   deterministic. `channels` must be the map's for `m_embed` to feed its attention. Store [`Model::to_vllm`]'s bytes as the model's blob;
//!   [`Model::from_vllm`] reads them back (`LOAD MODEL` reads a file with [`Model::load`]).
//! - `SHOW MODELS`: [`Model::info`] (kind `"vllm"`, parameters, output width, steps, loss).
//! - `m_embed` over many rows: collect the texts and call [`Model::embed`] once; `m_score`:
//!   collect `(text, embedding, position)` and call [`Model::score`] once with the map's
//!   `bounds` (for a SELECT without a map, 500). Both return in input order.
//! - `m_generate`: [`Model::generate`] with [`Sampling`] (the defaults are the seed's 0.7
//!   and 50; seed 0).
//! - `TRAIN MODEL m ON map WITH (…)`: [`TrainOptions::set_option`] per option and `bounds`
//!   from the map, one [`TrainSample`] per object; the callback gets `(step, total, loss)`
//!   for the progress bar and may stop the run (the model is then unchanged). Train a clone
//!   and commit it with its new blob, or keep the old one on error.
//! - Threads: [`Model`] is `Send + Sync`; inference takes `&self`. Candle already uses every
//!   core inside one call (its matrix products), so one call at a time is the fast way.
//! - CPU only: candle's CUDA and Metal features are not enabled.
#![forbid(unsafe_code)]

mod attention;
mod batch;
mod cache;
pub mod command;
mod config;
mod encoder;
mod error;
mod gelu;
mod generate;
mod infer;
mod linear;
mod model;
mod network;
mod par;
mod positions;
mod tokenizer;
mod train;
mod vllm;
mod weights;

pub use batch::{Sequence, SpatialToken};
pub use config::ModelConfig;
pub use encoder::{
    Activation, BertConfig, Pooling, PoolingMode, SentenceEncoder, BATCH as ENCODER_BATCH,
    BATCH_TOKENS as ENCODER_BATCH_TOKENS,
};
pub use error::{Error, Result};
pub use generate::{Generation, Sampling};
pub use infer::ScoreInput;
pub use model::{Metadata, Model, ModelInfo, Outputs, Parameter};
pub use positions::{text_position, world_to_model};
pub use tokenizer::{Tokenizer, SPECIAL_TOKENS};
pub use train::{learning_rate, LossReport, TrainOptions, TrainProgress, TrainReport, TrainSample};
pub use vllm::WeightDtype;
