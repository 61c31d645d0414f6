//! The render options by name: the one table of their names, types and ranges. TensorQL's
//! `RENDER ... WITH (name = value, ...)`, the Python package's `db.render(..., name=value)`
//! and the HTTP server's `POST /render/svg` all set options through
//! [`RenderOptions::set`], so the three accept exactly the same values.
//!
//! | name | value | sets |
//! |---|---|---|
//! | `width`, `height` | a number in [1, 16384], rounded | the image size, pixels |
//! | `camera` | 3 finite numbers, each of magnitude ≤ 1e9 | the camera's position |
//! | `rotation` | 3 finite numbers, each of magnitude ≤ 1e9 | the camera's rotation, degrees about X, Y, Z |
//! | `fov` | a number in [0.001, 1000000] | the field of view, degrees |
//! | `perspective` | a number in [0.001, 1e12] | the distance of the projection centre |
//! | `heatmap`, `axes`, `legend` | true or false | draw the field's heatmap, the axes, the legend |

use std::fmt;

use crate::RenderOptions;

/// A value given for an option, as its caller read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptionValue<'a> {
    /// A number.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A list of numbers.
    Vector(&'a [f64]),
    /// A string (printed quoted in messages).
    Text(&'a str),
    /// A bare word other than `true` or `false` (printed as it is in messages).
    Word(&'a str),
}

/// Prints the value as TensorQL writes it: `12.5`, `true`, `[1, 2]`, `'text'`, `word`.
impl fmt::Display for OptionValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn number(f: &mut fmt::Formatter<'_>, n: f64) -> fmt::Result {
            // `{:?}` round-trips every finite f64; an integral value prints without `.0`.
            let s = format!("{n:?}");
            f.write_str(s.strip_suffix(".0").unwrap_or(&s))
        }
        match self {
            OptionValue::Number(n) => number(f, *n),
            OptionValue::Bool(b) => write!(f, "{b}"),
            OptionValue::Vector(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    number(f, *x)?;
                }
                f.write_str("]")
            }
            OptionValue::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            OptionValue::Word(w) => f.write_str(w),
        }
    }
}

/// Why an option was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// No option has this name.
    Unknown(String),
    /// The value is of the wrong type or out of range; the message names the option.
    Invalid(String),
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::Unknown(name) => write!(
                f,
                "unknown render setting '{name}' ({})",
                RenderOptions::NAMES.join(", ")
            ),
            OptionError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for OptionError {}

/// The largest magnitude of a camera coordinate or rotation.
const MAX_COORDINATE: f64 = 1e9;

impl RenderOptions {
    /// The names of the options, in the order of the table (module header).
    pub const NAMES: [&'static str; 9] = [
        "width",
        "height",
        "camera",
        "rotation",
        "fov",
        "perspective",
        "heatmap",
        "axes",
        "legend",
    ];

    /// Sets option `name` (case-sensitive) to `value`, checked against the table (module
    /// header); a refused value leaves the options as they were.
    pub fn set(&mut self, name: &str, value: OptionValue<'_>) -> Result<(), OptionError> {
        let number = |lo: f64, hi: f64| match value {
            OptionValue::Number(n) if (lo..=hi).contains(&n) => Ok(n),
            other => Err(OptionError::Invalid(format!(
                "{name} must be a number in [{lo}, {hi}], found {other}"
            ))),
        };
        let vector = || match value {
            OptionValue::Vector(v)
                if v.len() == 3 && v.iter().all(|x| x.is_finite() && x.abs() <= MAX_COORDINATE) =>
            {
                Ok([v[0] as f32, v[1] as f32, v[2] as f32])
            }
            other => Err(OptionError::Invalid(format!(
                "{name} must be a vector of 3 numbers, found {other}"
            ))),
        };
        let flag = || match value {
            OptionValue::Bool(b) => Ok(b),
            other => Err(OptionError::Invalid(format!(
                "{name} must be true or false, found {other}"
            ))),
        };
        match name {
            "width" => self.width = number(1.0, 16384.0)?.round() as u32,
            "height" => self.height = number(1.0, 16384.0)?.round() as u32,
            "camera" => self.camera.position = vector()?,
            "rotation" => self.camera.rotation = vector()?,
            "fov" => self.camera.fov = number(1e-3, 1e6)? as f32,
            "perspective" => self.camera.perspective = number(1e-3, 1e12)? as f32,
            "heatmap" => self.heatmap = flag()?,
            "axes" => self.axes = flag()?,
            "legend" => self.legend = flag()?,
            other => return Err(OptionError::Unknown(other.to_string())),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_set_and_checked() {
        let mut o = RenderOptions::default();
        o.set("width", OptionValue::Number(400.4)).unwrap();
        o.set("height", OptionValue::Number(299.6)).unwrap();
        o.set("camera", OptionValue::Vector(&[0.0, 0.0, -800.0]))
            .unwrap();
        o.set("rotation", OptionValue::Vector(&[10.0, 20.0, 0.0]))
            .unwrap();
        o.set("fov", OptionValue::Number(50.0)).unwrap();
        o.set("perspective", OptionValue::Number(900.0)).unwrap();
        o.set("heatmap", OptionValue::Bool(false)).unwrap();
        o.set("axes", OptionValue::Bool(false)).unwrap();
        o.set("legend", OptionValue::Bool(false)).unwrap();
        assert_eq!((o.width, o.height), (400, 300));
        assert_eq!(o.camera.position, [0.0, 0.0, -800.0]);
        assert_eq!(o.camera.rotation, [10.0, 20.0, 0.0]);
        assert_eq!((o.camera.fov, o.camera.perspective), (50.0, 900.0));
        assert!(!o.heatmap && !o.axes && !o.legend);

        let before = o.clone();
        for (name, value, wanted) in [
            (
                "width",
                OptionValue::Number(0.0),
                "width must be a number in [1, 16384], found 0",
            ),
            (
                "height",
                OptionValue::Text("x"),
                "height must be a number in [1, 16384], found 'x'",
            ),
            (
                "fov",
                OptionValue::Number(f64::NAN),
                "fov must be a number in [0.001, 1000000]",
            ),
            (
                "camera",
                OptionValue::Vector(&[1.0, 2.0]),
                "camera must be a vector of 3 numbers, found [1, 2]",
            ),
            (
                "rotation",
                OptionValue::Vector(&[1.0, f64::INFINITY, 0.0]),
                "rotation must be a vector of 3 numbers",
            ),
            (
                "camera",
                OptionValue::Vector(&[2e9, 0.0, 0.0]),
                "camera must be a vector of 3 numbers",
            ),
            (
                "heatmap",
                OptionValue::Number(1.0),
                "heatmap must be true or false, found 1",
            ),
            (
                "legend",
                OptionValue::Word("yes"),
                "legend must be true or false, found yes",
            ),
            (
                "zoom",
                OptionValue::Number(2.0),
                "unknown render setting 'zoom' (width, height,",
            ),
        ] {
            let e = o.set(name, value).unwrap_err().to_string();
            assert!(e.contains(wanted), "{name}: {e}");
        }
        assert_eq!(o, before, "refused values change nothing");
    }
}
