#!/usr/bin/env python3
"""An independent NumPy implementation of tensormap's V-LLM, for parity tests and timing.

Written from the definitions in model/src/lib.rs and docs/FORMATS.md, not from the Rust
code: it reads and writes the .vllm format itself, tokenizes with the textbook BPE loop, and
its reference functions run every sequence on its own (no padding, hidden keys left out of
the softmax rather than masked) and regenerate text by recomputing the whole sequence at
every step (no key/value cache). `--bench` times `Fast`, a vectorized float32 form of the
same network (padded batches, a key/value cache for generation) that `self_check` holds to
the reference functions.

    scripts/reference_vllm.py                  # writes model/tests/data/tiny.vllm and vectors.json
    scripts/reference_vllm.py --bench M.vllm   # times the reference on a model (float32)

Only NumPy is needed (python3 -m venv v && v/bin/pip install numpy). CI does not run this:
it reads the committed outputs.
"""

import argparse
import json
import math
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "model" / "tests" / "data"

# ----------------------------------------------------------------------------------------
# .vllm
# ----------------------------------------------------------------------------------------

CONF_FIELDS = ["dim", "hidden", "heads", "layers", "vocab_size", "channels", "context"]


def param_spec(cfg):
    """(name, shape) of every weight in canonical order (docs/FORMATS.md)."""
    V, D, F, H, C = cfg["vocab_size"], cfg["dim"], cfg["hidden"], cfg["heads"], cfg["channels"]
    spec = [("token_embedding.weight", (V, D))]

    def linear(name, inp, out):
        spec.append((name + ".weight", (out, inp)))
        spec.append((name + ".bias", (out,)))

    linear("object_projection", C, D)
    for i in range(cfg["layers"]):
        p = "layers.%d" % i
        for proj in "qkvo":
            linear("%s.attention.%s_proj" % (p, proj), D, D)
        spec.append((p + ".attention.spatial_bias", (1, H, 1, 1)))
        for n in ("norm1", "norm2"):
            spec.append(("%s.%s.weight" % (p, n), (D,)))
            spec.append(("%s.%s.bias" % (p, n), (D,)))
        linear(p + ".ffn.0", D, F)
        linear(p + ".ffn.3", F, D)
    spec.append(("norm.weight", (D,)))
    spec.append(("norm.bias", (D,)))
    linear("tensor_projection", D, C)
    linear("output_head", D, V)
    linear("score_head", D, 1)
    return spec


def write_vllm(path, cfg, merges, params, dtypes, meta):
    """params: name -> array; dtypes: name -> 'f32' | 'f16'."""

    def section(tag, payload):
        head = tag + struct.pack("<Q", len(payload))
        return head + payload + struct.pack("<I", zlib.crc32(head + payload))

    header = b"VLLM" + struct.pack("<I", 1) + bytes([1, 0, 0, 0])
    out = header + struct.pack("<I", zlib.crc32(header))
    conf = struct.pack("<7I", *[cfg[k] for k in CONF_FIELDS])
    conf += struct.pack("<3I", *cfg["tensor_dim"])
    conf += struct.pack("<2f", cfg["max_position"], cfg["norm_eps"])
    out += section(b"CONF", conf)
    tokn = bytes([0]) + struct.pack("<I", len(merges))
    for l, r in merges:
        tokn += struct.pack("<2I", l, r)
    out += section(b"TOKN", tokn)
    spec = param_spec(cfg)
    directory = struct.pack("<I", len(spec))
    data = b""
    for name, shape in spec:
        a = np.asarray(params[name]).reshape(shape)
        raw = a.astype("<f2" if dtypes[name] == "f16" else "<f4").tobytes()
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += bytes([1 if dtypes[name] == "f16" else 0, len(shape)])
        directory += struct.pack("<%dI" % len(shape), *shape)
        directory += struct.pack("<2Q", len(data), len(raw))
        data += raw
    out += section(b"WGHT", directory + data)
    out += section(b"META", struct.pack("<2Q2f", meta["created"], meta["steps"],
                                        meta["loss"], meta["accuracy"]))
    Path(path).write_bytes(out)


def read_vllm(path):
    buf = Path(path).read_bytes()
    assert buf[:4] == b"VLLM", "not a .vllm file"
    assert struct.unpack_from("<I", buf, 12)[0] == zlib.crc32(buf[:12]), "header CRC"
    assert struct.unpack_from("<I", buf, 4)[0] == 1 and buf[8] == 1
    pos = 16
    sections = {}
    for tag in (b"CONF", b"TOKN", b"WGHT", b"META"):
        assert buf[pos:pos + 4] == tag, "expected %r at %d" % (tag, pos)
        (n,) = struct.unpack_from("<Q", buf, pos + 4)
        payload = buf[pos + 12:pos + 12 + n]
        (crc,) = struct.unpack_from("<I", buf, pos + 12 + n)
        assert crc == zlib.crc32(buf[pos:pos + 12 + n]), "CRC of %r" % tag
        sections[tag] = payload
        pos += 12 + n + 4
    assert pos == len(buf), "trailing bytes"
    c = sections[b"CONF"]
    vals = struct.unpack_from("<7I", c, 0)
    cfg = dict(zip(CONF_FIELDS, vals))
    cfg["tensor_dim"] = list(struct.unpack_from("<3I", c, 28))
    cfg["max_position"], cfg["norm_eps"] = struct.unpack_from("<2f", c, 40)
    t = sections[b"TOKN"]
    assert t[0] == 0
    (m,) = struct.unpack_from("<I", t, 1)
    merges = [struct.unpack_from("<2I", t, 5 + 8 * k) for k in range(m)]
    w = sections[b"WGHT"]
    (count,) = struct.unpack_from("<I", w, 0)
    p = 4
    entries = []
    for _ in range(count):
        (ln,) = struct.unpack_from("<H", w, p)
        name = w[p + 2:p + 2 + ln].decode()
        p += 2 + ln
        dt, rank = w[p], w[p + 1]
        p += 2
        shape = struct.unpack_from("<%dI" % rank, w, p)
        p += 4 * rank
        off, size = struct.unpack_from("<2Q", w, p)
        p += 16
        entries.append((name, dt, shape, off, size))
    params = {}
    for name, dt, shape, off, size in entries:
        raw = w[p + off:p + off + size]
        a = np.frombuffer(raw, dtype="<f2" if dt == 1 else "<f4").astype(np.float64)
        params[name] = a.reshape(shape)
    meta = struct.unpack("<2Q2f", sections[b"META"])
    return cfg, merges, params, meta


# ----------------------------------------------------------------------------------------
# Tokenizer: bytes, merges applied lowest rank first, then PAD BOS EOS SPATIAL.
# ----------------------------------------------------------------------------------------


def bpe_encode(merges, text):
    ids = list(text.encode("utf-8"))
    rank = {tuple(m): k for k, m in enumerate(merges)}
    while True:
        best = None
        for i in range(len(ids) - 1):
            r = rank.get((ids[i], ids[i + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            return ids
        r, i = best
        ids[i:i + 2] = [256 + r]


def specials(merges):
    base = 256 + len(merges)
    return {"PAD": base, "BOS": base + 1, "EOS": base + 2, "SPATIAL": base + 3}


# ----------------------------------------------------------------------------------------
# The network, one sequence at a time.
# ----------------------------------------------------------------------------------------


def text_position(i):
    return np.array([10.0 * i - 250.0, 100.0 * math.sin(0.1 * i), 100.0 * math.cos(0.1 * i)])


def encoding(pos, dim):
    """3 bands of 2A channels (A = dim // 6): sin/cos of pos_axis * 10000^(-j/A)."""
    A = dim // 6
    out = np.zeros(dim)
    for axis in range(3):
        for j in range(A):
            w = 10000.0 ** (-j / A)
            out[2 * A * axis + 2 * j] = math.sin(pos[axis] * w)
            out[2 * A * axis + 2 * j + 1] = math.cos(pos[axis] * w)
    return out


exact_erf = np.vectorize(math.erf)


def fast_erf(x):
    # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: for timing, where math.erf is too slow.
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-a * a)
    return s * y


def gelu(x, erf=exact_erf):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def linear(P, name, x):
    return x @ P[name + ".weight"].T + P[name + ".bias"]


def f32(values):
    return np.array(values, dtype=np.float32).astype(np.float64)


def positions_of(cfg, merges, ids, spatial, bounds):
    """Model-unit positions of every token (text schedule, or the object's scaled place)."""
    sp = specials(merges)["SPATIAL"]
    objs = iter(spatial)
    pos = []
    for i, t in enumerate(ids):
        if t == sp:
            o = next(objs)
            # World positions and embeddings are f32 values (as the database stores them).
            pos.append(f32(o["position"]) * np.float64(np.float32(cfg["max_position"])) / bounds)
        else:
            pos.append(text_position(i))
    return np.array(pos)


def hidden_states(P, cfg, merges, ids, spatial, bounds):
    """Final hidden states (L, D) of one unpadded sequence."""
    D, H = cfg["dim"], cfg["heads"]
    hd = D // H
    sp = specials(merges)["SPATIAL"]
    L = len(ids)
    pos = positions_of(cfg, merges, ids, spatial, bounds)
    x = P["token_embedding.weight"][ids].copy()
    objs = iter(spatial)
    for i, t in enumerate(ids):
        if t == sp:
            e = f32(next(objs)["embedding"])
            x[i] += linear(P, "object_projection", e)
        x[i] += encoding(pos[i], D)
    n = pos / cfg["max_position"]
    dist = np.sqrt(((n[:, None, :] - n[None, :, :]) ** 2).sum(-1))
    for l in range(cfg["layers"]):
        p = "layers.%d" % l
        q = linear(P, p + ".attention.q_proj", x).reshape(L, H, hd)
        k = linear(P, p + ".attention.k_proj", x).reshape(L, H, hd)
        v = linear(P, p + ".attention.v_proj", x).reshape(L, H, hd)
        beta = P[p + ".attention.spatial_bias"].reshape(H)
        out = np.zeros((L, H, hd))
        for i in range(L):
            keys = [j for j in range(i + 1) if j == i or ids[j] != sp]
            for h in range(H):
                s = np.array([q[i, h] @ k[j, h] / math.sqrt(hd) - beta[h] * dist[i, j]
                              for j in keys])
                a = np.exp(s - s.max())
                a /= a.sum()
                out[i, h] = sum(a[m] * v[j, h] for m, j in enumerate(keys))
        x = layer_norm(x + linear(P, p + ".attention.o_proj", out.reshape(L, D)),
                       P[p + ".norm1.weight"], P[p + ".norm1.bias"], cfg["norm_eps"])
        f = linear(P, p + ".ffn.3", gelu(linear(P, p + ".ffn.0", x)))
        x = layer_norm(x + f, P[p + ".norm2.weight"], P[p + ".norm2.bias"], cfg["norm_eps"])
    return layer_norm(x, P["norm.weight"], P["norm.bias"], cfg["norm_eps"])


def heads(P, h):
    return (linear(P, "output_head", h), linear(P, "tensor_projection", h),
            linear(P, "score_head", h)[..., 0])


def text_ids(merges, text):
    s = specials(merges)
    return [s["BOS"]] + bpe_encode(merges, text) + [s["EOS"]]


def m_embed(P, cfg, merges, text):
    h = hidden_states(P, cfg, merges, text_ids(merges, text), [], 1.0)
    return heads(P, h)[1][-1]


def m_score(P, cfg, merges, text, embedding, position, bounds):
    ids = text_ids(merges, text) + [specials(merges)["SPATIAL"]]
    obj = [{"embedding": embedding, "position": position}]
    return heads(P, hidden_states(P, cfg, merges, ids, obj, bounds))[2][-1]


def greedy(P, cfg, merges, prompt, max_tokens):
    s = specials(merges)
    ids = [s["BOS"]] + bpe_encode(merges, prompt)
    new = []
    while len(new) < max_tokens and len(ids) < cfg["context"]:
        logits = heads(P, hidden_states(P, cfg, merges, ids, [], 1.0))[0][-1].copy()
        for banned in ("PAD", "BOS", "SPATIAL"):
            logits[s[banned]] = -np.inf
        t = int(np.argmax(logits))
        if t == s["EOS"]:
            break
        new.append(t)
        ids.append(t)
    return new


def softplus(x):
    return np.logaddexp(0.0, x)


def loss_parts(P, cfg, merges, samples, bounds, w_spatial=0.1, w_align=1.0):
    """The training loss of one batch (model/src/train/loss.rs docs), without dropout."""
    s = specials(merges)
    C = cfg["channels"]
    b = len(samples)
    lm_terms, sp_num, sp_den, q, s_pos, s_neg = [], 0.0, 0, [], [], []
    for i, smp in enumerate(samples):
        neg = next(((i + k) % b for k in range(1, b)
                    if samples[(i + k) % b]["text"] != smp["text"]), None)
        objs = [samples[i]] + ([samples[neg]] if neg is not None else [])
        ids = text_ids(merges, smp["text"]) + [s["SPATIAL"]] * len(objs)
        h = hidden_states(P, cfg, merges, ids, objs, bounds)
        logits, feats, scores = heads(P, h)
        n = len(ids) - 2 - len(objs)  # text tokens
        for k in range(n + 1):
            z = logits[k]
            lm_terms.append(np.log(np.exp(z - z.max()).sum()) + z.max() - z[ids[k + 1]])
        pos = positions_of(cfg, merges, ids, objs, bounds) / cfg["max_position"]
        for a in range(len(ids)):
            for c in range(len(ids)):
                if a != c:
                    fd = math.sqrt(((feats[a] - feats[c]) ** 2).sum() + 1e-8)
                    pd = math.sqrt(((pos[a] - pos[c]) ** 2).sum())
                    sp_num += (fd - pd) ** 2
                    sp_den += 1
        q.append(feats[n + 1])
        s_pos.append(scores[n + 2])
        if neg is not None:
            s_neg.append(scores[n + 3])
    E = f32([smp["embedding"] for smp in samples])
    attn = []
    for i in range(b):
        z = np.array(q[i]) @ E.T / math.sqrt(C)
        same = [j for j in range(b) if samples[j]["text"] == samples[i]["text"]]
        lse = lambda v: v.max() + np.log(np.exp(v - v.max()).sum())
        attn.append(lse(z) - lse(z[same]))
    lm = float(np.mean(lm_terms))
    spatial = sp_num / sp_den
    attention = float(np.mean(attn))
    match = float(np.mean(softplus(-np.array(s_pos))))
    if s_neg:
        match = (match + float(np.mean(softplus(np.array(s_neg))))) / 2
    total = lm + w_spatial * spatial + w_align * (attention + match)
    return {"lm": lm, "spatial": spatial, "attention": attention, "match": match,
            "total": total}


# ----------------------------------------------------------------------------------------
# The committed tiny model and its vectors.
# ----------------------------------------------------------------------------------------

TINY = {"dim": 12, "hidden": 24, "heads": 2, "layers": 2, "channels": 4, "context": 24,
        "tensor_dim": [8, 8, 8], "max_position": 500.0, "norm_eps": 1e-5}
# "cu" "cub" "cube" " c" "ed" "red" (ids 256..261)
MERGES = [(99, 117), (256, 98), (257, 101), (32, 99), (101, 100), (114, 260)]
F16 = {"token_embedding.weight", "output_head.weight"}


def make_tiny(path):
    rng = np.random.default_rng(20240611)
    cfg = dict(TINY, vocab_size=256 + len(MERGES) + 4)
    params, dtypes = {}, {}
    for name, shape in param_spec(cfg):
        if name == "token_embedding.weight":
            a = rng.normal(size=shape)
        elif name.endswith("spatial_bias"):
            a = rng.uniform(0.2, 2.0, size=shape)  # a real distance bias in every head
        elif "norm" in name and name.endswith(".weight"):
            a = 1.0 + 0.2 * rng.normal(size=shape)
        elif "norm" in name:
            a = 0.2 * rng.normal(size=shape)
        else:
            fan_in = shape[1] if len(shape) == 2 else shape[0]
            bound = 1.0 / math.sqrt(fan_in if len(shape) == 2 else cfg["dim"])
            a = rng.uniform(-bound, bound, size=shape) * 2.0
        dtype = "f16" if name in F16 else "f32"
        # Store exactly what the file will hold.
        params[name] = a.astype(np.float16 if dtype == "f16" else np.float32).astype(np.float64)
        dtypes[name] = dtype
    meta = {"created": 1718064000, "steps": 42, "loss": 1.25, "accuracy": 0.5}
    write_vllm(path, cfg, MERGES, params, dtypes, meta)


def vectors(model_path, out_path):
    cfg, merges, P, meta = read_vllm(model_path)
    s = specials(merges)
    rng = np.random.default_rng(7)
    C = cfg["channels"]
    bounds = 250.0

    def obj():
        return {"embedding": [round(float(v), 6) for v in rng.normal(size=C)],
                "position": [round(float(v), 3) for v in rng.uniform(-bounds, bounds, 3)]}

    texts = ["red cube", "the cube", "", "cubed reds", "ünï cüb"]
    tokenize = [{"text": t, "ids": bpe_encode(merges, t)} for t in texts]

    seqs = [
        {"ids": text_ids(merges, "red cube"), "spatial": []},
        {"ids": text_ids(merges, "a cube") + [s["SPATIAL"]] * 2, "spatial": [obj(), obj()]},
        {"ids": text_ids(merges, "a small red sphere") + [s["SPATIAL"]], "spatial": [obj()]},
        {"ids": [s["BOS"], 104, s["SPATIAL"], 105, s["EOS"]], "spatial": [obj()]},
    ]
    fwd = {"sequences": seqs, "bounds": bounds, "logits": [], "features": [], "scores": []}
    for q in seqs:
        logits, feats, scores = heads(P, hidden_states(P, cfg, merges, q["ids"], q["spatial"],
                                                       bounds))
        fwd["logits"].append(logits.tolist())
        fwd["features"].append(feats.tolist())
        fwd["scores"].append(scores.tolist())

    embed_texts = ["cube", "red cube", "a small red sphere", "", "cube"]
    embed = {"texts": embed_texts,
             "vectors": [m_embed(P, cfg, merges, t).tolist() for t in embed_texts]}

    rows = []
    for t in ["cube", "red cube", "cube", "sphere", "cube"]:
        o = obj()
        rows.append({"text": t, "embedding": o["embedding"], "position": o["position"]})
    score = {"rows": rows, "bounds": bounds,
             "values": [float(m_score(P, cfg, merges, r["text"], r["embedding"], r["position"],
                                      bounds)) for r in rows]}

    gen = {"prompt": "the red", "max_tokens": 12}
    gen["ids"] = greedy(P, cfg, merges, gen["prompt"], gen["max_tokens"])

    samples = []
    for t in ["cube", "sphere", "cube", "red cube", "sphere", "cube"]:
        o = obj()
        samples.append({"text": t, "embedding": o["embedding"], "position": o["position"]})
    loss = {"samples": samples, "bounds": bounds}
    loss.update(loss_parts(P, cfg, merges, samples, bounds))
    same = [dict(smp, text="cube") for smp in samples[:3]]
    loss_same = {"samples": same, "bounds": bounds}
    loss_same.update(loss_parts(P, cfg, merges, same, bounds))

    out = {"model": Path(model_path).name, "meta": list(meta), "tokenize": tokenize,
           "forward": fwd, "embed": embed, "score": score, "generate": gen,
           "loss": [loss, loss_same]}
    Path(out_path).write_text(json.dumps(rounded(out), indent=0) + "\n")


def rounded(v):
    """Floats to 9 significant digits: far below the 1e-4 tolerance, a smaller file."""
    if isinstance(v, float):
        return float("%.9g" % v)
    if isinstance(v, list):
        return [rounded(x) for x in v]
    if isinstance(v, dict):
        return {k: rounded(x) for k, x in v.items()}
    return v


# ----------------------------------------------------------------------------------------
# Timing: the same algorithms as the Rust crate, vectorized, in float32.
# ----------------------------------------------------------------------------------------


class Fast:
    """Batched float32 inference: padded batches, and a cached prefix for scoring."""

    def __init__(self, path):
        self.cfg, self.merges, P, _ = read_vllm(path)
        self.P = {k: v.astype(np.float32) for k, v in P.items()}
        self.sp = specials(self.merges)

    def lin(self, name, x):
        return x @ self.P[name + ".weight"].T + self.P[name + ".bias"]

    def norm(self, name, x):
        return layer_norm(x, self.P[name + ".weight"], self.P[name + ".bias"],
                          np.float32(self.cfg["norm_eps"])).astype(np.float32)

    def ffn(self, p, x):
        x2 = self.lin(p + ".ffn.3", gelu(self.lin(p + ".ffn.0", x), fast_erf).astype(np.float32))
        return self.norm(p + ".norm2", x + x2)

    def batch(self, id_lists, keep_kv=False):
        """Hidden states (b, s, D) of text-only sequences, right-padded."""
        cfg, D, H = self.cfg, self.cfg["dim"], self.cfg["heads"]
        hd = D // H
        b, s = len(id_lists), max(len(x) for x in id_lists)
        ids = np.full((b, s), self.sp["PAD"])
        for r, x in enumerate(id_lists):
            ids[r, :len(x)] = x
        pos = np.array([text_position(i) for i in range(s)])
        pe = np.array([encoding(p, D) for p in pos], dtype=np.float32)
        n = pos / cfg["max_position"]
        dist = np.sqrt(((n[:, None] - n[None]) ** 2).sum(-1)).astype(np.float32)
        causal = np.triu(np.full((s, s), -1e9, dtype=np.float32), 1)
        x = self.P["token_embedding.weight"][ids] + pe
        kv = []
        for l in range(cfg["layers"]):
            p = "layers.%d" % l
            split = lambda t: t.reshape(b, s, H, hd).transpose(0, 2, 1, 3)
            q = split(self.lin(p + ".attention.q_proj", x))
            k = split(self.lin(p + ".attention.k_proj", x))
            v = split(self.lin(p + ".attention.v_proj", x))
            beta = self.P[p + ".attention.spatial_bias"].reshape(1, H, 1, 1)
            sc = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(hd)) - beta * dist + causal
            sc = np.exp(sc - sc.max(-1, keepdims=True))
            sc /= sc.sum(-1, keepdims=True)
            o = (sc @ v).transpose(0, 2, 1, 3).reshape(b, s, D)
            x = self.norm(p + ".norm1", x + self.lin(p + ".attention.o_proj", o))
            x = self.ffn(p, x)
            if keep_kv:
                kv.append((k[0], v[0], n))
        return self.norm("norm", x), kv

    def embed(self, texts):
        lists = [text_ids(self.merges, t) for t in texts]
        h, _ = self.batch(lists)
        last = np.array([len(x) - 1 for x in lists])
        return self.lin("tensor_projection", h[np.arange(len(lists)), last])

    def step(self, kv, x, n):
        """Rows x (N, D) at normalized positions n (N, 3), each continuing the cached prefix
        kv on its own. Returns their hidden states and their keys and values per layer."""
        D, H = self.cfg["dim"], self.cfg["heads"]
        hd, N = D // H, len(x)
        new = []
        for l, (kp, vp, npre) in enumerate(kv):
            p = "layers.%d" % l
            dist = np.sqrt(((n[:, None] - npre[None]) ** 2).sum(-1)).astype(np.float32)
            q = self.lin(p + ".attention.q_proj", x).reshape(N, H, hd).transpose(1, 0, 2)
            k = self.lin(p + ".attention.k_proj", x).reshape(N, H, hd).transpose(1, 0, 2)
            v = self.lin(p + ".attention.v_proj", x).reshape(N, H, hd).transpose(1, 0, 2)
            beta = self.P[p + ".attention.spatial_bias"].reshape(H, 1, 1)
            scale = np.float32(1 / math.sqrt(hd))
            sc = np.concatenate([q @ kp.transpose(0, 2, 1) * scale - beta * dist,
                                 (q * k).sum(-1, keepdims=True) * scale], -1)
            sc = np.exp(sc - sc.max(-1, keepdims=True))
            sc /= sc.sum(-1, keepdims=True)
            o = sc[..., :-1] @ vp + sc[..., -1:] * v
            o = o.transpose(1, 0, 2).reshape(N, D)
            x = self.norm(p + ".norm1", x + self.lin(p + ".attention.o_proj", o))
            x = self.ffn(p, x)
            new.append((k, v))
        return self.norm("norm", x), new

    def score(self, text, emb, positions, bounds):
        D = self.cfg["dim"]
        _, kv = self.batch([text_ids(self.merges, text)], keep_kv=True)
        pm = positions.astype(np.float64) * self.cfg["max_position"] / bounds
        pe = np.array([encoding(p, D) for p in pm], dtype=np.float32)
        x = (self.P["token_embedding.weight"][self.sp["SPATIAL"]]
             + self.lin("object_projection", emb) + pe)
        h, _ = self.step(kv, x, pm / self.cfg["max_position"])
        return self.lin("score_head", h)[:, 0]

    def forward(self, ids):
        """Every head at every position of one sequence."""
        h, _ = self.batch([ids])
        return (self.lin("output_head", h), self.lin("tensor_projection", h),
                self.lin("score_head", h))

    def generate(self, prompt, max_tokens):
        """Greedy over a key/value cache, as the crate does (EOS never picked, so that
        exactly max_tokens come out)."""
        D = self.cfg["dim"]
        ids = [self.sp["BOS"]] + bpe_encode(self.merges, prompt)
        h, kv = self.batch([ids], keep_kv=True)
        logits = self.lin("output_head", h[0, -1])
        for _ in range(max_tokens):
            for banned in ("PAD", "BOS", "SPATIAL", "EOS"):
                logits[self.sp[banned]] = -np.inf
            t = int(np.argmax(logits))
            ids.append(t)
            pos = text_position(len(ids) - 1)
            x = self.P["token_embedding.weight"][[t]] + encoding(pos, D).astype(np.float32)
            n = (pos / self.cfg["max_position"])[None]
            h, new = self.step(kv, x, n)
            kv = [(np.concatenate([kp, k], 1), np.concatenate([vp, v], 1),
                   np.concatenate([npre, n], 0)) for (kp, vp, npre), (k, v) in zip(kv, new)]
            logits = self.lin("output_head", h[0])
        return ids


def best_of(f, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def bench(path):
    m = Fast(path)
    cfg = m.cfg
    rng = np.random.default_rng(1)
    C = cfg["channels"]
    print("model: %s (layers %d, dim %d, heads %d, channels %d), numpy %s, float32"
          % (path, cfg["layers"], cfg["dim"], cfg["heads"], C, np.__version__))
    ids64 = [m.sp["BOS"]] + [97 + i % 26 for i in range(62)] + [m.sp["EOS"]]
    t = best_of(lambda: m.forward(ids64), 20)
    print("forward 64 tokens: %.3f ms" % (t * 1e3))
    emb = rng.normal(size=(10_000, C)).astype(np.float32)
    pos = rng.uniform(-500, 500, size=(10_000, 3))
    t = best_of(lambda: m.score("red cube", emb, pos, 500.0), 3)
    print("score 10k rows: %.1f ms = %.0f rows/s" % (t * 1e3, 10_000 / t))
    words = ["red", "blue", "green", "small", "large", "cube", "sphere", "torus", "cone"]
    texts = ["%s %s %d" % (words[i % 5], words[5 + i % 4], i) for i in range(1000)]
    t = best_of(lambda: m.embed(texts), 3)
    print("embed 1k texts: %.1f ms = %.0f texts/s" % (t * 1e3, 1000 / t))
    t = best_of(lambda: m.generate("the red cube", 32), 3)
    print("generate 32 tokens: %.1f ms = %.0f tokens/s" % (t * 1e3, 32 / t))


def self_check(path):
    """The vectorized float32 paths agree with the per-sequence float64 reference."""
    cfg, merges, P, _ = read_vllm(path)
    f = Fast(path)
    e = f.embed(["red cube", "cube"])
    assert np.allclose(e[0], m_embed(P, cfg, merges, "red cube"), atol=1e-4)
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(3, cfg["channels"])).astype(np.float32)
    pos = rng.uniform(-100, 100, size=(3, 3))
    got = f.score("cube", emb, pos, 100.0)
    want = [m_score(P, cfg, merges, "cube", emb[i], pos[i], 100.0) for i in range(3)]
    assert np.allclose(got, want, atol=1e-4), (got, want)
    fast = f.generate("the red", 6)
    ref = greedy(P, cfg, merges, "the red", 6)
    assert fast[-len(ref):] == ref or len(ref) < 6, (fast, ref)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", metavar="MODEL", help="time the reference on a .vllm model")
    ap.add_argument("--out", default=str(DATA), help="folder for tiny.vllm and vectors.json")
    args = ap.parse_args()
    if args.bench:
        bench(args.bench)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    make_tiny(out / "tiny.vllm")
    self_check(out / "tiny.vllm")
    vectors(out / "tiny.vllm", out / "vectors.json")
    print("wrote %s (%d bytes) and %s" % (out / "tiny.vllm", (out / "tiny.vllm").stat().st_size,
                                         out / "vectors.json"), file=sys.stderr)


if __name__ == "__main__":
    main()
