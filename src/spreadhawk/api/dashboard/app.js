// The dashboard: reads the node's API with the token kept in this tab, follows its WebSocket
// stream, and sends the operator's commands. Text from the node goes into the page as text, never
// as markup.
"use strict";

const state = { token: sessionStorage.getItem("spreadhawk-token"), fills: [], equity: [], socket: null };
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) { logout("the token was refused"); throw new Error("unauthorised"); }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error((body && body.detail) ? JSON.stringify(body.detail) : response.statusText);
  return body;
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tableId, rows, columns) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const [value, cls] of columns(row)) cell(tr, value, cls);
  }
  return body;
}

function money(text, digits = 2) {
  if (text === null || text === undefined) return "–";
  const n = Number(text);
  return Number.isFinite(n) ? n.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits }) : text;
}
const sign = (text) => (Number(text) >= 0 ? "num pos" : "num neg");
const utc = (ns) => (ns ? new Date(Number(ns) / 1e6).toISOString().replace("T", " ").slice(0, 19) : "–");

function showProfits(p) {
  $("equity").textContent = money(p.equity);
  $("ccy").textContent = p.valuation_currency;
  $("pnl").textContent = money(p.pnl_vs_holding);
  $("pnl").className = "big " + (Number(p.pnl_vs_holding) >= 0 ? "pos" : "neg");
  $("pnl-account").textContent = `account ${money(p.pnl)} at market prices (the starting holdings' move included)`;
}

function showStatus(s) {
  $("mode").textContent = s.mode;
  $("trading").textContent = s.trading ? "trading" : "not trading";
  $("trading").className = "pill " + (s.trading ? "ok" : "bad");
  showKill(s.kill_switch, s.risk_engine);
  fill("venues", s.venues, (v) => [[v.name], [v.mode], [v.reason]]);
  state.enabled = Object.fromEntries(s.strategies.map((x) => [x.id, x.enabled]));
}

function showKill(k, available = true) {
  $("kill-state").textContent = k.engaged ? "ON" : "off";
  $("kill-state").className = "big " + (k.engaged ? "neg" : "pos");
  $("kill-why").textContent = k.engaged ? `${k.by}: ${k.reason}` : "";
  $("kill").disabled = !available || k.engaged;
  $("resume").disabled = !available || !k.engaged;
}

function showStrategies(p) {
  const body = fill("strategies", p.strategies, (s) => [
    [s.id], [money(s.pnl), sign(s.pnl)], [money(s.fees, 4), "num"], [s.fills, "num"],
    [state.enabled && state.enabled[s.id] === false ? "paused" : "enabled"],
  ]);
  [...body.rows].forEach((tr, i) => {
    const id = p.strategies[i].id;
    const enabled = !(state.enabled && state.enabled[id] === false);
    const button = document.createElement("button");
    button.textContent = enabled ? "Pause" : "Resume";
    button.dataset.strategy = id;
    button.addEventListener("click", () => command("/api/v1/strategies/toggle",
      { strategy: id, enabled: !enabled, reason: "from the dashboard" }));
    tr.insertCell().appendChild(button);
  });
}

function showRisk(r) {
  const rows = [["equity", money(r.equity)], ["peak equity", money(r.peak_equity)],
    ["drawdown", `${(Number(r.drawdown) * 100).toFixed(2)} %`], ["gross exposure", money(r.gross_exposure)],
    ["leverage", r.leverage === null ? "–" : Number(r.leverage).toFixed(3)],
    ["1-day VaR", r.var_1d === null ? "not set" : money(r.var_1d)], ["sizes halved", r.halving ? "yes" : "no"]];
  fill("risk", rows, (row) => [[row[0]], [row[1], "num"]]);
}

function showPositions(p) {
  fill("positions", p.positions, (x) => [[x.instrument], [x.quantity, "num"], [x.avg_price, "num"],
    [x.mark, "num"], [money(x.unrealised_pnl), sign(x.unrealised_pnl)]]);
  const rows = [];
  for (const [venue, assets] of Object.entries(p.balances)) for (const [asset, amount] of Object.entries(assets)) rows.push([venue, asset, amount]);
  fill("balances", rows, (r) => [[r[0]], [r[1]], [r[2], "num"]]);
}

function showOpportunities(o) {
  fill("opportunities", o.live, (x) => [[x.kind], [x.key], [Number(x.net_edge_bps).toFixed(2), "num"],
    [x.executable_size, "num"], [`${money(x.expected_profit, 4)} ${x.profit_asset}`, "num"]]);
}

function showFills() {
  fill("fills", state.fills.slice(0, 200), (f) => [[utc(f.ts_ns)], [f.strategy], [f.instrument], [f.side],
    [f.quantity, "num"], [f.price, "num"], [`${f.fee} ${f.fee_currency}`, "num"], [f.liquidity]]);
}

function drawEquity() {
  if (!window.Plotly || state.equity.length === 0) return;
  const x = state.equity.map((p) => new Date(Number(p.ts_ns) / 1e6));
  const y = state.equity.map((p) => Number(p.equity));
  Plotly.react("equity-chart", [{ x, y, type: "scatter", mode: "lines", line: { width: 1.5 } }],
    { margin: { l: 60, r: 10, t: 10, b: 30 }, xaxis: { title: "UTC" } }, { displaylogo: false, responsive: true });
}

async function refresh() {
  const [status, profits, positions, risk, equity, fills] = await Promise.all([
    api("/api/v1/status"), api("/api/arbitrage/profits"), api("/api/v1/positions"),
    api("/api/v1/risk/portfolio"), api("/api/v1/equity?points=1000"), api("/api/v1/fills?limit=200")]);
  showStatus(status); showProfits(profits); showStrategies(profits); showPositions(positions); showRisk(risk);
  state.equity = equity; drawEquity();
  state.fills = fills; showFills();
  if (status.scanner) api("/api/arbitrage/opportunities?limit=20").then(showOpportunities).catch(() => {});
  if (status.allocation) {
    api("/api/v1/regime/current").then((r) => {
      $("regime").textContent = r.regime; $("regime-why").textContent = r.override ? `override by ${r.override}` : "";
    }).catch(() => {});
    api("/api/v1/regime/history?limit=50").then((h) => fill("regimes", h.slice().reverse(), (r) => [[utc(r.ts_ns)], [r.regime]])).catch(() => {});
  } else {
    $("regime").textContent = "n/a"; $("regime-why").textContent = "no capital allocation ([risk.allocation])";
  }
  if (status.risk_engine) {
    api("/api/v1/risk/limits").then((l) => fill("risk-events", l.changes.slice().reverse(),
      (c) => [[utc(c.ts_ns)], [c.what ?? (c.engaged ? "kill switch on" : "kill switch off")], [c.subject], [c.state], [c.reason], [c.by]])).catch(() => {});
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream`);
  state.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ token: state.token }));
  socket.onmessage = (event) => {
    const m = JSON.parse(event.data);
    if (m.type === "hello") { $("connection").textContent = "live"; $("connection").className = "pill ok"; }
    else if (m.type === "fill") { state.fills.unshift(m); showFills(); }
    else if (m.type === "pnl") {
      showProfits(m); showStrategies(m);
      state.equity.push({ ts_ns: m.ts_ns, equity: m.equity }); if (state.equity.length > 5000) state.equity.shift(); drawEquity();
    }
    else if (m.type === "kill_switch") showKill(m);
    else if (m.type === "opportunities") showOpportunities(m);
  };
  socket.onclose = () => {
    $("connection").textContent = "offline"; $("connection").className = "pill muted";
    if (state.token) setTimeout(connect, 2000);
  };
}

async function command(path, body) {
  try {
    await api(path, { method: "POST", body: JSON.stringify(body) });
  } catch (error) {
    alert(`refused: ${error.message}`);
  }
  await refresh();
}

function logout(why) {
  sessionStorage.removeItem("spreadhawk-token");
  state.token = null;
  if (state.socket) state.socket.close();
  $("main").hidden = true; $("login").hidden = false;
  $("login-error").textContent = why || "";
}

async function start() {
  $("login").hidden = true; $("main").hidden = false;
  await refresh();
  connect();
  setInterval(() => refresh().catch(() => {}), 5000);
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("spreadhawk-token", state.token);
  start().catch((e) => { $("login-error").textContent = e.message; });
});
$("kill").addEventListener("click", () => {
  if (confirm("Engage the kill switch? Every open order is cancelled and no new order leaves until resumed.")) {
    command("/api/v1/kill-switch/engage", { reason: "from the dashboard" });
  }
});
$("resume").addEventListener("click", () => {
  if (confirm("Resume trading?")) command("/api/v1/kill-switch/resume", { reason: "from the dashboard" });
});

if (state.token) start().catch(() => logout("")); else logout("");
