/**
 * readSmall without the addon (TANDEM_NO_NATIVE_FS=1, read once per process, so set before
 * any import touches the loader; vitest runs each file in its own process): node:fs fallback.
 */
process.env.TANDEM_NO_NATIVE_FS = '1'
const { readSmallCases } = await import('./read-small.cases.js')

readSmallCases('node:fs fallback')
