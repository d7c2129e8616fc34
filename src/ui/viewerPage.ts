// The viewer's page and style sheet, shipped as text inside the package: no build step,
// no CDN, works offline. The page is a static shell; viewer.js fills it from the JSON API.

export const VIEWER_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>otel-blackbox</title>
<link rel="stylesheet" href="/viewer.css">
</head>
<body>
<header><h1><a href="/" class="home">otel-blackbox</a></h1><span id="subtitle"></span></header>
<main id="main"><p class="muted" role="status">Loading…</p></main>
<script src="/viewer.js"></script>
</body>
</html>
`;

export const VIEWER_CSS = String.raw`
/* Text colours keep a 4.5:1 contrast on their backgrounds (WCAG 1.4.3; an accessibility review measured 3.1 to 4.4 before). */
:root { --crashed: #c62828; --started: #1565c0; --ended: #4f7a28; --error: #ef6c00; --error-text: #b35000; --line: #e0e0e0; --muted: #616161; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: #212121; background: #fafafa; }
header { display: flex; gap: 16px; align-items: baseline; padding: 10px 16px; background: #263238; color: #eceff1; }
header h1 { margin: 0; font-size: 15px; }
header .home { color: #fff; font-weight: 600; text-decoration: none; font-size: 15px; }
#subtitle { color: #b0bec5; font-family: ui-monospace, monospace; }
main { padding: 12px 16px; }
h2 { font-size: 14px; margin: 18px 0 6px; }
.sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.muted { color: var(--muted); }
.mono { font-family: ui-monospace, monospace; }
form.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; background: #fff; border: 1px solid var(--line); padding: 8px 10px; }
form.filters label { display: flex; flex-direction: column; font-size: 11px; color: var(--muted); }
table.list { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
/* overflow-wrap: a name without spaces, thousands of characters long, wraps inside its cell; it made the page six windows wide (a review). */
table.list th, table.list td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
table.list th { font-weight: 600; font-size: 12px; background: #f5f5f5; }
table.list td.reason { color: var(--crashed); max-width: 40em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
table.list td.line { max-width: 50em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
/* A logger's scope attributes may be long: cut to the cell, whole in its title. */
table.list td.logger { max-width: 20em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
table.list .severity { font-weight: 600; } table.list .severity.ERROR, table.list .severity.FATAL { color: var(--crashed); } table.list .severity.WARN { color: var(--error-text); }
.state { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; color: #fff; }
.state.crashed { background: var(--crashed); } .state.started { background: var(--started); } .state.ended { background: var(--ended); }
button.more { margin: 6px 0; }
.trace-head { display: flex; flex-wrap: wrap; gap: 18px; margin-bottom: 8px; }
.layout { display: grid; grid-template-columns: minmax(0, 1fr) 380px; gap: 12px; align-items: start; }
.waterfall { background: #fff; border: 1px solid var(--line); }
.axis, .span-row { display: grid; grid-template-columns: 320px minmax(0, 1fr); }
.axis { position: sticky; top: 0; background: #f5f5f5; border-bottom: 1px solid var(--line); z-index: 1; }
.axis .ticks { position: relative; height: 20px; }
.axis .tick { position: absolute; top: 3px; font-size: 11px; color: var(--muted); transform: translateX(-50%); white-space: nowrap; }
.axis .tick:first-child { transform: none; } .axis .tick:last-child { transform: translateX(-100%); }
.span-row { cursor: pointer; border-bottom: 1px solid #f3f3f3; }
/* Rows off screen skip layout and paint: a 5,000-span trace renders in a fraction of the time (see test/ui). */
.span-row { content-visibility: auto; contain-intrinsic-size: auto 21px; }
.span-row:hover { background: #f5f9ff; }
.span-row.selected { background: #e3f2fd; }
.find { display: flex; gap: 10px; align-items: center; padding: 4px 6px; border-bottom: 1px solid var(--line); }
.find input { width: 22em; max-width: 60%; }
/* A match is marked in weight as well as colour (WCAG 1.4.1). */
.span-row.match .name { font-weight: 700; background: #fff3c4; }
.span-row:focus { outline: 2px solid var(--started); outline-offset: -2px; }
/* Not by colour alone (WCAG 1.4.1): the bar's orange says it to some, the word to all. */
.status-error { color: var(--error-text); font-weight: 600; margin-left: 6px; }
.span-row .label { padding: 2px 6px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.span-row .label .reason { color: var(--crashed); margin-left: 6px; }
.span-row .track { position: relative; height: 20px; }
.bar { position: absolute; top: 4px; height: 12px; min-width: 2px; border-radius: 2px; background: var(--ended); }
.bar.error { background: var(--error); }
.bar.crashed { background: var(--crashed); }
.bar.started { background: linear-gradient(to right, var(--started), rgba(21, 101, 192, 0.15)); border-radius: 2px 0 0 2px; }
.estimate { position: absolute; top: 0; height: 20px; border-left: 2px dashed var(--crashed); }
/* Readable over the bar and past it (a bar of no width at the end of the axis left white text on white). */
.estimate span { position: absolute; right: 4px; top: 4px; font-size: 9px; line-height: 12px; color: var(--crashed); background: #fff; padding: 0 2px; white-space: nowrap; }
/* Text a span's maker chose keeps its direction to itself: a right-to-left name does not reorder the reason beside it. */
.name, .reason, .text, .where, .logger, .scope-attributes, td, dd, dt, h3 { unicode-bidi: isolate; }
.details { background: #fff; border: 1px solid var(--line); padding: 8px 10px; position: sticky; top: 8px; max-height: calc(100vh - 16px); overflow: auto; }
.details h3 { margin: 0 0 6px; font-size: 14px; word-break: break-all; }
.details h2 { margin: 8px 0 4px; font-size: 13px; }
.details dl { display: grid; grid-template-columns: fit-content(45%) minmax(0, 1fr); gap: 2px 10px; margin: 0 0 8px; }
.details dt { color: var(--muted); word-break: break-all; } .details dd { margin: 0; word-break: break-all; }
.details pre.cut { max-height: 20em; overflow: auto; white-space: pre-wrap; word-break: break-all; margin: 4px 0 8px; }
.details pre.crash { max-height: 10em; overflow: auto; white-space: pre-wrap; color: var(--crashed); background: #fff5f5; border: 1px solid #ffcdd2; padding: 6px; margin: 4px 0 8px; }
.log { border-top: 1px solid var(--line); padding: 4px 0; }
.log .severity { font-weight: 600; margin-right: 6px; }
.log .text { overflow-wrap: anywhere; }
.log .severity.ERROR, .log .severity.FATAL { color: var(--crashed); } .log .severity.WARN { color: var(--error-text); }
.log .logger { overflow-wrap: anywhere; } .log .scope-attributes { font-family: ui-monospace, monospace; font-size: 11px; }
.log .attrs { color: var(--muted); font-family: ui-monospace, monospace; font-size: 11px; white-space: pre-wrap; word-break: break-all; }
.error-box { color: var(--crashed); }
/* Narrow windows, and 200% zoom: the details go below the waterfall, whose names take a share
   of the width; with fixed 380 px and 320 px columns the bars had no width left (WCAG 1.4.10). */
@media (max-width: 900px) {
  .layout { grid-template-columns: minmax(0, 1fr); }
  .details { position: static; max-height: none; }
  .axis, .span-row { grid-template-columns: minmax(96px, 40%) minmax(0, 1fr); }
  table.list td.reason, table.list td.line { max-width: 16em; }
  table.list td.logger { max-width: 10em; }
}
`;
