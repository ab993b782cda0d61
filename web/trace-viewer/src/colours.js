// One colour per kind of record (the timeline's marks, the list's label chips, the legend).
export const KINDS = ['cmd', 'result', 'answer', 'urc', 'prompt', 'data', 'term', 'module',
  'net', 'dialogue', 'fault', 'link', 'field', 'other'];

export const COLOURS = {
  cmd: '#1f6feb',      // blue: what the host sent
  result: '#1a7f37',   // green: a final result
  answer: '#4f9a8c',   // teal / grey-green: echo and information text
  urc: '#8250df',      // purple: unsolicited results
  prompt: '#e8730c',   // orange: `>` and `@`
  data: '#6f8bb3',     // grey-blue: payload bytes
  term: '#6e7781',     // grey: terminal events
  module: '#99a1ab',   // lighter grey: the module's own events
  net: '#3d4f66',      // slate: connections
  dialogue: '#0aa2c0', // cyan: FTP/HTTP/MQTT dialogue
  fault: '#d1242f',    // red: a fault fired
  link: '#9a5b13',     // brown: link changes
  field: '#7d8a2e',    // olive: bearers, power
  other: '#c4c9d0',    // light grey
};

export const DESCRIPTIONS = {
  cmd: 'command', result: 'final result', answer: 'answer / echo', urc: 'URC', prompt: 'prompt',
  data: 'data', term: 'terminal', module: 'module', net: 'connection', dialogue: 'dialogue',
  fault: 'fault', link: 'link', field: 'bearer / power', other: 'other',
};

// Black or white text on a chip of colour `hex`, whichever reads better.
export function inkOn(hex) {
  const n = parseInt(hex.slice(1), 16);
  const c = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  const l = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  return l > 0.36 ? '#1f2328' : '#ffffff';
}
