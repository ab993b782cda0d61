// The list: a virtualised scroller of the rows of the visible lanes, with gap separators.
import { COLOURS, inkOn } from './colours.js';
import { duration, relMs } from './format.js';

export const ROW_H = 22;
const GAP_US = 100000; // a separator between rows 100 ms or more apart
const OVERSCAN = 20;
const ARROWS = { '>': '→', '<': '←', '*': '•' };
const INK = {};
for (const k in COLOURS) INK[k] = inkOn(COLOURS[k]);

export function createList(app, host) {
  const { store } = app;
  const head = document.createElement('div');
  head.className = 'ubx-listhead';
  for (const [c, t] of [['t', 'time'], ['lane', 'lane'], ['who', 'who'], ['arrow', ''], ['chip', 'label'], ['x', 'text']]) {
    const s = document.createElement('span');
    s.className = c;
    s.textContent = t;
    head.appendChild(s);
  }
  const el = document.createElement('div');
  el.id = 'list';
  el.tabIndex = 0;
  const spacer = document.createElement('div');
  spacer.className = 'ubx-spacer';
  const layer = document.createElement('div');
  layer.className = 'ubx-layer';
  el.appendChild(spacer);
  el.appendChild(layer);
  host.appendChild(head);
  host.appendChild(el);

  let items = [];              // i >= 0: row i; -(i + 1): the gap before row i
  let posOf = new Int32Array(0); // row -> item index, or -1
  let shown = 0;
  let timeChars = 0;
  let charW = 0;
  function charWidth() { // of the time column's font
    if (!charW) {
      const probe = document.createElement('span');
      probe.className = 't';
      probe.style.cssText = 'position:absolute;visibility:hidden;width:auto';
      probe.textContent = '0000000000';
      el.appendChild(probe);
      charW = probe.getBoundingClientRect().width / 10 || 7.3;
      probe.remove();
    }
    return charW;
  }

  function rebuild() {
    const { T, L } = store;
    const n = store.count();
    items = [];
    posOf = new Int32Array(n).fill(-1);
    let prev = -1;
    shown = 0;
    for (let i = 0; i < n; i++) {
      if (!app.visible[L[i]]) continue;
      if (prev >= 0 && T[i] - T[prev] >= GAP_US) items.push(-(i + 1));
      posOf[i] = items.length;
      items.push(i);
      prev = i;
      shown++;
    }
    spacer.style.height = items.length * ROW_H + 'px';
    dirty = true;
    // the time column fits the longest time
    const chars = Math.max(11, relMs(n ? store.T[n - 1] - store.T[0] : 0).length);
    if (chars !== timeChars) {
      timeChars = chars;
      host.style.setProperty('--tw', Math.ceil(chars * charWidth() + 4) + 'px');
    }
  }

  function prevShown(i) {
    const { L } = store;
    for (let j = i - 1; j >= 0; j--) if (app.visible[L[j]]) return j;
    return -1;
  }

  function makeRow(i, k, origin) {
    const r = store.rows[i];
    const kind = COLOURS[r[3]] ? r[3] : 'other';
    const d = document.createElement('div');
    let cls = 'row';
    if (app.matchFlags[i]) cls += ' match';
    if (i === app.sel) cls += ' sel';
    d.className = cls;
    d.dataset.i = i;
    d.dataset.lane = r[2];
    d.dataset.kind = r[3];
    d.style.top = k * ROW_H + 'px';
    const t = span('t', relMs(r[0] - origin));
    const lane = span('lane', r[2]);
    const who = span('who', r[4]);
    const ar = span('arrow', ARROWS[r[5]] || r[5]);
    const chip = span('chip', r[6] || r[3]);
    chip.style.background = COLOURS[kind];
    chip.style.color = INK[kind];
    const x = span('x', r[7]);
    d.append(t, lane, who, ar, chip, x);
    return d;
  }

  function makeGap(i, k) {
    const p = prevShown(i);
    const d = document.createElement('div');
    d.className = 'gap';
    d.style.top = k * ROW_H + 'px';
    const s = span('g', p >= 0 ? duration(store.T[i] - store.T[p]) : '');
    d.appendChild(s);
    return d;
  }

  // Only the items in view (and a few around) are in the DOM. Elements are kept while they stay
  // in view (a double click needs the same element twice); selection and matches only change classes.
  let live = new Map(); // item index -> element
  let dirty = true;
  function render() {
    const h = el.clientHeight || 400;
    const a = Math.max(0, Math.floor(el.scrollTop / ROW_H) - OVERSCAN);
    const b = Math.min(items.length, Math.ceil((el.scrollTop + h) / ROW_H) + OVERSCAN);
    const origin = store.first();
    if (dirty) { live = new Map(); layer.replaceChildren(); dirty = false; }
    const next = new Map();
    for (let k = a; k < b; k++) {
      const v = items[k];
      let d = live.get(k);
      if (d) live.delete(k);
      else {
        d = v >= 0 ? makeRow(v, k, origin) : makeGap(-v - 1, k);
        layer.appendChild(d);
      }
      if (v >= 0) {
        const cls = 'row' + (app.matchFlags[v] ? ' match' : '') + (v === app.sel ? ' sel' : '');
        if (d.className !== cls) d.className = cls;
      }
      next.set(k, d);
    }
    for (const d of live.values()) d.remove();
    live = next;
  }

  // Bring row i into view: 'centre' always centres it; 'near' only scrolls if it is out of view.
  function scrollTo(i, mode = 'near') {
    const k = i >= 0 && i < posOf.length ? posOf[i] : -1;
    if (k < 0) { render(); return; }
    const h = el.clientHeight || 400;
    const top = k * ROW_H;
    if (mode === 'centre' || top < el.scrollTop || top + ROW_H > el.scrollTop + h) {
      el.scrollTop = Math.max(0, top - (h - ROW_H) / 2);
    }
    render();
  }

  function scrollToEnd() {
    el.scrollTop = el.scrollHeight;
    render();
  }

  el.addEventListener('scroll', render, { passive: true });
  el.addEventListener('wheel', (e) => { if (e.deltaY < 0) app.unfollow(); }, { passive: true });
  el.addEventListener('click', (e) => {
    const r = e.target.closest('.row');
    if (r) app.select(+r.dataset.i, { list: false, timeline: 'centre' });
  });
  el.addEventListener('dblclick', (e) => {
    const r = e.target.closest('.row');
    if (r) app.zoomAround(+r.dataset.i);
  });

  return {
    el, rebuild, render, scrollTo, scrollToEnd,
    shownCount: () => shown,
    // the shown row after (dir 1) or before (dir -1) row i
    step(i, dir) {
      const { L } = store;
      const n = store.count();
      for (let j = i + dir; j >= 0 && j < n; j += dir) if (app.visible[L[j]]) return j;
      return -1;
    },
  };
}

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text == null ? '' : String(text);
  return s;
}
