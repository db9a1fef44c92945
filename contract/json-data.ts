// What `data` may be: a JSON value every transport, the NATS backbone and common JSON readers
// can encode and decode unchanged. Checked once, where data enters (the contract's JsonData).

/**
 * Deepest nesting of arrays and objects in `data`: `[]` and `{}` are depth 1, `[[1]]` is 2, and a
 * scalar alone is 0. 64 is the default MaxDepth of .NET's System.Text.Json, the strictest common
 * reader (Ruby's JSON allows 100, serde_json 128, Go 10,000), and far below the ~4,000 levels at
 * which V8's recursive JSON.stringify overflows the stack: every encoder walking data stays shallow.
 */
export const MAX_DATA_DEPTH = 64;

export interface DataProblem {
  /**
   * The error-table code when the problem has its own (contract/errors.ts imports this file, so it
   * is not typed from there); otherwise the door's own code for a malformed request applies.
   */
  code?: 'data_too_deep';
  message: string;
}

const TOO_DEEP: DataProblem = {
  code: 'data_too_deep',
  message: `data nests arrays and objects more than ${MAX_DATA_DEPTH} levels deep`,
};
const NOT_FINITE: DataProblem = {
  message: 'data holds a number outside the range of a double (e.g. 1e400): it would be sent as null',
};

/**
 * Why `value` cannot be published, or undefined when it can. Iterative, so data of any depth is
 * refused without deep recursion; it stops at the first level past the limit. A too-deep value
 * wins over a non-finite number, so the answer does not depend on where each one sits.
 */
export function dataProblem(value: unknown): DataProblem | undefined {
  let problem: DataProblem | undefined;
  const containers: object[] = [];
  const depths: number[] = [];
  const visit = (v: unknown, depth: number): boolean => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return true;
      case 'number':
        if (!Number.isFinite(v)) problem = NOT_FINITE;
        return true;
      case 'object':
        if (v === null) return true;
        if (depth >= MAX_DATA_DEPTH) return false;
        containers.push(v);
        depths.push(depth + 1);
        return true;
      default:
        problem = { message: `data holds a value of type ${typeof v}, which JSON cannot carry` };
        return true;
    }
  };
  if (!visit(value, 0)) return TOO_DEEP;
  while (containers.length > 0) {
    const c = containers.pop()!;
    const depth = depths.pop()!;
    const children = Array.isArray(c) ? (c as unknown[]) : Object.values(c);
    for (const child of children) if (!visit(child, depth)) return TOO_DEEP;
  }
  return problem;
}
