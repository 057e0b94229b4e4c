/**
 * The whole server (buildApp, in-process, HTTP on 127.0.0.1 port 0) started on a knowledge folder with a
 * broken file: it starts, answers a web chat customer from the broken file's last good version (the
 * snapshot the previous run left in DATA_DIR), says `degraded` at `/healthz`, and tells the agent console
 * which file is held back. And `/healthz`'s overall status: ok, degraded (200) or failing (503).
 */
import { expect } from 'chai';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { createServer, type HealthCheck } from '../../src/server.js';
import type { WebChatAdapter } from '../../adapters/webchat/index.js';
import { connect } from '../webchat/client.js';
import { KNOWLEDGE_DIR } from '../faults/helpers.js';
import { PASSWORD } from '../agent/helpers.js';

describe('a server started on a broken knowledge folder', function () {
  this.timeout(60_000);
  let dataDir: string;
  let knowledgeDir: string;
  let app: App | undefined;
  const clients: { close(): void }[] = [];

  const start = async () => {
    const config = loadConfig({ DATA_DIR: dataDir, KNOWLEDGE_DIR: knowledgeDir, DIRECTLINE_SECRET: 'kb-broken-start-directline-secret-0123456789' });
    app = await buildApp({ config, logger: silentLogger, watchKnowledge: false });
    return app.listen(0, '127.0.0.1');
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-kb-start-data-'));
    knowledgeDir = await mkdtemp(join(tmpdir(), 'switchboard-kb-start-knowledge-'));
    await cp(KNOWLEDGE_DIR, knowledgeDir, { recursive: true });
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await app?.close();
    app = undefined;
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    await rm(knowledgeDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it("starts, answers from the broken file's last good version, reports degraded, and names the file for the console", async () => {
    // A first run on the good folder leaves the snapshot in DATA_DIR; then an editor breaks a file and the server restarts.
    await start();
    await app!.close();
    const payBill = join(knowledgeDir, 'billing', 'pay-bill.md');
    const good = await readFile(payBill, 'utf8');
    await writeFile(payBill, good.replace('tags: [billing, payments]', 'tags: [billing, payments').replace('You can pay your Nimbus bill', 'BROKEN EDIT'));
    const url = await start();
    const line = good.split('\n').findIndex((l) => l.startsWith('tags:')) + 1;
    const problem = `billing/pay-bill.md:${line}: the list is not closed: add "]" at its end, e.g. [billing, payments]`;

    const health = await fetch(`${url}/healthz`);
    const body = (await health.json()) as { status: string; ok: boolean; checks: { knowledge: Record<string, unknown> } };
    expect(health.status).to.equal(200);
    expect(body).to.include({ status: 'degraded', ok: true });
    expect(body.checks.knowledge).to.include({ ok: true, degraded: true, status: 'degraded' });
    expect(body.checks.knowledge.problems).to.deep.equal([problem]);

    // A customer gets the answer of the last good version.
    const client = connect({ domain: `${url}/v3/directline`, token: (app!.adapters.webchat as unknown as WebChatAdapter).generateToken().token });
    clients.push(client);
    await client.post({ text: 'How can I pay my bill?' });
    const answer = await client.waitFor((a) => a.type === 'message' && a.from.role !== 'user' && /Nimbus bill/.test((a as { text?: string }).text ?? ''), 'the pay-bill answer', 20_000);
    expect((answer as { text?: string }).text).to.contain('You can pay your Nimbus bill whichever way suits you');

    // The console's knowledge view (and its banner) gets the held-back file in words.
    await app!.accounts.add('ada', PASSWORD, { displayName: 'Ada' });
    const login = await fetch(`${url}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ada', password: PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const view = (await (await fetch(`${url}/api/agent/knowledge`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: Record<string, unknown> };
    expect(view.status.lastError).to.equal(
      "1 file held back, the other files' edits are live: billing/pay-bill.md (its last good version is still served). " +
        `1 problem: ${problem}`,
    );
    expect(view.status.heldBack).to.deep.equal([
      { path: 'billing/pay-bill.md', change: 'edited', serving: 'last good version', problems: [problem] },
    ]);
  });

  it('does not start when nothing in the folder can be served and there is no snapshot', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'switchboard-kb-start-garbage-'));
    await writeFile(join(empty, 'only.md'), 'not a knowledge file\n');
    const config = loadConfig({ DATA_DIR: dataDir, KNOWLEDGE_DIR: empty, DIRECTLINE_SECRET: 'kb-broken-start-directline-secret-0123456789' });
    const err = await buildApp({ config, logger: silentLogger, watchKnowledge: false }).catch((e: unknown) => e);
    await rm(empty, { recursive: true, force: true });
    expect((err as Error).name).to.equal('KnowledgeLoadError');
    expect((err as Error).message).to.contain('only.md:1: missing front matter');
  });
});

describe('/healthz status', () => {
  const check = (name: string, result: Awaited<ReturnType<HealthCheck['check']>>): HealthCheck => ({ name, check: () => result });
  async function healthz(health: HealthCheck[]): Promise<{ code: number; body: Record<string, unknown> }> {
    const server = createServer({ logger: silentLogger, health });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`);
      return { code: res.status, body: (await res.json()) as Record<string, unknown> };
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it('is ok when every check is', async () => {
    expect(await healthz([check('knowledge', { ok: true }), check('storage', { ok: true })])).to.deep.include({ code: 200, body: { status: 'ok', ok: true, checks: { knowledge: { ok: true }, storage: { ok: true } } } });
  });

  it('is degraded, still 200, while a check is degraded (a knowledge file held back)', async () => {
    const r = await healthz([check('knowledge', { ok: true, degraded: true, lastError: 'a.md held back' }), check('storage', { ok: true })]);
    expect(r.code).to.equal(200);
    expect(r.body).to.include({ status: 'degraded', ok: true });
  });

  it('is failing with 503 when a check fails or throws (storage or database down), whatever else is degraded', async () => {
    const failing = await healthz([check('knowledge', { ok: true, degraded: true }), check('storage', { ok: false, error: 'disk full' })]);
    expect(failing.code).to.equal(503);
    expect(failing.body).to.include({ status: 'failing', ok: false });
    const throwing = await healthz([{ name: 'database', check: () => Promise.reject(new Error('connection refused')) }]);
    expect(throwing).to.deep.include({ code: 503, body: { status: 'failing', ok: false, checks: { database: { ok: false, error: 'connection refused' } } } });
  });
});
