// A Dockerfile reader and the rules the project's image must keep, checked offline in the tests.
// No Dockerfile linter is installed here (hadolint is not packaged for Debian 12 and no linter is
// among the project's npm dependencies), so this reads the file the way BuildKit does for what the
// rules need — parser directives, comments, `\` continuations, flags, exec form — and checks a
// subset of hadolint's rules (numbers in the messages) plus the project's own.

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY... */
  keyword: string;
  /** `--name=value` flags before the arguments (`--from=build`, `--interval=10s`). */
  flags: Record<string, string>;
  /** The arguments after the flags, continuations joined with a space. */
  args: string;
  /** The JSON array when the arguments are in exec form, else undefined. */
  exec: string[] | undefined;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  from: Instruction;
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

const KEYWORDS = new Set([
  'FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD',
  'STOPSIGNAL', 'HEALTHCHECK', 'SHELL', 'MAINTAINER',
]);

export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split('\n');
  const out: Instruction[] = [];
  let i = 0;
  // Parser directives: `# key=value` lines at the very top. Only the default escape character is read here.
  for (; i < lines.length; i++) {
    const d = /^#\s*([a-z]+)\s*=\s*(\S+)\s*$/i.exec(lines[i]!);
    if (!d) break;
    if (d[1]!.toLowerCase() === 'escape' && d[2] !== '\\') throw new Error('only the default escape character (\\) is supported');
  }
  for (; i < lines.length; i++) {
    const first = lines[i]!;
    if (/^\s*(#|$)/.test(first)) continue;
    const start = i;
    let joined = first;
    // A trailing backslash continues the instruction; comment lines inside it are dropped (as BuildKit does).
    while (/\\\s*$/.test(joined) && i + 1 < lines.length) {
      joined = joined.replace(/\\\s*$/, ' ');
      i++;
      while (i + 1 < lines.length && /^\s*(#|$)/.test(lines[i]!)) i++;
      joined += lines[i]!.trim();
    }
    const m = /^\s*(\S+)\s*(.*)$/.exec(joined)!;
    let rest = m[2]!.trim();
    const flags: Record<string, string> = {};
    for (let f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); f; f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
      flags[f[1]!] = f[2] ?? '';
      rest = rest.slice(f[0].length);
    }
    out.push({ keyword: m[1]!.toUpperCase(), flags, args: rest.replace(/\s+/g, ' ').trim(), exec: execForm(rest), line: start + 1 });
  }
  return out;
}

function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

export function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [image = '', as, name] = ins.args.split(' ');
      stages.push({ from: ins, image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else stages.at(-1)?.instructions.push(ins);
  }
  return stages;
}

/** Every rule the Dockerfile breaks, one line each: `line N: rule: what`. Empty when it keeps them all. */
export function lintDockerfile(text: string): string[] {
  const instructions = parseDockerfile(text);
  const stages = stagesOf(instructions);
  const problems: string[] = [];
  const at = (ins: Instruction | undefined, rule: string, what: string) => problems.push(`line ${ins?.line ?? 0}: ${rule}: ${what}`);

  if (instructions[0]?.keyword !== 'FROM' && instructions[0]?.keyword !== 'ARG') at(instructions[0], 'DL3061', 'the first instruction must be FROM (or ARG)');
  for (const ins of instructions) {
    if (!KEYWORDS.has(ins.keyword)) at(ins, 'unknown', `unknown instruction ${ins.keyword}`);
    if (ins.keyword === 'MAINTAINER') at(ins, 'DL4000', 'MAINTAINER is deprecated');
    if (ins.keyword === 'ADD') at(ins, 'DL3020', /^(https?:|git@)/.test(ins.args) ? 'ADD of a URL: download in a RUN you can verify, or COPY' : 'use COPY for files');
    if (ins.keyword === 'WORKDIR' && !ins.args.startsWith('/') && !ins.args.startsWith('$')) at(ins, 'DL3000', 'WORKDIR must be absolute');
    if (ins.keyword === 'RUN' && /(^|[;&|]\s*)sudo\s/.test(ins.args)) at(ins, 'DL3004', 'no sudo');
    if (ins.keyword === 'RUN' && /(^|[;&|]\s*)cd\s/.test(ins.args)) at(ins, 'DL3003', 'use WORKDIR instead of cd');
    if (ins.keyword === 'RUN' && /\bnpm (install|i)\b/.test(ins.args)) at(ins, 'npm-ci', 'npm ci installs exactly the lock file; npm install may change it');
  }

  const names = new Set<string>();
  stages.forEach((stage, index) => {
    const from = stage.from;
    if (!names.has(stage.image)) {
      const ref = stage.image.split('/').at(-1)!;
      const tag = ref.includes('@sha256:') ? 'digest' : ref.split(':')[1];
      if (stage.image.includes('$')) at(from, 'DL3006', `${stage.image}: a base image from a variable cannot be checked for a pin`);
      else if (tag === undefined) at(from, 'DL3006', `${stage.image}: pin the base image with a tag`);
      else if (tag === 'latest') at(from, 'DL3007', `${stage.image}: latest is not a pin`);
    }
    for (const ins of stage.instructions) {
      const src = ins.flags['from'];
      if ((ins.keyword === 'COPY' || ins.keyword === 'ADD') && src !== undefined && !names.has(src) && !(Number(src) < index)) {
        at(ins, 'DL3022', `--from=${src} names no earlier stage`);
      }
    }
    for (const k of ['CMD', 'ENTRYPOINT', 'HEALTHCHECK']) {
      const all = stage.instructions.filter((i) => i.keyword === k);
      if (all.length > 1) at(all[1], 'DL4003', `more than one ${k} in a stage: only the last counts`);
    }
    if (stage.name) names.add(stage.name);
  });

  const final = stages.at(-1);
  if (!final || stages.length < 2) at(instructions[0], 'multi-stage', 'build in one stage and run from another (no compilers or dev dependencies in the image)');
  if (final && stages.length >= 2 && !final.instructions.some((i) => i.keyword === 'COPY' && i.flags['from'] !== undefined)) {
    at(final.instructions[0], 'multi-stage', 'the final stage copies nothing from a build stage');
  }
  const user = final?.instructions.filter((i) => i.keyword === 'USER').at(-1);
  if (!user) at(final?.instructions[0], 'DL3002', 'the final stage must set a non-root USER');
  else if (/^(root|0)(:.*)?$/.test(user.args)) at(user, 'DL3002', `USER ${user.args} is root`);
  const health = final?.instructions.find((i) => i.keyword === 'HEALTHCHECK');
  if (!health || /^NONE$/i.test(health.args)) at(health, 'healthcheck', 'the final stage needs a HEALTHCHECK');
  else if (!health.args.includes('/ready')) at(health, 'healthcheck', 'the HEALTHCHECK must ask /ready (readiness)');
  else if (!/^CMD \[/.test(health.args)) at(health, 'healthcheck', 'HEALTHCHECK CMD in exec form (no shell in between)');
  for (const k of ['CMD', 'ENTRYPOINT']) {
    const ins = final?.instructions.find((i) => i.keyword === k);
    if (ins && !ins.exec) at(ins, 'DL3025', `${k} in exec form (JSON array), so the process gets SIGTERM`);
  }
  if (final && !final.instructions.some((i) => i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT')) at(final.instructions[0], 'cmd', 'the final stage needs a CMD');
  return problems;
}
