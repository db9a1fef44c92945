import { fileURLToPath } from 'node:url';

// The one place that finds the files a node reads at run time (the demo and dashboard pages in
// server/public/, the protocol guide docs/protocol.md), by their path in the source tree. In a
// checkout that is the tree itself; the built server (`npm run build`) replaces this module with
// source-files-built.ts, which finds the copies the build wrote into dist/.

export function sourceFile(path: string): string {
  return fileURLToPath(new URL(`../../${path}`, import.meta.url));
}
