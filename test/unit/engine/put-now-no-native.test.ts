/**
 * LocalBlobStore.putNow without the addon (TANDEM_NO_NATIVE_FS=1, read once per process, so
 * set before any import touches the loader): temp file + rename through node:fs.
 */
process.env.TANDEM_NO_NATIVE_FS = '1'
const { putNowCases } = await import('./put-now.cases.js')

putNowCases('node:fs fallback')
