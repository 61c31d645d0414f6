"""Shared fixtures: a database in memory, seeded random scenes."""

import os
import sys

import numpy as np
import pytest

import tensormap

# The reference NumPy implementation (reference_numpy.py) sits beside the tests.
sys.path.insert(0, os.path.dirname(__file__))

CHANNELS = 8


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def db():
    d = tensormap.connect()
    yield d
    d.close()


def scene(n, rng, channels=CHANNELS, bounds=500.0):
    """n objects: ids, types, positions (n, 3) and embeddings (n, channels), float32."""
    ids = [f"obj_{i}" for i in range(n)]
    types = [("cube", "sphere", "pyramid")[i % 3] for i in range(n)]
    positions = rng.uniform(-bounds * 0.99, bounds * 0.99, size=(n, 3)).astype(np.float32)
    embeddings = rng.normal(size=(n, channels)).astype(np.float32)
    return ids, types, positions, embeddings


@pytest.fixture
def loaded(db, rng):
    """A database with map `scene` holding 2,000 random objects; returns (db, data)."""
    db.create_map("scene", channels=CHANNELS)
    data = scene(2000, rng)
    db.insert("scene", *data)
    return db, data
