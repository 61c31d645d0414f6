//! The record and brick codecs on arbitrary bytes: an error or a value, never a panic or
//! an unbounded allocation; values that decode encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tensormap_storage::{
    brick, codec, CatalogRecord, Dtype, JournalRecord, MapMetaRecord, ObjectRecord,
};

fuzz_target!(|data: &[u8]| {
    let key = b"fuzz";
    if let Ok(r) = codec::decode::<ObjectRecord>(key, data) {
        assert_eq!(codec::encode(&r).expect("encode"), data);
    }
    let _ = codec::decode::<JournalRecord>(key, data);
    let _ = codec::decode::<CatalogRecord>(key, data);
    let _ = codec::decode::<MapMetaRecord>(key, data);
    // The same bytes as a payload with a valid frame, to get past the checksum.
    let framed = codec::frame(data);
    let _ = codec::decode::<ObjectRecord>(key, &framed);
    let _ = codec::decode::<JournalRecord>(key, &framed);
    let _ = codec::decode::<CatalogRecord>(key, &framed);
    for (channels, dtype) in [(1, Dtype::F32), (3, Dtype::F16), (32, Dtype::I8)] {
        let _ = brick::decode(key, data, channels, dtype);
        let _ = brick::decode(key, &framed, channels, dtype);
    }
});
