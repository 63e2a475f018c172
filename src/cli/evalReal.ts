// The real renders' feature statistics that FD to real is measured against (REAL_REFERENCE_SEED, `count` renders),
// cached: reading 2,000 renders takes ~40 s on llvmpipe, and they only change with the evaluator's weights. The cache
// file holds the mean and covariance (float64 as JSON numbers, which round-trip exactly) under a key of the
// evaluator's sha256, the seed and the count.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { realFeatureStatistics } from '../eval/evaluate';
import type { GaussianStatistics } from '../eval/frechet';
import type { AttributeEvaluator } from '../nets/evaluator';
import type { Engine } from '../nn/engine';

export interface RealStatisticsKey {
  evaluatorSha256: string;
  seed: number;
  count: number;
}

export const realCachePath = (cacheDir: string, key: RealStatisticsKey): string => join(cacheDir, `real-${key.evaluatorSha256.slice(0, 16)}-${key.seed}-${key.count}.json`);

export async function cachedRealStatistics(
  engine: Engine,
  evaluator: AttributeEvaluator,
  key: RealStatisticsKey,
  cacheDir: string,
): Promise<{ statistics: GaussianStatistics; path: string; hit: boolean }> {
  const path = realCachePath(cacheDir, key);
  if (existsSync(path)) {
    try {
      const saved = JSON.parse(readFileSync(path, 'utf8'));
      if (JSON.stringify(saved.key) === JSON.stringify(key) && saved.mean.length === saved.dim && saved.covariance.length === saved.dim * saved.dim) {
        const statistics = { dim: saved.dim, count: saved.count, mean: Float64Array.from(saved.mean), covariance: Float64Array.from(saved.covariance) };
        return { statistics, path, hit: true };
      }
    } catch {
      // An unreadable cache file is recomputed and overwritten.
    }
  }
  const statistics = await realFeatureStatistics(engine, evaluator, { count: key.count, seed: key.seed });
  mkdirSync(cacheDir, { recursive: true });
  const { dim, count, mean, covariance } = statistics;
  writeFileSync(path, `${JSON.stringify({ key, dim, count, mean: Array.from(mean), covariance: Array.from(covariance) })}\n`);
  return { statistics, path, hit: false };
}
