/**
 * `botframework-directlinejs` — the client inside Web Chat — running in Node against our server.
 * It needs a WebSocket (global, because its constructor checks `typeof WebSocket`) and an `ajax`
 * service (rxjs 5's default uses XMLHttpRequest, which Node lacks); both are provided here.
 */
import { DirectLine, ConnectionStatus, type DirectLineOptions, type Activity } from 'botframework-directlinejs';
import { Observable } from 'rxjs/Observable.js';
import { WebSocket } from 'ws';

if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
  (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
}

interface AjaxRequest {
  method?: string;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeout?: number;
  responseType?: string;
}

/** rxjs-5 `ajax` on top of fetch, answering like AjaxResponse / AjaxError (status, response, xhr). */
export function fetchAjax(request: AjaxRequest): Observable<unknown> {
  return Observable.create((subscriber: { next(v: unknown): void; error(e: unknown): void; complete(): void }) => {
    const controller = new AbortController();
    const headers: Record<string, string> = { ...(request.headers ?? {}) };
    let body: string | FormData | undefined;
    if (request.body instanceof FormData) body = request.body; // an upload: fetch writes the multipart boundary
    else if (request.body !== undefined && request.body !== null) {
      body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    }
    const timer = request.timeout ? setTimeout(() => controller.abort(), request.timeout) : undefined;
    fetch(request.url, { method: request.method ?? 'GET', headers, body, signal: controller.signal }).then(
      async (res) => {
        let response: unknown;
        if (request.responseType === 'arraybuffer') response = await res.arrayBuffer(); // a file the client uploads
        else {
          const text = await res.text();
          response = text;
          try {
            response = text ? JSON.parse(text) : null;
          } catch {
            /* keep the text */
          }
        }
        const xhr = { getResponseHeader: (h: string) => res.headers.get(h) };
        if (res.status >= 200 && res.status < 300) {
          subscriber.next({ response, status: res.status, xhr });
          subscriber.complete();
        } else subscriber.error({ status: res.status, response, xhr });
      },
      (err) => subscriber.error({ status: 0, error: err }),
    ).finally(() => clearTimeout(timer));
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  });
}

/** A Direct Line client against `domain` (e.g. `http://127.0.0.1:1234/v3/directline`), collecting what it receives. */
export function connect(options: DirectLineOptions & { domain: string }) {
  const directLine = new DirectLine({ ...options, WebSocket: WebSocket as unknown as typeof globalThis.WebSocket, ajax: fetchAjax as never } as never);
  const received: Activity[] = [];
  const waiters: { test: (a: Activity) => boolean; resolve: (a: Activity) => void }[] = [];
  const subscription = directLine.activity$.subscribe((activity) => {
    received.push(activity);
    for (const w of [...waiters]) if (w.test(activity)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(activity);
    }
  });
  return {
    directLine,
    received,
    /** Resolves with the first activity (already received or coming) that passes `test`. */
    waitFor(test: (a: Activity) => boolean, what = 'activity', ms = 8000): Promise<Activity> {
      const seen = received.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(received.map((a) => [a.type, (a as { text?: string }).text]))}`)), ms);
        waiters.push({ test, resolve: (a) => (clearTimeout(timer), resolve(a)) });
      });
    },
    post(activity: Record<string, unknown>): Promise<string> {
      return new Promise((resolve, reject) => {
        directLine.postActivity({ type: 'message', from: { id: 'ignored', name: 'Test User' }, ...activity } as never).subscribe(resolve, reject);
      });
    },
    close() {
      subscription.unsubscribe();
      directLine.end();
    },
  };
}

export { ConnectionStatus };
