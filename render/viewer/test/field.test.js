// The field's sampling, gradient, slices and field lines on a Gaussian bump, whose
// gradient is known: it points at the bump's centre.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Field } from '../src/field.js';

const R = 32;
const B = 100;
const C = [20, -10, 5];
const S = 25;

function bump() {
  const f = new Field(R, B, 1);
  const coords = [];
  const norms = [];
  for (let bz = 0; bz < R / 8; bz++) {
    for (let by = 0; by < R / 8; by++) {
      for (let bx = 0; bx < R / 8; bx++) {
        coords.push(bx, by, bz);
        for (let z = 0; z < 8; z++) {
          for (let y = 0; y < 8; y++) {
            for (let x = 0; x < 8; x++) {
              const p = [bx * 8 + x, by * 8 + y, bz * 8 + z].map((i) => f.center(i));
              const d2 = p.reduce((s, v, a) => s + (v - C[a]) ** 2, 0);
              norms.push(Math.exp(-d2 / (2 * S * S)));
            }
          }
        }
      }
    }
  }
  f.addBricks(new Uint16Array(coords), new Float32Array(norms));
  return f;
}

test('bricks land in their cells and samples interpolate', () => {
  const f = bump();
  const i = 21;
  const j = 3;
  const k = 17;
  const p = [i, j, k].map((v) => f.center(v));
  assert.ok(Math.abs(f.sample(...p) - f.at(i, j, k)) < 1e-6, 'a cell centre samples its cell');
  const d2 = p.reduce((s, v, a) => s + (v - C[a]) ** 2, 0);
  assert.ok(Math.abs(f.at(i, j, k) - Math.exp(-d2 / (2 * S * S))) < 1e-6);
  const mid = [(f.center(4) + f.center(5)) / 2, f.center(6), f.center(7)];
  assert.ok(Math.abs(f.sample(...mid) - (f.at(4, 6, 7) + f.at(5, 6, 7)) / 2) < 1e-6);
});

test('the gradient points up the bump, as the closed form says', () => {
  const f = bump();
  for (const p of [[60, 10, -20], [-30, -40, 40], [0, 30, 0], [40, -30, 30]]) {
    const g = f.gradient(...p);
    const n = Math.exp(-p.reduce((s, v, a) => s + (v - C[a]) ** 2, 0) / (2 * S * S));
    const exact = p.map((v, a) => (-(v - C[a]) / (S * S)) * n);
    const cos = (g[0] * exact[0] + g[1] * exact[1] + g[2] * exact[2]) / (Math.hypot(...g) * Math.hypot(...exact));
    assert.ok(cos > 0.99, `${p}: cos ${cos}`);
  }
});

test('a field line climbs to the maximum and stops there', () => {
  const f = bump();
  const line = f.trace([-40, 30, 50], 1, f.cell * 0.5, 400, 0);
  const end = line[line.length - 1];
  const d = Math.hypot(end[0] - C[0], end[1] - C[1], end[2] - C[2]);
  assert.ok(d < f.cell * 1.5, `ends ${d.toFixed(2)} from the centre`);
  for (let k = 1; k < line.length; k++) assert.ok(f.sample(...line[k]) >= f.sample(...line[k - 1]) - 1e-6, 'the norm never falls going up');
  const down = f.trace([30, -5, 10], -1, f.cell * 0.5, 400, 0.05);
  assert.ok(f.sample(...down[down.length - 1]) < f.sample(30, -5, 10));
  const lines = f.fieldLines({ maxSeeds: 50 });
  assert.ok(lines.positions.length > 0 && lines.positions.length === 3 * lines.values.length);
});

test('slices and glow samples read the grid', () => {
  const f = bump();
  const s = f.slice('y', 9);
  assert.equal(s[5 + R * 11], f.at(5, 9, 11));
  const x = f.slice('x', 9);
  assert.equal(x[5 + R * 11], f.at(9, 5, 11));
  const g = f.glowSamples(40, 0.3);
  const n = g.strengths.length;
  assert.ok(n >= 3 && n <= 40, `${n} samples`);
  assert.ok(g.strengths[0] >= g.strengths[n - 1] && g.strengths[n - 1] >= 0.3);
  for (let s = 0; s < n; s++) {
    const p = [0, 1, 2].map((a) => g.positions[3 * s + a]);
    assert.ok(Math.abs(f.sample(...p) - g.strengths[s]) < 1e-6, 'a sample sits on its cell');
  }
  assert.equal(f.indexOf(-B), 0);
  assert.equal(f.indexOf(B), R - 1);
});
