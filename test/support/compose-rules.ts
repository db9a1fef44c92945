// Structural rules of the Compose specification that compose.yaml must keep, checked on the parsed
// document (the `yaml` package, merge keys on, as Compose reads them). `docker compose config`
// checks more but needs the compose plugin, which this machine lacks; the test runs it where present.

export type Doc = Record<string, unknown>;
export type Service = Record<string, unknown>;

const TOP = new Set(['name', 'services', 'networks', 'volumes', 'configs', 'secrets', 'include']);
const SERVICE_KEYS = new Set([
  'build', 'image', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'volumes', 'depends_on', 'healthcheck',
  'networks', 'restart', 'deploy', 'labels', 'user', 'working_dir', 'init', 'stop_grace_period', 'stop_signal', 'pull_policy',
  'container_name', 'hostname', 'ulimits', 'logging', 'extra_hosts', 'secrets', 'configs', 'profiles', 'read_only', 'tmpfs',
  'cap_add', 'cap_drop', 'security_opt',
]);
const CONDITIONS = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
const SHORT_PORT = /^((\d{1,3}\.){3}\d{1,3}:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/;

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function servicesOf(doc: Doc): Record<string, Service> {
  return isMap(doc['services']) ? (doc['services'] as Record<string, Service>) : {};
}

/** `environment` as a map, from either of its two spellings. */
export function envOf(service: Service): Record<string, string> {
  const env = service['environment'];
  if (Array.isArray(env)) return Object.fromEntries(env.map((e) => String(e).split(/=(.*)/s).slice(0, 2) as [string, string]));
  return isMap(env) ? Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v ?? '')])) : {};
}

/** `depends_on` as service → condition (the list form means service_started). */
export function dependsOn(service: Service): Record<string, string> {
  const d = service['depends_on'];
  if (Array.isArray(d)) return Object.fromEntries(d.map((s) => [String(s), 'service_started']));
  if (!isMap(d)) return {};
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, isMap(v) ? String(v['condition'] ?? 'service_started') : 'service_started']));
}

function ipv4(a: string): number | undefined {
  const parts = a.split('.').map(Number);
  return parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p < 256) ? parts.reduce((n, p) => n * 256 + p, 0) : undefined;
}

/** Whether an IPv4 address lies in a CIDR range. */
export function inSubnet(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const a = ipv4(address);
  const b = ipv4(base ?? '');
  const size = 2 ** (32 - Number(bits));
  return a !== undefined && b !== undefined && Math.floor(a / size) === Math.floor(b / size);
}

/**
 * Problems, one line each. `healthyImage(service)` says whether a service without its own
 * healthcheck gets one from its image (a build from a Dockerfile with HEALTHCHECK).
 */
export function checkCompose(doc: Doc, healthyImage: (service: Service) => boolean, exists: (path: string) => boolean): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(doc)) {
    if (key === 'version') problems.push('version: obsolete in the Compose specification');
    else if (!TOP.has(key) && !key.startsWith('x-')) problems.push(`${key}: not a top-level element`);
  }
  const services = servicesOf(doc);
  if (Object.keys(services).length === 0) problems.push('services: none');
  const volumes = isMap(doc['volumes']) ? doc['volumes'] : {};
  const networks = isMap(doc['networks']) ? doc['networks'] : {};

  for (const [name, s] of Object.entries(services)) {
    const at = (what: string) => problems.push(`${name}: ${what}`);
    for (const key of Object.keys(s)) if (!SERVICE_KEYS.has(key)) at(`unknown key ${key}`);
    if (s['image'] === undefined && s['build'] === undefined) at('neither image nor build');
    if (typeof s['image'] === 'string' && s['build'] === undefined && !/:[\w][\w.-]*$|@sha256:/.test(s['image'])) at(`image ${s['image']} has no tag`);
    if (typeof s['image'] === 'string' && /:latest$/.test(s['image'])) at(`image ${s['image']}: latest is not a pin`);
    for (const [dep, condition] of Object.entries(dependsOn(s))) {
      if (!CONDITIONS.has(condition)) at(`depends_on ${dep}: unknown condition ${condition}`);
      const target = services[dep];
      if (!target) at(`depends_on ${dep}: no such service`);
      else if (condition === 'service_healthy' && target['healthcheck'] === undefined && !healthyImage(target)) at(`depends_on ${dep}: service_healthy, but ${dep} has no healthcheck`);
    }
    for (const p of (s['ports'] as unknown[] | undefined) ?? []) {
      if (typeof p === 'string' ? !SHORT_PORT.test(p) : !(isMap(p) && typeof p['target'] === 'number')) at(`ports: ${JSON.stringify(p)} is not a port mapping`);
    }
    for (const v of (s['volumes'] as unknown[] | undefined) ?? []) {
      const source = typeof v === 'string' ? v.split(':')[0]! : isMap(v) ? String(v['source'] ?? '') : '';
      if (source.startsWith('.') || source.startsWith('/')) {
        if (!exists(source)) at(`volumes: ${source} does not exist`);
      } else if (!(source in volumes)) at(`volumes: ${source} is not declared under the top-level volumes`);
    }
    const nets = Array.isArray(s['networks']) ? Object.fromEntries(s['networks'].map((n) => [String(n), null])) : isMap(s['networks']) ? s['networks'] : {};
    for (const [net, opts] of Object.entries(nets)) {
      if (!(net in networks)) {
        at(`networks: ${net} is not declared`);
        continue;
      }
      const address = isMap(opts) ? opts['ipv4_address'] : undefined;
      const subnets = ((networks[net] as { ipam?: { config?: Array<{ subnet?: string }> } } | null)?.ipam?.config ?? []).map((c) => c.subnet ?? '');
      if (typeof address === 'string' && !subnets.some((c) => inSubnet(address, c))) at(`networks: ${address} is outside ${net}'s subnets`);
    }
    const test = isMap(s['healthcheck']) ? s['healthcheck']['test'] : undefined;
    if (s['healthcheck'] !== undefined && !(typeof test === 'string' || (Array.isArray(test) && ['CMD', 'CMD-SHELL', 'NONE'].includes(String(test[0]))))) {
      at('healthcheck.test must be a string or start with CMD, CMD-SHELL or NONE');
    }
  }
  return problems;
}
