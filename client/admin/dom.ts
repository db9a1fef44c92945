// A few DOM helpers: elements are built with textContent only (never innerHTML from data), so a
// channel name or a publication cannot inject markup into the dashboard.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, value);
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
}

/** A table with a header row; `empty` shows when there are no rows. */
export function table(headers: string[], rows: Child[][], empty: string, testid?: string, className?: string): HTMLElement {
  const body = rows.length
    ? rows.map((cells) => h('tr', {}, ...cells.map((c) => h('td', {}, c))))
    : [h('tr', {}, h('td', { colspan: String(headers.length), class: 'empty' }, empty))];
  return h('table', { 'data-testid': testid, class: className }, h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))), h('tbody', {}, ...body));
}

export function card(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '—';
  const mb = n / (1024 * 1024);
  return mb >= 1024 ? `${(mb / 1024).toFixed(2)} GB` : `${mb.toFixed(1)} MB`;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${hh}h`;
  if (hh > 0) return `${hh}h ${mm}m`;
  return mm > 0 ? `${mm}m ${s % 60}s` : `${s}s`;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
