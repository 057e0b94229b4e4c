/**
 * `npm run agents -- add NAME [--name "Display Name"] [--teams billing,tech] [--capacity 3]`
 * `npm run agents -- passwd NAME` · `npm run agents -- list` · `npm run agents -- remove NAME`
 * Manages agent accounts (passwords stored as scrypt hashes) where the server keeps them: PostgreSQL
 * when DATABASE_URL is set, else DATA_DIR. `remove` and `passwd` end the agent's console sessions at
 * once, also on a server that is running (every session check looks at the account).
 *
 * The password is asked for without echo when standard input is a terminal, or read from its first
 * line when piped (`printf '%s\n' "$PW" | npm run agents -- add alice`), so it stays out of the shell
 * history and the process list. `--password` still works for scripts, with a warning saying why not.
 * Every password must pass the policy of password-policy.ts.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { ConfigError, loadConfig, loadDotEnv } from '../config.js';
import { Database, DatabaseUnavailableError, MigrationError } from '../storage/postgres/database.js';
import { AgentAccountError, FileAgentAccounts, agentId, checkPassword, type AgentAccountStore } from './accounts.js';
import { MAX_PASSWORD_LENGTH, passwordProblem } from './password-policy.js';
import { PgAgentAccounts } from './pg-agents.js';

const USAGE = `usage:
  npm run agents -- add NAME [--name "Display Name"] [--teams billing,tech] [--capacity 3]
  npm run agents -- passwd NAME
  npm run agents -- list
  npm run agents -- remove NAME
add and passwd ask for the password, or read it from standard input:
  printf '%s\\n' "$PASSWORD" | npm run agents -- add NAME`;

/** Times the prompt asks again after a refused or mistyped password before giving up. */
const PROMPT_TRIES = 3;

/** A terminal as `process.stdin` is one (`setRawMode` turns echo off). */
type TerminalInput = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Where `add` and `passwd` read a password given without `--password` (tests pass their own). */
export interface PasswordSource {
  /** A terminal (prompt without echo) or a pipe (its first line). */
  stdin: TerminalInput;
  /** Where the prompt is written (standard error, so standard output stays the command's result). */
  prompt: Writable;
}

class Cancelled extends Error {}

/** Reads one line from the terminal without echo; Ctrl-C cancels. */
function askHidden(source: PasswordSource, question: string): Promise<string> {
  const { stdin, prompt } = source;
  prompt.write(question);
  stdin.setRawMode!(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (result: string | Error) => {
      stdin.off('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      prompt.write('\n');
      if (typeof result === 'string') resolve(result);
      else reject(result);
    };
    const onData = (chunk: string) => {
      // A terminal wraps pasted text in bracketed-paste markers; they are not part of the password.
      for (const ch of chunk.replace(/\u001b\[20[01]~/g, '')) {
        if (ch === '\r' || ch === '\n') return finish(value);
        if (ch === '\u0003' || (ch === '\u0004' && !value)) return finish(new Cancelled());
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015') value = '';
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** The first line of a piped standard input (at most what a password may be). */
async function firstLine(stdin: Readable): Promise<string> {
  let data = '';
  stdin.setEncoding('utf8');
  for await (const chunk of stdin) {
    data += chunk as string;
    if (data.includes('\n') || data.length > MAX_PASSWORD_LENGTH * 4) break;
  }
  return data.split('\n')[0]!.replace(/\r$/, '');
}

/**
 * The new password for `username`: asked twice at a terminal (a refused or mistyped one is asked
 * again, saying why), or the first line of a pipe. Throws `AgentAccountError` naming `command`.
 */
async function readPassword(command: string, username: string, displayName: string | undefined, source: PasswordSource, err: (line: string) => void): Promise<string> {
  if (source.stdin.isTTY && source.stdin.setRawMode) {
    for (let i = 0; i < PROMPT_TRIES; i++) {
      const first = await askHidden(source, `New password for ${username}: `);
      const problem = passwordProblem(first, { username, displayName });
      if (problem) {
        err(`${command}: ${problem}`);
        continue;
      }
      if ((await askHidden(source, 'Type it again: ')) === first) return first;
      err(`${command}: the two passwords differ; try again`);
    }
    throw new AgentAccountError(`${command}: no password set after ${PROMPT_TRIES} tries; nothing was changed`);
  }
  const piped = await firstLine(source.stdin);
  if (!piped) {
    throw new AgentAccountError(
      `${command}: no password on standard input; run the command in a terminal to be asked for it, or pipe it in: printf '%s\\n' "$PASSWORD" | npm run agents -- ${command.split(' ')[1]} ${username}`,
    );
  }
  return piped;
}

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
  passwordSource: PasswordSource = { stdin: process.stdin, prompt: process.stderr },
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
  if ((command === 'add' || command === 'passwd') && parsed.values.password !== undefined) {
    err(`agents ${command}: warning: --password leaves the password in your shell history and the process list; leave it out to be asked for it, or pipe it in`);
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
    if (command === 'add' || command === 'passwd') {
      const where = `agents ${command}`;
      const id = agentId(username!, where);
      // The name the agent is shown by is refused in the password too; passwd looks it up.
      // Said before asking for a password that could not be used.
      const existing = await accounts.get(id);
      if (command === 'passwd' && !existing) {
        err(`agents passwd: no agent named ${username} (see npm run agents -- list)`);
        return 1;
      }
      if (command === 'add' && existing) throw new AgentAccountError(`agents add: an agent named ${id} already exists (change the password with agents passwd ${id})`);
      const displayName = command === 'add' ? parsed.values.name : existing?.name;
      const password = parsed.values.password ?? (await readPassword(where, id, displayName, passwordSource, err));
      checkPassword(password, { command: where, username: id, displayName });
      if (command === 'passwd') {
        const changed = await accounts.setPassword(username!, password);
        (changed ? out : err)(changed ? `changed the password of agent ${username}; their console sessions have ended` : `agents passwd: no agent named ${username} (see npm run agents -- list)`);
        return changed ? 0 : 1;
      }
      const teams = parsed.values.teams?.split(',').map((t) => t.trim()).filter(Boolean);
      const agent = await accounts.add(username!, password, { displayName: parsed.values.name, teams, capacity });
      out(`added agent ${agent.id} (${agent.name}), teams: ${agent.teams.join(', ') || 'any'}, capacity ${agent.capacity}`);
      return 0;
    }
    if (command === 'list') {
      for (const a of await accounts.list()) out(`${a.id}\t${a.name}\tteams: ${a.teams.join(',') || 'any'}\tcapacity: ${a.capacity}`);
      return 0;
    }
    const removed = await accounts.remove(username!);
    (removed ? out : err)(removed ? `removed agent ${username}; their console sessions have ended` : `agents remove: no agent named ${username}`);
    return removed ? 0 : 1;
  } catch (e) {
    if (e instanceof Cancelled) {
      err(`agents ${command}: cancelled; nothing was changed`);
      return 130;
    }
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
