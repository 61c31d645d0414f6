//! tensormap-model: the V-LLM in candle — a small spatial transformer that reads text and
//! objects (an embedding at a 3-D position) — with the `.vllm` file format, batched
//! inference for query functions, cached generation, and training.
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
//! let bytes = model.to_vllm()?;                              // the blob a database stores
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
//! object embedding `e`. `layers` post-norm transformer layers follow: attention scores
//! `QKᵀ/√hd − β_h · dist(i, j)` with a learned distance penalty `β_h` per head and layer
//! (`spatial_bias`), causal, then GELU
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
//! The network works in its own coordinate frame: a cube of half-width `max_position`
//! (500 by default, the default map `bounds`). A map's world position `p` is fed as
//! `p · max_position / bounds`, so one model serves maps of any size and a map of the
//! default bounds is fed unchanged. Text tokens are placed on a fixed schedule, index `i`
//! from `BOS = 0`: `(10 i − 250, 100 sin 0.1 i, 100 cos 0.1 i)`. The encoding of a
//! position uses the raw model units (its highest frequency resolves one unit); distances —
//! the attention bias and the spatial loss — are measured in units of `max_position`, so
//! that `β` and the loss are O(1) whatever the scale (raw distances would be hundreds of
//! units, and a spatial loss of ~10⁵ would swamp the language loss).
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
//! is `lm + 0.1 · spatial` plus an alignment term in two parts: `attention`, the attention
//! mass `m_embed(type)` puts on objects of its own type within the batch (what
//! `ORDER BY ATTENTION(m_embed(type)) DESC` ranks by), and `match`, a binary cross-entropy
//! that makes `m_score(type, object)` positive for objects of the type and negative for
//! another object of the batch. Definitions: `train/loss.rs`. [`Model::loss`] evaluates the
//! same loss without changing the model.
//!
//! # Speed: the fused paths
//! At this crate's sizes (a generation step is one row; a training batch is a few hundred
//! rows of width 64) candle's cost per op — a new tensor, a dispatch to its thread pool, the
//! wait at its barrier — outweighed the arithmetic. Two hot paths are therefore written out
//! by hand on plain f32 buffers, with faer's matrix products (`dense.rs`) and loops compiled
//! for the CPU's widest vectors (`wide.rs`):
//! - generation (`decode.rs`): a key/value cache; the prompt runs once, then each new token
//!   is one row through the layers plus its attention over the cache;
//! - training (`train/fused/`): the forward pass, the loss and the backward pass of a
//!   batch, split in two parts that run on two threads, then clipping and AdamW.
//!
//! Both compute the same function as candle's ops, which stay as their oracles in the tests
//! and as the path for weights that are not f32: generation's logits agree within 1e-5
//! (relative to `1 + |logit|`; 1e-6 seen), a training step's gradient within 1e-4 of each
//! tensor's largest value (2e-6 seen), and a run's losses within 1e-5 relative (2e-7 seen;
//! `train/agreement.rs` states the tolerances for the weights).
//!
//! # Design notes
//! 1. Positional encoding: each axis owns a band of `2⌊d/6⌋` channels of sine/cosine
//!    pairs; the rest are 0 (`positions.rs`), so no axis overwrites another.
//! 2. Generated tokens take the text schedule (`generate.rs`): a position predicted by an
//!    untrained layer would be noise that no training shapes.
//! 3. The model takes an object in as a `SPATIAL` token through `object_projection`, and
//!    reads `m_score` with a `score_head`: the model runs "on the text together with the
//!    row".
//! 4. The language loss predicts nothing from or to padding, `EOS` or a spatial token.
//! 5. The spatial loss measures features by `sqrt(Σ Δ² + 1e-8)` over pairs `i ≠ j` (a
//!    plain distance has a NaN gradient where two features coincide), with positions in
//!    units of `max_position` (see Positions).
//! 6. Sampling is seeded (ChaCha8) and temperature 0 is greedy; `top_k` larger than the
//!    vocabulary is allowed.
//! 7. The learning rate warms up linearly, then decays by a cosine, with no restarts.
//!
//! # For the database
//! - `CREATE MODEL m WITH (…)`: [`Model::create`] with the options as `(name, value)` pairs
//!   (or [`ModelConfig::set_option`] per option, then [`Model::new`]`(config, seed)`);
//!   deterministic. `channels` must be the map's for `m_embed` to feed its attention.
//!   Store [`Model::to_vllm`]'s bytes as the model's blob; [`Model::from_vllm`] reads them
//!   back (`LOAD MODEL` reads a file with [`Model::load`]).
//! - `SHOW MODELS`: [`Model::info`] (kind `"vllm"`, parameters, output width, steps, loss).
//! - `m_embed` over many rows: collect the texts and call [`Model::embed`] once; `m_score`:
//!   collect `(text, embedding, position)` and call [`Model::score`] once with the map's
//!   `bounds` (for a SELECT without a map, 500). Both return in input order.
//! - `m_generate`: [`Model::generate`] with [`Sampling`] (defaults 0.7 and 50; seed 0).
//! - `TRAIN MODEL m ON map WITH (…)`: [`TrainOptions::set_option`] per option and `bounds`
//!   from the map, one [`TrainSample`] per object; the callback gets `(step, total, loss)`
//!   for the progress bar and may stop the run (the model is then unchanged). Train a clone
//!   and commit it with its new blob, or keep the old one on error.
//! - Threads: [`Model`] is `Send + Sync`; inference takes `&self`. Candle and the fused
//!   trainer already use every core inside one call, so one call at a time is the fast way.
//! - CPU only: candle's CUDA and Metal features are not enabled.
#![forbid(unsafe_code)]

mod attention;
mod batch;
mod cache;
pub mod command;
mod config;
mod decode;
mod dense;
mod encoder;
mod error;
mod fastexp;
mod flat;
mod gelu;
mod generate;
mod infer;
mod layernorm;
mod linear;
mod model;
mod network;
mod par;
mod positions;
mod tokenizer;
mod train;
mod vllm;
mod weights;
mod wide;

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
