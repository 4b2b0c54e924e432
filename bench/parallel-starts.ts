// Burst (issue 16 part 2): how many container starts at once this engine keeps up with. Raw
// dockerode create + start of `n` containers with at most `p` in flight, for p in the list, the
// rounds interleaved; prints the wall time per p. Chooses the runner's default maxParallelStarts.
// npx tsx bench/parallel-starts.ts [n=24] [rounds=2] [p,p,...=1,4,8,16]
import Docker from 'dockerode'

const n = Number(process.argv[2] ?? 24)
const rounds = Number(process.argv[3] ?? 2)
const ps = (process.argv[4] ?? '1,4,8,16').split(',').map(Number)
const image = process.env.IMAGE ?? '127.0.0.1:5000/meshlet/busybox:test'
const label = 'farm.meshlet.bench.burst-parallel'
const docker = new Docker({ socketPath: '/var/run/docker.sock' })

async function cleanup(): Promise<void> {
  const rows = await docker.listContainers({ all: true, filters: { label: [label] } })
  await Promise.all(rows.map((r) => docker.getContainer(r.Id).remove({ force: true }).catch(() => {})))
}

async function run(p: number, round: number): Promise<number> {
  let next = 0
  const t0 = performance.now()
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++
      const c = await docker.createContainer({ name: `meshlet-burst-par-${p}-${round}-${i}`, Image: image, Cmd: ['sleep', '3600'], Labels: { [label]: '1' }, HostConfig: { Init: true, NanoCpus: 100_000_000, Memory: 32 * 1024 * 1024 } })
      await c.start()
    }
  }
  await Promise.all(Array.from({ length: Math.min(p, n) }, worker))
  const ms = performance.now() - t0
  await cleanup()
  return ms
}

const times = new Map<number, number[]>(ps.map((p) => [p, []]))
try {
  await cleanup()
  for (let r = 0; r < rounds; r++) for (const p of ps) times.get(p)!.push(await run(p, r))
} finally {
  await cleanup()
}
for (const [p, t] of times) console.log(`parallel ${p}: ${n} containers in ${t.map((x) => (x / 1000).toFixed(2) + ' s').join(', ')} (median ${(t.sort((a, b) => a - b)[t.length >> 1]! / 1000).toFixed(2)} s)`)
