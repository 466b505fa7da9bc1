/** A value of a field as people read it: lists one item a line, empty as "-". */
export type FieldValue = string | number | boolean | null | undefined | readonly string[];

function lines(value: FieldValue): string[] {
  if (Array.isArray(value)) return value.length ? [...value] : ['-'];
  if (value === null || value === undefined || value === '') return ['-'];
  if (typeof value === 'boolean') return [value ? 'yes' : 'no'];
  return [String(value)];
}

/** Fields as aligned `name  value` lines; a list continues under its first value. */
export function fields(entries: [string, FieldValue][]): string {
  const width = Math.max(...entries.map(([name]) => name.length)) + 2;
  return entries.flatMap(([name, value]) =>
    lines(value).map((line, i) => `  ${(i === 0 ? name : '').padEnd(width)}${line}`)).join('\n');
}

/** Rows under a header, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] + 2))).join('').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** A date as `2025-01-31 12:34 UTC`. */
export function when(iso: string | null): string {
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '-';
}

/** Word-wraps `text` to `width` columns; every line after the first starts with `indent`. */
export function wrap(text: string, width: number, indent: string): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  out.push(line);
  return out.join(`\n${indent}`);
}
