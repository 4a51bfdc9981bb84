// The web client (static files at /) and, only with DEV_LOGIN=1, POST /dev/login that mints
// short-lived tokens. Filled in by the web client work (#9).
import { Router } from 'express';
import type { Config } from '../config.js';

export function createWebRouter(_opts: { config: Config }): Router {
  return Router();
}
