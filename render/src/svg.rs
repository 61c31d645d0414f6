//! SVG output: one pass over the projected scene into a string.

use std::fmt::{self, Write};

use crate::camera::{Camera, Projected, Projector};
use crate::scene::{Scene, SceneObject};
use crate::svg3d::SVG3D_NS;

/// How to render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
    /// The camera.
    pub camera: Camera,
    /// Draw the field's heatmap from the scene's voxel samples.
    pub heatmap: bool,
    /// Draw the world axes.
    pub axes: bool,
    /// Draw a legend of the object types present.
    pub legend: bool,
    /// Add the `svg3d:` elements (`.svg3d` output).
    pub svg3d: bool,
    /// The liquid effect: the objects seen through an SVG displacement filter whose
    /// turbulence drifts (SMIL `<animate>`), so it moves where no script runs.
    pub liquid: bool,
    /// Draw the objects as outlines (no fill), as the original wireframe sketch did.
    pub wireframe: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            width: 800,
            height: 600,
            camera: Camera::default(),
            heatmap: true,
            axes: true,
            legend: true,
            svg3d: false,
            liquid: false,
            wireframe: false,
        }
    }
}

/// A number printed with at most two decimals and no trailing zeros (`12.5`, `3`, `-0.25`).
struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = (self.0 * 100.0).round() / 100.0;
        if r == r.trunc() && r.abs() < 1e15 {
            return write!(f, "{}", r as i64);
        }
        let s = format!("{r:.2}");
        f.write_str(s.trim_end_matches('0'))
    }
}

/// Text escaped for XML content and attribute values.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&apos;")?,
                // Characters XML 1.0 cannot carry at all are replaced.
                c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                    f.write_char('\u{fffd}')?
                }
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// The colour of each shape family.
fn style(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "cube" => ("cube", "#00e6ff"),
        "sphere" => ("sphere", "#ff66aa"),
        "pyramid" => ("pyramid", "#ffcc33"),
        "torus" => ("torus", "#66ff99"),
        _ => ("point", "#c8b4ff"),
    }
}

const BACKGROUND: [&str; 2] = ["#0b1020", "#1a2340"];

/// The liquid filter: fractal noise whose base frequency is animated by SMIL (one cycle
/// every 8 seconds) displaces the objects by up to `scale / 2` pixels. Browsers that
/// ignore SMIL draw it still, displaced by the first frame's noise.
const LIQUID_FILTER: &str = concat!(
    r#"<filter id="liquid" x="-20%" y="-20%" width="140%" height="140%">"#,
    r#"<feTurbulence type="fractalNoise" baseFrequency="0.012 0.018" numOctaves="2" seed="7" result="flow">"#,
    r#"<animate attributeName="baseFrequency" dur="8s" values="0.012 0.018;0.02 0.011;0.012 0.018" repeatCount="indefinite"/>"#,
    r#"</feTurbulence>"#,
    r#"<feDisplacementMap in="SourceGraphic" in2="flow" scale="14" xChannelSelector="R" yChannelSelector="G"/>"#,
    r#"</filter>"#
);

/// Renders `scene` as SVG text.
pub fn render(scene: &Scene, opts: &RenderOptions) -> String {
    let mut out =
        String::with_capacity(2048 + scene.objects.len() * 360 + scene.voxels.len() * 110);
    // Writing to a String cannot fail.
    let _ = write_svg(&mut out, scene, opts);
    out
}

fn write_svg(out: &mut String, scene: &Scene, opts: &RenderOptions) -> fmt::Result {
    let (w, h) = (opts.width, opts.height);
    let proj = Projector::new(opts.camera, w, h);
    write!(out, r#"<svg xmlns="http://www.w3.org/2000/svg""#)?;
    if opts.svg3d {
        write!(out, r#" xmlns:svg3d="{SVG3D_NS}""#)?;
    }
    writeln!(out, r#" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#)?;
    writeln!(
        out,
        concat!(
            r#"<defs><filter id="glow" x="-50%" y="-50%" width="200%" height="200%">"#,
            r#"<feGaussianBlur in="SourceGraphic" stdDeviation="3" result="blur"/>"#,
            r#"<feMerge><feMergeNode in="blur"/><feMergeNode in="SourceGraphic"/></feMerge></filter>"#,
            r#"{}<linearGradient id="bg-gradient" x1="0" y1="0" x2="0" y2="1">"#,
            r#"<stop offset="0" stop-color="{}"/><stop offset="1" stop-color="{}"/></linearGradient></defs>"#
        ),
        if opts.liquid { LIQUID_FILTER } else { "" },
        BACKGROUND[0],
        BACKGROUND[1]
    )?;
    writeln!(
        out,
        r#"<rect class="background" width="{w}" height="{h}" fill="url(#bg-gradient)"/>"#
    )?;
    if opts.svg3d {
        let c = opts.camera;
        writeln!(
            out,
            r#"<svg3d:camera-3d position="{} {} {}" rotation="{} {} {}" fov="{}" perspective="{}"/>"#,
            c.position[0],
            c.position[1],
            c.position[2],
            c.rotation[0],
            c.rotation[1],
            c.rotation[2],
            c.fov,
            c.perspective
        )?;
    }
    if opts.heatmap && !scene.voxels.is_empty() {
        write_heatmap(out, scene, &proj, opts)?;
    }
    if opts.axes {
        write_axes(out, scene, &proj)?;
    }
    write_objects(out, scene, &proj, opts)?;
    if opts.legend {
        write_legend(out, scene)?;
    }
    out.write_str("</svg>\n")
}

fn write_heatmap(
    out: &mut String,
    scene: &Scene,
    proj: &Projector,
    opts: &RenderOptions,
) -> fmt::Result {
    let peak = scene.voxels.iter().fold(0.0f32, |m, v| m.max(v.magnitude));
    if opts.svg3d {
        let per_axis = scene.voxels.first().map_or(0, |v| {
            ((half_bounds(scene) / v.half_size.max(1e-6)).round() as u32).max(1)
        });
        writeln!(
            out,
            r#"<svg3d:tensor-field tensor-map-id="{}" sampling="{per_axis} {per_axis} {per_axis}" colormap="cyan"/>"#,
            Esc(&scene.map_name)
        )?;
    }
    if peak <= 0.0 {
        return Ok(());
    }
    let zoom = crate::camera::zoom(&opts.camera, opts.height);
    let mut cells: Vec<(Projected, f32, f32)> = scene
        .voxels
        .iter()
        .filter(|v| v.magnitude > 0.0)
        .filter_map(|v| {
            proj.project(v.center)
                .map(|p| (p, v.magnitude, v.half_size))
        })
        .collect();
    cells.sort_by(|a, b| {
        b.0.depth
            .total_cmp(&a.0.depth)
            .then(a.0.x.total_cmp(&b.0.x))
            .then(a.0.y.total_cmp(&b.0.y))
    });
    out.write_str("<g class=\"heatmap\" fill=\"#00e6ff\">\n")?;
    for (p, m, half) in cells {
        let r = (half as f64 * p.scale * zoom).max(1.0);
        writeln!(
            out,
            r#"<circle cx="{}" cy="{}" r="{}" fill-opacity="{}"/>"#,
            Num(p.x),
            Num(p.y),
            Num(r),
            Num(0.05 + 0.45 * (m / peak) as f64)
        )?;
    }
    out.write_str("</g>\n")
}

fn half_bounds(scene: &Scene) -> f32 {
    if scene.bounds > 0.0 {
        scene.bounds
    } else {
        500.0
    }
}

fn write_axes(out: &mut String, scene: &Scene, proj: &Projector) -> fmt::Result {
    let b = half_bounds(scene);
    out.write_str(
        "<g class=\"axes\" stroke-width=\"1\" font-size=\"12\" font-family=\"sans-serif\">\n",
    )?;
    for (name, end, color) in [
        ("x", [b, 0.0, 0.0], "#ff5555"),
        ("y", [0.0, b, 0.0], "#55ff55"),
        ("z", [0.0, 0.0, b], "#5599ff"),
    ] {
        let start = end.map(|v| -v);
        if let (Some(a), Some(e)) = (proj.project(start), proj.project(end)) {
            writeln!(
                out,
                r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-opacity="0.5"/><text x="{}" y="{}" fill="{color}">{name}</text>"#,
                Num(a.x),
                Num(a.y),
                Num(e.x),
                Num(e.y),
                Num(e.x + 4.0),
                Num(e.y - 4.0)
            )?;
        }
    }
    out.write_str("</g>\n")
}

fn write_objects(
    out: &mut String,
    scene: &Scene,
    proj: &Projector,
    opts: &RenderOptions,
) -> fmt::Result {
    let mut visible: Vec<(Projected, &SceneObject)> = scene
        .objects
        .iter()
        .filter_map(|o| proj.project(o.position).map(|p| (p, o)))
        .collect();
    // Back to front: the farthest first, so nearer objects are drawn over it.
    visible.sort_by(|a, b| {
        b.0.depth
            .total_cmp(&a.0.depth)
            .then_with(|| a.1.id.cmp(&b.1.id))
    });
    if opts.liquid {
        out.write_str("<g class=\"liquid\" filter=\"url(#liquid)\">\n")?;
    }
    out.write_str("<g class=\"objects\" filter=\"url(#glow)\">\n")?;
    for (p, o) in visible {
        let (family, color) = style(&o.kind);
        let opacity = (1.0 - p.depth / 1000.0).clamp(0.2, 1.0);
        let activation = if o.activation.is_finite() {
            o.activation.clamp(0.0, 1.0)
        } else {
            0.0
        } as f64;
        let confidence = if o.confidence.is_finite() {
            o.confidence.clamp(0.0, 1.0)
        } else {
            0.0
        } as f64;
        let s = p.scale;
        let stroke = 0.5 + 1.5 * confidence * s;
        write!(
            out,
            r#"<g class="object {family}" data-id="{}"><title>{}"#,
            Esc(&o.id),
            Esc(&o.id)
        )?;
        // The properties under the id, a line each (a tooltip shows the line breaks).
        for (name, value) in &o.properties {
            write!(out, "\n{}: {}", Esc(name), Esc(value))?;
        }
        out.write_str("</title>")?;
        let common = if opts.wireframe {
            format!(
                r#" stroke="{color}" stroke-width="{}" stroke-opacity="{}" fill="none""#,
                Num(stroke),
                Num(opacity)
            )
        } else {
            format!(
                r#" stroke="{color}" stroke-width="{}" stroke-opacity="{}" fill="{color}" fill-opacity="{}""#,
                Num(stroke),
                Num(opacity),
                Num(0.15 + 0.6 * activation * opacity)
            )
        };
        match family {
            "cube" => {
                let size = 30.0 * s;
                write!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{}"{common}/>"#,
                    Num(p.x - size / 2.0),
                    Num(p.y - size / 2.0),
                    Num(size),
                    Num(size)
                )?;
            }
            "sphere" => write!(
                out,
                r#"<circle cx="{}" cy="{}" r="{}"{common}/>"#,
                Num(p.x),
                Num(p.y),
                Num(15.0 * s)
            )?,
            "pyramid" => {
                let h = 16.0 * s;
                write!(
                    out,
                    r#"<polygon points="{},{} {},{} {},{}"{common}/>"#,
                    Num(p.x),
                    Num(p.y - h),
                    Num(p.x - h),
                    Num(p.y + h),
                    Num(p.x + h),
                    Num(p.y + h)
                )?;
            }
            "torus" => write!(
                out,
                r#"<ellipse cx="{}" cy="{}" rx="{}" ry="{}" stroke="{color}" stroke-width="{}" stroke-opacity="{}" fill="none"/>"#,
                Num(p.x),
                Num(p.y),
                Num(16.0 * s),
                Num(8.0 * s),
                Num(5.0 * s),
                Num(opacity)
            )?,
            _ => write!(
                out,
                r#"<circle cx="{}" cy="{}" r="{}" fill="{color}" fill-opacity="{}"/>"#,
                Num(p.x),
                Num(p.y),
                Num((4.0 * s).max(1.5)),
                Num(0.3 + 0.7 * activation)
            )?,
        }
        if opts.svg3d {
            write!(
                out,
                r#"<svg3d:vector-embedding embedding-id="{}" type="{}" position="{} {} {}" confidence="{}" activation="{}"/>"#,
                Esc(&o.id),
                Esc(&o.kind),
                o.position[0],
                o.position[1],
                o.position[2],
                o.confidence,
                o.activation
            )?;
        }
        out.write_str("</g>\n")?;
    }
    out.write_str("</g>\n")?;
    if opts.liquid {
        out.write_str("</g>\n")?;
    }
    Ok(())
}

fn write_legend(out: &mut String, scene: &Scene) -> fmt::Result {
    let mut families: Vec<&str> = scene.objects.iter().map(|o| style(&o.kind).0).collect();
    families.sort_unstable();
    families.dedup();
    if families.is_empty() {
        return Ok(());
    }
    let height = 12 + 18 * families.len();
    writeln!(
        out,
        r##"<g class="legend" font-size="12" font-family="sans-serif"><rect x="8" y="8" width="104" height="{height}" fill="#000000" fill-opacity="0.35" rx="4"/>"##
    )?;
    for (i, f) in families.iter().enumerate() {
        let y = 22 + 18 * i;
        writeln!(
            out,
            r##"<rect x="16" y="{}" width="10" height="10" fill="{}"/><text x="32" y="{}" fill="#e0e6ff">{f}</text>"##,
            y - 9,
            style(f).1,
            y
        )?;
    }
    out.write_str("</g>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(Num(12.0).to_string(), "12");
        assert_eq!(Num(12.5).to_string(), "12.5");
        assert_eq!(Num(-0.254).to_string(), "-0.25");
        assert_eq!(Num(1.0 / 3.0).to_string(), "0.33");
        assert_eq!(Num(-0.001).to_string(), "0");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            Esc("a<b&\"c'>\u{1}").to_string(),
            "a&lt;b&amp;&quot;c&apos;&gt;\u{fffd}"
        );
    }
}
