/**
 * Loads the optional native addon (native/*.c, built by scripts/build-native.mjs
 * into build/Release/tandem_native.node) once per process.
 *
 * Called by the engine's thin wrappers, sendfile.ts (zero-copy downloads) and
 * native-fs.ts (renameat2), which each check for their own function. Absent
 * (`null`) means the addon was not built (no compiler at install time, not
 * Linux) or failed to load; every caller then has a pure-Node path.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { logger } from '../../log.js'

const log = logger('engine.native')

/** `<repo>/build/Release/tandem_native.node`: this file sits at src/engine/io/ (or dist/engine/io/ once compiled). */
export const ADDON_PATH = fileURLToPath(new URL('../../../build/Release/tandem_native.node', import.meta.url))

let addon: Record<string, unknown> | null | undefined

/** The addon's exports, or null when it is absent. */
export function nativeAddon(): Record<string, unknown> | null {
  if (addon !== undefined) return addon
  addon = null
  if (!existsSync(ADDON_PATH)) {
    log.debug({ path: ADDON_PATH }, 'native addon not built: pure-Node paths are used')
    return addon
  }
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Record<string, unknown>
  } catch (e) {
    log.warn({ err: e, path: ADDON_PATH }, 'native addon failed to load: pure-Node paths are used')
  }
  return addon
}
