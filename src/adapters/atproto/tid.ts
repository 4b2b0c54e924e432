// Record keys made here (not by the PDS), so a retried create writes the same record instead of a
// second one. Same layout as @atproto/common's TID: 53-bit microseconds + 10-bit clock id, base32-sortable.
const S32 = '234567abcdefghijklmnopqrstuvwxyz'

function s32(n: number, width: number): string {
  let out = ''
  let v = n
  while (v > 0) {
    out = S32[v % 32]! + out
    v = Math.floor(v / 32)
  }
  return out.padStart(width, '2')
}

export class TidClock {
  private last = 0
  constructor(
    private readonly clockId: number = Math.floor(Math.random() * 1024),
    private readonly nowMicros: () => number = () => Math.floor((performance.timeOrigin + performance.now()) * 1000),
  ) {}

  /** A TID strictly greater than any this clock returned before. */
  next(): string {
    const ts = Math.max(this.nowMicros(), this.last + 1)
    this.last = ts
    return s32(ts, 11) + s32(this.clockId & 1023, 2)
  }
}
