// Writes a trace page with N synthetic rows that look like an FTP session, for looking at the
// viewer and timing it. Usage: node dev/synth.mjs N OUT.html [BUNDLE.js]
//   BUNDLE defaults to the built ../../crates/ubxftp/assets/trace-viewer.js (run `npm run build`).
// `synthRows(n, seed)` is exported for dev/live.mjs.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function prng(seed) { // mulberry32: the same rows for the same seed
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEX = '0123456789abcdef';

export function synthRows(n, seed = 1) {
  const rnd = prng(seed);
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const between = (a, b) => a + rnd() * (b - a);
  const rows = [];
  let t = 0;
  let conn = 2;
  let fileNo = 0;
  const ms = (a, b) => Math.round(between(a, b) * 1000);

  const row = (dt, lane, kind, who, arrow, label, text) => {
    t += dt;
    rows.push([t, 1, lane, kind, who, arrow, label, text]);
  };
  const bytes = (k) => {
    let s = '';
    for (let i = 0; i < k; i++) s += '\\x' + HEX[Math.floor(rnd() * 16)] + HEX[Math.floor(rnd() * 16)];
    return s;
  };
  // a command, its echo, any information text, then its final result
  const at = (cmd, info, result = 'OK') => {
    row(ms(0, 2), 'host', 'cmd', 't1', '>', 'cmd', cmd + '\\r');
    row(ms(1, 4), 'module', 'answer', 't1', '<', 'echo', cmd + '\\r');
    for (const line of info || []) row(ms(2, 40), 'module', 'answer', 't1', '<', 'info', '\\r\\n' + line + '\\r\\n');
    row(ms(1, 30), 'module', 'result', 't1', '<', 'result', '\\r\\n' + result + '\\r\\n');
  };
  const urc = (text, gap = [20, 400]) => row(ms(...gap), 'module', 'urc', 't1', '<', 'urc', '\\r\\n' + text + '\\r\\n');
  const ftp = (dir, text) => row(ms(2, 60), 'network', 'dialogue', 'ftp', dir, 'ftp', text);
  const net = (who, label, text, arrow = '*') => row(ms(1, 20), 'network', 'net', who, arrow, label, text);

  row(0, 'module', 'module', '', '*', 'module', 'SARA-R422M10S-01B, IMEI 004402090000001, fw 00.12');
  row(ms(1, 5), 'module', 'term', 't1', '*', 'connect', 'terminal 1 connected at 115200 baud');
  row(ms(10, 50), 'field', 'field', '', '*', 'power', 'power on');
  row(ms(100, 400), 'module', 'urc', 't1', '<', 'urc', '\\r\\n+CREG: 5\\r\\n');
  row(ms(100, 300), 'field', 'field', '', '*', 'bearer', 'PDP context 1 active: 10.64.12.7');
  row(ms(5, 30), 'field', 'link', '', '*', 'link', 'LTE-M, RSRP -94 dBm, 40 ms latency');

  const exchanges = [
    () => at('AT', []),
    () => at('AT+CGMI', ['u-blox']),
    () => at('AT+CSQ', ['+CSQ: ' + Math.floor(between(8, 28)) + ',99']),
    () => at('AT+CCLK?', ['+CCLK: "24/11/26,10:' + String(Math.floor(between(10, 59))) + ':00+04"']),
    () => at('AT+UFTP=0,"192.168.1.10"'),
    () => at('AT+UFTP=2,"test"'),
    () => at('AT+UFTP=7,21'),
    () => { // login
      const c = 'c' + (++conn);
      at('AT+UFTPC=1');
      net(c, 'open', 'tcp 10.64.12.7:' + Math.floor(between(40000, 60000)) + ' → 192.168.1.10:21', '>');
      ftp('<', '220 (vsFTPd 3.0.3)');
      ftp('>', 'USER test');
      ftp('<', '331 Please specify the password.');
      ftp('>', 'PASS ****');
      ftp('<', '230 Login successful.');
      urc('+UUFTPCR: 1,1', [5, 40]);
    },
    () => { // store a file from the module's file system
      const f = 'f' + (++fileNo) + '.bin';
      const size = pick([64, 512, 1024, 4096]);
      at('AT+UDWNFILE="' + f + '",' + size);
      row(ms(1, 5), 'module', 'prompt', 't1', '<', 'prompt', '>');
      row(ms(5, 80), 'host', 'data', 't1', '>', 'data', bytes(Math.min(size, 48)) + (size > 48 ? '… (' + size + ' bytes)' : ''));
      row(ms(5, 40), 'module', 'result', 't1', '<', 'result', '\\r\\nOK\\r\\n');
      at('AT+UFTPC=5,"' + f + '","' + f + '"');
      const d = 'c' + (++conn);
      ftp('>', 'TYPE I');
      ftp('<', '200 Switching to Binary mode.');
      ftp('>', 'PASV');
      ftp('<', '227 Entering Passive Mode (192,168,1,10,' + Math.floor(between(100, 200)) + ',' + Math.floor(between(1, 250)) + ').');
      net(d, 'open', 'tcp → 192.168.1.10 (data)', '>');
      ftp('>', 'STOR ' + f);
      ftp('<', '150 Ok to send data.');
      row(ms(5, 200), 'network', 'data', d, '>', 'data', size + ' bytes');
      net(d, 'close', 'closed by the module');
      ftp('<', '226 Transfer complete.');
      urc('+UUFTPCR: 5,1', [5, 60]);
    },
    () => { // retrieve into the module's file system
      const f = 'f' + Math.max(1, Math.floor(between(1, fileNo + 1))) + '.bin';
      at('AT+UFTPC=4,"' + f + '","' + f + '",1');
      const d = 'c' + (++conn);
      ftp('>', 'PASV');
      ftp('<', '227 Entering Passive Mode (192,168,1,10,156,64).');
      net(d, 'open', 'tcp → 192.168.1.10 (data)', '>');
      ftp('>', 'RETR ' + f);
      ftp('<', '150 Opening BINARY mode data connection.');
      row(ms(5, 300), 'network', 'data', d, '<', 'data', Math.floor(between(100, 9000)) + ' bytes');
      net(d, 'close', 'closed by the server');
      ftp('<', '226 Transfer complete.');
      urc('+UUFTPCR: 4,1', [5, 60]);
    },
    () => { // direct link
      at('AT+UFTPC=6,"log.txt"', [], 'CONNECT');
      row(ms(1, 5), 'module', 'term', 't1', '*', 'data-mode', 'data mode on');
      for (let k = Math.floor(between(1, 4)); k > 0; k--) {
        row(ms(10, 120), 'module', 'data', 't1', '<', 'data', 'line ' + k + ': temperature=21.' + Math.floor(between(0, 9)) + '\\r\\n');
      }
      row(ms(1000, 1200), 'host', 'data', 't1', '>', 'data', '+++');
      row(ms(5, 30), 'module', 'term', 't1', '*', 'data-mode', 'data mode off');
      row(ms(1, 10), 'module', 'result', 't1', '<', 'result', '\\r\\nDISCONNECT\\r\\n');
    },
    () => at('AT+ULSTFILE=0', ['+ULSTFILE: "f1.bin","f2.bin","log.txt"']),
    () => at('AT+UFTPER', ['+UFTPER: 0,0']),
    () => at('AT+CPWROFF', [], '+CME ERROR: operation not allowed'),
    () => { // an error
      at('AT+UFTPC=4,"missing.bin","missing.bin"');
      ftp('>', 'RETR missing.bin');
      ftp('<', '550 Failed to open file.');
      urc('+UUFTPCR: 4,0', [5, 40]);
      at('AT+UFTPER', ['+UFTPER: 8,550']);
    },
    () => { // a fault: the server resets the control connection
      const c = 'c' + conn;
      row(ms(0, 5), 'field', 'fault', '', '*', 'fault', 'reset ' + c + ' after ' + Math.floor(between(100, 900)) + ' ms (faults.toml #2)');
      net(c, 'reset', 'connection reset by peer');
      urc('+UUFTPCR: 1,0', [50, 300]);
    },
    () => row(ms(0, 5), 'field', 'link', '', '*', 'link', pick(['LTE-M', 'NB-IoT']) + ', RSRP ' + Math.floor(between(-120, -80)) + ' dBm, ' + pick([20, 40, 80, 200]) + ' ms latency'),
    () => { row(ms(0, 5), 'field', 'field', '', '*', 'power', 'PSM enter'); row(ms(1000, 2500), 'field', 'field', '', '*', 'power', 'PSM exit'); },
    () => { row(ms(0, 5), 'module', 'term', 't1', '*', 'dtr', 'DTR off'); row(ms(50, 400), 'module', 'term', 't1', '*', 'dtr', 'DTR on'); },
    () => row(ms(0, 5), 'module', 'other', '', '*', 'note', 'trace marker ' + rows.length),
    () => { // logout
      at('AT+UFTPC=0');
      ftp('>', 'QUIT');
      ftp('<', '221 Goodbye.');
      net('c' + conn, 'close', 'closed by the server');
      urc('+UUFTPCR: 0,1', [5, 40]);
    },
  ];
  const weights = [3, 2, 2, 1, 1, 1, 1, 3, 5, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 3];
  const total = weights.reduce((a, b) => a + b, 0);
  while (rows.length < n) {
    // a pause between exchanges: mostly 0.1–3 s, sometimes short
    t += rnd() < 0.2 ? ms(5, 100) : ms(100, 3000);
    let w = rnd() * total, k = 0;
    while ((w -= weights[k]) > 0) k++;
    exchanges[k]();
  }
  rows.length = n;
  return rows;
}

export function page(title, config, bundle) {
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  return '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">\n' +
    '<title>ubxftp trace: ' + title.replace(/&/g, '&amp;').replace(/</g, '&lt;') + '</title></head><body><div id="app"></div>\n' +
    '<script id="ubx-trace" type="application/json">' + json + '</script>\n' +
    '<script>' + bundle + '</script></body></html>\n';
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const n = Number(process.argv[2]);
  const out = process.argv[3];
  if (!Number.isInteger(n) || n < 0 || !out) {
    console.error('usage: node dev/synth.mjs N OUT.html [BUNDLE.js]');
    process.exit(2);
  }
  const bundlePath = process.argv[4] || resolve(here, '../../../crates/ubxftp/assets/trace-viewer.js');
  const bundle = readFileSync(bundlePath, 'utf8');
  const title = 'synthetic-' + n + '.jsonl';
  const config = { title, tool: 'ubxftp 0.1.0', unix_us: 1765000000000000, rows: synthRows(n), live: null };
  writeFileSync(out, page(title, config, bundle));
  console.log(out + ': ' + n + ' rows');
}
