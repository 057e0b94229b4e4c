/**
 * Fault: the server process is killed with SIGKILL in the middle of a burst of signed webhooks, then
 * restarted on the same DATA_DIR while Meta retries what was not acknowledged (and, as Meta does,
 * repeats some that were).
 *
 * The kill is real (a child process). One window cannot be closed by any server: Meta has accepted a
 * send but its answer has not reached us yet. No Graph API call is idempotent, so a crash there means
 * either a second send or a lost one. To test everything else without a coin-flip, the gate in front
 * of the fake Graph API parks new sends before the kill, lets the sends it already forwarded get their
 * answer, and the test waits until the server has journaled every send Meta accepted; sends parked at
 * the kill never reached "Meta" and must be made again after the restart.
 * Webhooks, turns, transcript writes and state writes are all in flight when the kill lands.
 *
 * FAULT_DEBUG=1 keeps copies of the data folder (at the kill and at the end) under the temp folder and
 * prints the Graph sends of each customer who was sent the same text twice in a row (a send made again).
 */
import { expect } from 'chai';
import { cpSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeGraph } from '../fakes/graph.js';
import {
  GraphGate,
  delay,
  message,
  metaEnv,
  post,
  postWebChat,
  readMetaTranscripts,
  readWebChatLogs,
  reportCounts,
  startChild,
  startWebChatConversation,
  until,
  webchatEnv,
  type Child,
  type Msg,
} from './helpers.js';

const QUESTIONS = ['How can I pay my bill by card?', 'What are your store opening hours?', 'Where is my order?'];
const DEBUG_DIR = join(tmpdir(), 'switchboard-sigkill-debug');
/** The platform id of a send Meta accepted. */
const sentId = (r: { response: any }): string => r.response.message_id ?? r.response.messages?.[0]?.id;

describe('faults: SIGKILL in the middle of a webhook burst', function () {
  this.timeout(60_000);
  let graph: FakeGraph;
  let gate: GraphGate;
  let dataDir: string;
  let child: Child | undefined;

  before(async () => {
    graph = new FakeGraph();
    gate = new GraphGate(await graph.start());
    await gate.start();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-fault-kill-'));
  });
  after(async () => {
    await child?.kill();
    await gate.close();
    await graph.close();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('keeps every acknowledged WhatsApp and Messenger message exactly once in the transcript and replies to each once', async () => {
    const env = metaEnv(dataDir, gate.url);
    child = await startChild(env);
    // 16 customers per channel, 3 questions each: 96 messages, in order per customer.
    const msgs: Msg[] = [];
    for (let q = 0; q < QUESTIONS.length; q++)
      for (let c = 0; c < 16; c++) {
        msgs.push(message('whatsapp', `49151000${String(c).padStart(4, '0')}`, QUESTIONS[q]!));
        msgs.push(message('messenger', `70000000${String(c).padStart(4, '0')}`, QUESTIONS[q]!));
      }
    const acked = new Set<string>();
    let next = 0;
    let killed = false;
    const sendAll = async (url: string, list: Msg[], concurrency: number) => {
      let i = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (i < list.length) {
            const m = list[i++]!;
            if ((await post(url, m)) === 200) acked.add(m.id);
          }
        }),
      );
    };
    // The burst: 6 concurrent senders; the kill lands once about 40 messages are acknowledged.
    const burst = (async () => {
      const url = child!.url;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (next < msgs.length && !killed) {
            const m = msgs[next++]!;
            if ((await post(url, m)) === 200) acked.add(m.id);
          }
        }),
      );
    })();
    await until(() => acked.size >= 40, 20_000, '40 acknowledged webhooks');
    gate.mode = { kind: 'hold' };
    // Sends already forwarded get their answer from "Meta", and the server journals it (see the file comment).
    await until(() => gate.forwarding === 0, 10_000, 'the sends already forwarded to be answered');
    const accepted = graph.sent().map(sentId);
    await until(async () => {
      const text = (await Promise.all(['whatsapp', 'messenger'].map((c) => readFile(join(dataDir, c, 'journal.jsonl'), 'utf8').catch(() => '')))).join('');
      return accepted.every((id) => text.includes(`"mid":"${id}"`));
    }, 10_000, 'the server to journal the sends Meta accepted');
    await child.kill();
    killed = true;
    if (process.env.FAULT_DEBUG) {
      await rm(DEBUG_DIR, { recursive: true, force: true });
      cpSync(dataDir, join(DEBUG_DIR, 'at-kill'), { recursive: true });
    }
    gate.drop();
    await burst;
    const ackedBeforeKill = acked.size;
    const sentBeforeKill = graph.sent().length;

    gate.mode = { kind: 'open' };
    child = await startChild(env);
    // Meta retries everything not acknowledged, and repeats acknowledged deliveries too.
    await sendAll(child.url, msgs, 6);
    expect(acked.size).to.equal(msgs.length);
    await child.stop(); // finishes every accepted turn before exiting
    child = undefined;

    const { inbound, replies, botIds } = await readMetaTranscripts(dataDir);
    const sent = graph.sent();
    const sentIds = sent.map(sentId);
    const counts = {
      sent: msgs.length,
      acknowledged: acked.size,
      acknowledgedBeforeKill: ackedBeforeKill,
      stored: [...inbound.keys()].filter((id) => acked.has(id)).length,
      replied: msgs.filter((m) => (replies.get(m.id)?.length ?? 0) > 0).length,
      graphSends: sent.length,
      graphSendsBeforeKill: sentBeforeKill,
    };
    reportCounts('sigkill-burst', counts);

    if (process.env.FAULT_DEBUG) {
      cpSync(dataDir, join(DEBUG_DIR, 'end'), { recursive: true });
      console.log(`FAULT_DEBUG: data folder at the kill and at the end in ${DEBUG_DIR}`);
      // Each Graph send as "<order>:<id>:<start of text>", for customers sent the same text twice in a row.
      const byTo = new Map<string, { text: string; line: string }[]>();
      sent.forEach((r, i) => {
        const to: string = r.body.to ?? r.body.recipient?.id;
        const text: string = r.body.text?.body ?? r.body.interactive?.body?.text ?? r.body.message?.text ?? '';
        byTo.set(to, [...(byTo.get(to) ?? []), { text, line: `${i}${i < sentBeforeKill ? '' : '*'}:${sentIds[i]}:${text.slice(0, 16)}` }]);
      });
      for (const [to, list] of byTo)
        if (list.some((x, i) => i > 0 && x.text === list[i - 1]!.text)) console.log(`FAULT_DEBUG: ${to} (* = after the restart)`, JSON.stringify(list.map((x) => x.line)));
    }
    for (const m of msgs) {
      expect(inbound.get(m.id), `${m.channel} ${m.id} in the transcript`).to.equal(1);
      const r = replies.get(m.id) ?? [];
      expect(r.length, `replies to ${m.channel} ${m.id}`).to.be.greaterThan(0);
      const texts = r.map((a) => a.text);
      expect(new Set(texts).size, `a reply to ${m.id} repeated`).to.equal(texts.length);
    }
    // Every send Meta accepted is in the transcript exactly once, and nothing else is: no reply went twice.
    for (const id of sentIds) expect(botIds.get(id), `Graph message ${id} in the transcript`).to.equal(1);
    expect(botIds.size).to.equal(new Set(sentIds).size);
    expect(sentIds.length).to.equal(new Set(sentIds).size);
  });
});


/**
 * Fault: a web chat server killed with SIGKILL under paced traffic (customers typing one message after
 * another), restarted on the same DATA_DIR, while each customer's client sends again what was not
 * acknowledged (same clientActivityID, as Web Chat's retry does) and repeats its last acknowledged
 * message once (an answer lost on the way). Every acknowledged message must be answered exactly once.
 */
describe('faults: SIGKILL of a web chat server under paced traffic', function () {
  this.timeout(90_000);
  let dataDir: string;
  let child: Child | undefined;

  before(async () => (dataDir = await mkdtemp(join(tmpdir(), 'switchboard-fault-webchat-kill-'))));
  after(async () => {
    await child?.kill();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('answers every acknowledged web chat message exactly once after a restart', async () => {
    const env = webchatEnv(dataDir);
    child = await startChild(env);
    const CUSTOMERS = 16;
    const PER_CUSTOMER = 12;
    const conversations = await Promise.all(Array.from({ length: CUSTOMERS }, () => startWebChatConversation(child!.url)));
    const textOf = (k: number) => `${QUESTIONS[k % QUESTIONS.length]} (${k})`;
    const clientIdOf = (c: number, k: number) => `c${c}-m${k}`;
    /** The id answered to each clientActivityID (first 200). */
    const acked = new Map<string, string>();
    /** Per customer: the next message to send. */
    const next = conversations.map(() => 0);
    let killed = false;
    const pace = async (url: string, c: number, stopOnKill: boolean) => {
      while (next[c]! < PER_CUSTOMER && !(stopOnKill && killed)) {
        const k = next[c]!;
        const r = await postWebChat(url, conversations[c]!, textOf(k), clientIdOf(c, k));
        if (r.status === 200 && r.id) {
          if (!acked.has(clientIdOf(c, k))) acked.set(clientIdOf(c, k), r.id);
          next[c] = k + 1;
          await delay(15);
        } else if (stopOnKill) return;
        else await delay(50);
      }
    };
    const traffic = Promise.all(conversations.map((_, c) => pace(child!.url, c, true)));
    await until(() => acked.size >= 70, 30_000, '70 acknowledged web chat messages');
    await child.kill();
    killed = true;
    await traffic;
    const ackedBeforeKill = acked.size;

    child = await startChild(env);
    // Each customer repeats its last acknowledged message (its answer was lost), then goes on from the first unacknowledged one.
    const repeats: { key: string; status: number; id?: string }[] = [];
    await Promise.all(
      conversations.map(async (conv, c) => {
        const last = next[c]! - 1;
        if (last >= 0) repeats.push({ key: clientIdOf(c, last), ...(await postWebChat(child!.url, conv, textOf(last), clientIdOf(c, last))) });
        await pace(child!.url, c, false);
      }),
    );
    expect(acked.size).to.equal(CUSTOMERS * PER_CUSTOMER);
    await child.stop(); // finishes every accepted turn before exiting
    child = undefined;

    const logs = await readWebChatLogs(
      dataDir,
      conversations.map((x) => x.conversationId),
    );
    let answered = 0;
    let repliedTwice = 0;
    for (const [c, conv] of conversations.entries()) {
      const log = logs.get(conv.conversationId)!;
      const repliesTo = (id: string) => log.filter((a) => a.replyToId === id && a.from?.role !== 'user' && a.type === 'message');
      // Direct Line's welcome has no replyToId (botbuilder leaves it out for conversationUpdate): the bot messages that answer nothing.
      const welcome = log.filter((a) => !a.replyToId && a.from?.role !== 'user' && a.type === 'message');
      expect(welcome.length, `welcome of customer ${c}`).to.be.greaterThan(0);
      expect(new Set(welcome.map((a) => a.text)).size, `welcome of customer ${c} repeated`).to.equal(welcome.length);
      for (let k = 0; k < PER_CUSTOMER; k++) {
        const key = clientIdOf(c, k);
        const echoes = log.filter((a) => a.from?.role === 'user' && a.channelData?.clientActivityID === key);
        const answeredEchoes = echoes.filter((e) => repliesTo(e.id!).length > 0);
        const replies = repliesTo(acked.get(key)!);
        if (replies.length > 0) answered++;
        if (answeredEchoes.length > 1 || new Set(replies.map((a) => a.text)).size !== replies.length) repliedTwice++;
        expect(echoes.map((e) => e.id), `the acknowledged id of ${key} is in the log`).to.include(acked.get(key));
        expect(replies.length, `replies to ${key}`).to.be.greaterThan(0);
        expect(answeredEchoes.length, `${key} answered once`).to.equal(1);
        expect(new Set(replies.map((a) => a.text)).size, `a reply to ${key} repeated`).to.equal(replies.length);
      }
    }
    for (const r of repeats) if (r.status === 200) expect(r.id, `repeat of ${r.key} answers the first id`).to.equal(acked.get(r.key));
    reportCounts('webchat-sigkill', {
      sent: CUSTOMERS * PER_CUSTOMER,
      acknowledged: acked.size,
      acknowledgedBeforeKill: ackedBeforeKill,
      answered,
      answeredTwice: repliedTwice,
      repeatsAnsweredWithFirstId: repeats.filter((r) => r.status === 200 && r.id === acked.get(r.key)).length,
    });
  });
});
