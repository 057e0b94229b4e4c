/**
 * Fault: an editor turns the knowledge folder into garbage while customers are writing on all three
 * channels — invalid YAML front matter, binary junk, an empty file, a file truncated mid-write, a file
 * deleted and replaced by a broken one, a copy that keeps another entry's id. Every message must get
 * exactly one answer, and it must be the answer of each file's last good version (the same text as before
 * the damage, also for the questions whose files were broken — the deleted file too, since another entry
 * offers it as a follow-up); `/healthz` must say `degraded` and name each held-back file's problems as
 * `path:line: message`; repaired files go live while another is still broken, and at the end the new
 * content is served.
 *
 * The server is the real one in a child process, watching a temp copy of knowledge/ (the production
 * hot reload: chokidar, 50 ms debounce, load and validate the whole folder off to the side, hold back
 * each broken file at its last good version, swap in the rest). Customers run a closed loop (next question as soon as "Did this help?" arrives):
 * WhatsApp and Messenger through signed webhooks with replies recorded by the fake Graph API, web chat
 * through botframework-directlinejs over Direct Line and its WebSocket.
 */
import { expect } from 'chai';
import { cp, mkdtemp, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Activity } from 'botframework-directlinejs';
import { t } from '../../src/bot/strings.js';
import { FakeGraph, type RecordedRequest } from '../fakes/graph.js';
import { connect } from '../webchat/client.js';
import { KNOWLEDGE_DIR, delay, message, metaEnv, post, readMetaTranscripts, reportCounts, startChild, until, type Child, type Msg } from './helpers.js';

const DIRECTLINE_SECRET = 'fault-directline-secret-0123456789abcdefghij';
const CUSTOMERS_PER_CHANNEL = 4;
const DID_THIS_HELP = t('en', 'didThisHelp');
const WELCOME = t('en', 'welcome');
/** Questions the sample knowledge answers outright, and the file each answer comes from. */
const QUESTIONS: Record<string, string> = {
  'How can I pay my bill by card?': 'billing/pay-bill.md',
  'When is my bill due?': 'billing/due-date.md',
  'What are your store opening hours?': 'stores/opening-hours.md',
  'Where is my order?': 'delivery/track-order.md',
  'How do I set up a direct debit?': 'billing/direct-debit.md',
  'I forgot my password': 'account/reset-password.md',
  'Can I use my phone in Europe?': 'roaming/roaming-europe.md',
  'How do I set up an eSIM?': 'sim/esim-setup.md',
};
const QUESTION_LIST = Object.keys(QUESTIONS);
/** The question whose answer the repair changes, and the sentence it adds. */
const EDITED_QUESTION = 'When is my bill due?';
const EDIT_MARKER = 'From 1 March your payment is due 21 days after your billing date.';

const textOf = (r: RecordedRequest): string => r.body.text?.body ?? r.body.interactive?.body?.text ?? r.body.message?.text ?? '';
const toOf = (r: RecordedRequest): string => r.body.to ?? r.body.recipient?.id;

type Channel = 'whatsapp' | 'messenger' | 'webchat';

/** One question of one customer: what it was, when, and every bot message the customer saw for it. */
interface Turn {
  channel: Channel;
  customer: string;
  question: string;
  postedAt: number;
  doneAt: number;
  /** 200 from the webhook or the Direct Line POST. */
  acknowledged: boolean;
  /** The bot messages of this turn, in order ("Did this help?" last), without a first turn's welcome. */
  messages: string[];
  /** "Did this help?" arrived: the bot finished answering. */
  complete: boolean;
}

/** A customer in a closed loop: asks, waits for the end of the answer, asks the next question. */
interface Customer {
  channel: Channel;
  id: string;
  /** Every bot message this customer received, in order. */
  received: string[];
  ask(question: string): Promise<Turn>;
  close(): void;
}

/** Resolves when `received` has grown past `from` and holds "Did this help?" (or after `ms`). */
async function untilAnswered(received: string[], from: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (received.slice(from).some((m) => m.includes(DID_THIS_HELP))) return true;
    await delay(10);
  }
  return false;
}

function metaCustomer(channel: 'whatsapp' | 'messenger', id: string, url: () => string, sent: Msg[]): Customer {
  const received: string[] = [];
  let first = true;
  return {
    channel,
    id,
    received,
    async ask(question) {
      const from = received.length;
      const m = message(channel, id, question);
      sent.push(m);
      const postedAt = Date.now();
      const status = await post(url(), m);
      const complete = status === 200 && (await untilAnswered(received, from, 20_000));
      let messages = received.slice(from);
      // Messenger and WhatsApp have no "conversation started" event: the welcome comes with the first answer.
      if (first && messages[0] === WELCOME) messages = messages.slice(1);
      first = false;
      return { channel, customer: id, question, postedAt, doneAt: Date.now(), acknowledged: status === 200, messages, complete };
    },
    close() {},
  };
}

async function webChatCustomer(url: string, id: string): Promise<Customer> {
  const res = await fetch(`${url}/v3/directline/tokens/generate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DIRECTLINE_SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user: { id } }),
  });
  expect(res.status, 'tokens/generate').to.equal(200);
  const { token } = (await res.json()) as { token: string };
  const client = connect({ domain: `${url}/v3/directline`, token });
  const received: string[] = [];
  const fromBot = (a: Activity) => a.type === 'message' && a.from.role === 'bot';
  // The bot greets when the conversation starts; the customer's first question waits for it.
  await client.waitFor((a) => fromBot(a) && (a as { text?: string }).text === WELCOME, 'web chat welcome', 20_000);
  let seen = 0;
  const sync = () => {
    const bots = client.received.filter(fromBot);
    for (; seen < bots.length; seen++) received.push((bots[seen] as { text?: string }).text ?? '');
  };
  sync();
  return {
    channel: 'webchat',
    id,
    received,
    async ask(question) {
      sync();
      const from = received.length;
      const postedAt = Date.now();
      let acknowledged = true;
      let activityId = '';
      try {
        activityId = await client.post({ text: question, from: { id }, locale: 'en-US' });
      } catch {
        acknowledged = false;
      }
      let complete = false;
      if (acknowledged) {
        try {
          await client.waitFor(
            (a) => fromBot(a) && (a as { replyToId?: string }).replyToId === activityId && ((a as { text?: string }).text ?? '').includes(DID_THIS_HELP),
            `the answer to "${question}"`,
            20_000,
          );
          complete = true;
        } catch {
          complete = false;
        }
      }
      sync();
      return { channel: 'webchat', customer: id, question, postedAt, doneAt: Date.now(), acknowledged, messages: received.slice(from), complete };
    },
    close: () => client.close(),
  };
}

/** The knowledge check of `/healthz` (src/knowledge/knowledge-base.ts healthCheck). */
interface KnowledgeHealth {
  ok: boolean;
  degraded?: true;
  heldBack?: { path: string; change: string; serving: string; problems: string[] }[];
  entries: number;
  files: number;
  loadedAt: string;
  lastError?: string;
  problems?: string[];
}

async function health(url: string): Promise<{ status: number; overall: string; knowledge: KnowledgeHealth }> {
  const res = await fetch(`${url}/healthz`);
  const body = (await res.json()) as { status: string; checks: { knowledge: KnowledgeHealth } };
  return { status: res.status, overall: body.status, knowledge: body.checks.knowledge };
}

describe('faults: knowledge folder edited into garbage under load', function () {
  this.timeout(180_000);
  let graph: FakeGraph;
  let dataDir: string;
  let knowledgeDir: string;
  let child: Child | undefined;
  const customers: Customer[] = [];

  before(async () => {
    graph = new FakeGraph();
    await graph.start();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-fault-kb-data-'));
    knowledgeDir = await mkdtemp(join(tmpdir(), 'switchboard-fault-kb-'));
    await cp(KNOWLEDGE_DIR, knowledgeDir, { recursive: true });
  });
  after(async () => {
    for (const c of customers) c.close();
    await child?.kill();
    await graph.close();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    await rm(knowledgeDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('keeps answering every message once from the last good index, reports each broken file in /healthz, and serves the repair', async () => {
    // Robot customers in a closed loop post faster than any person: the Direct Line rate limit is off here.
    const env = { ...metaEnv(dataDir, graph.url, knowledgeDir), DIRECTLINE_SECRET, DIRECTLINE_POSTS_PER_MINUTE: '0' };
    child = await startChild(env, undefined, { watchKnowledge: true });
    const url = child.url;
    const initial = await health(url);
    expect(initial.knowledge.lastError).to.equal(undefined);

    // Customers: replies from the fake Graph API are routed to them by recipient.
    const sentMeta: Msg[] = [];
    const byRecipient = new Map<string, Customer>();
    let unrouted = 0;
    graph.onRequest((rec) => {
      if (!rec.isMessage || rec.status !== 200) return;
      const c = byRecipient.get(`${rec.api}:${toOf(rec)}`);
      if (c) c.received.push(textOf(rec));
      else unrouted++;
    });
    for (let k = 0; k < CUSTOMERS_PER_CHANNEL; k++) {
      for (const c of [metaCustomer('whatsapp', `4915400000${k}`, () => url, sentMeta), metaCustomer('messenger', `740000000${k}`, () => url, sentMeta)]) {
        byRecipient.set(`${c.channel}:${c.id}`, c);
        customers.push(c);
      }
      customers.push(await webChatCustomer(url, `dl-fault-kb-${k}`));
    }

    // Before the damage: every customer asks every question once; the answers are the baseline.
    const turns: Turn[] = [];
    await Promise.all(
      customers.map(async (c, k) => {
        for (let i = 0; i < QUESTION_LIST.length; i++) turns.push(await c.ask(QUESTION_LIST[(k + i) % QUESTION_LIST.length]!));
      }),
    );
    const baseline: Record<string, string[]> = {};
    for (const turn of turns) {
      expect(turn.complete, `${turn.channel} ${turn.customer}: answer to "${turn.question}" before the damage`).to.equal(true);
      const key = `${turn.channel}|${turn.question}`;
      baseline[key] ??= turn.messages;
      expect(turn.messages, `${key}: the same answer for every customer`).to.deep.equal(baseline[key]);
      expect(turn.messages.length, `${key}: an answer, then "Did this help?"`).to.be.greaterThan(1);
    }
    const baselineTurns = turns.length;

    // The load: every customer keeps asking, in its own order, until told to stop.
    let stopping = false;
    /** Every customer has asked every question since `since` (and no answer went missing meanwhile). */
    const roundDoneSince = (since: number) => () => {
      const lost = turns.find((x) => !x.complete);
      if (lost) throw new Error(`${lost.channel} ${lost.customer}: no complete answer to "${lost.question}": ${JSON.stringify(lost.messages)}`);
      return customers.every((c) => turns.filter((x) => x.customer === c.id && x.postedAt >= since).length >= QUESTION_LIST.length);
    };
    const load = Promise.all(
      customers.map(async (c, k) => {
        for (let i = 0; !stopping; i++) {
          const turn = await c.ask(QUESTION_LIST[(k + i) % QUESTION_LIST.length]!);
          turns.push(turn);
          if (!turn.complete) return; // a lost answer would make the next one look like this one's
        }
      }),
    );

    // The damage, one edit after another while the answers keep coming, each further apart than the 50 ms
    // debounce, so the server may load (and must reject) several broken states, not just the last one.
    const file = (rel: string) => join(knowledgeDir, rel);
    const original = async (rel: string) => readFile(file(rel), 'utf8');
    const damageStartedAt = Date.now();
    const payBill = await original('billing/pay-bill.md');
    const unclosed = payBill.replace('tags: [billing, payments]', 'tags: [billing, payments');
    // Invalid YAML (an unclosed list), saved as editors and `sed -i` do: a temporary file renamed over the original.
    await writeFile(file('billing/.pay-bill.md.swp'), unclosed);
    await rename(file('billing/.pay-bill.md.swp'), file('billing/pay-bill.md'));
    await delay(150);
    await writeFile(file('billing/due-date.md'), Buffer.from([0x00, 0xff, 0xfe, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0xc3, 0x28])); // binary junk
    await delay(150);
    await writeFile(file('stores/opening-hours.md'), ''); // an empty file
    await delay(150);
    const trackOrder = await original('delivery/track-order.md');
    await writeFile(file('delivery/track-order.md'), trackOrder.slice(0, trackOrder.indexOf('order status') + 5)); // truncated mid-write, inside the front matter
    await delay(150);
    const directDebit = await original('billing/direct-debit.md');
    await unlink(file('billing/direct-debit.md')); // deleted ...
    await delay(300);
    await writeFile(file('billing/direct-debit.md'), directDebit.replace('question:', 'questoin:')); // ... and replaced by a broken one
    await delay(150);
    const resetPassword = await original('account/reset-password.md');
    await writeFile(
      file('account/reset-pin.md'),
      resetPassword.replace('---\nquestion: I forgot my password', '---\nid: account/reset-password\nquestion: I forgot my PIN'),
    ); // a copy that kept the id of the entry it was copied from

    const expectedProblems = [
      `account/reset-pin.md:2: duplicate id "account/reset-password": already used by account/reset-password.md:1`,
      `billing/direct-debit.md:2: unknown field "questoin" (did you mean "question"?)`,
      'billing/direct-debit.md:1: missing "question"',
      'billing/due-date.md:1: missing front matter',
      `billing/pay-bill.md:${unclosed.split('\n').findIndex((l) => l.startsWith('tags:')) + 1}: the list is not closed: add "]" at its end`,
      'delivery/track-order.md:1: front matter is not closed',
      'stores/opening-hours.md:1: missing front matter',
    ];
    let damaged = await health(url);
    await until(
      async () => {
        damaged = await health(url);
        return expectedProblems.every((p) => damaged.knowledge.problems?.some((shown) => shown.startsWith(p)));
      },
      20_000,
      '/healthz to list every broken file',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; /healthz says ${JSON.stringify(damaged.knowledge)}`);
    });
    const damagedAt = Date.now();
    // Every customer asks every question again, the broken files' ones included, against the broken folder.
    await until(roundDoneSince(damagedAt), 60_000, 'a round of questions after the damage');

    // The repair: every file fixed, the binary one with an edited answer, the copy removed; the file that
    // was replaced by a rename last and on its own, saved in place, so only a change to it can end the rejection.
    const repairStartedAt = Date.now();
    const dueDate = await readFile(join(KNOWLEDGE_DIR, 'billing/due-date.md'), 'utf8');
    await unlink(file('account/reset-pin.md'));
    await writeFile(file('stores/opening-hours.md'), await readFile(join(KNOWLEDGE_DIR, 'stores/opening-hours.md'), 'utf8'));
    await writeFile(file('delivery/track-order.md'), trackOrder);
    await writeFile(file('billing/direct-debit.md'), directDebit);
    await writeFile(file('billing/due-date.md'), `${dueDate.trimEnd()}\n\n${EDIT_MARKER}\n`);
    let repaired = await health(url);
    await until(
      async () => {
        repaired = await health(url);
        return repaired.knowledge.problems?.length === 1 && repaired.knowledge.problems[0]!.startsWith('billing/pay-bill.md:') && repaired.knowledge.loadedAt !== initial.knowledge.loadedAt;
      },
      20_000,
      '/healthz to show only the last broken file',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; /healthz says ${JSON.stringify(repaired.knowledge)}`);
    });
    // While pay-bill.md is still broken, the other repairs are already live (before, they waited for it).
    const stillBroken = repaired;
    await writeFile(file('billing/pay-bill.md'), payBill);
    await until(
      async () => {
        repaired = await health(url);
        return repaired.knowledge.lastError === undefined && repaired.knowledge.loadedAt !== initial.knowledge.loadedAt;
      },
      20_000,
      '/healthz to show the repaired folder loaded',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; /healthz says ${JSON.stringify(repaired.knowledge)}`);
    });
    const repairedAt = Date.now();
    await until(roundDoneSince(repairedAt), 60_000, 'a round of questions after the repair');
    stopping = true;
    await load;
    await delay(500); // a duplicate or late reply would arrive now
    for (const c of customers) c.close();
    await child.stop(); // finishes accepted turns, closes the transcript files
    const logged = child.stderr
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; component: string; msg: string });
    child = undefined;

    // Judge every turn by when it ran: before the repair began, the answer of the good index before the
    // damage; after the repaired folder was served, the new answer; in between, either (never anything else).
    const loadTurns = turns.slice(baselineTurns);
    const newAnswers: Record<string, string[]> = {};
    const wrong: string[] = [];
    let correct = 0;
    for (const turn of turns) {
      const key = `${turn.channel}|${turn.question}`;
      const old = baseline[key]!;
      const isNew = turn.question === EDITED_QUESTION && turn.messages.some((m) => m.includes('21 days after your billing date'));
      if (isNew) {
        newAnswers[turn.channel] ??= turn.messages;
        if (JSON.stringify(turn.messages) !== JSON.stringify(newAnswers[turn.channel])) wrong.push(`${key}: two different new answers`);
      }
      const allowed =
        turn.doneAt < repairStartedAt ? !isNew && JSON.stringify(turn.messages) === JSON.stringify(old)
        : turn.postedAt > repairedAt ? (turn.question === EDITED_QUESTION ? isNew : JSON.stringify(turn.messages) === JSON.stringify(old))
        : isNew || JSON.stringify(turn.messages) === JSON.stringify(old);
      if (turn.complete && allowed) correct++;
      else wrong.push(`${key} (${turn.customer}, ${turn.complete ? 'answered' : 'no answer'}): ${JSON.stringify(turn.messages).slice(0, 300)}`);
    }
    const during = loadTurns.filter((x) => x.postedAt >= damageStartedAt && x.doneAt < repairStartedAt);
    const brokenFiles = new Set(['billing/pay-bill.md', 'billing/due-date.md', 'stores/opening-hours.md', 'delivery/track-order.md', 'billing/direct-debit.md', 'account/reset-password.md']);

    // What the server stored: every Meta message once, answered once (answer + "Did this help?", and the welcome first).
    const { inbound, replies } = await readMetaTranscripts(dataDir);
    const firstOf = new Set(customers.filter((c) => c.channel !== 'webchat').map((c) => sentMeta.find((m) => m.from === c.id)!.id));
    const storedWrong = sentMeta.filter((m) => inbound.get(m.id) !== 1 || (replies.get(m.id)?.length ?? 0) !== (firstOf.has(m.id) ? 3 : 2));
    const expectedReceived = (c: Customer) => turns.filter((x) => x.customer === c.id).reduce((n, x) => n + x.messages.length, 0) + (c.channel === 'webchat' || sentMeta.some((m) => m.from === c.id) ? 1 : 0);

    reportCounts('knowledge-garbage', {
      sent: turns.length,
      acknowledged: turns.filter((x) => x.acknowledged).length,
      answered: turns.filter((x) => x.complete).length,
      correct,
      beforeDamage: baselineTurns,
      whileBroken: during.length,
      whileBrokenOnBrokenFiles: during.filter((x) => brokenFiles.has(QUESTIONS[x.question]!)).length,
      afterRepair: loadTurns.filter((x) => x.postedAt > repairedAt).length,
      metaStored: sentMeta.filter((m) => inbound.get(m.id) === 1).length,
      problemsShown: damaged.knowledge.problems?.length ?? 0,
      rejectedReloads: logged.filter((l) => l.msg.startsWith('knowledge reload rejected')).length,
    });

    expect(wrong, 'turns without exactly the right answer').to.deep.equal([]);
    expect(correct).to.equal(turns.length);
    expect(turns.every((x) => x.acknowledged)).to.equal(true);
    for (const c of customers) expect(c.received.length, `${c.channel} ${c.id}: bot messages (none extra, none repeated)`).to.equal(expectedReceived(c));
    expect(unrouted).to.equal(0);
    // Nothing failed but the reloads: no turn error, no failed request, no crash (the child stopped on SIGTERM).
    expect(logged.filter((l) => l.level === 'error' && !l.msg.startsWith('knowledge reload rejected')).map((l) => `${l.component}: ${l.msg}`)).to.deep.equal([]);
    expect(logged.filter((l) => l.msg.startsWith('knowledge reload rejected')).length).to.be.at.least(2);
    expect(storedWrong.map((m) => `${m.channel} ${m.id}: stored ${inbound.get(m.id) ?? 0}, replies ${replies.get(m.id)?.length ?? 0}`)).to.deep.equal([]);
    // The broken folder was tried under load and never served.
    expect(during.filter((x) => brokenFiles.has(QUESTIONS[x.question]!)).length).to.be.greaterThan(customers.length);
    expect(damaged.status, '/healthz stays ready: the last good index is serving').to.equal(200);
    expect(damaged.knowledge.ok).to.equal(true);
    expect(damaged.knowledge.entries).to.equal(initial.knowledge.entries);
    expect(damaged.knowledge.loadedAt, 'no reload was swapped in while the folder was broken').to.equal(initial.knowledge.loadedAt);
    expect(damaged.overall, '/healthz says degraded while files are held back').to.equal('degraded');
    expect(damaged.knowledge.degraded).to.equal(true);
    expect(damaged.knowledge.lastError).to.match(/^6 files held back, the other files' edits are live: /);
    expect(damaged.knowledge.heldBack?.map((h) => [h.path, h.serving])).to.deep.equal([
      ['account/reset-pin.md', 'nothing'],
      ['billing/direct-debit.md', 'last good version'],
      ['billing/due-date.md', 'last good version'],
      ['billing/pay-bill.md', 'last good version'],
      ['delivery/track-order.md', 'last good version'],
      ['stores/opening-hours.md', 'last good version'],
    ]);
    expect(stillBroken.overall).to.equal('degraded');
    expect(stillBroken.knowledge.heldBack?.map((h) => [h.path, h.serving])).to.deep.equal([['billing/pay-bill.md', 'last good version']]);
    expect(stillBroken.knowledge.entries, 'the repaired files are served, the copy is gone').to.equal(initial.knowledge.entries);
    // After the repair: the edited answer on every channel, the entry count as before.
    expect(Object.keys(newAnswers).sort()).to.deep.equal(['messenger', 'webchat', 'whatsapp']);
    expect(repaired.status).to.equal(200);
    expect(repaired.overall).to.equal('ok');
    expect(repaired.knowledge.entries).to.equal(initial.knowledge.entries);
    expect(repaired.knowledge.problems).to.equal(undefined);
  });
});
