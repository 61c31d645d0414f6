// The data of an HTML file: every object is in the page, in octree-cell order.

import { fileBlocks } from './decode.js';
import { Field } from './field.js';
import { Cell, Chunk, Types } from './store.js';

/** Min and max of the finite values of an array (null when there are none). */
export function finiteRange(values, map = (v) => v) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = map(values[i], i);
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

export class FileSource {
  constructor(manifest, doc = document) {
    const resolve = fileBlocks(doc);
    this.types = new Types();
    this.chunk = new Chunk(manifest.objects, resolve, this.types);
    this.count = manifest.count;
    this.sampledOf = manifest.sampled ? manifest.drawn : 0;
    this.bbox = manifest.bbox;
    this.columns = manifest.objects.columns.map((c) => ({ name: c.name, kind: c.kind }));
    const grid = manifest.cells;
    const codes = resolve(grid.codes);
    const counts = resolve(grid.counts);
    this.cells = [];
    let at = 0;
    for (let k = 0; k < codes.length; k++) {
      const cell = new Cell(codes[k], counts[k], grid);
      cell.add(this.chunk, at, counts[k]);
      at += counts[k];
      this.cells.push(cell);
    }
    if (at !== this.chunk.n) throw new Error('the cells do not cover the objects');
    // The level of detail compares the budget with what can be drawn: the file's objects.
    this.count = manifest.count;
    this.drawable = this.chunk.n;
    const f = manifest.field;
    this.field = null;
    if (f) {
      this.field = new Field(f.resolution, f.bounds, f.maxNorm);
      this.field.addBricks(resolve(f.coords), resolve(f.norms), f.brickEdge, f.normScale);
      this.field.sourceResolution = f.sourceResolution;
    }
    this.ranges = new Map();
  }

  /** The range of `name` ('confidence', 'distance' from `from`, or a numeric column). */
  range(name, from) {
    const key = name === 'distance' ? `distance:${from}` : `c:${name}`;
    if (this.ranges.has(key)) return this.ranges.get(key);
    const c = this.chunk;
    let r = null;
    if (name === 'confidence') r = finiteRange(c.confidence);
    else if (name === 'distance') {
      const p = c.positions;
      r = finiteRange(c.confidence, (_, i) =>
        Math.hypot(p[3 * i] - from[0], p[3 * i + 1] - from[1], p[3 * i + 2] - from[2]));
    } else {
      const col = c.columns.get(name);
      if (col && col.kind === 'number') r = finiteRange(col.values);
    }
    this.ranges.set(key, r);
    return r;
  }

  /** Objects per type code. */
  typeCounts() {
    if (!this.counts) {
      this.counts = [];
      const t = this.chunk.types;
      for (let i = 0; i < t.length; i++) this.counts[t[i]] = (this.counts[t[i]] || 0) + 1;
    }
    return this.counts;
  }
}
