// The base64 fallback against Node's decoder; typed views of blocks; frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base64DecodeFallback, readFrame, typed, Strings } from '../src/decode.js';

test('the fallback decodes every length and byte like Buffer does', () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let n = 0; n < 300; n++) {
    const bytes = Uint8Array.from({ length: n }, rand);
    const text = Buffer.from(bytes).toString('base64');
    assert.deepEqual(base64DecodeFallback(text), bytes, `length ${n}`);
  }
  const all = Uint8Array.from({ length: 256 * 3 }, (_, i) => i % 256);
  assert.deepEqual(base64DecodeFallback(Buffer.from(all).toString('base64')), all);
});

test('the fallback refuses what is not base64', () => {
  for (const bad of ['ab$d', 'a', 'abcde', 'ab=d', '====', 'ab c']) {
    assert.throws(() => base64DecodeFallback(bad), /malformed/, bad);
  }
});

test('typed arrays check their length and copy when misaligned', () => {
  const f = new Float32Array([1.5, -2, 3.25]);
  const bytes = new Uint8Array(f.buffer);
  assert.deepEqual(Array.from(typed(bytes, { type: 'f32', len: 3, block: 0 })), [1.5, -2, 3.25]);
  assert.throws(() => typed(bytes, { type: 'f32', len: 4, block: 0 }), /12 bytes for 4 f32/);
  const shifted = new Uint8Array(13);
  shifted.set(bytes, 1);
  assert.deepEqual(Array.from(typed(shifted.subarray(1), { type: 'f32', len: 3, block: 0 })), [1.5, -2, 3.25]);
});

test('frames and strings read back', () => {
  const ids = ['a', 'ünï', '', 'xyz'];
  const enc = new TextEncoder();
  const bytes = enc.encode(ids.join(''));
  const ends = new Uint32Array(ids.map((_, i) => enc.encode(ids.slice(0, i + 1).join('')).length));
  // Header, then the blocks at offsets aligned to 8, as render/src/html/blocks.rs lays them out.
  const refs = { ends: { block: 0, type: 'u32', len: 4 }, bytes: { block: 1, type: 'u8', len: bytes.length } };
  const start = 8 + 256;
  const header = { blocks: [[start, 16], [start + 16, bytes.length]], ids: refs };
  const text = enc.encode(JSON.stringify(header).padEnd(256, ' '));
  const frame = new Uint8Array(start + 16 + bytes.length);
  frame.set(enc.encode('TMV1'));
  new DataView(frame.buffer).setUint32(4, text.length, true);
  frame.set(text, 8);
  frame.set(new Uint8Array(ends.buffer), start);
  frame.set(bytes, start + 16);
  const { header: h, resolve } = readFrame(frame.buffer);
  const s = Strings.read(h.ids, resolve);
  assert.deepEqual([0, 1, 2, 3].map((i) => s.get(i)), ids);
  assert.throws(() => readFrame(new Uint8Array(8).buffer), /not a tensormap view frame/);
});
