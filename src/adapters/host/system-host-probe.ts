import { statfs } from 'node:fs/promises'
import { availableParallelism, cpus, freemem, loadavg, totalmem } from 'node:os'
import si from 'systeminformation'
import type { HostSnapshot, Thermal } from '../../core/types.js'
import type { HostProbe } from '../../ports/host-probe.js'
import { ConfigError } from '../../errors.js'
import { createLogger, type Logger } from '../../logger.js'

export interface SystemHostProbeOptions {
  /** Advertise at most this many millicores (the owner keeps the rest of the machine). */
  cpuMillisLimit?: number
  /** Advertise at most this much memory, MiB. */
  memoryMbLimit?: number
  /** How long slow readings (battery, temperature) are reused, ms. Default 5000. */
  cacheMs?: number
  /** Report free space of the filesystem holding this path as storageMbAvailable. */
  storagePath?: string
  logger?: Logger
}

const MIB = 1024 * 1024
export const THERMAL_WARM_C = 80
export const THERMAL_THROTTLED_C = 90

/** Thermal state from the main CPU temperature in °C (null/NaN/absent = no sensor). */
export function thermalFromCelsius(main: number | null | undefined): Thermal {
  if (typeof main !== 'number' || !Number.isFinite(main) || main <= 0) return 'unknown'
  if (main >= THERMAL_THROTTLED_C) return 'throttled'
  if (main >= THERMAL_WARM_C) return 'warm'
  return 'nominal'
}

/** 1-minute load average per core, x1000. */
export function loadPermilleOf(load1: number, cores: number): number {
  if (!Number.isFinite(load1) || load1 < 0 || cores <= 0) return 0
  return Math.round((load1 / cores) * 1000)
}

interface SlowReadings {
  onBattery: boolean
  batteryPermille?: number
  thermal: Thermal
  at: number
}

function checkLimit(name: string, v: number | undefined): void {
  if (v === undefined) return
  if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${name} must be a positive integer, got ${String(v)}`, name)
}

/**
 * HostProbe over the local machine. Cores and memory are read on every call (cheap: /proc);
 * battery and temperature are slow (sysfs walks, sometimes a subprocess) so they are cached and
 * refreshed in the background: after the first call a snapshot never waits on them.
 *
 * No cgroup quota is applied on purpose: workloads run in the container engine's cgroups, not in
 * this process's, so a limit on the meshlet process (e.g. when it runs in a container itself) says
 * nothing about the machine's capacity. Owners advertise less with cpuMillisLimit/memoryMbLimit.
 */
export class SystemHostProbe implements HostProbe {
  private readonly cpuMillisLimit?: number
  private readonly memoryMbLimit?: number
  private readonly cacheMs: number
  private readonly storagePath?: string
  private readonly log: Logger
  private slow?: SlowReadings
  private refreshing?: Promise<SlowReadings>

  constructor(opts: SystemHostProbeOptions = {}) {
    checkLimit('cpuMillisLimit', opts.cpuMillisLimit)
    checkLimit('memoryMbLimit', opts.memoryMbLimit)
    if (opts.cacheMs !== undefined && (!Number.isFinite(opts.cacheMs) || opts.cacheMs < 0)) {
      throw new ConfigError(`cacheMs must be a non-negative number, got ${String(opts.cacheMs)}`, 'cacheMs')
    }
    this.cpuMillisLimit = opts.cpuMillisLimit
    this.memoryMbLimit = opts.memoryMbLimit
    this.cacheMs = opts.cacheMs ?? 5000
    this.storagePath = opts.storagePath
    this.log = opts.logger ?? createLogger('meshlet:host')
  }

  async snapshot(): Promise<HostSnapshot> {
    // All online CPUs (not this process's affinity): workloads are scheduled by the engine.
    const cores = Math.max(1, cpus().length || availableParallelism())
    const machineCpu = cores * 1000
    const cpuMillisTotal = this.cpuMillisLimit !== undefined ? Math.min(machineCpu, this.cpuMillisLimit) : machineCpu

    const [mem, slow, storage] = await Promise.all([this.memory(), this.slowReadings(), this.storageMb()])
    const memoryMbTotal = this.memoryMbLimit !== undefined ? Math.min(mem.totalMb, this.memoryMbLimit) : mem.totalMb
    const snap: HostSnapshot = {
      cpuMillisTotal,
      memoryMbTotal,
      memoryMbAvailable: Math.max(0, Math.min(mem.availableMb, memoryMbTotal)),
      loadPermille: loadPermilleOf(loadavg()[0] ?? 0, cores),
      onBattery: slow.onBattery,
      thermal: slow.thermal,
    }
    if (slow.batteryPermille !== undefined) snap.batteryPermille = slow.batteryPermille
    if (storage !== undefined) snap.storageMbAvailable = storage
    return snap
  }

  private async memory(): Promise<{ totalMb: number; availableMb: number }> {
    try {
      const m = await si.mem()
      // `available` is MemAvailable (what new work can get without swapping), not merely free.
      const total = m.total > 0 ? m.total : totalmem()
      const available = Number.isFinite(m.available) && m.available > 0 ? m.available : freemem()
      return { totalMb: Math.floor(total / MIB), availableMb: Math.floor(available / MIB) }
    } catch (err) {
      this.log.debug({ err }, 'systeminformation mem() failed; using os module')
      return { totalMb: Math.floor(totalmem() / MIB), availableMb: Math.floor(freemem() / MIB) }
    }
  }

  private async storageMb(): Promise<number | undefined> {
    if (!this.storagePath) return undefined
    try {
      const s = await statfs(this.storagePath)
      return Math.floor((Number(s.bavail) * Number(s.bsize)) / MIB)
    } catch (err) {
      this.log.debug({ err, path: this.storagePath }, 'cannot stat storage path')
      return undefined
    }
  }

  private async slowReadings(): Promise<SlowReadings> {
    const now = Date.now()
    if (this.slow) {
      if (now - this.slow.at >= this.cacheMs) void this.refresh() // stale: serve it, refresh behind
      return this.slow
    }
    return this.refresh()
  }

  private refresh(): Promise<SlowReadings> {
    this.refreshing ??= this.readSlow()
      .then((r) => {
        this.slow = r
        return r
      })
      .finally(() => {
        this.refreshing = undefined
      })
    return this.refreshing
  }

  private async readSlow(): Promise<SlowReadings> {
    const [battery, temp] = await Promise.all([
      si.battery().catch((err: unknown) => {
        this.log.debug({ err }, 'battery reading failed')
        return undefined
      }),
      si.cpuTemperature().catch((err: unknown) => {
        this.log.debug({ err }, 'temperature reading failed')
        return undefined
      }),
    ])
    const out: SlowReadings = { onBattery: false, thermal: thermalFromCelsius(temp?.main), at: Date.now() }
    if (battery?.hasBattery) {
      // acConnected is the reliable flag; isCharging is false on a full battery while on AC.
      out.onBattery = battery.acConnected === false
      if (Number.isFinite(battery.percent) && battery.percent >= 0) out.batteryPermille = Math.min(1000, Math.round(battery.percent * 10))
    }
    return out
  }
}
