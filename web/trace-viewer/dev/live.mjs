// A stand-in for the control API's live trace, for trying the viewer's live mode by hand:
//   node dev/live.mjs [PORT] [TOKEN]    then open http://127.0.0.1:PORT/view#token=TOKEN
// Serves /view (the page, "rows":[] and "live":{"url":"/trace/rows","since":0}) and
// /trace/rows?since=T&follow=1 (NDJSON: a header, then synthetic rows as their time comes, now
// and then one out of order). Each stream ends after 20 s so that reconnection is exercised.
// Listens on 127.0.0.1 only; stops by itself after 10 minutes.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthRows, page } from './synth.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(process.argv[2] || 8765);
const token = process.argv[3] || '';
const bundle = readFileSync(resolve(here, '../../../crates/ubxftp/assets/trace-viewer.js'), 'utf8');
const rows = synthRows(20000, 7);
// swap a few neighbours so that some rows arrive with an earlier t than the one before
for (let i = 50; i + 1 < rows.length; i += 97) [rows[i], rows[i + 1]] = [rows[i + 1], rows[i]];
const start = Date.now();
const header = { tool: 'ubxftp 0.1.0 (dev/live.mjs)', unix_us: start * 1000 };

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/view' || url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page('live', { title: 'live', tool: header.tool, unix_us: header.unix_us, rows: [], live: { url: '/trace/rows', since: 0 } }, bundle));
    return;
  }
  if (url.pathname !== '/trace/rows') { res.writeHead(404); res.end(); return; }
  if (token && req.headers.authorization !== 'Bearer ' + token) { res.writeHead(401); res.end('unauthorised\n'); return; }
  const since = Number(url.searchParams.get('since') || 0);
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.write(JSON.stringify(header) + '\n');
  let next = 0;
  const pump = () => {
    const now = (Date.now() - start) * 1000;
    let out = '';
    while (next < rows.length && rows[next][0] <= now) {
      if (rows[next][0] >= since) out += JSON.stringify(rows[next]) + '\n';
      next++;
    }
    if (out) res.write(out);
  };
  pump();
  const timer = setInterval(pump, 100);
  const end = setTimeout(() => { clearInterval(timer); res.end(); }, 20000);
  req.on('close', () => { clearInterval(timer); clearTimeout(end); });
});
server.listen(port, '127.0.0.1', () => console.log(`http://127.0.0.1:${port}/view` + (token ? '#token=' + token : '')));
setTimeout(() => { console.log('dev/live.mjs: 10 minutes, stopping'); process.exit(0); }, 600000).unref();
