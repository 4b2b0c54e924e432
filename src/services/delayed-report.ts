// A status said only when the step it describes turns out slow (issue 16: fewer commits per start).

/**
 * Calls `report` only if `cancel()` has not come within `delayMs` (issue 16): a step that is quick
 * costs no status commit, a slow one is still said while it runs. A failed report is logged by
 * the caller's `onError`, never thrown into the step.
 */
export function delayedReport(delayMs: number, report: () => Promise<unknown>, onError: (err: unknown) => void): { cancel(): void } {
  const t = setTimeout(() => {
    report().catch(onError)
  }, delayMs)
  t.unref?.()
  return { cancel: () => clearTimeout(t) }
}
