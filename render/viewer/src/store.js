// The objects the page holds: chunks of columns (one per file, one per served answer),
// the octree cells that own them, and one table of type names for the whole view.

import { Strings } from './decode.js';

/** One decoded set of objects, as a manifest or a frame describes them. */
export class Chunk {
  /** `desc`: the JSON description ({n, positions, ids, types, confidence, columns}). */
  constructor(desc, resolve, types) {
    this.n = desc.n;
    this.positions = resolve(desc.positions);
    this.ids = Strings.read(desc.ids, resolve);
    this.confidence = resolve(desc.confidence);
    const local = resolve(desc.types.codes);
    // Local type codes to the view's codes.
    const map = desc.types.names.map((name) => types.code(name));
    this.types = new Uint32Array(this.n);
    for (let i = 0; i < this.n; i++) this.types[i] = map[local[i]];
    this.columns = new Map();
    for (const c of desc.columns) {
      this.columns.set(
        c.name,
        c.kind === 'number'
          ? { kind: 'number', values: resolve(c.values) }
          : { kind: 'text', values: Strings.read(c, resolve) },
      );
    }
    if (this.positions.length !== 3 * this.n || this.confidence.length !== this.n) {
      throw new Error('the data blocks do not match the object count');
    }
  }

  /** Everything the page shows about object i. */
  describe(i, types) {
    const p = this.positions;
    const row = {
      id: this.ids.get(i),
      type: types.names[this.types[i]],
      position: [p[3 * i], p[3 * i + 1], p[3 * i + 2]],
      confidence: this.confidence[i],
      columns: [],
    };
    for (const [name, c] of this.columns) {
      const v = c.values.get ? c.values.get(i) : c.values[i];
      row.columns.push([name, Number.isNaN(v) ? null : v]);
    }
    return row;
  }
}

/** Type names in order of first appearance, with their counts. */
export class Types {
  constructor() {
    this.names = [];
    this.index = new Map();
  }

  code(name) {
    let c = this.index.get(name);
    if (c === undefined) {
      c = this.names.length;
      this.names.push(name);
      this.index.set(name, c);
    }
    return c;
  }
}

/** Decodes a Morton code of `depth` levels into a cell's (x, y, z). */
export function unmorton(code) {
  const c = [0, 0, 0];
  for (let bit = 0; bit < 10; bit++) {
    for (let a = 0; a < 3; a++) c[a] |= ((code >>> (3 * bit + a)) & 1) << bit;
  }
  return c;
}

/** An octree cell of the view: its box, how many objects it has in all, and the loaded
 * prefix of them as segments of chunks (in the cell's sample order). */
export class Cell {
  constructor(code, total, grid) {
    this.code = code;
    this.total = total;
    const edge = grid.size / 2 ** grid.depth;
    const c = unmorton(code);
    this.min = c.map((v, a) => grid.origin[a] + v * edge);
    this.max = this.min.map((v) => v + edge);
    this.center = this.min.map((v) => v + edge / 2);
    this.radius = (edge * Math.sqrt(3)) / 2;
    this.loaded = 0;
    this.segments = [];
    this.pending = 0; // objects asked for and not yet answered (served mode)
  }

  /** Appends objects [start, start + n) of `chunk` as the cell's next ones. */
  add(chunk, start, n) {
    if (n > 0) {
      this.segments.push({ chunk, start, n });
      this.loaded += n;
    }
  }
}
