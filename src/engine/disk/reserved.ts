/**
 * Reserved-space rule: how much of a volume must stay free.
 * Parsed from FastDFS-style values (`20%`, `10G`, `512MB`) or MogileFS
 * `min_free_space` (MB) by the personalities; the engine only sees this struct.
 */
export interface ReservedRule {
  /** Absolute bytes that must stay free. */
  bytes?: number
  /** Fraction (0..1) of the volume's total size that must stay free. */
  ratio?: number
}

export function reservedBytes(rule: ReservedRule | undefined, totalBytes: number): number {
  if (!rule) return 0
  return Math.max(rule.bytes ?? 0, Math.floor((rule.ratio ?? 0) * totalBytes))
}
