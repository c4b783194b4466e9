//! Monero's block base58 decoding and the LEB128 varint of the address prefix.
//!
//! Format (Monero `tools::base58::decode`): the text is cut into blocks of 11 characters (a
//! shorter last block); each block is a big-endian base58 number that decodes to 8 bytes (the
//! last block to fewer: 2 characters -> 1 byte, 3 -> 2, 5 -> 3, 6 -> 4, 7 -> 5, 9 -> 6, 10 -> 7).

/// Monero's base58 alphabet (no `0`, `O`, `I`, `l`).
pub(crate) const ALPHABET: &[u8; 58] =
    b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// Encoded length of a block of `i` bytes (index = bytes, value = characters).
const ENCODED_BLOCK_SIZES: [usize; 9] = [0, 2, 3, 5, 6, 7, 9, 10, 11];
const FULL_BLOCK_CHARS: usize = 11;
const FULL_BLOCK_BYTES: usize = 8;

/// `true` if `c` is one of the 58 characters of Monero's alphabet.
pub(crate) fn is_base58(c: char) -> bool {
    c.is_ascii() && ALPHABET.contains(&(c as u8))
}

/// Decodes block base58 `text`, or `None` for a block of impossible length, a character
/// outside the alphabet, or a block whose value overflows its byte count.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * FULL_BLOCK_BYTES / FULL_BLOCK_CHARS + 1);
    for block in text.chunks(FULL_BLOCK_CHARS) {
        let bytes = ENCODED_BLOCK_SIZES.iter().position(|&n| n == block.len())?;
        let mut value: u128 = 0;
        for &c in block {
            let digit = ALPHABET.iter().position(|&a| a == c)? as u128;
            value = value * 58 + digit;
        }
        if bytes < 16 && value >> (8 * bytes) != 0 {
            return None;
        }
        let be = value.to_be_bytes();
        out.extend_from_slice(&be[16 - bytes..]);
    }
    Some(out)
}

/// Reads a LEB128 varint (Monero's `tools::read_varint`); returns the value and bytes used, or
/// `None` if no terminating byte comes within 10 bytes.
pub(crate) fn read_varint(data: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in data.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}
