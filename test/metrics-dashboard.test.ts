import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Exposition, scrape } from './support/exposition.js';
import { TEST_API_KEY, startServer } from './support/server.js';

// The Grafana dashboard in docs/ against what a running node exports: every metric a panel queries
// must exist (a renamed metric would leave an empty panel), and the JSON must be a dashboard
// Grafana imports (unique panel ids, a grid position each, the Prometheus datasource variable).

interface Target {
  expr: string;
  refId: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Target[];
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown }> };
}

const dashboard = JSON.parse(readFileSync(new URL('../docs/grafana/hubbub-dashboard.json', import.meta.url), 'utf8')) as Dashboard;

/** The series names a PromQL expression selects: identifiers followed by `{`, `[` or a `)` (a bare selector). */
function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=\{|\[)/g)) names.add(m[1]!);
  return [...names];
}

/** A series name the exposition has: a sample, a family, or a histogram's _bucket/_sum/_count. */
function exported(m: Exposition, name: string): boolean {
  if (m.types.has(name) || m.samples.some((s) => s.name === name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && ['histogram', 'summary'].includes(m.types.get(base) ?? '');
}

describe('Grafana dashboard (docs/grafana/hubbub-dashboard.json)', () => {
  it('is a well-formed dashboard: unique panel ids, grid positions inside 24 columns, the Prometheus datasource variable on every panel and query', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect([x, y, w, h].every(Number.isInteger), p.title).toBe(true);
      expect(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, p.title).toBe(true);
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets) expect(t.datasource ?? p.datasource, p.title).toEqual(p.datasource);
    }
    // No two panels overlap on the grid.
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('queries only metrics a running node exports', async () => {
    await using srv = await startServer();
    const m = await scrape(srv.url, TEST_API_KEY);
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr).map((name) => ({ panel: p.title, name }))));
    expect(used.length).toBeGreaterThan(dashboard.panels.length);
    const missing = used.filter((u) => !exported(m, u.name));
    expect(missing).toEqual([]);
    // The check can fail: a name the node does not export is found missing.
    expect(metricNames('rate(hubbub_no_such_total{instance=~"$instance"}[5m])')).toEqual(['hubbub_no_such_total']);
    expect(exported(m, 'hubbub_no_such_total')).toBe(false);
    expect(exported(m, 'hubbub_connections_bucket')).toBe(false);
  });
});
