/** Tiny printf helpers for reproducing the Perl tools' column layouts. */

/** `%Ns` (right-aligned, negative width = left-aligned `%-Ns`); never truncates. */
export function sprintfS(v: string | number | undefined, width: number): string {
  const s = v === undefined ? '' : String(v)
  return width < 0 ? s.padEnd(-width) : s.padStart(width)
}

/** `%W.Pf`. */
export function sprintfF(v: number, width: number, prec: number): string {
  return v.toFixed(prec).padStart(width)
}

/** Perl's `sort keys` on numbers-as-strings (string order), used where the original does it. */
export function perlSortKeys<T>(o: Record<string, T> | Map<string, T>): string[] {
  const keys = o instanceof Map ? [...o.keys()] : Object.keys(o)
  return keys.sort()
}
