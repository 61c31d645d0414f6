// The voxel field's norm as a dense grid, and what the page draws from it: slices (heat
// maps), glow samples (the strongest cells) and field lines, which follow the gradient of
// the norm (central differences of the trilinear interpolant), integrated with the
// midpoint rule both up the gradient (towards a maximum) and down it.
//
// Grid cell (i, j, k) is at index i + R·(j + R·k); its centre is at world
// -bounds + (i + 0.5) · cell on each axis, as in the map (cell = 2 · bounds / R).

const AXES = { x: 0, y: 1, z: 2 };

export class Field {
  /** An all-zero field of `resolution` cells per axis over [-bounds, bounds]³. */
  constructor(resolution, bounds, maxNorm) {
    this.resolution = resolution;
    this.bounds = bounds;
    this.cell = (2 * bounds) / resolution;
    this.maxNorm = maxNorm;
    this.grid = new Float32Array(resolution ** 3);
  }

  /** Writes bricks: `coords` u16 triples (brick coordinates), `norms` 512 per brick in
   * units of `scale` (quantized to u16 by the writer), cell (x, y, z) of a brick at
   * x + 8y + 64z. */
  addBricks(coords, norms, edge = 8, scale = 1) {
    const R = this.resolution;
    const cells = edge ** 3;
    for (let k = 0; k < coords.length / 3; k++) {
      const [bx, by, bz] = [coords[3 * k] * edge, coords[3 * k + 1] * edge, coords[3 * k + 2] * edge];
      if (bx + edge > R || by + edge > R || bz + edge > R) throw new Error('a field brick lies outside the grid');
      const base = k * cells;
      for (let z = 0; z < edge; z++) {
        for (let y = 0; y < edge; y++) {
          const row = bx + R * (by + y + R * (bz + z));
          const src = base + edge * (y + edge * z);
          for (let x = 0; x < edge; x++) this.grid[row + x] = norms[src + x] * scale;
        }
      }
    }
  }

  at(i, j, k) {
    const R = this.resolution;
    return this.grid[i + R * (j + R * k)];
  }

  /** World position of the centre of cell index i on an axis. */
  center(i) {
    return -this.bounds + (i + 0.5) * this.cell;
  }

  /** The norm at a world point, trilinear between cell centres (clamped at the edges).
   * Allocation-free: it runs six times per object for the liquid effect's flow. */
  sample(x, y, z) {
    const R = this.resolution;
    const top = R - 1;
    const gx = Math.min(Math.max((x + this.bounds) / this.cell - 0.5, 0), top);
    const gy = Math.min(Math.max((y + this.bounds) / this.cell - 0.5, 0), top);
    const gz = Math.min(Math.max((z + this.bounds) / this.cell - 0.5, 0), top);
    const i = Math.min(Math.floor(gx), R - 2);
    const j = Math.min(Math.floor(gy), R - 2);
    const k = Math.min(Math.floor(gz), R - 2);
    const tx = gx - i;
    const ty = gy - j;
    const tz = gz - k;
    const g = this.grid;
    const o = i + R * (j + R * k);
    const RR = R * R;
    const c00 = g[o] * (1 - tx) + g[o + 1] * tx;
    const c10 = g[o + R] * (1 - tx) + g[o + R + 1] * tx;
    const c01 = g[o + RR] * (1 - tx) + g[o + RR + 1] * tx;
    const c11 = g[o + RR + R] * (1 - tx) + g[o + RR + R + 1] * tx;
    return (c00 * (1 - ty) + c10 * ty) * (1 - tz) + (c01 * (1 - ty) + c11 * ty) * tz;
  }

  /** The gradient of the norm at a world point (per world unit). */
  gradient(x, y, z, out = [0, 0, 0]) {
    const h = this.cell;
    out[0] = (this.sample(x + h, y, z) - this.sample(x - h, y, z)) / (2 * h);
    out[1] = (this.sample(x, y + h, z) - this.sample(x, y - h, z)) / (2 * h);
    out[2] = (this.sample(x, y, z + h) - this.sample(x, y, z - h)) / (2 * h);
    return out;
  }

  /** The slice through cell `index` of `axis` ('x', 'y' or 'z'): R × R values, (u, v) the
   * other two axes in order (z: x, y; y: x, z; x: y, z), value (u, v) at u + R·v. */
  slice(axis, index) {
    const R = this.resolution;
    const a = AXES[axis];
    const out = new Float32Array(R * R);
    for (let v = 0; v < R; v++) {
      for (let u = 0; u < R; u++) {
        const c = a === 0 ? [index, u, v] : a === 1 ? [u, index, v] : [u, v, index];
        out[u + R * v] = this.at(c[0], c[1], c[2]);
      }
    }
    return out;
  }

  /** The cell index of world coordinate `w` on an axis. */
  indexOf(w) {
    return Math.min(Math.max(Math.floor((w + this.bounds) / this.cell), 0), this.resolution - 1);
  }

  /** Glow samples: cells on a lattice spread over the grid (every `stride`-th cell per
   * axis, the stride chosen so the lattice has about 4 · max cells) whose norm is at least
   * `threshold` · maxNorm; the strongest `max` of them, strongest first, with norm / maxNorm. */
  glowSamples(max, threshold) {
    const R = this.resolution;
    const stride = Math.max(1, Math.round(Math.cbrt(R ** 3 / (4 * max))));
    const cut = threshold * this.maxNorm;
    const found = [];
    for (let k = stride >> 1; k < R; k += stride) {
      for (let j = stride >> 1; j < R; j += stride) {
        for (let i = stride >> 1; i < R; i += stride) {
          const v = this.at(i, j, k);
          if (v >= cut && v > 0) found.push(i + R * (j + R * k));
        }
      }
    }
    found.sort((p, q) => this.grid[q] - this.grid[p] || p - q);
    const n = Math.min(found.length, max);
    const positions = new Float32Array(3 * n);
    const strengths = new Float32Array(n);
    for (let s = 0; s < n; s++) {
      const k = found[s];
      positions[3 * s] = this.center(k % R);
      positions[3 * s + 1] = this.center(Math.floor(k / R) % R);
      positions[3 * s + 2] = this.center(Math.floor(k / (R * R)));
      strengths[s] = this.grid[k] / (this.maxNorm || 1);
    }
    return { positions, strengths };
  }

  /** Follows the gradient from `start`: `dir` +1 up it, -1 down it, `step` world units a
   * step, until it leaves the grid, the norm falls under `floor`, the gradient vanishes or
   * turns back (a ridge or a maximum), or `steps` are taken. Returns the points. */
  trace(start, dir, step, steps, floor) {
    const b = this.bounds;
    const inside = (p) => p.every((v) => v >= -b && v <= b);
    const tiny = (1e-6 * (this.maxNorm || 1)) / this.cell;
    const g = [0, 0, 0];
    const unit = (p) => {
      this.gradient(p[0], p[1], p[2], g);
      const m = Math.hypot(g[0], g[1], g[2]);
      return m < tiny ? null : [(dir * g[0]) / m, (dir * g[1]) / m, (dir * g[2]) / m];
    };
    const points = [start.slice()];
    let p = start.slice();
    let last = null;
    for (let s = 0; s < steps; s++) {
      const d0 = unit(p);
      if (!d0) break;
      const mid = [p[0] + (d0[0] * step) / 2, p[1] + (d0[1] * step) / 2, p[2] + (d0[2] * step) / 2];
      const d1 = unit(mid);
      if (!d1) break;
      if (last && d1[0] * last[0] + d1[1] * last[1] + d1[2] * last[2] < 0) break;
      const q = [p[0] + d1[0] * step, p[1] + d1[1] * step, p[2] + d1[2] * step];
      if (!inside(q) || this.sample(q[0], q[1], q[2]) < floor) break;
      points.push(q);
      p = q;
      last = d1;
    }
    return points;
  }

  /** Field lines from up to `maxSeeds` seeds: cells on a coarse lattice whose norm is at
   * least `threshold` · maxNorm. Returns line-segment vertices (pairs) and the norm / maxNorm
   * at each vertex. */
  fieldLines({ maxSeeds = 300, threshold = 0.2, steps = 48, floor = 0.05 } = {}) {
    const R = this.resolution;
    const stride = Math.max(1, Math.floor(R / 16));
    const cut = threshold * this.maxNorm;
    const seeds = [];
    for (let k = stride >> 1; k < R; k += stride) {
      for (let j = stride >> 1; j < R; j += stride) {
        for (let i = stride >> 1; i < R; i += stride) {
          if (this.at(i, j, k) >= cut && this.at(i, j, k) > 0) seeds.push([i, j, k]);
        }
      }
    }
    const every = Math.max(1, Math.ceil(seeds.length / maxSeeds));
    const verts = [];
    const values = [];
    const max = this.maxNorm || 1;
    for (let s = 0; s < seeds.length; s += every) {
      const start = seeds[s].map((i) => this.center(i));
      for (const dir of [1, -1]) {
        const line = this.trace(start, dir, this.cell * 0.5, steps, floor * max);
        for (let k = 1; k < line.length; k++) {
          for (const p of [line[k - 1], line[k]]) {
            verts.push(p[0], p[1], p[2]);
            values.push(this.sample(p[0], p[1], p[2]) / max);
          }
        }
      }
    }
    return { positions: new Float32Array(verts), values: new Float32Array(values) };
  }
}
