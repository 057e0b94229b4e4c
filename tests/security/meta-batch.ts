/**
 * One signed Messenger POST carrying `n` customers' messages, sent to the whole app (a harness),
 * while `/healthz` is asked again and again: for the batch test and `npm run bench -- meta-batch`.
 */
import { readFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { signBody } from '../../adapters/shared/verify.js';
import { serializeLikeMeta } from '../../adapters/shared/sample-events.js';
import { rawRequest, SECRETS, type Harness } from './harness.js';

const PAGE_ID = '682498302938465';
/** Settings for `startHarness`'s `env`: its fake Graph API accepts only its default tokens, so the replies go out. */
export const FAKE_GRAPH_TOKENS = { MESSENGER_PAGE_ACCESS_TOKEN: 'page-token', WHATSAPP_ACCESS_TOKEN: 'wa-token' };

export interface BatchFigures {
  status: number;
  /** Messages in the inbox file when the 200 arrived. */
  storedAtAck: number;
  /** Customers who got a reply. */
  answered: number;
  /** From sending the POST to its answer. */
  ackMs: number;
  /** From sending the POST to the last customer's first reply. */
  answeredMs: number;
  /** The slowest `/healthz` answer from just before the POST until every customer was answered. */
  worstHealthMs: number;
  /** When it was asked, from sending the POST (negative: before). */
  worstHealthAtMs: number;
  healthChecks: number;
  /** The slowest answer of a page served from memory (`/assets/demo.css`), asked alongside: the server's own responsiveness, without `/healthz`'s disk write. */
  worstStaticMs: number;
  /** The longest the event loop was blocked meanwhile (the rest of a slow `/healthz` is waiting for the disk). */
  worstLoopDelayMs: number;
}

/**
 * The Messenger body with one text message from each of `n` customers, batched as Meta does: one
 * `entry` per event, each with a one-event `messaging` array.
 */
export function messengerBatch(n: number, tag = 'batch'): { raw: string; psids: string[] } {
  const ts = Date.now();
  const psids = Array.from({ length: n }, (_, i) => `88${String(i).padStart(14, '0')}`);
  const entry = psids.map((psid, i) => ({
    id: PAGE_ID,
    time: ts + i,
    messaging: [{ sender: { id: psid }, recipient: { id: PAGE_ID }, timestamp: ts + i, message: { mid: `m_${tag}_${i}`, text: 'How can I pay my bill by card?' } }],
  }));
  return { raw: serializeLikeMeta({ object: 'page', entry }), psids };
}

/** Posts the batch, then waits (up to `timeoutMs`) until every customer has been answered. */
export async function postMessengerBatch(h: Harness, n: number, timeoutMs = 170_000): Promise<BatchFigures> {
  const { raw, psids } = messengerBatch(n);
  const waitingFor = new Set(psids);
  let lastAnswerAt = 0;
  h.graph.onRequest((rec, body) => {
    if (rec.api === 'messenger' && rec.isMessage && rec.status === 200 && waitingFor.delete(body?.recipient?.id)) lastAnswerAt = performance.now();
  });

  let probing = true;
  let worstHealthMs = 0;
  let worstHealthAt = 0;
  let healthChecks = 0;
  let worstStaticMs = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const probe = (async () => {
    while (probing) {
      const t = performance.now();
      // A new connection each time, as a liveness probe does (a kept-alive one may be closed under it while the server is busy).
      await rawRequest(h.url, 'GET', '/healthz');
      if (performance.now() - t > worstHealthMs) [worstHealthMs, worstHealthAt] = [performance.now() - t, t];
      healthChecks++;
      const s = performance.now();
      await rawRequest(h.url, 'GET', '/assets/demo.css');
      worstStaticMs = Math.max(worstStaticMs, performance.now() - s);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  await new Promise((resolve) => setTimeout(resolve, 50)); // a few checks before the batch
  const t0 = performance.now();
  const res = await rawRequest(h.url, 'POST', '/webhooks/messenger', { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, SECRETS.messenger) }, raw);
  const ackMs = performance.now() - t0;
  const journal = await readFile(join(h.dataDir, 'messenger', 'journal.jsonl'), 'utf8');
  const storedAtAck = journal.split('\n').filter((l) => l.startsWith('{"t":"in"') && l.includes('"m_batch_')).length;

  const deadline = Date.now() + timeoutMs;
  while (waitingFor.size > 0 && Date.now() < deadline && res.status === 200) await new Promise((resolve) => setTimeout(resolve, 50));
  probing = false;
  await probe;
  loop.disable();
  return {
    status: res.status,
    storedAtAck,
    answered: n - waitingFor.size,
    ackMs,
    answeredMs: lastAnswerAt ? lastAnswerAt - t0 : NaN,
    worstHealthMs,
    worstHealthAtMs: worstHealthAt - t0,
    healthChecks,
    worstStaticMs,
    worstLoopDelayMs: loop.max / 1e6,
  };
}
