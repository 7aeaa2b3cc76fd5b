// One piece of `ensureInfrastructure` (scripts/ensureInfrastructure.ts); see docs/operations.md.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

/** The local PostgreSQL, reached as `postgres` without a password (trust authentication). */
export const LOCAL_POSTGRESQL = 'postgres://postgres@127.0.0.1:5432';

/**
 * Runs `sql` with psql on `database` of the local PostgreSQL: no prompt (`-w`: a refusal is an
 * error, not a wait), unaligned rows, stop at the first error.
 */
export function runPsql(database: string, sql: string): SpawnSyncReturns<string> {
  return spawnSync(
    'psql',
    ['-X', '-q', '-w', '-tA', '-v', 'ON_ERROR_STOP=1', `${LOCAL_POSTGRESQL}/${database}`],
    { input: sql, encoding: 'utf8' },
  );
}

/** runPsql's output, or an error carrying psql's own message. */
export function psql(database: string, sql: string): string {
  const run = runPsql(database, sql);
  if (run.status !== 0) throw new Error(`psql on ${database}: ${run.stderr || run.error?.message}`);
  return run.stdout;
}
