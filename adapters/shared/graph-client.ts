/**
 * The one place a Meta adapter touches the network: a small Graph API client with retries.
 * 429 and 5xx (and Meta's throttling codes) are retried with exponential backoff and full jitter,
 * honouring `Retry-After`; timeouts and network errors are retried too; any other error is final
 * and surfaces as `GraphApiError` with Meta's code, subcode, message and fbtrace_id.
 * @see https://developers.facebook.com/docs/graph-api/overview/rate-limiting
 * @see https://developers.facebook.com/docs/graph-api/guides/error-handling
 */
import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import { GraphApiError, GraphUnavailableError } from './errors.js';
import type { GraphErrorClass, GraphMetrics } from '../../src/ops/metrics.js';

/** What the client needs from `fetch`; Node's global `fetch` fits, tests may pass their own. */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string | FormData; signal?: AbortSignal }) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

/**
 * Retry policy; the defaults suit a webhook bot (a reply is still useful a minute or two later).
 * With the defaults, the waits alone add up to at least 90 s (0.25+0.5+1+2+4+8+15·5 s with the
 * least jitter, up to 181 s with the most), so a Graph API outage of a full minute — 500s, 429s or
 * timeouts — is ridden out and the reply still goes; tests/faults/graph-outage.test.ts shows it.
 * Until the send succeeds the inbound message stays pending in the channel journal, so a restart
 * during the outage runs the turn again.
 */
export interface RetryOptions {
  /** Attempts in all, including the first (default 12). */
  maxAttempts?: number;
  /** First backoff step in ms (default 500); doubles each attempt. */
  baseDelayMs?: number;
  /** Longest single wait in ms, also the cap on Retry-After (default 30 s). Retry-After is a floor on the backoff, never a shortcut. */
  maxDelayMs?: number;
  /** Per-attempt timeout in ms (default 10 s). */
  timeoutMs?: number;
}

export interface GraphClientOptions extends RetryOptions {
  /** Base URL with version, e.g. `https://graph.facebook.com/v23.0` (Config.graphApiUrl). */
  baseUrl: string;
  accessToken: string;
  /** `query` puts `access_token` in the URL (Messenger's documented form); `bearer` uses the Authorization header (WhatsApp). */
  auth: 'query' | 'bearer';
  /** Used in error messages: `messenger`, `whatsapp`. */
  name: string;
  fetch?: FetchLike;
  /** Injectable so tests do not wait; default `setTimeout`. */
  sleep?: (ms: number) => Promise<void>;
  /** Injectable jitter source in [0, 1); default Math.random. */
  random?: () => number;
  logger?: Logger;
  /** Counts attempts, failures by class and retries under `name` (`Metrics`); none: not counted. */
  metrics?: GraphMetrics;
}

/** Graph error codes that mean "slow down" even when the HTTP status is 400. */
export const THROTTLING_CODES = new Set([4, 17, 32, 613, 80006, 130429, 131056]);

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Attempts of a send by default: enough backoff to outlast a one-minute Graph API outage (see RetryOptions). */
export const DEFAULT_MAX_ATTEMPTS = 12;

/** A Graph API client for one channel's token; only `request` does I/O. */
export class GraphClient {
  private readonly fetch: FetchLike;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly logger: Logger;
  private readonly retry: Required<RetryOptions>;

  constructor(private readonly options: GraphClientOptions) {
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? silentLogger;
    this.retry = {
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      baseDelayMs: options.baseDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 30_000,
      timeoutMs: options.timeoutMs ?? 10_000,
    };
  }

  /** POST a JSON body to `path` (e.g. `/me/messages`), retrying transient failures. */
  post<T = any>(path: string, body: unknown, opts: { maxAttempts?: number } = {}): Promise<T> {
    return this.request<T>('POST', path, body, opts);
  }

  /**
   * POST a `multipart/form-data` body (a media upload); `form` is called for every attempt, so each
   * retry sends a complete form.
   */
  postForm<T = any>(path: string, form: () => FormData, opts: { maxAttempts?: number } = {}): Promise<T> {
    return this.request<T>('POST', path, form, opts);
  }

  /** GET `path` with query parameters (e.g. a user profile). */
  get<T = any>(path: string, query: Record<string, string> = {}, opts: { maxAttempts?: number } = {}): Promise<T> {
    const qs = new URLSearchParams(query).toString();
    return this.request<T>('GET', qs ? `${path}?${qs}` : path, undefined, opts);
  }

  /**
   * The backoff before attempt `attempt + 1`: "equal jitter" over base·2^attempt (half fixed, half
   * random), raised to Retry-After when Meta asks for longer (a short Retry-After repeated must not
   * burn the attempts in seconds), capped at maxDelayMs.
   */
  backoffMs(attempt: number, retryAfter?: string | null): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** attempt);
    const backoff = Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
    const ra = parseRetryAfter(retryAfter);
    return Math.min(Math.max(ra ?? 0, backoff), this.retry.maxDelayMs);
  }

  private async request<T>(method: string, path: string, body: unknown, opts: { maxAttempts?: number }): Promise<T> {
    const where = `${this.options.name}: ${method} ${path.split('?')[0]}`;
    const maxAttempts = opts.maxAttempts ?? this.retry.maxAttempts;
    const headers: Record<string, string> = { accept: 'application/json' };
    let url = this.options.baseUrl + path;
    if (this.options.auth === 'bearer') headers.authorization = `Bearer ${this.options.accessToken}`;
    else url += (url.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(this.options.accessToken);
    const form = typeof body === 'function' ? (body as () => FormData) : undefined;
    const payload = body === undefined || form ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = 'application/json'; // fetch sets a form's own boundary

    let lastError: unknown;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      let retryAfter: string | null = null;
      let status = 0;
      let text = '';
      this.options.metrics?.graphRequest(this.options.name);
      try {
        const res = await this.fetch(url, { method, headers, body: form ? form() : payload, signal: AbortSignal.timeout(this.retry.timeoutMs) });
        status = res.status;
        text = await res.text();
        retryAfter = res.headers.get('retry-after');
      } catch (err) {
        lastError = err; // network error or timeout: worth another try
        this.options.metrics?.graphError(this.options.name, 'network');
        this.logger.warn('graph call failed, will retry', { where, error: (err as Error).message, attempt: attempt + 1 });
      }
      if (status >= 200 && status < 300) return (text ? JSON.parse(text) : {}) as T;
      if (status !== 0) {
        const err = toGraphError(where, status, text);
        const throttled = status === 429 || (err.code !== undefined && THROTTLING_CODES.has(err.code));
        const retryable = throttled || status >= 500;
        this.options.metrics?.graphError(this.options.name, (throttled ? 'throttled' : status >= 500 ? '5xx' : '4xx') satisfies GraphErrorClass);
        if (!retryable) throw err;
        lastError = err;
        this.logger.warn('graph call will be retried', { where, status, code: err.code, attempt: attempt + 1 });
      }
      if (attempt + 1 < maxAttempts) {
        this.options.metrics?.graphRetry(this.options.name);
        await this.sleep(this.backoffMs(attempt, retryAfter));
      }
    }
    if (lastError instanceof GraphApiError) throw lastError;
    throw new GraphUnavailableError(where, maxAttempts, lastError);
  }
}

function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Reads Meta's error envelope `{error: {message, type, code, error_subcode, fbtrace_id, error_data}}`. */
export function toGraphError(where: string, status: number, text: string): GraphApiError {
  let e: any;
  try {
    e = JSON.parse(text)?.error;
  } catch {
    e = undefined;
  }
  if (!e || typeof e !== 'object') return new GraphApiError(where, status, undefined, undefined, text.slice(0, 200) || `HTTP ${status}`, undefined);
  const details = typeof e.error_data === 'object' ? e.error_data?.details : typeof e.error_data === 'string' ? e.error_data : undefined;
  return new GraphApiError(
    where,
    status,
    typeof e.code === 'number' ? e.code : undefined,
    typeof e.error_subcode === 'number' ? e.error_subcode : undefined,
    String(e.message ?? `HTTP ${status}`),
    typeof e.fbtrace_id === 'string' ? e.fbtrace_id : undefined,
    typeof e.type === 'string' ? e.type : undefined,
    details,
  );
}
