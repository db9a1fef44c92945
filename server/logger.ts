export interface Logger {
  info(message: string): void;
  warn(message: string, err?: unknown): void;
}

export const consoleLogger: Logger = {
  info: (m) => console.log(`[hubbub] ${m}`),
  warn: (m, err) => console.warn(`[hubbub] ${m}`, err instanceof Error ? err.message : (err ?? '')),
};

/** For tests and embedding: collects warnings so they can be asserted on, prints nothing. */
export function memoryLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, warn: (m) => warnings.push(m) };
}
