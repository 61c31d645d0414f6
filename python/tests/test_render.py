"""db.render: an SVG object that Jupyter shows."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tensormap


def test_render_returns_an_svg_jupyter_can_show(loaded, tmp_path):
    db, (ids, *_) = loaded
    svg = db.render("SELECT * FROM scene WHERE WITHIN(position, [0, 0, 0], 300)",
                    width=400, height=300, camera=[0, 0, -800], rotation=(10, 20, 0),
                    fov=50, heatmap=False, legend=True, axes=False)
    assert isinstance(svg, tensormap.SVG)
    text = svg._repr_svg_()
    assert text == str(svg) == svg.text and len(svg) == len(text)
    root = ET.fromstring(text)
    assert root.get("width") == "400" and root.get("height") == "300"
    drawn = {e.get("data-id") for e in root.iter() if e.get("data-id")}
    inside, _ = db.within("scene", [0, 0, 0], 300)
    assert drawn == set(inside)
    out = tmp_path / "view.svg"
    svg.save(out)
    assert out.read_text() == text


def test_render_errors(loaded):
    db, _ = loaded
    with pytest.raises(TypeError, match="unknown setting 'zoom'"):
        db.render("SELECT * FROM scene", zoom=2)
    with pytest.raises(ValueError, match="width"):
        db.render("SELECT * FROM scene", width=0)
    with pytest.raises(ValueError):
        db.render("SELECT * FROM scene", camera=[0, np.nan, 0])
    with pytest.raises(tensormap.QueryError) as e:
        db.render("SELECT * FROM nope")
    assert e.value.line == 1
    with pytest.raises(tensormap.QueryError, match="SELECT"):
        db.render("SHOW MAPS")
