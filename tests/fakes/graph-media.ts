/**
 * The media side of the fake Graph API (`FakeGraph.media`), as Meta serves customers' files:
 *
 * - WhatsApp: `GET /{version}/{media-id}[?phone_number_id=]` with `Authorization: Bearer <access token>`
 *   answers `{messaging_product, url, mime_type, sha256, file_size, id}`; the `url` (Meta's lookaside
 *   host, here this server) is valid for five minutes and needs the same Bearer token, else 401.
 *   An unknown media id is Meta's "Unsupported get request" (400, code 100, subcode 33).
 * - Messenger: a CDN URL in the webhook's `payload.url`, fetched with no token.
 *
 * Failures can be scripted (`failDownloads`), and every download is recorded (`downloads`).
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long a looked-up WhatsApp media URL works, as Meta documents. */
export const FAKE_MEDIA_URL_TTL_MS = 5 * 60 * 1000;

interface StoredFile {
  bytes: Buffer;
  contentType: string;
  /** What the lookup announces (default: the real size and hash); tests may make them lie. */
  fileSize?: number;
  sha256?: string;
}

/** One download request the fake answered. */
export interface RecordedDownload {
  path: string;
  authorization?: string;
  status: number;
}

export class FakeGraphMedia {
  readonly downloads: RecordedDownload[] = [];
  private readonly whatsapp = new Map<string, StoredFile>();
  private readonly cdn = new Map<string, StoredFile>();
  /** Issued lookaside URLs: hash → media id and when it stops working. */
  private readonly issued = new Map<string, { mediaId: string; until: number }>();
  private failures: number[] = [];
  /** While set, downloads wait for it (a slow CDN), so a test can see what happens meanwhile. */
  private held?: Promise<void>;
  private seq = 0;

  constructor(private readonly options: { whatsappAccessToken: () => string; phoneNumberId: () => string; origin: () => string; now?: () => number }) {}

  /** A file a WhatsApp customer sent; returns its media id (for the webhook's `image.id` etc.). */
  addWhatsApp(bytes: Buffer, contentType: string, announce: { fileSize?: number; sha256?: string } = {}): string {
    const id = String(1_000_000_000_000_000 + ++this.seq);
    this.whatsapp.set(id, { bytes, contentType, ...announce });
    return id;
  }

  /** A file on Meta's CDN as a Messenger webhook links it; returns its URL (for `payload.url`). */
  addCdn(bytes: Buffer, contentType: string, name = `attachment-${this.seq + 1}.bin`): string {
    const key = `/cdn/v/t1.15752-9/${++this.seq}/${encodeURIComponent(name)}`;
    this.cdn.set(key, { bytes, contentType });
    return `${this.options.origin()}${key}?_nc_sig=${randomBytes(6).toString('hex')}`;
  }

  /** The next `times` downloads (either platform) answer `status` instead of the file. */
  failDownloads(times: number, status = 500): void {
    for (let i = 0; i < times; i++) this.failures.push(status);
  }

  /** Downloads wait until the returned function is called (both platforms). */
  hold(): () => void {
    let release!: () => void;
    this.held = new Promise<void>((r) => (release = r));
    return () => {
      this.held = undefined;
      release();
    };
  }

  /** Lookaside URLs handed out so far (tests can check they expire or need the token). */
  issuedUrls(): string[] {
    return [...this.issued.keys()].map((hash) => this.lookasideUrl(this.issued.get(hash)!.mediaId, hash));
  }

  reset(): void {
    this.downloads.length = 0;
    this.failures = [];
    this.issued.clear();
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private lookasideUrl(mediaId: string, hash: string): string {
    return `${this.options.origin()}/whatsapp_business/attachments/?mid=${mediaId}&ext=${Math.floor(this.now() / 1000)}&hash=${hash}`;
  }

  /**
   * `GET /{media-id}` on the Graph API for the WhatsApp token; undefined for any other request (the
   * fake's other routes answer it). `path` is without the version prefix.
   */
  lookup(method: string, path: string, token: string | undefined, query: Record<string, string>): [number, unknown] | undefined {
    if (method !== 'GET' || !/^\d+$/.test(path) || token !== this.options.whatsappAccessToken()) return undefined;
    const file = this.whatsapp.get(path);
    if (!file) return metaError(400, 100, 33, `Unsupported get request. Object with ID '${path}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`);
    if (query.phone_number_id !== undefined && query.phone_number_id !== this.options.phoneNumberId()) return metaError(400, 100, undefined, '(#100) The media does not belong to this phone number.');
    const hash = randomBytes(8).toString('hex');
    this.issued.set(hash, { mediaId: path, until: this.now() + FAKE_MEDIA_URL_TTL_MS });
    return [
      200,
      {
        messaging_product: 'whatsapp',
        url: this.lookasideUrl(path, hash),
        mime_type: file.contentType,
        sha256: file.sha256 ?? createHash('sha256').update(file.bytes).digest('hex'),
        file_size: String(file.fileSize ?? file.bytes.length), // Meta sends it as a string
        id: path,
      },
    ];
  }

  /** Answers a download (lookaside or CDN) and returns true; false when `req` is not one. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://fake');
    const isLookaside = url.pathname === '/whatsapp_business/attachments/';
    if (!isLookaside && !url.pathname.startsWith('/cdn/')) return false;
    if (this.held) void this.held.then(() => this.answerDownload(req, res, url, isLookaside));
    else this.answerDownload(req, res, url, isLookaside);
    return true;
  }

  private answerDownload(req: IncomingMessage, res: ServerResponse, url: URL, isLookaside: boolean): boolean {    const answer = (status: number, type: string, body: Buffer | string) => {
      this.downloads.push({ path: url.pathname + url.search, authorization: req.headers.authorization, status });
      res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
      return true;
    };
    if (req.method !== 'GET') return answer(405, 'text/plain', 'method not allowed');
    const failure = this.failures.shift();
    if (failure !== undefined) return answer(failure, 'text/plain', 'scripted failure');
    let file: StoredFile | undefined;
    if (isLookaside) {
      const issued = this.issued.get(url.searchParams.get('hash') ?? '');
      if (req.headers.authorization !== `Bearer ${this.options.whatsappAccessToken()}`) return answer(401, 'application/json', JSON.stringify({ error: { message: 'Invalid OAuth access token', code: 190 } }));
      if (!issued || issued.mediaId !== url.searchParams.get('mid') || issued.until < this.now()) return answer(404, 'text/plain', 'URL signature expired');
      file = this.whatsapp.get(issued.mediaId);
    } else file = this.cdn.get(url.pathname);
    if (!file) return answer(404, 'text/plain', 'not found');
    return answer(200, file.contentType, file.bytes);
  }
}

function metaError(status: number, code: number, subcode: number | undefined, message: string): [number, unknown] {
  return [status, { error: { message, type: 'OAuthException', code, ...(subcode !== undefined ? { error_subcode: subcode } : {}), fbtrace_id: 'AFakeTrace' } }];
}
