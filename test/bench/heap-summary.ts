// What holds a Node.js heap: the largest kinds of object in a V8 heap snapshot, by the bytes
// they hold themselves (self size, the "Summary" view of Chrome DevTools: objects grouped by
// constructor name, other nodes by their type, such as strings or compiled code). A snapshot
// of a speaker at 10,000 Services is hundreds of MB of JSON, more than one JavaScript string
// can hold, so the file is read as a stream: the node table is summed as it goes by, and only
// the names of the largest groups are kept from the string table at its end. The snapshot
// format is V8's (`snapshot.meta` describes the node fields and types).

import fs from 'node:fs';

export interface HeapHolder {
  /** Constructor name for objects and closures, `(type)` for other nodes, e.g. `(string)`. */
  readonly name: string;
  readonly selfBytes: number;
  readonly count: number;
}

interface Meta {
  readonly node_fields: string[];
  readonly node_types: [string[], ...unknown[]];
}

/** Node types summed by constructor name; every other type is summed as one group. */
const byName = new Set(['object', 'closure', 'native']);

/** The `top` largest holders of the heap snapshot in `file`, largest first. */
export async function summarizeHeapSnapshot(file: string, top = 10): Promise<HeapHolder[]> {
  const groups = new Map<string, { bytes: number; count: number; nameIndex?: number; type: string }>();
  let phase: 'header' | 'nodes' | 'skip' | 'strings' | 'done' = 'header';
  let header = '';
  let fields = 0;
  let typeField = 0;
  let nameField = 0;
  let sizeField = 0;
  let types: string[] = [];
  let value = 0; // the number being read, which may continue in the next chunk
  let inNumber = false;
  let field = 0;
  let nodeType = 0;
  let nodeName = 0;
  let tail = ''; // the end of the last chunk, for a marker split across chunks
  // The string table: the strings wanted, and where the parser stands.
  let wanted = new Set<number>();
  const names = new Map<number, string>();
  let index = 0;
  let inString = false;
  let escaped = false;
  let text = '';

  const onNumber = (value: number): void => {
    if (field === typeField) nodeType = value;
    if (field === nameField) nodeName = value;
    // self_size comes after type and name in V8's layout (checked against the meta below).
    if (field === sizeField) {
      const type = types[nodeType] ?? `type ${nodeType}`;
      const named = byName.has(type);
      const key = named ? `n${nodeName}` : `t${type}`;
      let g = groups.get(key);
      if (!g) {
        g = { bytes: 0, count: 0, type, ...(named ? { nameIndex: nodeName } : {}) };
        groups.set(key, g);
      }
      g.count++;
      g.bytes += value;
    }
    field = (field + 1) % fields;
  };

  const startStrings = (): void => {
    const largest = [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top);
    wanted = new Set(largest.flatMap((g) => (g.nameIndex === undefined ? [] : [g.nameIndex])));
    phase = 'strings';
  };

  for await (const chunk of fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    let s = chunk as string;
    while (s.length > 0 && phase !== 'done') {
      if (phase === 'header') {
        header += s;
        const at = header.indexOf('"nodes":[');
        if (at < 0) break; // the rest of the header comes with the next chunk
        const head = header.slice(0, at).trimEnd().replace(/,$/, '');
        const meta = (JSON.parse(`${head}}`) as { snapshot: { meta: Meta } }).snapshot.meta;
        fields = meta.node_fields.length;
        typeField = meta.node_fields.indexOf('type');
        nameField = meta.node_fields.indexOf('name');
        sizeField = meta.node_fields.indexOf('self_size');
        if (typeField < 0 || nameField < 0 || sizeField < typeField || sizeField < nameField)
          throw new Error(`${file}: unexpected node fields ${meta.node_fields.join(',')}`);
        types = meta.node_types[0];
        s = header.slice(at + '"nodes":['.length);
        header = '';
        phase = 'nodes';
      } else if (phase === 'nodes') {
        let i = 0;
        for (; i < s.length; i++) {
          const c = s.charCodeAt(i);
          if (c >= 48 && c <= 57) {
            value = value * 10 + (c - 48);
            inNumber = true;
          } else {
            if (inNumber) onNumber(value);
            value = 0;
            inNumber = false;
            if (c === 93) break; // ']'
          }
        }
        if (i < s.length) {
          s = s.slice(i + 1);
          phase = 'skip';
          tail = '';
        } else s = '';
      } else if (phase === 'skip') {
        const joined = tail + s;
        const at = joined.indexOf('"strings":[');
        if (at < 0) {
          tail = joined.slice(-16);
          s = '';
        } else {
          s = joined.slice(at + '"strings":['.length);
          startStrings();
        }
      } else {
        // The string table: JSON strings, separated by commas and newlines, then "]".
        let i = 0;
        for (; i < s.length; i++) {
          const ch = s[i]!;
          if (inString) {
            if (escaped) {
              if (wanted.has(index)) text += ch === 'n' ? '\n' : ch;
              escaped = false;
            } else if (ch === '\\') escaped = true;
            else if (ch === '"') {
              if (wanted.has(index)) names.set(index, text);
              text = '';
              index++;
              inString = false;
              if (names.size === wanted.size) {
                phase = 'done';
                break;
              }
            } else if (wanted.has(index)) text += ch;
          } else if (ch === '"') inString = true;
          else if (ch === ']') {
            phase = 'done';
            break;
          }
        }
        s = '';
      }
    }
    if (phase === 'done') break;
  }
  if (phase === 'nodes' || phase === 'header') throw new Error(`${file}: not a complete heap snapshot`);
  if (phase === 'skip') startStrings();
  return [...groups.values()]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, top)
    .map((g) => ({
      name:
        g.nameIndex === undefined ? `(${g.type})` : (names.get(g.nameIndex) ?? `(${g.type} #${g.nameIndex})`),
      selfBytes: g.bytes,
      count: g.count,
    }));
}
