/**
 * Prints the final "N passed, N failed" line from the typecheck status and the JSON reports of
 * vitest and Playwright; a missing report counts as a failure, so a crashed runner is never green.
 */
import { existsSync, readFileSync } from 'node:fs';

const [typecheckStatus, vitestFile, playwrightFile] = process.argv.slice(2);
let passed = 0;
let failed = 0;
const problems: string[] = [];

if (typecheckStatus === '0') passed += 1;
else {
  failed += 1;
  problems.push('typecheck failed');
}

function read(file: string | undefined, name: string): unknown {
  if (!file || !existsSync(file)) {
    failed += 1;
    problems.push(`${name}: no report (the runner crashed or did not start)`);
    return undefined;
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}

const vitest = read(vitestFile, 'vitest') as
  | { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number; success: boolean }
  | undefined;
if (vitest) {
  passed += vitest.numPassedTests;
  failed += vitest.numFailedTests;
  const skipped = vitest.numPendingTests + vitest.numTodoTests;
  if (skipped > 0) {
    failed += skipped;
    problems.push(`vitest: ${skipped} skipped/todo tests (not allowed)`);
  }
  if (!vitest.success && vitest.numFailedTests === 0) {
    failed += 1;
    problems.push('vitest: run failed outside of a test (suite or type error)');
  }
}

const pw = read(playwrightFile, 'playwright') as
  | { stats: { expected: number; unexpected: number; flaky: number; skipped: number }; errors?: unknown[] }
  | undefined;
if (pw) {
  passed += pw.stats.expected + pw.stats.flaky;
  failed += pw.stats.unexpected + pw.stats.skipped;
  if (pw.stats.skipped > 0) problems.push(`playwright: ${pw.stats.skipped} skipped tests (not allowed)`);
  if ((pw.errors?.length ?? 0) > 0) {
    failed += 1;
    problems.push('playwright: errors outside of tests');
  }
}

for (const p of problems) console.log(`!! ${p}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
