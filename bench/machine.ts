// The machine a bench ran on, as BENCHMARKS.md reports it.
import fs from 'node:fs'
import os from 'node:os'
import type Docker from 'dockerode'

export interface MachineInfo {
  cpus: number
  cpuModel: string
  memoryGiB: number
  kernel: string
  os: string
  node: string
  docker: string
  dockerApi: string
  storageDriver: string
  cgroup: string
  loadAtStart: number[]
}

export async function machineInfo(docker: Docker): Promise<MachineInfo> {
  const osRelease = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown'
    } catch {
      return 'unknown'
    }
  })()
  const v = (await docker.version()) as { Version?: string; ApiVersion?: string }
  const info = (await docker.info()) as { Driver?: string; CgroupVersion?: string; CgroupDriver?: string }
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    os: osRelease,
    node: process.version,
    docker: v.Version ?? 'unknown',
    dockerApi: v.ApiVersion ?? 'unknown',
    storageDriver: info.Driver ?? 'unknown',
    cgroup: `v${info.CgroupVersion ?? '?'} (${info.CgroupDriver ?? '?'})`,
    loadAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  }
}
