// Live mode: follow the control API's NDJSON stream of rows, reconnecting after 2 s.
const KEY = 'ubxftp-trace-token';
const RETRY_MS = 2000;

export function readToken() {
  let token = '';
  const hash = location.hash.replace(/^#/, '');
  const params = new URLSearchParams(hash);
  if (params.has('token')) {
    token = params.get('token') || '';
    try { sessionStorage.setItem(KEY, token); } catch (e) { /* storage may be off */ }
    try { history.replaceState(null, '', location.pathname + location.search); } catch (e) { /* file: */ }
  } else {
    try { token = sessionStorage.getItem(KEY) || ''; } catch (e) { token = ''; }
  }
  return token;
}

// ui: { setStatus(text, state), showToken(on, value), onHeader(obj), ingest(rows), has(row), count() }
export function startLive(live, ui) {
  let token = readToken();
  let since = Number(live.since) || 0;
  let lastT = since;
  let gen = 0;
  let timer = 0;
  let ctrl = null;
  let connected = false;

  function url() {
    const u = String(live.url || '/trace/rows');
    return u + (u.includes('?') ? '&' : '?') + 'since=' + encodeURIComponent(since) + '&follow=1';
  }

  function retry(g, why, state) {
    connected = false;
    if (g !== gen) return;
    ui.setStatus(why + ' · retrying in 2 s', state);
    clearTimeout(timer);
    timer = setTimeout(() => { if (g === gen) connect(); }, RETRY_MS);
  }

  async function connect() {
    const g = ++gen;
    clearTimeout(timer);
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    since = lastT;
    const connSince = since;
    const check = ui.count() > 0; // rows at t <= since may come again: drop those already held
    ui.setStatus('connecting…', 'warn');
    let res;
    try {
      const headers = token ? { Authorization: 'Bearer ' + token } : {};
      res = await fetch(url(), { headers, cache: 'no-store', signal: ctrl.signal });
    } catch (e) {
      if (g === gen) retry(g, 'cannot connect', 'err');
      return;
    }
    if (g !== gen) return;
    if (res.status === 401 || res.status === 403) {
      ui.setStatus('unauthorised: enter the token', 'err');
      ui.showToken(true, token);
      return;
    }
    if (!res.ok || !res.body) {
      retry(g, 'HTTP ' + res.status, 'err');
      return;
    }
    ui.showToken(false);
    connected = true;
    refresh();
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const lines = (text) => {
      const parts = text.split('\n');
      buf = parts.pop();
      const rows = [];
      for (let line of parts) {
        line = line.trim();
        if (!line) continue;
        let v;
        try { v = JSON.parse(line); } catch (e) { continue; }
        if (Array.isArray(v)) {
          const t = Number(v[0]);
          if (!isFinite(t)) continue;
          if (check && t <= connSince && ui.has(v)) continue;
          if (t > lastT) lastT = t;
          rows.push(v);
        } else if (v && typeof v === 'object') ui.onHeader(v);
      }
      if (rows.length) ui.ingest(rows);
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (g !== gen) { try { reader.cancel(); } catch (e) { /* gone */ } return; }
        if (done) break;
        lines(buf + dec.decode(value, { stream: true }));
      }
      lines(buf + dec.decode() + '\n');
      retry(g, 'stream ended', 'warn');
    } catch (e) {
      if (g === gen) retry(g, 'connection lost', 'err');
    }
  }

  function refresh() {
    if (connected) ui.setStatus('live · ' + ui.count().toLocaleString('en-US') + ' records', 'ok');
  }

  connect();
  return {
    refresh,
    connectWith(t) {
      token = String(t || '').trim();
      try { sessionStorage.setItem(KEY, token); } catch (e) { /* storage may be off */ }
      connect();
    },
  };
}
