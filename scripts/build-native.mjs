#!/usr/bin/env node
/**
 * Builds the optional native addon (native/*.c → build/Release/tandem_native.node: sendfile, renameat2)
 * with node-gyp. Run by `npm install` / `npm ci` (the package's "install" script)
 * and by hand with `node scripts/build-native.mjs`.
 *
 * It can never fail an install: whatever goes wrong (no compiler, no node-gyp, no
 * headers, not Linux) it prints one line and exits 0, and tandemfs then serves
 * downloads through its streamed path (src/engine/io/sendfile.ts reports the
 * addon as absent). The full node-gyp output of a failed build is kept in
 * build/native-build.log. TANDEM_SKIP_NATIVE=1 skips the build.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const target = path.join(root, 'build', 'Release', 'tandem_native.node')
/** Why 5 minutes: a cold compile takes seconds; only a node-gyp stuck fetching headers offline takes longer. */
const BUILD_TIMEOUT_MS = 5 * 60_000

function skip(why) {
  console.log(`tandemfs: native sendfile addon not built (${why}); downloads use the streamed path`)
  process.exit(0)
}

/** node-gyp as [command, ...args]: npm's configured one, the one on PATH (npm adds its bundled copy for scripts), or npm's bundled copy next to node. */
function findNodeGyp() {
  const configured = process.env.npm_config_node_gyp
  if (configured && existsSync(configured)) return [process.execPath, configured]
  const candidates = [
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.resolve(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ]
  for (const p of (process.env.PATH ?? '').split(path.delimiter)) {
    if (p && existsSync(path.join(p, 'node-gyp'))) return [path.join(p, 'node-gyp')]
  }
  for (const c of candidates) if (existsSync(c)) return [process.execPath, c]
  return undefined
}

/**
 * Node's own headers next to this node binary, when they match its version: pointing node-gyp
 * at them (--nodedir) means it never tries to download headers, which fails offline.
 */
function localNodeDir() {
  if (process.env.npm_config_nodedir) return undefined // node-gyp reads it from the environment itself
  const prefix = path.resolve(path.dirname(process.execPath), '..')
  const versionH = path.join(prefix, 'include', 'node', 'node_version.h')
  if (!existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) || !existsSync(versionH)) return undefined
  const h = readFileSync(versionH, 'utf8')
  const num = (k) => /#define\s+\w+\s+(\d+)/.exec(h.split('\n').find((l) => l.includes(`define ${k} `)) ?? '')?.[1]
  const v = `${num('NODE_MAJOR_VERSION')}.${num('NODE_MINOR_VERSION')}.${num('NODE_PATCH_VERSION')}`
  return v === process.versions.node ? prefix : undefined
}

try {
  if (process.env.TANDEM_SKIP_NATIVE === '1') skip('TANDEM_SKIP_NATIVE=1')
  if (process.platform !== 'linux') skip(`sendfile path is Linux-only, this is ${process.platform}`)
  const gyp = findNodeGyp()
  if (!gyp) skip('node-gyp not found')
  const args = [...gyp.slice(1), 'rebuild']
  const nodedir = localNodeDir()
  if (nodedir) args.push(`--nodedir=${nodedir}`)
  const r = spawnSync(gyp[0], args, { cwd: root, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS, env: process.env })
  if (r.status !== 0 || !existsSync(target)) {
    const log = path.join(root, 'build', 'native-build.log')
    try {
      mkdirSync(path.dirname(log), { recursive: true })
      writeFileSync(log, `${[gyp[0], ...args].join(' ')}\n${r.error ?? ''}\n${r.stdout ?? ''}\n${r.stderr ?? ''}`)
    } catch {
      // the log is a courtesy; never let it fail the install
    }
    skip(r.error ? `node-gyp did not run: ${r.error.message}` : `node-gyp exited ${r.status ?? r.signal}, see build/native-build.log`)
  }
  console.log(`tandemfs: built ${path.relative(root, target)} (zero-copy downloads)`)
} catch (e) {
  skip(`unexpected error: ${e instanceof Error ? e.message : String(e)}`)
}
