// The served viewer's data: `tmap serve` answers the view's routes (render/viewer/README.md)
// and the page asks for what the level of detail wants: prefixes of octree cells, bricks of
// the field, and TensorQL from the query box. A bearer token, when the server wants one,
// is asked once and kept in this tab's sessionStorage only.

import { explainAsk, readExplained } from './ask.js';
import { readFrame } from './decode.js';
import { Field } from './field.js';
import { Cell, Chunk, Types } from './store.js';

const TOKEN_KEY = 'tensormap.token';

/** Thrown when the server needs a (new) token; the page asks for it. */
export class NeedToken extends Error {}

/** HTTP to the server with the tab's token. */
export class Api {
  constructor(manifest) {
    this.base = manifest.base || '/view';
    this.queryPath = manifest.query || '/query';
  }

  get token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  }

  set token(t) {
    try {
      sessionStorage.setItem(TOKEN_KEY, t);
    } catch {
      // Storage refused (private mode): the token lives until the page is left.
    }
  }

  async call(path, body, binary) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
    if (r.status === 401) {
      throw new NeedToken(this.token ? 'The server refused this token.' : 'This server needs a token.');
    }
    if (!r.ok) {
      let message = `${r.status} ${r.statusText}`;
      try {
        const e = await r.json();
        if (e && e.error) message = e.error;
      } catch {
        // Not JSON: keep the status line.
      }
      throw new Error(message);
    }
    return binary ? r.arrayBuffer() : r.json();
  }

  view(map, tail, body, binary) {
    return this.call(`${this.base}/${encodeURIComponent(map)}${tail}`, body, binary);
  }

  query(sql) {
    return this.call(this.queryPath, { sql });
  }
}

export class ServedSource {
  constructor(api, map) {
    this.api = api;
    this.map = map;
    this.types = new Types();
    this.inFlight = false;
    this.onData = () => {};
    this.onError = () => {};
  }

  /** Reads the map's meta and the field. */
  async init() {
    const meta = await this.api.view(this.map, '/meta');
    this.meta = meta;
    this.count = meta.count;
    this.drawable = meta.count;
    this.sampledOf = 0;
    this.bbox = meta.bbox;
    for (const name of meta.types) this.types.code(name);
    this.columns = meta.columns.map((c) => ({ name: c.name, kind: c.kind }));
    this.cells = meta.cells.list.map(([code, total]) => new Cell(code, total, meta.cells));
    this.byCode = new Map(this.cells.map((c) => [c.code, c]));
    this.limits = meta.limits || { pointsPerRequest: 1000000, bricksPerRequest: 4096 };
    this.field = null;
    const f = meta.field;
    if (f) {
      this.field = new Field(f.resolution, f.bounds, f.maxNorm);
      this.field.sourceResolution = f.sourceResolution;
      const per = this.limits.bricksPerRequest;
      for (let k = 0; k < f.bricks.length; k += per) {
        const ask = f.bricks.slice(k, k + per).map((b) => [b[0], b[1], b[2]]);
        const { header, resolve } = readFrame(await this.api.view(this.map, '/field', { bricks: ask }, true));
        this.field.addBricks(resolve(header.coords), resolve(header.norms), f.brickEdge, header.normScale);
      }
    }
  }

  range(name, from) {
    const m = this.meta;
    const r = (x) => (x ? [x.min, x.max] : null);
    if (name === 'confidence') return r(m.confidence);
    if (name === 'distance') {
      if (!m.bbox) return null;
      const [lo, hi] = m.bbox;
      const far = Math.hypot(...[0, 1, 2].map((a) => Math.max(Math.abs(lo[a] - from[a]), Math.abs(hi[a] - from[a]))));
      const near = Math.hypot(...[0, 1, 2].map((a) => Math.max(lo[a] - from[a], 0, from[a] - hi[a])));
      return [near, far];
    }
    const c = m.columns.find((x) => x.name === name);
    return c && c.range ? r(c.range) : null;
  }

  typeCounts() {
    return [];
  }

  /** Asks for the objects `want` lists that are not loaded or asked for yet, one request
   * at a time; `onData` runs when they arrive. */
  request(want) {
    if (this.inFlight) {
      this.again = want;
      return;
    }
    const asks = [];
    let points = 0;
    const cap = Math.min(this.limits.pointsPerRequest, 250000);
    for (let i = 0; i < this.cells.length && points < cap && asks.length < 4096; i++) {
      const c = this.cells[i];
      if (want[i] > c.loaded) {
        const to = Math.min(want[i], c.loaded + (cap - points));
        asks.push([c.code, c.loaded, to]);
        points += to - c.loaded;
      }
    }
    if (!asks.length) return;
    this.inFlight = true;
    this.api
      .view(this.map, '/cells', { cells: asks }, true)
      .then((buffer) => {
        const { header, resolve } = readFrame(buffer);
        const chunk = new Chunk(header.objects, resolve, this.types);
        let at = 0;
        for (const [code, , from, n] of header.cells) {
          const cell = this.byCode.get(code);
          // An answer that does not continue the loaded prefix (the map changed) is dropped.
          if (cell && from === cell.loaded) cell.add(chunk, at, n);
          at += n;
        }
        this.inFlight = false;
        this.onData();
        if (this.again) {
          const w = this.again;
          this.again = null;
          this.request(w);
        }
      })
      .catch((e) => {
        this.inFlight = false;
        this.onError(e);
      });
  }

  /** Runs TensorQL; returns the status line and the positions to ring. */
  async query(sql) {
    const answer = await this.api.query(sql);
    const results = answer.results || [];
    const last = results[results.length - 1] || { status: '', rows: [] };
    const rows = last.rows || [];
    const positions = [];
    let byId = null;
    for (const row of rows) {
      const p = row.position;
      if (Array.isArray(p) && p.length === 3 && p.every(Number.isFinite)) {
        positions.push(p[0], p[1], p[2]);
      } else if (typeof row.id === 'string') {
        if (!byId) byId = this.loadedIds();
        const q = byId.get(row.id);
        if (q) positions.push(...q);
      }
    }
    return { status: last.status || '', rows: rows.length, positions };
  }

  /** A question in plain language: the command model's statement (`EXPLAIN ASK`), run
   * when the model is confident. Returns `{asked, ran}`; `ran` is null when nothing ran. */
  async ask(text) {
    const asked = readExplained(await this.api.query(explainAsk(this.map, text)));
    if (!asked) throw new Error('the server did not answer EXPLAIN ASK with a statement');
    const ran = asked.outcome === 'answer' ? await this.query(asked.statement) : null;
    return { asked, ran };
  }

  /** id → position of every loaded object. */
  loadedIds() {
    const m = new Map();
    for (const c of this.cells) {
      for (const s of c.segments) {
        const p = s.chunk.positions;
        for (let i = s.start; i < s.start + s.n; i++) m.set(s.chunk.ids.get(i), [p[3 * i], p[3 * i + 1], p[3 * i + 2]]);
      }
    }
    return m;
  }
}
