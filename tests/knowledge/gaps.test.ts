import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/knowledge/cli.js';
import { InsightsStore } from '../../src/bot/insights.js';
import { LowdbStorage } from '../../src/storage/index.js';

describe('kb gaps: what the knowledge does not cover', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'kb-gaps-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  async function run(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['gaps', '--data', dataDir, ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  }

  it('lists the unanswered questions the bot recorded, most asked first, and the unhelpful answers', async () => {
    const insights = new InsightsStore(new LowdbStorage({ dir: dataDir, fsync: false }));
    const now = new Date().toISOString();
    await insights.recordUnanswered({ query: 'Do you sell gift cards?', channel: 'webchat', at: now });
    await insights.recordUnanswered({ query: 'do you  sell gift cards?', channel: 'whatsapp', at: now });
    await insights.recordUnanswered({ query: 'can I pay in bitcoin', channel: 'messenger', at: now });
    await insights.recordFeedback('billing/pay-bill', false);
    await insights.recordFeedback('billing/pay-bill', true);

    const { code, out } = await run([]);
    expect(code).to.equal(0);
    const gift = out.findIndex((l) => /2×\s+Do you sell gift cards\?\s+\[webchat, whatsapp;/.test(l));
    const bitcoin = out.findIndex((l) => /1×\s+can I pay in bitcoin\s+\[messenger;/.test(l));
    expect(gift, out.join('\n')).to.be.greaterThan(0);
    expect(bitcoin).to.be.greaterThan(gift);
    expect(out.some((l) => /1×\s+billing\/pay-bill\s+\(1 found it helpful\)/.test(l))).to.equal(true);
  });

  it('says so when nothing was left unanswered', async () => {
    const { code, out } = await run(['--days', '7']);
    expect(code).to.equal(0);
    expect(out[0]).to.match(/^Unanswered questions in the last 7 days \(0 in all/);
    expect(out[1]).to.equal('  none');
  });

  it('rejects a bad --days with a usage error', async () => {
    const { code, err } = await run(['--days', 'week']);
    expect(code).to.equal(2);
    expect(err[0]).to.match(/--days must be a positive whole number/);
  });
});
