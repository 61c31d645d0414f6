//! Recomputing every checksum of a binary snapshot in place, for tests and fuzzing: with
//! the checksums made valid again, a changed byte reaches the checks behind them.

use super::columns::FLAG_USER_COLUMNS;
use super::layout::{BlockHeader, BLOCK_HEADER_LEN, FOOTER_LEN, HEADER_LEN};

use tensormap_bytes::{u32_or_0 as u32_at, u64_or_0 as u64_at};

/// Rewrites the header's, every block's, the topology's, the user columns section's (when
/// flagged) and the footer's CRC32 of `bytes`
/// to match their contents, following the structure as far as it can be followed (never
/// panics, whatever the bytes). A file that was damaged stays damaged in every other way.
pub fn reseal(bytes: &mut [u8]) {
    let len = bytes.len();
    if len >= HEADER_LEN {
        let crc = crc32fast::hash(&bytes[..60]);
        bytes[60..64].copy_from_slice(&crc.to_le_bytes());
    }
    if len < HEADER_LEN + FOOTER_LEN {
        return;
    }
    let foot = len - FOOTER_LEN;
    let section = |i: usize, bytes: &[u8]| -> Option<(usize, usize)> {
        let start = usize::try_from(u64_at(bytes, foot + 16 * i)).ok()?;
        let n = usize::try_from(u64_at(bytes, foot + 16 * i + 8)).ok()?;
        let end = start.checked_add(n)?;
        (end <= foot).then_some((start, end))
    };
    for i in [0, 2] {
        if let Some((start, end)) = section(i, bytes) {
            let mut at = start;
            while at + BLOCK_HEADER_LEN <= end {
                let stored = u32_at(bytes, at + 8) as usize;
                let body = at + BLOCK_HEADER_LEN;
                if stored > end - body {
                    break;
                }
                let head = BlockHeader {
                    count: u32_at(bytes, at),
                    raw_len: u32_at(bytes, at + 4),
                    stored_len: stored as u32,
                    crc: 0,
                };
                let crc = head.crc_of(&bytes[body..body + stored]);
                bytes[at + 12..at + 16].copy_from_slice(&crc.to_le_bytes());
                at = body + stored;
            }
        }
    }
    if let Some((start, end)) = section(1, bytes) {
        let crc = crc32fast::hash(&bytes[start..end]);
        bytes[foot + 64..foot + 68].copy_from_slice(&crc.to_le_bytes());
    }
    // The user columns section (header flag bit 0) fills the bytes from the field's end to
    // the footer; its CRC32, the section's last 4 bytes, covers the rest of it.
    if u32_at(bytes, 8) & FLAG_USER_COLUMNS != 0 {
        if let Some((_, field_end)) = section(2, bytes) {
            if foot >= field_end + 16 {
                let crc = crc32fast::hash(&bytes[field_end..foot - 4]);
                bytes[foot - 4..foot].copy_from_slice(&crc.to_le_bytes());
            }
        }
    }
    let crc = crc32fast::hash(&bytes[foot..foot + 76]);
    bytes[foot + 76..foot + 80].copy_from_slice(&crc.to_le_bytes());
}
