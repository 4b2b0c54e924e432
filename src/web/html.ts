// Escaping for the web view: every string from a record is untrusted (anyone in the commune writes
// names, images, reasons, labels), so it goes through esc() in text and attributes alike, and URLs
// are built only from encodeURIComponent'd parts. Tagged template `html` escapes every interpolation
// unless it is already a SafeHtml, so forgetting esc() is not possible.

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' }

export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"'`]/g, (c) => ESC[c]!)
}

type Part = SafeHtml | string | number | boolean | undefined | null | Part[]

function render(v: Part): string {
  if (v === undefined || v === null || v === false) return ''
  if (Array.isArray(v)) return v.map(render).join('')
  if (v instanceof SafeHtml) return v.value
  return esc(v)
}

/** HTML with every interpolated value escaped (arrays joined, SafeHtml kept). */
export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0]!
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!
  })
  return new SafeHtml(out)
}

/** A query-string link: every part encoded, then the whole escaped by html``. */
export function href(path: string, params: Record<string, string>): string {
  const q = Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
  return q ? `${path}?${q}` : path
}
