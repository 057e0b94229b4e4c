// Switchboard agent console: plain ES module, no build step, no CDN. Talks to /api/agent/* with the
// Bearer token from sign-in and listens to /api/agent/events (server-sent events read with fetch,
// because EventSource cannot send an Authorization header).
import { renderMarkdown } from './markdown.js';

const $ = (id) => document.getElementById(id);
const BASE_TITLE = 'Switchboard — agent console';
const state = {
  token: sessionStorage.getItem('switchboard.token') || '',
  agent: null,
  tab: 'queued',
  conversations: new Map(),
  selectedId: null,
  detail: null,
  agents: [],
  unseen: 0,
  events: null,
  audio: null,
  kbStatus: null, // the knowledge's state: from /api/agent/knowledge, then live from the event stream
  kbGaps: null,
};

// ---- helpers ---------------------------------------------------------------------------------
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

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = !message;
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path !== '/api/agent/login') {
    signOut(data.message || 'Your session has ended; sign in again.');
    throw new Error(data.message || 'signed out');
  }
  if (!res.ok) {
    const err = new Error(data.message || `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.data = data;
    throw err;
  }
  return data;
}

function explain(err) {
  const d = err.data || {};
  if (d.code === 'ReplyWindowClosed') return `Not sent: the customer's reply window is closed${d.closedAt ? ` (closed ${new Date(d.closedAt).toLocaleString()})` : ''}. ${err.message}`;
  if (d.holder) return `${err.message}`;
  return err.message;
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h >= 24) return `${Math.floor(h / 24)}d ${h % 24}h`;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
  return `${m}:${String(sec).padStart(2, '0')}`;
}

/** HH:MM (24 h), with the day in front when it is not today. */
function clockTime(iso) {
  const d = new Date(iso);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

function windowText(c) {
  const w = c.replyWindow;
  if (!w || !w.agentClosesAt) return '';
  const left = new Date(w.agentClosesAt).getTime() - Date.now();
  return left > 0 ? `Reply window: ${duration(left)} left` : 'Reply window closed — the customer has to write first';
}

const REASONS = {
  'customer-asked': 'asked for a person',
  'two-misses': 'bot missed twice',
  'not-helpful': 'answer did not help',
  'entry-handoff': 'topic needs a person',
  'agent-takeover': 'taken over by an agent',
};

// ---- sign-in ---------------------------------------------------------------------------------
function signOut(message) {
  state.token = '';
  state.agent = null;
  sessionStorage.removeItem('switchboard.token');
  state.events?.abort();
  $('console').hidden = true;
  $('whoami').hidden = true;
  $('signin').hidden = false;
  showError(message || '');
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    state.audio ??= new AudioContext(); // created on a user gesture so the escalation sound may play
  } catch {}
  const res = await fetch('/api/agent/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) return showError(data.message || 'Sign-in failed');
  state.token = data.token;
  sessionStorage.setItem('switchboard.token', data.token);
  start();
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/api/agent/logout').catch(() => {});
  signOut('Signed out.');
});

async function start() {
  try {
    const me = await api('GET', '/api/agent/me');
    state.agent = me.agent;
  } catch {
    return signOut('');
  }
  showError('');
  $('signin').hidden = true;
  $('console').hidden = false;
  $('whoami').hidden = false;
  $('agent-name').textContent = state.agent.name;
  await Promise.all([loadList('active'), loadAgents(), loadKnowledge().catch((err) => showError(explain(err)))]);
  connectEvents();
}

async function loadList(status) {
  const data = await api('GET', `/api/agent/conversations?status=${status}`);
  if (status === 'active') for (const [id, c] of state.conversations) if (c.owner !== 'bot') state.conversations.delete(id);
  for (const c of data.conversations) state.conversations.set(c.id, c);
  renderList();
}

async function loadAgents() {
  const data = await api('GET', '/api/agent/agents');
  state.agents = data.agents;
  renderOnline(data.agents.filter((a) => a.online).map((a) => a.id));
}

// ---- live events -----------------------------------------------------------------------------
async function connectEvents() {
  state.events?.abort();
  const controller = new AbortController();
  state.events = controller;
  try {
    const res = await fetch('/api/agent/events', { headers: { authorization: `Bearer ${state.token}` }, signal: controller.signal });
    if (res.status === 401) return signOut('Your session has ended; sign in again.');
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
  setTimeout(async () => {
    await Promise.all([loadList('active'), loadKnowledge()]).catch(() => {}); // catch up on what happened while disconnected
    connectEvents();
  }, 2000);
}

function setLive(live) {
  $('connection').textContent = live ? 'live' : 'reconnecting…';
  $('connection').classList.toggle('live', live);
}

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
  else if (event === 'message') onMessage(payload.conversationId, payload.activity);
  else if (event === 'presence') renderOnline(payload.agentsOnline);
  else if (event === 'knowledge') onKnowledge(payload.status);
}

function onConversation(change, c) {
  state.conversations.set(c.id, c);
  if (change === 'queued') escalation(c);
  renderList();
  if (c.id === state.selectedId) openConversation(c.id, { quiet: true });
}

function onMessage(conversationId, activity) {
  if (conversationId !== state.selectedId || !state.detail) return;
  if (state.detail.transcript.some((a) => a.id && a.id === activity.id)) return;
  state.detail.transcript.push(activity);
  renderTranscript();
}

function escalation(c) {
  state.unseen += 1;
  document.title = `(${state.unseen}) New escalation — ${c.customer.name || 'customer'}`;
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

function renderOnline(ids) {
  $('online').textContent = `${ids.length} agent${ids.length === 1 ? '' : 's'} online`;
  for (const a of state.agents) a.online = ids.includes(a.id);
}

// ---- queue list ------------------------------------------------------------------------------
document.querySelectorAll('#tabs button').forEach((b) =>
  b.addEventListener('click', async () => {
    state.tab = b.dataset.status;
    document.querySelectorAll('#tabs button').forEach((x) => x.classList.toggle('active', x === b));
    if (state.tab === 'bot' || state.tab === 'resolved') await loadList(state.tab).catch((e) => showError(explain(e)));
    renderList();
  }),
);

/** The queue in the server's order (priority first, then first come first served), with positions. */
function queue(all) {
  const q = all
    .filter((c) => c.owner === 'queued')
    .sort((a, b) => b.priority - a.priority || (a.queuedAt || '').localeCompare(b.queuedAt || '') || a.id.localeCompare(b.id));
  q.forEach((c, i) => (c.position = i + 1));
  return q;
}

function visible() {
  const all = [...state.conversations.values()];
  const mine = (c) => c.owner === 'assigned' && c.agentId === state.agent?.id;
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
      return all.filter((c) => c.owner === 'bot' && c.resolvedAt).sort((a, b) => b.resolvedAt.localeCompare(a.resolvedAt));
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
        el('span', { class: 'name' }, c.customer.name || c.customer.id),
        el('span', { class: 'wait', dataset: { since: c.owner === 'queued' ? c.queuedAt : c.assignedAt || c.updatedAt } }, ''),
        el(
          'span',
          {},
          el('span', { class: 'tag' }, c.channelId),
          c.owner === 'queued' && c.position ? el('span', { class: 'tag' }, `#${c.position}`) : null,
          el('span', { class: `tag p${c.priority}` }, `priority ${c.priority}`),
          c.team ? el('span', { class: 'tag' }, c.team) : null,
          c.reason ? REASONS[c.reason] || c.reason : '',
          c.owner === 'assigned' ? ` · ${c.agentName}` : '',
        ),
        el('span', { class: 'window', dataset: { window: c.id } }, ''),
      ),
    ),
  );
  $('queue-empty').hidden = rows.length > 0;
  tick();
}

function tick() {
  document.querySelectorAll('[data-since]').forEach((n) => {
    n.textContent = n.dataset.since ? duration(Date.now() - new Date(n.dataset.since).getTime()) : '';
  });
  document.querySelectorAll('[data-window]').forEach((n) => {
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
  renderGaps();
}

/** The latest of a fetched and a pushed state wins, whichever arrives last. */
function onKnowledge(status) {
  const stamp = (s) => (s ? [s.loadedAt, s.lastErrorAt || ''].sort().at(-1) : '');
  if (!status || stamp(status) >= stamp(state.kbStatus)) state.kbStatus = status;
  renderKnowledgeStatus();
}

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
  $('kb-banner-title').textContent = `${stopped ? 'Knowledge no longer follows edits' : 'Knowledge edit rejected'} — still serving the version loaded at ${clockTime(s.loadedAt)}`;
  const more = (s.problemCount || 0) - problems.length;
  $('kb-banner-problems').replaceChildren(
    ...(problems.length ? problems : [s.lastError]).map((p) => el('li', { dataset: { testid: 'kb-problem' } }, p)),
    ...(more > 0 ? [el('li', {}, `… and ${plural(more, 'more problem')} (npm run kb -- check lists them all)`)] : []),
  );
  $('kb-banner-note').textContent = `${s.lastErrorAt ? `Since ${clockTime(s.lastErrorAt)}. ` : ''}${stopped ? '' : 'Fix and save: this banner goes once the knowledge loads again.'}`;
}

function renderGaps() {
  const gaps = state.kbGaps;
  const empty = (text) => el('li', { class: 'empty muted' }, text);
  if (!gaps) {
    $('kb-asked').textContent = 'This server does not record what customers ask.';
    $('kb-unanswered').replaceChildren();
    $('kb-unhelpful').replaceChildren();
    return;
  }
  $('kb-asked').textContent = `${plural(gaps.asked, 'question')} the bot could not answer in the last ${plural(gaps.days, 'day')}, the most asked first.`;
  $('kb-unanswered').replaceChildren(
    ...gaps.unanswered.map((g) =>
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
    ...gaps.unhelpful.map((f) =>
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
  $('knowledge').hidden = false;
  renderList();
  act(loadKnowledge);
}

$('kb-open').addEventListener('click', showKnowledge);
$('kb-refresh').addEventListener('click', () => act(loadKnowledge));
$('kb-days').addEventListener('change', () => act(loadKnowledge));

// ---- conversation view -----------------------------------------------------------------------
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
    renderDetail();
    renderList();
  } catch (err) {
    showError(explain(err));
  }
}

function renderDetail() {
  const { conversation: c, context } = state.detail;
  $('detail').hidden = false;
  $('d-customer').textContent = c.customer.name || c.customer.id;
  const status = c.owner === 'queued' ? `waiting${c.position ? ` (#${c.position})` : ''}` : c.owner === 'assigned' ? `with ${c.agentName}` : c.resolvedAt ? 'resolved, with the bot' : 'with the bot';
  $('d-meta').textContent = `${c.channelId} · ${status}${c.team ? ` · team ${c.team}` : ''}`;
  const mine = c.owner === 'assigned' && c.agentId === state.agent.id;
  $('claim').textContent = c.owner === 'bot' ? 'Take over' : 'Claim';
  $('claim').disabled = mine;
  $('resolve').disabled = !mine;
  $('transfer').disabled = !(mine || c.owner === 'queued');
  $('send').disabled = !mine;
  $('reply').placeholder = mine ? 'Write to the customer…' : 'Claim the conversation to reply';
  const teams = [...new Set(state.agents.flatMap((a) => a.teams))];
  $('transfer-to').replaceChildren(
    ...state.agents.filter((a) => a.id !== state.agent.id).map((a) => el('option', { value: `agent:${a.id}` }, `${a.name}${a.online ? ' (online)' : ''}`)),
    ...teams.map((t) => el('option', { value: `team:${t}` }, `Team ${t}`)),
    el('option', { value: 'team:' }, 'Back to the queue'),
  );
  const dl = $('d-context');
  dl.replaceChildren(
    el('dt', {}, 'Reason'), el('dd', {}, context.reason ? REASONS[context.reason] || context.reason : '—'),
    el('dt', {}, 'Question'), el('dd', { dataset: { testid: 'question' } }, context.question || '—'),
    el('dt', {}, 'Rejected'), el('dd', {}, context.rejected?.length ? context.rejected.map((r) => r.question || r.id).join('; ') : '—'),
    el('dt', {}, 'Priority'), el('dd', {}, String(context.priority ?? c.priority)),
  );
  const failures = state.detail.deliveryFailures || [];
  $('d-failures').hidden = failures.length === 0;
  $('d-failure-list').replaceChildren(...failures.map((f) => el('li', { class: 'failure' }, `${new Date(f.at).toLocaleString()}: ${f.text ? `"${f.text.slice(0, 60)}" — ` : ''}${f.message} (code ${f.code})`)));
  $('d-summary').textContent = context.summary?.text || 'No emails, phone numbers, order numbers or dates mentioned.';
  $('d-notes').replaceChildren(...c.notes.map((n) => el('li', {}, el('b', {}, n.agentName), ': ', n.text)));
  renderTranscript();
  tick();
}

function renderTranscript() {
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
    if (a.type === 'event' && a.name?.startsWith('handoff.')) {
      const text = a.name === 'handoff.initiate' ? 'Handed to a person' : `Handoff ${a.value?.state ?? ''}${a.value?.message ? ` — ${a.value.message}` : ''}`;
      items.push(el('li', { class: 'system' + earlier }, text));
      continue;
    }
    if (a.type !== 'message') continue;
    const agent = a.channelData?.switchboard?.agent;
    // Outgoing activities do not always carry a role: whoever is not the customer is the bot.
    const role = agent ? 'agent' : a.from?.role !== 'bot' && (a.from?.id === c.customer.id || a.from?.role === 'user') ? 'user' : 'bot';
    const who = agent ? agent.agentName : role === 'bot' ? 'Bot' : a.from?.name || 'Customer';
    const when = a.timestamp ? new Date(a.timestamp).toLocaleTimeString() : '';
    // The bot and agents write Markdown (rendered safely); what the customer typed is always plain text.
    const body = a.text
      ? el('div', { class: role === 'user' ? 'text' : 'text md' }, role === 'user' ? a.text : renderMarkdown(a.text))
      : a.attachments?.length ? `[${a.attachments.map((x) => x.contentType).join(', ')}]` : '';
    items.push(el('li', { class: role + earlier, dataset: { testid: 'transcript-item' } }, el('span', { class: 'who' }, `${who} ${when}`), body));
  }
  list.replaceChildren(...items);
  list.scrollTop = list.scrollHeight;
}

async function act(fn) {
  showError('');
  try {
    await fn();
  } catch (err) {
    showError(explain(err));
  }
}

const currentPath = () => `/api/agent/conversations/${encodeURIComponent(state.selectedId)}`;

$('claim').addEventListener('click', () => act(async () => {
  await api('POST', `${currentPath()}/claim`);
  state.tab = 'mine';
  document.querySelectorAll('#tabs button').forEach((x) => x.classList.toggle('active', x.dataset.status === 'mine'));
  await openConversation(state.selectedId);
}));

$('resolve').addEventListener('click', () => act(async () => {
  await api('POST', `${currentPath()}/resolve`);
  await openConversation(state.selectedId, { quiet: true });
}));

$('transfer').addEventListener('click', () => act(async () => {
  const [kind, value] = $('transfer-to').value.split(/:(.*)/);
  const body = kind === 'agent' ? { agentId: value } : { team: value || null };
  await api('POST', `${currentPath()}/transfer`, body);
  await openConversation(state.selectedId, { quiet: true });
}));

$('reply-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('reply').value.trim();
  if (!text) return;
  act(async () => {
    const data = await api('POST', `${currentPath()}/messages`, { text });
    $('reply').value = '';
    onMessage(state.selectedId, data.activity);
  });
});

$('reply').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('reply-form').requestSubmit();
});

$('note-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('note').value.trim();
  if (!text) return;
  act(async () => {
    await api('POST', `${currentPath()}/notes`, { text });
    $('note').value = '';
    await openConversation(state.selectedId, { quiet: true });
  });
});

let searchTimer;
$('kb-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const q = $('kb-search').value.trim();
    if (!q) return $('kb-results').replaceChildren();
    const data = await api('GET', `/api/agent/knowledge/search?q=${encodeURIComponent(q)}`).catch(() => ({ matches: [] }));
    $('kb-results').replaceChildren(
      ...data.matches.map((m) =>
        el('li', { dataset: { testid: 'kb-result' }, onclick: () => {
          const box = $('reply');
          box.value = box.value ? `${box.value}\n${m.answer}` : m.answer;
          $('kb-results').replaceChildren();
          $('kb-search').value = '';
          box.focus();
        } }, el('b', {}, m.question), el('small', {}, m.answer.slice(0, 140))),
      ),
    );
  }, 250);
});

// ---- boot ------------------------------------------------------------------------------------
if (state.token) start();
else signOut('');
