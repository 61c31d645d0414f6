//! Re-sealing the CRC-checked files of the model crate (`.vllm` and the sentence encoder's
//! byte form, both written with `tensormap_bytes::put_section`): a header whose last four
//! bytes are the CRC32 of the bytes before them, then sections `tag[4] u64 len payload
//! u32 crc32(tag ‖ len ‖ payload)` to the end. Each CRC that has its bytes is made valid
//! again, so that a changed byte reaches the parsers behind the checksums.

/// Makes the header's CRC (over `bytes[..header_len - 4]`) and every whole section's CRC
/// valid; stops at the first section whose length runs past the end.
pub fn reseal(bytes: &mut [u8], header_len: usize) {
    if bytes.len() < header_len {
        return;
    }
    let crc = crc32fast::hash(&bytes[..header_len - 4]);
    bytes[header_len - 4..header_len].copy_from_slice(&crc.to_le_bytes());
    let mut at = header_len;
    while at + 12 <= bytes.len() {
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[at + 4..at + 12]);
        let Ok(len) = usize::try_from(u64::from_le_bytes(len)) else {
            return;
        };
        let Some(end) = (at + 12).checked_add(len) else {
            return;
        };
        if bytes.len().saturating_sub(4) < end {
            return;
        }
        let crc = crc32fast::hash(&bytes[at..end]);
        bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());
        at = end + 4;
    }
}
