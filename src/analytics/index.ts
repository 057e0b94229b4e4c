/**
 * Analytics: facts recorded as they happen (recorder.ts) into the backend's store (file-store.ts,
 * pg-store.ts), turned into the report the agent API, `npm run report` and the console show (report.ts).
 */
export * from './facts.js';
export { AnalyticsRecorder, noteDecision, type HubChange } from './recorder.js';
export { FileAnalyticsStore, MAX_KEPT_DAYS } from './file-store.js';
export { PgAnalyticsStore } from './pg-store.js';
export * from './report.js';

import type { KnowledgeSearcher } from '../knowledge/types.js';
import type { AnalyticsRecorder } from './recorder.js';
import { buildReport, type AnalyticsReport, type ReportSources } from './report.js';

/** What the agent API asks for: the report of the last `days` days, of one channel or all. */
export type AnalyticsReporter = (query: { days: number; channel?: string }) => Promise<AnalyticsReport>;

/** The server's reporter: waits for this instance's facts in flight, then reads the store. */
export function analyticsReporter(recorder: AnalyticsRecorder, sources: Omit<ReportSources, 'store' | 'question'> & { knowledge?: KnowledgeSearcher }): AnalyticsReporter {
  const { knowledge, ...rest } = sources;
  return async (query) => {
    await recorder.flush();
    return buildReport({ ...rest, store: recorder.store, question: (id) => knowledge?.get(id)?.question }, query);
  };
}
