// The page's controls and text: a panel (counts, colouring, effects, slice, reset; the query
// box and token field when served), the legend, the hovered object's details and a tooltip.
// Everything is plain DOM built here; text goes in as text, never as HTML.

import { BACKGROUND, cssGradient, viridis } from './colors.js';

const CSS = `
html, body { margin: 0; height: 100%; background: ${BACKGROUND}; color: #d8e4ff;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; overflow: hidden; }
#tm-root { position: fixed; inset: 0; }
#tm-root canvas { display: block; width: 100%; height: 100%; outline: none; }
.tm-box { position: absolute; background: rgba(8, 12, 28, 0.82); border: 1px solid #23406a;
  border-radius: 6px; padding: 8px 10px; }
#tm-panel { top: 10px; left: 10px; width: 250px; max-height: calc(100% - 40px); overflow: auto; }
#tm-panel h1 { font-size: 14px; margin: 0 0 4px; color: #00e6ff; font-weight: 600; word-break: break-all; }
#tm-panel label { display: flex; align-items: center; gap: 6px; margin: 5px 0; }
#tm-panel select, #tm-panel input[type=range] { flex: 1; min-width: 0; }
#tm-panel select, #tm-panel button, #tm-panel textarea, #tm-panel input { background: #101a36;
  color: #d8e4ff; border: 1px solid #2d4b7a; border-radius: 4px; font: inherit; }
#tm-panel button { padding: 3px 10px; cursor: pointer; }
#tm-panel textarea { width: 100%; box-sizing: border-box; height: 64px; font-family: ui-monospace, monospace; }
.tm-note { color: #ffcc66; margin: 4px 0; }
.tm-dim { color: #8fa3c8; }
#tm-legend { left: 10px; bottom: 28px; min-width: 170px; max-width: 260px; }
#tm-legend .sw { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
#tm-legend .bar { height: 10px; border-radius: 3px; margin: 4px 0; }
#tm-info { right: 10px; bottom: 28px; min-width: 200px; max-width: 360px; white-space: pre-wrap;
  font-family: ui-monospace, monospace; font-size: 12px; }
#tm-tip { position: absolute; pointer-events: none; background: rgba(0, 0, 0, 0.85); color: #fff;
  padding: 2px 6px; border-radius: 4px; font-size: 12px; white-space: nowrap; display: none; }
#tm-help { position: absolute; left: 0; right: 0; bottom: 4px; text-align: center; color: #6f84ad; font-size: 11px; pointer-events: none; }
#tm-error { top: 50%; left: 50%; transform: translate(-50%, -50%); color: #ff8080; max-width: 70%; }
#tm-maps a { color: #00e6ff; display: block; margin: 3px 0; }
`;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'hidden') e.hidden = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function num(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'NULL';
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(4) : String(+v.toPrecision(7));
}

export class Ui {
  /** `root`: the container; `h`: handlers ({color, liquid, glow, lines, slice, reset, query, token}). */
  constructor(root, h) {
    const style = document.createElement('style');
    style.textContent = CSS;
    document.head.append(style);
    this.root = root;
    this.h = h;
    this.panel = el('div', { id: 'tm-panel', class: 'tm-box' });
    this.legend = el('div', { id: 'tm-legend', class: 'tm-box', hidden: true });
    this.info = el('div', { id: 'tm-info', class: 'tm-box', hidden: true });
    this.tip = el('div', { id: 'tm-tip' });
    this.error = el('div', { id: 'tm-error', class: 'tm-box', hidden: true });
    const help = el('div', {
      id: 'tm-help',
      text: 'drag: orbit · right-drag or shift-drag: pan · wheel: zoom · R: reset view · click: keep the details',
    });
    root.append(this.panel, this.legend, this.info, this.tip, this.error, help);
  }

  /** Fills the panel. `o`: {title, colorChoices: [[value, label]], colorBy, liquid,
   * reducedMotion, hasField, glow, lines, slice: {axis, index, resolution}, served}. */
  build(o) {
    const p = this.panel;
    p.replaceChildren();
    p.append(el('h1', { text: o.title }));
    this.counts = el('div', { id: 'tm-count' });
    this.sampled = el('div', { id: 'tm-sampled', class: 'tm-note', hidden: true });
    p.append(this.counts, this.sampled);

    const color = el('select', { id: 'tm-color', 'aria-label': 'colour by' });
    for (const [value, label] of o.colorChoices) color.append(el('option', { value, text: label }));
    color.value = o.colorBy;
    color.addEventListener('change', () => this.h.color(color.value));
    p.append(el('label', {}, 'Colour by', color));

    // Handlers are looked up when called: the page sets them after building the panel.
    const toggle = (id, label, on, handler) => {
      const box = el('input', { type: 'checkbox', id });
      box.checked = on;
      box.addEventListener('change', () => this.h[handler](box.checked));
      p.append(el('label', {}, box, label));
      return box;
    };
    this.liquid = toggle('tm-liquid', 'liquid effect', o.liquid, 'liquid');
    if (o.reducedMotion) {
      p.append(el('div', { class: 'tm-dim', text: 'Reduced motion is on: the liquid effect waits for this switch.' }));
    }
    if (o.hasField) {
      toggle('tm-glow', 'field glow', o.glow, 'glow');
      toggle('tm-lines', 'field lines (gradient)', o.lines, 'lines');
      const axis = el('select', { id: 'tm-slice-axis', 'aria-label': 'slice axis' });
      for (const a of ['none', 'x', 'y', 'z']) axis.append(el('option', { value: a, text: a }));
      axis.value = o.slice.axis || 'none';
      const slider = el('input', {
        type: 'range',
        id: 'tm-slice',
        min: 0,
        max: o.slice.resolution - 1,
        step: 1,
        'aria-label': 'slice position',
      });
      slider.value = o.slice.index;
      this.sliceAt = el('span', { id: 'tm-slice-at', class: 'tm-dim' });
      const changed = () => this.h.slice(axis.value === 'none' ? null : axis.value, +slider.value);
      axis.addEventListener('change', changed);
      slider.addEventListener('input', changed);
      p.append(el('label', {}, 'Slice', axis), el('label', {}, slider, this.sliceAt));
    } else {
      p.append(el('div', { class: 'tm-dim', text: 'No voxel field in this view.' }));
    }
    const reset = el('button', { id: 'tm-reset', type: 'button', text: 'Reset view' });
    reset.addEventListener('click', () => this.h.reset());
    p.append(el('div', {}, reset));

    if (o.served) {
      const text = el('textarea', { id: 'tm-sql', spellcheck: 'false', 'aria-label': 'TensorQL' });
      text.value = o.served.example;
      const run = el('button', { type: 'submit', text: 'Run' });
      this.queryStatus = el('div', { id: 'tm-query-status', class: 'tm-dim' });
      // What ASK wrote for a question in plain language.
      this.queryStatement = el('code', { id: 'tm-query-statement' });
      this.queryStatement.hidden = true;
      const form = el(
        'form',
        { id: 'tm-query' },
        el('div', { text: 'TensorQL or a question (results are ringed):' }),
        text,
        run,
      );
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        this.h.query(text.value);
      });
      p.append(form, this.queryStatement, this.queryStatus);
    }
  }

  /** The token field, shown when the server asks for one. */
  askToken(message) {
    if (!this.tokenForm) {
      const input = el('input', { type: 'password', id: 'tm-token', autocomplete: 'off', 'aria-label': 'bearer token' });
      const go = el('button', { type: 'submit', text: 'Use token' });
      this.tokenNote = el('div', { class: 'tm-note' });
      this.tokenForm = el('form', { class: 'tm-box', style: 'top: 10px; right: 10px;' },
        this.tokenNote, el('label', {}, 'Token', input), go,
        el('div', { class: 'tm-dim', text: 'Kept in this tab only (sessionStorage).' }));
      this.tokenForm.addEventListener('submit', (e) => {
        e.preventDefault();
        this.tokenForm.hidden = true;
        this.h.token(input.value.trim());
      });
      this.root.append(this.tokenForm);
    }
    this.tokenNote.textContent = message;
    this.tokenForm.hidden = false;
  }

  setCounts(count, drawn, sampledOf) {
    this.counts.textContent = `${count.toLocaleString('en')} objects · ${drawn.toLocaleString('en')} drawn`;
    if (sampledOf) {
      this.sampled.hidden = false;
      this.sampled.textContent = `Sampled: this view holds ${sampledOf.toLocaleString('en')} of the ${count.toLocaleString('en')} objects of the result.`;
    }
  }

  setSliceLabel(text) {
    if (this.sliceAt) this.sliceAt.textContent = text;
  }

  setLiquid(on) {
    this.liquid.checked = on;
  }

  /** Legend: {kind: 'types', items: [[name, css, count]], more} or {kind: 'scale', title, min, max}. */
  setLegend(model) {
    const l = this.legend;
    l.replaceChildren();
    if (!model) {
      l.hidden = true;
      return;
    }
    l.hidden = false;
    if (model.kind === 'types') {
      l.append(el('div', { class: 'tm-dim', text: 'type' }));
      for (const [name, css, count] of model.items) {
        const sw = el('span', { class: 'sw', style: `background:${css}` });
        l.append(el('div', {}, sw, `${name}`, el('span', { class: 'tm-dim', text: count ? `  ${count.toLocaleString('en')}` : '' })));
      }
      if (model.more) l.append(el('div', { class: 'tm-dim', text: `+ ${model.more} more types` }));
    } else {
      l.append(el('div', { class: 'tm-dim', text: model.title }));
      l.append(el('div', { class: 'bar', style: `background:${cssGradient(viridis)}` }));
      l.append(el('div', { style: 'display:flex;justify-content:space-between;gap:12px' },
        el('span', { text: num(model.min) }), el('span', { text: num(model.max) })));
    }
  }

  /** The details of an object (or none). */
  showInfo(row, pinned) {
    if (!row) {
      this.info.hidden = true;
      return;
    }
    const lines = [
      `id: ${row.id}`,
      `type: ${row.type}`,
      `position: [${row.position.map(num).join(', ')}]`,
      `confidence: ${num(row.confidence)}`,
      ...row.columns.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : num(v)}`),
    ];
    if (pinned) lines.push('(kept: click elsewhere to let go)');
    this.info.textContent = lines.join('\n');
    this.info.hidden = false;
  }

  showTip(x, y, text) {
    if (!text) {
      this.tip.style.display = 'none';
      return;
    }
    this.tip.textContent = text;
    this.tip.style.left = `${x + 14}px`;
    this.tip.style.top = `${y + 14}px`;
    this.tip.style.display = 'block';
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
  }

  setQueryStatus(text) {
    if (this.queryStatus) this.queryStatus.textContent = text;
  }

  /** Shows the statement ASK wrote (hidden when empty). */
  setQueryStatement(statement) {
    if (!this.queryStatement) return;
    this.queryStatement.textContent = statement ? `ASK → ${statement}` : '';
    this.queryStatement.hidden = !statement;
  }

  /** The served viewer's list of maps. */
  showMaps(maps, base) {
    const list = el('div', { id: 'tm-maps' });
    for (const m of maps) {
      const a = el('a', { href: `${base}/${encodeURIComponent(m.name)}`, text: m.name });
      list.append(el('div', {}, a, el('span', { class: 'tm-dim', text: m.objects !== undefined ? ` ${m.objects} objects` : '' })));
    }
    if (!maps.length) list.append(el('div', { class: 'tm-dim', text: 'The database has no maps yet.' }));
    this.panel.replaceChildren(el('h1', { text: 'tensormap · maps' }), list);
  }
}
