/**
 * The one place the environment is read. Every setting is validated by one zod schema at start-up;
 * a bad or half-set channel fails with a `ConfigError` that names the variable.
 *
 * @example
 *   const config = loadConfig(process.env);   // throws ConfigError on bad input
 */
import { z } from 'zod';

/** A configuration problem, named after the variable that caused it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const optionalSecret = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined));

const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** The shortest METRICS_TOKEN accepted: a bearer token on the network must not be guessable. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

export const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3978),
  HOST: z.string().default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  KNOWLEDGE_DIR: z.string().min(1).default('./knowledge'),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  GRAPH_API_URL: z.string().url().default('https://graph.facebook.com/v23.0'),
  MESSENGER_APP_SECRET: optionalSecret,
  MESSENGER_VERIFY_TOKEN: optionalSecret,
  MESSENGER_PAGE_ACCESS_TOKEN: optionalSecret,
  WHATSAPP_APP_SECRET: optionalSecret,
  WHATSAPP_VERIFY_TOKEN: optionalSecret,
  WHATSAPP_ACCESS_TOKEN: optionalSecret,
  WHATSAPP_PHONE_NUMBER_ID: optionalSecret,
  /** Approved template sent when the 24-hour WhatsApp window has closed (optional). */
  WHATSAPP_TEMPLATE_NAME: optionalSecret,
  WHATSAPP_TEMPLATE_LANGUAGE: z.string().default('en'),
  DIRECTLINE_SECRET: optionalSecret,
  /** Activity POSTs and uploads one web chat token may send per minute (twice that per conversation); 0: no limit. */
  DIRECTLINE_POSTS_PER_MINUTE: z.coerce.number().int().min(0).max(100_000).default(60),
  /** `postgres://…`: keep every piece of state in PostgreSQL (several instances); unset: files in DATA_DIR. */
  DATABASE_URL: optionalSecret.refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), 'must start with postgres:// or postgresql://'),
  /** How many reverse-proxy hops' X-Forwarded-For/-Proto/-Host to believe (0: none). */
  TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  /** How long an instance holds a conversation's turns before another may take them over (it renews while it runs). */
  TURN_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /** Turns one process runs at once, all channels' conversations together (the rest wait their turn). */
  MAX_CONCURRENT_TURNS: z.coerce.number().int().min(1).max(10_000).default(32),
  /** Seconds a client has to send a request's headers (and a silent socket before it is closed). */
  HTTP_HEADERS_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(600).default(10),
  /** Seconds a client has to send a whole request, body included. */
  HTTP_REQUEST_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** Seconds an idle keep-alive connection stays open (behind a load balancer: above its idle timeout). */
  HTTP_KEEP_ALIVE_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  /** Sockets one peer address may hold open (0: no cap); unset: 128, or no cap behind a proxy (TRUST_PROXY > 0). */
  MAX_CONNECTIONS_PER_ADDRESS: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(0).max(1_000_000).optional()),
  /** Sockets the process holds open in all (0: no cap); keep it under `ulimit -n`. */
  MAX_CONNECTIONS: z.coerce.number().int().min(0).max(10_000_000).default(10_000),
  /** The address customers reach, e.g. https://chat.example.com (Direct Line stream URLs derive from it). */
  PUBLIC_URL: optionalSecret.refine((v) => v === undefined || /^https?:\/\/[^/]+/.test(v), 'must be an http(s) origin such as https://chat.example.com'),
  /** Bearer token `GET /metrics` requires; unset: only requests from this machine are answered. */
  METRICS_TOKEN: optionalSecret.refine((v) => v === undefined || (v.length >= MIN_METRICS_TOKEN_LENGTH && /^[\x21-\x7e]+$/.test(v)), `must be at least ${MIN_METRICS_TOKEN_LENGTH} printable characters without spaces`),
  /** IANA time zone and hours in which agents answer, e.g. "Mon-Fri 09:00-18:00". */
  BUSINESS_TIMEZONE: z.string().default('UTC'),
  BUSINESS_HOURS: z.string().default('Mon-Fri 09:00-18:00'),
  /** Chromium for the browser tests (tests only). */
  CHROMIUM_PATH: z.string().optional(),
  REQUIRE_BROWSER: z.string().optional(),
});

type Raw = z.infer<typeof configSchema>;

export interface MessengerConfig {
  appSecret: string;
  verifyToken: string;
  pageAccessToken: string;
}
export interface WhatsAppConfig {
  appSecret: string;
  verifyToken: string;
  accessToken: string;
  phoneNumberId: string;
  templateName?: string;
  templateLanguage: string;
}

/** The validated configuration the server is built from. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  knowledgeDir: string;
  logLevel: (typeof logLevels)[number];
  graphApiUrl: string;
  messenger?: MessengerConfig;
  whatsapp?: WhatsAppConfig;
  directLineSecret?: string;
  /** Direct Line activity POSTs per token per minute (`activityRateLimitsFor`); 0: unlimited. */
  directLinePostsPerMinute: number;
  /** PostgreSQL connection string; undefined: the file backend in `dataDir`. */
  databaseUrl?: string;
  /** Reverse-proxy hops whose forwarding headers are believed. */
  trustProxy: number;
  /** A conversation's lease, in ms: how soon the other instances run the turns of one that died. */
  turnLeaseMs: number;
  /** Turns this process runs at once (`TurnEngineOptions.maxConcurrentTurns`). */
  maxConcurrentTurns: number;
  /** HTTP timeouts and connection caps (`ServerOptions.connections`); an unset per-address cap follows `trustProxy`. */
  connections: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnectionsPerAddress?: number;
    maxConnections: number;
  };
  /** Public origin without a trailing slash, e.g. `https://chat.example.com`. */
  publicUrl?: string;
  /** Bearer token of `GET /metrics`; undefined: loopback requests only. */
  metricsToken?: string;
  businessTimeZone: string;
  businessHours: string;
}

/** A channel is on when all of its settings are set; some but not all is an error naming what is missing. */
function channel<K extends keyof Raw>(raw: Raw, name: string, keys: K[]): Record<K, string> | undefined {
  const set = keys.filter((k) => raw[k] !== undefined);
  if (set.length === 0) return undefined;
  const missing = keys.filter((k) => raw[k] === undefined);
  if (missing.length > 0) {
    throw new ConfigError(
      `${String(missing[0])} is required when ${String(set[0])} is set: the ${name} channel needs ${keys.join(', ')} (see .env.example)`,
    );
  }
  return Object.fromEntries(keys.map((k) => [k, raw[k]])) as unknown as Record<K, string>;
}

/** Validates the environment and returns the configuration; throws ConfigError naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    const variable = String(first.path[0] ?? 'environment');
    throw new ConfigError(`${variable}: ${first.message} (got ${JSON.stringify(env[variable])}; see .env.example)`);
  }
  const raw = parsed.data;
  const m = channel(raw, 'Messenger', ['MESSENGER_APP_SECRET', 'MESSENGER_VERIFY_TOKEN', 'MESSENGER_PAGE_ACCESS_TOKEN']);
  const w = channel(raw, 'WhatsApp', [
    'WHATSAPP_APP_SECRET',
    'WHATSAPP_VERIFY_TOKEN',
    'WHATSAPP_ACCESS_TOKEN',
    'WHATSAPP_PHONE_NUMBER_ID',
  ]);
  try {
    new Intl.DateTimeFormat('en', { timeZone: raw.BUSINESS_TIMEZONE });
  } catch {
    throw new ConfigError(`BUSINESS_TIMEZONE: unknown time zone ${JSON.stringify(raw.BUSINESS_TIMEZONE)} (use an IANA name such as Europe/Berlin)`);
  }
  if (raw.HTTP_REQUEST_TIMEOUT_SECONDS < raw.HTTP_HEADERS_TIMEOUT_SECONDS) {
    throw new ConfigError(`HTTP_REQUEST_TIMEOUT_SECONDS (${raw.HTTP_REQUEST_TIMEOUT_SECONDS}) must be at least HTTP_HEADERS_TIMEOUT_SECONDS (${raw.HTTP_HEADERS_TIMEOUT_SECONDS}): the headers are part of the request (see .env.example)`);
  }
  return {
    port: raw.PORT,
    host: raw.HOST,
    dataDir: raw.DATA_DIR,
    knowledgeDir: raw.KNOWLEDGE_DIR,
    logLevel: raw.LOG_LEVEL,
    graphApiUrl: raw.GRAPH_API_URL.replace(/\/+$/, ''),
    messenger: m && {
      appSecret: m.MESSENGER_APP_SECRET,
      verifyToken: m.MESSENGER_VERIFY_TOKEN,
      pageAccessToken: m.MESSENGER_PAGE_ACCESS_TOKEN,
    },
    whatsapp: w && {
      appSecret: w.WHATSAPP_APP_SECRET,
      verifyToken: w.WHATSAPP_VERIFY_TOKEN,
      accessToken: w.WHATSAPP_ACCESS_TOKEN,
      phoneNumberId: w.WHATSAPP_PHONE_NUMBER_ID,
      templateName: raw.WHATSAPP_TEMPLATE_NAME,
      templateLanguage: raw.WHATSAPP_TEMPLATE_LANGUAGE,
    },
    directLineSecret: raw.DIRECTLINE_SECRET,
    directLinePostsPerMinute: raw.DIRECTLINE_POSTS_PER_MINUTE,
    databaseUrl: raw.DATABASE_URL,
    trustProxy: raw.TRUST_PROXY,
    turnLeaseMs: raw.TURN_LEASE_SECONDS * 1000,
    maxConcurrentTurns: raw.MAX_CONCURRENT_TURNS,
    connections: {
      headersTimeoutMs: raw.HTTP_HEADERS_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: raw.HTTP_REQUEST_TIMEOUT_SECONDS * 1000,
      keepAliveTimeoutMs: raw.HTTP_KEEP_ALIVE_SECONDS * 1000,
      maxConnectionsPerAddress: raw.MAX_CONNECTIONS_PER_ADDRESS,
      maxConnections: raw.MAX_CONNECTIONS,
    },
    publicUrl: raw.PUBLIC_URL?.replace(/\/+$/, ''),
    metricsToken: raw.METRICS_TOKEN,
    businessTimeZone: raw.BUSINESS_TIMEZONE,
    businessHours: raw.BUSINESS_HOURS,
  };
}

/** Test-only settings (browser location), read here so nothing else touches process.env. */
export function testSettings(env: Record<string, string | undefined> = process.env) {
  return {
    chromiumPath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    requireBrowser: env.REQUIRE_BROWSER === '1',
    /** A PostgreSQL server the tests may create databases on (CI starts one). */
    testDatabaseUrl: env.TEST_DATABASE_URL || undefined,
    /** In CI (or with REQUIRE_POSTGRES=1) a missing TEST_DATABASE_URL fails the PostgreSQL tests instead of skipping them. */
    requirePostgres: env.REQUIRE_POSTGRES === '1' || env.CI === 'true',
  };
}

/**
 * Reads `.env` (if present) into the environment before `loadConfig`, the way `node --env-file`
 * would; variables already set in the environment win.
 */
export function loadDotEnv(file = '.env'): void {
  try {
    process.loadEnvFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`${file}: ${(err as Error).message}`);
  }
}
