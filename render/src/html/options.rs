//! The HTML view's options: what `RENDER ... TO 'x.html' WITH (...)` may set, parsed from
//! loosely typed setting values and checked against the scene before anything is written.
//!
//! | key | value | default |
//! |---|---|---|
//! | `title` | text | `tensormap · MAP` |
//! | `color_by` | `type`, `confidence`, `distance` or a numeric column of the SELECT | `type` |
//! | `distance_from` | `[x, y, z]`: where `distance` is measured from | `[0, 0, 0]` |
//! | `effects` | `liquid` or `none` | `none` |
//! | `point_budget` | most points drawn at once, 1000 ..= 10000000 | 500000 |
//! | `sample` | write at most this many objects (a stratified sample; `count` stays the result's) | all |
//! | `slice` | `x`, `y`, `z` or `none`: the axis of the field's heat-map slice | `z` when there is a field |
//! | `slice_at` | world coordinate of the slice on its axis, inside the field | the field's centre |
//! | `glow` | `true`/`false`: the field's glow samples | `true` |
//! | `field_lines` | `true`/`false`: lines along the field norm's gradient | `true` |
//! | `field_resolution` | cells per axis the page gets (max-pooled), power of two 8 ..= 256 | 128 |

use super::error::{HtmlError, Result};
use super::input::{ColumnValues, ViewField, ViewObjects};
use super::MAX_OBJECTS;

/// The keys [`HtmlOptions::apply`] knows, for error messages.
pub const KNOWN_OPTIONS: &str = "title, color_by, distance_from, effects, point_budget, sample, \
                                 slice, slice_at, glow, field_lines, field_resolution";

/// A setting's value as the statement wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// A number.
    Number(f64),
    /// A string or a bare word.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
    /// A vector of numbers.
    Vector(Vec<f64>),
}

impl std::fmt::Display for OptionValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionValue::Number(n) => write!(f, "{n}"),
            OptionValue::Text(t) => write!(f, "'{t}'"),
            OptionValue::Bool(b) => write!(f, "{b}"),
            OptionValue::Vector(v) => write!(f, "{v:?}"),
        }
    }
}

/// What colours the objects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ColorBy {
    /// A categorical palette by type, with a legend of the types.
    #[default]
    Type,
    /// The objects' confidence, on a colour scale.
    Confidence,
    /// The distance from [`HtmlOptions::distance_from`].
    Distance,
    /// A numeric column of the SELECT, on a colour scale.
    Column(String),
}

impl ColorBy {
    /// `type`, `confidence`, `distance`, or else a column name (checked against the scene
    /// by [`HtmlOptions::validate`]).
    pub fn parse(s: &str) -> ColorBy {
        match s {
            "type" => ColorBy::Type,
            "confidence" => ColorBy::Confidence,
            "distance" => ColorBy::Distance,
            other => ColorBy::Column(other.to_string()),
        }
    }
}

/// A world axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// x.
    X,
    /// y.
    Y,
    /// z.
    Z,
}

impl Axis {
    /// `'x'`, `'y'` or `'z'`.
    pub fn letter(self) -> char {
        match self {
            Axis::X => 'x',
            Axis::Y => 'y',
            Axis::Z => 'z',
        }
    }
}

/// Which slice of the field the page opens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SliceChoice {
    /// On `z` when the scene has a field, else none.
    #[default]
    Auto,
    /// No slice (the page can still show one).
    Hidden,
    /// This axis (an error when there is no field).
    Axis(Axis),
}

/// How the HTML view is written and how the page opens.
#[derive(Debug, Clone, PartialEq)]
pub struct HtmlOptions {
    /// The page's title; `None`: `tensormap · MAP`.
    pub title: Option<String>,
    /// The initial colouring.
    pub color_by: ColorBy,
    /// Where `distance` is measured from, world units.
    pub distance_from: [f32; 3],
    /// The liquid effect on at load (still off where the reader prefers reduced motion).
    pub liquid: bool,
    /// Most points drawn at once; level of detail by octree cell keeps to it.
    pub point_budget: u32,
    /// Write at most this many objects (a stratified sample by octree cell).
    pub sample: Option<usize>,
    /// The slice's axis.
    pub slice: SliceChoice,
    /// The slice's world coordinate on its axis; `None`: the field's centre.
    pub slice_at: Option<f64>,
    /// Show the field's glow samples at load.
    pub glow: bool,
    /// Show the field lines at load.
    pub field_lines: bool,
    /// Cells per axis of the field the page gets (max-pooled from the map's).
    pub field_resolution: u32,
}

impl Default for HtmlOptions {
    fn default() -> Self {
        HtmlOptions {
            title: None,
            color_by: ColorBy::Type,
            distance_from: [0.0; 3],
            liquid: false,
            point_budget: DEFAULT_POINT_BUDGET,
            sample: None,
            slice: SliceChoice::Auto,
            slice_at: None,
            glow: true,
            field_lines: true,
            field_resolution: DEFAULT_FIELD_RESOLUTION,
        }
    }
}

/// The default point budget: comfortable for integrated GPUs.
pub const DEFAULT_POINT_BUDGET: u32 = 500_000;
/// The default resolution of the field the page gets: 128³ cells at most (8 MB dense).
pub const DEFAULT_FIELD_RESOLUTION: u32 = 128;

fn invalid(key: &str, message: String) -> HtmlError {
    HtmlError::InvalidOption {
        key: key.to_string(),
        message,
    }
}

impl HtmlOptions {
    /// Sets the option `key` from `value`; unknown keys and bad values are errors that
    /// name the key.
    pub fn apply(&mut self, key: &str, value: &OptionValue) -> Result<()> {
        let text = || match value {
            OptionValue::Text(t) => Ok(t.as_str()),
            other => Err(invalid(key, format!("must be a string, found {other}"))),
        };
        let flag = || match value {
            OptionValue::Bool(b) => Ok(*b),
            OptionValue::Text(t) if t == "true" => Ok(true),
            OptionValue::Text(t) if t == "false" => Ok(false),
            other => Err(invalid(
                key,
                format!("must be true or false, found {other}"),
            )),
        };
        let integer = |lo: f64, hi: f64| match value {
            OptionValue::Number(n) if n.fract() == 0.0 && (lo..=hi).contains(n) => Ok(*n),
            other => Err(invalid(
                key,
                format!("must be a whole number in [{lo}, {hi}], found {other}"),
            )),
        };
        match key {
            "title" => self.title = Some(text()?.to_string()),
            "color_by" => self.color_by = ColorBy::parse(text()?),
            "distance_from" => match value {
                OptionValue::Vector(v)
                    if v.len() == 3 && v.iter().all(|x| x.is_finite() && x.abs() <= 1e30) =>
                {
                    self.distance_from = [v[0] as f32, v[1] as f32, v[2] as f32];
                }
                other => {
                    return Err(invalid(
                        key,
                        format!("must be a vector of 3 numbers, found {other}"),
                    ))
                }
            },
            "effects" => {
                let mut liquid = false;
                for name in text()?.split(',').map(str::trim) {
                    match name {
                        "liquid" => liquid = true,
                        "none" | "" => {}
                        other => {
                            return Err(HtmlError::UnknownEffect {
                                name: other.to_string(),
                            })
                        }
                    }
                }
                self.liquid = liquid;
            }
            "point_budget" => self.point_budget = integer(1e3, 1e7)? as u32,
            "sample" => self.sample = Some(integer(1.0, MAX_OBJECTS as f64)? as usize),
            "slice" => {
                self.slice = match text()? {
                    "x" => SliceChoice::Axis(Axis::X),
                    "y" => SliceChoice::Axis(Axis::Y),
                    "z" => SliceChoice::Axis(Axis::Z),
                    "none" => SliceChoice::Hidden,
                    other => {
                        return Err(invalid(
                            key,
                            format!("must be 'x', 'y', 'z' or 'none', found '{other}'"),
                        ))
                    }
                }
            }
            "slice_at" => match value {
                OptionValue::Number(n) if n.is_finite() => self.slice_at = Some(*n),
                other => return Err(invalid(key, format!("must be a number, found {other}"))),
            },
            "glow" => self.glow = flag()?,
            "field_lines" => self.field_lines = flag()?,
            "field_resolution" => {
                let r = integer(8.0, 256.0)? as u32;
                if !r.is_power_of_two() {
                    return Err(invalid(
                        key,
                        format!("must be a power of two in [8, 256], found {r}"),
                    ));
                }
                self.field_resolution = r;
            }
            other => {
                return Err(HtmlError::UnknownOption {
                    key: other.to_string(),
                    known: KNOWN_OPTIONS,
                })
            }
        }
        Ok(())
    }

    /// Checks the options against the scene: the colour column exists and is numeric, a
    /// slice has a field and lies inside it. Also checks fields set directly (not by `apply`).
    pub fn validate(&self, objects: &ViewObjects, field: Option<&ViewField>) -> Result<()> {
        if let ColorBy::Column(name) = &self.color_by {
            match objects.columns.iter().find(|c| &c.name == name) {
                Some(c) if matches!(c.values, ColumnValues::Number(_)) => {}
                Some(_) => return Err(HtmlError::NotNumeric { name: name.clone() }),
                None => {
                    return Err(HtmlError::UnknownColumn {
                        name: name.clone(),
                        available: objects
                            .columns
                            .iter()
                            .filter(|c| matches!(c.values, ColumnValues::Number(_)))
                            .map(|c| c.name.clone())
                            .collect(),
                    })
                }
            }
        }
        if !(1_000..=10_000_000).contains(&self.point_budget) {
            return Err(invalid(
                "point_budget",
                format!(
                    "must be a whole number in [1000, 10000000], found {}",
                    self.point_budget
                ),
            ));
        }
        if self.sample.is_some_and(|s| s == 0 || s > MAX_OBJECTS) {
            return Err(invalid(
                "sample",
                format!("must be a whole number in [1, {MAX_OBJECTS}]"),
            ));
        }
        if !(8..=256).contains(&self.field_resolution) || !self.field_resolution.is_power_of_two() {
            return Err(invalid(
                "field_resolution",
                format!(
                    "must be a power of two in [8, 256], found {}",
                    self.field_resolution
                ),
            ));
        }
        if !self.distance_from.iter().all(|v| v.is_finite()) {
            return Err(invalid(
                "distance_from",
                "must be a vector of 3 finite numbers".into(),
            ));
        }
        let explicit = matches!(self.slice, SliceChoice::Axis(_)) || self.slice_at.is_some();
        if self.slice == SliceChoice::Hidden && self.slice_at.is_some() {
            return Err(invalid(
                "slice_at",
                "needs a slice axis; slice = 'none' hides the slice".into(),
            ));
        }
        match field {
            None if explicit => return Err(HtmlError::NoField),
            Some(f) => {
                if let Some(at) = self.slice_at {
                    let axis = self.slice_axis(true).unwrap_or(Axis::Z);
                    if !(at.is_finite() && (-f.bounds..=f.bounds).contains(&at)) {
                        return Err(HtmlError::SliceOutsideField {
                            axis: axis.letter(),
                            at,
                            lo: -f.bounds,
                            hi: f.bounds,
                        });
                    }
                }
            }
            None => {}
        }
        Ok(())
    }

    /// The slice's axis given whether there is a field.
    pub fn slice_axis(&self, has_field: bool) -> Option<Axis> {
        match self.slice {
            SliceChoice::Auto if has_field => Some(Axis::Z),
            SliceChoice::Axis(a) if has_field => Some(a),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::input::{FieldBrick, ViewColumn, BRICK_CELLS};

    fn objects() -> ViewObjects {
        let mut o = ViewObjects::default();
        o.push("a", "cube", [0.0; 3], 1.0);
        o.columns.push(ViewColumn {
            name: "score".into(),
            values: ColumnValues::Number(vec![0.5]),
        });
        o.columns.push(ViewColumn {
            name: "label".into(),
            values: ColumnValues::Text(vec![Some("x".into())]),
        });
        o
    }

    fn field() -> ViewField {
        ViewField {
            resolution: 16,
            bounds: 100.0,
            bricks: vec![FieldBrick {
                coords: [0, 0, 0],
                norms: vec![1.0; BRICK_CELLS],
            }],
        }
    }

    fn text(s: &str) -> OptionValue {
        OptionValue::Text(s.into())
    }

    #[test]
    fn every_key_parses_and_bad_values_name_the_key() {
        let mut o = HtmlOptions::default();
        o.apply("title", &text("T")).unwrap();
        o.apply("color_by", &text("score")).unwrap();
        o.apply("distance_from", &OptionValue::Vector(vec![1.0, 2.0, 3.0]))
            .unwrap();
        o.apply("effects", &text("liquid")).unwrap();
        o.apply("point_budget", &OptionValue::Number(2e5)).unwrap();
        o.apply("sample", &OptionValue::Number(10.0)).unwrap();
        o.apply("slice", &text("x")).unwrap();
        o.apply("slice_at", &OptionValue::Number(-50.0)).unwrap();
        o.apply("glow", &OptionValue::Bool(false)).unwrap();
        o.apply("field_lines", &text("false")).unwrap();
        o.apply("field_resolution", &OptionValue::Number(64.0))
            .unwrap();
        assert_eq!(o.title.as_deref(), Some("T"));
        assert_eq!(o.color_by, ColorBy::Column("score".into()));
        assert_eq!(o.distance_from, [1.0, 2.0, 3.0]);
        assert!(o.liquid && !o.glow && !o.field_lines);
        assert_eq!((o.point_budget, o.sample), (200_000, Some(10)));
        assert_eq!(o.slice, SliceChoice::Axis(Axis::X));
        assert_eq!((o.slice_at, o.field_resolution), (Some(-50.0), 64));
        o.validate(&objects(), Some(&field())).unwrap();

        let err =
            |k: &str, v: OptionValue| HtmlOptions::default().apply(k, &v).unwrap_err().to_string();
        assert_eq!(
            err("effects", text("wobble")),
            "unknown effect 'wobble' (known: liquid, none)"
        );
        assert!(err("colour", text("x")).starts_with("unknown html render setting 'colour'"));
        assert!(err("point_budget", OptionValue::Number(10.0)).starts_with("point_budget must"));
        assert!(err("point_budget", OptionValue::Number(1500.5)).contains("whole number"));
        assert!(err("sample", OptionValue::Number(2e6)).starts_with("sample must"));
        assert!(err("slice", text("w")).contains("'x', 'y', 'z' or 'none'"));
        assert!(err("field_resolution", OptionValue::Number(48.0)).contains("power of two"));
        assert!(err("glow", OptionValue::Number(1.0)).contains("true or false"));
        assert!(err("distance_from", OptionValue::Vector(vec![1.0])).contains("3 numbers"));
    }

    #[test]
    fn validation_against_the_scene() {
        let check = |o: HtmlOptions, f: Option<&ViewField>| {
            o.validate(&objects(), f).map_err(|e| e.to_string())
        };
        let by = |c: &str| HtmlOptions {
            color_by: ColorBy::parse(c),
            ..HtmlOptions::default()
        };
        assert_eq!(
            check(by("nope"), None).unwrap_err(),
            "color_by: the result has no column 'nope' (use type, confidence, distance, score)"
        );
        assert!(check(by("label"), None)
            .unwrap_err()
            .contains("'label' is not numeric"));
        check(by("distance"), None).unwrap();
        // A slice outside the field, a slice without a field, slice_at with no axis.
        let at = |v: f64| HtmlOptions {
            slice_at: Some(v),
            ..HtmlOptions::default()
        };
        assert_eq!(
            check(at(150.0), Some(&field())).unwrap_err(),
            "slice_at = 150 is outside the field: z must be within [-100, 100]"
        );
        check(at(100.0), Some(&field())).unwrap();
        assert!(check(at(0.0), None).unwrap_err().contains("no voxel field"));
        let hidden = HtmlOptions {
            slice: SliceChoice::Hidden,
            ..at(0.0)
        };
        assert!(check(hidden, Some(&field()))
            .unwrap_err()
            .contains("needs a slice axis"));
        // The default slice needs no field; an explicit one does.
        check(HtmlOptions::default(), None).unwrap();
        let x = HtmlOptions {
            slice: SliceChoice::Axis(Axis::X),
            ..HtmlOptions::default()
        };
        assert!(check(x, None).is_err());
    }
}
