import * as Y from 'yjs';

/** The Y.Text a version's `text` is read from unless the caller names another: y-codemirror.next's and the app's. */
export const DEFAULT_YJS_TEXT = 'codemirror';

type RootKind = 'text' | 'map' | 'array' | 'xml';

/** A root type of a Y.Doc, as `doc.share` holds it. */
type Root = NonNullable<ReturnType<Y.Doc['share']['get']>>;

/**
 * What a root type of a decoded document is. A Y.Doc built from an update knows its roots only by name (each one an
 * untyped AbstractType until `getText`/`getMap`/… is called), so the kind is read off its content: map entries and
 * no sequence → map; strings, formats or embeds → text; XML elements or texts → XML fragment; any other sequence →
 * array. An empty root has no kind (undefined).
 */
function kindOf(type: Root): RootKind | undefined {
  if (type instanceof Y.Text) return 'text';
  if (type instanceof Y.Map) return 'map';
  if (type instanceof Y.XmlFragment) return 'xml';
  if (type instanceof Y.Array) return 'array';
  for (let item = type._start; item !== null; item = item.right) {
    if (item.deleted) continue;
    const c = item.content;
    if (c instanceof Y.ContentString || c instanceof Y.ContentFormat || c instanceof Y.ContentEmbed) return 'text';
    if (c instanceof Y.ContentType && (c.type instanceof Y.XmlElement || c.type instanceof Y.XmlText || c.type instanceof Y.XmlHook)) return 'xml';
    return 'array';
  }
  for (const item of type._map.values()) if (!item.deleted) return 'map';
  return undefined;
}

/** A root of `doc` as its typed class (converting an untyped root in place, as Yjs does on first access). */
function typed(doc: Y.Doc, name: string, kind: RootKind): Y.Text | Y.Map<unknown> | Y.Array<unknown> | Y.XmlFragment {
  switch (kind) {
    case 'text':
      return doc.getText(name);
    case 'map':
      return doc.getMap(name);
    case 'array':
      return doc.getArray(name);
    case 'xml':
      return doc.getXmlFragment(name);
  }
}

/** A value of a map or array as it can be inserted elsewhere: nested types cloned (they belong to one document). */
function cloned(value: unknown): unknown {
  return value instanceof Y.AbstractType ? (value as Y.AbstractType<unknown> & { clone(): unknown }).clone() : value;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether a text holds only strings (no formatting, no embeds): then a plain-text diff restores it exactly. */
function plain(text: Y.Text): boolean {
  for (let item = text._start; item !== null; item = item.right) {
    if (!item.deleted && !(item.content instanceof Y.ContentString)) return false;
  }
  return true;
}

/** Common prefix and suffix lengths (UTF-16 units, as Yjs counts), never splitting a surrogate pair. */
function commonEnds(a: string, b: string): { prefix: number; suffix: number } {
  const max = Math.min(a.length, b.length);
  let prefix = 0;
  while (prefix < max && a.charCodeAt(prefix) === b.charCodeAt(prefix)) prefix++;
  if (prefix > 0 && prefix < max && isHigh(a.charCodeAt(prefix - 1))) prefix--;
  let suffix = 0;
  while (suffix < max - prefix && a.charCodeAt(a.length - 1 - suffix) === b.charCodeAt(b.length - 1 - suffix)) suffix++;
  if (suffix > 0 && suffix < max - prefix && isLow(a.charCodeAt(a.length - suffix))) suffix--;
  return { prefix, suffix };
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function restoreText(current: Y.Text, target: Y.Text): void {
  if (plain(current) && plain(target)) {
    const a = current.toString();
    const b = target.toString();
    if (a === b) return;
    const { prefix, suffix } = commonEnds(a, b);
    if (a.length - prefix - suffix > 0) current.delete(prefix, a.length - prefix - suffix);
    if (b.length - prefix - suffix > 0) current.insert(prefix, b.slice(prefix, b.length - suffix));
    return;
  }
  // Formatting or embeds: the whole text replaced by the version's delta (attributes included).
  if (sameJson(current.toDelta(), target.toDelta())) return;
  if (current.length > 0) current.delete(0, current.length);
  current.applyDelta(target.toDelta());
}

function restoreMap(current: Y.Map<unknown>, target: Y.Map<unknown>): void {
  for (const key of [...current.keys()]) if (!target.has(key)) current.delete(key);
  for (const [key, value] of target.entries()) {
    const now = current.get(key);
    const unchanged = value instanceof Y.AbstractType || now instanceof Y.AbstractType ? now instanceof Y.AbstractType && value instanceof Y.AbstractType && sameJson(now.toJSON(), value.toJSON()) : sameJson(now, value);
    if (!unchanged) current.set(key, cloned(value));
  }
}

function restoreSequence(current: Y.Array<unknown> | Y.XmlFragment, target: Y.Array<unknown> | Y.XmlFragment): void {
  if (current instanceof Y.XmlFragment && target instanceof Y.XmlFragment) {
    if (current.toString() === target.toString()) return;
    if (current.length > 0) current.delete(0, current.length);
    // XML hooks (custom node types of an editor binding) are not carried over.
    current.insert(
      0,
      target
        .toArray()
        .filter((child): child is Y.XmlElement | Y.XmlText => !(child instanceof Y.XmlHook))
        .map((child) => child.clone()),
    );
    return;
  }
  if (current instanceof Y.Array && target instanceof Y.Array) {
    if (sameJson(current.toJSON(), target.toJSON())) return;
    if (current.length > 0) current.delete(0, current.length);
    current.insert(0, target.toArray().map(cloned));
  }
}

export interface RestoreDiff {
  /** The Yjs update that makes `current` equal `target` (an empty update when they are equal already). */
  readonly update: Uint8Array;
  /** Whether anything changed. */
  readonly changed: boolean;
  /** Root types whose kind differs between the two states: left as they are (a Yjs root never changes kind). */
  readonly skipped: string[];
}

/**
 * The restore of a version as a NEW update (never a rewrite of the log): the current state and the version are
 * decoded into two docs, every root type of either is made equal in the current doc (text by a prefix/suffix
 * diff, so a restore close to the current text is a small update; maps key by key; arrays and XML fragments
 * replaced whole), and the change is encoded against the current state vector. Applied by every client like any
 * other update, it leaves each one with the version's content — plus whatever was appended concurrently, merged by
 * the CRDT as usual.
 */
export function restoreUpdate(currentState: Uint8Array, versionState: Uint8Array): RestoreDiff {
  const current = new Y.Doc();
  const target = new Y.Doc();
  try {
    Y.applyUpdate(current, currentState);
    Y.applyUpdate(target, versionState);
    const skipped: string[] = [];
    // Exactly what the transaction below did (encodeStateAsUpdate would carry the whole delete set as well).
    const made: Uint8Array[] = [];
    current.on('update', (update: Uint8Array) => made.push(update));
    current.transact(() => {
      const names = new Set([...target.share.keys(), ...current.share.keys()]);
      for (const name of names) {
        const t = target.share.get(name);
        const c = current.share.get(name);
        const tKind = t === undefined ? undefined : kindOf(t);
        const cKind = c === undefined ? undefined : kindOf(c);
        const kind = tKind ?? cKind;
        if (kind === undefined) continue;
        if (tKind !== undefined && cKind !== undefined && tKind !== cKind) {
          skipped.push(name);
          continue;
        }
        const into = typed(current, name, kind);
        const from = typed(target, name, kind);
        if (into instanceof Y.Text && from instanceof Y.Text) restoreText(into, from);
        else if (into instanceof Y.Map && from instanceof Y.Map) restoreMap(into, from);
        else if ((into instanceof Y.Array || into instanceof Y.XmlFragment) && (from instanceof Y.Array || from instanceof Y.XmlFragment)) restoreSequence(into, from);
      }
    });
    const update = made.length === 0 ? new Uint8Array([0, 0]) : made.length === 1 ? made[0] : Y.mergeUpdates(made);
    return { update, changed: made.length > 0, skipped };
  } finally {
    current.destroy();
    target.destroy();
  }
}

/** The text of the root Y.Text `name` in a state, or null when the state has no text of that name. */
export function textOf(state: Uint8Array, name: string): string | null {
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, state);
    const root = doc.share.get(name);
    if (root === undefined) return null;
    const kind = kindOf(root);
    if (kind !== undefined && kind !== 'text') return null;
    return doc.getText(name).toString();
  } finally {
    doc.destroy();
  }
}
