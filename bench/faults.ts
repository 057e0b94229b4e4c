/**
 * The fault and hostile-input tests' own counts, for BENCHMARKS.md: each fault test prints a
 * `FAULT-COUNTS {json}` line (tests/faults/helpers.ts reportCounts) and the fuzz test a `FUZZ-CASES`
 * line. This module runs those test files with mocha, exactly as CI does, and tabulates what they
 * printed; a failing test fails the benchmark.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchSection } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FILES = ['tests/faults/*.test.ts', 'tests/instances/kill-instance.test.ts', 'tests/instances/database-outage.test.ts', 'tests/security/fuzz.test.ts'];

/** What each fault test proves, keyed by the name it reports its counts under. */
const WHAT: Record<string, string> = {
  'sigkill-burst': 'SIGKILL in the middle of a webhook burst, restart on the same data folder',
  'graph-outage': 'Graph API down (500s, hangs, 429 with Retry-After), then back',
  'disk-full': 'data folder full: webhooks answer 503, retried after recovery',
  'knowledge-garbage': 'knowledge folder edited into garbage under load',
  'webchat-sigkill': 'SIGKILL of a web chat server under paced traffic, restart on the same data folder',
  'instances-kill': 'three instances on one PostgreSQL database, one killed with SIGKILL mid-burst on all three channels',
  'instances-database-outage': 'PostgreSQL stopped for 5 s under load on two instances, then started again',
};

async function runMocha(): Promise<{ code: number; out: string }> {
  const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
  return new Promise((resolve, reject) => {
    // The PostgreSQL fault tests need TEST_DATABASE_URL (and root, for their private server); without them they are skipped.
    const child = spawn(process.execPath, [mocha, '--reporter', 'dot', ...FILES], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

export function parse(out: string): { faults: Record<string, unknown>[]; fuzz?: { cases: number; seed: string; statuses: string } } {
  const faults = [...out.matchAll(/FAULT-COUNTS (\{.*\})$/gm)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
  const f = /FUZZ-CASES (\d+) \(seed (\w+)\) statuses (\{.*\})/.exec(out);
  return { faults, fuzz: f ? { cases: Number(f[1]), seed: f[2]!, statuses: f[3]! } : undefined };
}

export async function run(): Promise<BenchSection> {
  const started = Date.now();
  const { code, out } = await runMocha();
  if (code !== 0) throw new Error(`the fault tests failed (mocha exit ${code}):\n${out.slice(-4000)}`);
  const { faults, fuzz } = parse(out);
  const rows = faults.map((f) => {
    const { test, ...counts } = f as { test: string } & Record<string, unknown>;
    const figures = Object.entries(counts)
      .map(([k, v]) => `${k.replace(/([A-Z]|\d+)/g, ' $1').toLowerCase()}: ${v}`)
      .join(', ');
    return `| ${WHAT[test] ?? test} | ${figures} |`;
  });
  return {
    title: 'Faults and hostile input: message counts',
    command: `npm run bench -- faults  (runs npx mocha ${FILES.join(' ')}, as CI does)`,
    markdown: [
      'Each fault test fails if any acknowledged message is missing from the transcript, stored twice, left without its reply or replied to twice; these are the counts they saw.',
      '',
      '| fault | counts |',
      '|---|---|',
      ...rows,
      '',
      fuzz
        ? `Fuzzing (tests/security/fuzz.test.ts): **${fuzz.cases} hostile requests** (seed ${fuzz.seed}) over every public route; answers by status: ${fuzz.statuses} — no 5xx, no stack trace, nothing stored from a rejected request.`
        : 'The fuzz test printed no case count.',
      '',
      `All passed in ${((Date.now() - started) / 1000).toFixed(0)} s.`,
    ].join('\n'),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log((await run()).markdown);
