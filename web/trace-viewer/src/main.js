// ubxftp trace viewer: the page `ubxftp trace view` writes and the control API serves at /view.
import { createStore, LANES } from './store.js';
import { COLOURS, KINDS, DESCRIPTIONS, inkOn } from './colours.js';
import { createTimeline } from './timeline.js';
import { createList } from './list.js';
import { startLive } from './live.js';
import { injectStyle } from './style.js';
import { clock, relPrecise } from './format.js';

function readConfig() {
  const el = document.getElementById('ubx-trace');
  if (!el) return {};
  try { return JSON.parse(el.textContent) || {}; } catch (e) { return {}; }
}

function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  if (props) {
    for (const k in props) {
      const v = props[k];
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k in e && typeof v !== 'string') e[k] = v;
      else e.setAttribute(k, v);
    }
  }
  for (const c of kids) if (c != null) e.append(c);
  return e;
}

const cfg = readConfig();
const store = createStore();
const api = {
  ready: false,
  firstPaintMs: null,
  lastSearchMs: 0,
};
window.ubxTrace = api;

const app = {
  store,
  visible: [true, true, true, true],
  sel: -1,
  matches: [],
  matchFlags: new Uint8Array(0),
  query: '',
  live: !!cfg.live,
  follow: !!cfg.live,
  unixUs: cfg.unix_us,
};

injectStyle();
const root = document.getElementById('app') || document.body.appendChild(h('div', { id: 'app' }));
root.replaceChildren();
document.title = 'ubxftp trace: ' + (cfg.title || (app.live ? 'live' : ''));

// top bar
const toolEl = h('span', { class: 'tool', text: cfg.tool || '' });
const searchEl = h('input', { id: 'search', type: 'search', placeholder: 'Search who, label, text', title: 'Enter: next match, Shift+Enter: previous', autocomplete: 'off', spellcheck: false });
const matchesEl = h('span', { id: 'matches' });
const statusEl = h('span', { id: 'status' });
const tokenEl = h('input', { id: 'token', type: 'password', placeholder: 'token', autocomplete: 'off' });
const connectEl = h('button', { id: 'connect', class: 'ubx-btn', type: 'button', text: 'Connect' });
const tokenBox = h('span', { class: 'ubx-token' }, tokenEl, connectEl);
const laneBoxes = LANES.map((l, j) => {
  const cb = h('input', { type: 'checkbox', checked: true, title: 'show the ' + l + ' lane' });
  cb.dataset.lane = l;
  cb.addEventListener('change', () => setLane(j, cb.checked));
  return h('label', null, cb, l);
});
let followEl = null;
const bar = h('header', { class: 'ubx-bar' },
  h('div', { class: 'ubx-title' }, h('h1', { text: cfg.title || (app.live ? 'live trace' : 'trace'), title: cfg.title || '' }), toolEl),
  h('div', { class: 'ubx-group' }, searchEl, matchesEl),
  h('div', { class: 'ubx-group' },
    h('button', { id: 'zoom-out', class: 'ubx-btn sq', type: 'button', title: 'zoom out (×½)', text: '−', onclick: () => timeline.zoomBy(0.5) }),
    h('button', { id: 'zoom-in', class: 'ubx-btn sq', type: 'button', title: 'zoom in (×2)', text: '+', onclick: () => timeline.zoomBy(2) }),
    h('button', { id: 'fit', class: 'ubx-btn', type: 'button', title: 'show everything', text: 'Fit', onclick: () => timeline.fit() })),
  h('div', { class: 'ubx-group ubx-lanes' }, ...laneBoxes));
if (app.live) {
  followEl = h('input', { id: 'follow', type: 'checkbox', checked: true });
  followEl.addEventListener('change', () => {
    app.follow = followEl.checked;
    if (app.follow) { timeline.update({ follow: true }); list.scrollToEnd(); }
  });
  bar.append(h('label', { class: 'ubx-follow', title: 'keep the newest record in view' }, followEl, 'follow'));
}
bar.append(statusEl, tokenBox);

const legend = h('div', { class: 'ubx-legend' }, ...KINDS.map((k) =>
  h('span', { title: DESCRIPTIONS[k] }, h('i', { style: 'background:' + COLOURS[k] }), k)));
const tlHost = h('div', { class: 'ubx-tl' });
const listHost = h('div', { class: 'ubx-listwrap' });
const tip = h('div', { id: 'tip', role: 'tooltip' });
root.append(bar, legend, tlHost, listHost);
document.body.appendChild(tip);

// behaviour
app.painted = () => {
  if (!api.ready) {
    api.firstPaintMs = performance.now();
    api.ready = true;
  }
};
// Following the newest record stops when the user looks somewhere: pans, selects, zooms to a range.
app.unfollow = () => {
  if (app.follow && followEl) { app.follow = false; followEl.checked = false; }
};

app.select = (i, opts = {}) => {
  const n = store.count();
  if (!(i >= 0 && i < n)) return;
  app.sel = i | 0;
  app.unfollow();
  const tm = opts.timeline === undefined ? 'reveal' : opts.timeline;
  const lm = opts.list === undefined ? 'near' : opts.list;
  if (tm === 'centre') timeline.centreOn(store.T[app.sel]);
  else if (tm === 'reveal') timeline.reveal(store.T[app.sel]);
  timeline.draw();
  if (lm) list.scrollTo(app.sel, lm); else list.render();
  showMatches();
};

app.zoomAround = (i) => {
  if (!(i >= 0 && i < store.count())) return;
  app.select(i, { list: false, timeline: false });
  const [v0, v1] = timeline.domain();
  const w = (v1 - v0) / 4;
  const t = store.T[i];
  timeline.setView(t - w / 2, t + w / 2);
};

function matchIndex(i) { // position of row i in matches, or -1
  const m = app.matches;
  let a = 0, b = m.length;
  while (a < b) { const mid = (a + b) >>> 1; if (m[mid] < i) a = mid + 1; else b = mid; }
  return a < m.length && m[a] === i ? a : -1;
}

function showMatches() {
  const n = app.matches.length;
  if (!app.query) { matchesEl.textContent = ''; matchesEl.className = ''; return; }
  if (!n) { matchesEl.textContent = 'no match'; matchesEl.className = 'none'; return; }
  const k = matchIndex(app.sel);
  matchesEl.textContent = (k >= 0 ? String(k + 1) : '–') + ' of ' + n;
  matchesEl.className = '';
}

// Finds the rows of the visible lanes whose who, label or text hold q (any case); then selects
// the first (selectFirst), or only redraws (show), or leaves the drawing to the caller.
function runSearch(q, selectFirst, show = true) {
  const t0 = performance.now();
  app.query = q;
  const needle = q.toLowerCase();
  const n = store.count();
  const m = [];
  const flags = new Uint8Array(n);
  if (needle) {
    const L = store.L, vis = app.visible;
    for (let i = 0; i < n; i++) {
      if (vis[L[i]] && store.text(i).includes(needle)) { m.push(i); flags[i] = 1; }
    }
  }
  app.matches = m;
  app.matchFlags = flags;
  if (selectFirst && m.length) app.select(m[0], { list: 'centre', timeline: 'reveal' });
  else if (show) { timeline.draw(); list.render(); showMatches(); }
  api.lastSearchMs = performance.now() - t0; // matching, the marks and the list
  return m.length;
}

function stepMatch(dir) {
  const m = app.matches;
  if (!m.length) return;
  let k = matchIndex(app.sel);
  if (k >= 0) k = (k + dir + m.length) % m.length;
  else {
    // the first match after (or before) the selection
    let a = 0, b = m.length;
    while (a < b) { const mid = (a + b) >>> 1; if (m[mid] < app.sel) a = mid + 1; else b = mid; }
    k = dir > 0 ? a % m.length : (a - 1 + m.length) % m.length;
  }
  app.select(m[k], { list: 'centre', timeline: 'reveal' });
}

searchEl.addEventListener('input', () => runSearch(searchEl.value, true));
searchEl.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') { e.preventDefault(); stepMatch(e.shiftKey ? -1 : 1); }
  else if (e.key === 'Escape') { searchEl.value = ''; runSearch('', false); }
});

function setLane(j, on) {
  app.visible[j] = !!on;
  list.rebuild();
  if (app.query) runSearch(app.query, false, false);
  timeline.update({ resize: true });
  if (app.sel >= 0) list.scrollTo(app.sel, 'near'); else list.render();
  showMatches();
}

app.showTip = (i, cx, cy) => {
  const r = store.rows[i];
  const kind = COLOURS[r[3]] ? r[3] : 'other';
  const chip = h('span', { class: 'chip', text: r[6] || r[3] });
  chip.style.background = COLOURS[kind];
  chip.style.color = inkOn(COLOURS[kind]);
  const when = relPrecise(r[0] - store.first());
  const wall = clock(app.unixUs, r[0]);
  tip.replaceChildren(
    h('div', { class: 'h' }, chip, r[4] ? h('span', { class: 'who', text: String(r[4]) }) : null,
      h('span', { class: 'meta', text: r[2] + ' · ' + r[3] + (r[1] !== '' && r[1] != null ? ' · module ' + r[1] : '') })),
    h('div', { class: 'time', text: when + (wall ? '  ·  ' + wall : '') }),
    r[7] !== '' ? h('pre', { text: String(r[7]) }) : null);
  tip.classList.add('on');
  const w = tip.offsetWidth, ht = tip.offsetHeight;
  let x = cx + 14, y = cy + 16;
  if (x + w > window.innerWidth - 8) x = Math.max(8, cx - w - 14);
  if (y + ht > window.innerHeight - 8) y = Math.max(8, cy - ht - 12);
  tip.style.left = x + 'px';
  tip.style.top = y + 'px';
};
app.hideTip = () => tip.classList.remove('on');

const timeline = createTimeline(app, tlHost);
const list = createList(app, listHost);

// rows
let pending = [];
let flushQueued = false;
let live = null;
function flush() {
  flushQueued = false;
  if (!pending.length) return;
  const batch = pending;
  pending = [];
  const ins = store.add(batch);
  if (ins && app.sel >= 0) for (const p of ins) if (p <= app.sel) app.sel++;
  list.rebuild();
  if (app.query) runSearch(app.query, false, false);
  timeline.update({ follow: app.follow });
  if (app.follow) list.scrollToEnd(); else list.render();
  showMatches();
  if (live) live.refresh();
}
function ingest(rows) {
  for (const r of rows) pending.push(r);
  if (!flushQueued) {
    flushQueued = true;
    requestAnimationFrame(flush);
    setTimeout(flush, 250); // rAF does not run in a hidden tab
  }
}

store.add(Array.isArray(cfg.rows) ? cfg.rows : []);
timeline.update({ resize: true, fit: true });
list.rebuild();
list.render();
if (app.follow) list.scrollToEnd();

// build the search text while the page is idle, so that the first search is as quick as the next
setTimeout(function warm(from) {
  const n = store.count();
  if (from >= n) return;
  const to = Math.min(n, from + 20000);
  for (let i = from; i < to; i++) store.text(i);
  setTimeout(() => warm(to), 0);
}, 0, 0);

window.addEventListener('resize', () => {
  timeline.update({ resize: true });
  list.render();
});

document.addEventListener('keydown', (e) => {
  const tag = e.target && e.target.tagName;
  if (tag === 'INPUT' || tag === 'TEXTAREA' || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === '/') { e.preventDefault(); searchEl.focus(); searchEl.select(); }
  else if (e.key === 'ArrowDown' || e.key === 'ArrowUp' || e.key === 'j' || e.key === 'k') {
    const dir = e.key === 'ArrowDown' || e.key === 'j' ? 1 : -1;
    const j = app.sel < 0 ? list.step(dir > 0 ? -1 : store.count(), dir) : list.step(app.sel, dir);
    if (j >= 0) { e.preventDefault(); app.select(j); }
  } else if (e.key === '+' || e.key === '=') timeline.zoomBy(2);
  else if (e.key === '-') timeline.zoomBy(0.5);
  else if (e.key === '0') timeline.fit();
});

// the test API
Object.assign(api, {
  count: () => store.count(),
  colours: Object.assign({}, COLOURS),
  lanes: () => timeline.lanes(),
  laneBox: (lane) => timeline.laneBox(lane),
  xOf: (t) => timeline.xOf(t),
  rowAt: (i) => store.rows[i],
  search: (q) => {
    searchEl.value = q == null ? '' : String(q);
    return runSearch(searchEl.value, true);
  },
  select: (i) => app.select(i),
  zoomTo: (t0, t1) => { app.unfollow(); timeline.setView(+t0, +t1); },
  fit: () => timeline.fit(),
  matches: () => app.matches.slice(),
  redraw: () => timeline.draw(),
  flush,
});

if (app.live) {
  live = startLive(cfg.live, {
    setStatus(text, state) { statusEl.textContent = text; statusEl.className = state || ''; },
    showToken(on, value) {
      tokenBox.classList.toggle('on', !!on);
      if (on) { if (value !== undefined) tokenEl.value = value; tokenEl.focus(); }
    },
    onHeader(o) {
      if (o.tool) toolEl.textContent = String(o.tool);
      if (typeof o.unix_us === 'number') app.unixUs = o.unix_us;
    },
    ingest,
    has: (r) => store.has(r),
    count: () => store.count() + pending.length,
  });
  const go = () => live.connectWith(tokenEl.value);
  connectEl.addEventListener('click', go);
  tokenEl.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); });
}
