// A small fetch wrapper for REST tests: JSON in and out, bearer token, raw access when needed.
export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface HttpOptions {
  token?: string;
  /** Serialised as JSON unless `raw` is given. */
  json?: unknown;
  /** Sent as is (with Content-Type application/json unless headers say otherwise). */
  raw?: string;
  headers?: Record<string, string>;
}

/** One request; the body is parsed as JSON when the response says it is JSON. */
export async function http<T = any>(baseUrl: string, method: string, path: string, opts: HttpOptions = {}): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined || opts.json !== undefined) {
    body = opts.raw ?? JSON.stringify(opts.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(new URL(path, baseUrl), { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, headers: res.headers, body: (isJson && text ? JSON.parse(text) : text) as T };
}

/** `http` bound to one base URL and one caller. */
export function client(baseUrl: string, token?: string) {
  const call = <T = any>(method: string, path: string, opts: HttpOptions = {}) =>
    http<T>(baseUrl, method, path, { ...(token !== undefined ? { token } : {}), ...opts });
  return {
    get: <T = any>(path: string, opts?: HttpOptions) => call<T>('GET', path, opts),
    post: <T = any>(path: string, json?: unknown, opts?: HttpOptions) => call<T>('POST', path, { ...(json !== undefined ? { json } : {}), ...opts }),
    put: <T = any>(path: string, json?: unknown, opts?: HttpOptions) => call<T>('PUT', path, { ...(json !== undefined ? { json } : {}), ...opts }),
    request: call,
  };
}
