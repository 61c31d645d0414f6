//! GeoParquet 1.1: the `geometry` column (WKB Point Z) and the `geo` file metadata.
//!
//! WKB Point Z, ISO flavour, 29 bytes: byte order `1` (little-endian), geometry type
//! `1001` as a little-endian u32, then x, y, z as little-endian f64 (each the exact
//! widening of the object's f32 coordinate). The metadata (key `geo` of the Parquet
//! file's key-value metadata) names `geometry` as the primary column, encoding `WKB`,
//! geometry types `["Point Z"]`, `crs` null (a map's coordinates are local and metric,
//! not longitude and latitude), and the file's bounding box
//! `[minx, miny, minz, maxx, maxy, maxz]`.
//!
//! The `bbox` covering column (GeoParquet 1.1, "covering"): a struct of float32 `xmin,
//! ymin, xmax, ymax, zmin, zmax` per row — for a point, the point itself — named in the
//! metadata under `covering.bbox`. Its row-group statistics are plain numeric min/max, so
//! a reader that does not decode WKB (Spark, DuckDB, Sedona, pyarrow) can skip row groups
//! of a spatial filter from them.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, StructArray};
use arrow_schema::{ArrowError, DataType, Field, Fields};

/// The name of the covering column.
pub const BBOX_COLUMN: &str = "bbox";

/// The fields of the covering column, in order.
pub const BBOX_FIELDS: [&str; 6] = ["xmin", "ymin", "xmax", "ymax", "zmin", "zmax"];

/// The GeoParquet version written.
pub const VERSION: &str = "1.1.0";

/// The name of the geometry column.
pub const COLUMN: &str = "geometry";

/// The bytes of one WKB Point Z.
pub const POINT_Z_BYTES: usize = 29;

/// ISO WKB geometry type of a Point Z.
pub const POINT_Z: u32 = 1001;

/// The WKB Point Z of `p`.
pub fn wkb_point_z(p: [f32; 3]) -> [u8; POINT_Z_BYTES] {
    let mut b = [0u8; POINT_Z_BYTES];
    b[0] = 1;
    b[1..5].copy_from_slice(&POINT_Z.to_le_bytes());
    for (i, v) in p.iter().enumerate() {
        b[5 + 8 * i..13 + 8 * i].copy_from_slice(&(*v as f64).to_le_bytes());
    }
    b
}

/// A 3-D bounding box, grown point by point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    /// Smallest x, y, z.
    pub min: [f32; 3],
    /// Largest x, y, z.
    pub max: [f32; 3],
}

impl Default for BBox {
    fn default() -> Self {
        BBox {
            min: [f32::INFINITY; 3],
            max: [f32::NEG_INFINITY; 3],
        }
    }
}

impl BBox {
    /// Grows the box to hold `p`.
    pub fn add(&mut self, p: [f32; 3]) {
        for (i, v) in p.into_iter().enumerate() {
            self.min[i] = self.min[i].min(v);
            self.max[i] = self.max[i].max(v);
        }
    }

    /// Whether no point was added.
    pub fn is_empty(&self) -> bool {
        self.min[0] > self.max[0]
    }
}

/// The `geo` metadata JSON of a file whose points `bbox` bounds.
pub fn metadata(bbox: &BBox) -> String {
    let bbox = if bbox.is_empty() {
        serde_json::Value::Array(Vec::new())
    } else {
        serde_json::json!([
            bbox.min[0] as f64,
            bbox.min[1] as f64,
            bbox.min[2] as f64,
            bbox.max[0] as f64,
            bbox.max[1] as f64,
            bbox.max[2] as f64
        ])
    };
    let mut geo = serde_json::json!({
        "version": VERSION,
        "primary_column": COLUMN,
        "columns": {
            COLUMN: {
                "encoding": "WKB",
                "geometry_types": ["Point Z"],
                "crs": null,
            }
        }
    });
    let covering: serde_json::Map<String, serde_json::Value> = BBOX_FIELDS
        .iter()
        .map(|f| (f.to_string(), serde_json::json!([BBOX_COLUMN, f])))
        .collect();
    geo["columns"][COLUMN]["covering"] = serde_json::json!({ BBOX_COLUMN: covering });
    // An empty file has no bbox (the spec's bbox, when present, has 4 or 6 numbers).
    if !bbox.as_array().is_some_and(Vec::is_empty) {
        geo["columns"][COLUMN]["bbox"] = bbox;
    }
    geo.to_string()
}

/// The Arrow type of the covering column.
pub fn bbox_type() -> DataType {
    DataType::Struct(bbox_fields())
}

fn bbox_fields() -> Fields {
    BBOX_FIELDS
        .iter()
        .map(|f| Field::new(*f, DataType::Float32, false))
        .collect()
}

/// The covering column of points whose coordinates are `x`, `y`, `z` (equal lengths):
/// each row's box is its point.
pub fn bbox_array(
    x: &Float32Array,
    y: &Float32Array,
    z: &Float32Array,
) -> Result<ArrayRef, ArrowError> {
    let (x, y, z): (ArrayRef, ArrayRef, ArrayRef) = (
        Arc::new(x.clone()),
        Arc::new(y.clone()),
        Arc::new(z.clone()),
    );
    let columns = vec![x.clone(), y.clone(), x, y, z.clone(), z];
    Ok(Arc::new(StructArray::try_new(
        bbox_fields(),
        columns,
        None,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn wkb_and_metadata() {
        let b = wkb_point_z([1.5, -2.0, 0.25]);
        assert_eq!(&b[..5], &[1, 0xe9, 0x03, 0, 0]);
        assert_eq!(f64::from_le_bytes(b[5..13].try_into().unwrap()), 1.5);
        assert_eq!(f64::from_le_bytes(b[21..29].try_into().unwrap()), 0.25);
        let mut bbox = BBox::default();
        assert!(bbox.is_empty());
        bbox.add([1.0, 2.0, 3.0]);
        bbox.add([-1.0, 5.0, 0.5]);
        let m: serde_json::Value = serde_json::from_str(&metadata(&bbox)).unwrap();
        assert_eq!(m["version"], "1.1.0");
        assert_eq!(m["primary_column"], "geometry");
        let g = &m["columns"]["geometry"];
        assert_eq!(g["encoding"], "WKB");
        assert_eq!(g["geometry_types"], serde_json::json!(["Point Z"]));
        assert!(g["crs"].is_null() && g.get("crs").is_some());
        assert_eq!(
            g["bbox"],
            serde_json::json!([-1.0, 2.0, 0.5, 1.0, 5.0, 3.0])
        );
        let cover = &g["covering"]["bbox"];
        assert_eq!(cover["xmin"], serde_json::json!(["bbox", "xmin"]));
        assert_eq!(cover["zmax"], serde_json::json!(["bbox", "zmax"]));
        let empty: serde_json::Value = serde_json::from_str(&metadata(&BBox::default())).unwrap();
        assert!(empty["columns"]["geometry"].get("bbox").is_none());
    }

    #[test]
    fn bbox_of_points_is_the_points() {
        let x = Float32Array::from(vec![1.0, 2.0]);
        let y = Float32Array::from(vec![3.0, 4.0]);
        let z = Float32Array::from(vec![5.0, 6.0]);
        let b = bbox_array(&x, &y, &z).unwrap();
        let s = b.as_any().downcast_ref::<StructArray>().unwrap();
        assert_eq!(s.data_type(), &bbox_type());
        let col = |name: &str| {
            s.column_by_name(name)
                .unwrap()
                .as_any()
                .downcast_ref::<Float32Array>()
                .unwrap()
                .values()
                .to_vec()
        };
        assert_eq!(col("xmin"), col("xmax"));
        assert_eq!(col("ymax"), vec![3.0, 4.0]);
        assert_eq!(col("zmin"), vec![5.0, 6.0]);
    }
}
