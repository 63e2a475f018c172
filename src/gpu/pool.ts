// A pool of storage buffers, so a training loop that allocates the same shapes every step reuses
// buffers instead of creating and destroying them (both slow, and fragmenting on real drivers).
//
// Sizes are rounded up to a size class (256 B granularity below 1 MiB, 64 KiB above) and a released
// buffer goes back to its class's free list. Byte accounting answers "does this step leak?":
// liveBytes (handed out now), peakLiveBytes, pooledBytes (free, kept for reuse), allocatedBytes (all).

export interface PoolStats {
  liveBytes: number;
  peakLiveBytes: number;
  pooledBytes: number;
  allocatedBytes: number;
  liveBuffers: number;
  created: number;
  reused: number;
}

// STORAGE | COPY_SRC | COPY_DST, by their spec values: in Node, GPUBufferUsage is not a global until
// Dawn is loaded, which may be after this module is.
export const POOL_USAGE = 0x80 | 0x04 | 0x08;

export function sizeClass(bytes: number): number {
  const n = Math.max(bytes, 4);
  const granule = n <= 1 << 20 ? 256 : 1 << 16;
  return Math.ceil(n / granule) * granule;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  private stats: PoolStats = { liveBytes: 0, peakLiveBytes: 0, pooledBytes: 0, allocatedBytes: 0, liveBuffers: 0, created: 0, reused: 0 };

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, label = 'tensor'): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.stats.pooledBytes -= size;
      this.stats.reused++;
    } else {
      if (size > this.device.limits.maxBufferSize) {
        throw new RangeError(`${label}: ${size} bytes is over this device's maxBufferSize (${this.device.limits.maxBufferSize}).`);
      }
      buffer = this.device.createBuffer({ label, size, usage: POOL_USAGE });
      this.stats.allocatedBytes += size;
      this.stats.created++;
    }
    this.live.add(buffer);
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    this.stats.peakLiveBytes = Math.max(this.stats.peakLiveBytes, this.stats.liveBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error(`buffer "${buffer.label}" released twice, or not from this pool`);
    const size = buffer.size;
    this.stats.liveBytes -= size;
    this.stats.liveBuffers--;
    this.stats.pooledBytes += size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
  }

  /** Destroys the free buffers (returns their memory to the device). */
  trim(): void {
    for (const list of this.free.values()) for (const buffer of list) buffer.destroy();
    this.stats.allocatedBytes -= this.stats.pooledBytes;
    this.stats.pooledBytes = 0;
    this.free.clear();
  }

  resetPeak(): void {
    this.stats.peakLiveBytes = this.stats.liveBytes;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }
}
