// The OpenAPI document must pass strict validators, not just our own shape checks: Redocly's
// recommended rules (warnings included) and ajv, which compiles every schema the way a validating
// client or server would. recommended-strict rather than `all`: `all` adds style rules that would
// change the wire (application/problem+json errors, plural path segments) or ask for an example
// on every scalar.
import { createConfig, lintFromString } from '@redocly/openapi-core';
// ajv is @redocly/ajv (a dependency of @redocly/openapi-core), hoisted to node_modules/ajv; it is
// not one of ours, so package.json does not list it.
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { renderOpenApiJson } from '../docs/generate-openapi.js';

type Json = Record<string, unknown>;
const source = renderOpenApiJson();
const doc = JSON.parse(source) as Json;
const ABSOLUTE_REF = '/hubbub/openapi.json';

/**
 * The one place a recommended rule does not apply: /ws succeeds with 101 Switching Protocols, an
 * upgrade has no 2xx answer, so `operation-2xx-response` is off for exactly that operation.
 */
const IGNORED = { 'operation-2xx-response': ['#/paths/~1ws/get/responses'] };

describe('Redocly lint', () => {
  it('passes recommended-strict (every recommended rule, warnings as errors) with no problem', async () => {
    const ignore = { [ABSOLUTE_REF]: Object.fromEntries(Object.entries(IGNORED).map(([rule, at]) => [rule, new Set(at)])) };
    const config = await createConfig({ extends: ['recommended-strict'] }, { ignore });
    const problems = await lintFromString({ source, absoluteRef: ABSOLUTE_REF, config });
    const shown = (p: (typeof problems)[number]): string => `${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`;
    expect(problems.filter((p) => !p.ignored).map(shown)).toEqual([]);
    // The ignore list may hide only what it names, and must still be needed.
    expect(problems.filter((p) => p.ignored).map((p) => [p.ruleId, p.location[0]?.pointer])).toEqual(
      Object.entries(IGNORED).flatMap(([rule, at]) => at.map((pointer) => [rule, pointer])),
    );
  });
});

/** Every Schema Object of the paths that is not nested in another one, by where it is. */
function pathSchemas(): Map<string, Json> {
  const found = new Map<string, Json>();
  const walk = (node: unknown, at: string): void => {
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'schema') found.set(`${at}/${k}`, v as Json);
      else walk(v, `${at}/${k}`);
    }
  };
  walk(doc['paths'], 'paths');
  return found;
}

const components = (doc['components'] as { schemas: Record<string, Json> }).schemas;

function newAjv(): Ajv {
  // strict: unknown keywords, ambiguous types and required-without-property are errors, not logs.
  const ajv = new Ajv({ strict: true, discriminator: true, allowUnionTypes: true });
  // Schema Object keywords of OpenAPI 3.0 that JSON Schema lacks (nullable and discriminator are built into ajv).
  ajv.addVocabulary(['example', 'xml', 'externalDocs']);
  // Each component under the reference the document uses for it, so `$ref`s resolve as written.
  for (const [name, schema] of Object.entries(components)) ajv.addSchema(schema, `#/components/schemas/${name}`);
  return ajv;
}

describe('ajv', () => {
  const inline = pathSchemas();

  it('finds the schemas: every component, request body, parameter and response', () => {
    expect(Object.keys(components).length).toBeGreaterThan(0);
    expect(inline.size).toBeGreaterThan(20);
  });

  it('compiles every schema of the document in strict mode', () => {
    const ajv = newAjv();
    const failures: string[] = [];
    const compile = (at: string, get: () => unknown): void => {
      try {
        if (!get()) failures.push(`${at}: not found`);
      } catch (err) {
        failures.push(`${at}: ${(err as Error).message}`);
      }
    };
    for (const name of Object.keys(components)) compile(name, () => ajv.getSchema(`#/components/schemas/${name}`));
    for (const [at, schema] of inline) compile(at, () => ajv.compile(schema));
    expect(failures).toEqual([]);
  });

  it('reads the compiled schemas as the contract does: data is any JSON value, frames by their type', () => {
    const ajv = newAjv();
    const publish = ajv.compile(inline.get('paths//api/publish/post/requestBody/content/application/json/schema')!);
    for (const data of [null, 0, 'text', true, [1], { a: { b: [] } }]) expect(publish({ channel: 'chat:lobby', data }), JSON.stringify(data)).toBe(true);
    expect(publish({ channel: 'chat:lobby' })).toBe(false);
    const client = ajv.getSchema('#/components/schemas/ClientFrame')!;
    expect(client({ id: 1, type: 'ping' })).toBe(true);
    expect(client({ id: 1, type: 'subscribe' }), 'subscribe needs a channel').toBe(false);
    expect(client({ id: 1, type: 'pong' }), 'pong is a server frame').toBe(false);
    const frame = ajv.getSchema('#/components/schemas/WebSocketFrame')!;
    expect(frame({ id: 1, type: 'ping' }) && frame({ id: 1, type: 'pong' })).toBe(true);
    expect(frame({ id: 1, type: 'nope' })).toBe(false);
  });
});
