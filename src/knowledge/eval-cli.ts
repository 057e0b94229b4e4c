/**
 * `npm run eval -- --knowledge DIR --cases FILE`: retrieval quality of the knowledge search on a cases
 * file, with exactly the defaults the bot runs with. The last line printed is one JSON object
 * (`cases, top1, top3, inScopeAccuracy, oosRecall, oosPrecision, p50Ms, p99Ms, indexMs`) so scripts
 * and the benchmark can read it.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatProblem, type KnowledgeSearcher, type SearchContext } from './types.js';
import { loadKnowledge } from './loader.js';
import { decideFrom, KnowledgeIndex } from './search.js';

/** The `expected` value of a case that no entry should answer. */
export const OUT_OF_SCOPE = 'out_of_scope';

/** One line of a cases file. */
export interface EvalCase {
  query: string;
  /** An entry id, or `out_of_scope`. */
  expected: string;
}

/** The figures `npm run eval` prints; percentages 0–100, times in milliseconds. */
export interface EvalReport {
  cases: number;
  /** In-scope cases whose expected entry ranks first / in the first three, before any rejection. */
  top1: number;
  top3: number;
  /** In-scope cases answered with the expected entry (a wrong rejection counts as an error). */
  inScopeAccuracy: number;
  /** Out-of-scope cases not answered (suggesting or saying nothing fits both count as rejecting). */
  oosRecall: number;
  /** Share of rejections that were out of scope. */
  oosPrecision: number;
  p50Ms: number;
  p99Ms: number;
  /** Time to build the index; 0 when `evaluate` was given a ready searcher. */
  indexMs: number;
}

/** Thrown for a bad command line or cases file; the message says which line and what to fix. */
export class EvalError extends Error {
  override name = 'EvalError';
}

/** Parses JSON Lines cases (`{"query", "expected"}`); `source` names the file in error messages. */
export function parseCases(text: string, source = 'cases'): EvalCase[] {
  const cases: EvalCase[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new EvalError(`${source}:${i + 1}: not JSON (${(err as Error).message}); each line must be {"query": "...", "expected": "<id>" | "out_of_scope"}`);
    }
    const c = value as Partial<EvalCase>;
    if (typeof c?.query !== 'string' || typeof c.expected !== 'string') {
      throw new EvalError(`${source}:${i + 1}: needs string fields "query" and "expected"`);
    }
    cases.push({ query: c.query, expected: c.expected });
  });
  return cases;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const pct = (n: number, d: number) => (d === 0 ? 0 : Math.round((1000 * n) / d) / 10);
const ms = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Runs every case through `searcher.search` and the default decision (`decideFrom`, the same one the bot
 * uses) and computes the figures. Shared by the CLI, the benchmark and the tests.
 */
export function evaluate(searcher: KnowledgeSearcher, cases: EvalCase[], context: SearchContext = {}): EvalReport {
  let inScope = 0;
  let top1 = 0;
  let top3 = 0;
  let correct = 0;
  let oos = 0;
  let oosRejected = 0;
  let rejected = 0;
  const times: number[] = [];
  for (const c of cases) {
    const start = performance.now();
    const matches = searcher.search(c.query, { ...context, limit: 5 });
    const decision = decideFrom(matches);
    times.push(performance.now() - start);
    const answered = decision.kind === 'answer' ? decision.match.entry.id : undefined;
    if (!answered) rejected++;
    if (c.expected === OUT_OF_SCOPE) {
      oos++;
      if (!answered) oosRejected++;
      continue;
    }
    inScope++;
    const ids = matches.slice(0, 3).map((m) => m.entry.id);
    if (ids[0] === c.expected) top1++;
    if (ids.includes(c.expected)) top3++;
    if (answered === c.expected) correct++;
  }
  times.sort((a, b) => a - b);
  return {
    cases: cases.length,
    top1: pct(top1, inScope),
    top3: pct(top3, inScope),
    inScopeAccuracy: pct(correct, inScope),
    oosRecall: pct(oosRejected, oos),
    oosPrecision: pct(oosRejected, rejected),
    p50Ms: ms(percentile(times, 0.5)),
    p99Ms: ms(percentile(times, 0.99)),
    indexMs: 0,
  };
}

/** Loads the folder, builds the index with the defaults, evaluates the cases file. */
export async function evaluateFolder(knowledgeDir: string, casesFile: string): Promise<EvalReport & { entries: number }> {
  const loaded = await loadKnowledge(knowledgeDir);
  if (loaded.problems.length > 0) {
    throw new EvalError(
      `knowledge folder ${knowledgeDir} has ${loaded.problems.length} problem(s); fix them (npm run kb -- check ${knowledgeDir}):\n` +
        loaded.problems.map(formatProblem).join('\n'),
    );
  }
  let text: string;
  try {
    text = await readFile(casesFile, 'utf8');
  } catch (err) {
    throw new EvalError(`cannot read cases file ${casesFile}: ${(err as Error).message}`);
  }
  const cases = parseCases(text, casesFile);
  const start = performance.now();
  const index = KnowledgeIndex.build(loaded.entries);
  const indexMs = performance.now() - start;
  return { ...evaluate(index, cases), indexMs: Math.round(indexMs), entries: loaded.entries.length };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { knowledge: { type: 'string' }, cases: { type: 'string' } } });
  if (!values.knowledge || !values.cases) {
    console.error('usage: npm run eval -- --knowledge DIR --cases FILE');
    return 2;
  }
  try {
    const { entries, ...report } = await evaluateFolder(values.knowledge, values.cases);
    console.log(`${entries} entries, ${report.cases} cases`);
    console.log(JSON.stringify(report));
    return 0;
  } catch (err) {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
