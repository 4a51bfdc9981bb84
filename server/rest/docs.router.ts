// GET /docs (Swagger UI, served from swagger-ui-dist on this host, no CDN) and
// GET /docs/openapi.json (OpenAPI 3.1 generated from the zod schemas of protocol/).
import { Router } from 'express';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';
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
