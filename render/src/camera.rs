//! The camera and its perspective projection.
//!
//! A world point is rotated about X, then Y, then Z by the camera's rotation (degrees), then
//! moved by minus the camera position; with `depth = z'`, a point with
//! `perspective + depth > 0` is in front of the viewer and lands at
//! `(width/2 + x' · s · zoom, height/2 - y' · s · zoom)` (world +y is up on the image) with
//! `s = perspective / (perspective + depth)`. Points behind are culled (`None`).
//!
//! `zoom` is a pinhole camera's: the focal length `(height/2) / tan(fov/2)` pixels over the
//! eye distance `perspective`, so `fov` is the vertical field of view at the eye. (A zoom of
//! `1000 / fov`, as first sketched, made the default 1000-unit world 16,000 pixels wide: off
//! every image.)

/// A 3-D camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Position (subtracted after rotation).
    pub position: [f32; 3],
    /// Rotation about X, Y, Z, in degrees.
    pub rotation: [f32; 3],
    /// Vertical field of view at the eye, degrees: larger shows more.
    pub fov: f32,
    /// Distance of the projection centre.
    pub perspective: f32,
}

impl Default for Camera {
    fn default() -> Self {
        Camera {
            position: [0.0, 0.0, -500.0],
            rotation: [30.0, 45.0, 0.0],
            fov: 60.0,
            perspective: 1200.0,
        }
    }
}

/// A projected point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projected {
    /// Screen x, pixels.
    pub x: f64,
    /// Screen y, pixels.
    pub y: f64,
    /// Depth after the camera transform: larger is farther.
    pub depth: f64,
    /// Perspective scale at that depth.
    pub scale: f64,
}

/// Pixels per world unit at scale 1: the focal length over the eye distance.
pub(crate) fn zoom(camera: &Camera, height: u32) -> f64 {
    let half_fov = (camera.fov as f64).to_radians() / 2.0;
    (height as f64 / 2.0) / half_fov.tan() / camera.perspective as f64
}

/// A camera set up for one image size (the trigonometry computed once).
#[derive(Debug, Clone, Copy)]
pub struct Projector {
    camera: Camera,
    sin: [f64; 3],
    cos: [f64; 3],
    zoom: f64,
    center: [f64; 2],
}

impl Projector {
    /// A projector for `camera` onto a `width × height` image.
    pub fn new(camera: Camera, width: u32, height: u32) -> Self {
        let r = camera.rotation.map(|d| (d as f64).to_radians());
        Projector {
            camera,
            sin: r.map(f64::sin),
            cos: r.map(f64::cos),
            zoom: zoom(&camera, height),
            center: [width as f64 / 2.0, height as f64 / 2.0],
        }
    }

    /// Projects a world point; `None` when it is behind the viewer or not finite.
    pub fn project(&self, p: [f32; 3]) -> Option<Projected> {
        let [x, y, z] = p.map(|v| v as f64);
        let (s, c) = (self.sin, self.cos);
        let y1 = y * c[0] - z * s[0];
        let z1 = y * s[0] + z * c[0];
        let x2 = x * c[1] + z1 * s[1];
        let z2 = -x * s[1] + z1 * c[1];
        let x3 = x2 * c[2] - y1 * s[2];
        let y3 = x2 * s[2] + y1 * c[2];
        let cam = self.camera.position.map(|v| v as f64);
        let (tx, ty, depth) = (x3 - cam[0], y3 - cam[1], z2 - cam[2]);
        let persp = self.camera.perspective as f64;
        let denominator = persp + depth;
        if !(denominator > 1e-6 && denominator.is_finite() && tx.is_finite() && ty.is_finite()) {
            return None;
        }
        let scale = persp / denominator;
        Some(Projected {
            x: tx * scale * self.zoom + self.center[0],
            y: self.center[1] - ty * scale * self.zoom,
            depth,
            scale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn straight() -> Camera {
        Camera {
            rotation: [0.0; 3],
            ..Camera::default()
        }
    }

    #[test]
    fn hand_computed_points() {
        let p = Projector::new(straight(), 800, 600);
        // The origin: depth 500, scale 1200 / 1700, at the image centre.
        let o = p.project([0.0, 0.0, 0.0]).unwrap();
        assert_eq!((o.x, o.y, o.depth), (400.0, 300.0, 500.0));
        assert!((o.scale - 1200.0 / 1700.0).abs() < 1e-12);
        // (30, -15, 100): depth 600, scale 2/3, zoom 300 / tan(30°) / 1200 = √3 / 4.
        let zoom = 3f64.sqrt() / 4.0;
        let q = p.project([30.0, -15.0, 100.0]).unwrap();
        assert!((q.x - (400.0 + 30.0 * (2.0 / 3.0) * zoom)).abs() < 1e-9);
        assert!(
            (q.y - (300.0 + 15.0 * (2.0 / 3.0) * zoom)).abs() < 1e-9,
            "world +y is up"
        );
        // The default camera shows the whole default world.
        let d = Projector::new(Camera::default(), 800, 600);
        for corner in [
            [-500.0, -500.0, -500.0],
            [500.0, 500.0, 500.0],
            [500.0, -500.0, 500.0],
        ] {
            let c = d.project(corner).unwrap();
            assert!(
                (0.0..800.0).contains(&c.x) && (0.0..600.0).contains(&c.y),
                "{corner:?} → {c:?}"
            );
        }
        // A quarter turn about Y maps +x to -z: (100, 0, 0) → depth 500 - 100.
        let turned = Projector::new(
            Camera {
                rotation: [0.0, 90.0, 0.0],
                ..straight()
            },
            800,
            600,
        );
        let t = turned.project([100.0, 0.0, 0.0]).unwrap();
        assert!((t.depth - 400.0).abs() < 1e-9 && (t.x - 400.0).abs() < 1e-9);
    }

    #[test]
    fn points_behind_the_viewer_are_culled() {
        let p = Projector::new(straight(), 800, 600);
        assert!(p.project([0.0, 0.0, -1700.0]).is_none()); // perspective + depth = 0
        assert!(p.project([0.0, 0.0, -5000.0]).is_none());
        assert!(p.project([0.0, 0.0, -1690.0]).is_some());
        assert!(p.project([f32::NAN, 0.0, 0.0]).is_none());
    }
}
