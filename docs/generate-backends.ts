import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// docs/backends.md shows the example programs of docs/examples/backends/ as they are: a marker
// `<!-- file:examples/backends/publish.py -->` is followed by a fenced block holding that file, which
// this script rewrites, so each example is written once and test/backends.test.ts runs what is shown.
// Run: npx tsx docs/generate-backends.ts

export const BACKENDS_MD = fileURLToPath(new URL('./backends.md', import.meta.url));

const LANGUAGES: Record<string, string> = { '.py': 'python', '.php': 'php', '.rb': 'ruby', '.go': 'go', '.mjs': 'js', '.sh': 'sh' };
// The marker, then the fenced block after it (any language tag, any body) up to its closing fence.
const INCLUDE = /<!-- file:([\w./-]+) -->\n```[a-z]*\n(?:[\s\S]*?\n)??```\n/g;

/** The files a markdown page includes, relative to its folder. */
export function includedFiles(markdown: string): string[] {
  return [...markdown.matchAll(INCLUDE)].map((m) => m[1]!);
}

/** The page with every included block replaced by the current content of its file. */
export function rewriteIncludes(markdown: string, page = BACKENDS_MD): string {
  return markdown.replace(INCLUDE, (_, file: string) => {
    const language = LANGUAGES[extname(file)];
    if (language === undefined) throw new Error(`${file}: no code block language for ${extname(file)}`);
    const text = readFileSync(resolve(dirname(page), file), 'utf8').trimEnd();
    return `<!-- file:${file} -->\n\`\`\`${language}\n${text}\n\`\`\`\n`;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(BACKENDS_MD, rewriteIncludes(readFileSync(BACKENDS_MD, 'utf8')));
  console.log(`${BACKENDS_MD}: examples up to date`);
}
