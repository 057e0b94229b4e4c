/**
 * Direct Line's error answers: every 4xx and 5xx under `/v3/directline` carries an `ErrorResponse`,
 * `{"error": {"code", "message"}}`, whose `code` is stable and whose `message` is for people.
 *
 * The codes, and where they come from:
 * - `TokenExpired` (403): a token that was valid once has run out — the Direct Line 3.0 API reference,
 *   "HTTP status codes" (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-direct-line-3-0-api-reference#http-status-codes).
 * - `BadArgument`, `BadSyntax`, `MissingProperty`, `MessageSizeTooBig`, `ServiceError`: the Bot Framework's
 *   error codes (`Microsoft.Bot.Connector.ErrorCodes` in botbuilder-dotnet,
 *   https://github.com/microsoft/botbuilder-dotnet/blob/main/libraries/Microsoft.Bot.Connector/ErrorResponseEx.cs).
 *   Direct Line itself answers a missing credential with `BadArgument` "Missing token or secret" and an
 *   unknown one with 403 `BadArgument` "Invalid token or secret" (as quoted in
 *   https://github.com/microsoft/BotFramework-WebChat/issues/1935 and
 *   https://github.com/microsoft/botframework-sdk/issues/2410), which we follow.
 * - Where neither names the case, the HTTP status's own name, as restify-errors spells it: `Forbidden`,
 *   `NotFound`, `MethodNotAllowed`, `Conflict`, `UnsupportedMediaType`, `TooManyRequests`.
 *
 * botframework-directlinejs looks only at the status, never at the code (403 on a post or refresh marks
 * the token expired, 404 ends the conversation, 429 fails that post — post-limits.ts on Retry-After), so
 * statuses stay what they were; the codes are for people and for other clients.
 */
import { STATUS_CODES } from 'node:http';
import type { ErrorModel } from 'botbuilder';
import type { Request, Response } from 'restify';
import { systemClock, type Clock } from '../../src/clock.js';
import { StoreUnavailableError } from '../../src/engine/errors.js';
import type { Logger } from '../../src/log.js';

/** The `code` values this server sends (see the module comment for their sources). */
export const DIRECT_LINE_ERROR_CODES = [
  'BadArgument',
  'BadSyntax',
  'MissingProperty',
  'MessageSizeTooBig',
  'TokenExpired',
  'ServiceError',
  'Forbidden',
  'NotFound',
  'MethodNotAllowed',
  'Conflict',
  'UnsupportedMediaType',
  'TooManyRequests',
] as const;
/** One of {@link DIRECT_LINE_ERROR_CODES}. */
export type DirectLineErrorCode = (typeof DIRECT_LINE_ERROR_CODES)[number];

const isDirectLineCode = (code: unknown): code is DirectLineErrorCode => (DIRECT_LINE_ERROR_CODES as readonly unknown[]).includes(code);

/** Direct Line's `ErrorResponse` body (botbuilder's `ErrorResponse` without the connector's `innerHttpError`). */
export interface DirectLineErrorBody {
  error: Pick<ErrorModel, 'code' | 'message'>;
}

/**
 * An error answered in Direct Line's shape. restify sends any Error with a numeric `statusCode` as
 * `JSON.stringify(err)`, so `toJSON` is the body.
 */
export class DirectLineError extends Error {
  override name = 'DirectLineError';
  constructor(
    readonly statusCode: number,
    readonly code: DirectLineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): DirectLineErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The code for a status when the thrower named none (a restify-errors error, e.g. from the rate limiter). */
const CODE_OF_STATUS: Record<number, DirectLineErrorCode> = {
  400: 'BadArgument',
  401: 'BadArgument',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  413: 'MessageSizeTooBig',
  415: 'UnsupportedMediaType',
  429: 'TooManyRequests',
};

/** What an unexpected error says to the client; the error itself goes to the log. */
export const UNEXPECTED_ERROR_MESSAGE = 'unexpected error; it is in the server log';

/**
 * Any error as a {@link DirectLineError}: ours as they are; an error raised on purpose with a status
 * (restify-errors) keeps its status and message, and its `code` when that is a Direct Line one
 * (`new errors.ForbiddenError({ code: 'TokenExpired' }, …)`; restify-errors drops `restCode`), else the
 * status's; a storage outage is 503 (the client sends again);
 * anything else is 500 with a fixed message, logged here, because its text may hold internals.
 */
export function toDirectLineError(err: unknown, logger?: Logger): DirectLineError {
  if (err instanceof DirectLineError) return err;
  if (err instanceof StoreUnavailableError) {
    return new DirectLineError(503, 'ServiceError', 'web chat: storage is unavailable right now; send the request again in a few seconds', { cause: err });
  }
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  if (err instanceof Error && typeof status === 'number' && status >= 400 && status < 600) {
    const named = (err as { code?: unknown }).code;
    const code = isDirectLineCode(named) ? named : (CODE_OF_STATUS[status] ?? (status >= 500 ? 'ServiceError' : 'BadArgument'));
    return new DirectLineError(status, code, err.message, { cause: err });
  }
  logger?.error('web chat request failed', { error: err instanceof Error ? err.message : String(err) });
  return new DirectLineError(500, 'ServiceError', UNEXPECTED_ERROR_MESSAGE, { cause: err });
}

/** A Direct Line route handler, as restify calls it. */
export type DirectLineHandler = (req: Request, res: Response) => Promise<void>;

/**
 * Wraps a route so whatever it throws is answered in Direct Line's shape ({@link toDirectLineError}),
 * and a 429's Retry-After in seconds becomes the same moment as an HTTP date. Both forms are HTTP's
 * (RFC 9110 §10.2.3), and the date is the one botframework-directlinejs survives: given a number it
 * calls `Observable.timer`, which its rxjs build lacks, and the TypeError turns a refused post into a
 * "sent" one with the id "retry" (Web Chat then waits 20 s for an echo that never comes) and a refused
 * start into retries. Given a date it fails that request at once.
 */
export function directLineRoute(handler: DirectLineHandler, options: { logger?: Logger; clock?: Clock } = {}): DirectLineHandler {
  return async (req, res) => {
    try {
      await handler(req, res);
    } catch (err) {
      const answer = toDirectLineError(err, options.logger);
      const seconds = answer.statusCode === 429 ? Number(res.getHeader('Retry-After')) : NaN;
      if (Number.isFinite(seconds)) res.setHeader('Retry-After', new Date((options.clock ?? systemClock).now().getTime() + seconds * 1000).toUTCString());
      throw answer;
    }
  };
}

/**
 * The raw HTTP answer refusing a WebSocket upgrade (no restify there: the socket is ours until
 * `handleUpgrade`), with the same body as the REST routes.
 */
export function upgradeRefusal(err: DirectLineError): string {
  const body = JSON.stringify(err.toJSON());
  return `HTTP/1.1 ${err.statusCode} ${STATUS_CODES[err.statusCode] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
