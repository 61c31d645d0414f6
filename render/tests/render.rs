//! The SVG output: well-formed and escaped XML, depth order, culling, determinism, element
//! counts, the .svg3d read-back, and pixels of a rasterized scene (resvg).
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_render::{
    read_svg3d, render, Camera, Projector, RenderOptions, Scene, SceneObject, VoxelSample,
};

fn straight() -> RenderOptions {
    RenderOptions {
        camera: Camera {
            rotation: [0.0; 3],
            ..Camera::default()
        },
        ..RenderOptions::default()
    }
}

fn scene() -> Scene {
    let kinds = ["cube", "sphere", "pyramid", "torus", "point", "other"];
    let objects = (0..60)
        .map(|i| {
            let t = i as f32 * 0.7;
            let mut o = SceneObject::new(
                format!("o{i}"),
                kinds[i % 6],
                [t.cos() * 200.0, (i as f32 - 30.0) * 6.0, t.sin() * 200.0],
            );
            o.activation = (i % 10) as f32 / 10.0;
            o.confidence = 1.0 - (i % 5) as f32 / 10.0;
            o
        })
        .collect();
    let voxels = (0..64)
        .map(|i| VoxelSample {
            center: [
                ((i % 4) as f32 - 1.5) * 250.0,
                (((i / 4) % 4) as f32 - 1.5) * 250.0,
                ((i / 16) as f32 - 1.5) * 250.0,
            ],
            half_size: 125.0,
            magnitude: (i % 7) as f32,
        })
        .collect();
    Scene {
        objects,
        voxels,
        bounds: 500.0,
        map_name: "demo".into(),
    }
}

fn objects_in_order(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| {
            n.tag_name().name() == "g"
                && n.attribute("class")
                    .is_some_and(|c| c.starts_with("object "))
        })
        .map(|n| n.attribute("data-id").unwrap().to_string())
        .collect()
}

#[test]
fn output_is_well_formed_deterministic_and_counted() {
    let s = scene();
    let opts = RenderOptions::default();
    let a = render(&s, &opts);
    assert_eq!(a, render(&s, &opts), "same input, same bytes");
    let doc = roxmltree::Document::parse(&a).unwrap();
    let count = |name: &str| {
        doc.descendants()
            .filter(|n| n.tag_name().name() == name)
            .count()
    };
    assert_eq!(count("defs"), 1);
    assert_eq!(count("filter"), 1);
    assert_eq!(count("linearGradient"), 1);
    let proj = Projector::new(opts.camera, opts.width, opts.height);
    let visible = s
        .objects
        .iter()
        .filter(|o| proj.project(o.position).is_some())
        .count();
    assert_eq!(objects_in_order(&a).len(), visible);
    assert_eq!(count("title"), visible);
    let heat = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("heatmap"))
        .unwrap();
    let nonzero = s
        .voxels
        .iter()
        .filter(|v| v.magnitude > 0.0 && proj.project(v.center).is_some())
        .count();
    assert_eq!(heat.children().filter(|n| n.is_element()).count(), nonzero);
    // Numbers are compact: no long fractions anywhere in the drawing.
    assert!(
        !a.contains("000001") && !a.contains("99999"),
        "long numbers"
    );
    // Every type has a legend entry and its own shape.
    for shape in ["rect", "circle", "polygon", "ellipse"] {
        assert!(count(shape) > 0, "{shape}");
    }
}

#[test]
fn objects_are_drawn_back_to_front() {
    let mut s = Scene::default();
    for (id, z) in [
        ("near", -300.0),
        ("far", 400.0),
        ("middle", 0.0),
        ("middle2", 0.0),
    ] {
        s.objects.push(SceneObject::new(id, "cube", [0.0, 0.0, z]));
    }
    let svg = render(&s, &straight());
    assert_eq!(objects_in_order(&svg), ["far", "middle", "middle2", "near"]);
}

#[test]
fn points_behind_the_camera_are_culled_not_drawn_at_the_origin() {
    let mut s = Scene::default();
    s.objects
        .push(SceneObject::new("behind", "sphere", [0.0, 0.0, -1800.0]));
    s.objects
        .push(SceneObject::new("front", "sphere", [0.0, 0.0, 0.0]));
    s.voxels.push(VoxelSample {
        center: [0.0, 0.0, -3000.0],
        half_size: 10.0,
        magnitude: 1.0,
    });
    let svg = render(
        &s,
        &RenderOptions {
            heatmap: true,
            ..straight()
        },
    );
    assert_eq!(objects_in_order(&svg), ["front"]);
    assert!(!svg.contains(r#"cx="0" cy="0""#));
}

#[test]
fn ids_and_types_are_escaped() {
    let mut s = Scene::default();
    let id = r#"a<b>&"c'd"#;
    s.objects
        .push(SceneObject::new(id, "<cube&>", [0.0, 0.0, 0.0]));
    for svg3d in [false, true] {
        let svg = render(
            &s,
            &RenderOptions {
                svg3d,
                ..RenderOptions::default()
            },
        );
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let title = doc
            .descendants()
            .find(|n| n.tag_name().name() == "title")
            .unwrap();
        assert_eq!(title.text(), Some(id));
        if svg3d {
            let back = read_svg3d(&svg).unwrap();
            assert_eq!(back.objects[0].id, id);
            assert_eq!(back.objects[0].kind, "<cube&>");
        }
    }
}

#[test]
fn svg3d_carries_the_scene_back() {
    let s = scene();
    let opts = RenderOptions {
        svg3d: true,
        camera: Camera {
            position: [10.0, -20.5, -700.0],
            rotation: [15.0, -30.0, 5.0],
            fov: 45.0,
            perspective: 900.0,
        },
        ..RenderOptions::default()
    };
    let svg = render(&s, &opts);
    let back = read_svg3d(&svg).unwrap();
    assert_eq!(back.camera, opts.camera);
    assert_eq!(back.map_name.as_deref(), Some("demo"));
    let proj = Projector::new(opts.camera, opts.width, opts.height);
    let mut want: Vec<&SceneObject> = s
        .objects
        .iter()
        .filter(|o| proj.project(o.position).is_some())
        .collect();
    want.sort_by(|a, b| a.id.cmp(&b.id));
    let mut got = back.objects.clone();
    got.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            g, w,
            "positions, confidence and activation come back exactly"
        );
    }
    assert!(read_svg3d("<svg/>").is_err());
    assert!(read_svg3d("<svg").is_err());
}

#[test]
fn rasterized_objects_appear_where_the_projection_puts_them() {
    let opts = RenderOptions {
        heatmap: false,
        axes: false,
        legend: false,
        ..straight()
    };
    let mut s = Scene::default();
    s.objects
        .push(SceneObject::new("big_cube", "cube", [-200.0, 0.0, -800.0]));
    s.objects
        .push(SceneObject::new("ball", "sphere", [150.0, 80.0, -700.0]));
    let svg = render(&s, &opts);
    let tree = resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default()).unwrap();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(opts.width, opts.height).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let proj = Projector::new(opts.camera, opts.width, opts.height);
    let at = |x: f64, y: f64| pixmap.pixel(x.round() as u32, y.round() as u32).unwrap();
    let background = at(2.0, 2.0);
    assert!(
        background.blue() > background.red(),
        "the dark blue background is in the corner"
    );
    for o in &s.objects {
        let p = proj.project(o.position).unwrap();
        // The shapes are filled in their colour: cyan for the cube, pink for the sphere.
        let c = at(p.x, p.y);
        assert_ne!(
            (c.red(), c.green(), c.blue()),
            (background.red(), background.green(), background.blue()),
            "{} at {:?}",
            o.id,
            (p.x, p.y)
        );
        if o.kind == "cube" {
            assert!(c.green() > 100 && c.blue() > 100, "cyan cube: {c:?}");
        } else {
            assert!(c.red() > 100, "pink sphere: {c:?}");
        }
    }
    // Far from both objects, only the background.
    let empty = at(400.0, 590.0);
    assert!(empty.red() < 60 && empty.green() < 70, "{empty:?}");
}

#[test]
fn the_liquid_effect_is_an_animated_displacement_filter() {
    let s = scene();
    let plain = render(&s, &straight());
    let mut o = straight();
    o.set("effects", tensormap_render::OptionValue::Text("liquid"))
        .unwrap();
    let liquid = render(&s, &o);
    for svg in [&plain, &liquid] {
        roxmltree::Document::parse(svg).unwrap();
    }
    assert!(!plain.contains("feTurbulence") && !plain.contains("url(#liquid)"));

    let doc = roxmltree::Document::parse(&liquid).unwrap();
    let filter = doc
        .descendants()
        .find(|n| n.tag_name().name() == "filter" && n.attribute("id") == Some("liquid"))
        .expect("a filter with id liquid");
    let turbulence = filter
        .children()
        .find(|n| n.tag_name().name() == "feTurbulence")
        .expect("feTurbulence");
    let animate = turbulence
        .children()
        .find(|n| n.tag_name().name() == "animate")
        .expect("an <animate> of the turbulence");
    assert_eq!(animate.attribute("attributeName"), Some("baseFrequency"));
    assert_eq!(animate.attribute("repeatCount"), Some("indefinite"));
    let displace = filter
        .children()
        .find(|n| n.tag_name().name() == "feDisplacementMap")
        .expect("feDisplacementMap");
    assert_eq!(displace.attribute("in2"), turbulence.attribute("result"));
    // Every object is inside the filtered group, and only the objects are.
    let group = doc
        .descendants()
        .find(|n| n.attribute("filter") == Some("url(#liquid)"))
        .unwrap();
    assert_eq!(objects_in_order(&liquid), objects_in_order(&plain));
    let inside = group
        .descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.starts_with("object "))
        })
        .count();
    assert_eq!(inside, s.objects.len());
    assert!(group
        .descendants()
        .all(|n| n.attribute("class") != Some("heatmap")));
    // resvg draws it (the filter is valid SVG), differently from the still image.
    let raster = |svg: &str| {
        let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).unwrap();
        let mut pixmap = resvg::tiny_skia::Pixmap::new(800, 600).unwrap();
        resvg::render(&tree, Default::default(), &mut pixmap.as_mut());
        pixmap.data().to_vec()
    };
    assert_ne!(raster(&plain), raster(&liquid));
}

#[test]
fn wireframe_draws_outlines() {
    let s = scene();
    let mut o = straight();
    o.set("effects", tensormap_render::OptionValue::Text("wireframe"))
        .unwrap();
    let fills = |svg: &str| -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| {
                n.parent()
                    .and_then(|p| p.attribute("class"))
                    .is_some_and(|c| c == "object cube" || c == "object sphere")
                    && n.tag_name().name() != "title"
            })
            .map(|n| n.attribute("fill").unwrap_or("").to_string())
            .collect()
    };
    let outlined = fills(&render(&s, &o));
    let filled = fills(&render(&s, &straight()));
    assert_eq!(outlined.len(), 20);
    assert!(outlined.iter().all(|f| f == "none"), "{outlined:?}");
    assert!(filled.iter().all(|f| f.starts_with('#')), "{filled:?}");
}

#[test]
fn the_tooltip_lists_the_properties_escaped() {
    let mut o = SceneObject::new("a<b", "cube", [0.0, 0.0, 0.0]);
    o.properties = vec![
        ("label".into(), "red & \"fast\" </title><script>".into()),
        ("speed".into(), "NULL".into()),
    ];
    let plain = SceneObject::new("plain", "sphere", [50.0, 0.0, 0.0]);
    let scene = Scene {
        objects: vec![o, plain],
        ..Scene::default()
    };
    let svg = render(&scene, &straight());
    assert!(
        svg.contains(
            "<title>a&lt;b\nlabel: red &amp; &quot;fast&quot; &lt;/title&gt;&lt;script&gt;\nspeed: NULL</title>"
        ),
        "{svg}"
    );
    // An object without properties keeps its title as it was: the id alone.
    assert!(svg.contains("<title>plain</title>"));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    assert!(titles.contains(&"a<b\nlabel: red & \"fast\" </title><script>\nspeed: NULL"));
    assert!(!svg.contains("<script>"));
}
