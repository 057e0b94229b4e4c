// @ts-check
// The console's Analytics view: GET /api/agent/analytics drawn as a table of the channels side by
// side, charts (Chart.js, served from node_modules as /agent/chart.umd.js) and the lists of the most
// used entries, the largest gaps and CSAT per agent. The figures are the server's; nothing is
// recomputed here but units.

/**
 * @typedef {{ count: number, p50Ms: number | null, p90Ms: number | null, meanMs?: number | null }} Duration
 * @typedef {{ conversations: number, customers: number, contained: number, containment: number | null, answers: number,
 *   suggestions: number, misses: number, handoffs: { total: number, byReason: Record<string, number> }, transfers: number,
 *   cancelled: number, resolved: number, replyMs: Duration, waitMs: Duration, handleMs: Duration,
 *   csat: { asked: number, count: number, average: number | null, distribution: Record<string, number> } }} Figures
 * @typedef {{ days: number, from: string, to: string, totals: Figures, channels: Record<string, Figures>,
 *   daily: { day: string, totals: Figures, channels: Record<string, Figures> }[],
 *   topEntries: { entryId: string, question?: string, count: number }[], gaps: { query: string, count: number, channels: string[] }[],
 *   csatByAgent: { agent: string, count: number, average: number | null }[] }} Report
 */

/** Chart.js's UMD build sets this global (index.html loads it before the console). */
const ChartJs = /** @type {any} */ (window).Chart;

const CHANNEL_NAMES = /** @type {Record<string, string>} */ ({ webchat: 'Web chat', messenger: 'Messenger', whatsapp: 'WhatsApp' });
const CHANNEL_COLOURS = /** @type {Record<string, string>} */ ({ webchat: '#2457d6', messenger: '#a23fd1', whatsapp: '#1e9e5a' });
const REASON_NAMES = /** @type {Record<string, string>} */ ({
  'customer-asked': 'Asked for a person',
  'two-misses': 'Two misses',
  'not-helpful': 'Answer did not help',
  'entry-handoff': 'Entry hands over',
  'agent-takeover': 'Agent took over',
});
const REASON_COLOURS = ['#2457d6', '#f79009', '#d92d20', '#7a5af8', '#667085'];

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

/**
 * @param {string} tag @param {Record<string, any>} [props] @param {...any} children
 * @returns {HTMLElement}
 */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** A duration for people: 850 ms, 4.2 s, 3.5 min, 1.2 h (the same units as `npm run report`). @param {number | null | undefined} ms */
export function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
/** @param {number | null} x */
const pct = (x) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
/** @param {number | null} x */
const avg = (x) => (x === null ? '–' : x.toFixed(2));
/** @param {Duration} d */
const p50p90 = (d) => `${formatMs(d.p50Ms)} / ${formatMs(d.p90Ms)}`;

/** The rows of the channel table: name, metric id (tests read cells by it), value. @type {[string, string, (f: Figures) => string][]} */
const ROWS = [
  ['Conversations', 'conversations', (f) => String(f.conversations)],
  ['Customers', 'customers', (f) => String(f.customers)],
  ['Contained by the bot', 'containment', (f) => `${pct(f.containment)} (${f.contained})`],
  ['Bot answers', 'answers', (f) => String(f.answers)],
  ['Suggestions', 'suggestions', (f) => String(f.suggestions)],
  ['Misses', 'misses', (f) => String(f.misses)],
  ['Handoffs', 'handoffs', (f) => String(f.handoffs.total)],
  ['Bot reply p50 / p90', 'reply', (f) => p50p90(f.replyMs)],
  ['Queue wait p50 / p90', 'wait', (f) => p50p90(f.waitMs)],
  ['Handle time p50 / p90', 'handle', (f) => p50p90(f.handleMs)],
  ['CSAT (ratings)', 'csat', (f) => `${avg(f.csat.average)} (${f.csat.count})`],
];

/** @type {Map<string, any>} the charts drawn, by canvas id (redrawn in place on a new period) */
const charts = new Map();

/**
 * Draws or updates the chart on canvas `id`.
 * @param {string} id @param {string} type @param {any} data @param {any} [options]
 */
function chart(id, type, data, options = {}) {
  const existing = charts.get(id);
  if (existing) {
    existing.data = data;
    existing.update();
    return;
  }
  charts.set(id, new ChartJs($(id), {
    type,
    data,
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } }, ...options },
  }));
}

/** @param {Report} r */
function renderTable(r) {
  const channels = Object.keys(r.channels);
  const cols = channels.length > 1 ? [...channels, 'all'] : channels;
  /** @param {string} c */
  const figures = (c) => (c === 'all' ? r.totals : r.channels[c]);
  $('an-table').replaceChildren(
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, ''), ...cols.map((c) => el('th', { scope: 'col' }, c === 'all' ? 'All channels' : CHANNEL_NAMES[c] ?? c)))),
    el('tbody', {}, ...ROWS.map(([name, metric, value]) =>
      el('tr', {}, el('th', { scope: 'row' }, name), ...cols.map((c) => el('td', { dataset: { metric, channel: c } }, value(figures(c))))))),
  );
}

/** @param {Report} r */
function renderCharts(r) {
  const channels = Object.keys(r.channels);
  const labels = channels.map((c) => CHANNEL_NAMES[c] ?? c);
  const colours = channels.map((c) => CHANNEL_COLOURS[c] ?? '#667085');
  const figs = channels.map((c) => r.channels[c]);
  chart('an-containment', 'bar', {
    labels,
    datasets: [{ label: 'Contained by the bot (%)', data: figs.map((f) => (f.containment === null ? null : Math.round(f.containment * 1000) / 10)), backgroundColor: colours }],
  }, { scales: { y: { min: 0, max: 100 } }, plugins: { legend: { display: false }, title: { display: true, text: 'Contained by the bot (%)' } } });
  const reasons = [...new Set(figs.flatMap((f) => Object.keys(f.handoffs.byReason)))].sort();
  chart('an-handoffs', 'bar', {
    labels,
    datasets: reasons.map((reason, i) => ({ label: REASON_NAMES[reason] ?? reason, data: figs.map((f) => f.handoffs.byReason[reason] ?? 0), backgroundColor: REASON_COLOURS[i % REASON_COLOURS.length] })),
  }, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } }, title: { display: true, text: 'Handoffs by reason' } } });
  /** @param {number | null} ms */
  const minutes = (ms) => (ms === null ? null : Math.round(ms / 600) / 100);
  chart('an-waits', 'bar', {
    labels,
    datasets: [
      { label: 'Queue wait p50 (min)', data: figs.map((f) => minutes(f.waitMs.p50Ms)), backgroundColor: '#f79009' },
      { label: 'Handle time p50 (min)', data: figs.map((f) => minutes(f.handleMs.p50Ms)), backgroundColor: '#2457d6' },
    ],
  }, { scales: { y: { beginAtZero: true } }, plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } }, title: { display: true, text: 'How long customers waited, and were helped' } } });
  chart('an-csat', 'bar', {
    labels,
    datasets: [{ label: 'CSAT average (1–5)', data: figs.map((f) => f.csat.average), backgroundColor: colours }],
  }, { scales: { y: { min: 0, max: 5 } }, plugins: { legend: { display: false }, title: { display: true, text: 'CSAT average (1–5)' } } });
  chart('an-trend', 'line', {
    labels: r.daily.map((d) => d.day.slice(5)),
    datasets: [
      ...channels.map((c) => ({ label: `${CHANNEL_NAMES[c] ?? c} conversations`, data: r.daily.map((d) => d.channels[c]?.conversations ?? 0), borderColor: CHANNEL_COLOURS[c], backgroundColor: CHANNEL_COLOURS[c], yAxisID: 'y' })),
      { label: 'Contained (%)', data: r.daily.map((d) => (d.totals.containment === null ? null : Math.round(d.totals.containment * 1000) / 10)), borderColor: '#101828', borderDash: [4, 4], backgroundColor: '#101828', yAxisID: 'pct' },
    ],
  }, {
    scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'conversations' } }, pct: { position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: '% contained' } } },
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } }, title: { display: true, text: 'Day by day' } },
  });
}

/** @param {string} id @param {string[][]} rows @param {string} none */
function renderList(id, rows, none) {
  $(id).replaceChildren(...(rows.length ? rows.map((cells) => el('li', {}, el('span', { class: 'name' }, el('bdi', {}, cells[0])), el('span', { class: 'count' }, cells[1]), cells[2] ? el('span', { class: 'muted' }, cells[2]) : null)) : [el('li', { class: 'empty' }, none)]));
}

/** @param {Report} r */
function render(r) {
  $('an-period').textContent = `${r.from.slice(0, 10)} to ${r.to.slice(0, 10)} (UTC)`;
  renderTable(r);
  renderCharts(r);
  renderList('an-entries', r.topEntries.map((e) => [e.question || e.entryId, `${e.count}×`, e.entryId]), 'No answers in this period.');
  renderList('an-gaps', r.gaps.map((g) => [g.query, `${g.count}×`, g.channels.map((c) => CHANNEL_NAMES[c] ?? c).join(', ')]), 'Every question was answered.');
  renderList('an-agents', r.csatByAgent.map((a) => [a.agent, avg(a.average), `${a.count} rating${a.count === 1 ? '' : 's'}`]), 'No ratings in this period.');
}

/**
 * Wires the view to the console: `api` is the console's authenticated call, `beforeShow` makes room
 * (the conversation and knowledge views step aside), `onError` shows a failure.
 * @param {{ api: (method: string, path: string) => Promise<any>, beforeShow: () => void, onError: (err: unknown) => void }} console
 */
export function mountAnalytics({ api, beforeShow, onError }) {
  const load = async () => {
    try {
      render(await api('GET', `/api/agent/analytics?days=${encodeURIComponent($('an-days').value)}`));
      $('analytics').dataset.loaded = $('an-days').value;
    } catch (err) {
      onError(err);
    }
  };
  $('an-open').addEventListener('click', () => {
    beforeShow();
    $('analytics').hidden = false;
    void load();
  });
  $('an-days').addEventListener('change', () => void load());
  $('an-refresh').addEventListener('click', () => void load());
}
