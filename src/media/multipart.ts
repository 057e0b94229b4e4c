/**
 * Reads a `multipart/form-data` request with busboy, holding every part in memory within limits that
 * are checked while the bytes arrive (a part over its limit stops the read at once, it is never
 * buffered whole). Used by the Web Chat upload route and the agent attachment route.
 */
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';

/** One part of the form (a file, or a field such as Direct Line's `activity`). */
export interface FormPart {
  /** The form field name (`file`, `activity`, ...). */
  field: string;
  /** The file name the client gave, if any. */
  filename?: string;
  /** The part's declared type (a claim: see `sniffContentType`). */
  contentType: string;
  bytes: Buffer;
}

/** What the route allows. */
export interface FormLimits {
  /** Most parts in the form. */
  maxParts: number;
  /** Largest part, by field name (e.g. a small `activity`, larger files). */
  maxPartBytes: (field: string) => number;
}

/** A form that cannot be read: 400 (malformed), 413 (too large, too many parts), 415 (not multipart). */
export class FormError extends Error {
  override readonly name = 'FormError';
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

/** True when the request says it is `multipart/form-data`. */
export function isMultipart(req: IncomingMessage): boolean {
  return /^multipart\/form-data\b/i.test(String(req.headers['content-type'] ?? ''));
}

/** Every part of the form, in order; `FormError` when the form breaks a limit or is malformed. */
export function readMultipart(req: IncomingMessage, limits: FormLimits, where: string): Promise<FormPart[]> {
  if (!isMultipart(req)) return Promise.reject(new FormError(415, `${where}: send multipart/form-data, not ${req.headers['content-type'] ?? 'no Content-Type'}`));
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { parts: limits.maxParts, files: limits.maxParts, fields: limits.maxParts } });
    } catch (err) {
      reject(new FormError(400, `${where}: ${(err as Error).message}`));
      return;
    }
    const parts: FormPart[] = [];
    let failed = false;
    let pending = 0;
    let finished = false;
    const fail = (err: FormError) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume(); // the rest is read and dropped, so the answer is not stuck behind an unread body
      reject(err);
    };
    const done = () => {
      if (!failed && finished && pending === 0) resolve(parts);
    };
    const tooMany = () => fail(new FormError(413, `${where}: more than ${limits.maxParts} parts in the form`));
    parser.on('file', (field, stream, info) => {
      const max = limits.maxPartBytes(field);
      const chunks: Buffer[] = [];
      let size = 0;
      pending++;
      stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        size += chunk.length;
        if (size > max) {
          stream.resume();
          return fail(new FormError(413, `${where}: "${info.filename ?? field}" is over the limit of ${max} bytes`));
        }
        chunks.push(chunk);
      });
      stream.on('end', () => {
        pending--;
        parts.push({ field, ...(info.filename ? { filename: info.filename } : {}), contentType: info.mimeType || 'application/octet-stream', bytes: Buffer.concat(chunks) });
        done();
      });
      stream.on('error', (err: Error) => fail(new FormError(400, `${where}: ${err.message}`)));
    });
    parser.on('field', (field, value, info) => {
      if (info.valueTruncated || Buffer.byteLength(value) > limits.maxPartBytes(field)) return fail(new FormError(413, `${where}: field "${field}" is over its limit`));
      parts.push({ field, contentType: info.mimeType || 'text/plain', bytes: Buffer.from(value) });
    });
    parser.on('partsLimit', tooMany);
    parser.on('filesLimit', tooMany);
    parser.on('fieldsLimit', tooMany);
    parser.on('error', (err: Error) => fail(new FormError(400, `${where}: the form is malformed (${err.message})`)));
    parser.on('close', () => {
      finished = true;
      done();
    });
    req.on('error', (err) => fail(new FormError(400, `${where}: ${err.message}`)));
    req.pipe(parser);
  });
}
