// The AsyncAPI document is valid (checked by the AsyncAPI parser) and covers exactly the events
// of protocol/: every client event as a `receive` operation with its ack as the reply, every
// server event as a `send` operation. The lists come from CLIENT_EVENTS and SERVER_EVENTS at run
// time, so an event added to (or removed from) the protocol without the document fails here.
import { Parser, type AsyncAPIDocumentInterface } from '@asyncapi/parser';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { asyncApiDocument } from './asyncapi.js';
import {
  CLIENT_EVENT_NAMES,
  ERROR_CODES,
  SERVER_EVENT_NAMES,
  type ClientEventName,
  type ClientToServerEvents,
  type ServerEventName,
  type ServerToClientEvents,
} from './index.js';

const raw = asyncApiDocument({ host: 'chat.example.com', version: '9.9.9' });
let doc: AsyncAPIDocumentInterface;

beforeAll(async () => {
  const { document, diagnostics } = await new Parser().parse(raw as never);
  // Severity 0 is an error; 1–3 are warnings, hints and information.
  const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.code} ${d.message} at ${d.path.join('.')}`);
  expect(errors).toEqual([]);
  expect(document).toBeDefined();
  doc = document!;
});

const sorted = (names: readonly string[]) => [...names].sort();

describe('AsyncAPI document', () => {
  it('is AsyncAPI 3 with the given host and version', () => {
    expect(doc.version()).toMatch(/^3\./);
    expect(doc.info().version()).toBe('9.9.9');
    expect(doc.servers().all().map((s) => s.host())).toEqual(['chat.example.com']);
  });

  it('has a receive operation for every client event and no other', () => {
    const received = doc.operations().filterByReceive().flatMap((op) => op.messages().all().map((m) => m.name()));
    expect(CLIENT_EVENT_NAMES.length).toBeGreaterThanOrEqual(11);
    expect(sorted(received as string[])).toEqual(sorted(CLIENT_EVENT_NAMES));
  });

  it('has a send operation for every server event and no other', () => {
    const sent = doc.operations().filterBySend().flatMap((op) => op.messages().all().map((m) => m.name()));
    expect(SERVER_EVENT_NAMES.length).toBeGreaterThanOrEqual(6);
    expect(sorted(sent as string[])).toEqual(sorted(SERVER_EVENT_NAMES));
  });

  it('every client event has its ack as the reply: an ok branch and the error branch', () => {
    for (const op of doc.operations().filterByReceive()) {
      const event = op.messages().all()[0]!.name();
      const replies = op.reply()?.messages().all() ?? [];
      expect(replies, `${event}`).toHaveLength(1);
      const ack = replies[0]!.payload()!.json() as { anyOf?: { properties?: { ok?: { const?: boolean } } }[] };
      expect(ack.anyOf?.map((b) => b.properties?.ok?.const).sort(), `${event}`).toEqual([false, true]);
    }
  });

  it('every message has a payload schema, and every object in them is strict', () => {
    const loose: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
      if (typeof node !== 'object' || node === null) return;
      const o = node as Record<string, unknown>;
      if (o.type === 'object' && o.additionalProperties !== false) loose.push(path);
      for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`);
    };
    const messages = doc.messages().all();
    expect(messages.length).toBe(2 * CLIENT_EVENT_NAMES.length + SERVER_EVENT_NAMES.length);
    for (const m of messages) {
      expect(m.hasPayload(), m.id()).toBe(true);
      walk(m.payload()!.json(), m.id());
    }
    expect(loose).toEqual([]);
  });

  it('documents every error code', () => {
    const text = (raw.components.schemas.WireError as { description?: string }).description ?? '';
    for (const code of ERROR_CODES) expect(text, code).toContain(`\`${code}\``);
  });

  it('the typed event maps have exactly the events of the runtime lists', () => {
    expectTypeOf<keyof ClientToServerEvents>().toEqualTypeOf<ClientEventName>();
    expectTypeOf<keyof ServerToClientEvents>().toEqualTypeOf<ServerEventName>();
    expectTypeOf<(typeof CLIENT_EVENT_NAMES)[number]>().toEqualTypeOf<ClientEventName>();
    expectTypeOf<(typeof SERVER_EVENT_NAMES)[number]>().toEqualTypeOf<ServerEventName>();
  });
});
