/** A signed batch of 3,000 Meta messages: all stored before the 200, all answered, /healthz answering meanwhile. */
import { expect } from 'chai';
import { FAKE_GRAPH_TOKENS, postMessengerBatch } from './meta-batch.js';
import { startHarness, type Harness } from './harness.js';

/** The size of the batch the issue reports stalling the server for ~20 s when run all at once. */
const BATCH = 3_000;
/**
 * The bound on `/healthz` while the batch runs. The goal is 500 ms (BENCHMARKS.md has the figures);
 * on a shared 2-core machine the default measured 0.6–1.6 s and running the batch all at once 80 s,
 * so this catches the regression without failing on a busy CI runner.
 */
const HEALTH_BOUND_MS = 2_000;

describe('a signed batch of 3,000 Messenger messages', function () {
  this.timeout(240_000);
  let h: Harness;
  before(async () => (h = await startHarness({ env: FAKE_GRAPH_TOKENS, logLevel: 'warn' })));
  after(async () => h?.close());

  it('is stored whole before the 200, every customer is answered, and /healthz keeps answering', async () => {
    const r = await postMessengerBatch(h, BATCH);
    expect(r.status).to.equal(200);
    expect(r.storedAtAck, 'stored before the answer').to.equal(BATCH);
    expect(r.answered, 'customers answered').to.equal(BATCH);
    expect(r.healthChecks).to.be.greaterThan(10);
    expect(r.worstHealthMs, `worst /healthz latency (${JSON.stringify(r)})`).to.be.below(HEALTH_BOUND_MS);
  });
});
