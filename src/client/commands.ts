// The client side of `meshlet <cmd>`: functions that return the text to print and an exit code,
// so the CLI only maps flags and prints, and tests assert on what a person would see.
//
// Where the answers come from:
// - The owner's repo is the source of truth for what workloads exist: `submit` writes a
//   commune.scheduler.workload record there, `rm` deletes it (every meshlet then stops its
//   containers), `ls` lists them.
// - State comes from a meshlet over XRPC. Which one: `--meshlet` if given, else the caller's own
//   linked meshlets (commune.scheduler.meshlet records in the caller's repo), first that answers.
//   Every meshlet of the cluster sees the same public records, so any one of them can say where a
//   workload runs and why each bid won or lost; `logs` then asks the meshlets that hold replicas.
// - Commands taking a workload accept its at:// URI, its record key (shown by `ls`) or its name
//   (unique per owner), the last two meaning the caller's own workload.
//
// Exit codes: 0 done, 1 the operation failed (remote error, unreachable, not found),
// 2 the input was wrong (bad file, not a URI). With `json`, output (and errors) are JSON.
// The commands live in files by job; this module is their one import path.
export * from './context.js'
export * from './resolve.js'
export * from './submit.js'
export * from './workload-commands.js'
export * from './meshlet-commands.js'
export * from './evict-command.js'
// Services (issue 12, apps)
export * from './apps-commands.js'
