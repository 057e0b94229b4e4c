/**
 * Fault: the data folder cannot be written (a full disk). The webhook must answer 503 — so Meta
 * retries — instead of 200-and-lose, `/healthz` must say so, and once the disk recovers Meta's retries
 * are accepted and answered.
 *
 * The mechanism is real, not a mock: the server runs in a child process and its RLIMIT_FSIZE is set
 * to 0 with util-linux `prlimit --pid` (which root does not bypass, unlike chmod), so every write to a
 * regular file fails with EFBIG in the kernel, exactly where a full disk fails with ENOSPC; reads,
 * pipes and sockets keep working. (A tiny tmpfs also works on a machine where `mount` is allowed, but
 * CI containers usually forbid it.)
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeGraph } from '../fakes/graph.js';
import { message, metaEnv, post, readMetaTranscripts, reportCounts, setFileSizeLimit, startChild, until, type Child, type Msg } from './helpers.js';

async function health(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: await res.json() };
}

describe('faults: data folder full', function () {
  this.timeout(60_000);
  let graph: FakeGraph;
  let dataDir: string;
  let child: Child | undefined;

  before(async () => {
    graph = new FakeGraph();
    await graph.start();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-fault-disk-'));
  });
  after(async () => {
    await child?.kill();
    await graph.close();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('answers 503 while the disk is full, reports it in /healthz, and accepts the retries once it recovers', async () => {
    child = await startChild(metaEnv(dataDir, graph.url));
    const before = [message('whatsapp', '4915300000001', 'How can I pay my bill by card?'), message('messenger', '7300000001', 'How can I pay my bill by card?')];
    for (const m of before) expect(await post(child.url, m)).to.equal(200);
    await until(() => graph.sent().length >= 6, 10_000, 'replies before the fault');
    // The replies reach Meta before their turn's transcript is on disk: fill the disk only once it is.
    await until(async () => {
      const { replies } = await readMetaTranscripts(dataDir);
      return before.every((m) => (replies.get(m.id)?.length ?? 0) > 0);
    }, 10_000, 'the first turns in the transcript');
    expect((await health(child.url)).status).to.equal(200);

    const previous = setFileSizeLimit(child.proc.pid!, '0');
    const during: Msg[] = [];
    for (let i = 0; i < 5; i++) during.push(message('whatsapp', `49153000001${i}`, 'Where is my order?'), message('messenger', `730000001${i}`, 'Where is my order?'));
    const statusesDuring: number[] = [];
    for (const m of during) statusesDuring.push(await post(child.url, m));
    const healthDuring = await health(child.url);
    const sentDuring = graph.sent().length;

    setFileSizeLimit(child.proc.pid!, previous);
    const healthAfter = await health(child.url);
    // Meta retries what was not acknowledged.
    const statusesAfter: number[] = [];
    for (const m of during) statusesAfter.push(await post(child.url, m));
    const later = [message('whatsapp', '4915300000099', 'What are your store opening hours?')];
    for (const m of later) statusesAfter.push(await post(child.url, m));
    await until(() => graph.sent().length >= 6 + during.length * 3 + 3, 15_000, 'replies after the disk recovered');
    await child.stop();
    child = undefined;

    const all = [...before, ...during, ...later];
    const { inbound, replies } = await readMetaTranscripts(dataDir);
    reportCounts('disk-full', {
      sent: all.length,
      rejectedWith503: statusesDuring.filter((s) => s === 503).length,
      acknowledged: before.length + statusesAfter.filter((s) => s === 200).length,
      stored: all.filter((m) => inbound.get(m.id) === 1).length,
      replied: all.filter((m) => (replies.get(m.id)?.length ?? 0) > 0).length,
    });

    expect(statusesDuring, 'webhooks while the disk is full').to.deep.equal(during.map(() => 503));
    expect(healthDuring.status).to.equal(503);
    expect(healthDuring.body.checks.storage.ok).to.equal(false);
    expect(healthDuring.body.checks.storage.error).to.match(/storageHealthCheck/);
    expect(sentDuring).to.equal(6);
    expect(healthAfter.status).to.equal(200);
    expect(statusesAfter).to.deep.equal(statusesAfter.map(() => 200));
    for (const m of all) {
      expect(inbound.get(m.id), `${m.channel} ${m.id} in the transcript`).to.equal(1);
      expect(replies.get(m.id)?.length ?? 0, `replies to ${m.id}`).to.be.greaterThan(0);
    }
  });
});
