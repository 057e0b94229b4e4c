/**
 * The worker thread behind `summarizeOffThread` (summary-pool.ts): builds the recognizer models once,
 * then summarises each request it is sent. recognizers-text's date-time and number models need
 * seconds for a page of dates and amounts, which must not block the server's event loop.
 */
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { summarize, warmUpModels } from './summary.js';
import type { SummaryRequest, SummaryResponse } from './summary-pool.js';

/**
 * The worker's nice value: on a busy machine it gives the CPU to the server's event loop (on Linux a
 * thread's nice value is its own, so only this thread is lowered). A summary can wait; `/healthz` cannot.
 */
export const SUMMARY_WORKER_NICE = 10;

try {
  os.setPriority(0, SUMMARY_WORKER_NICE);
} catch {
  // not permitted here: the summary runs at normal priority
}
warmUpModels();
parentPort!.on('message', (request: SummaryRequest) => {
  let response: SummaryResponse;
  try {
    response = { id: request.id, summary: summarize(request.messages, request.culture, request.refDate, request.options) };
  } catch (err) {
    response = { id: request.id, error: (err as Error).stack ?? String(err) };
  }
  parentPort!.postMessage(response);
});
