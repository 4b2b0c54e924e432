// A tiny aligned-table formatter for the client commands' human output. No colours, no borders:
// columns separated by two spaces, so the output stays greppable and pastes cleanly.

export type Cell = string | number | boolean | null | undefined
export type Align = 'left' | 'right'

export interface TableOptions {
  /** Per column; default left. */
  align?: readonly Align[]
  /** Shown for null/undefined/empty cells. Default '-'. */
  empty?: string
  /** Cap a column's width; longer cells end in '…'. Per column; undefined = no cap. */
  maxWidth?: readonly (number | undefined)[]
  /** Spaces between columns. Default 2. */
  gap?: number
}

/** Renders `header` and `rows` as aligned columns. Lines carry no trailing spaces. */
export function formatTable(header: readonly string[], rows: readonly (readonly Cell[])[], opts: TableOptions = {}): string {
  const empty = opts.empty ?? '-'
  const gap = ' '.repeat(opts.gap ?? 2)
  const columns = Math.max(header.length, ...rows.map((r) => r.length))
  const render = (row: readonly Cell[], blank: string) =>
    Array.from({ length: columns }, (_, i) => clip(cellText(row[i], blank), opts.maxWidth?.[i]))
  // A column without a heading stays blank in the header line rather than showing the empty marker.
  const lines = [render(header, ''), ...rows.map((r) => render(r, empty))]
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...lines.map((l) => width(l[i]!))))
  return lines
    .map((cells) =>
      cells
        .map((c, i) => {
          const pad = ' '.repeat(widths[i]! - width(c))
          return opts.align?.[i] === 'right' ? pad + c : c + pad
        })
        .join(gap)
        .trimEnd(),
    )
    .join('\n')
}

/** `key  value` lines with the keys aligned: for one object's fields. Undefined values are skipped. */
export function formatFields(fields: readonly (readonly [string, Cell])[]): string {
  const shown = fields.filter(([, v]) => v !== undefined)
  const w = Math.max(0, ...shown.map(([k]) => width(k)))
  return shown.map(([k, v]) => `${k}${' '.repeat(w - width(k))}  ${cellText(v, '-')}`.trimEnd()).join('\n')
}

function cellText(v: Cell, empty: string): string {
  if (v === null || v === undefined || v === '') return empty
  // One cell, one line: newlines and tabs would break the columns.
  return String(v).replace(/[\r\n\t]+/g, ' ')
}

/** Width in code points (so 'é' or an emoji counts once, not as UTF-16 units). */
function width(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

function clip(s: string, max: number | undefined): string {
  if (max === undefined || width(s) <= max) return s
  if (max <= 1) return [...s].slice(0, max).join('')
  return `${[...s].slice(0, max - 1).join('')}…`
}
