// The viewer's entry: reads the page's manifest, loads the data (from the file's blocks or
// from the server), builds the view and the controls, and publishes
// `window.tensormap = { ready, count, pick(x, y), camera }` for tests and embedding:
//   ready   true once the first frame with the data is drawn
//   count   the objects of the result (all of them, also when fewer are drawn)
//   pick    the id of the object drawn at CSS pixel (x, y) from the canvas's top-left, or null
//   camera  { position, target, fov, project([x, y, z]) → [x, y] | null, set({position,
//             target}), orbit(degrees), reset() }
// plus `drawn` (points drawn now: fewer while the view moves, if frames are slow), `frames` (frames drawn) and `error` (why loading failed).

import { askedStatus, isTensorQL } from './ask.js';
import { FileSource } from './filesource.js';
import { Api, NeedToken, ServedSource } from './served.js';
import { Ui } from './ui.js';
import { Viewer } from './viewer.js';

const FORMAT = 'tensormap-view';
const VERSION = 1;

const api = {
  ready: false,
  count: 0,
  drawn: 0,
  frames: 0,
  error: null,
  pick: () => null,
  camera: null,
};
window.tensormap = api;

function readManifest() {
  const el = document.getElementById('tm-manifest');
  if (!el) throw new Error('this page has no tensormap manifest');
  const m = JSON.parse(el.textContent);
  if (m.format !== FORMAT || m.version !== VERSION) {
    throw new Error(`this viewer reads ${FORMAT} version ${VERSION}, not ${m.format} version ${m.version}`);
  }
  return m;
}

function colorChoices(source) {
  const choices = [
    ['type', 'type'],
    ['confidence', 'confidence'],
    ['distance', 'distance'],
  ];
  for (const c of source.columns) if (c.kind === 'number') choices.push([`column:${c.name}`, c.name]);
  return choices;
}

function cameraApi(v) {
  return {
    get position() {
      return v.camera.position.toArray();
    },
    get target() {
      return v.controls.target.toArray();
    },
    get fov() {
      return v.camera.fov;
    },
    project: (p) => v.project(p),
    set({ position, target }) {
      if (target) v.controls.target.set(...target);
      if (position) v.camera.position.set(...position);
      v.controls.update();
    },
    /** Turns the camera about the target's vertical axis by `degrees`. */
    orbit(degrees) {
      const t = v.controls.target;
      const p = v.camera.position.clone().sub(t);
      const a = (degrees * Math.PI) / 180;
      const [c, s] = [Math.cos(a), Math.sin(a)];
      v.camera.position.set(t.x + p.x * c + p.z * s, t.y + p.y, t.z - p.x * s + p.z * c);
      v.controls.update();
    },
    reset: () => v.reset(),
  };
}

function startViewer(root, ui, source, manifest, title) {
  const o = manifest.options || {};
  if (o.colorBy === 'column' && !source.columns.some((c) => c.name === o.colorColumn && c.kind === 'number')) {
    console.warn(`tensormap: no numeric column ${o.colorColumn}; colouring by type`);
    o.colorBy = 'type';
    o.colorColumn = null;
  }
  const reducedMotion = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  const v = new Viewer(root, source, o, ui);
  const field = source.field;
  let slice = null;
  if (field && o.slice) slice = { axis: o.slice.axis, index: field.indexOf(o.slice.at) };
  const sliceLabel = (axis, index) =>
    ui.setSliceLabel(axis ? `${axis} = ${+field.center(index).toPrecision(5)}` : '');
  ui.build({
    title,
    colorChoices: colorChoices(source),
    colorBy: o.colorBy === 'column' ? `column:${o.colorColumn}` : o.colorBy || 'type',
    liquid: !!o.liquid && !reducedMotion,
    reducedMotion: !!o.liquid && reducedMotion,
    hasField: !!field,
    glow: o.glow !== false,
    lines: o.fieldLines !== false,
    slice: field ? { axis: slice && slice.axis, index: slice ? slice.index : field.resolution >> 1, resolution: field.resolution } : null,
    served: source instanceof ServedSource ? { example: `SELECT id, position FROM ${manifest.map} LIMIT 20` } : null,
  });
  ui.h.color = (value) => v.setColor(value);
  ui.h.liquid = (on) => v.setLiquid(on);
  ui.h.reset = () => v.reset();
  if (field) {
    ui.h.glow = (on) => {
      v.fieldView.setGlow(on);
      v.requestRender();
    };
    ui.h.lines = (on) => {
      v.fieldView.setLines(on);
      v.requestRender();
    };
    ui.h.slice = (axis, index) => {
      v.fieldView.setSlice(axis, index);
      sliceLabel(axis, index);
      v.requestRender();
    };
    v.fieldView.setGlow(o.glow !== false);
    v.fieldView.setLines(o.fieldLines !== false);
    if (slice) ui.h.slice(slice.axis, slice.index);
  }
  if (o.liquid && !reducedMotion) v.setLiquid(true);
  api.count = source.count;
  api.pick = (x, y) => {
    const hit = v.pickAt(x, y);
    return hit ? hit.chunk.ids.get(hit.i) : null;
  };
  api.camera = cameraApi(v);
  Object.defineProperty(api, 'drawn', { get: () => v.drawing(), configurable: true });
  Object.defineProperty(api, 'frames', { get: () => v.frames, configurable: true });
  v.updateLod();
  if (!v.geometry) v.rebuild(new Uint32Array(source.cells.length));
  return v;
}

/** Waits for the first frame that shows data, then sets `ready`. */
function readyAfterFirstFrame(v, hasData) {
  const check = () => {
    if (hasData()) {
      api.readyMs = performance.now();
      api.ready = true;
    } else v.onFrame.push(check);
  };
  v.onFrame.push(check);
  v.requestRender();
}

function startFile(root, ui, manifest) {
  const source = new FileSource(manifest);
  const v = startViewer(root, ui, source, manifest, manifest.title);
  readyAfterFirstFrame(v, () => true);
}

/** The served viewer takes the file's options from the URL's query string too:
 * `/view/scene?color_by=score&point_budget=200000&effects=liquid&slice=x&glow=false`. */
function urlOptions(options) {
  const o = { ...options };
  const q = new URLSearchParams(location.search);
  const flag = (v) => (v === 'true' ? true : v === 'false' ? false : null);
  for (const [key, value] of q) {
    if (key === 'color_by') {
      const builtin = ['type', 'confidence', 'distance'].includes(value);
      o.colorBy = builtin ? value : 'column';
      o.colorColumn = builtin ? null : value;
    } else if (key === 'point_budget' && /^[0-9]+$/.test(value) && +value >= 1000 && +value <= 1e7) {
      o.pointBudget = +value;
    } else if (key === 'effects' && (value === 'liquid' || value === 'none')) {
      o.liquid = value === 'liquid';
    } else if (key === 'slice' && ['x', 'y', 'z', 'none'].includes(value)) {
      o.slice = value === 'none' ? null : { axis: value, at: 0 };
    } else if ((key === 'glow' || key === 'field_lines') && flag(value) !== null) {
      o[key === 'glow' ? 'glow' : 'fieldLines'] = flag(value);
    } else {
      console.warn(`tensormap: ignored the URL option ${key}=${value}`);
    }
  }
  return o;
}

async function startServed(root, ui, manifest) {
  manifest.options = urlOptions(manifest.options || {});
  const http = new Api(manifest);
  ui.h.token = (t) => {
    http.token = t;
    location.reload();
  };
  try {
    if (!manifest.map) {
      const answer = await http.query('SHOW MAPS');
      const rows = (answer.results && answer.results[0] && answer.results[0].rows) || [];
      ui.showMaps(rows.map((r) => ({ name: r.name, objects: r.objects })), http.base);
      api.readyMs = performance.now();
      api.ready = true;
      return;
    }
    const source = new ServedSource(http, manifest.map);
    await source.init();
    const v = startViewer(root, ui, source, manifest, `tensormap · ${manifest.map}`);
    source.onData = () => v.updateLod();
    source.onError = (e) => fail(ui, e);
    ui.h.query = async (sql) => {
      ui.setQueryStatus('running…');
      ui.setQueryStatement('');
      try {
        if (isTensorQL(sql)) {
          const r = await source.query(sql);
          v.setRing(v.queryRing, r.positions);
          ui.setQueryStatus(`${r.status} · ${r.positions.length / 3} ringed`);
        } else {
          // Plain language: the statement the command model wrote is shown beside the rows.
          const { asked, ran } = await source.ask(sql);
          ui.setQueryStatement(asked.statement);
          v.setRing(v.queryRing, ran ? ran.positions : []);
          ui.setQueryStatus(askedStatus(asked, ran));
        }
      } catch (e) {
        if (e instanceof NeedToken) ui.askToken(e.message);
        ui.setQueryStatus(e.message);
      }
    };
    // Ready once the first objects are drawn (or there are none to draw).
    readyAfterFirstFrame(v, () => v.drawn > 0 || source.count === 0);
  } catch (e) {
    if (e instanceof NeedToken) ui.askToken(e.message);
    else fail(ui, e);
  }
}

function fail(ui, e) {
  api.error = String(e && e.message ? e.message : e);
  ui.showError(`This view cannot be shown: ${api.error}`);
  console.error(e);
}

function main() {
  const root = document.createElement('div');
  root.id = 'tm-root';
  document.body.append(root);
  const ui = new Ui(root, {});
  let manifest;
  try {
    manifest = readManifest();
    api.count = manifest.count || 0;
    document.title = manifest.title || document.title;
    if (manifest.mode === 'served') startServed(root, ui, manifest);
    else startFile(root, ui, manifest);
  } catch (e) {
    fail(ui, e);
  }
}

main();
