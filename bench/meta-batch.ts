/**
 * One signed Messenger POST with 3,000 customers' messages to the whole app (buildApp: file backend,
 * the sample knowledge, the real bot, a fake Graph API): time to the 200, time until every customer
 * was answered, and the worst `/healthz` latency meanwhile — with the engine's cap on concurrent
 * turns (`MAX_CONCURRENT_TURNS`, default) and without it (every turn at once, as before the cap).
 */
import { pathToFileURL } from 'node:url';
import type { BenchSection } from './types.js';
import { startHarness } from '../tests/security/harness.js';
import { FAKE_GRAPH_TOKENS, postMessengerBatch, type BatchFigures } from '../tests/security/meta-batch.js';
import { DEFAULT_MAX_CONCURRENT_TURNS } from '../src/engine/turn-engine.js';

const BATCH = 3_000;

async function measure(maxConcurrentTurns: number): Promise<BatchFigures> {
  const h = await startHarness({ env: { ...FAKE_GRAPH_TOKENS, MAX_CONCURRENT_TURNS: String(maxConcurrentTurns) }, logLevel: 'warn' });
  try {
    return await postMessengerBatch(h, BATCH, 600_000);
  } finally {
    await h.close();
  }
}

const s = (ms: number) => (ms / 1000).toFixed(1);

/** The BenchSection for BENCHMARKS.md. */
export async function run(): Promise<BenchSection> {
  const runs: [string, BatchFigures][] = [];
  for (const [label, cap] of [[`${DEFAULT_MAX_CONCURRENT_TURNS} at once (default)`, DEFAULT_MAX_CONCURRENT_TURNS], ['8 at once', 8], ['no cap (every turn at once, as before)', 10_000]] as const) {
    runs.push([label, await measure(cap)]);
  }
  const rows = runs.map(
    ([label, f]) =>
      `| ${label} | ${f.status} | ${f.storedAtAck} | ${f.answered} | ${f.ackMs.toFixed(0)} | ${s(f.answeredMs)} | ${f.worstHealthMs.toFixed(0)} (at ${s(f.worstHealthAtMs)} s) | ${f.worstStaticMs.toFixed(0)} | ${f.worstLoopDelayMs.toFixed(0)} | ${f.healthChecks} |`,
  );
  return {
    title: 'A signed batch of 3,000 Messenger messages',
    command: 'npm run bench -- meta-batch',
    markdown: [
      `One signed POST to \`/webhooks/messenger\` carrying ${BATCH.toLocaleString('en')} customers' text messages ("How can I pay my bill by card?"), to the whole server`,
      '(`buildApp`, files in DATA_DIR with fsync, sample knowledge, FaqBot, fake Graph API on loopback), while `/healthz` (which itself writes and fsyncs a probe file) is asked',
      'every 10 ms. Server, load and fake Graph share one Node process; **the 2-core machine was shared with other test runs while this was measured**, so',
      'the absolute times are pessimistic. Goal: every message stored before the 200 (Meta wants it within ~5 s), all answered, `/healthz` within 500 ms throughout.',
      '',
      '| turns at once | status | stored at the 200 | customers answered | time to the 200 (ms) | all answered (s) | worst `/healthz` (ms) | worst page from memory (ms) | worst event-loop delay (ms) | `/healthz` checks |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      '"Page from memory" is `/assets/demo.css`, asked right after each `/healthz`: how long any request waits for the busy server. `/healthz` adds its own',
      'write + fsync of a probe file, which waits behind the turns\' disk writes. With the cap, what is left is the main thread kept busy by the turns and the',
      'ack itself (parsing and storing 3,000 messages, in slices of 100 entries): a larger libuv thread pool (`UV_THREADPOOL_SIZE=16`) did not lower it.',
      'The 500 ms goal is missed on this loaded machine with the default; without the cap `/healthz` waited 80 s.',
    ].join('\n'),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then((sec) => console.log(`## ${sec.title}\n\n${sec.markdown}\n`)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
