/**
 * `npm run agents -- add NAME --password PASSWORD [--name "Display Name"] [--teams billing,tech] [--capacity 3]`
 * `npm run agents -- list` · `npm run agents -- remove NAME`
 * Manages agent accounts in DATA_DIR (passwords stored as scrypt hashes).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { AgentAccountError, AgentAccounts } from './accounts.js';

const USAGE = `usage:
  npm run agents -- add NAME --password PASSWORD [--name "Display Name"] [--teams billing,tech] [--capacity 3]
  npm run agents -- list
  npm run agents -- remove NAME`;

/** Runs the command; returns the exit code (exported for tests). */
export async function main(argv: string[], dataDir: string, out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
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
  const accounts = await AgentAccounts.open(dataDir);
  try {
    if (command === 'add' && username) {
      if (!parsed.values.password) {
        err(`agents add: --password is required\n${USAGE}`);
        return 2;
      }
      const capacity = parsed.values.capacity === undefined ? undefined : Number(parsed.values.capacity);
      if (capacity !== undefined && (!Number.isInteger(capacity) || capacity < 1)) {
        err('agents add: --capacity must be a whole number of at least 1');
        return 2;
      }
      const teams = parsed.values.teams?.split(',').map((t) => t.trim()).filter(Boolean);
      const agent = await accounts.add(username, parsed.values.password, { displayName: parsed.values.name, teams, capacity });
      out(`added agent ${agent.id} (${agent.name}), teams: ${agent.teams.join(', ') || 'any'}, capacity ${agent.capacity}`);
      return 0;
    }
    if (command === 'list') {
      for (const a of accounts.list()) out(`${a.id}\t${a.name}\tteams: ${a.teams.join(',') || 'any'}\tcapacity: ${a.capacity}`);
      return 0;
    }
    if (command === 'remove' && username) {
      const removed = await accounts.remove(username);
      (removed ? out : err)(removed ? `removed agent ${username}` : `agents remove: no agent named ${username}`);
      return removed ? 0 : 1;
    }
  } catch (e) {
    if (e instanceof AgentAccountError) {
      err(e.message);
      return 1;
    }
    throw e;
  }
  err(USAGE);
  return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const config = loadConfig();
  process.exitCode = await main(process.argv.slice(2), config.dataDir);
}
