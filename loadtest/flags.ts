// Command-line flags from a zod schema: each option is declared once, as a schema field with its
// flag name and help text as metadata, and that one declaration gives the flag, its line in
// `--help`, its default and its validation. The load generator, the benchmarks and the seed tool
// all parse their arguments here. A field without `flag` metadata is an option of the library
// only; a nested object (e.g. `ramp`) contributes its fields as flags of their own.
import { parseArgs } from 'node:util';
import { z } from 'zod';

export interface FlagMeta {
  /** Long name, without the dashes. */
  flag: string;
  /** Placeholder of the value in the help; a flag without one is a boolean switch. */
  arg?: string;
  help: string;
  /** Heading of the help section this flag opens (following flags belong to it). */
  group?: string;
  /** A switch that sets the option to false (`--no-verify` → `verify: false`). */
  negate?: boolean;
  alias?: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
  /** Unit appended to the default in the help (`30` → `30s`). */
  unit?: string;
  /** The default as the help shows it, where the value cannot say it (random, from env, ...). */
  shownDefault?: string;
}

/** Thrown for unusable options or arguments; CLIs print the message and exit 2. */
export class OptionsError extends Error {
  override name = 'OptionsError';
}

/** Declares `schema` as the flag described by `meta`. */
export function flag<T extends z.ZodType>(schema: T, meta: FlagMeta): T {
  return schema.meta({ ...meta }) as T;
}

/** A number given as a number or as command-line text, then checked by `inner`. */
export function numeric<T extends z.ZodType<number, number>>(inner: T) {
  return z.union([z.number(), z.string().trim().min(1).transform(Number)]).pipe(inner);
}

/** A comma-separated list on the command line, an array in code, then checked by `inner`. */
export function list<T extends z.ZodType<string[]>>(inner: T) {
  // The items' own schema (an enum, URLs) narrows the strings, so the pipe's input is widened.
  const strings = z.union([z.array(z.string()), z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))]);
  return strings.pipe(inner as unknown as z.ZodType<z.output<T>, string[]>);
}

/** Parses a duration: `30`, `30s`, `2m`, `500ms` → seconds; undefined when it is none. */
export function toSeconds(spec: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(spec.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : unit === 'h' ? n * 3600 : n;
}

/** A duration in seconds, as a number or as text (`30s`, `2m`, `500ms`), at least `min`. */
export function seconds(min = 0, scale = 1) {
  const text = z.string().transform((s, ctx) => {
    const n = toSeconds(s);
    if (n !== undefined) return n * scale;
    ctx.addIssue({ code: 'custom', message: `not a duration (30, 30s, 2m, 500ms): ${s}` });
    return z.NEVER;
  });
  return z.union([z.number(), text]).pipe(z.number().min(min * scale));
}

type Shape = Record<string, z.ZodType>;
interface Leaf {
  path: string[];
  meta: FlagMeta;
  schema: z.ZodType;
}

function objectShape(schema: z.ZodType): Shape | undefined {
  if (schema instanceof z.ZodObject) return schema.shape as Shape;
  if (schema instanceof z.ZodPrefault || schema instanceof z.ZodDefault) return objectShape(schema.def.innerType as z.ZodType);
  return undefined;
}

/** Every flag of `shape`, depth first in declaration order. */
function leaves(shape: Shape, path: string[] = []): Leaf[] {
  const out: Leaf[] = [];
  for (const [key, schema] of Object.entries(shape)) {
    const meta = schema.meta() as FlagMeta | undefined;
    if (meta?.flag) out.push({ path: [...path, key], meta, schema });
    else {
      const inner = objectShape(schema);
      if (inner) out.push(...leaves(inner, [...path, key]));
    }
  }
  const seen = new Set<string>();
  for (const l of out)
    for (const name of [l.meta.flag, l.meta.alias].filter(Boolean) as string[]) {
      if (seen.has(name)) throw new Error(`flag --${name} declared twice`);
      seen.add(name);
    }
  return out;
}

function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[path[path.length - 1]!] = value;
}

/**
 * Reads `argv` against the flags of `shape` without validating values: the raw input (text as
 * given, nested like the schema) for `validate` or a library call, and whether help was asked for.
 */
export function readFlags(shape: Shape, argv: string[]): { help: boolean; raw: Record<string, unknown> } {
  const all = leaves(shape);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const { meta } of all) for (const name of [meta.flag, meta.alias]) if (name) options[name] = { type: meta.arg ? 'string' : 'boolean' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new OptionsError(err instanceof Error ? err.message : String(err));
  }
  const raw: Record<string, unknown> = {};
  for (const { path, meta } of all) {
    let v = values[meta.flag] ?? (meta.alias ? values[meta.alias] : undefined);
    if (v === undefined && meta.env && process.env[meta.env]) v = process.env[meta.env];
    if (meta.negate) v = v ? false : undefined;
    if (v !== undefined) setAt(raw, path, v);
  }
  return { help: Boolean(values.help), raw };
}

/** Validates raw input with `schema`; an error names the flag (`--users: ...`). */
export function validate<T extends z.ZodType>(schema: T, raw: unknown): z.output<T> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const shape = objectShape(schema instanceof z.ZodPipe ? (schema.def.in as z.ZodType) : schema) ?? {};
  const byPath = new Map(leaves(shape).map((l) => [l.path.join('.'), l.meta]));
  const lines = result.error.issues.map((found) => {
    // A value given as text or as a number is a union: report the branch that understood it.
    const nested = found.code === 'invalid_union' ? found.errors.flat().find((i) => i.code !== 'invalid_type') : undefined;
    const issue = nested ? { ...nested, path: [...found.path, ...nested.path] } : found;
    const path = issue.path.map(String);
    // The deepest declared option on the issue's path (an issue may point inside a list).
    for (let n = path.length; n > 0; n--) {
      const meta = byPath.get(path.slice(0, n).join('.'));
      if (meta) return `--${meta.flag}: ${issue.message}`;
    }
    return `${path.join('.') || 'options'}: ${issue.message}`;
  });
  throw new OptionsError(lines.join('; '));
}

function shownDefault(l: Leaf): string | undefined {
  if (l.meta.shownDefault) return l.meta.shownDefault;
  if (!(l.schema instanceof z.ZodDefault)) return undefined;
  const v: unknown = l.schema.def.defaultValue;
  if (typeof v === 'boolean') return undefined;
  const text = Array.isArray(v)
    ? v.join(',')
    : typeof v === 'object' && v !== null
      ? Object.entries(v).map(([k, x]) => `${k}=${String(x)}`).join(',')
      : String(v);
  return `${text}${l.meta.unit ?? ''}`;
}

/** The option lines of `shape`, grouped under their section headings. */
export function helpText(shape: Shape, defaults: Record<string, string> = {}): string {
  const lines: string[] = [];
  for (const l of leaves(shape)) {
    if (l.meta.group) lines.push('', `${l.meta.group}:`);
    const name = `--${l.meta.flag}${l.meta.arg ? ` <${l.meta.arg}>` : ''}`;
    const def = defaults[l.path.join('.')] ?? shownDefault(l);
    const alias = l.meta.alias ? ` (alias --${l.meta.alias})` : '';
    lines.push(`  ${name.padEnd(26)} ${l.meta.help}${alias}${def !== undefined ? ` (default ${def})` : ''}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(26)} this text`);
  return lines.join('\n').replace(/^\n/, '');
}

/**
 * A command-line tool's options from `process.argv`: prints `usage` and the help text and exits 0
 * on --help, prints the error and exits 2 on a bad flag.
 */
export function cliOptions<S extends Shape>(shape: S, usage: string): z.output<z.ZodObject<S>> {
  try {
    const { help, raw } = readFlags(shape, process.argv.slice(2));
    if (help) {
      console.log(`${usage}\n\n${helpText(shape)}`);
      process.exit(0);
    }
    return validate(z.object(shape), raw);
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    console.error(`error: ${err.message}\nTry --help.`);
    process.exit(2);
  }
}

