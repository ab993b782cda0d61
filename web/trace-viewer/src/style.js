// The page's CSS, injected into <head> (the page has no other stylesheet).
import { ROW_H } from './list.js';

const SANS = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif';
const MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace';

const CSS = `
html,body{margin:0;height:100%;background:#fff}
body{font:13px/1.4 ${SANS};color:#1f2328;overflow:hidden}
#app{display:flex;flex-direction:column;height:100vh;min-height:0}
#app button,#app input{font:inherit;color:inherit}
.ubx-bar{display:flex;flex-wrap:wrap;align-items:center;gap:8px 18px;padding:8px 14px;background:#f6f8fa;border-bottom:1px solid #d0d7de}
.ubx-title{display:flex;align-items:baseline;gap:10px;min-width:0;margin-right:auto}
.ubx-title h1{font-size:15px;font-weight:600;margin:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:40vw}
.ubx-title .tool{color:#656d76;font-size:12px;white-space:nowrap}
.ubx-group{display:flex;align-items:center;gap:6px}
#search{width:240px;padding:4px 8px;border:1px solid #d0d7de;border-radius:6px;background:#fff;outline:none}
#search:focus{border-color:#0969da;box-shadow:0 0 0 3px rgba(9,105,218,.18)}
#matches{min-width:70px;color:#656d76;font-size:12px;font-variant-numeric:tabular-nums}
#matches.none{color:#cf222e}
.ubx-btn{padding:3px 10px;border:1px solid #d0d7de;border-radius:6px;background:#fff;cursor:pointer;line-height:1.4}
.ubx-btn:hover{background:#f3f4f6;border-color:#afb8c1}
.ubx-btn:active{background:#eaeef2}
.ubx-btn.sq{width:30px;padding:3px 0;font-weight:600}
.ubx-lanes label,.ubx-follow{display:flex;align-items:center;gap:4px;cursor:pointer;user-select:none;white-space:nowrap}
.ubx-lanes input,.ubx-follow input{margin:0;accent-color:#0969da}
#status{font-size:12px;color:#656d76;white-space:nowrap}
#status:empty{display:none}
#status.ok{color:#1a7f37}
#status.ok::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:#2da44e;margin-right:6px}
#status.warn{color:#9a6700}
#status.err{color:#cf222e}
.ubx-token{display:none;align-items:center;gap:6px}
.ubx-token.on{display:flex}
#token{width:180px;padding:3px 8px;border:1px solid #d0d7de;border-radius:6px}
.ubx-legend{display:flex;flex-wrap:wrap;gap:4px 14px;padding:5px 14px;border-bottom:1px solid #d0d7de;font-size:11.5px;color:#424a53;background:#fff}
.ubx-legend span{display:inline-flex;align-items:center;gap:5px;white-space:nowrap}
.ubx-legend i{display:inline-block;width:10px;height:10px;border-radius:2px}
.ubx-tl{flex:none;border-bottom:1px solid #d0d7de;line-height:0;overflow:hidden}
#timeline{display:block;touch-action:none;cursor:grab}
#timeline:active{cursor:grabbing}
.ubx-listwrap{flex:1;min-height:0;display:flex;flex-direction:column}
.ubx-listhead,#list .row{display:flex;align-items:center;gap:10px;padding:0 14px}
.ubx-listhead{height:24px;flex:none;background:#f6f8fa;border-bottom:1px solid #d0d7de;color:#656d76;font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.04em}
#list{flex:1;min-height:0;overflow-y:auto;position:relative;outline:none}
.ubx-spacer{width:1px}
.ubx-layer{position:absolute;left:0;right:0;top:0}
#list .row,#list .gap{position:absolute;left:0;right:0;height:${ROW_H}px;box-sizing:border-box}
#list .row{cursor:default;border-bottom:1px solid #f0f2f4;font-size:12.5px}
#list .row:hover{background:#f6f8fa}
#list .row.match{background:#fff8c5}
#list .row.match:hover{background:#fff3a3}
#list .row.sel{background:#ddf4ff;box-shadow:inset 3px 0 0 #0969da}
#list .row.sel.match{background:#e6f0c8}
.ubx-listhead .t,#list .t{flex:none;width:var(--tw,110px);white-space:nowrap;text-align:right;font-family:${MONO};font-size:12px;color:#57606a;font-variant-numeric:tabular-nums}
.ubx-listhead .t{font-family:inherit;font-size:11px}
.ubx-listhead .lane,#list .lane{flex:none;width:56px}
#list .lane{color:#8c959f;font-size:11.5px}
.ubx-listhead .who,#list .who{flex:none;width:44px;font-family:${MONO};font-size:12px;color:#424a53;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.ubx-listhead .who{font-family:inherit;font-size:11px}
.ubx-listhead .arrow,#list .arrow{flex:none;width:14px;text-align:center;color:#656d76}
.ubx-listhead .chip,#list .chip{flex:none;width:64px;box-sizing:border-box;text-align:center;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#list .chip{border-radius:9px;font-size:11px;line-height:16px;padding:0 6px;font-weight:600}
.ubx-listhead .x,#list .x{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#list .x{font-family:${MONO};font-size:12px;color:#1f2328}
#list .gap{display:flex;align-items:center;padding:0 14px 0 14px;color:#8c959f;font-size:11px}
#list .gap::before,#list .gap::after{content:"";flex:1;border-top:1px dashed #d0d7de}
#list .gap::before{flex:none;width:calc(var(--tw,110px) + 24px);margin-right:8px}
#list .gap::after{margin-left:8px}
#list .gap .g{font-variant-numeric:tabular-nums}
#tip{position:fixed;z-index:10;display:none;max-width:560px;padding:8px 10px;background:#fff;border:1px solid #d0d7de;border-radius:8px;box-shadow:0 8px 24px rgba(140,149,159,.25);font-size:12px;pointer-events:none}
#tip.on{display:block}
#tip .h{display:flex;align-items:center;gap:8px;margin-bottom:4px}
#tip .chip{border-radius:9px;font-size:11px;line-height:16px;padding:0 7px;font-weight:600}
#tip .who{font-family:${MONO};font-weight:600}
#tip .meta{color:#656d76}
#tip .time{color:#424a53;font-family:${MONO};font-size:11.5px;margin-bottom:4px}
#tip pre{margin:0;font-family:${MONO};font-size:12px;white-space:pre-wrap;word-break:break-all;max-height:9.5em;overflow:hidden;color:#1f2328}
`;

export function injectStyle() {
  const s = document.createElement('style');
  s.textContent = CSS;
  document.head.appendChild(s);
}
