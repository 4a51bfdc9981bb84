// GET /docs (Swagger UI, served from swagger-ui-dist on this host, no CDN) and
// GET /docs/openapi.json (OpenAPI 3.1 generated from the zod schemas of protocol/); the socket
// protocol beside it: GET /docs/asyncapi.json (AsyncAPI 3, protocol/asyncapi.ts) and
// GET /docs/asyncapi, a page rendered here from that document (no script, nothing fetched).
import { Router, type Request } from 'express';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';
import { asyncApiDocument, type AsyncApiDocument } from '../../protocol/asyncapi.js';
import { openApiDocument } from './openapi.js';

export function createDocsRouter(): Router {
  const router = Router();
  const doc = openApiDocument();

  // Swagger UI loads only same-origin scripts, but uses inline styles and data: images. The
  // global policy's upgrade-insecure-requests would send its assets to https:// on a plain-HTTP
  // deployment, so this page gets its own policy without it.
  router.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          fontSrc: ["'self'", 'data:'],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'self'"],
        },
      },
    }),
  );

  router.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });

  const socketDoc = asyncApiDocument();
  // The server entry names the host and scheme the caller used, so it is right behind a proxy.
  const socketDocFor = (req: Request): AsyncApiDocument => {
    const host = req.get('host');
    const protocol = req.protocol === 'https' ? 'wss' : 'ws';
    return host ? { ...socketDoc, servers: { gateway: { ...socketDoc.servers.gateway, host, protocol } } } : socketDoc;
  };
  router.get('/asyncapi.json', (req, res) => {
    res.json(socketDocFor(req));
  });
  router.get('/asyncapi', (req, res) => {
    res.type('html').send(renderAsyncApi(socketDocFor(req)));
  });

  router.use(swaggerUi.serveFiles(doc));
  const page = swaggerUi.setup(doc, {
    customSiteTitle: 'relaygate REST API',
    // No badge from validator.swagger.io: the page makes no third-party requests.
    swaggerOptions: { validatorUrl: null },
  });
  // The page's asset URLs are relative, so it must be served at /docs/.
  router.get('/', (req, res, next) => {
    if (!req.originalUrl.split('?')[0]!.endsWith('/')) res.redirect(301, `${req.baseUrl}/`);
    else page(req, res, next);
  });
  return router;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The little Markdown the document's prose uses: paragraphs, `- ` lists, `code`, **bold**. */
function prose(text: string | undefined): string {
  if (!text) return '';
  const inline = (s: string) =>
    escapeHtml(s)
      .replace(/`([^`]+)`/g, '<code>$1</code>')
      .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
  return text
    .split(/\n\n+/)
    .map((block) => {
      const lines = block.split('\n');
      if (lines.every((l) => l.startsWith('- '))) return `<ul>${lines.map((l) => `<li>${inline(l.slice(2))}</li>`).join('')}</ul>`;
      return `<p>${inline(block)}</p>`;
    })
    .join('\n');
}

/** A schema as indented JSON, each `$ref` a link to the schema it names. */
function schemaBlock(schema: unknown): string {
  const json = escapeHtml(JSON.stringify(schema, null, 2));
  return `<pre>${json.replace(/&#34;#\/components\/schemas\/(\w+)&#34;/g, '&#34;<a href="#schema-$1">#/components/schemas/$1</a>&#34;')}</pre>`;
}

interface OperationLike {
  action: string;
  title: string;
  summary: string;
  description: string;
  messages: { $ref: string }[];
  reply?: { messages: { $ref: string }[] };
}
interface MessageLike {
  name?: string;
  payload: { $ref: string };
}

/** The socket protocol as one readable page: connection, every event with payload and ack, the schemas. */
export function renderAsyncApi(doc: AsyncApiDocument): string {
  const messages = doc.components.messages as Record<string, MessageLike>;
  const messageOf = (ref: { $ref: string }) => messages[ref.$ref.split('/').pop()!]!;
  const schemas = doc.components.schemas as Record<string, unknown>;
  // A link to the schema, and the schema itself folded underneath (no script needed).
  const payloadLink = (ref: { $ref: string }) => {
    const name = messageOf(ref).payload.$ref.split('/').pop()!;
    return `<a href="#schema-${escapeHtml(name)}"><code>${escapeHtml(name)}</code></a><details><summary>schema</summary>${schemaBlock(schemas[name])}</details>`;
  };
  const ops = Object.values(doc.operations as Record<string, OperationLike>);
  const section = (action: string, heading: string, intro: string) => {
    const items = ops.filter((op) => op.action === action);
    const rows = items
      .map((op) => {
        const anchor = `${action}-${op.title.replace(/[^A-Za-z0-9]/g, '-')}`;
        const ack = op.reply ? `<div>Ack: ${payloadLink(op.reply.messages[0]!)}</div>` : '';
        return `<section id="${escapeHtml(anchor)}"><h3><code>${escapeHtml(op.title)}</code></h3>
<p><strong>${escapeHtml(op.summary)}</strong></p>${prose(op.description)}
<div>Payload: ${payloadLink(op.messages[0]!)}</div>${ack}</section>`;
      })
      .join('\n');
    const toc = items.map((op) => `<a href="#${action}-${escapeHtml(op.title.replace(/[^A-Za-z0-9]/g, '-'))}"><code>${escapeHtml(op.title)}</code></a>`).join(' · ');
    return `<h2>${heading}</h2><p>${intro}</p><p>${toc}</p>${rows}`;
  };
  const server = doc.servers.gateway;
  const schemaSections = Object.entries(schemas)
    .map(([name, schema]) => `<section id="schema-${escapeHtml(name)}"><h3><code>${escapeHtml(name)}</code></h3>${prose((schema as { description?: string }).description)}${schemaBlock(schema)}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
code, pre { font: 13px/1.4 ui-monospace, monospace; } pre { background: #f5f5f7; padding: .75rem; overflow-x: auto; }
section { border-top: 1px solid #ddd; padding-top: .25rem; } h3 { margin-bottom: .25rem; } h3 code { font-size: 1.15em; }
a { color: #0a58ca; } summary { cursor: pointer; color: #555; font-size: 13px; }
</style></head><body>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>Machine-readable: <a href="asyncapi.json">asyncapi.json</a> (AsyncAPI ${escapeHtml(doc.asyncapi)}). REST API: <a href="./">/docs</a>.</p>
${prose(doc.info.description)}
<h2>Connecting</h2>
<p><code>${escapeHtml(`${server.protocol}://${server.host}${server.pathname}`)}</code>: ${escapeHtml(server.description)}</p>
${prose(doc.components.securitySchemes.jwt.description)}
${section('receive', 'Client → server events', 'Each takes one payload and an acknowledgement callback, answered exactly once.')}
${section('send', 'Server → client events', 'Pushed by the server; no acknowledgement.')}
<h2>Schemas</h2>
${schemaSections}
</body></html>
`;
}
