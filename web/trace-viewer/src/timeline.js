// The timeline: four lanes on a <canvas>, a relative time axis, gaps, zoom and pan with d3-zoom.
import { scaleLinear } from 'd3-scale';
import { select } from 'd3-selection';
import { zoom, zoomIdentity } from 'd3-zoom';
import { COLOURS, KINDS } from './colours.js';
import { LANES } from './store.js';
import { duration, tickFormatter } from './format.js';

export const GUTTER = 76;    // lane names
const RPAD = 14;             // room on the right
const AXIS_H = 22;           // tick labels
const GAP_H = 18;            // gap brackets, under the axis
const TOP = AXIS_H + GAP_H;  // first lane
const LANE_H = 36;
const BOTTOM = 6;
const MARK_TOP = 9;          // a mark's padding in its lane (the search tick lives above it)
const MARK_BOT = 4;
const MARK_W = 3;            // CSS px
const MIN_GAP_PX = 48;
const MIN_SPAN_US = 10;      // deepest zoom: about 10 µs across the width
const NK = KINDS.length;
const KIND_FILL = KINDS.map((k) => COLOURS[k]);
// Drawing order where marks crowd: the background chatter first, what matters most on top.
const KIND_ORDER = ['other', 'module', 'term', 'data', 'answer', 'prompt', 'dialogue', 'net', 'field',
  'cmd', 'result', 'urc', 'link', 'fault'].map((k) => KINDS.indexOf(k));
const MATCH = '#f5c400';

export function createTimeline(app, host) {
  const { store } = app;
  const canvas = document.createElement('canvas');
  canvas.id = 'timeline';
  canvas.setAttribute('aria-label', 'timeline');
  host.appendChild(canvas);
  const ctx = canvas.getContext('2d');

  let W = 0, H = 0, dpr = 1;
  const base = scaleLinear();
  let transform = zoomIdentity;
  let cur = base.copy();
  const lastCol = new Float64Array(4 * NK);

  const zb = zoom().on('zoom', (e) => {
    transform = e.transform;
    cur = transform.rescaleX(base);
    draw();
    const se = e.sourceEvent;
    if (se && (se.type === 'mousemove' || se.type === 'touchmove' || se.type === 'pointermove')) app.unfollow();
  });
  const sel = select(canvas);
  sel.call(zb).on('dblclick.zoom', null);
  sel.on('dblclick.ubx', (e) => {
    const [x] = pointer(e);
    zb.scaleBy(sel, e.shiftKey ? 0.5 : 2, [x, 0]);
  });

  function pointer(e) {
    const r = canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  function vis() { return LANES.filter((l, j) => app.visible[j]); }
  function laneRow() { // lane index -> row on screen (or -1)
    const out = [-1, -1, -1, -1];
    let j = 0;
    for (let l = 0; l < 4; l++) if (app.visible[l]) out[l] = j++;
    return out;
  }

  function dataDomain() {
    if (!store.count()) return [0, 1e6];
    let lo = store.first(), hi = store.last();
    if (hi - lo < 1000) { // at least 1 ms across
      const c = (lo + hi) / 2;
      lo = c - 500; hi = c + 500;
    }
    const pad = (hi - lo) * 0.02;
    return [lo - pad, hi + pad];
  }

  function configure() {
    const [d0, d1] = base.domain();
    const maxK = Math.max(1, (d1 - d0) / MIN_SPAN_US);
    const ext = [[GUTTER, 0], [Math.max(GUTTER + 1, W - RPAD), Math.max(1, H)]];
    zb.scaleExtent([1, maxK]).extent(ext).translateExtent(ext);
  }

  function apply(t) {
    zb.transform(sel, t); // fires 'zoom' synchronously, which draws
  }

  // Show [v0, v1] (µs), within the zoom's bounds.
  function setView(v0, v1) {
    if (!(v1 > v0)) v1 = v0 + MIN_SPAN_US;
    const r0 = GUTTER, r1 = W - RPAD;
    const b0 = base(v0), b1 = base(v1);
    let k = (r1 - r0) / (b1 - b0);
    const [kmin, kmax] = zb.scaleExtent();
    let tx;
    if (k < kmin || k > kmax || !isFinite(k)) {
      k = Math.min(kmax, Math.max(kmin, isFinite(k) ? k : kmax));
      tx = (r0 + r1) / 2 - k * base((v0 + v1) / 2);
    } else tx = r0 - k * b0;
    const t = zb.constrain()(zoomIdentity.translate(tx, 0).scale(k), zb.extent().call(canvas), zb.translateExtent());
    apply(t);
  }

  function size() {
    const n = vis().length;
    W = Math.max(200, window.innerWidth || host.clientWidth); // the window's (no layout needed)
    H = TOP + n * LANE_H + BOTTOM;
    dpr = window.devicePixelRatio || 1;
    canvas.style.width = W + 'px';
    canvas.style.height = H + 'px';
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
    base.range([GUTTER, W - RPAD]);
  }

  // After the rows, the width or the lanes changed: keep what was shown (or follow the newest).
  function update(opts = {}) {
    const wasFit = transform.k <= 1 + 1e-9 && Math.abs(transform.x) < 1e-6;
    const [v0, v1] = cur.domain();
    if (opts.resize || !W) size();
    base.domain(dataDomain());
    configure();
    if (wasFit || opts.fit) apply(zoomIdentity);
    else if (opts.follow) {
      const end = base.domain()[1];
      setView(end - (v1 - v0), end);
    } else setView(v0, v1);
  }

  function laneBox(lane) {
    const j = laneRow()[typeof lane === 'number' ? lane : LANES.indexOf(lane)];
    if (j === undefined || j < 0) return null;
    return { y0: TOP + j * LANE_H, y1: TOP + (j + 1) * LANE_H };
  }

  function draw() {
    const n = store.count();
    const rowOf = laneRow();
    const nv = vis().length;
    const { T, L, K } = store;
    const x0 = GUTTER, x1 = W - RPAD;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, W, H);

    // lanes
    for (let l = 0; l < 4; l++) {
      const j = rowOf[l];
      if (j < 0) continue;
      const y0 = TOP + j * LANE_H;
      ctx.fillStyle = j % 2 ? '#f3f5f8' : '#fbfcfd';
      ctx.fillRect(0, y0, W, LANE_H);
    }
    ctx.fillStyle = '#d8dee4';
    for (let j = 0; j <= nv; j++) ctx.fillRect(0, TOP + j * LANE_H - (j === nv ? 1 : 0), W, 1);

    // axis, relative to the first row
    const origin = store.first();
    const [dv0, dv1] = cur.domain();
    const rel = scaleLinear().domain([dv0 - origin, dv1 - origin]).range(cur.range());
    const ticks = rel.ticks(Math.max(2, Math.floor((x1 - x0) / 110)));
    const fmt = tickFormatter(ticks);
    ctx.font = '11px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'center';
    for (const tk of ticks) {
      const x = Math.round(rel(tk)) + 0.5;
      if (x < x0 - 0.5 || x > x1 + 0.5) continue;
      ctx.fillStyle = '#eaeef2';
      ctx.fillRect(x - 0.5, TOP, 1, nv * LANE_H);
      ctx.fillStyle = '#8c959f';
      ctx.fillRect(x - 0.5, AXIS_H - 5, 1, 5);
      ctx.fillStyle = '#57606a';
      ctx.fillText(fmt(tk), x, 14);
    }
    ctx.fillStyle = '#d0d7de';
    ctx.fillRect(x0, AXIS_H - 1, x1 - x0, 1);

    // The scale as plain arithmetic for the loops over rows, the very operations d3's linear
    // scale does (so a mark starts exactly at the pixel of xOf(t))
    const [rr0, rr1] = cur.range();
    const dd = dv1 - dv0;
    const X = (t) => { const u = (t - dv0) / dd; return rr0 * (1 - u) + rr1 * u; };
    const lo = n ? Math.max(0, store.lower(cur.invert(x0 - 3)) - 1) : 0;
    const hi = n ? Math.min(n, store.upper(cur.invert(x1 + 3)) + 1) : 0;

    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, 0, x1 - x0 + RPAD, H);
    ctx.clip();

    // gaps between consecutive rows of the visible lanes
    ctx.font = '10px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
    const gy = AXIS_H + 9;
    let px = null, prevI = 0;
    for (let i = lo; i < hi; i++) {
      if (rowOf[L[i]] < 0) continue;
      const x = X(T[i]);
      if (px !== null && x - px >= MIN_GAP_PX) drawGap(px, x, T[i] - T[prevI], gy);
      px = x; prevI = i;
    }

    // the selected row: a line across all lanes, under the marks
    const s = app.sel;
    if (s >= 0 && s < n && rowOf[L[s]] >= 0) {
      const x = Math.floor(X(T[s]) * dpr) / dpr + MARK_W / 2;
      ctx.fillStyle = 'rgba(9,105,218,0.16)';
      ctx.fillRect(x - 4, TOP, 8, nv * LANE_H);
      ctx.fillStyle = '#0969da';
      ctx.fillRect(x - 0.75, AXIS_H, 1.5, H - AXIS_H - BOTTOM);
      ctx.beginPath();
      ctx.moveTo(x - 5, AXIS_H); ctx.lineTo(x + 5, AXIS_H); ctx.lineTo(x, AXIS_H + 6); ctx.closePath();
      ctx.fill();
    }

    // marks, one path per kind; a mark on the same pixel column as the previous one of its
    // lane and kind is skipped
    lastCol.fill(-1e9);
    const paths = [];
    for (let k = 0; k < NK; k++) paths.push(null);
    for (let i = lo; i < hi; i++) {
      const l = L[i];
      const j = rowOf[l];
      if (j < 0) continue;
      const k = K[i];
      const col = Math.floor(X(T[i]) * dpr); // the device pixel where the mark starts
      const slot = l * NK + k;
      if (lastCol[slot] === col) continue;
      lastCol[slot] = col;
      let p = paths[k];
      if (!p) p = paths[k] = [];
      p.push(col / dpr, j);
    }
    // A mark starts on the pixel of its time and is MARK_W wide, on whole device pixels: crisp,
    // and the pixels at xOf(t) and xOf(t) + 1 are exactly its kind's colour.
    const mw = Math.ceil(MARK_W * dpr) / dpr;
    const mh = LANE_H - MARK_TOP - MARK_BOT;
    for (const k of KIND_ORDER) {
      const p = paths[k];
      if (!p) continue;
      ctx.fillStyle = KIND_FILL[k];
      ctx.beginPath();
      for (let q = 0; q < p.length; q += 2) ctx.rect(p[q], TOP + p[q + 1] * LANE_H + MARK_TOP, mw, mh);
      ctx.fill();
    }

    // search matches: a yellow tick above the mark
    const m = app.matches;
    if (m.length) {
      ctx.fillStyle = MATCH;
      ctx.beginPath();
      let a = lowerIndex(m, lo);
      let last = -1e9, lastJ = -1;
      for (; a < m.length && m[a] < hi; a++) {
        const i = m[a];
        const j = rowOf[L[i]];
        if (j < 0) continue;
        const col = Math.floor(X(T[i]) * dpr);
        if (col === last && j === lastJ) continue;
        last = col; lastJ = j;
        ctx.rect(col / dpr - 0.5, TOP + j * LANE_H + 2, mw + 1, 5);
      }
      ctx.fill();
    }
    ctx.restore();

    // lane names
    ctx.font = '600 12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    for (let l = 0; l < 4; l++) {
      const j = rowOf[l];
      if (j < 0) continue;
      const y0 = TOP + j * LANE_H;
      ctx.fillStyle = j % 2 ? '#eceff3' : '#f4f6f8';
      ctx.fillRect(0, y0 + (j ? 0 : 1), GUTTER - 1, LANE_H - 1);
      ctx.fillStyle = '#424a53';
      ctx.fillText(LANES[l], 10, y0 + LANE_H / 2 + 1);
    }
    ctx.fillStyle = '#d0d7de';
    ctx.fillRect(GUTTER - 1, TOP, 1, nv * LANE_H);

    if (!n) {
      ctx.fillStyle = '#8c959f';
      ctx.textAlign = 'center';
      ctx.font = '13px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
      ctx.fillText(app.live ? 'waiting for records…' : 'no records', (x0 + x1) / 2, TOP + (nv * LANE_H) / 2);
    }
    app.painted();
  }
  function drawGap(xa, xb, us, y) {
    const a = xa + 3, b = xb - 3;
    const label = duration(us);
    const tw = ctx.measureText(label).width;
    const c = (a + b) / 2;
    ctx.fillStyle = '#afb8c1';
    ctx.fillRect(a, y - 4, 1, 8);
    ctx.fillRect(b - 1, y - 4, 1, 8);
    if (tw + 12 < b - a) {
      ctx.fillRect(a, y, c - tw / 2 - 4 - a, 1);
      ctx.fillRect(c + tw / 2 + 4, y, b - (c + tw / 2 + 4), 1);
      ctx.fillStyle = '#57606a';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(label, c, y + 1);
    } else ctx.fillRect(a, y, b - a, 1);
  }

  // nearest visible mark to (x, y) within `within` px; in the lane under y if y is in a lane
  function nearest(x, y, within = 6) {
    const n = store.count();
    if (!n) return -1;
    const rowOf = laneRow();
    let lane = -1;
    if (y !== undefined && y >= TOP) {
      const j = Math.floor((y - TOP) / LANE_H);
      lane = rowOf.indexOf(j);
    }
    const { T, L } = store;
    const a = store.lower(cur.invert(x - within)), b = store.upper(cur.invert(x + within));
    let best = -1, bd = within + 1e-9;
    for (let i = a; i < b; i++) {
      if (rowOf[L[i]] < 0 || (lane >= 0 && L[i] !== lane)) continue;
      const d = Math.abs(cur(T[i]) - x);
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }

  // tooltip and clicks
  sel.on('mousemove.ubx', (e) => {
    const [x, y] = pointer(e);
    const i = x >= GUTTER && y >= TOP ? nearest(x, y) : -1;
    if (i >= 0) { app.showTip(i, e.clientX, e.clientY); canvas.style.cursor = 'pointer'; }
    else { app.hideTip(); canvas.style.cursor = ''; }
  });
  sel.on('mouseleave.ubx', () => app.hideTip());
  sel.on('click.ubx', (e) => {
    if (e.defaultPrevented) return;
    const [x, y] = pointer(e);
    if (x < GUTTER) return;
    const i = nearest(x, y);
    if (i >= 0) app.select(i, { list: 'centre', timeline: false });
  });

  return {
    canvas, draw, update, laneBox, nearest,
    lanes: vis,
    xOf: (t) => cur(t),
    domain: () => cur.domain(),
    setView,
    fit: () => apply(zoomIdentity),
    zoomBy: (f) => zb.scaleBy(sel, f, [(GUTTER + W - RPAD) / 2, 0]),
    centreOn(t) {
      const [v0, v1] = cur.domain();
      const w = v1 - v0;
      setView(t - w / 2, t + w / 2);
    },
    reveal(t) {
      const [v0, v1] = cur.domain();
      const m = (v1 - v0) * 0.02;
      if (t < v0 + m || t > v1 - m) this.centreOn(t);
    },
  };
}

function lowerIndex(arr, v) {
  let a = 0, b = arr.length;
  while (a < b) { const mid = (a + b) >>> 1; if (arr[mid] < v) a = mid + 1; else b = mid; }
  return a;
}
