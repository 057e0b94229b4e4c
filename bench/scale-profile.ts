/**
 * Where a Switchboard instance's CPU goes on files vs PostgreSQL: the load of bench/scale.ts against
 * one instance of each, with a CPU profile of that instance (Node's inspector, started after the
 * warm-up and stopped after the measured window, so start-up and transpiling stay out of it).
 * Prints each profile's self time by part (our folders, each package, GC, idle) and the busiest
 * functions, and keeps the `.cpuprofile` files (open them in Chrome DevTools) in a temp folder.
 *
 * Not part of `npm run bench`:
 *   npx tsx bench/scale-profile.ts [--conversations=20] [--seconds=10]
 *   (a private PostgreSQL server is started unless BENCH_DATABASE_URL / TEST_DATABASE_URL is set)
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closeHttp } from './load/customers.js';
import { startServerChild } from './load/ipc.js';
import { benchPostgres } from './load/postgres.js';
import { appFinals, measureLevel, merged, Router, warmUp } from './load/rig.js';
import { CONFIGURATIONS, options, startConfiguration } from './scale.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

/** The parts of the `.cpuprofile` format read here. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** What a profile node's code belongs to: one of our folders, a package, or V8's own buckets. */
function part(url: string, fn: string): string {
  if (!url) return fn === '(garbage collector)' || fn === '(idle)' || fn === '(program)' ? fn : `(native: ${fn || 'anonymous'})`;
  if (url.startsWith('node:')) return 'node: core';
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
  if (pkg) return pkg.replace(/^(pg|pg-protocol|pg-pool|pg-types)$/, 'pg driver ($1)');
  const rel = path.relative(root, file);
  return rel.startsWith('..') ? file : rel.split(path.sep).slice(0, 2).join('/');
}

/** Self time (ms) by part and by function, and the total sampled time. */
function summarize(p: CpuProfile) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parts = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const where = part(url, functionName);
    total += dt;
    parts.set(where, (parts.get(where) ?? 0) + dt);
    if (where !== '(idle)') {
      const key = `${functionName || '(anonymous)'} ${url ? `${path.relative(root, url.startsWith('file://') ? fileURLToPath(url) : url)}:${lineNumber + 1}` : ''}`;
      fns.set(key, (fns.get(key) ?? 0) + dt);
    }
  });
  return { parts, fns, total, busy: total - (parts.get('(idle)') ?? 0) };
}

const top = (m: Map<string, number>, n: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);

async function main() {
  const o = options();
  const { values } = parseArgs({ strict: false, options: { seconds: { type: 'string' } } });
  const seconds = typeof values.seconds === 'string' ? Number(values.seconds) : 10;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-profile-'));
  const pg = await benchPostgres(o.serverUrl);
  const router = new Router();
  const graph = await startServerChild(path.join(here, 'load', 'graph-child.ts'), {}, router.onGraph);
  const results = [];
  try {
    for (const c of CONFIGURATIONS.filter((c) => c.instances === 1)) {
      const running = await startConfiguration(c, { graph, router, pg });
      const app = running.apps[0]!;
      const file = path.join(dir, `${c.backend}.cpuprofile`);
      try {
        await warmUp(running.urls, router, true, appFinals);
        const level = await measureLevel(running.urls, router, true, appFinals, o.conversations, seconds, { before: () => app.startProfile(), after: () => app.stopProfile(file) });
        const s = summarize(JSON.parse(await readFile(file, 'utf8')) as CpuProfile);
        results.push({ c, m: merged(level), s, file });
      } finally {
        await running.stop();
      }
    }
  } finally {
    await graph.stop();
    closeHttp();
    await pg.stop();
  }
  const pct = (v: number, of: number) => `${((v / of) * 100).toFixed(1)} %`;
  const lines: string[] = [];
  for (const { c, m, s, file } of results) {
    lines.push(`### ${c.label}: ${m.n} messages in ${seconds} s (${m.perSecond.toFixed(0)}/s, p50 ${m.p50.toFixed(0)} ms); instance busy ${(s.busy / 1000).toFixed(1)} s of ${(s.total / 1000).toFixed(1)} s, ${(s.busy / Math.max(1, m.n)).toFixed(1)} ms CPU per message (${file})`);
    lines.push('', '| part | self ms | of busy | ms per message |', '| --- | ---: | ---: | ---: |');
    for (const [k, v] of top(new Map([...s.parts].filter(([k]) => k !== '(idle)')), 14)) lines.push(`| ${k} | ${v.toFixed(0)} | ${pct(v, s.busy)} | ${(v / Math.max(1, m.n)).toFixed(2)} |`);
    lines.push('', 'Busiest functions (self):', '');
    for (const [k, v] of top(s.fns, 12)) lines.push(`- ${pct(v, s.busy)} ${k}`);
    lines.push('');
  }
  console.log(lines.join('\n'));
}

await main();
