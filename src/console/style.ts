/** The console's only stylesheet, served from /console/static/console.css (CSP allows 'self' only). */
export const CONSOLE_CSS = `
:root { --fg:#1d2330; --muted:#6b7385; --line:#dde1e8; --bg:#f7f8fa; --ok:#1a7f4b; --bad:#b42318; --warn:#a15c07; --accent:#2f5bd3; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
header.top { display:flex; align-items:center; gap:1.5rem; padding:.6rem 1.2rem; background:#151a21; color:#e8ebf0; }
header.top a { color:#e8ebf0; } .brand { font-weight:600; }
header.top nav { display:flex; gap:1rem; flex:1; }
form.logout { display:flex; align-items:center; gap:.6rem; margin:0; }
.role { font-size:12px; color:#aab3c2; }
main { padding:1rem 1.2rem 3rem; max-width:1400px; }
h1 { font-size:1.4rem; margin:.4rem 0 1rem; } h2 { font-size:1.1rem; margin:1.6rem 0 .6rem; } h3 { font-size:.95rem; margin:1rem 0 .4rem; text-transform:capitalize; }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; padding:.4rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef0f4; font-weight:600; font-size:13px; white-space:nowrap; }
td.num { text-align:right; white-space:nowrap; }
tr.needs-action td:first-child { border-left:3px solid var(--bad); }
table.projects { table-layout:fixed; }
table.projects td { white-space:nowrap; overflow:hidden; text-overflow:ellipsis; vertical-align:middle; padding:.25rem .6rem; }
table.projects td.id a { font-family:ui-monospace, monospace; font-size:13px; }
col.c-id { width:13rem; } col.c-status { width:10rem; } col.c-key { width:7.5rem; } col.c-schedule { width:17rem; }
col.c-run { width:14rem; } col.c-duration { width:6rem; }
tr.removed td { color:var(--muted); text-decoration:line-through; }
tr.history td { color:var(--muted); }
.badge { display:inline-block; padding:0 .45rem; border-radius:9px; font-size:12px; font-weight:600; border:1px solid; }
.badge.ok { color:var(--ok); } .badge.bad { color:var(--bad); } .badge.warn { color:var(--warn); } .badge.muted { color:var(--muted); }
.muted { color:var(--muted); } .error-text { color:var(--bad); } .warn-text { color:var(--warn); }
.fix { font-size:12px; color:var(--muted); max-width:36rem; margin-top:.2rem; }
.flash { padding:.6rem .8rem; border-radius:4px; border:1px solid; background:#fff; }
.flash.ok { color:var(--ok); } .flash.error { color:var(--bad); }
form.search { display:flex; flex-wrap:wrap; align-items:center; gap:.6rem; margin-bottom:.6rem; }
input, button { font:inherit; padding:.3rem .5rem; border:1px solid #b9c0cc; border-radius:4px; background:#fff; }
button { cursor:pointer; background:#eef2ff; border-color:#9fb2e6; }
label.inline { display:flex; align-items:center; gap:.3rem; }
.pager { display:flex; gap:1rem; margin:.8rem 0; align-items:center; }
.facts dl { display:grid; grid-template-columns:9rem 1fr; gap:.3rem .8rem; background:#fff; border:1px solid var(--line); padding:.8rem; margin:0; }
.facts dt { color:var(--muted); }
.facts dd { margin:0; }
section.actions { display:flex; flex-wrap:wrap; gap:.8rem; margin:1rem 0; }
form.action { display:flex; gap:.4rem; align-items:center; background:#fff; border:1px solid var(--line); padding:.4rem .6rem; border-radius:4px; }
dl.kv { display:grid; grid-template-columns:auto 1fr; gap:0 .5rem; margin:0; font-size:12px; }
dl.kv dt { color:var(--muted); } dl.kv dd { margin:0; word-break:break-all; font-family:ui-monospace, monospace; }
section.placeholder { border:1px dashed #b9c0cc; padding:.2rem .8rem .6rem; margin-top:1rem; }
section.login { max-width:24rem; margin:4rem auto; background:#fff; border:1px solid var(--line); padding:1.2rem 1.5rem; }
section.login form { display:flex; flex-direction:column; gap:.5rem; }
.hint { font-size:12px; color:var(--muted); }
.crumbs { margin:0; color:var(--muted); }
nav.sections { position:sticky; top:0; z-index:1; display:flex; flex-wrap:wrap; gap:.9rem; padding:.4rem .6rem; margin:0 0 .8rem; background:#fff; border:1px solid var(--line); }
section.needs { border:1px solid var(--bad); border-left-width:4px; background:#fff; padding:.2rem .9rem .4rem; margin-bottom:.8rem; }
section.needs h2 { color:var(--bad); margin:.4rem 0; } section.needs ul { margin:.2rem 0; padding-left:1.2rem; }
section.picker { border:1px solid var(--accent); background:#fff; padding:.2rem .9rem .6rem; }
.first-sync { background:#fff; border:1px solid var(--line); padding:.2rem .9rem; margin-top:.6rem; }
.first-sync ul { margin:.2rem 0 .4rem; }
.kv-pair { display:flex; gap:.6rem; align-items:flex-start; } .arrow { color:var(--muted); }
.amount { font-family:ui-monospace, monospace; font-size:12px; }
td.nowrap, .nowrap { white-space:nowrap; }
select { font:inherit; padding:.3rem .4rem; border:1px solid #b9c0cc; border-radius:4px; background:#fff; max-width:28rem; }
nav.sections a.page { margin-left:auto; font-weight:600; }
.chart-and-numbers { display:flex; flex-wrap:wrap; gap:1rem; align-items:flex-start; }
.chart-and-numbers table { width:auto; min-width:22rem; }
svg.chart { background:#fff; border:1px solid var(--line); max-width:100%; height:auto; }
svg.chart .bar.price, .swatch.price { fill:#2f5bd3; background:#2f5bd3; }
svg.chart .bar.proceeds, .swatch.proceeds { fill:#1a7f4b; background:#1a7f4b; }
svg.chart .axis { stroke:#6b7385; stroke-width:1; }
svg.chart text { font-size:11px; fill:#6b7385; }
svg.chart text.unit { font-weight:600; fill:#1d2330; }
.swatch { display:inline-block; width:.8rem; height:.8rem; vertical-align:middle; border-radius:2px; }
.legend { margin:.2rem 0 .5rem; color:var(--muted); }
tfoot tr.total th, tfoot tr.total td { border-top:2px solid var(--line); font-weight:600; }
`;
