/**
 * The inspector page's markup and styles. Static: everything dynamic is filled in by the script with `textContent`,
 * never as markup, so room names, user ids and payloads cannot become HTML.
 */

/** The page, for the inspector mounted at `path` (a checked path: no quotes or markup can be in it). */
export function inspectorHtml(path: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="parley-inspector-path" content="${path}">
<title>Parley inspector</title>
<link rel="stylesheet" href="${path}/inspector.css">
<script type="module" src="${path}/inspector.js"></script>
</head>
<body>
<section class="login" id="login" hidden>
  <form class="login-card" id="login-form">
    <div class="brand brand-large"><span class="brand-mark"></span>Parley inspector</div>
    <p class="muted">Enter the inspector key configured on the server.</p>
    <input id="key" type="password" autocomplete="current-password" placeholder="Inspector key" aria-label="Inspector key" required>
    <button class="primary" type="submit">Open</button>
    <p class="error" id="login-error" role="alert" hidden></p>
  </form>
</section>
<main class="app" id="app" hidden>
  <header class="topbar">
    <div class="brand"><span class="brand-mark"></span>Parley inspector</div>
    <div class="topbar-right">
      <span class="muted" id="nodes"></span>
      <span class="status" id="status" data-state="connecting">connecting</span>
    </div>
  </header>
  <section class="cards" aria-label="Totals">
    <div class="card"><span class="card-label">Connections</span><span class="card-value" id="t-connections">–</span></div>
    <div class="card"><span class="card-label">Rooms</span><span class="card-value" id="t-rooms">–</span></div>
    <div class="card"><span class="card-label">Members</span><span class="card-value" id="t-members">–</span></div>
    <div class="card"><span class="card-label">Deliveries / s</span><span class="card-value" id="t-rate">–</span></div>
    <div class="card"><span class="card-label">Errors</span><span class="card-value" id="t-errors">–</span></div>
  </section>
  <p class="notice" id="partial" hidden>Some nodes did not answer: the figures leave them out.</p>
  <div class="grid">
    <section class="panel">
      <h2>Rooms</h2>
      <table class="table" id="rooms"><thead><tr><th>Room</th><th class="num">Members</th><th class="num">Msg/s</th></tr></thead><tbody></tbody></table>
      <p class="empty muted" id="rooms-empty">No room has members.</p>
    </section>
    <section class="panel" id="detail" hidden>
      <div class="panel-head"><h2 id="detail-title"></h2><button class="ghost" id="detail-close" type="button">Close</button></div>
      <h3>Members</h3>
      <ul class="list" id="detail-members"></ul>
      <h3>Recent messages</h3>
      <ol class="messages" id="detail-messages"></ol>
      <form class="publish" id="publish-form">
        <input id="publish-text" maxlength="2000" placeholder="System message to this room" aria-label="System message" required>
        <button class="primary" type="submit">Publish</button>
      </form>
      <p class="muted small" id="detail-status" role="status"></p>
    </section>
  </div>
  <section class="panel">
    <h2>Sessions <span class="muted small" id="sessions-count"></span></h2>
    <div class="scroll">
      <table class="table" id="sessions"><thead><tr><th>User</th><th>Transport</th><th>Protocol</th><th class="num">Buffered</th><th class="num">Age</th><th>Rooms</th><th>Node</th><th></th></tr></thead><tbody></tbody></table>
    </div>
  </section>
  <section class="panel">
    <h2>Recent errors</h2>
    <ol class="errors" id="errors"></ol>
    <p class="empty muted" id="errors-empty">No errors.</p>
  </section>
  <p class="toast" id="toast" role="status" hidden></p>
</main>
</body>
</html>
`
}

export const INSPECTOR_CSS = `:root {
  --bg: #f7f7fb; --panel: #fff; --accent: #5b5bd6; --accent-soft: #ececfd; --text: #1d1f2c; --muted: #6b6f85;
  --border: #e4e5ee; --ok: #1f9d55; --warn: #d98b00; --bad: #d64545; --radius: 10px;
  font-family: ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
  font-size: 15px; color: var(--text); background: var(--bg);
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; min-height: 100%; }
button, input { font: inherit; color: inherit; }
.muted { color: var(--muted); }
.small { font-size: 0.85rem; font-weight: 400; }
button { cursor: pointer; border: 0; border-radius: 8px; padding: 0.5rem 0.95rem; }
button.primary { background: var(--accent); color: #fff; font-weight: 600; }
button.primary:hover { filter: brightness(1.08); }
button.ghost { background: transparent; border: 1px solid var(--border); padding: 0.3rem 0.7rem; }
button.danger { background: #fdecec; color: var(--bad); padding: 0.25rem 0.6rem; font-size: 0.85rem; font-weight: 600; }
button.danger:hover { background: var(--bad); color: #fff; }
input { border: 1px solid var(--border); border-radius: 8px; padding: 0.55rem 0.75rem; background: #fff; outline: none; min-width: 0; }
input:focus { border-color: var(--accent); box-shadow: 0 0 0 3px var(--accent-soft); }
.brand { display: flex; align-items: center; gap: 0.5rem; font-weight: 700; }
.brand-mark { width: 22px; height: 22px; border-radius: 6px; background: linear-gradient(135deg, var(--accent), #8f8ff0); }
.brand-large { font-size: 1.35rem; margin-bottom: 1rem; }
.login { min-height: 100vh; display: grid; place-items: center; padding: 2rem;
  background: radial-gradient(circle at 20% 10%, #e7e7ff 0, transparent 45%), radial-gradient(circle at 85% 90%, #e3f6ee 0, transparent 40%), var(--bg); }
.login-card { width: min(420px, 100%); background: var(--panel); border-radius: 16px; padding: 2.25rem;
  box-shadow: 0 20px 50px rgba(30, 31, 46, 0.12); display: flex; flex-direction: column; gap: 0.6rem; }
.error { color: var(--bad); margin: 0; }
.app { max-width: 1280px; margin: 0 auto; padding: 1rem 1.25rem 3rem; display: flex; flex-direction: column; gap: 1rem; }
.topbar { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
.topbar-right { display: flex; align-items: center; gap: 0.75rem; }
.status { font-size: 0.8rem; font-weight: 600; padding: 0.2rem 0.65rem; border-radius: 999px; background: #fff4dc; color: var(--warn); }
.status[data-state='open'] { background: #e3f6ec; color: var(--ok); }
.status[data-state='closed'] { background: #fdecec; color: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 0.75rem; }
.card { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); padding: 0.85rem 1rem; display: flex; flex-direction: column; gap: 0.2rem; }
.card-label { font-size: 0.8rem; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
.card-value { font-size: 1.6rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.notice { margin: 0; padding: 0.6rem 0.9rem; border-radius: 8px; background: #fff4dc; color: #7a5200; }
.grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; align-items: start; }
.panel { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); padding: 1rem 1.1rem; }
.panel h2 { font-size: 1rem; margin: 0 0 0.75rem; }
.panel h3 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); margin: 1rem 0 0.4rem; }
.panel-head { display: flex; justify-content: space-between; align-items: center; }
.panel-head h2 { margin: 0; }
.scroll { overflow-x: auto; }
.table { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
.table th { text-align: left; font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); font-weight: 600; padding: 0.4rem 0.5rem; border-bottom: 1px solid var(--border); }
.table td { padding: 0.45rem 0.5rem; border-bottom: 1px solid var(--border); white-space: nowrap; }
.table tr:last-child td { border-bottom: 0; }
.table .num { text-align: right; font-variant-numeric: tabular-nums; }
#rooms tbody tr { cursor: pointer; }
#rooms tbody tr:hover, #rooms tbody tr[aria-selected='true'] { background: var(--accent-soft); }
.pill { display: inline-block; font-size: 0.75rem; padding: 0.1rem 0.5rem; border-radius: 999px; background: var(--accent-soft); color: var(--accent); margin-right: 0.25rem; }
.list { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: 0.35rem; }
.list li { display: flex; justify-content: space-between; align-items: center; gap: 0.5rem; }
.messages { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: 0.3rem; max-height: 260px; overflow-y: auto; font-size: 0.9rem; }
.messages li { padding: 0.35rem 0.5rem; border-radius: 6px; background: var(--bg); overflow-wrap: anywhere; }
.messages .from { font-weight: 600; margin-right: 0.4rem; }
.publish { display: flex; gap: 0.5rem; margin-top: 0.9rem; }
.publish input { flex: 1; }
.errors { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: 0.3rem; font-size: 0.88rem; }
.errors li { display: flex; gap: 0.6rem; align-items: baseline; }
.code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.8rem; font-weight: 600; color: var(--bad); background: #fdecec; padding: 0.05rem 0.4rem; border-radius: 4px; }
.empty { margin: 0.25rem 0 0; }
.toast { position: fixed; bottom: 1rem; left: 50%; transform: translateX(-50%); background: var(--text); color: #fff; padding: 0.6rem 1rem; border-radius: 8px; margin: 0; }
@media (max-width: 860px) {
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .grid { grid-template-columns: minmax(0, 1fr); }
  .card-value { font-size: 1.3rem; }
}
`
