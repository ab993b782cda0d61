// The records, sorted by t, with parallel arrays for the hot loops.
import { bisectLeft, bisectRight } from 'd3-array';
import { KINDS } from './colours.js';

export const LANES = ['host', 'module', 'network', 'field'];
const LANE_INDEX = new Map(LANES.map((l, i) => [l, i]));
const KIND_INDEX = new Map(KINDS.map((k, i) => [k, i]));
const OTHER = KIND_INDEX.get('other');
const FIELD = LANE_INDEX.get('field');

function rowKey(r) {
  const k = [];
  for (let j = 1; j < 8; j++) k.push(r[j] === undefined ? '' : r[j]);
  return JSON.stringify(k);
}

export function createStore() {
  const rows = []; // the row arrays as given: [t, m, lane, kind, who, arrow, label, text]
  const T = [];    // t
  const L = [];    // lane index
  const K = [];    // kind index
  let hay = [];    // lower-case search text, built on demand

  function normalise(r) {
    if (!Array.isArray(r)) return null;
    let t = r[0];
    if (typeof t !== 'number') {
      t = Number(t);
      r[0] = t;
    }
    if (!isFinite(t)) return null;
    for (let j = r.length; j < 8; j++) r[j] = '';
    return r;
  }

  // Adds rows (in any order); returns the positions at which rows were inserted before
  // the end, in insertion order (callers shift indices they hold), or null if all were appended.
  function add(batch) {
    let inserted = null;
    for (let r of batch) {
      r = normalise(r);
      if (!r) continue;
      const t = r[0];
      let lane = LANE_INDEX.get(r[2]);
      if (lane === undefined) lane = FIELD;
      let kind = KIND_INDEX.get(r[3]);
      if (kind === undefined) kind = OTHER;
      const n = T.length;
      if (n === 0 || t >= T[n - 1]) {
        rows.push(r); T.push(t); L.push(lane); K.push(kind);
      } else {
        const p = bisectRight(T, t);
        rows.splice(p, 0, r); T.splice(p, 0, t); L.splice(p, 0, lane); K.splice(p, 0, kind);
        if (hay.length > p) hay.splice(p, 0, undefined);
        (inserted || (inserted = [])).push(p);
      }
    }
    return inserted;
  }

  // Is an identical row already stored (a row sent again after a reconnection)?
  function has(r) {
    if (!Array.isArray(r)) return false;
    const t = Number(r[0]);
    const key = rowKey(r);
    for (let i = bisectLeft(T, t); i < T.length && T[i] === t; i++) {
      if (rowKey(rows[i]) === key) return true;
    }
    return false;
  }

  function text(i) {
    let h = hay[i];
    if (h === undefined) {
      const r = rows[i];
      h = hay[i] = (String(r[4]) + '\n' + String(r[6]) + '\n' + String(r[7])).toLowerCase();
    }
    return h;
  }

  return {
    rows, T, L, K, add, has, text,
    count: () => rows.length,
    first: () => (T.length ? T[0] : 0),
    last: () => (T.length ? T[T.length - 1] : 0),
    // index of the first row with t >= t0, and of the first row with t > t1
    lower: (t0) => bisectLeft(T, t0),
    upper: (t1) => bisectRight(T, t1),
  };
}
