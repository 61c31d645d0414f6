"""db.render(sql, format="html"): the interactive view, shown inline by Jupyter."""

import html as htmllib
import json
import re

import pytest

import tensormap


def manifest(page):
    m = re.search(r'<script type="application/json" id="tm-manifest">(.*?)</script>', page, re.S)
    assert m, "no manifest"
    return json.loads(m.group(1))


def test_render_html_is_the_view_of_the_select(loaded, tmp_path):
    db, (ids, *_) = loaded
    sql = ("SELECT id, confidence * 10 AS score, DISTANCE(position, [0, 0, 0]) AS d "
           "FROM scene WHERE WITHIN(position, [0, 0, 0], 300)")
    view = db.render(sql, format="html", color_by="score", effects="liquid", title="near",
                     slice="x", glow=False, point_budget=20000)
    assert isinstance(view, tensormap.HTML)
    inside, _ = db.within("scene", [0, 0, 0], 300)
    assert view.count == len(inside) > 0
    page = str(view)
    assert page == view.text and len(view) == len(page)
    assert page.startswith("<!DOCTYPE html>") and "<title>near</title>" in page
    m = manifest(page)
    assert m["count"] == len(inside) and m["sampled"] is False
    assert [c["name"] for c in m["objects"]["columns"]] == ["score", "d"]
    assert m["options"]["colorBy"] == "column" and m["options"]["colorColumn"] == "score"
    assert m["options"]["liquid"] is True and m["options"]["glow"] is False
    assert m["options"]["slice"]["axis"] == "x"
    # The same page as RENDER ... TO 'x.html' writes.
    out = tmp_path / "near.html"
    db.execute(f"RENDER {sql} TO '{out}' WITH (color_by = 'score', effects = 'liquid', "
               "title = 'near', slice = 'x', glow = false, point_budget = 20000)")
    assert out.read_text() == page
    saved = tmp_path / "saved.html"
    view.save(saved)
    assert saved.read_text() == page
    assert repr(view) == f"<tensormap.HTML {len(inside)} objects, {len(page.encode())} bytes>"


def test_repr_html_is_a_sandboxed_frame_holding_the_page(loaded):
    db, _ = loaded
    view = db.render("SELECT * FROM scene LIMIT 10", format="html")
    frame = view._repr_html_()
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)" style="[^"]*" sandbox="allow-scripts" '
                     r'title="tensormap view"></iframe>', frame)
    assert m, frame[:200]
    assert htmllib.unescape(m.group(1)) == view.text
    # The SVG stays an SVG for Jupyter.
    svg = db.render("SELECT * FROM scene LIMIT 10")
    assert isinstance(svg, tensormap.SVG)
    assert hasattr(svg, "_repr_svg_") and not hasattr(svg, "_repr_html_")
    assert not hasattr(view, "_repr_svg_")


def test_svg_learns_the_liquid_effect(loaded):
    db, _ = loaded
    plain = db.render("SELECT * FROM scene LIMIT 10").text
    liquid = db.render("SELECT * FROM scene LIMIT 10", effects="liquid").text
    assert "feTurbulence" not in plain
    assert "<feTurbulence" in liquid and "<feDisplacementMap" in liquid
    assert '<animate attributeName="baseFrequency"' in liquid


def test_render_html_errors_write_nothing(loaded, tmp_path):
    db, _ = loaded
    with pytest.raises(ValueError, match="format must be 'svg' or 'html'"):
        db.render("SELECT * FROM scene", format="png")
    with pytest.raises(TypeError, match="unknown setting 'width'"):
        db.render("SELECT * FROM scene", format="html", width=3)
    with pytest.raises(TypeError, match="unknown setting 'color_by'"):
        db.render("SELECT * FROM scene", color_by="type")
    with pytest.raises(ValueError, match="unknown effect 'glitter'"):
        db.render("SELECT * FROM scene", format="html", effects="glitter")
    with pytest.raises(tensormap.QueryError, match="no column 'nope'"):
        db.render("SELECT * FROM scene", format="html", color_by="nope")
    with pytest.raises(tensormap.QueryError, match="outside the field"):
        db.render("SELECT * FROM scene", format="html", slice="z", slice_at=1e6)
    with pytest.raises(tensormap.QueryError, match="SELECT"):
        db.render("SHOW MAPS", format="html")
    out = tmp_path / "v.html"
    with pytest.raises(tensormap.QueryError) as e:
        db.execute(f"RENDER SELECT * FROM scene TO '{out}' WITH (effects = 'glitter')")
    assert e.value.line == 1 and e.value.kind == "invalid_value"
    assert list(tmp_path.iterdir()) == []
