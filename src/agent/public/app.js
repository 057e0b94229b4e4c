// @ts-check
// Switchboard agent console: plain ES module, no build step, no CDN. Talks to /api/agent/* with the
// Bearer token from sign-in and listens to /api/agent/events (server-sent events read with fetch,
// because EventSource cannot send an Authorization header).
//
// Names, numbers and everything a customer typed are text nodes, inside <bdi> where they sit next to
// other text (a right-to-left override in a name must not flip what follows it); in strings that
// cannot hold elements (the title, <option>, error lines) they are wrapped in FSI … PDI instead.
import { renderMarkdown } from './markdown.js';
import { mountAnalytics } from './analytics.js';
import { attachmentView } from './media.js';

/**
 * @typedef {{ id: string, name?: string, label: string, contact?: string }} Customer
 * @typedef {{ text: string, at?: string }} Preview
 * @typedef {{ id: string, channelId: string, customer: Customer, owner: 'bot' | 'queued' | 'assigned', agentId?: string,
 *   agentName?: string, team?: string, priority: number, queuedAt?: string, assignedAt?: string, resolvedAt?: string,
 *   updatedAt: string, reason?: string, position?: number, preview?: Preview, notes: { agentName: string, text: string }[],
 *   replyWindow?: { agentClosesAt?: string } }} Conversation
 * @typedef {{ id?: string, type?: string, name?: string, text?: string, timestamp?: string, value?: any,
 *   from?: { id?: string, name?: string, role?: string }, conversation?: { id: string },
 *   attachments?: { contentType: string }[], channelData?: { switchboard?: { system?: boolean, agent?: { agentName: string } } } }} Activity
 * @typedef {{ conversation: Conversation, transcript: Activity[], context: any, deliveryFailures?: any[], csat?: { rating?: number, comment?: string, askedAt?: string } | null }} Detail
 * @typedef {{ id: string, name: string, teams: string[], online?: boolean }} Agent
 */

/** @param {string} id @returns {any} the element (its kind is known from index.html) */
const $ = (id) => document.getElementById(id);
/** `text` isolated for places that cannot hold a <bdi> (title, options, messages). @param {string} text */
const iso = (text) => `\u2068${text}\u2069`;
const BASE_TITLE = 'Switchboard — agent console';
/** Everything the console knows; the server's events patch it. */
const state = {
  token: sessionStorage.getItem('switchboard.token') || '',
  /** @type {Agent | null} */
  agent: null,
  tab: 'queued',
  /** @type {Map<string, Conversation>} */
  conversations: new Map(),
  /** @type {string | null} */
  selectedId: null,
  /** @type {Detail | null} */
  detail: null,
  /** @type {Agent[]} */
  agents: [],
  unseen: 0,
  /** @type {AbortController | null} */
  events: null,
  /** @type {AudioContext | null} */
  audio: null,
  /** @type {string | null} */
  flash: null,
  /** @type {any} the knowledge's state: from /api/agent/knowledge, then live from the event stream */
  kbStatus: null,
  /** @type {any} */
  kbGaps: null,
  /** @type {any} what the last knowledge edit changed for saved customer questions (null before the first edit) */
  kbChanges: null,
};

// ---- helpers ---------------------------------------------------------------------------------
/**
 * An element with attributes (`class`, `dataset`, `on…` listeners) and children (strings become text).
 * @param {string} tag
 * @param {Record<string, any>} [props]
 * @param {...any} children
 * @returns {HTMLElement}
 */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** @param {string} message */
function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = !message;
}

/** Why the server ended a session (the 401's `reason`), said to the agent. */
const SIGNED_OUT = {
  unknown: 'You were signed out: the server no longer knows this session (it was signed out, or the server lost its sessions). Sign in again.',
  expired: 'You were signed out: your session ran out of time. Sign in again.',
  removed: 'You were signed out: your agent account was removed. Ask an administrator if you still need access.',
  'password-changed': 'You were signed out: your password was changed. Sign in with the new password.',
};
const SIGNED_OUT_OTHER = 'You were signed out. Sign in again.';
const UNREACHABLE = 'Cannot reach the server. Trying again…';

/** @param {{ reason?: string }} data @returns {string} */
const signedOutMessage = (data) => (data.reason && Object.hasOwn(SIGNED_OUT, data.reason) ? SIGNED_OUT[/** @type {keyof SIGNED_OUT} */ (data.reason)] : SIGNED_OUT_OTHER);

/** A refusal of the API: `status` and the JSON body (`code`, `message`, `holder`, `reason`, …). */
class ApiError extends Error {
  /** @param {number} status @param {any} data @param {string} message */
  constructor(status, data, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.data = data;
  }
}

/** Thrown after the console signed out on a 401 (the sign-in page already says why). */
class SignedOutError extends Error {
  name = 'SignedOutError';
}

/**
 * Calls the agent API with the session's token. A 401 signs the console out with a sentence for its reason.
 * @param {string} method @param {string} path @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${state.token}` };
  const form = body instanceof FormData; // a file upload: the browser writes the multipart boundary
  if (body !== undefined && !form) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : form ? body : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) {
    signOut(signedOutMessage(data));
    throw new SignedOutError(signedOutMessage(data));
  }
  if (!res.ok) throw new ApiError(res.status, data, data.message || `${res.status} ${res.statusText}`);
  return data;
}

/**
 * The server's message for people: without the "agent API …:" / "Handoff:" prefix, with the
 * conversation's id replaced by the customer's label.
 * @param {string} message
 */
function humanize(message) {
  let text = String(message || '').replace(/^(agent API|Handoff)[^:]*:\s*/, '');
  const c = state.detail?.conversation;
  if (c && c.id.length >= 6) text = text.split(`conversation ${c.id}`).join(`the conversation with ${iso(c.customer.label)}`).split(c.id).join(iso(c.customer.label));
  return text ? text[0].toUpperCase() + text.slice(1) : 'Something went wrong.';
}

/** Says what failed above the console; a sign-out has already said why on the sign-in page. @param {unknown} err */
function report(err) {
  const message = explain(err);
  if (message) showError(message);
}

/** @param {any} err @returns {string} */
function explain(err) {
  if (err instanceof SignedOutError) return '';
  if (!(err instanceof ApiError)) return err instanceof TypeError ? UNREACHABLE : humanize(err?.message);
  const d = err.data || {};
  const who = state.detail ? iso(state.detail.conversation.customer.label) : 'this customer';
  if (d.code === 'ReplyWindowClosed') return `Not sent: the customer's reply window is closed${d.closedAt ? ` (closed ${new Date(d.closedAt).toLocaleString()})` : ''}. ${humanize(err.message)}`;
  if (d.holder) return `${iso(d.holder.agentName || d.holder.agentId)} is already helping ${who}.`;
  return humanize(err.message);
}

/** @param {number} ms */
function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h >= 24) return `${Math.floor(h / 24)}d ${h % 24}h`;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
  return `${m}:${String(sec).padStart(2, '0')}`;
}

/** HH:MM (24 h), with the day in front when it is not today. @param {string} when */
function clockTime(when) {
  const d = new Date(when);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

/** @param {Conversation} c */
function windowText(c) {
  const w = c.replyWindow;
  if (!w || !w.agentClosesAt) return '';
  const left = new Date(w.agentClosesAt).getTime() - Date.now();
  return left > 0 ? `Reply window: ${duration(left)} left` : 'Reply window closed — the customer has to write first';
}

/** @type {Record<string, string>} */
const REASONS = {
  'customer-asked': 'asked for a person',
  'two-misses': 'bot missed twice',
  'not-helpful': 'answer did not help',
  'entry-handoff': 'topic needs a person',
  'agent-takeover': 'taken over by an agent',
};

// ---- sign-in ---------------------------------------------------------------------------------
/** Back to the sign-in page, with nothing of the console left on it. @param {string} [message] */
function signOut(message) {
  state.token = '';
  state.agent = null;
  sessionStorage.removeItem('switchboard.token');
  state.events?.abort();
  state.conversations.clear();
  state.selectedId = null;
  state.detail = null;
  $('console').hidden = true;
  $('detail').hidden = true;
  $('whoami').hidden = true;
  $('signin').hidden = false;
  /** @type {HTMLFormElement} */ ($('login-form')).reset();
  showError(message || '');
}

/** The sign-in refusal in words (wrong password, too many tries, …). @param {number} status @param {any} data */
function signInError(status, data) {
  if (status === 401) return 'That name and password do not match. Try again.';
  return data.message ? humanize(data.message) : 'Sign-in failed. Try again in a moment.';
}

$('login-form').addEventListener('submit', async (/** @type {SubmitEvent} */ e) => {
  e.preventDefault();
  const form = new FormData(/** @type {HTMLFormElement} */ (e.target));
  try {
    state.audio ??= new AudioContext(); // created on a user gesture so the escalation sound may play
  } catch {}
  /** @type {Response} */
  let res;
  try {
    res = await fetch('/api/agent/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
    });
  } catch {
    return showError('Cannot reach the server. Check the connection and try again.');
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) return showError(signInError(res.status, data));
  state.token = data.token;
  sessionStorage.setItem('switchboard.token', data.token);
  start();
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/api/agent/logout').catch(() => {});
  signOut('Signed out.');
});

/** Opens the console for the stored token; while the server cannot be reached it keeps trying. */
async function start() {
  /** @type {Agent} */
  let agent;
  try {
    agent = (await api('GET', '/api/agent/me')).agent;
  } catch (err) {
    if (err instanceof SignedOutError) return; // the sign-in page says why
    if (!state.token) return;
    $('signin').hidden = true;
    showError(UNREACHABLE);
    setTimeout(start, 2000);
    return;
  }
  state.agent = agent;
  showError('');
  $('signin').hidden = true;
  $('console').hidden = false;
  $('whoami').hidden = false;
  $('agent-name').textContent = agent.name;
  await Promise.all([loadList('active'), loadAgents(), loadKnowledge().catch((err) => report(err))]);
  connectEvents();
}

/** @param {string} status */
async function loadList(status) {
  const data = await api('GET', `/api/agent/conversations?status=${status}`);
  if (status === 'active') for (const [id, c] of state.conversations) if (c.owner !== 'bot') state.conversations.delete(id);
  for (const c of data.conversations) state.conversations.set(c.id, c);
  renderList();
}

async function loadAgents() {
  const data = await api('GET', '/api/agent/agents');
  state.agents = data.agents;
  renderOnline(state.agents.filter((a) => a.online).map((a) => a.id));
}

// ---- live events -----------------------------------------------------------------------------
async function connectEvents() {
  state.events?.abort();
  const controller = new AbortController();
  state.events = controller;
  try {
    const res = await fetch('/api/agent/events', { headers: { authorization: `Bearer ${state.token}` }, signal: controller.signal });
    if (res.status === 401) return signOut(signedOutMessage(await res.json().catch(() => ({}))));
    if (!res.ok || !res.body) throw new Error(`event stream: ${res.status}`);
    setLive(true);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let i;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        handleBlock(buffer.slice(0, i));
        buffer = buffer.slice(i + 2);
      }
    }
  } catch (err) {
    if (controller.signal.aborted) return;
  }
  setLive(false);
  if (!state.token || controller.signal.aborted) return;
  // Catch up on what happened while disconnected (a restarted server, a dropped network), then listen again.
  setTimeout(async () => {
    if (!state.token) return;
    await Promise.all([loadList('active'), loadKnowledge(), state.selectedId ? openConversation(state.selectedId, { quiet: true }) : null]).catch(() => {});
    if (state.token) connectEvents();
  }, 2000);
}

/** @param {boolean} live */
function setLive(live) {
  $('connection').textContent = live ? 'live' : 'reconnecting…';
  $('connection').classList.toggle('live', live);
}

/** One server-sent event: `event:` and `data:` lines. @param {string} block */
function handleBlock(block) {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trim();
  }
  if (!data) return;
  const payload = JSON.parse(data);
  if (event === 'conversation') onConversation(payload.change, payload.conversation);
  else if (event === 'message') {
    customerTypingOver(payload.conversationId, payload.activity);
    onMessage(payload.conversationId, payload.activity);
  }
  else if (event === 'typing') customerTyping(payload.conversationId);
  else if (event === 'presence') renderOnline(payload.agentsOnline);
  else if (event === 'knowledge') {
    onKnowledge(payload.status);
    onKnowledgeChanges(payload.changes);
  }
}

/** @param {string} change @param {Conversation} c */
function onConversation(change, c) {
  state.conversations.set(c.id, c);
  if (change === 'queued') escalation(c);
  renderList();
  if (c.id !== state.selectedId || !state.detail) return;
  // The header and the buttons follow at once; the transcript (with the server's new system line) is read again.
  state.detail.conversation = c;
  renderDetail();
  openConversation(c.id, { quiet: true });
}

/** A message event: the row's preview (a customer's message) and the open transcript. @param {string} conversationId @param {Activity} activity */
function onMessage(conversationId, activity) {
  const c = state.conversations.get(conversationId);
  if (c && activity.type === 'message' && activity.text && !activity.channelData?.switchboard?.agent && activity.from?.role !== 'bot') {
    c.preview = { text: activity.text, at: activity.timestamp };
    renderList();
  }
  if (conversationId !== state.selectedId || !state.detail) return;
  if (state.detail.transcript.some((a) => a.id && a.id === activity.id)) return;
  state.detail.transcript.push(activity);
  renderTranscript();
}

/** @param {Conversation} c */
function escalation(c) {
  state.unseen += 1;
  document.title = `(${state.unseen}) New escalation — ${iso(c.customer.label)}`;
  beep();
  state.flash = c.id;
}

function beep() {
  const ctx = state.audio;
  if (!ctx) return;
  try {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.3);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.3);
  } catch {}
}

// Browsers allow sound only after a user gesture: a console restored from the session gets it on the first click.
document.addEventListener('click', () => {
  try {
    state.audio ??= new AudioContext();
    if (state.audio.state === 'suspended') state.audio.resume();
  } catch {}
});

window.addEventListener('focus', () => {
  state.unseen = 0;
  document.title = BASE_TITLE;
});

/** @param {string[]} ids */
function renderOnline(ids) {
  $('online').textContent = `${ids.length} agent${ids.length === 1 ? '' : 's'} online`;
  for (const a of state.agents) a.online = ids.includes(a.id);
}

// ---- queue list ------------------------------------------------------------------------------
document.querySelectorAll('#tabs button').forEach((/** @type {any} */ b) =>
  b.addEventListener('click', async () => {
    state.tab = b.dataset.status;
    document.querySelectorAll('#tabs button').forEach((x) => x.classList.toggle('active', x === b));
    if (state.tab === 'bot' || state.tab === 'resolved') await loadList(state.tab).catch((e) => report(e));
    renderList();
  }),
);

/** The queue in the server's order (priority first, then first come first served), with positions. @param {Conversation[]} all */
function queue(all) {
  const q = all
    .filter((c) => c.owner === 'queued')
    .sort((a, b) => b.priority - a.priority || (a.queuedAt || '').localeCompare(b.queuedAt || '') || a.id.localeCompare(b.id));
  q.forEach((c, i) => (c.position = i + 1));
  return q;
}

function visible() {
  const all = [...state.conversations.values()];
  const mine = (/** @type {Conversation} */ c) => c.owner === 'assigned' && c.agentId === state.agent?.id;
  $('count-queued').textContent = queue(all).length;
  $('count-mine').textContent = all.filter(mine).length;
  switch (state.tab) {
    case 'queued':
      return queue(all);
    case 'mine':
      return all.filter(mine);
    case 'assigned':
      return all.filter((c) => c.owner === 'assigned');
    case 'bot':
      return all.filter((c) => c.owner === 'bot' && !c.resolvedAt).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    case 'resolved':
      return all.filter((c) => c.owner === 'bot' && c.resolvedAt).sort((a, b) => (b.resolvedAt ?? '').localeCompare(a.resolvedAt ?? ''));
  }
  return all;
}

function renderList() {
  const rows = visible();
  const list = $('queue');
  list.replaceChildren(
    ...rows.map((c) =>
      el(
        'li',
        { class: [c.id === state.selectedId ? 'selected' : '', c.id === state.flash ? 'new' : ''].join(' '), dataset: { id: c.id, testid: 'queue-row' }, onclick: () => openConversation(c.id) },
        el('span', { class: 'name', title: c.customer.label }, el('bdi', {}, c.customer.label)),
        el('span', { class: 'wait', dataset: { since: c.owner === 'queued' ? c.queuedAt : c.assignedAt || c.updatedAt } }, ''),
        el(
          'span',
          {},
          el('span', { class: 'tag' }, c.channelId),
          c.owner === 'queued' && c.position ? el('span', { class: 'tag' }, `#${c.position}`) : null,
          el('span', { class: `tag p${c.priority}` }, `priority ${c.priority}`),
          c.team ? el('span', { class: 'tag' }, c.team) : null,
          c.reason ? REASONS[c.reason] || c.reason : '',
          c.owner === 'assigned' ? [' · ', el('bdi', {}, c.agentName)] : '',
        ),
        el('span', { class: 'window', dataset: { window: c.id } }, ''),
        c.preview ? el('span', { class: 'preview', dataset: { testid: 'preview' }, title: c.preview.text }, el('bdi', {}, c.preview.text.slice(0, 200))) : null,
      ),
    ),
  );
  $('queue-empty').hidden = rows.length > 0;
  tick();
}

function tick() {
  document.querySelectorAll('[data-since]').forEach((/** @type {any} */ n) => {
    n.textContent = n.dataset.since ? duration(Date.now() - new Date(n.dataset.since).getTime()) : '';
  });
  document.querySelectorAll('[data-window]').forEach((/** @type {any} */ n) => {
    const c = state.conversations.get(n.dataset.window);
    n.textContent = c ? windowText(c) : '';
    n.classList.toggle('closing', !!c?.replyWindow?.agentClosesAt && new Date(c.replyWindow.agentClosesAt).getTime() - Date.now() < 3600_000);
  });
  if (state.detail) {
    const c = state.detail.conversation;
    $('d-window').textContent = windowText(c);
  }
}
setInterval(tick, 1000);

// ---- knowledge -------------------------------------------------------------------------------
async function loadKnowledge() {
  const data = await api('GET', `/api/agent/knowledge?days=${encodeURIComponent($('kb-days').value)}`);
  state.kbGaps = data.gaps;
  onKnowledge(data.status);
  onKnowledgeChanges(data.changes);
  renderGaps();
}

/** The newest replay of the saved questions wins, fetched or pushed. @param {any} changes */
function onKnowledgeChanges(changes) {
  if (changes && (!state.kbChanges || changes.computedAt >= state.kbChanges.computedAt)) state.kbChanges = changes;
  renderKnowledgeChanges();
}

/** An outcome as an editor reads it. @param {{kind: string, entryIds: string[], confidence: number}} o */
function outcomeText(o) {
  if (o.kind === 'answer') return `answer ${o.entryIds[0]} (${o.confidence.toFixed(2)})`;
  if (o.kind === 'suggest') return `suggest ${o.entryIds.join(', ')}`;
  return 'no answer';
}

/** "This edit changed N answers": the saved customer questions whose reply the last edit changed, the most asked first. */
function renderKnowledgeChanges() {
  const c = state.kbChanges;
  $('kb-changes').hidden = !c;
  if (!c) return;
  $('kb-changes-title').textContent = `This edit changed ${plural(c.changedCount, 'answer')}`;
  const shown = c.changed.length < c.changedCount ? ` The ${c.changed.length} most asked are listed.` : '';
  $('kb-changes-note').textContent =
    `The edit loaded at ${clockTime(c.loadedAt)}, replayed over ${plural(c.questions, 'saved customer question')}: ` +
    `${plural(c.changedAsked, 'asking')} would now get another reply.${shown}`;
  $('kb-changes-list').replaceChildren(
    ...c.changed.map((/** @type {any} */ q) =>
      el(
        'li',
        { dataset: { testid: 'kb-change' } },
        el('span', { class: 'name' }, q.question),
        el('span', { class: 'count' }, `${q.count}×`),
        el('span', { class: 'muted' }, `${outcomeText(q.before)} → ${outcomeText(q.after)}`),
      ),
    ),
  );
}

/** The latest of a fetched and a pushed state wins, whichever arrives last. @param {any} status */
function onKnowledge(status) {
  const stamp = (/** @type {any} */ s) => (s ? [s.loadedAt, s.lastErrorAt || ''].sort().at(-1) : '');
  if (!status || stamp(status) >= stamp(state.kbStatus)) state.kbStatus = status;
  renderKnowledgeStatus();
}

/** @param {number} n @param {string} one @param {string} [many] */
function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** The banner (seen from every view while an edit stands rejected), the header's entry count and the view's status line. */
function renderKnowledgeStatus() {
  const s = state.kbStatus;
  $('kb-open').hidden = !s;
  $('kb-banner').hidden = !s?.lastError;
  if (!s) return;
  $('kb-entries').textContent = String(s.entries);
  $('kb-open').classList.toggle('alert', !!s.lastError);
  $('kb-status').textContent = [
    `${plural(s.entries, 'entry', 'entries')} in ${plural(s.files, 'file')}`,
    `loaded at ${clockTime(s.loadedAt)} (took ${s.lastReloadMs} ms)`,
    s.watching ? 'saved edits go live by themselves' : 'not watching the folder: restart the server to pick up edits',
  ].join(' · ');
  if (!s.lastError) return $('kb-banner-problems').replaceChildren();
  const problems = s.problems || [];
  const stopped = !s.watching && problems.length === 0;
  /** @type {{path: string, serving: string}[]} */
  const held = s.heldBack || [];
  $('kb-banner-title').textContent = stopped
    ? `Knowledge no longer follows edits — still serving the version loaded at ${clockTime(s.loadedAt)}`
    : held.length
      ? `${held.length === 1 ? held[0].path : plural(held.length, 'file')} held back — ${held.length === 1 ? (held[0].serving === 'nothing' ? 'not served until it is fixed' : 'its last good version is still served') : 'each serves its last good version (new files: nothing)'}; the other edits are live`
      : `Knowledge edit rejected — still serving the version loaded at ${clockTime(s.loadedAt)}`;
  const more = (s.problemCount || 0) - problems.length;
  $('kb-banner-problems').replaceChildren(
    ...(problems.length ? problems : [s.lastError]).map((/** @type {string} */ p) => el('li', { dataset: { testid: 'kb-problem' } }, p)),
    ...(more > 0 ? [el('li', {}, `… and ${plural(more, 'more problem')} (npm run kb -- check lists them all)`)] : []),
  );
  $('kb-banner-note').textContent = `${s.lastErrorAt ? `Since ${clockTime(s.lastErrorAt)}. ` : ''}${stopped ? '' : 'Fix and save: this banner goes once every file loads again.'}`;
}

function renderGaps() {
  const gaps = state.kbGaps;
  const empty = (/** @type {string} */ text) => el('li', { class: 'empty muted' }, text);
  if (!gaps) {
    $('kb-asked').textContent = 'This server does not record what customers ask.';
    $('kb-unanswered').replaceChildren();
    $('kb-unhelpful').replaceChildren();
    return;
  }
  $('kb-asked').textContent = `${plural(gaps.asked, 'question')} the bot could not answer in the last ${plural(gaps.days, 'day')}, the most asked first.`;
  $('kb-unanswered').replaceChildren(
    ...gaps.unanswered.map((/** @type {any} */ g) =>
      el(
        'li',
        { dataset: { testid: 'kb-gap' } },
        el('span', { class: 'name' }, g.query),
        el('span', { class: 'count' }, `${g.count}×`),
        el('span', { class: 'muted' }, `${g.channels.join(', ')} · last asked ${clockTime(g.lastAt)}`),
      ),
    ),
    ...(gaps.unanswered.length ? [] : [empty('Nothing left unanswered in this period.')]),
  );
  $('kb-unhelpful').replaceChildren(
    ...gaps.unhelpful.map((/** @type {any} */ f) =>
      el(
        'li',
        { dataset: { testid: 'kb-unhelpful' } },
        el('span', { class: 'name' }, f.question || f.entryId),
        el('span', { class: 'count' }, `${f.notHelpful}×`),
        el('span', { class: 'muted' }, `${f.entryId} · did not help ${plural(f.notHelpful, 'time')}, helped ${plural(f.helpful, 'time')}`),
      ),
    ),
    ...(gaps.unhelpful.length ? [] : [empty('No answer was marked as unhelpful.')]),
  );
}

/** The knowledge view takes the conversation's place on the right. */
function showKnowledge() {
  state.selectedId = null;
  state.detail = null;
  $('detail').hidden = true;
  $('analytics').hidden = true;
  $('knowledge').hidden = false;
  renderList();
  act(loadKnowledge);
}

$('kb-open').addEventListener('click', showKnowledge);
$('kb-refresh').addEventListener('click', () => act(loadKnowledge));
$('kb-days').addEventListener('change', () => act(loadKnowledge));

// ---- conversation view -----------------------------------------------------------------------
/** @param {string} id @param {{ quiet?: boolean }} [options] quiet: a refresh, not the agent opening it */
async function openConversation(id, { quiet = false } = {}) {
  if (!quiet) {
    state.unseen = 0;
    document.title = BASE_TITLE;
    if (state.flash === id) state.flash = null;
  }
  try {
    const data = await api('GET', `/api/agent/conversations/${encodeURIComponent(id)}`);
    state.selectedId = id;
    state.detail = data;
    state.conversations.set(id, data.conversation);
    $('knowledge').hidden = true;
    $('analytics').hidden = true;
    renderDetail();
    renderList();
  } catch (err) {
    report(err);
  }
}

/**
 * What each action button can do for `c`, and why not when it cannot (its title and the line under the buttons).
 * @param {Conversation} c @param {string} me
 */
function actionsFor(c, me) {
  const mine = c.owner === 'assigned' && c.agentId === me;
  const heldBy = c.owner === 'assigned' && !mine ? `Held by ${iso(c.agentName || c.agentId || 'another agent')}` : '';
  return {
    mine,
    heldBy,
    claim: mine ? 'You hold this conversation' : heldBy,
    resolve: mine ? '' : heldBy || (c.owner === 'queued' ? 'Claim the conversation first' : 'The bot has this conversation; nothing to resolve'),
    transfer: mine || c.owner === 'queued' ? '' : heldBy || 'The bot has this conversation; take it over first',
    send: mine ? '' : heldBy || 'Claim the conversation to reply',
  };
}

/** @param {string} id @param {string} why empty: enabled */
function able(id, why) {
  const button = $(id);
  button.disabled = !!why;
  button.title = why;
}

function renderDetail() {
  if (!state.detail || !state.agent) return;
  const { conversation: c, context } = state.detail;
  $('detail').hidden = false;
  $('d-customer').replaceChildren(el('bdi', {}, c.customer.label));
  $('d-customer').title = c.customer.label;
  $('d-contact').replaceChildren(...(c.customer.contact ? [el('bdi', {}, c.customer.contact)] : []));
  $('d-contact').hidden = !c.customer.contact;
  const status = c.owner === 'queued' ? [`waiting${c.position ? ` (#${c.position})` : ''}`] : c.owner === 'assigned' ? ['with ', el('bdi', {}, c.agentName)] : [c.resolvedAt ? 'resolved, with the bot' : 'with the bot'];
  $('d-meta').replaceChildren(`${c.channelId} · `, ...status, c.team ? ` · team ${c.team}` : '', ...csatBadge(state.detail.csat));
  const can = actionsFor(c, state.agent.id);
  $('claim').textContent = c.owner === 'bot' ? 'Take over' : 'Claim';
  able('claim', can.claim);
  able('resolve', can.resolve);
  able('transfer', can.transfer);
  $('transfer-to').disabled = !!can.transfer;
  able('send', can.send);
  able('attach', can.send);
  $('actions-note').textContent = can.mine ? '' : can.heldBy ? `${can.heldBy}: only they can reply, transfer or resolve.` : '';
  $('reply').placeholder = can.mine ? 'Write to the customer…' : can.send;
  const me = state.agent.id;
  const teams = [...new Set(state.agents.flatMap((a) => a.teams))];
  $('transfer-to').replaceChildren(
    ...state.agents.filter((a) => a.id !== me).map((a) => el('option', { value: `agent:${a.id}` }, `${iso(a.name)}${a.online ? ' (online)' : ''}`)),
    ...teams.map((t) => el('option', { value: `team:${t}` }, `Team ${t}`)),
    el('option', { value: 'team:' }, 'Back to the queue'),
  );
  const dl = $('d-context');
  dl.replaceChildren(
    el('dt', {}, 'Reason'), el('dd', {}, context.reason ? REASONS[context.reason] || context.reason : '—'),
    el('dt', {}, 'Question'), el('dd', { dataset: { testid: 'question' } }, context.question || '—'),
    el('dt', {}, 'Rejected'), el('dd', {}, context.rejected?.length ? context.rejected.map((/** @type {any} */ r) => r.question || r.id).join('; ') : '—'),
    el('dt', {}, 'Priority'), el('dd', {}, String(context.priority ?? c.priority)),
  );
  const failures = state.detail.deliveryFailures || [];
  $('d-failures').hidden = failures.length === 0;
  $('d-failure-list').replaceChildren(...failures.map((/** @type {any} */ f) => el('li', { class: 'failure' }, `${new Date(f.at).toLocaleString()}: ${f.text ? `"${f.text.slice(0, 60)}" — ` : ''}${f.message} (code ${f.code})`)));
  renderSummary(context.summary);
  $('d-notes').replaceChildren(...c.notes.map((n) => el('li', {}, el('b', {}, el('bdi', {}, n.agentName)), ': ', n.text)));
  renderTranscript();
  tick();
}

/**
 * The customer's rating of the latest resolution ("★ 4/5 — 'quick and kind'"), or nothing when they gave none.
 * @param {Detail['csat']} csat
 */
function csatBadge(csat) {
  if (!csat?.rating) return [];
  const text = `★ ${csat.rating}/5${csat.comment ? ` — “${csat.comment}”` : ''}`;
  return [' · ', el('span', { class: 'csat', dataset: { testid: 'csat' }, title: 'Customer satisfaction after the resolution' }, el('bdi', {}, text))];
}

/**
 * A line the server wrote (`channelData.switchboard.system`: handoff requested, claimed, transferred,
 * resolved). Events anyone else sent, the customer included, are never drawn as system lines.
 * @param {Activity} a
 */
function systemLine(a) {
  if (a.type !== 'event' || a.channelData?.switchboard?.system !== true) return undefined;
  if (a.name === 'handoff.initiate') return 'Handed to a person';
  const message = String(a.value?.message ?? '');
  if (message) return message[0].toUpperCase() + message.slice(1);
  return a.value?.state ? `Handoff ${a.value.state}` : undefined;
}

/**
 * The handoff summary in the side panel: the customer's problem in their own words first, then the
 * details by kind, each value on its own line so it can be read and copied at a glance.
 * Styles are set through CSSOM: the console's Content-Security-Policy refuses `style` attributes.
 */
function renderSummary(summary) {
  /** @type {<T extends HTMLElement>(node: T, css: Partial<CSSStyleDeclaration>) => T} */
  const styled = (node, css) => Object.assign(node.style, css) && node;
  let box = $('d-summary');
  if (box.tagName !== 'DIV') {
    // The page's placeholder is a <p>, which cannot hold quotes and a list.
    const div = el('div', { id: 'd-summary', dataset: { testid: 'summary' } });
    box.replaceWith(div);
    box = div;
  }
  /** @type {Array<[string, string[] | undefined]>} */
  const kinds = [
    ['Order / ref', summary?.orderNumbers],
    ['Email', summary?.emails],
    ['Phone', summary?.phoneNumbers],
    ['Postcode', summary?.postcodes],
    ['Amount', summary?.amounts],
    ['Date', summary?.dates],
  ].filter(([, values]) => values?.length);
  const problem = summary?.problem ?? [];
  if (!problem.length && !kinds.length) {
    const none = !summary ? 'No summary yet.' : summary.text || 'The customer has not described a problem or given any details.';
    box.replaceChildren(styled(el('p', { class: 'muted' }, none), { margin: '0', overflowWrap: 'anywhere' }));
    return;
  }
  const quoteStyle = { margin: '0 0 6px', padding: '4px 8px', borderLeft: '3px solid var(--accent)', background: '#f9fafb', borderRadius: '0 6px 6px 0', overflowWrap: 'anywhere' };
  box.replaceChildren(
    ...problem.map((text) => styled(el('blockquote', { dir: 'auto', dataset: { testid: 'summary-problem' } }, text), quoteStyle)),
    kinds.length
      ? styled(
          el(
            'dl',
            {},
            ...kinds.flatMap(([label, values]) => [
              el('dt', {}, label),
              styled(
                el('dd', { dataset: { testid: 'summary-detail' } }, ...(values ?? []).map((v) => styled(el('span', { dir: 'auto' }, v), { display: 'block', marginBottom: '2px' }))),
                { margin: '0', overflowWrap: 'anywhere', minWidth: '0' },
              ),
            ]),
          ),
          { marginTop: '8px' },
        )
      : null,
  );
}

function renderTranscript() {
  if (!state.detail) return;
  const { conversation: c, transcript } = state.detail;
  const list = $('transcript');
  let lastConversation = null;
  const items = [];
  for (const a of transcript) {
    if (a.conversation?.id && a.conversation.id !== lastConversation) {
      if (lastConversation !== null || a.conversation.id !== c.id) items.push(el('li', { class: 'system' }, a.conversation.id === c.id ? '— this conversation —' : '— earlier conversation —'));
      lastConversation = a.conversation.id;
    }
    const earlier = a.conversation?.id && a.conversation.id !== c.id ? ' earlier' : '';
    const system = systemLine(a);
    if (system) {
      items.push(el('li', { class: 'system' + earlier, dataset: { testid: 'system-line' } }, system));
      continue;
    }
    const change = customerChange(a);
    if (change) {
      items.push(el('li', { class: 'system' + earlier, dataset: { testid: 'customer-change' } }, ...change));
      continue;
    }
    if (a.type !== 'message') continue;
    const agent = a.channelData?.switchboard?.agent;
    // Outgoing activities do not always carry a role: whoever is not the customer is the bot.
    const role = agent ? 'agent' : a.from?.role !== 'bot' && (a.from?.id === c.customer.id || a.from?.role === 'user') ? 'user' : 'bot';
    const who = agent ? agent.agentName : role === 'bot' ? 'Bot' : c.customer.label;
    const when = a.timestamp ? new Date(a.timestamp).toLocaleTimeString() : '';
    // The bot and agents write Markdown (rendered safely); what the customer typed is always plain text.
    const text = a.text ? el('div', { class: role === 'user' ? 'text' : 'text md' }, role === 'user' ? a.text : renderMarkdown(a.text)) : undefined;
    // Files (photos inline, others as downloads) under the caption; see media.js.
    const files = (a.attachments ?? []).map((x) => attachmentView(x, { token: state.token, records: /** @type {any} */ (state.detail)?.media })).filter(Boolean);
    const body = text || files.length ? [text, ...files] : a.attachments?.length ? `[${a.attachments.map((x) => x.contentType).join(', ')}]` : '';
    items.push(el('li', { class: role + earlier, dataset: { testid: 'transcript-item' } }, el('span', { class: 'who' }, el('bdi', { title: who }, who), ' ', el('span', { class: 'when' }, when)), body));
    const receipt = agent && a.id ? receiptOf(a.id) : undefined;
    if (receipt) items[items.length - 1].append(receipt);
  }
  list.replaceChildren(...items);
  list.scrollTop = list.scrollHeight;
}

/**
 * A customer's reaction, edit or delete of an earlier message, as a line for the agent (what they
 * wrote stays a text node). @param {Activity} a @returns {(string | Node)[] | undefined}
 */
function customerChange(a) {
  const change = /** @type {any} */ (a);
  if (a.type === 'messageReaction') {
    const added = (change.reactionsAdded ?? []).map((/** @type {{ type: string }} */ r) => r.type).filter(Boolean).join(' ');
    return added ? ['Customer reacted ', el('bdi', {}, added)] : ['Customer removed a reaction'];
  }
  if (a.type === 'messageUpdate') return a.text ? ['Customer edited a message: ', el('bdi', {}, a.text)] : ['Customer edited a message'];
  if (a.type === 'messageDelete') return ['Customer deleted a message'];
  return undefined;
}

/** "delivered" / "read" under an agent's message, from the platform's receipts (Messenger, WhatsApp). @param {string} id */
function receiptOf(id) {
  const status = /** @type {any} */ (state.detail)?.deliveryStatus?.[id];
  if (status !== 'delivered' && status !== 'read') return undefined;
  return el('span', { class: 'receipt', dataset: { testid: 'receipt' } }, status);
}

/** Runs an action of the agent; what fails is said above the console. @param {() => Promise<unknown>} fn */
async function act(fn) {
  showError('');
  try {
    await fn();
  } catch (err) {
    report(err);
  }
}

const currentPath = () => `/api/agent/conversations/${encodeURIComponent(state.selectedId ?? '')}`;
const selected = () => /** @type {string} */ (state.selectedId);

$('claim').addEventListener('click', () => act(async () => {
  await api('POST', `${currentPath()}/claim`);
  state.tab = 'mine';
  document.querySelectorAll('#tabs button').forEach((/** @type {any} */ x) => x.classList.toggle('active', x.dataset.status === 'mine'));
  await openConversation(selected());
}));

$('resolve').addEventListener('click', () => act(async () => {
  await api('POST', `${currentPath()}/resolve`);
  await openConversation(selected(), { quiet: true });
}));

$('transfer').addEventListener('click', () => act(async () => {
  const [kind, value] = $('transfer-to').value.split(/:(.*)/);
  const body = kind === 'agent' ? { agentId: value } : { team: value || null };
  await api('POST', `${currentPath()}/transfer`, body);
  await openConversation(selected(), { quiet: true });
}));

/** The file chosen for the next reply (uploaded when the reply is sent). @type {File | undefined} */
let attachedFile;

/** @param {File | undefined} file */
function setAttachment(file) {
  attachedFile = file;
  /** @type {HTMLInputElement} */ ($('attach-file')).value = '';
  $('attached').textContent = file ? `${file.name} (${file.size < 1024 * 1024 ? `${Math.ceil(file.size / 1024)} KB` : `${(file.size / 1024 / 1024).toFixed(1)} MB`})` : '';
  $('attached').hidden = !file;
  $('attach-remove').hidden = !file;
}

$('attach').addEventListener('click', () => $('attach-file').click());
$('attach-file').addEventListener('change', () => setAttachment(/** @type {HTMLInputElement} */ ($('attach-file')).files?.[0]));
$('attach-remove').addEventListener('click', () => setAttachment(undefined));

$('reply-form').addEventListener('submit', (/** @type {SubmitEvent} */ e) => {
  e.preventDefault();
  const text = $('reply').value.trim();
  const file = attachedFile;
  if (!text && !file) return;
  act(async () => {
    const attachments = [];
    if (file) {
      // Stored first, and refused there (with the reason) if the customer's channel cannot take it.
      const form = new FormData();
      form.append('file', file, file.name);
      attachments.push((await api('POST', `${currentPath()}/attachments`, form)).mediaId);
    }
    const data = await api('POST', `${currentPath()}/messages`, { text, attachments });
    // Empty the box only if it still holds what was sent: the agent may have started the next message
    // while this one was on its way, and that must not be wiped.
    if ($('reply').value.trim() === text) $('reply').value = '';
    if (attachedFile === file) setAttachment(undefined);
    onMessage(selected(), data.activity);
  });
});

$('reply').addEventListener('keydown', (/** @type {KeyboardEvent} */ e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('reply-form').requestSubmit();
});

$('note-form').addEventListener('submit', (/** @type {SubmitEvent} */ e) => {
  e.preventDefault();
  const text = $('note').value.trim();
  if (!text) return;
  act(async () => {
    await api('POST', `${currentPath()}/notes`, { text });
    $('note').value = '';
    await openConversation(selected(), { quiet: true });
  });
});

/** @type {ReturnType<typeof setTimeout> | undefined} */
let searchTimer;
$('kb-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const q = $('kb-search').value.trim();
    if (!q) return $('kb-results').replaceChildren();
    const data = await api('GET', `/api/agent/knowledge/search?q=${encodeURIComponent(q)}`).catch(() => ({ matches: [] }));
    $('kb-results').replaceChildren(
      ...data.matches.map((/** @type {{ question: string, answer: string }} */ m) =>
        el('li', { dataset: { testid: 'kb-result' }, onclick: () => {
          const box = $('reply');
          box.value = box.value ? `${box.value}\n${m.answer}` : m.answer;
          $('kb-results').replaceChildren();
          $('kb-search').value = '';
          box.focus();
        } }, el('b', {}, m.question), el('div', { class: 'md preview-md' }, renderMarkdown(m.answer))),
      ),
    );
  }, 250);
});

// ---- typing, both ways -----------------------------------------------------------------------
/** How long "Customer is typing…" stays after the last typing event (Web Chat repeats it every few seconds while typing). */
const CUSTOMER_TYPING_MS = 6000;
/** Least time between two typing signals sent to the customer (the server sends at most one every 3 s too). */
const AGENT_TYPING_EVERY_MS = 3000;
/** @type {Map<string, number>} until when each conversation's customer counts as typing */
const typingUntil = new Map();
let agentTypingSentAt = 0;

/** The line under the transcript; made on first use. */
function typingLine() {
  let line = $('customer-typing');
  if (!line) {
    line = el('div', { id: 'customer-typing', class: 'muted', 'aria-live': 'polite', dataset: { testid: 'customer-typing' } });
    line.style.fontSize = '.85rem';
    line.style.padding = '.25rem .75rem';
    line.style.minHeight = '1.4em';
    $('transcript').after(line);
  }
  return line;
}

function renderCustomerTyping() {
  const until = state.selectedId ? typingUntil.get(state.selectedId) : undefined;
  const typing = until !== undefined && until > Date.now();
  const line = typingLine();
  const text = typing ? 'Customer is typing…' : '';
  if (line.textContent !== text) line.textContent = text;
}

/** @param {string} conversationId */
function customerTyping(conversationId) {
  typingUntil.set(conversationId, Date.now() + CUSTOMER_TYPING_MS);
  renderCustomerTyping();
}

/** A message from the customer ends their typing. @param {string} conversationId @param {Activity} activity */
function customerTypingOver(conversationId, activity) {
  if (activity?.type !== 'message' || activity.channelData?.switchboard?.agent || activity.from?.role === 'bot') return;
  typingUntil.delete(conversationId);
  renderCustomerTyping();
}
setInterval(renderCustomerTyping, 1000); // expires the line, and follows the selected conversation

$('reply').addEventListener('input', () => {
  if ($('send').disabled || !$('reply').value.trim() || Date.now() - agentTypingSentAt < AGENT_TYPING_EVERY_MS) return;
  agentTypingSentAt = Date.now();
  api('POST', `${currentPath()}/typing`).catch(() => {}); // only a courtesy: a failure must not disturb the reply
});

// The analytics view, like the knowledge view, takes the conversation's place on the right.
mountAnalytics({ api, onError: report, beforeShow: () => {
  Object.assign(state, { selectedId: null, detail: null });
  $('detail').hidden = $('knowledge').hidden = true;
  renderList();
} });

// ---- boot ------------------------------------------------------------------------------------
if (state.token) start();
else signOut('');
