/**
 * `npm run agents -- add NAME --password PASSWORD [--name "Display Name"] [--teams billing,tech] [--capacity 3]`
 * `npm run agents -- passwd NAME --password NEW` · `npm run agents -- list` · `npm run agents -- remove NAME`
 * Manages agent accounts (passwords stored as scrypt hashes) where the server keeps them: PostgreSQL
 * when DATABASE_URL is set, else DATA_DIR. `remove` and `passwd` end the agent's console sessions at
 * once, also on a server that is running (every session check looks at the account).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, loadDotEnv } from '../config.js';
import { Database, DatabaseUnavailableError, MigrationError } from '../storage/postgres/database.js';
import { AgentAccountError, FileAgentAccounts, type AgentAccountStore } from './accounts.js';
import { PgAgentAccounts } from './pg-agents.js';

const USAGE = `usage:
  npm run agents -- add NAME --password PASSWORD [--name "Display Name"] [--teams billing,tech] [--capacity 3]
  npm run agents -- passwd NAME --password NEW_PASSWORD
  npm run agents -- list
  npm run agents -- remove NAME`;

/** Where the accounts are: `dataDir` (files), or PostgreSQL when `databaseUrl` is set. */
export interface AgentsCliTarget {
  dataDir: string;
  databaseUrl?: string;
}

/** Runs the command; returns the exit code (exported for tests). `target` may be just the data folder. */
export async function main(
  argv: string[],
  target: string | AgentsCliTarget,
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { password: { type: 'string' }, name: { type: 'string' }, teams: { type: 'string' }, capacity: { type: 'string' } },
    });
  } catch (e) {
    err(`agents: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, username] = parsed.positionals;
  const known = (command === 'add' || command === 'passwd' || command === 'remove') && username ? true : command === 'list';
  if (!known) {
    err(USAGE);
    return 2;
  }
  if ((command === 'add' || command === 'passwd') && !parsed.values.password) {
    err(`agents ${command}: --password is required\n${USAGE}`);
    return 2;
  }
  const capacity = parsed.values.capacity === undefined ? undefined : Number(parsed.values.capacity);
  if (command === 'add' && capacity !== undefined && (!Number.isInteger(capacity) || capacity < 1)) {
    err('agents add: --capacity must be a whole number of at least 1');
    return 2;
  }

  const { dataDir, databaseUrl } = typeof target === 'string' ? { dataDir: target, databaseUrl: undefined } : target;
  let db: Database | undefined;
  try {
    db = databaseUrl ? await Database.open(databaseUrl) : undefined;
  } catch (e) {
    if (!(e instanceof DatabaseUnavailableError || e instanceof MigrationError)) throw e;
    err(`agents ${command}: ${e.message}`);
    return 1;
  }
  const accounts: AgentAccountStore = db ? new PgAgentAccounts(db) : await FileAgentAccounts.open(dataDir);
  try {
    if (command === 'add') {
      const teams = parsed.values.teams?.split(',').map((t) => t.trim()).filter(Boolean);
      const agent = await accounts.add(username!, parsed.values.password!, { displayName: parsed.values.name, teams, capacity });
      out(`added agent ${agent.id} (${agent.name}), teams: ${agent.teams.join(', ') || 'any'}, capacity ${agent.capacity}`);
      return 0;
    }
    if (command === 'passwd') {
      const changed = await accounts.setPassword(username!, parsed.values.password!);
      (changed ? out : err)(changed ? `changed the password of agent ${username}; their console sessions have ended` : `agents passwd: no agent named ${username} (see npm run agents -- list)`);
      return changed ? 0 : 1;
    }
    if (command === 'list') {
      for (const a of await accounts.list()) out(`${a.id}\t${a.name}\tteams: ${a.teams.join(',') || 'any'}\tcapacity: ${a.capacity}`);
      return 0;
    }
    const removed = await accounts.remove(username!);
    (removed ? out : err)(removed ? `removed agent ${username}; their console sessions have ended` : `agents remove: no agent named ${username}`);
    return removed ? 0 : 1;
  } catch (e) {
    if (e instanceof AgentAccountError) {
      err(e.message);
      return 1;
    }
    throw e;
  } finally {
    await db?.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let config: ReturnType<typeof loadConfig>;
  try {
    loadDotEnv(); // the same .env as `npm start`, so both use the same backend
    config = loadConfig();
  } catch (err) {
    // A configuration problem is the user's to fix: one line naming the variable, no stack.
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${err.name}: ${err.message}`);
    process.exit(2);
  }
  process.exitCode = await main(process.argv.slice(2), { dataDir: config.dataDir, databaseUrl: config.databaseUrl });
}
