/**
 * A tiny element builder for the labs. Children that are strings become text nodes, so nothing a
 * learner pastes can ever be parsed as HTML (there is deliberately no way to set innerHTML here).
 */

export type Child = Node | string | null | undefined | false;

export type Attributes = Record<string, string | number | boolean | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** A definition list of term/description pairs, all as text. */
export function terms(
  items: readonly { readonly term: string; readonly description: string }[],
  className: string,
): HTMLDListElement {
  const list = h('dl', { class: className });
  for (const { term, description } of items) {
    list.append(h('div', {}, h('dt', {}, term), h('dd', {}, description)));
  }
  return list;
}
