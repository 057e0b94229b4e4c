/**
 * `npm run report -- [--days 30] [--channel webchat|messenger|whatsapp] [--json]`: the analytics of
 * the agent console's Analytics view, as tables (or the API's JSON with `--json`), read from the same
 * backend as the server: PostgreSQL when DATABASE_URL is set, else DATA_DIR. It only reads (on
 * PostgreSQL it first applies pending migrations, as every command does), so it is safe beside a running server.
 * Exit codes: 0 fine, 1 the backend could not be read, 2 bad arguments or configuration.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, loadDotEnv } from '../config.js';
import { InsightsStore } from '../bot/insights.js';
import { FileCsatStore } from '../bot/csat-store.js';
import { LowdbStorage } from '../storage/index.js';
import { Database, DatabaseUnavailableError, MigrationError } from '../storage/postgres/database.js';
import { PgStorage } from '../storage/postgres/storage.js';
import { PgCsatStore } from '../storage/postgres/csat-store.js';
import { ANALYTICS_CHANNELS } from './facts.js';
import { FileAnalyticsStore } from './file-store.js';
import { PgAnalyticsStore } from './pg-store.js';
import { MAX_REPORT_DAYS, buildReport, type AnalyticsReport, type DurationFigures, type Figures } from './report.js';
import type { Clock } from '../clock.js';

/** Where the CLI writes; tests pass arrays. */
export interface ReportIo {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `usage: npm run report -- [--days 30] [--channel ${ANALYTICS_CHANNELS.join('|')}] [--json]`;

/** Runs the command; returns the exit code. */
export async function main(args: string[], target: { dataDir: string; databaseUrl?: string }, io: ReportIo, clock?: Clock): Promise<number> {
  let values: { days?: string; channel?: string; json?: boolean };
  try {
    ({ values } = parseArgs({ args, options: { days: { type: 'string' }, channel: { type: 'string' }, json: { type: 'boolean' } }, strict: true, allowPositionals: false }));
  } catch (e) {
    io.err(`report: ${(e as Error).message} (${USAGE})`);
    return 2;
  }
  const days = values.days === undefined ? 30 : Number(values.days);
  if (!/^[0-9]+$/.test(values.days ?? '30') || days < 1 || days > MAX_REPORT_DAYS) {
    io.err(`report: --days must be a whole number of days from 1 to ${MAX_REPORT_DAYS}, got ${values.days} (${USAGE})`);
    return 2;
  }
  const channel = values.channel;
  if (channel !== undefined && !(ANALYTICS_CHANNELS as readonly string[]).includes(channel)) {
    io.err(`report: --channel must be one of ${ANALYTICS_CHANNELS.join(', ')}, got ${channel} (${USAGE})`);
    return 2;
  }

  let db: Database | undefined;
  try {
    db = target.databaseUrl ? await Database.open(target.databaseUrl) : undefined;
  } catch (e) {
    if (!(e instanceof DatabaseUnavailableError || e instanceof MigrationError)) throw e;
    io.err(`report: ${e.message}`);
    return 1;
  }
  try {
    const store = db ? new PgAnalyticsStore(db) : await FileAnalyticsStore.open(target.dataDir, { now: clock?.now() });
    const csat = db ? new PgCsatStore(db) : await FileCsatStore.open(target.dataDir);
    const insights = new InsightsStore(db ? new PgStorage(db) : new LowdbStorage({ dir: target.dataDir }));
    const report = await buildReport({ store, csat, insights, clock }, { days, channel });
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of formatReport(report)) io.out(line);
    return 0;
  } finally {
    await db?.close();
  }
}

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
const avg = (x: number | null) => (x === null ? '–' : x.toFixed(2));

/** A duration for people: 850 ms, 4.2 s, 3.5 min, 1.2 h. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

const p50p90 = (d: DurationFigures) => `${formatMs(d.p50Ms)} / ${formatMs(d.p90Ms)}`;

/** The rows of the channel table, one column per channel and one for all. */
const ROWS: [string, (f: Figures) => string][] = [
  ['conversations', (f) => String(f.conversations)],
  ['customers', (f) => String(f.customers)],
  ['contained', (f) => `${f.contained} (${pct(f.containment)})`],
  ['bot answers', (f) => String(f.answers)],
  ['suggestions', (f) => String(f.suggestions)],
  ['misses', (f) => String(f.misses)],
  ['handoffs', (f) => String(f.handoffs.total)],
  ['reply p50 / p90', (f) => p50p90(f.replyMs)],
  ['queue wait p50 / p90', (f) => p50p90(f.waitMs)],
  ['handle time p50 / p90', (f) => p50p90(f.handleMs)],
  ['CSAT average (ratings)', (f) => `${avg(f.csat.average)} (${f.csat.count})`],
];

/** Left-aligned first column, right-aligned others, two spaces apart. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** The report as the tables `npm run report` prints. */
export function formatReport(r: AnalyticsReport): string[] {
  const channels = Object.keys(r.channels);
  const cols = channels.length > 1 ? [...channels, 'all'] : channels;
  const figs = (c: string) => (c === 'all' ? r.totals : r.channels[c]!);
  const out = [`Analytics, last ${r.days} day${r.days === 1 ? '' : 's'} (${r.from.slice(0, 10)} to ${r.to.slice(0, 10)}, UTC)${r.channel ? `, ${r.channel}` : ''}`, ''];
  out.push(...table(['', ...cols], ROWS.map(([name, f]) => [name, ...cols.map((c) => f(figs(c)))])));
  const reasons = [...new Set(cols.flatMap((c) => Object.keys(figs(c).handoffs.byReason)))].sort();
  if (reasons.length) {
    out.push('', ...table(['handoffs by reason', ...cols], reasons.map((reason) => [reason, ...cols.map((c) => String(figs(c).handoffs.byReason[reason as keyof Figures['handoffs']['byReason']] ?? 0))])));
  }
  out.push('', ...table(['day', 'conversations', 'contained', 'handoffs', 'reply p50', 'wait p50', 'CSAT'], r.daily.map((d) => [d.day, String(d.totals.conversations), pct(d.totals.containment), String(d.totals.handoffs.total), formatMs(d.totals.replyMs.p50Ms), formatMs(d.totals.waitMs.p50Ms), avg(d.totals.csat.average)])));
  if (r.csatByAgent.length) out.push('', ...table(['CSAT by agent', 'ratings', 'average'], r.csatByAgent.map((a) => [a.agent, String(a.count), avg(a.average)])));
  if (r.topEntries.length) out.push('', ...table(['most used entries', 'answers'], r.topEntries.map((e) => [e.entryId, String(e.count)])));
  if (r.gaps.length) out.push('', ...table(['largest gaps (unanswered)', 'asked'], r.gaps.map((g) => [g.query, String(g.count)])));
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let config: ReturnType<typeof loadConfig>;
  try {
    loadDotEnv(); // the same .env as `npm start`, so both read the same backend
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${err.name}: ${err.message}`);
    process.exit(2);
  }
  process.exitCode = await main(process.argv.slice(2), { dataDir: config.dataDir, databaseUrl: config.databaseUrl }, { out: (l) => console.log(l), err: (l) => console.error(l) });
}
