/**
 * `npm run bench -- stall`: for each channel × prompt state, the worst `/healthz` latency while the
 * longest message the channel allows is handled (issue 13, goal < 200 ms). The server runs in its own
 * process (tests/ops/long-input-rig.ts); a turn that does not finish within `STALL_CAP_MS` is reported
 * as a stall of at least that long, and the server is restarted for the next measurement (the stalled
 * turn would otherwise hold it, and its durable inbox would run the message again).
 *
 * `STALL_CAP_MS` (environment) changes the cap; `STALL_BEFORE` (a file of an earlier run's `STALL {json}`
 * lines, from its stderr) adds a "before" column.
 */
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { CHANNELS, HEALTHZ_GOAL_MS, LONGEST_TEXT, PROMPT_STATES, STATE_LABEL, StallRig, TAIL_MS, measureStall, warmUp, type StallResult } from '../tests/ops/long-input-rig.js';
import type { BenchSection } from './types.js';

/** How long one measured turn may take before it counts as a stall of at least this long. */
const STALL_CAP_MS = Number(process.env.STALL_CAP_MS ?? 20_000);
/** `STALL_STATES=handoff,takeover` measures only those prompt states. */
const STATES = PROMPT_STATES.filter((s) => !process.env.STALL_STATES || process.env.STALL_STATES.split(',').includes(s));

const cell = (r: StallResult | undefined) => (!r ? '—' : r.answered ? `${r.worstMs} ms` : `≥ ${Math.round(STALL_CAP_MS / 1000)} s (no reply)`);

export async function measureAll(): Promise<StallResult[]> {
  const results: StallResult[] = [];
  for (const channel of CHANNELS) {
    let rig: StallRig | undefined;
    for (const state of STATES) {
      if (!rig) {
        rig = new StallRig();
        await rig.start();
        await warmUp(rig, STALL_CAP_MS);
      }
      let r: StallResult;
      try {
        r = await measureStall(rig, channel, state, STALL_CAP_MS);
      } catch (err) {
        console.error(`stall: ${channel} ${state}: ${(err as Error).message}`);
        r = { channel, state, worstMs: STALL_CAP_MS, samples: 0, answered: false, replies: [] };
      }
      console.error(`STALL ${JSON.stringify({ ...r, replies: r.replies.map((t) => t.slice(0, 60)) })}`);
      results.push(r);
      if (!r.answered) {
        await rig.stop();
        rig = undefined;
      }
    }
    await rig?.stop();
  }
  return results;
}

function readBefore(): StallResult[] {
  const file = process.env.STALL_BEFORE;
  if (!file || !existsSync(file)) return [];
  return [...readFileSync(file, 'utf8').matchAll(/^STALL (\{.*\})$/gm)].map((m) => JSON.parse(m[1]!) as StallResult);
}

export async function run(): Promise<BenchSection> {
  const before = readBefore();
  const after = await measureAll();
  const find = (list: StallResult[], r: StallResult) => list.find((x) => x.channel === r.channel && x.state === r.state);
  const rows = after.map((r) => `| ${r.channel} (${LONGEST_TEXT[r.channel].toLocaleString('en')} chars) | ${STATE_LABEL[r.state]} | ${before.length ? `${cell(find(before, r))} | ` : ''}${cell(r)} | ${r.answered && r.worstMs < HEALTHZ_GOAL_MS ? 'yes' : '**no**'} |`);
  return {
    title: 'Longest customer message: worst /healthz latency (issue 13)',
    command: 'npm run bench -- stall',
    markdown: [
      `The longest text each channel accepts, sent in each prompt state: "no no no …" (the input that made recognizers-text's yes/no model take half a minute), and at handoff and takeover a text of dates, amounts and numbers (the handoff summary's worst case); \`/healthz\` is polled every 20 ms from another process until the reply has arrived and ${TAIL_MS / 1000} s after (the handoff summary runs after the reply). A turn not answered within ${STALL_CAP_MS / 1000} s counts as a stall of at least that long. Goal: < ${HEALTHZ_GOAL_MS} ms. The machine was loaded by other work while this ran (several helpers sharing 2 cores), so single figures carry noise of tens of milliseconds.`,
      '',
      `| channel | prompt state | ${before.length ? 'before (unbounded input) | ' : ''}worst /healthz | < ${HEALTHZ_GOAL_MS} ms |`,
      `|---|---|${before.length ? '---|' : ''}---|---|`,
      ...rows,
    ].join('\n'),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = await measureAll();
  for (const r of results) console.log(`${r.channel}\t${r.state}\t${cell(r)}`);
  process.exit(0);
}
