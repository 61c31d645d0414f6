//! tensormap-render: a query result as an SVG view.
//!
//! Independent of the other crates: it takes its own small [`Scene`] (objects, and
//! optionally coarse samples of a voxel field) and a [`Camera`], and returns SVG text —
//! a perspective projection, depth-sorted back to front, shapes by type,
//! opacity by depth, one glow filter and one background gradient in `<defs>`, an optional
//! heatmap, axes and a legend, a `<title>` per object. Output is escaped, deterministic
//! (same input, same bytes) and prints numbers compactly. The `.svg3d` variant also carries
//! `svg3d:` elements so the scene can be read back ([`read_svg3d`]).
//!
//! ```
//! use tensormap_render::{render, RenderOptions, Scene, SceneObject};
//! let scene = Scene {
//!     objects: vec![SceneObject::new("cube_1", "cube", [0.0, 0.0, 0.0])],
//!     ..Scene::default()
//! };
//! let svg = render(&scene, &RenderOptions::default());
//! assert!(svg.starts_with("<svg") && svg.contains("<title>cube_1</title>"));
//! ```

mod camera;
pub mod html;
// The HTML view's unit tests share the examples' scene generator, which names the crate.
#[cfg(test)]
extern crate self as tensormap_render;
mod options;
mod scene;
mod svg;
mod svg3d;

pub use camera::{Camera, Projected, Projector};
pub use options::{OptionError, OptionValue};
pub use scene::{Scene, SceneObject, VoxelSample};
pub use svg::{render, RenderOptions};
pub use svg3d::{read_svg3d, ReadError, Svg3dScene, SVG3D_NS};
