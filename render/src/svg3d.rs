//! The `.svg3d` variant (SVG with `svg3d:` elements that carry the 3-D scene) and reading
//! its scene back.

use crate::camera::Camera;
use crate::scene::SceneObject;

/// The svg3d namespace.
pub const SVG3D_NS: &str = "http://schemas.vllm.io/svg3d/1.0";

/// A scene read back from `.svg3d` text.
#[derive(Debug, Clone, PartialEq)]
pub struct Svg3dScene {
    /// The camera it was drawn with.
    pub camera: Camera,
    /// Its objects, in drawing order (back to front).
    pub objects: Vec<SceneObject>,
    /// The `tensor-map-id` of its tensor field, if it has one.
    pub map_name: Option<String>,
}

/// Why `.svg3d` text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Xml(#[from] roxmltree::Error),
    /// A required element or attribute is missing or malformed.
    #[error("invalid svg3d at byte {offset}: {reason}")]
    Invalid {
        /// Byte offset of the element.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(node: roxmltree::Node<'_, '_>, reason: impl Into<String>) -> ReadError {
    ReadError::Invalid {
        offset: node.range().start,
        reason: reason.into(),
    }
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Result<&'a str, ReadError> {
    node.attribute(name)
        .ok_or_else(|| invalid(node, format!("missing attribute '{name}'")))
}

fn number(node: roxmltree::Node<'_, '_>, name: &str) -> Result<f32, ReadError> {
    let s = attr(node, name)?;
    s.trim()
        .parse::<f32>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            invalid(
                node,
                format!("attribute '{name}' = '{s}' is not a finite number"),
            )
        })
}

fn triple(node: roxmltree::Node<'_, '_>, name: &str) -> Result<[f32; 3], ReadError> {
    let s = attr(node, name)?;
    let v: Vec<f32> = s
        .split_whitespace()
        .filter_map(|x| x.parse::<f32>().ok())
        .filter(|x| x.is_finite())
        .collect();
    <[f32; 3]>::try_from(v.as_slice()).map_err(|_| {
        invalid(
            node,
            format!("attribute '{name}' = '{s}' is not three finite numbers"),
        )
    })
}

/// Reads the camera and objects of a `.svg3d` document.
pub fn read_svg3d(text: &str) -> Result<Svg3dScene, ReadError> {
    let doc = roxmltree::Document::parse(text)?;
    let mut camera = None;
    let mut objects = Vec::new();
    let mut map_name = None;
    for node in doc
        .descendants()
        .filter(|n| n.tag_name().namespace() == Some(SVG3D_NS))
    {
        match node.tag_name().name() {
            "camera-3d" => {
                camera = Some(Camera {
                    position: triple(node, "position")?,
                    rotation: triple(node, "rotation")?,
                    fov: number(node, "fov")?,
                    perspective: number(node, "perspective")?,
                })
            }
            "vector-embedding" => objects.push(SceneObject {
                id: attr(node, "embedding-id")?.to_string(),
                kind: node.attribute("type").unwrap_or("point").to_string(),
                position: triple(node, "position")?,
                confidence: number(node, "confidence")?,
                activation: node
                    .attribute("activation")
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0.5),
                properties: Vec::new(),
            }),
            "tensor-field" => map_name = Some(attr(node, "tensor-map-id")?.to_string()),
            _ => {}
        }
    }
    let camera = camera.ok_or_else(|| invalid(doc.root_element(), "no svg3d:camera-3d element"))?;
    Ok(Svg3dScene {
        camera,
        objects,
        map_name,
    })
}
