"""tensormap.compat.TensorMap3D: the prototype's API on the engine, checked against the
reference NumPy implementation (reference_numpy.py), and the original Python sketch's usage
example adapted to the package."""

import numpy as np
import pytest

import tensormap
from tensormap.compat import TensorMap3D
from reference_numpy import ReferenceTensorMap3D


def both(rng, n=300, channels=32):
    """The same objects embedded in the reference NumPy implementation and in the compat
    class."""
    ref, ours = ReferenceTensorMap3D(channels=channels), TensorMap3D(channels=channels)
    types = ["cube", "sphere", "pyramid"]
    for i in range(n):
        p = tuple(rng.uniform(-480, 480, 3))
        f = rng.normal(size=channels).astype(np.float32)
        a = ref.embed_object(p, f, types[i % 3])
        b = ours.embed_object(p, f, types[i % 3])
        assert a == b
    return ref, ours


def test_embed_object_gives_the_references_ids_and_field(rng):
    ref, ours = both(rng)
    assert len(ours) == 300
    assert set(ours.spatial_index) == set(ref.spatial_index)
    some = next(iter(ref.spatial_index))
    assert ours.spatial_index[some]["position"] == ref.spatial_index[some]["position"]
    assert ours.spatial_index[some]["type"] == ref.spatial_index[some]["type"]
    np.testing.assert_array_equal(ours.spatial_index[some]["embedding"],
                                  ref.spatial_index[some]["embedding"])
    assert ours.tensor_field.shape == ref.tensor_field.shape == (1, 64, 64, 64, 32)
    np.testing.assert_allclose(ours.tensor_field, ref.tensor_field, rtol=1e-4, atol=1e-4)


def test_query_region_and_attention_match_the_reference(rng):
    ref, ours = both(rng)
    for center, radius in [((0, 0, 0), 100), ((120, -40, 300), 60), ((-495, 495, 0), 100),
                           ((10, 10, 10), 5)]:
        p1, i1 = ref.query_region(center, radius)
        p2, i2 = ours.query_region(center, radius)
        assert i1 == i2
        assert p2.dtype == np.float32 and p2.shape == (len(i2), 32)
        np.testing.assert_allclose(p2, p1, rtol=1e-4, atol=1e-4)
        q = rng.normal(size=32).astype(np.float32)
        w1 = ref.spatial_attention(q, i1)
        w2 = ours.spatial_attention(q, i2)
        np.testing.assert_allclose(w2, w1, rtol=1e-3, atol=1e-6)
        # Indices that are not the last region's are read from the engine again.
        w3 = ours.spatial_attention(q, list(i2))
        np.testing.assert_allclose(w3, w1, rtol=1e-3, atol=1e-6)
        assert abs(float(w2.sum()) - 1) < 1e-5


def test_region_of_radius_100_is_a_sphere_of_6_4_cells(rng):
    ours = TensorMap3D()
    _, idx = ours.query_region((0, 0, 0), 100)
    cells = np.array(idx)
    assert np.all(np.sqrt(((cells - 32) ** 2).sum(axis=1)) <= 6.4)
    d = np.arange(-7, 8)
    expected = sum(1 for x in d for y in d for z in d if x * x + y * y + z * z <= 6.4**2)
    assert len(idx) == len({*idx}) == expected


def test_embed_objects_bulk_and_the_engine_underneath(rng):
    tm = TensorMap3D(channels=8)
    pos = rng.uniform(-400, 400, size=(1000, 3)).astype(np.float32)
    ids = tm.embed_objects(pos, rng.normal(size=(1000, 8)).astype(np.float32), "cube")
    assert ids[0] == "cube_0" and ids[-1] == "cube_999"
    assert tm.embed_object((0, 0, 0), np.ones(8), "ball") == "ball_1000"
    near, _ = tm.db.nearest(tm.name, [0, 0, 0], 1)
    assert near == ["ball_1000"]
    r = tm.db.execute(f"SELECT COUNT(*) FROM {tm.name} WHERE type = 'cube'").fetchone()
    assert r == (1000.0,)


def test_save_and_load_round_trip(rng, tmp_path):
    ref, ours = both(rng, n=50, channels=16)
    path = tmp_path / "scene.tmap"
    ours.save(str(path))
    back = TensorMap3D.load(str(path))
    assert len(back) == 50 and back.channels == 16 and back.dimensions == (64, 64, 64)
    np.testing.assert_allclose(back.tensor_field, ours.tensor_field, rtol=1e-5, atol=1e-5)
    assert back.embed_object((1, 2, 3), np.zeros(16), "cube") == "cube_50"
    # Into a database of the caller's, under another name.
    db = tensormap.connect()
    TensorMap3D.load(str(path), db=db, name="restored")
    assert db.execute("SELECT COUNT(*) FROM restored").fetchone() == (50.0,)


def test_bad_arguments():
    with pytest.raises(ValueError):
        TensorMap3D(dimensions=(64, 64, 32))
    with pytest.raises(tensormap.Error):
        TensorMap3D(dimensions=(100, 100, 100))
    tm = TensorMap3D(channels=4)
    with pytest.raises(tensormap.Error):
        tm.embed_object((0, 0, 0), np.ones(5), "cube")
    with pytest.raises(tensormap.Error):
        tm.embed_object((600, 0, 0), np.ones(4), "cube")
    with pytest.raises(tensormap.Error):
        tm.embed_object((np.nan, 0, 0), np.ones(4), "cube")
    assert len(tm) == 0
    # A failed embed does not use up an id.
    assert tm.embed_object((0, 0, 0), np.ones(4), "cube") == "cube_0"
    with pytest.raises(ValueError):
        tm.spatial_attention(np.ones(3), [(32, 32, 32)])


def test_embedded_objects_are_stored_in_batches_before_any_read(rng):
    tm = TensorMap3D(channels=4, batch_size=3)
    raw = tm._db  # the connection, without the flush that `tm.db` does
    count = lambda: raw.execute(f"SELECT COUNT(*) FROM {tm.name}").fetchone()[0]
    for i in range(2):
        tm.embed_object((i, 0, 0), np.ones(4), "cube")
    assert count() == 0
    tm.embed_object((5, 0, 0), np.ones(4), "cube")  # the third fills the batch
    assert count() == 3
    tm.embed_object((6, 0, 0), np.ones(4), "cube")
    assert count() == 3
    _, idx = tm.query_region((6, 0, 0), 1)  # a read stores what waits
    assert count() == 4
    assert tm.db.nearest(tm.name, [6, 0, 0], 1)[0] == ["cube_3"]
    # One transaction per object with batch_size=1.
    one = TensorMap3D(channels=4, batch_size=1, name="one", db=raw)
    one.embed_object((0, 0, 0), np.ones(4), "cube")
    assert raw.execute("SELECT COUNT(*) FROM one").fetchone() == (1.0,)


# The original Python sketch's usage example, adapted: the VLLMClient (a remote service) is left out;
# the tensor map, the spatial search and the SVG for Jupyter come from the package.
class VLLMIntegration:
    """Complete V-LLM Integration Example"""

    def __init__(self):
        self.tensor_map = TensorMap3D()

    def create_spatial_scene(self):
        """Create example 3D scene with embeddings"""
        objects = [
            {"position": (100, 50, 0), "type": "cube", "color": "cyan"},
            {"position": (-100, 30, 50), "type": "sphere", "color": "magenta"},
            {"position": (50, -50, -30), "type": "pyramid", "color": "yellow"},
            {"position": (-50, -30, 100), "type": "cube", "color": "blue"},
            {"position": (0, 100, -50), "type": "sphere", "color": "red"},
        ]
        for obj in objects:
            features = np.random.randn(32).astype(np.float32)
            self.tensor_map.embed_object(obj["position"], features, obj["type"])
        return self.tensor_map

    def spatial_search(self, center, radius):
        """Perform spatial search and render the found objects"""
        tm = self.tensor_map
        ids, distances = tm.db.within(tm.name, center, radius)
        results = {"objects": [{"id": i, "distance": float(d)} for i, d in zip(ids, distances)],
                   "count": len(ids)}
        svg = tm.db.render(
            f"SELECT * FROM {tm.name} WHERE WITHIN(position, [{center[0]}, {center[1]}, {center[2]}], {radius})"
        )
        return results, svg


def test_the_prototypes_usage_example(tmp_path):
    vllm = VLLMIntegration()
    tensor_map = vllm.create_spatial_scene()
    assert len(tensor_map) == 5
    patches, indices = tensor_map.query_region((0, 0, 0), 200)
    weights = tensor_map.spatial_attention(np.random.randn(32), indices)
    assert patches.shape == (len(indices), 32) and weights.shape == (len(indices),)
    results, svg = vllm.spatial_search(center=(0, 0, 0), radius=200)
    assert results["count"] == 5
    assert {o["id"] for o in results["objects"]} == {"cube_0", "sphere_1", "pyramid_2", "cube_3", "sphere_4"}
    with open(tmp_path / "scene.svg", "w") as f:
        f.write(str(svg))
    assert svg._repr_svg_().startswith("<svg")
    assert (tmp_path / "scene.svg").read_text().count('class="object ') == 5
