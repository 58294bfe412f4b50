/**
 * The blob store without the native addon's renameat2 (TANDEM_NO_NATIVE_FS=1,
 * as on a machine where the addon was not built): the same contract must hold
 * through the pure-Node fallback (existence check + rename, link + unlink).
 * Set before anything calls the loader, which reads it once per process
 * (vitest runs each test file in its own process).
 */
import { describe, expect, it } from 'vitest'
process.env.TANDEM_NO_NATIVE_FS = '1'
import { LocalBlobStore } from '../../../src/engine/blob/local-blob-store.js'
import { renameNoReplaceAvailable } from '../../../src/engine/io/native-fs.js'
import { blobStoreContract } from '../../contract/blob-store.contract.js'
import { tmpDir } from '../../helpers/proc.js'

describe('native fs disabled', () => {
  it('reports renameat2 as unavailable', () => {
    expect(renameNoReplaceAvailable()).toBe(false)
  })
})

blobStoreContract('LocalBlobStore (no native renameat2)', () => LocalBlobStore.open({ root: tmpDir('blobnn') }))
