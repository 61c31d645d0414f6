// The WebGL view: renderer, camera and orbit controls, the objects as points drawn from the
// cells the level of detail picks, picking, hover, colouring, the liquid effect and the
// field. Renders on demand (a change of view, a hover, new data), every frame only while
// the liquid effect runs.

import {
  Box3,
  BufferAttribute,
  BufferGeometry,
  Color,
  Frustum,
  Matrix4,
  PerspectiveCamera,
  Points,
  Scene,
  Vector3,
  WebGLRenderer,
  WebGLRenderTarget,
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { BACKGROUND, NULL_RGB, rgb, typeColor, viridis } from './colors.js';
import { FieldView } from './fieldview.js';
import { allocate } from './lod.js';
import { pointMaterial, ringMaterial } from './shaders.js';

const PICK_RADIUS = 4; // CSS pixels around the pointer that a pick searches
const LOD_DELAY_MS = 120; // the level of detail is recomputed once the view rests this long
// The drawn set is laid out in levels: level l holds, of every cell, its objects from
// LEVELS[l - 1] to LEVELS[l] of the cell's share. Any level's end is then a stratified
// sample of the whole set, so while the view moves the page can draw a prefix and keep
// its frame rate (stepping a level down when a frame takes longer than SLOW_MS, up when
// shorter than FAST_MS), and draw everything again once the view rests.
const LEVELS = [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1];
const SLOW_MS = 50;
const FAST_MS = 20;

/** 256 colours of a ramp, for colouring many points fast. */
function lut(scale) {
  const t = new Uint8Array(768);
  const c = [0, 0, 0];
  for (let k = 0; k < 256; k++) {
    scale(k / 255, c);
    t.set(c, 3 * k);
  }
  return t;
}
const VIRIDIS = lut(viridis);

export class Viewer {
  /**
   * @param {HTMLElement} root  the page's container
   * @param {object} source     the data (FileSource or ServedSource)
   * @param {object} options    the manifest's options
   * @param {import('./ui.js').Ui} ui
   */
  constructor(root, source, options, ui) {
    this.source = source;
    this.options = options;
    this.ui = ui;
    this.budget = Math.max(1000, options.pointBudget | 0 || 500000);
    const renderer = new WebGLRenderer({ antialias: false, powerPreference: 'high-performance' });
    renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    renderer.setClearColor(new Color(BACKGROUND), 1);
    root.prepend(renderer.domElement);
    this.renderer = renderer;
    this.scene = new Scene();
    this.camera = new PerspectiveCamera(50, 1, 0.1, 1000);
    this.controls = new OrbitControls(this.camera, renderer.domElement);
    this.controls.screenSpacePanning = true;
    this.controls.addEventListener('change', () => this.viewChanged());

    this.material = pointMaterial(false);
    this.pickMaterial = pointMaterial(true, this.material);
    this.capacity = 0;
    this.geometry = null;
    this.points = null;
    this.pickScene = new Scene();
    this.segments = [];
    this.drawn = 0;
    this.levelEnds = [];
    this.motionLevel = LEVELS.length - 1;
    this.moving = false;
    this.prevMoving = false;
    this.prevFrame = 0;
    this.frames = 0;
    this.want = null;
    this.colorMode = { kind: options.colorBy || 'type', column: options.colorColumn || null };
    this.distanceFrom = options.distanceFrom || [0, 0, 0];
    this.typeRgb = [];
    this.liquid = false;
    this.flow = null;
    this.pinned = null;
    this.mouse = null;
    this.hoverPending = false;
    this.renderPending = false;
    this.lodTimer = 0;
    this.pickTarget = new WebGLRenderTarget(2 * PICK_RADIUS + 1, 2 * PICK_RADIUS + 1);
    this.pickPixels = new Uint8Array(4 * (2 * PICK_RADIUS + 1) ** 2);
    this.onFrame = [];

    this.hoverRing = this.ring([1, 1, 1], 18);
    this.queryRing = this.ring([1, 0.3, 0.85], 14);
    this.fieldView = source.field ? new FieldView(source.field, this.scene) : null;
    this.frustum = new Frustum();
    this.boxes = null;

    this.fit();
    this.resize();
    window.addEventListener('resize', () => this.resize());
    this.listen(renderer.domElement);
  }

  ring(color, px) {
    const g = new BufferGeometry();
    g.setAttribute('position', new BufferAttribute(new Float32Array(3), 3));
    g.setDrawRange(0, 0);
    const m = ringMaterial(color);
    m.uniforms.uPx.value = px;
    const p = new Points(g, m);
    p.frustumCulled = false;
    p.renderOrder = 10;
    this.scene.add(p);
    return p;
  }

  /** Places ring markers at `positions` (x, y, z triples). */
  setRing(ring, positions) {
    const n = positions.length / 3;
    const old = ring.geometry;
    const g = new BufferGeometry();
    g.setAttribute('position', new BufferAttribute(new Float32Array(positions), 3));
    ring.geometry = g;
    old.dispose();
    g.setDrawRange(0, n);
    this.requestRender();
  }

  // --- camera --------------------------------------------------------------------------

  /** The box the view frames: the objects', else the field's, else a unit cube. */
  extent() {
    const b = this.source.bbox;
    if (b) return { min: b[0], max: b[1] };
    if (this.source.field) {
      const f = this.source.field.bounds;
      return { min: [-f, -f, -f], max: [f, f, f] };
    }
    return { min: [-1, -1, -1], max: [1, 1, 1] };
  }

  /** Frames the extent from azimuth 45°, elevation 30° (the SVG view's default angles). */
  fit() {
    const { min, max } = this.extent();
    const c = new Vector3((min[0] + max[0]) / 2, (min[1] + max[1]) / 2, (min[2] + max[2]) / 2);
    const r = Math.max(0.5 * Math.hypot(max[0] - min[0], max[1] - min[1], max[2] - min[2]), 1e-3);
    this.radius = r;
    const dist = (r / Math.sin(((this.camera.fov / 2) * Math.PI) / 180)) * 1.05;
    const az = Math.PI / 4;
    const el = Math.PI / 6;
    this.camera.position.set(
      c.x + dist * Math.cos(el) * Math.sin(az),
      c.y + dist * Math.sin(el),
      c.z + dist * Math.cos(el) * Math.cos(az),
    );
    this.camera.near = r / 1000;
    this.camera.far = r * 200;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(c);
    this.controls.update();
    this.home = { position: this.camera.position.clone(), target: c.clone() };
    this.material.uniforms.uAmp.value = r * 0.02;
  }

  reset() {
    this.camera.position.copy(this.home.position);
    this.controls.target.copy(this.home.target);
    this.controls.update();
  }

  resize() {
    const w = Math.max(window.innerWidth, 1);
    const h = Math.max(window.innerHeight, 1);
    this.renderer.setSize(w, h);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    const scale = h / (2 * Math.tan(((this.camera.fov / 2) * Math.PI) / 180));
    const pr = this.renderer.getPixelRatio();
    for (const m of [this.material]) {
      m.uniforms.uScale.value = scale;
      m.uniforms.uPixelRatio.value = pr;
    }
    this.hoverRing.material.uniforms.uPixelRatio.value = pr;
    this.queryRing.material.uniforms.uPixelRatio.value = pr;
    if (this.fieldView) this.fieldView.setScale(scale, pr);
    this.viewChanged();
  }

  viewChanged() {
    const d = this.camera.position.distanceTo(this.controls.target);
    this.material.uniforms.uDepth.value = [Math.max(d - this.radius, 0), d + this.radius];
    this.moving = true;
    this.requestRender();
    clearTimeout(this.lodTimer);
    this.lodTimer = setTimeout(() => {
      this.moving = false;
      this.updateLod();
      this.requestRender();
    }, LOD_DELAY_MS);
  }

  /** Points drawn in the next frame: a level's prefix while the view moves, else all. */
  drawing() {
    return this.moving && this.levelEnds.length ? this.levelEnds[this.motionLevel] : this.drawn;
  }

  /** Projects a world point to CSS pixels from the canvas's top-left; null when it is
   * behind the camera or off the canvas. */
  project(p) {
    const v = new Vector3(p[0], p[1], p[2]).project(this.camera);
    if (!(v.z >= -1 && v.z <= 1)) return null;
    const rect = this.renderer.domElement.getBoundingClientRect();
    const x = ((v.x + 1) / 2) * rect.width;
    const y = ((1 - v.y) / 2) * rect.height;
    return x >= 0 && y >= 0 && x < rect.width && y < rect.height ? [x, y] : null;
  }

  // --- level of detail and the drawn set -------------------------------------------------

  /** Objects to draw per cell: all of every cell while the whole view fits the budget (no
   * popping while turning), else the cells in view, denser near the camera. */
  wanted() {
    const cells = this.source.cells;
    if (this.source.drawable <= this.budget) return Uint32Array.from(cells, (c) => c.total);
    if (!this.boxes) {
      this.boxes = cells.map((c) => new Box3(new Vector3(...c.min), new Vector3(...c.max)));
    }
    this.camera.updateMatrixWorld();
    this.frustum.setFromProjectionMatrix(
      new Matrix4().multiplyMatrices(this.camera.projectionMatrix, this.camera.matrixWorldInverse),
    );
    const eye = this.camera.position;
    return allocate(cells, this.budget, (i) => {
      if (!this.frustum.intersectsBox(this.boxes[i])) return 0;
      const c = cells[i];
      const d = Math.hypot(c.center[0] - eye.x, c.center[1] - eye.y, c.center[2] - eye.z);
      return 1 / Math.max(d, c.radius, 1e-9);
    });
  }

  /** Recomputes what to draw; asks the source for objects it lacks (served). */
  updateLod() {
    const want = this.wanted();
    if (this.source.request) this.source.request(want);
    const cells = this.source.cells;
    const have = Uint32Array.from(cells, (c, i) => Math.min(want[i], c.loaded));
    if (this.want && this.want.length === have.length && this.want.every((v, i) => v === have[i])) return;
    this.rebuild(have);
  }

  ensureCapacity(n) {
    if (n <= this.capacity && this.geometry) return;
    const cap = Math.max(n, Math.ceil(this.capacity * 1.5), 1024);
    const g = new BufferGeometry();
    g.setAttribute('position', new BufferAttribute(new Float32Array(3 * cap), 3));
    g.setAttribute('color', new BufferAttribute(new Uint8Array(3 * cap), 3, true));
    if (this.geometry) this.geometry.dispose();
    this.geometry = g;
    this.capacity = cap;
    this.flow = null;
    if (!this.points) {
      this.points = new Points(g, this.material);
      this.points.frustumCulled = false;
      this.scene.add(this.points);
      this.pickPoints = new Points(g, this.pickMaterial);
      this.pickPoints.frustumCulled = false;
      this.pickScene.add(this.pickPoints);
    }
    this.points.geometry = g;
    this.pickPoints.geometry = g;
  }

  /** Fills the point buffers with `have[i]` objects of cell i, level by level (LEVELS). */
  rebuild(have) {
    const cells = this.source.cells;
    let n = 0;
    for (let i = 0; i < cells.length; i++) n += have[i];
    this.ensureCapacity(n);
    const pos = this.geometry.attributes.position;
    const segments = [];
    let at = 0;
    // Objects [a, b) of a cell's loaded prefix, which may span several chunks.
    const emit = (cell, a, b) => {
      let off = 0;
      for (const s of cell.segments) {
        const lo = Math.max(a, off);
        const hi = Math.min(b, off + s.n);
        if (hi > lo) {
          const start = s.start + lo - off;
          pos.array.set(s.chunk.positions.subarray(3 * start, 3 * (start + hi - lo)), 3 * at);
          segments.push({ at, chunk: s.chunk, start, n: hi - lo });
          at += hi - lo;
        }
        off += s.n;
        if (off >= b) break;
      }
    };
    this.levelEnds = [];
    for (let l = 0; l < LEVELS.length; l++) {
      for (let i = 0; i < cells.length; i++) {
        const a = l === 0 ? 0 : Math.floor(have[i] * LEVELS[l - 1]);
        const b = Math.floor(have[i] * LEVELS[l]);
        if (b > a) emit(cells[i], a, b);
      }
      this.levelEnds.push(at);
    }
    this.segments = segments;
    this.drawn = n;
    this.want = have;
    // Point size: about a third of the spacing of the drawn points in the framed box.
    this.material.uniforms.uSize.value = (this.radius * 0.7) / Math.cbrt(Math.max(n, 1));
    pos.clearUpdateRanges();
    pos.addUpdateRange(0, 3 * n);
    pos.needsUpdate = true;
    this.geometry.setDrawRange(0, n);
    this.recolor();
    if (this.liquid) this.reflow();
    this.ui.setCounts(this.source.count, n, this.source.sampledOf);
    this.requestRender();
  }

  /** The segment holding draw index k (binary search). */
  segmentOf(k) {
    const s = this.segments;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid].at <= k) lo = mid;
      else hi = mid - 1;
    }
    return s[lo];
  }

  // --- colour --------------------------------------------------------------------------

  typeColor(code) {
    if (!this.typeRgb[code]) this.typeRgb[code] = rgb(typeColor(this.source.types.names[code], code));
    return this.typeRgb[code];
  }

  setColor(value) {
    const [kind, column] = value.startsWith('column:') ? ['column', value.slice(7)] : [value, null];
    this.colorMode = { kind, column };
    this.recolor();
    this.requestRender();
  }

  /** Writes each drawn point's colour and the legend for the colour mode. */
  recolor() {
    if (!this.geometry) return;
    const col = this.geometry.attributes.color;
    const out = col.array;
    const { kind, column } = this.colorMode;
    let value = null; // (chunk, i) → number, for the scales
    let range = null;
    let title = kind;
    if (kind === 'confidence') {
      value = (c, i) => c.confidence[i];
      range = this.source.range('confidence');
    } else if (kind === 'distance') {
      const [fx, fy, fz] = this.distanceFrom;
      value = (c, i) => {
        const p = c.positions;
        return Math.hypot(p[3 * i] - fx, p[3 * i + 1] - fy, p[3 * i + 2] - fz);
      };
      range = this.source.range('distance', this.distanceFrom);
      title = `distance from [${this.distanceFrom.join(', ')}]`;
    } else if (kind === 'column') {
      value = (c, i) => {
        const v = c.columns.get(column);
        return v && v.kind === 'number' ? v.values[i] : NaN;
      };
      range = this.source.range(column);
      title = column;
    }
    if (value) {
      const lo = range ? range[0] : 0;
      const span = range && range[1] > range[0] ? range[1] - range[0] : 1;
      for (const s of this.segments) {
        for (let j = 0; j < s.n; j++) {
          const v = value(s.chunk, s.start + j);
          const o = 3 * (s.at + j);
          if (!Number.isFinite(v)) {
            out.set(NULL_RGB, o);
            continue;
          }
          const k = Math.min(Math.max(Math.round(((v - lo) / span) * 255), 0), 255);
          out[o] = VIRIDIS[3 * k];
          out[o + 1] = VIRIDIS[3 * k + 1];
          out[o + 2] = VIRIDIS[3 * k + 2];
        }
      }
      this.ui.setLegend({ kind: 'scale', title, min: range ? range[0] : null, max: range ? range[1] : null });
    } else {
      for (const s of this.segments) {
        const t = s.chunk.types;
        for (let j = 0; j < s.n; j++) out.set(this.typeColor(t[s.start + j]), 3 * (s.at + j));
      }
      const names = this.source.types.names;
      const counts = this.source.typeCounts();
      const order = names.map((_, k) => k).sort((a, b) => (counts[b] || 0) - (counts[a] || 0) || a - b);
      const shown = order.slice(0, 12);
      this.ui.setLegend({
        kind: 'types',
        items: shown.map((k) => {
          const [r, g, b] = this.typeColor(k);
          return [names[k], `rgb(${r},${g},${b})`, counts[k]];
        }),
        more: order.length - shown.length,
      });
    }
    col.clearUpdateRanges();
    col.addUpdateRange(0, 3 * this.drawn);
    col.needsUpdate = true;
  }

  // --- liquid effect -------------------------------------------------------------------

  /** Each drawn point's flow: the unit gradient of the field's norm at it times its
   * activation (norm / max norm); 0.5 and no direction without a field. */
  reflow() {
    if (!this.flow) {
      this.flow = new BufferAttribute(new Float32Array(4 * this.capacity), 4);
      this.geometry.setAttribute('flow', this.flow);
    }
    const f = this.source.field;
    const out = this.flow.array;
    const g = [0, 0, 0];
    const max = f && f.maxNorm > 0 ? f.maxNorm : 1;
    for (const s of this.segments) {
      const p = s.chunk.positions;
      for (let j = 0; j < s.n; j++) {
        const i = s.start + j;
        const o = 4 * (s.at + j);
        if (!f) {
          out[o] = out[o + 1] = out[o + 2] = 0;
          out[o + 3] = 0.5;
          continue;
        }
        const [x, y, z] = [p[3 * i], p[3 * i + 1], p[3 * i + 2]];
        const a = Math.min(f.sample(x, y, z) / max, 1);
        f.gradient(x, y, z, g);
        const m = Math.hypot(g[0], g[1], g[2]);
        const k = m > 0 ? a / m : 0;
        out[o] = g[0] * k;
        out[o + 1] = g[1] * k;
        out[o + 2] = g[2] * k;
        out[o + 3] = a;
      }
    }
    this.flow.clearUpdateRanges();
    this.flow.addUpdateRange(0, 4 * this.drawn);
    this.flow.needsUpdate = true;
  }

  setLiquid(on) {
    this.liquid = on;
    this.material.uniforms.uLiquid.value = on ? 1 : 0;
    if (on) {
      if (this.geometry) this.reflow();
      this.t0 = performance.now();
    }
    this.requestRender();
  }

  // --- picking and hover ---------------------------------------------------------------

  /** The drawn object nearest to CSS pixel (x, y) within PICK_RADIUS: {chunk, i} or null. */
  pickAt(x, y) {
    if (!this.drawn || !this.points) return null;
    const rect = this.renderer.domElement.getBoundingClientRect();
    const R = PICK_RADIUS;
    const side = 2 * R + 1;
    const u = this.material.uniforms.uPixelRatio;
    const pr = u.value;
    u.value = 1; // the pick target has one pixel per CSS pixel
    this.geometry.setDrawRange(0, this.drawing()); // what the next frame shows
    this.camera.setViewOffset(rect.width, rect.height, Math.round(x) - R, Math.round(y) - R, side, side);
    const r = this.renderer;
    const clear = r.getClearColor(new Color());
    const alpha = r.getClearAlpha();
    r.setRenderTarget(this.pickTarget);
    r.setClearColor(0x000000, 0);
    r.clear();
    r.render(this.pickScene, this.camera);
    r.readRenderTargetPixels(this.pickTarget, 0, 0, side, side, this.pickPixels);
    r.setRenderTarget(null);
    r.setClearColor(clear, alpha);
    this.camera.clearViewOffset();
    u.value = pr;
    let best = -1;
    let bestD = Infinity;
    const px = this.pickPixels;
    for (let row = 0; row < side; row++) {
      for (let col = 0; col < side; col++) {
        const o = 4 * (row * side + col);
        const id = px[o] | (px[o + 1] << 8) | (px[o + 2] << 16);
        if (id === 0) continue;
        const d = (row - R) ** 2 + (col - R) ** 2;
        if (d <= R * R && d < bestD) {
          bestD = d;
          best = id - 1;
        }
      }
    }
    if (best < 0 || best >= this.drawing()) return null;
    const s = this.segmentOf(best);
    return { chunk: s.chunk, i: s.start + (best - s.at) };
  }

  listen(canvas) {
    let down = null;
    canvas.addEventListener('pointermove', (e) => {
      const rect = canvas.getBoundingClientRect();
      this.mouse = { x: e.clientX - rect.left, y: e.clientY - rect.top, buttons: e.buttons };
      this.hoverPending = true;
      this.requestRender();
    });
    canvas.addEventListener('pointerleave', () => {
      this.mouse = null;
      this.ui.showTip(0, 0, null);
      if (!this.pinned) this.ui.showInfo(null);
    });
    canvas.addEventListener('pointerdown', (e) => {
      down = [e.clientX, e.clientY];
    });
    canvas.addEventListener('pointerup', (e) => {
      if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4) return;
      const rect = canvas.getBoundingClientRect();
      const hit = this.pickAt(e.clientX - rect.left, e.clientY - rect.top);
      this.pinned = hit ? hit.chunk.describe(hit.i, this.source.types) : null;
      this.ui.showInfo(this.pinned, true);
    });
    window.addEventListener('keydown', (e) => {
      if ((e.key === 'r' || e.key === 'R') && !(e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLInputElement)) {
        this.reset();
      }
    });
  }

  hover() {
    this.hoverPending = false;
    const m = this.mouse;
    if (!m || m.buttons) return;
    const hit = this.pickAt(m.x, m.y);
    if (!hit) {
      this.ui.showTip(0, 0, null);
      if (!this.pinned) this.ui.showInfo(null);
      this.hoverRing.geometry.setDrawRange(0, 0);
      return;
    }
    const row = hit.chunk.describe(hit.i, this.source.types);
    this.ui.showTip(m.x, m.y, row.id);
    if (!this.pinned) this.ui.showInfo(row, false);
    this.hoverRing.geometry.attributes.position.array.set(row.position);
    this.hoverRing.geometry.attributes.position.needsUpdate = true;
    this.hoverRing.geometry.setDrawRange(0, 1);
  }

  // --- frames --------------------------------------------------------------------------

  requestRender() {
    if (this.renderPending) return;
    this.renderPending = true;
    requestAnimationFrame(() => this.frame());
  }

  frame() {
    this.renderPending = false;
    const now = performance.now();
    if (this.moving && this.prevMoving && this.levelEnds.length) {
      // Frame time grows with the points drawn: jump to the level that should take about
      // the middle of [FAST_MS, SLOW_MS], or step up when there is time to spare.
      const dt = now - this.prevFrame;
      if (dt > SLOW_MS) {
        const fits = this.levelEnds[this.motionLevel] * ((FAST_MS + SLOW_MS) / 2 / dt);
        while (this.motionLevel > 0 && this.levelEnds[this.motionLevel] > fits) this.motionLevel--;
      } else if (dt < FAST_MS && this.motionLevel < LEVELS.length - 1) this.motionLevel++;
    }
    this.prevMoving = this.moving;
    this.prevFrame = now;
    if (this.geometry) this.geometry.setDrawRange(0, this.drawing());
    if (this.liquid) {
      this.material.uniforms.uTime.value = (performance.now() - this.t0) / 1000;
      this.requestRender();
    }
    if (this.hoverPending) this.hover();
    this.renderer.render(this.scene, this.camera);
    this.frames++;
    for (const f of this.onFrame.splice(0)) f();
  }
}
