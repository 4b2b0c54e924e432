// Exit codes of the client commands, in a module of their own so the CLI can use them before it
// loads the (heavy) commands: 0 done, 1 the operation failed, 2 the input was wrong.
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const
