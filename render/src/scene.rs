//! The renderer's own scene type: what a caller hands it.

/// An object to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneObject {
    /// Shown as the object's `<title>` (hover text).
    pub id: String,
    /// Picks the shape: cube, sphere, pyramid, torus; anything else is a point.
    pub kind: String,
    /// World position.
    pub position: [f32; 3],
    /// In [0, 1]: scales the shape's stroke.
    pub confidence: f32,
    /// In [0, 1] (clamped): the fill strength (e.g. the mean |embedding| or an attention weight).
    pub activation: f32,
    /// Further `(name, value)` pairs shown in the tooltip under the id, one `name: value`
    /// line each, in order (a map's user columns: the caller formats the values).
    pub properties: Vec<(String, String)>,
}

impl SceneObject {
    /// An object with confidence 1 and activation 0.5.
    pub fn new(id: impl Into<String>, kind: impl Into<String>, position: [f32; 3]) -> Self {
        SceneObject {
            id: id.into(),
            kind: kind.into(),
            position,
            confidence: 1.0,
            activation: 0.5,
            properties: Vec::new(),
        }
    }
}

/// A coarse sample of a voxel field: a region's centre, its half-width and its magnitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoxelSample {
    /// World position of the region's centre.
    pub center: [f32; 3],
    /// Half the region's width, in world units.
    pub half_size: f32,
    /// The field's magnitude there (e.g. the largest cell norm of the region).
    pub magnitude: f32,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scene {
    /// The objects.
    pub objects: Vec<SceneObject>,
    /// Coarse samples of the field, drawn as the heatmap when enabled.
    pub voxels: Vec<VoxelSample>,
    /// Half the world cube's width, for the axes (0: 500).
    pub bounds: f32,
    /// The name the `.svg3d` output gives the tensor field.
    pub map_name: String,
}
