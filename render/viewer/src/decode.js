// Decoding the page's data: base64 text into bytes, bytes into typed arrays, and the
// block references of a manifest or a served frame (render/src/html/blocks.rs writes them).
//
// A block reference is {block: k, type: "f32" | "f64" | "u32" | "u16" | "u8", len: n}
// (n elements). Every multi-byte value is little-endian; the page refuses a big-endian
// machine rather than misread it.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const TABLE = new Uint8Array(256).fill(255);
for (let i = 0; i < ALPHABET.length; i++) TABLE[ALPHABET.charCodeAt(i)] = i;

/** Base64 (standard alphabet, padded) to bytes with a lookup table: the fallback where
 * `Uint8Array.fromBase64` is missing. About as fast as `atob` without its binary string. */
export function base64DecodeFallback(text) {
  let len = text.length;
  while (len > 0 && text.charCodeAt(len - 1) === 61 /* = */) len--;
  if (len % 4 === 1 || text.length - len > 2) throw new Error('malformed base64 data');
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  const whole = len - (len % 4);
  let j = 0;
  let bad = 0;
  for (let i = 0; i < whole; i += 4) {
    const a = TABLE[text.charCodeAt(i)];
    const b = TABLE[text.charCodeAt(i + 1)];
    const c = TABLE[text.charCodeAt(i + 2)];
    const d = TABLE[text.charCodeAt(i + 3)];
    bad |= a | b | c | d;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[j++] = v >> 16;
    out[j++] = (v >> 8) & 255;
    out[j++] = v & 255;
  }
  const rest = len - whole;
  if (rest >= 2) {
    const a = TABLE[text.charCodeAt(whole)];
    const b = TABLE[text.charCodeAt(whole + 1)];
    const c = rest === 3 ? TABLE[text.charCodeAt(whole + 2)] : 0;
    bad |= a | b | c;
    const v = (a << 18) | (b << 12) | (c << 6);
    out[j++] = v >> 16;
    if (rest === 3) out[j++] = (v >> 8) & 255;
  }
  // A character outside the alphabet reads 255: any such one sets the high bits.
  if (bad & 0xc0) throw new Error('malformed base64 data');
  return out;
}

/** Base64 text to bytes: the engine's decoder where it has one. */
export function base64Decode(text) {
  if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(text);
  return base64DecodeFallback(text);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const TYPES = {
  u8: Uint8Array,
  u16: Uint16Array,
  u32: Uint32Array,
  f32: Float32Array,
  f64: Float64Array,
};

/** The typed array of `ref` over `bytes` (a Uint8Array whose offset suits the type). */
export function typed(bytes, ref) {
  if (!LITTLE_ENDIAN) throw new Error('this view needs a little-endian machine');
  const T = TYPES[ref.type];
  if (!T) throw new Error(`unknown block type ${ref.type}`);
  if (bytes.byteLength !== ref.len * T.BYTES_PER_ELEMENT) {
    throw new Error(`block ${ref.block}: ${bytes.byteLength} bytes for ${ref.len} ${ref.type}`);
  }
  if (bytes.byteOffset % T.BYTES_PER_ELEMENT !== 0) {
    return new T(bytes.slice().buffer, 0, ref.len);
  }
  return new T(bytes.buffer, bytes.byteOffset, ref.len);
}

/** Blocks of an HTML file: element `tm-b{k}` holds block k as base64 text. */
export function fileBlocks(doc) {
  return (ref) => {
    const el = doc.getElementById(`tm-b${ref.block}`);
    if (!el) throw new Error(`the page lacks data block ${ref.block}`);
    return typed(base64Decode(el.textContent), ref);
  };
}

/** Reads a served-view frame: `TMV1`, header length (u32), header JSON, aligned blocks.
 * Returns the header and a block resolver over the frame's buffer. */
export function readFrame(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 8 || String.fromCharCode(...bytes.subarray(0, 4)) !== 'TMV1') {
    throw new Error('not a tensormap view frame');
  }
  const len = new DataView(buffer).getUint32(4, true);
  if (8 + len > bytes.length) throw new Error('truncated view frame');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
  const blocks = header.blocks || [];
  const resolve = (ref) => {
    const at = blocks[ref.block];
    if (!at || at[0] + at[1] > bytes.length) throw new Error(`frame lacks block ${ref.block}`);
    return typed(new Uint8Array(buffer, at[0], at[1]), ref);
  };
  return { header, resolve };
}

const UTF8 = new TextDecoder();

/** Strings stored as UTF-8 bytes and end offsets, decoded one at a time when asked. */
export class Strings {
  constructor(ends, bytes, nulls) {
    this.ends = ends;
    this.bytes = bytes;
    this.nulls = nulls || null;
  }

  static read(desc, resolve) {
    return new Strings(resolve(desc.ends), resolve(desc.bytes), desc.nulls ? resolve(desc.nulls) : null);
  }

  get length() {
    return this.ends.length;
  }

  /** String i, or null for NULL. */
  get(i) {
    if (this.nulls && this.nulls[i]) return null;
    const start = i === 0 ? 0 : this.ends[i - 1];
    return UTF8.decode(this.bytes.subarray(start, this.ends[i]));
  }
}
