"""The NumPy peer of the attention benchmark, driven by benches/peers.rs.

Usage: attention_numpy.py EMBEDDINGS QUERY K
  EMBEDDINGS: a file of little-endian f32, one row of len(QUERY) channels per object
  QUERY: comma-separated floats; K: how many to rank

Prints "ready" once loaded. Then for each line "N" on stdin it runs the attention N times
and prints the total nanoseconds followed by the top K row numbers of the last run,
highest weight first. The work is what a NumPy user writes: a matrix-vector product,
the softmax normalizer, argpartition for the top K, and their weights.
"""

import sys
import time

import numpy as np


def attention(emb, q, k):
    scores = emb @ q * np.float32(1.0 / np.sqrt(len(q)))
    top = np.argpartition(-scores, k)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    peak = scores.max()
    z = np.exp(scores - peak).sum(dtype=np.float64)
    weights = np.exp(scores[top] - peak) / z
    return top, weights


def main():
    path, query, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
    q = np.array([float(v) for v in query.split(",")], dtype=np.float32)
    emb = np.fromfile(path, dtype="<f4").reshape(-1, len(q))
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        start = time.perf_counter_ns()
        for _ in range(n):
            top, _weights = attention(emb, q, k)
        took = time.perf_counter_ns() - start
        print(took, *top.tolist(), flush=True)


if __name__ == "__main__":
    main()
