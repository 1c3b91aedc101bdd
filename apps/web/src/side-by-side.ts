import { h } from './dom';

// Columns of text side by side, each with its heading: the conflicts panel (mine / theirs / merged) and the
// project files panel (this browser's copy / the host's) share this look.

export interface Side {
  readonly title: string;
  /** The column's content: usually `textPane(...)`, or an editable field. */
  readonly body: Node;
}

/** A row of equal columns, one per side; `className` adds the caller's own class to the row. */
export function sideBySide(sides: readonly Side[], className?: string): HTMLElement {
  return h('div', { class: className ? `side-by-side ${className}` : 'side-by-side' }, ...sides.map((s) => h('div', { class: 'side-col' }, h('h4', {}, s.title), s.body)));
}

/** A read-only text column (`pre`, whitespace kept). */
export function textPane(text: string, testId: string): HTMLPreElement {
  return h('pre', { 'data-testid': testId }, text);
}
