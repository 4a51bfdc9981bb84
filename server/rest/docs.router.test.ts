// The socket protocol's reference is served beside the OpenAPI one: the AsyncAPI document as
// JSON, and a page rendered from it that names every event, loads nothing from elsewhere and
// escapes what it shows.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asyncApiDocument } from '../../protocol/asyncapi.js';
import { CLIENT_EVENT_NAMES, SERVER_EVENT_NAMES } from '../../protocol/index.js';
import { createDocsRouter, renderAsyncApi } from './docs.router.js';

let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.use('/docs', createDocsRouter());
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('GET /docs/asyncapi.json', () => {
  it('is the generated document, naming the host the caller reached', async () => {
    const res = await fetch(`${base}/docs/asyncapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as ReturnType<typeof asyncApiDocument>;
    const expected = asyncApiDocument();
    expect(body.servers.gateway.host).toBe(new URL(base).host);
    expect(body.servers.gateway.protocol).toBe('ws');
    expect({ ...body, servers: expected.servers }).toEqual(JSON.parse(JSON.stringify(expected)));
  });
});

describe('GET /docs/asyncapi', () => {
  it('is an HTML page with every event and schema, no script and no third-party URL', async () => {
    const res = await fetch(`${base}/docs/asyncapi`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const e of CLIENT_EVENT_NAMES) expect(html, e).toContain(`id="receive-${e.replace(/[^A-Za-z0-9]/g, '-')}"`);
    for (const e of SERVER_EVENT_NAMES) expect(html, e).toContain(`id="send-${e.replace(/[^A-Za-z0-9]/g, '-')}"`);
    for (const name of Object.keys(asyncApiDocument().components.schemas)) expect(html, name).toContain(`id="schema-${name}"`);
    // Every in-page link has its target.
    for (const [, target] of html.matchAll(/href="#([^"]+)"/g)) expect(html, target).toContain(`id="${target}"`);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
  });

  it('escapes text taken from the document', () => {
    const doc = asyncApiDocument({ host: '"><img src=x onerror=alert(1)>' });
    doc.info.description = 'a <b>tag</b> & `<i>code</i>`';
    const html = renderAsyncApi(doc);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>tag');
    expect(html).not.toContain('<i>code');
    expect(html).toContain('<code>&#60;i&#62;code&#60;/i&#62;</code>');
  });
});
