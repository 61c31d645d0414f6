//! `MapConfig`: the settings of one tensor map, their defaults and their validation.

use crate::{Error, Result};

/// The storage type of a map's voxel field. Object embeddings are always f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Dtype {
    /// 32-bit floats: exact storage.
    F32,
    /// IEEE half floats.
    F16,
    /// 8-bit integers with one scale per brick (`value = q * scale`, `scale = max|v| / 127`).
    I8,
}

impl Dtype {
    /// The name used in TensorQL (`'f32'`, `'f16'`, `'i8'`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::I8 => "i8",
        }
    }

    /// Parses a TensorQL dtype name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Dtype::F32),
            "f16" => Ok(Dtype::F16),
            "i8" => Ok(Dtype::I8),
            other => Err(Error::InvalidConfig(format!(
                "dtype must be 'f32', 'f16' or 'i8', found '{other}'"
            ))),
        }
    }

    /// Rounds `v` (all values of one brick) to what this dtype stores; `max_abs` is the
    /// brick's largest magnitude (the i8 scale is derived from it).
    pub fn quantize(self, v: f32, max_abs: f32) -> f32 {
        match self {
            Dtype::F32 => v,
            Dtype::F16 => half::f16::from_f32(v).to_f32(),
            Dtype::I8 => {
                if max_abs > 0.0 {
                    let scale = max_abs / 127.0;
                    (v / scale).round().clamp(-127.0, 127.0) * scale
                } else {
                    0.0
                }
            }
        }
    }
}

/// The settings of one tensor map (docs/LANGUAGE.md, "Maps").
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct MapConfig {
    /// Cells per axis: a power of two in 8..=2048.
    pub resolution: u32,
    /// Values per cell and per embedding: 1..=1024.
    pub channels: u32,
    /// The world cube is `[-bounds, bounds]³`; > 0 and finite.
    pub bounds: f64,
    /// Storage type of the voxel field.
    pub dtype: Dtype,
    /// Gaussian splat width in cells; > 0 and finite.
    pub sigma: f64,
    /// Splat reach in cells along each axis: 0..=8.
    pub splat_radius: u32,
}

impl Default for MapConfig {
    fn default() -> Self {
        MapConfig {
            resolution: 64,
            channels: 32,
            bounds: 500.0,
            dtype: Dtype::F32,
            sigma: 2.0,
            splat_radius: 3,
        }
    }
}

impl MapConfig {
    /// Checks every setting against the ranges of docs/LANGUAGE.md, "Maps".
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if !(8..=2048).contains(&self.resolution) || !self.resolution.is_power_of_two() {
            return bad(format!(
                "resolution must be a power of two in 8..=2048, found {}",
                self.resolution
            ));
        }
        if !(1..=1024).contains(&self.channels) {
            return bad(format!(
                "channels must be in 1..=1024, found {}",
                self.channels
            ));
        }
        if !(self.bounds.is_finite() && self.bounds > 0.0 && self.bounds <= 1e30) {
            return bad(format!(
                "bounds must be a finite number > 0, found {}",
                self.bounds
            ));
        }
        if !(self.sigma.is_finite() && self.sigma > 0.0) {
            return bad(format!(
                "sigma must be a finite number > 0, found {}",
                self.sigma
            ));
        }
        if self.splat_radius > 8 {
            return bad(format!(
                "splat_radius must be in 0..=8, found {}",
                self.splat_radius
            ));
        }
        Ok(())
    }

    /// The cell containing world coordinate `p` along one axis:
    /// `floor((p + bounds) · resolution / (2·bounds))`, clamped to `0..resolution`.
    pub fn cell_of(&self, p: f32) -> u32 {
        let c = ((p as f64 + self.bounds) * self.resolution as f64 / (2.0 * self.bounds)).floor();
        c.clamp(0.0, (self.resolution - 1) as f64) as u32
    }

    /// The world coordinate of the centre of cell `i` along one axis.
    pub fn cell_center(&self, i: u32) -> f32 {
        (-self.bounds + (i as f64 + 0.5) * 2.0 * self.bounds / self.resolution as f64) as f32
    }

    /// The width of one cell in world units.
    pub fn cell_size(&self) -> f64 {
        2.0 * self.bounds / self.resolution as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_language() {
        let c = MapConfig::default();
        c.validate().unwrap();
        assert_eq!((c.resolution, c.channels, c.bounds), (64, 32, 500.0));
        assert_eq!((c.dtype, c.sigma, c.splat_radius), (Dtype::F32, 2.0, 3));
    }

    #[test]
    fn out_of_range_settings_are_rejected() {
        let base = MapConfig::default();
        let cases = [
            MapConfig {
                resolution: 48,
                ..base.clone()
            },
            MapConfig {
                resolution: 4,
                ..base.clone()
            },
            MapConfig {
                resolution: 4096,
                ..base.clone()
            },
            MapConfig {
                channels: 0,
                ..base.clone()
            },
            MapConfig {
                channels: 1025,
                ..base.clone()
            },
            MapConfig {
                bounds: 0.0,
                ..base.clone()
            },
            MapConfig {
                bounds: f64::NAN,
                ..base.clone()
            },
            MapConfig {
                sigma: -1.0,
                ..base.clone()
            },
            MapConfig {
                sigma: f64::INFINITY,
                ..base.clone()
            },
            MapConfig {
                splat_radius: 9,
                ..base.clone()
            },
        ];
        for c in cases {
            assert!(c.validate().is_err(), "{c:?} accepted");
        }
    }

    #[test]
    fn cells_follow_the_formula_and_clamp() {
        let c = MapConfig::default();
        assert_eq!(c.cell_of(-500.0), 0);
        assert_eq!(c.cell_of(0.0), 32);
        assert_eq!(c.cell_of(499.99), 63);
        assert_eq!(c.cell_of(500.0), 63);
        assert_eq!(c.cell_center(0), -500.0 + 1000.0 / 128.0);
    }

    #[test]
    fn i8_quantization_is_within_half_a_step() {
        for v in [-3.0f32, -1.1, 0.0, 0.4, 2.9, 3.0] {
            let q = Dtype::I8.quantize(v, 3.0);
            assert!((q - v).abs() <= 3.0 / 127.0 / 2.0 + 1e-6);
        }
    }
}
