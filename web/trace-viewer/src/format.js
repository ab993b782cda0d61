// Time formatting. Times are integer microseconds.

// Three significant digits, in the unit that suits: `1.20 s`, `350 ms`, `800 µs`.
export function duration(us) {
  const a = Math.abs(us);
  if (a >= 1e6) return sig(us / 1e6) + ' s';
  if (a >= 1e3) return sig(us / 1e3) + ' ms';
  return sig(us) + ' µs';
}

function sig(v) {
  const a = Math.abs(v);
  if (a >= 100) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1);
  if (a === 0) return '0';
  return v.toFixed(2);
}

// The list's time column: milliseconds with three decimals, `+12.345 ms`.
export function relMs(us) {
  return (us < 0 ? '-' : '+') + (Math.abs(us) / 1e3).toFixed(3) + ' ms';
}

// A precise relative time for the tooltip: `+1.234567 s`.
export function relPrecise(us) {
  const a = Math.abs(us);
  const s = (us < 0 ? '-' : '+');
  if (a >= 1e6) return s + (a / 1e6).toFixed(6) + ' s';
  if (a >= 1e3) return s + (a / 1e3).toFixed(3) + ' ms';
  return s + a + ' µs';
}

// Wall-clock time of a record, from the trace's start (unix µs), local time.
export function clock(unixUs, us) {
  if (typeof unixUs !== 'number' || !isFinite(unixUs) || unixUs <= 0) return '';
  const total = unixUs + us;
  const d = new Date(Math.floor(total / 1000));
  const p = (n, w) => String(n).padStart(w, '0');
  const micro = ((total % 1e6) + 1e6) % 1e6;
  return d.getFullYear() + '-' + p(d.getMonth() + 1, 2) + '-' + p(d.getDate(), 2) + ' ' +
    p(d.getHours(), 2) + ':' + p(d.getMinutes(), 2) + ':' + p(d.getSeconds(), 2) + '.' + p(Math.floor(micro), 6);
}

// Axis ticks: the unit follows the largest tick, the decimals follow the step.
export function tickFormatter(ticks) {
  if (ticks.length === 0) return () => '';
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  let maxAbs = 0;
  for (const t of ticks) maxAbs = Math.max(maxAbs, Math.abs(t));
  let unit = 1, name = 'µs';
  if (maxAbs >= 1e6) { unit = 1e6; name = 's'; } else if (maxAbs >= 1e3) { unit = 1e3; name = 'ms'; }
  let dec = 0;
  const r = step / unit;
  if (r > 0 && r < 1) dec = Math.min(6, Math.ceil(-Math.log10(r) - 1e-9));
  return (t) => (t === 0 ? '0' : (t / unit).toFixed(dec)) + ' ' + name;
}
