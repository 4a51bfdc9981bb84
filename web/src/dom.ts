// The only way the client makes DOM: elements with properties, attributes and text children.
// Strings always become text nodes; nothing here (or anywhere in the client) parses HTML.

type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  /** Plain attributes (set with setAttribute, never as HTML). */
  attrs?: Record<string, string>;
  /** `data-testid`, for the end-to-end test and for anyone scripting the page. */
  testid?: string;
  text?: string;
}

/** Creates an element; string children become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.testid) el.dataset.testid = props.testid;
  for (const [name, value] of Object.entries(props.attrs ?? {})) el.setAttribute(name, value);
  if (props.text !== undefined) el.textContent = props.text;
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

/** Looks up an element that index.html must contain. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

/** HH:MM in the viewer's time zone. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
